//! The agent against scripted frontends: the session on its own, the
//! socket with small Perl clients, and a real debconf confmodule in a
//! sandboxed debconf database.

mod fakes;
mod real_debconf;
mod serving;
mod session;
