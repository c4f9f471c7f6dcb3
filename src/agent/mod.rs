//! confpack as debconf's UI agent.
//!
//! When confpack runs apt-get or dpkg, the maintainer scripts of other
//! packages ask their questions through debconf. Left alone, debconf opens
//! its own dialog on the terminal beside confpack's, or answers nothing
//! without one. With `DEBIAN_FRONTEND=passthrough` debconf instead sends
//! every question over a Unix socket (`DEBCONF_PIPE`), as it does for
//! debconf-kde and PackageKit: confpack serves that socket
//! ([`serve::run_with_agent`]), so the questions are asked by confpack's
//! own frontend, answered from its store when it knows the answer, and
//! reported together when nobody can answer them ([`session`]). The lines
//! themselves are read and written in [`protocol`].

pub mod protocol;
pub mod serve;
pub mod session;

pub use serve::run_with_agent;
pub use session::{ListenerProgress, Progress, Session, SilentProgress, Unanswered};

#[cfg(test)]
mod tests;
