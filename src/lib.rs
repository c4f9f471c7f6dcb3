//! confpack: configuration management with Debian packages.
//!
//! The configurator reads an environment document (online copy first, local
//! fallback, XSD-validated), merges it with the answers stored in a sled
//! database, asks only what needs asking, stores the answers atomically and
//! renders the package's templates. Data flows one way:
//! load → validate → model → merge/derive → frontend → store → render → hooks.

#![deny(clippy::unwrap_used)]

pub use error::{Error, ExitCode, Result};

// The edge: command line and its glue.
pub mod app;
pub mod cli;
pub mod error;

// The configurator, one module per stage.
pub mod env; // load → validate → model (native and DataONE v1 documents)
pub mod select; // which environment and machine
pub mod merge; // document + stored answers → plan
pub mod derive; // derived values, the data expressions and templates see
pub mod frontend; // asking: noninteractive, text, TUI
pub mod store; // the sled answer store
pub mod unchanged; // the no-op hot path
pub mod render; // templates → files
pub mod hooks; // commands whose inputs changed
pub mod package; // an installed package's confpack files
pub mod configure; // the pipeline, end to end
pub mod secrets; // age-encrypted values and files

// Interoperability and output.
pub mod convert;
pub mod debconf;
pub mod output;

// Packages, distribution and the node runtime.
pub mod builder;
pub mod deb;
pub mod publish;
pub mod remove;
pub mod runtime;

/// Where the library reports progress and warnings (never `println!` in
/// library code): the binary prints to stderr, tests record.
pub trait Listener {
    fn info(&mut self, message: &str);
    fn warning(&mut self, message: &str);
    /// A long run's progress, `done` of `total` (a progress bar); ignored
    /// unless a listener shows it.
    fn progress(&mut self, _done: u64, _total: u64) {}
}

/// Prints to stderr; `quiet` keeps only warnings.
#[derive(Debug, Default)]
pub struct StderrListener {
    pub quiet: bool,
}

impl Listener for StderrListener {
    fn info(&mut self, message: &str) {
        if !self.quiet {
            eprintln!("confpack: {message}");
        }
    }

    fn warning(&mut self, message: &str) {
        if message.starts_with("warning:") {
            eprintln!("confpack: {message}");
        } else {
            eprintln!("confpack: warning: {message}");
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
