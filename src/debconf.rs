//! debconf interoperability: import `debconf-get-selections` output or a
//! preseed file into the store, export the store as lines that
//! `debconf-set-selections` accepts.
//!
//! An imported answer is *configured* and *seen*: an external tool (an
//! operator, Ansible running debconf-set-selections) vouched for it, so
//! configure does not ask it again — the handshake seed 003's team built
//! out of seen-flag resets, made explicit. A `seen false` line keeps it
//! unconfirmed (asked, with the value as default).

use std::collections::{BTreeMap, BTreeSet};

use crate::env::model::{QuestionType, Source};
use crate::error::{Error, Problem, Result};
use crate::store::{Batch, Store, StoredAnswer, check_key};

/// One parsed selection line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preseed {
    pub owner: String,
    pub key: String,
    pub kind: String,
    pub value: String,
    pub line: u64,
}

/// Parses selections: `owner question type value`, `#` comments, blank
/// lines, a trailing backslash continuing a line.
pub fn parse(origin: &str, text: &str) -> Result<Vec<Preseed>> {
    let mut selections = Vec::new();
    let mut problems = Vec::new();
    let mut pending = String::new();
    let mut continuing = false;
    let mut start = 0u64;
    for (index, raw) in text.lines().enumerate() {
        let line_number = index as u64 + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if !continuing {
            start = line_number;
        }
        if let Some(continued) = raw.strip_suffix('\\') {
            pending.push_str(continued);
            continuing = true;
            continue;
        }
        continuing = false;
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut rest = trimmed;
        let mut fields = Vec::new();
        for _ in 0..3 {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start_matches([' ', '\t']);
        }
        // One separator before the value; the value keeps inner spaces.
        let value = rest.to_string();
        match fields.as_slice() {
            [owner, key, kind] if !owner.is_empty() && !key.is_empty() && !kind.is_empty() => {
                if *kind != "seen" && kind.parse::<QuestionType>().is_err() {
                    problems.push(Problem {
                        file: origin.to_string(),
                        line: Some(start),
                        message: format!("unknown type `{kind}` for {key}"),
                    });
                    continue;
                }
                if let Err(message) = check_key(key) {
                    problems.push(Problem {
                        file: origin.to_string(),
                        line: Some(start),
                        message,
                    });
                    continue;
                }
                if value.contains('\0') {
                    problems.push(Problem {
                        file: origin.to_string(),
                        line: Some(start),
                        message: format!("the value of {key} contains a NUL byte"),
                    });
                    continue;
                }
                selections.push(Preseed {
                    owner: owner.to_string(),
                    key: key.to_string(),
                    kind: kind.to_string(),
                    value,
                    line: start,
                });
            }
            _ => problems.push(Problem {
                file: origin.to_string(),
                line: Some(start),
                message: "expected `owner question type value`".to_string(),
            }),
        }
    }
    if continuing {
        problems.push(Problem {
            file: origin.to_string(),
            line: Some(start),
            message: "the last line ends in `\\`: it continues a line that never comes \
                      (the file may be cut short)"
                .to_string(),
        });
    }
    if problems.is_empty() {
        Ok(selections)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped_passwords: usize,
}

/// Imports selections into the store as one batch (all or nothing).
pub fn import(
    store: &Store,
    origin: &str,
    text: &str,
    include_passwords: bool,
) -> Result<ImportReport> {
    let selections = parse(origin, text)?;
    let mut report = ImportReport::default();
    let mut answers: BTreeMap<String, StoredAnswer> = BTreeMap::new();
    let mut seen_flags: BTreeMap<String, bool> = BTreeMap::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    for selection in selections {
        if selection.kind == "seen" {
            seen_flags.insert(selection.key, selection.value.trim() == "true");
            continue;
        }
        let question_type: QuestionType = selection
            .kind
            .parse()
            .map_err(|m: String| Error::at(origin, Some(selection.line), m))?;
        if question_type.is_secret() && !include_passwords {
            skipped.insert(selection.key);
            continue;
        }
        if question_type == QuestionType::Boolean
            && let Err(message) = question_type.check(&selection.value, &[])
        {
            return Err(Error::at(
                origin,
                Some(selection.line),
                format!("{}: {message}", selection.key),
            ));
        }
        let existing = store.answer(&selection.key)?;
        let mut owners = existing
            .as_ref()
            .map(|a| a.owners.clone())
            .unwrap_or_default();
        owners.insert(selection.owner.clone());
        answers.insert(
            selection.key.clone(),
            StoredAnswer {
                value: (!question_type.is_display_only()).then_some(selection.value),
                source: Source::Configured,
                seen: true,
                owners,
                question_type,
                secret: question_type.is_secret(),
            },
        );
    }
    let mut batch = Batch::new();
    let imported: BTreeSet<String> = answers.keys().cloned().collect();
    for (key, mut answer) in answers {
        if let Some(seen) = seen_flags.get(&key) {
            answer.seen = *seen;
        }
        batch.set_answer(&key, &answer)?;
        report.imported += 1;
    }
    // A `seen` line for a question imported earlier (or configured).
    for (key, seen) in &seen_flags {
        if imported.contains(key) {
            continue;
        }
        if let Some(mut answer) = store.answer(key)? {
            answer.seen = *seen;
            batch.set_answer(key, &answer)?;
        }
    }
    report.skipped_passwords = skipped.len();
    store.commit(batch)?;
    Ok(report)
}

/// Lines for `debconf-set-selections`; warnings for what was left out.
pub fn export(
    answers: &BTreeMap<String, StoredAnswer>,
    include_passwords: bool,
) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut warnings = Vec::new();
    let mut passwords = 0;
    for (key, answer) in answers {
        let Some(value) = &answer.value else { continue };
        if answer.question_type.is_display_only() {
            continue;
        }
        if answer.secret && !include_passwords {
            passwords += 1;
            continue;
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            // It would split the line: another answer could be injected.
            warnings.push(format!(
                "{}: the key has spaces or control characters, which debconf cannot store; left out",
                key.escape_debug()
            ));
            continue;
        }
        if value.contains('\n') {
            warnings.push(format!(
                "{key}: the value spans lines, which debconf cannot store; left out"
            ));
            continue;
        }
        let owner = answer
            .owners
            .iter()
            .next()
            .map(String::as_str)
            .unwrap_or_else(|| key.split('/').next().unwrap_or(key));
        let kind = if answer.secret {
            "password"
        } else {
            answer.question_type.as_str()
        };
        out.push_str(&format!("{owner}\t{key}\t{kind}\t{value}\n"));
    }
    if passwords > 0 {
        warnings.push(format!(
            "{passwords} password(s) left out; pass --include-passwords to export them"
        ));
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_keep_spaces_in_values_and_join_continuations() {
        let text = "# comment\n\npkg pkg/a string two  words\npkg pkg/b string first \\\nsecond\npkg\tpkg/c\tboolean\ttrue\npkg pkg/d string\n";
        let parsed = parse("t", text).expect("parse");
        assert_eq!(parsed.len(), 4);
        assert_eq!(parsed[0].value, "two  words");
        assert_eq!(parsed[1].value, "first second");
        assert_eq!(parsed[1].line, 4);
        assert_eq!(parsed[2].value, "true");
        assert_eq!(parsed[3].value, "");
    }

    #[test]
    fn a_nul_a_path_like_key_and_a_dangling_continuation_are_refused_with_their_line() {
        let text =
            "p p/a string x\0y\np ../../etc string v\np p/b string ok\np p/c string cut \\\n";
        let message = parse("sel", text).expect_err("refused").to_string();
        assert!(
            message.contains("sel:1: the value of p/a contains a NUL byte"),
            "{message}"
        );
        assert!(message.contains("sel:2: ../../etc: "), "{message}");
        assert!(
            message.contains("sel:4: the last line ends in `\\`"),
            "{message}"
        );
        assert!(!message.contains("sel:3"), "{message}");
    }

    #[test]
    fn bad_lines_are_reported_with_their_line() {
        let error = parse("sel", "pkg pkg/a strnig x\nonlyone\n").expect_err("bad");
        let message = error.to_string();
        assert!(
            message.contains("sel:1: unknown type `strnig`"),
            "{message}"
        );
        assert!(message.contains("sel:2: expected"), "{message}");
    }
}
