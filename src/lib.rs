//! confpack: configuration management with Debian packages.
//!
//! The configurator reads an environment document (online copy first, local
//! fallback, XSD-validated), merges it with the answers stored in a sled
//! database, asks only what needs asking, stores the answers atomically and
//! renders the package's templates. Data flows one way:
//! load → validate → model → merge/derive → frontend → store → render → hooks.

#![deny(clippy::unwrap_used)]

pub mod derive;
pub mod env;
pub mod error;

pub use error::{Error, ExitCode, Result};
pub mod merge;
pub mod store;
