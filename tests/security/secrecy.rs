//! Security regressions: secrecy.
