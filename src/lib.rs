//! confpack: configuration management with Debian packages.
//!
//! The configurator reads an environment document (online copy first, local
//! fallback, XSD-validated), merges it with the answers stored in a sled
//! database, asks only what needs asking, stores the answers atomically and
//! renders the package's templates. Data flows one way:
//! load → validate → model → merge/derive → frontend → store → render → hooks.
//!
//! The configurator, stage by stage: [`env`] (load, validate, model; native
//! and DataONE v1 documents), [`select`] (environment and machine),
//! [`merge`] (document + stored answers → plan), [`derive`] (derived values
//! and what expressions and templates see), [`frontend`] (noninteractive,
//! text, TUI), [`store`] (sled), [`unchanged`] (the no-op hot path),
//! [`render`] (with [`divert`] for files other packages own) and [`hooks`],
//! [`secrets`]; [`configure`] runs them in order.
//! Around it: [`builder`] and [`deb`] (repository → .deb), [`publish`] (apt
//! repository), [`runtime`] (set-environment, update, install, upgrade),
//! [`remove`], [`status`], [`convert`] and [`debconf`] (interoperability), [`output`];
//! [`cli`] and [`app`] are the command line.

#![deny(clippy::unwrap_used)]

pub use error::{Error, ExitCode, Result};

pub mod app;
pub mod ask;
pub mod builder;
pub mod cli;
pub mod configure;
pub mod convert;
pub mod deb;
pub mod debian;
pub use debian::dpkg;
pub mod debconf;
pub mod derive;
pub mod divert;

pub mod env;
pub mod error;
pub mod files;
pub mod frontend;
pub mod hooks;
pub mod jinja;
pub mod merge;
pub mod output;
pub mod package;
pub mod paths;
pub mod process;
pub mod publish;
pub mod questions;
pub mod remove;
pub mod render;
pub use process::run;
pub mod runtime;
pub mod secrets;
pub mod select;
pub mod status;
pub mod store;
pub mod unchanged;

#[cfg(test)]
pub(crate) mod testing;

/// Where the library reports progress and warnings (never `println!` in
/// library code): the binary prints to stderr, tests record.
pub trait Listener {
    fn info(&mut self, message: &str);
    fn warning(&mut self, message: &str);
    /// A long run's progress, `done` of `total` (a progress bar); ignored
    /// unless a listener shows it.
    fn progress(&mut self, _done: u64, _total: u64) {}
    /// A line another program printed (apt, dpkg), shown as it is: it
    /// carries its own prefix, if any.
    fn passthrough(&mut self, line: &str) {
        self.info(line);
    }
}

/// Prints to stderr; `quiet` keeps only warnings.
#[derive(Debug, Default)]
pub struct StderrListener {
    pub quiet: bool,
}

/// Prints one line to stderr. A closed stderr (the terminal went away:
/// SIGHUP) is not worth a panic; the exit code still tells.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

impl Listener for StderrListener {
    fn info(&mut self, message: &str) {
        if !self.quiet {
            say(format_args!("confpack: {message}"));
        }
    }

    fn warning(&mut self, message: &str) {
        if message.starts_with("warning:") {
            say(format_args!("confpack: {message}"));
        } else {
            say(format_args!("confpack: warning: {message}"));
        }
    }

    fn passthrough(&mut self, line: &str) {
        if !self.quiet {
            say(format_args!("{line}"));
        }
    }
}

/// Keeps messages, for tests.
#[derive(Debug, Default)]
pub struct RecordingListener {
    pub infos: Vec<String>,
    pub warnings: Vec<String>,
}

impl Listener for RecordingListener {
    fn info(&mut self, message: &str) {
        self.infos.push(message.to_string());
    }

    fn warning(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
}
