//! `confpack convert`: a DataONE v1 document (or any document confpack
//! reads), or a package's debconf templates ([`debconf_templates`]),
//! written as a native one, so a team migrates once. The result is
//! validated against the built-in schema before it is handed out.

pub mod debconf_templates;
pub mod native_writer;
pub mod po;

use std::collections::BTreeMap;
use std::path::Path;

use crate::Listener;
use crate::env::{self, Validation, dataone};
use crate::error::{Error, Problem, Result};

/// Reads `file` and returns the equivalent native document.
pub fn convert(
    file: &Path,
    schema: Option<&Path>,
    rules: &BTreeMap<String, String>,
    listener: &mut dyn Listener,
) -> Result<String> {
    let origin = file.display().to_string();
    let validation = match schema {
        Some(schema) => Validation::File(schema),
        None => Validation::Builtin,
    };
    let document = env::read_document(file, &origin, validation, rules, &|_| true)?;
    for warning in &document.warnings {
        listener.warning(warning);
    }
    let missing: Vec<Problem> = dataone::missing_rules(&document)
        .into_iter()
        .map(|t| Problem {
            file: origin.clone(),
            line: Some(t.line),
            message: format!(
                "derived question {} has no rule; pass --derive {}=EXPR or add it to a --derive-file",
                t.key, t.key
            ),
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::Invalid(missing));
    }
    let text = native_writer::write(&document, listener);
    native_writer::check(&text)?;
    Ok(text)
}
