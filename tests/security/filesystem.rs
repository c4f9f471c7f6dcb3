//! Security regressions: filesystem.
