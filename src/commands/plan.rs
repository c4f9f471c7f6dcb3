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
    // Written as it is planned, a change at a time: buffered, not a
    // write of stdout's own for each line.
    let mut buffered = std::io::BufWriter::new(out);
    let summary = match format {
        StatusFormat::Text => plan::plan(options, listener, &mut report::Text::new(&mut buffered))?,
        StatusFormat::Json => plan::plan(options, listener, &mut report::Json::new(&mut buffered))?,
    };
    buffered.flush().map_err(stdout_error)?;
    match summary.errors {
        0 => Ok(()),
        errors => Err(Error::Planned { errors }),
    }
}
