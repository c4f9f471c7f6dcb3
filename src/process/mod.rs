//! Processes and signals, below everything that runs or waits: catching
//! SIGINT/SIGTERM/SIGHUP while a question is shown, a hook or apt runs
//! ([`signals`]); the process tree a run started, ended as a whole
//! ([`tree`]); and the run a maintainer script's confpack belongs to
//! ([`run`]: `confpack install` → apt → dpkg → postinst → configure).

pub mod command;
pub mod run;
pub mod signals;
pub mod tree;
