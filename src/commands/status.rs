//! `confpack status`: does this node match its environment? Prints the
//! report; a mismatch is an error (exit 9), so scripts can ask.

use std::io::Write;

use super::stdout_error;
use crate::cli::StatusFormat;
use crate::error::{Error, Result};
use crate::runtime::apt::{Attach, System};
use crate::settings::GlobalSettings;

pub fn status(global: &GlobalSettings, format: StatusFormat, out: &mut dyn Write) -> Result<()> {
    let paths = &global.paths;
    let mut apt = System::new(&paths.root, global.lock_timeout, Attach::Unattended)?;
    let report = crate::status::status(
        paths,
        global.lock_timeout,
        crate::select::host_identities(),
        &mut apt,
    )?;
    let text = match format {
        StatusFormat::Text => report.text(),
        StatusFormat::Json => report.json()?,
    };
    out.write_all(text.as_bytes()).map_err(stdout_error)?;
    if report.matches() {
        Ok(())
    } else {
        Err(Error::Mismatch {
            summary: report.summary(),
        })
    }
}
