//! Security regressions: build.
