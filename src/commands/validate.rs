//! `confpack validate`: check environment documents against the schema,
//! printing `FILE: valid` for each good one and every problem of the
//! others together.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::stdout_error;
use crate::env::{self, Validation};
use crate::error::{Error, Problem, Result};

pub fn validate(files: &[PathBuf], schema: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let mut problems = Vec::new();
    for file in files {
        let origin = file.display().to_string();
        let validation = match schema {
            Some(schema) => Validation::File(schema),
            None => Validation::Builtin,
        };
        match env::validate(file, &origin, validation) {
            Ok(document) => {
                for warning in &document.warnings {
                    crate::say(format_args!("confpack: warning: {warning}"));
                }
                writeln!(out, "{origin}: valid").map_err(stdout_error)?
            }
            Err(Error::Invalid(found)) => problems.extend(found),
            Err(other) => problems.push(Problem {
                file: origin,
                line: None,
                message: other.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}
