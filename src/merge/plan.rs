//! The plan of one run: for each of the package's questions, what is kept,
//! set or asked, assembled from the document's values, the stored answers,
//! the derived values and the decisions already made (a flag, or a person
//! earlier for the same two values). Pure: built and table-tested without
//! a database or a terminal.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Decisions, Planned, Reason, Settings, conflict_of, decide, settle};
use crate::derive::values::{self, Derived, Scope};
use crate::env::model::{Document, Source};
use crate::error::Result;
use crate::questions::Owned;
use crate::store::{Conflict, StoredAnswer};

/// What a plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub document: &'a Document,
    /// The package's questions.
    pub owned: &'a Owned,
    /// The document's values for the selection (secrets decrypted).
    pub configured: &'a BTreeMap<String, String>,
    pub stored: &'a BTreeMap<String, StoredAnswer>,
    /// Conflicts remembered from earlier runs.
    pub remembered: &'a BTreeMap<String, Conflict>,
    pub settings: Settings,
    pub decisions: &'a Decisions,
    pub scope: &'a Scope,
}

/// The plan of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// In the document's order.
    pub planned: Vec<Planned>,
    /// Conflicts as planned before a decision settled them, by key: what
    /// the run remembers about each (see [`super::conflict_outcome`]).
    pub conflicts: BTreeMap<String, Planned>,
    /// Secret keys: a secret question's, one stored as a secret, or one
    /// computed from a secret.
    pub secret: BTreeSet<String>,
    /// The derived values before asking.
    pub derived: Derived,
}

impl Plan {
    pub fn is_secret(&self, key: &str) -> bool {
        self.secret.contains(key)
    }

    /// The questions a frontend must show.
    pub fn shown(&self) -> impl Iterator<Item = &Planned> {
        self.planned.iter().filter(|p| p.shown())
    }
}

/// Plans the package's questions.
pub fn plan(inputs: &Inputs<'_>) -> Result<Plan> {
    let document = inputs.document;
    let mut planned: Vec<Planned> = document
        .templates
        .iter()
        .filter(|t| t.source != Source::Derived && inputs.owned.contains(&t.key))
        .map(|t| {
            decide(
                t,
                inputs.configured.get(&t.key).map(String::as_str),
                inputs.stored.get(&t.key),
                inputs.settings,
            )
        })
        .collect();
    // Derived values from what the others will be if nobody answers; one
    // that reads a question without an answer yet is computed after asking
    // (kept as stored until then).
    let provisional = values::values_after(document, &planned, inputs.stored, &BTreeMap::new());
    let derived = values::compute(document, inputs.owned, &provisional, inputs.scope)?;
    planned.extend(
        document
            .templates
            .iter()
            .filter(|t| t.source == Source::Derived && inputs.owned.contains(&t.key))
            .map(
                |template| match derived.pending.contains_key(&template.key) {
                    true => Planned {
                        key: template.key.clone(),
                        action: Action::Keep,
                        hidden: false,
                    },
                    false => decide(
                        template,
                        derived.values.get(&template.key).map(String::as_str),
                        inputs.stored.get(&template.key),
                        inputs.settings,
                    ),
                },
            ),
    );
    let mut conflicts = BTreeMap::new();
    for planned in planned.iter_mut() {
        settle_conflict(inputs, planned, &mut conflicts);
    }
    let secret = secret_keys(inputs, &planned, &derived);
    let order: BTreeMap<&str, usize> = document
        .templates
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    planned.sort_by_key(|p| order.get(p.key.as_str()).copied().unwrap_or(usize::MAX));
    Ok(Plan {
        planned,
        conflicts,
        secret,
        derived,
    })
}

/// Applies `--take-document`/`--keep-mine` (or a person's earlier
/// decision) to a planned conflict, remembering the plan before it in
/// `conflicts`.
fn settle_conflict(
    inputs: &Inputs<'_>,
    planned: &mut Planned,
    conflicts: &mut BTreeMap<String, Planned>,
) {
    let Some(template) = inputs.document.template(&planned.key) else {
        return;
    };
    if conflict_of(planned).is_none() {
        return;
    }
    conflicts.insert(planned.key.clone(), planned.clone());
    *planned = settle(
        template,
        planned.clone(),
        inputs.decisions.for_key(&planned.key),
        inputs.remembered.get(&planned.key),
        inputs.settings.force,
    );
}

fn secret_keys(inputs: &Inputs<'_>, planned: &[Planned], derived: &Derived) -> BTreeSet<String> {
    planned
        .iter()
        .map(|p| &p.key)
        .filter(|key| {
            inputs
                .document
                .template(key)
                .is_some_and(|t| t.question_type.is_secret())
                || inputs.stored.get(*key).is_some_and(|s| s.secret)
                || derived.secret.contains(*key)
        })
        .cloned()
        .collect()
}

/// After asking: the derived values from the final answers, and the
/// derived questions planned again from them (a derived question the
/// person answered keeps the answer). `stored` is what is stored now (it
/// may have changed while the person answered).
pub fn settle_derived(
    plan: &mut Plan,
    inputs: &Inputs<'_>,
    answers: &BTreeMap<String, String>,
) -> Result<Derived> {
    let document = inputs.document;
    let final_values = values::values_after(document, &plan.planned, inputs.stored, answers);
    let derived = values::compute(document, inputs.owned, &final_values, inputs.scope)?;
    if let Some((key, question)) = derived.pending.iter().next() {
        return Err(crate::Error::Derive(format!(
            "{}: {key} reads answers[{question:?}], which has no answer",
            document.origin
        )));
    }
    for planned in plan.planned.iter_mut() {
        let Some(template) = document.template(&planned.key) else {
            continue;
        };
        if template.source != Source::Derived || answers.contains_key(&planned.key) {
            continue;
        }
        let redecided = decide(
            template,
            derived.values.get(&planned.key).map(String::as_str),
            inputs.stored.get(&planned.key),
            inputs.settings,
        );
        // A conflict that only appears now cannot be asked any more:
        // keep what is stored (never lose an answer).
        if !redecided.shown() || planned.shown() {
            *planned = redecided;
            plan.conflicts.remove(&planned.key);
            settle_conflict(inputs, planned, &mut plan.conflicts);
        }
    }
    Ok(derived)
}

/// One line of `--dry-run` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    pub key: String,
    pub action: String,
    pub value: Option<String>,
    pub secret: bool,
}

/// The plan as `--dry-run` shows it.
pub fn lines(plan: &Plan, stored: &BTreeMap<String, StoredAnswer>) -> Vec<PlanLine> {
    plan.planned
        .iter()
        .map(|planned| {
            let secret = plan.is_secret(&planned.key);
            if let Some(question) = plan.derived.pending.get(&planned.key) {
                return PlanLine {
                    key: planned.key.clone(),
                    action: format!("computed after asking (reads {question})"),
                    value: None,
                    secret,
                };
            }
            let (action, value) = match &planned.action {
                Action::Keep => (
                    "keep".to_string(),
                    stored.get(&planned.key).and_then(|s| s.value.clone()),
                ),
                Action::Set { value, source } => (format!("set ({source})"), value.clone()),
                Action::Ask { reason, default } if planned.hidden => (
                    format!(
                        "take default silently (priority below threshold; {})",
                        reason.describe()
                    ),
                    default.clone(),
                ),
                Action::Ask { reason, default } => (
                    format!("ask: {}", describe_reason(reason, secret)),
                    default.clone(),
                ),
            };
            PlanLine {
                key: planned.key.clone(),
                action,
                value,
                secret,
            }
        })
        .collect()
}

fn describe_reason(reason: &Reason, secret: bool) -> String {
    match reason {
        Reason::Conflict { document, user } if !secret => {
            format!("conflict: the document says {document:?}, you entered {user:?}")
        }
        other => other.describe(),
    }
}
