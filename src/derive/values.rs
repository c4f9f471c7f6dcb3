//! The two derive passes of a run: what every question's value will be
//! (stored answers, then the plan, then the person's answers), and the
//! derived questions computed from those values. Pure: the same inputs
//! give the same values.
//!
//! A run computes derived values twice: before asking, from the values the
//! questions will have if nobody answers (so a derived question can be
//! planned, and one that reads an unanswered question waits), and after
//! asking, from the final answers.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Value;

use super::{Answers, KnownAnswer, Limits};
use crate::env::model::{Document, Source, Template};
use crate::error::{Error, Result};
use crate::merge::{self, Planned};
use crate::questions::Owned;
use crate::select::Selection;
use crate::store::StoredAnswer;

/// What expressions see besides the answers: the selected environment and
/// machine, and the most bytes one value may have.
#[derive(Debug, Clone)]
pub struct Scope {
    pub environment: Value,
    pub machine: Value,
    pub max_value_bytes: usize,
}

impl Scope {
    /// The scope of `selection` in `document`.
    pub fn of(document: &Document, selection: &Selection, max_value_bytes: usize) -> Scope {
        let (environment, machine) =
            super::environment_values(document, &selection.environment, selection.machine.as_ref());
        Scope {
            environment,
            machine,
            max_value_bytes,
        }
    }
}

/// The stored answers that have a value, as expressions and templates see them.
pub fn known_answers(stored: &BTreeMap<String, StoredAnswer>) -> BTreeMap<String, KnownAnswer> {
    stored
        .iter()
        .filter_map(|(key, answer)| {
            Some((
                key.clone(),
                KnownAnswer {
                    question_type: answer.question_type,
                    secret: answer.secret,
                    value: answer.value.clone()?,
                },
            ))
        })
        .collect()
}

/// The value of every question after the run, given the frontend's
/// answers: stored answers of other documents, then this plan.
pub fn values_after(
    document: &Document,
    plan: &[Planned],
    stored: &BTreeMap<String, StoredAnswer>,
    answers: &BTreeMap<String, String>,
) -> BTreeMap<String, KnownAnswer> {
    let mut known = known_answers(stored);
    for planned in plan {
        let Some(template) = document.template(&planned.key) else {
            continue;
        };
        if template.source == Source::Derived || template.question_type.is_display_only() {
            known.remove(&planned.key);
            continue;
        }
        let value = answers
            .get(&planned.key)
            .cloned()
            .or_else(|| merge::provisional_value(planned, stored.get(&planned.key)));
        match value {
            Some(value) => {
                known.insert(
                    planned.key.clone(),
                    KnownAnswer {
                        question_type: template.question_type,
                        secret: template.question_type.is_secret(),
                        value,
                    },
                );
            }
            None => {
                known.remove(&planned.key);
            }
        }
    }
    known
}

/// The derived values of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Derived {
    pub values: BTreeMap<String, String>,
    /// Computed from a secret: secrets too.
    pub secret: BTreeSet<String>,
    /// Waiting for an answer to the question named (computed after asking).
    pub pending: BTreeMap<String, String>,
}

/// Computes the derived questions of `document` that `owned` has, from
/// `known`.
pub fn compute(
    document: &Document,
    owned: &Owned,
    known: &BTreeMap<String, KnownAnswer>,
    scope: &Scope,
) -> Result<Derived> {
    let derived_templates: Vec<&Template> = document
        .templates
        .iter()
        .filter(|t| t.source == Source::Derived && owned.contains(&t.key))
        .collect();
    if derived_templates.is_empty() {
        return Ok(Derived::default());
    }
    let answers = derived_answers(document, &derived_templates, known, scope);
    let context = super::context(&answers, scope.environment.clone(), scope.machine.clone());
    let values = answers.compute_all(context).map_err(|e| match e {
        Error::Derive(message) => {
            // The line of the derived question whose expression failed.
            let line = answers
                .failed_key()
                .and_then(|key| document.template(&key).map(|t| format!(":{}", t.line)))
                .unwrap_or_default();
            Error::Derive(format!("{}{line}: {message}", document.origin))
        }
        other => other,
    })?;
    check_types(document, &answers, &values)?;
    Ok(Derived {
        values,
        secret: answers.secret_derived(),
        pending: answers.pending(),
    })
}

/// The answers object expressions read: `known` without the derived
/// questions (each computed from its expression, even one the user
/// overrode: the store keeps the override), and the document's questions
/// without a value, whose reading makes a derived value wait.
fn derived_answers(
    document: &Document,
    derived: &[&Template],
    known: &BTreeMap<String, KnownAnswer>,
    scope: &Scope,
) -> std::sync::Arc<Answers> {
    let unanswered = document
        .templates
        .iter()
        .filter(|t| {
            t.source != Source::Derived
                && !t.question_type.is_display_only()
                && !known.contains_key(&t.key)
        })
        .map(|t| t.key.clone())
        .collect();
    let mut known = known.clone();
    for template in derived {
        known.remove(&template.key);
    }
    Answers::with_limits(
        known,
        derived
            .iter()
            .map(|t| {
                (
                    t.key.clone(),
                    t.question_type,
                    t.expression.clone().unwrap_or_default(),
                )
            })
            .collect(),
        Limits {
            unanswered,
            max_value_bytes: scope.max_value_bytes,
        },
    )
}

/// Every computed value must fit its question, like an answer.
fn check_types(
    document: &Document,
    answers: &Answers,
    values: &BTreeMap<String, String>,
) -> Result<()> {
    for (key, value) in values {
        if let Some(template) = document.template(key) {
            template
                .question_type
                .check(value, &template.choices)
                .map_err(|message| {
                    Error::Derive(answers.mask_secrets(&format!(
                        "{}:{}: {key}: the expression's value does not fit the question: {message}",
                        document.origin, template.line
                    )))
                })?;
        }
    }
    Ok(())
}

/// Refuses a value larger than `limit` bytes, naming its question.
pub fn check_sizes(values: &BTreeMap<String, String>, limit: usize) -> Result<()> {
    match values.iter().find(|(_, value)| value.len() > limit) {
        Some((key, value)) => Err(Error::Question {
            key: key.clone(),
            message: super::too_large(value.len(), limit),
        }),
        None => Ok(()),
    }
}
