//! How answers are printed: a readable table, JSON, or shell assignments
//! that are safe to `eval`/`.` (every value single-quoted; secrets masked
//! unless asked for).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::store::{Conflict, StoredAnswer};

/// What a masked secret looks like.
pub const MASK: &str = "********";

/// Output formats of `confpack answers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Shell,
}

/// Quotes a value for POSIX sh: single quotes, embedded ones as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

fn shown(answer: &StoredAnswer, show_secrets: bool) -> Option<String> {
    match &answer.value {
        Some(_) if answer.secret && !show_secrets => Some(MASK.to_string()),
        other => other.clone(),
    }
}

/// Formats the answers.
pub fn format_answers(
    answers: &BTreeMap<String, StoredAnswer>,
    conflicts: &BTreeMap<String, Conflict>,
    format: Format,
    show_secrets: bool,
) -> Result<String> {
    match format {
        Format::Table => {
            let width = answers.keys().map(String::len).max().unwrap_or(0);
            let mut out = String::new();
            for (key, answer) in answers {
                let value = shown(answer, show_secrets).unwrap_or_else(|| "(no value)".into());
                out.push_str(&format!(
                    "{key:width$}  {}  [{}{}]\n",
                    value.replace('\n', "\\n"),
                    answer.source,
                    if answer.seen { ", seen" } else { "" }
                ));
            }
            Ok(out)
        }
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = answers
                .iter()
                .map(|(key, answer)| {
                    let mut record = serde_json::json!({
                        "value": shown(answer, show_secrets),
                        "source": answer.source,
                        "seen": answer.seen,
                        "type": answer.question_type,
                        "secret": answer.secret,
                        "owners": answer.owners,
                    });
                    // An open conflict: the document's value (masked like
                    // the answer) and since when the stored one is kept.
                    if let Some(conflict) = conflicts.get(key) {
                        record["conflict"] = serde_json::json!({
                            "document": if answer.secret && !show_secrets {
                                MASK.to_string()
                            } else {
                                conflict.document.clone()
                            },
                            "since": conflict.since,
                        });
                    }
                    (key.clone(), record)
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::Value::Object(map))
                .map(|s| s + "\n")
                .map_err(|e| Error::Usage(e.to_string()))
        }
        Format::Shell => {
            let mut names: BTreeMap<String, &str> = BTreeMap::new();
            let mut out = String::new();
            for (key, answer) in answers {
                let name = variable_name(key);
                if let Some(other) = names.insert(name.clone(), key) {
                    return Err(Error::Usage(format!(
                        "questions {other} and {key} both map to the shell variable {name}; use --format json"
                    )));
                }
                let Some(value) = &answer.value else { continue };
                if answer.secret && !show_secrets {
                    // Escaped: a key with a newline (from a DataONE document,
                    // say) would otherwise end the comment and run as code.
                    out.push_str(&format!(
                        "# {name}: secret ({}), masked; use --show-secrets\n",
                        key.escape_debug()
                    ));
                } else {
                    out.push_str(&format!("{name}={}\n", shell_quote(value)));
                }
            }
            Ok(out)
        }
    }
}

/// The environment variable name for an answer key: how hooks get
/// non-secret answers, and `answers --format shell` names them.
pub fn variable_name(key: &str) -> String {
    let mut name = String::from("CONFPACK_");
    name.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_hostile_values() {
        for value in [
            "$(rm -rf /)",
            "`id`",
            "a'b",
            "line\nbreak",
            "{{ x }}",
            "\\",
            "",
        ] {
            let script = format!("v={}; printf '%s' \"$v\"", shell_quote(value));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .expect("sh");
            assert_eq!(String::from_utf8_lossy(&out.stdout), value);
        }
    }
}
