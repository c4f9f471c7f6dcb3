//! `confpack build`: .deb packages from a configuration repository, with
//! a progress bar; prints the paths written.

use std::io::Write;

use super::stdout_error;
use crate::error::Result;
use crate::listener::ProgressListener;

pub fn build(options: &crate::builder::Options, quiet: bool, out: &mut dyn Write) -> Result<()> {
    let mut listener = ProgressListener::new(quiet);
    let report = crate::builder::build(options, &mut listener)?;
    for path in &report.written {
        writeln!(out, "{}", path.display()).map_err(stdout_error)?;
    }
    Ok(())
}
