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
//! [`remove`], [`status`], [`convert`] and [`debconf`] (interoperability), [`output`].
//! Progress and warnings reach a person through a [`listener`].
//! The command line: [`cli`] (clap definitions only), [`settings`] (flags
//! and environment variables resolved into plain settings), [`commands`]
//! (one module per subcommand) and [`app`], which dispatches to them.

#![deny(clippy::unwrap_used)]

pub use error::{Error, ExitCode, Result};
pub use listener::{Listener, RecordingListener, SilentListener, StderrListener, say};

pub mod app;
pub mod ask;
pub mod builder;
pub mod cli;
pub mod commands;
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
pub mod listener;
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
pub mod settings;
pub mod status;
pub mod store;
pub mod unchanged;

#[cfg(test)]
pub(crate) mod testing;
