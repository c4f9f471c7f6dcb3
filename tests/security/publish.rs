//! Security regressions: publish.
