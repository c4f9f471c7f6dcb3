//! `confpack export`: the stored answers as lines for another tool
//! (`debconf-set-selections`).

use std::io::Write;

use super::stdout_error;
use crate::Listener;
use crate::cli::ExportFormat;
use crate::error::Result;
use crate::settings::GlobalSettings;

pub fn export(
    global: &GlobalSettings,
    format: ExportFormat,
    include_passwords: bool,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let ExportFormat::Debconf = format;
    let store = global.paths.open_store_for_reading(global.lock_timeout)?;
    let (text, skipped) = crate::debconf::export(&store.answers()?, include_passwords);
    for warning in skipped {
        listener.warning(&warning);
    }
    out.write_all(text.as_bytes()).map_err(stdout_error)
}
