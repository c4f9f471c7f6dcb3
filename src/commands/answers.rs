//! `confpack answers`: every stored answer with its open conflicts, as a
//! table, JSON or shell assignments.

use std::io::Write;

use super::stdout_error;
use crate::cli::OutputFormat;
use crate::error::Result;
use crate::output;
use crate::settings::GlobalSettings;

pub fn answers(
    global: &GlobalSettings,
    format: OutputFormat,
    show_secrets: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let store = global.paths.open_store_for_reading(global.lock_timeout)?;
    let format = match format {
        OutputFormat::Table => output::Format::Table,
        OutputFormat::Json => output::Format::Json,
        OutputFormat::Shell => output::Format::Shell,
    };
    let text = output::format_answers(
        &store.answers()?,
        &store.open_conflicts()?,
        format,
        show_secrets,
    )?;
    out.write_all(text.as_bytes()).map_err(stdout_error)
}
