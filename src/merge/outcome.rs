//! What a run stores: the plan, the person's answers and the final derived
//! values become one [`Batch`] of answer records and conflict records, and
//! the list of conflicts kept without anybody deciding (one warning each).
//! Pure: the batch is data until the caller commits it.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::Plan;
use super::{Decisions, as_secret, conflict_outcome, is_change, resolve};
use crate::derive::values::Derived;
use crate::env::model::{Document, Source};
use crate::error::Result;
use crate::store::{Batch, Conflict, StoredAnswer};

/// What the run asked and what is stored now.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    pub document: &'a Document,
    pub configured: &'a BTreeMap<String, String>,
    /// The derived values from the final answers.
    pub derived: &'a Derived,
    /// What is stored now (another run may have changed it meanwhile).
    pub stored: &'a BTreeMap<String, StoredAnswer>,
    /// The frontend's answers.
    pub answers: &'a BTreeMap<String, String>,
    /// Keys another run stored while the person answered.
    pub changed_meanwhile: &'a BTreeSet<String>,
    pub remembered: &'a BTreeMap<String, Conflict>,
    pub decisions: &'a Decisions,
    /// The package configured (becomes an owner of what it stores).
    pub package: Option<&'a str>,
    /// The time, for a new conflict's `since`.
    pub now: &'a str,
}

/// A conflict kept because nobody decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub key: String,
    pub stored: String,
    pub document: String,
}

impl Kept {
    /// The warning line; a secret's values masked.
    pub fn warning(&self, secret: bool) -> String {
        let shown = |value: &str| match secret {
            true => crate::output::MASK.to_string(),
            false => format!("{value:?}"),
        };
        format!(
            "{key}: kept your value {} although the document says {} (an open conflict; \
             decide with `confpack configure --take-document {key}` or `--keep-mine {key}`)",
            shown(&self.stored),
            shown(&self.document),
            key = self.key,
        )
    }
}

/// What to store.
#[derive(Debug, Default)]
pub struct Outcome {
    pub batch: Batch,
    /// Keys whose value or source changed.
    pub changed: Vec<String>,
    pub kept: Vec<Kept>,
}

/// The records the run stores.
pub fn outcome(plan: &Plan, run: &Answered<'_>) -> Result<Outcome> {
    let mut out = Outcome::default();
    for planned in &plan.planned {
        let key = planned.key.as_str();
        let Some(template) = run.document.template(key) else {
            continue;
        };
        // Another run stored it while the person answered other questions.
        if run.changed_meanwhile.contains(key) && !run.answers.contains_key(key) {
            continue;
        }
        let document_value = match template.source {
            Source::Derived => run.derived.values.get(key),
            _ => run.configured.get(key),
        };
        let next = resolve(
            template,
            planned,
            document_value.map(String::as_str),
            run.stored.get(key),
            run.answers.get(key).map(String::as_str),
            run.package,
        );
        let next = match run.derived.secret.contains(key) {
            true => as_secret(next, run.stored.get(key)),
            false => next,
        };
        if let Some(next) = next {
            // Stored (a record only seen now, or with a new owner, is
            // written) but reported only when its value or source changed.
            if is_change(run.stored.get(key), &next) {
                out.changed.push(key.to_string());
            }
            out.batch.set_answer(key, &next)?;
        }
        remember_conflict(plan, run, key, &mut out)?;
    }
    Ok(out)
}

/// Records (or forgets) what is remembered about `key`'s conflict.
fn remember_conflict(plan: &Plan, run: &Answered<'_>, key: &str, out: &mut Outcome) -> Result<()> {
    let Some(original) = plan.conflicts.get(key) else {
        if run.remembered.contains_key(key) {
            out.batch.remove_conflict(key);
        }
        return Ok(());
    };
    let outcome = conflict_outcome(
        original,
        run.answers.get(key).map(String::as_str),
        run.decisions.for_key(key),
        run.remembered.get(key),
        run.now,
    );
    if outcome.record.as_ref() != run.remembered.get(key) {
        match &outcome.record {
            Some(record) => out.batch.set_conflict(key, record)?,
            None => out.batch.remove_conflict(key),
        }
    }
    if outcome.warn
        && let Some(record) = outcome.record
    {
        out.kept.push(Kept {
            key: key.to_string(),
            stored: record.stored,
            document: record.document,
        });
    }
    Ok(())
}

/// The keys `--take-document`/`--keep-mine` named that had no conflict.
pub fn undecidable<'a>(decisions: &'a Decisions, plan: &Plan) -> Vec<&'a str> {
    decisions
        .take_document
        .iter()
        .chain(&decisions.keep_mine)
        .filter(|key| !plan.conflicts.contains_key(*key))
        .map(String::as_str)
        .collect()
}
