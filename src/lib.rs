//! confpack: configuration management with Debian packages.
//!
//! The configurator reads an environment document (online copy first, local
//! fallback, XSD-validated), merges it with the answers stored in a sled
//! database, asks only what needs asking, stores the answers atomically and
//! renders the package's templates. Data flows one way:
//! load → validate → model → merge/derive → frontend → store → render → hooks.
//!
//! Each stage lives in the module named after it; [`configure`] only runs
//! them in order (`tests/architecture.rs` keeps it so: no function over 150
//! lines, no import cycle between these modules):
//!
//! | stage | module |
//! |---|---|
//! | load (online first, local fallback, cache, signed documents) | [`env`] (`load`, `trust`) |
//! | validate (XSD via libxml2, loaded on first use; limits) and the typed model | [`env`] (`xml`, `libxml2`, `limits`, `model`; DataONE v1 in `dataone`) |
//! | select the environment and machine | [`select`] |
//! | the package's questions | [`questions`] |
//! | merge with the stored answers into a plan | [`merge`] (`plan`; what is stored: `outcome`) |
//! | derive values (expressions, both passes) | [`derive`] (`values`), on [`jinja`] |
//! | ask (frontends: noninteractive, text, TUI) | [`ask`], [`frontend`] |
//! | store (sled, one batch per run) | [`store`] |
//! | render (atomic writes, local edits, diversions) | [`render`], [`divert`], [`secrets`] |
//! | declarations with a "down" (users, directories, downloads, blocks, firewall tables, services) | [`declared`] (one module per kind), run by [`converge`] |
//! | hooks whose inputs changed | [`hooks`] |
//! | answers for other packages' debconf questions (document, store) | [`foreign`] |
//! | the no-op hot path | [`unchanged`] |
//! | build .debs and roles | [`builder`], [`deb`] |
//! | what configure would produce on every machine, before publishing | [`plan`] |
//! | publish a signed apt repository | [`publish`] |
//! | the node runtime (set-environment, update, install, upgrade) | [`runtime`] |
//! | confpack as debconf's UI agent (other packages' questions during an apt run) | [`agent`] |
//! | removal, purge, `status` | [`remove`], [`status`] |
//!
//! Below them: [`debian`] (deb822, versions, dates, apt layout, dpkg's
//! outputs, systemd's service conventions), [`process`] (signals, process trees, the run, running tools),
//! [`files`] (rooted paths, atomic writes, hashing, the walker),
//! [`http`] (GETs with one timeout, checked redirects, a size limit),
//! [`paths`], [`package`], [`output`], [`error`], [`listener`]. Beside
//! them: [`convert`] and [`debconf`] (interoperability). The command line:
//! [`cli`] (clap definitions only), [`settings`] (flags and environment
//! variables resolved into plain settings), [`commands`] (one module per
//! subcommand) and [`app`], which dispatches to them.

#![deny(clippy::unwrap_used)]

pub use error::{Error, ExitCode, Result};
pub use listener::{Listener, RecordingListener, SilentListener, StderrListener, say};

pub mod agent;
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

pub mod converge;
pub mod declared;
pub mod env;
pub mod error;
pub mod files;
pub mod foreign;
pub mod frontend;
pub mod hooks;
pub mod http;
pub mod jinja;
pub mod listener;
pub mod merge;
pub mod output;
pub mod package;
pub mod paths;
pub mod plan;
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
