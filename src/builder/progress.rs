//! The terminal face of `confpack build`: its [`ProgressListener`] lives
//! with the other listeners in [`crate::listener`]; re-exported here,
//! where builds have always found it.

pub use crate::listener::ProgressListener;
