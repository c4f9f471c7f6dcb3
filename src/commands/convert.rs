//! `confpack convert`: a DataONE v1 document, or a package's debconf
//! templates, to confpack's native format, printed or written atomically
//! to `--output`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::stdout_error;
use crate::Listener;
use crate::cli::DeriveArgs;
use crate::error::Result;
use crate::settings::derive_rules;

/// What is converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A document confpack reads (DataONE v1 or native).
    Document {
        file: PathBuf,
        schema: Option<PathBuf>,
    },
    /// A debconf `templates` file, with po-debconf catalogues.
    DebconfTemplates {
        templates: PathBuf,
        po: Option<PathBuf>,
        owner: Option<String>,
    },
}

pub fn convert(
    input: &Input,
    output: Option<&Path>,
    derive: &DeriveArgs,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let text = match input {
        Input::Document { file, schema } => {
            let rules = derive_rules(derive)?;
            crate::convert::convert(file, schema.as_deref(), &rules, listener)?
        }
        Input::DebconfTemplates {
            templates,
            po,
            owner,
        } => crate::convert::debconf_templates::convert(
            templates,
            po.as_deref(),
            owner.as_deref(),
            listener,
        )?,
    };
    match output {
        Some(path) => crate::files::write_atomic(path, text.as_bytes(), 0o644),
        None => out.write_all(text.as_bytes()).map_err(stdout_error),
    }
}
