//! `confpack import-debconf`: debconf answers (`debconf-get-selections`
//! output or a preseed file, or stdin) stored as configured answers.

use std::path::Path;

use crate::Listener;
use crate::error::{Error, Result};
use crate::settings::{GlobalSettings, reads_stdin};

pub fn import_debconf(
    global: &GlobalSettings,
    file: Option<&Path>,
    include_passwords: bool,
    listener: &mut dyn Listener,
) -> Result<()> {
    let (origin, text) = match file {
        Some(path) if !reads_stdin(file) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?,
        ),
        _ => ("<stdin>".to_string(), super::read_stdin()?),
    };
    let store = global.paths.open_store(global.lock_timeout)?;
    let report = crate::debconf::import(&store, &origin, &text, include_passwords)?;
    let skipped = if report.skipped_passwords > 0 {
        format!(
            ", skipped {} password(s) (use --include-passwords)",
            report.skipped_passwords
        )
    } else {
        String::new()
    };
    listener.info(&format!("imported {} answer(s){skipped}", report.imported));
    Ok(())
}
