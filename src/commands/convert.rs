//! `confpack convert`: a DataONE v1 document to confpack's native format,
//! printed or written atomically to `--output`.

use std::io::Write;
use std::path::Path;

use super::stdout_error;
use crate::Listener;
use crate::cli::DeriveArgs;
use crate::error::Result;
use crate::settings::derive_rules;

pub fn convert(
    file: &Path,
    schema: Option<&Path>,
    output: Option<&Path>,
    derive: &DeriveArgs,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let rules = derive_rules(derive)?;
    let text = crate::convert::convert(file, schema, &rules, listener)?;
    match output {
        Some(path) => crate::files::write_atomic(path, text.as_bytes(), 0o644),
        None => out.write_all(text.as_bytes()).map_err(stdout_error),
    }
}
