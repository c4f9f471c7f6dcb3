//! Security regressions: documents.
