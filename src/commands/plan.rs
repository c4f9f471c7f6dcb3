//! `confpack plan`: prints what configure would produce on every machine
//! of a repository (or what changes against an earlier revision); any
//! machine's error is an error of the command (exit 1), so CI can gate
//! publishing on it.

use std::io::Write;

use super::stdout_error;
use crate::Listener;
use crate::cli::StatusFormat;
use crate::error::{Error, Result};
use crate::plan::{self, Options, report};

pub fn plan(
    options: &Options,
    format: StatusFormat,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let planned = plan::plan(options, listener)?;
    let text = match format {
        StatusFormat::Text => report::text(&planned),
        StatusFormat::Json => report::json(&planned)?,
    };
    out.write_all(text.as_bytes()).map_err(stdout_error)?;
    match planned.summary.errors {
        0 => Ok(()),
        errors => Err(Error::Planned { errors }),
    }
}
