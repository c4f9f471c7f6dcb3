//! The plan as text (for people and CI logs) and as JSON (for tools; the
//! shape is documented in docs/plan.md and checked by the tests). Secrets
//! are already masked by [`super::compute`]; nothing here reads one.

use serde_json::{Value, json};

use super::compare::{AnswerChange, Change, Entry, FileChange, Report, Summary};
use super::{Answer, Produced, Target};
use crate::error::{Error, Result};

/// The whole report as text: the changes, the errors, the summary line.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for entry in &report.entries {
        out.push_str(&format!("{}\n", entry.target.describe()));
        match &entry.change {
            Change::Full(produced) => full_text(produced, &mut out),
            Change::Changed { answers, files } => changed_text(answers, files, &mut out),
        }
        out.push('\n');
    }
    for target in &report.removed {
        out.push_str(&format!("{}: no longer planned\n", target.describe()));
    }
    for (target, message) in &report.errors {
        out.push_str(&format!("{}: {message}\n", target.describe()));
    }
    out.push_str(&summary_line(&report.summary, report.since.as_deref()));
    out
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
    for (path, file) in &produced.files {
        let mode = file.mode.map(|m| format!(" ({m:04o})")).unwrap_or_default();
        out.push_str(&format!("  {path}{mode}:\n"));
        for line in file.content.lines() {
            out.push_str(&format!("    | {line}\n"));
        }
    }
}

fn changed_text(answers: &[AnswerChange], files: &[FileChange], out: &mut String) {
    for change in answers {
        out.push_str(&format!(
            "  {}: {} -> {}\n",
            change.key,
            answer_text(change.before.as_ref()),
            answer_text(change.after.as_ref())
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

/// The whole report as JSON (see docs/plan.md for the shape).
pub fn json(report: &Report) -> Result<String> {
    let value = json!({
        "since": report.since,
        "summary": {
            "machines": report.summary.machines,
            "changed": report.summary.changed,
            "unchanged": report.summary.unchanged,
            "files_changed": report.summary.files_changed,
            "errors": report.summary.errors,
        },
        "changes": report.entries.iter().map(entry_json).collect::<Vec<_>>(),
        "removed": report.removed.iter().map(target_json).collect::<Vec<_>>(),
        "errors": report.errors.iter().map(|(target, message)| {
            let mut value = target_json(target);
            value["message"] = json!(message);
            value
        }).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value)
        .map(|s| s + "\n")
        .map_err(|e| Error::Usage(e.to_string()))
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
    let (answers, files): (Vec<Value>, Vec<Value>) = match &entry.change {
        Change::Full(produced) => (
            produced
                .answers
                .iter()
                .map(|(key, answer)| answer_json(key, None, Some(answer)))
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
        Change::Changed { answers, files } => (
            answers
                .iter()
                .map(|c| answer_json(&c.key, c.before.as_ref(), c.after.as_ref()))
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
