//! The plan as text (for people and CI logs) and as JSON (for tools; the
//! shape is documented in docs/plan.md and checked by the tests), written
//! as the targets are compared: a change is printed when its target is
//! planned, the errors and the summary at the end. Secrets are already
//! masked by [`super::compute`]; nothing here reads one.

use std::io::Write;

use serde_json::{Value, json};

use super::compare::{AnswerChange, Change, DeclarationChange, Ending, Entry, FileChange, Summary};
use super::{Answer, Produced, Target};
use crate::error::{Error, Result};

/// Where the plan goes: each change as it is found, then the end.
pub trait Printer {
    fn entry(&mut self, entry: &Entry) -> Result<()>;
    fn finish(&mut self, ending: &Ending) -> Result<()>;
}

fn written(result: std::io::Result<()>) -> Result<()> {
    result.map_err(|e| Error::io("<stdout>", e))
}

/// The plan as text: the changes, the errors, the summary line.
pub struct Text<'a> {
    out: &'a mut dyn Write,
}

impl<'a> Text<'a> {
    pub fn new(out: &'a mut dyn Write) -> Text<'a> {
        Text { out }
    }
}

impl Printer for Text<'_> {
    fn entry(&mut self, entry: &Entry) -> Result<()> {
        let mut text = format!("{}\n", entry.target.describe());
        match &entry.change {
            Change::Full(produced) => full_text(produced, &mut text),
            Change::Changed {
                answers,
                files,
                declarations,
            } => changed_text((answers, declarations), files, &mut text),
        }
        text.push('\n');
        written(self.out.write_all(text.as_bytes()))
    }

    fn finish(&mut self, ending: &Ending) -> Result<()> {
        let mut text = String::new();
        for target in &ending.removed {
            text.push_str(&format!("{}: no longer planned\n", target.describe()));
        }
        for (target, message) in &ending.errors {
            text.push_str(&format!("{}: {message}\n", target.describe()));
        }
        text.push_str(&summary_line(&ending.summary, ending.since.as_deref()));
        written(self.out.write_all(text.as_bytes()))
    }
}

/// `planned 12 machines against HEAD~1 (1a2b3c4): 3 changed, 9
/// unchanged, 4 files changed, 1 error`.
pub fn summary_line(summary: &Summary, since: Option<&str>) -> String {
    let against = since
        .map(|s| format!(" against {s}"))
        .unwrap_or_else(|| " (no earlier revision: the full result)".into());
    format!(
        "planned {} machine(s){against}: {} changed, {} unchanged, {} file(s) changed, {} error(s)\n",
        summary.machines, summary.changed, summary.unchanged, summary.files_changed, summary.errors
    )
}

fn full_text(produced: &Produced, out: &mut String) {
    for (key, answer) in &produced.answers {
        out.push_str(&format!("  {key} = {}\n", answer_text(Some(answer))));
    }
    for (id, state) in &produced.declarations {
        out.push_str(&format!("  {id}: {state}\n"));
    }
    for (path, file) in &produced.files {
        let mode = file.mode.map(|m| format!(" ({m:04o})")).unwrap_or_default();
        out.push_str(&format!("  {path}{mode}:\n"));
        for line in file.content.lines() {
            out.push_str(&format!("    | {line}\n"));
        }
    }
}

fn changed_text(
    (answers, declarations): (&[AnswerChange], &[DeclarationChange]),
    files: &[FileChange],
    out: &mut String,
) {
    for change in answers {
        out.push_str(&format!(
            "  {}: {} -> {}\n",
            change.key,
            answer_text(change.before.as_ref()),
            answer_text(change.after.as_ref())
        ));
    }
    let state = |state: &Option<String>| match state {
        Some(state) => format!("{state:?}"),
        None => "(none)".into(),
    };
    for change in declarations {
        out.push_str(&format!(
            "  {}: {} -> {}\n",
            change.key,
            state(&change.before),
            state(&change.after)
        ));
    }
    for file in files {
        if let Some((before, after)) = file.mode {
            out.push_str(&format!(
                "  {}: mode {} -> {}\n",
                file.path,
                mode_text(before),
                mode_text(after)
            ));
        }
        for line in file.diff.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
}

fn answer_text(answer: Option<&Answer>) -> String {
    match answer {
        None => "(none)".into(),
        Some(Answer { value: None, .. }) => "(no value)".into(),
        Some(Answer {
            value: Some(value),
            source,
            ..
        }) => format!("{value:?} ({})", source.as_str()),
    }
}

fn mode_text(mode: Option<u32>) -> String {
    mode.map(|m| format!("{m:04o}"))
        .unwrap_or_else(|| "(none)".into())
}

/// The plan as one JSON object (see docs/plan.md for the shape), written
/// as it goes: `changes` (its keys are in order) first, entry by entry.
pub struct Json<'a> {
    out: &'a mut dyn Write,
    entries: usize,
}

impl<'a> Json<'a> {
    pub fn new(out: &'a mut dyn Write) -> Json<'a> {
        Json { out, entries: 0 }
    }
}

impl Printer for Json<'_> {
    fn entry(&mut self, entry: &Entry) -> Result<()> {
        let pretty = pretty(&entry_json(entry))?;
        let mut text = String::from(match self.entries {
            0 => "{\n  \"changes\": [\n",
            _ => ",\n",
        });
        // As the whole object pretty-printed would have it: two levels in.
        for (i, line) in pretty.lines().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str("    ");
            text.push_str(line);
        }
        self.entries += 1;
        written(self.out.write_all(text.as_bytes()))
    }

    fn finish(&mut self, ending: &Ending) -> Result<()> {
        let summary = &ending.summary;
        let rest = json!({
            "since": ending.since,
            "summary": {
                "machines": summary.machines,
                "changed": summary.changed,
                "unchanged": summary.unchanged,
                "files_changed": summary.files_changed,
                "errors": summary.errors,
            },
            "removed": ending.removed.iter().map(target_json).collect::<Vec<_>>(),
            "errors": ending.errors.iter().map(|(target, message)| {
                let mut value = target_json(target);
                value["message"] = json!(message);
                value
            }).collect::<Vec<_>>(),
        });
        let rest = pretty(&rest)?;
        let fields = rest
            .strip_prefix("{\n")
            .and_then(|r| r.strip_suffix("\n}"))
            .unwrap_or(&rest);
        let changes = match self.entries {
            0 => "{\n  \"changes\": [],\n",
            _ => "\n  ],\n",
        };
        written(write!(self.out, "{changes}{fields}\n}}\n"))
    }
}

fn pretty(value: &Value) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::Usage(e.to_string()))
}

fn target_json(target: &Target) -> Value {
    json!({
        "environment": target.environment,
        "machine": target.machine,
        "package": target.package,
    })
}

fn entry_json(entry: &Entry) -> Value {
    let mut value = target_json(&entry.target);
    let declaration = |id: &str, before: Option<&String>, after: Option<&String>| json!({ "id": id, "before": before, "after": after });
    let (answers, declarations, files): (Vec<Value>, Vec<Value>, Vec<Value>) = match &entry.change {
        Change::Full(produced) => (
            produced
                .answers
                .iter()
                .map(|(key, answer)| answer_json(key, None, Some(answer)))
                .collect(),
            produced
                .declarations
                .iter()
                .map(|(id, state)| declaration(id, None, Some(state)))
                .collect(),
            produced
                .files
                .iter()
                .map(|(path, file)| {
                    json!({
                        "path": path,
                        "mode": file.mode.map(|m| format!("{m:04o}")),
                        "content": file.content,
                        "diff": null,
                    })
                })
                .collect(),
        ),
        Change::Changed {
            answers,
            files,
            declarations,
        } => (
            answers
                .iter()
                .map(|c| answer_json(&c.key, c.before.as_ref(), c.after.as_ref()))
                .collect(),
            declarations
                .iter()
                .map(|c| declaration(&c.key, c.before.as_ref(), c.after.as_ref()))
                .collect(),
            files
                .iter()
                .map(|file| {
                    json!({
                        "path": file.path,
                        "mode": file.mode.and_then(|(_, after)| after).map(|m| format!("{m:04o}")),
                        "content": null,
                        "diff": file.diff,
                    })
                })
                .collect(),
        ),
    };
    value["answers"] = json!(answers);
    value["declarations"] = json!(declarations);
    value["files"] = json!(files);
    value
}

fn answer_json(key: &str, before: Option<&Answer>, after: Option<&Answer>) -> Value {
    let one = |answer: Option<&Answer>| {
        answer.map(|a| {
            json!({
                "value": a.value,
                "source": a.source.as_str(),
                "secret": a.secret,
            })
        })
    };
    json!({ "key": key, "before": one(before), "after": one(after) })
}
