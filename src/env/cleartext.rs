//! Password values written in clear in an environment document.
//!
//! Why here, below the builder and the loader: both refuse such a document,
//! `build` before it ships one in a package and `configure` before it uses
//! (and caches) an online copy, and they must agree on what "in clear" is.
//! A password question's default and every value configured for it must be
//! empty or the `age:…` text `confpack encrypt` prints.

use super::model::Document;
use crate::error::Problem;

/// How an encrypted value starts (the rest is the base64 of an age file).
pub const ENCRYPTED_PREFIX: &str = "age:";

/// Whether a document value is encrypted.
pub fn is_encrypted(value: &str) -> bool {
    value.trim_start().starts_with(ENCRYPTED_PREFIX)
}

/// One problem, with its line, per password default or value in clear.
/// Never quotes the value.
pub fn clear_values(document: &Document) -> Vec<Problem> {
    let hint = "a password in clear is readable wherever the document goes (package, \
                repository, server, cache); encrypt it with `confpack encrypt --recipients FILE` \
                and put the age:… text it prints here";
    let in_clear = |value: &str| !value.is_empty() && !is_encrypted(value);
    let problem = |line: u64, message: String| Problem {
        file: document.origin.clone(),
        line: Some(line),
        message: format!("{message}; {hint}"),
    };
    let mut problems = Vec::new();
    for template in document
        .templates
        .iter()
        .filter(|t| t.question_type.is_secret())
    {
        if template.default.as_deref().is_some_and(in_clear) {
            problems.push(problem(
                template.line,
                format!(
                    "{}: the default of a password question is in clear",
                    template.key
                ),
            ));
        }
    }
    for environment in &document.environments {
        let values = environment
            .values
            .iter()
            .chain(environment.machines.iter().flat_map(|m| m.values.iter()));
        for value in values {
            let Some(template) = document
                .templates
                .get(value.template as usize)
                .filter(|t| t.question_type.is_secret())
            else {
                continue;
            };
            if in_clear(&value.value) {
                problems.push(problem(
                    u64::from(value.line),
                    format!(
                        "{} (environment {}): the value is in clear",
                        template.key, environment.context
                    ),
                ));
            }
        }
    }
    problems
}
