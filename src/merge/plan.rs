//! The plan of one run: for each of the package's questions, what is kept,
//! set or asked, assembled from the document's values, the stored answers,
//! the derived values and the decisions already made (a flag, or a person
//! earlier for the same two values). Pure: built and table-tested without
//! a database or a terminal.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Decisions, QuestionPlan, Reason, Settings, conflict_of, decide, settle};
use crate::derive::values::{self, Bindings, Derived};
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
    pub scope: &'a Bindings,
}

/// The plan of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// In the document's order.
    pub planned: Vec<QuestionPlan>,
    /// Conflicts as planned before a decision settled them, by key: what
    /// the run remembers about each (see [`super::conflict_outcome`]).
    pub conflicts: BTreeMap<String, QuestionPlan>,
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
    pub fn shown(&self) -> impl Iterator<Item = &QuestionPlan> {
        self.planned.iter().filter(|p| p.shown())
    }
}

/// Plans the package's questions.
pub fn plan(inputs: &Inputs<'_>) -> Result<Plan> {
    let document = inputs.document;
    let mut planned: Vec<QuestionPlan> = document
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
    let provisional = values::values_after(
        document,
        provisional(&planned, inputs.stored),
        inputs.stored,
        &BTreeMap::new(),
    );
    let derived = values::compute(document, inputs.owned, &provisional, inputs.scope)?;
    planned.extend(
        document
            .templates
            .iter()
            .filter(|t| t.source == Source::Derived && inputs.owned.contains(&t.key))
            .map(
                |template| match derived.pending.contains_key(&template.key) {
                    true => QuestionPlan {
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

/// Each planned question's value if nobody answers it.
fn provisional<'a>(
    planned: &'a [QuestionPlan],
    stored: &'a BTreeMap<String, StoredAnswer>,
) -> impl Iterator<Item = (&'a str, Option<String>)> {
    planned.iter().map(|p| {
        (
            p.key.as_str(),
            super::provisional_value(p, stored.get(&p.key)),
        )
    })
}

/// Applies `--take-document`/`--keep-mine` (or a person's earlier
/// decision) to a planned conflict, remembering the plan before it in
/// `conflicts`.
fn settle_conflict(
    inputs: &Inputs<'_>,
    planned: &mut QuestionPlan,
    conflicts: &mut BTreeMap<String, QuestionPlan>,
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

fn secret_keys(
    inputs: &Inputs<'_>,
    planned: &[QuestionPlan],
    derived: &Derived,
) -> BTreeSet<String> {
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
    let final_values = values::values_after(
        document,
        provisional(&plan.planned, inputs.stored),
        inputs.stored,
        answers,
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::model::{Priority, QuestionType};
    use crate::merge::{Decision, Decisions};
    use crate::testing::{derived, document, map, scope, stored, template};

    const NORMAL: Settings = Settings {
        force: false,
        priority: Priority::High,
    };

    struct Case {
        document: Document,
        owned: Owned,
        configured: BTreeMap<String, String>,
        stored: BTreeMap<String, StoredAnswer>,
        remembered: BTreeMap<String, Conflict>,
        decisions: Decisions,
    }

    impl Case {
        fn plan(&self) -> Plan {
            let scope = scope();
            plan(&Inputs {
                document: &self.document,
                owned: &self.owned,
                configured: &self.configured,
                stored: &self.stored,
                remembered: &self.remembered,
                settings: NORMAL,
                decisions: &self.decisions,
                scope: &scope,
            })
            .expect("planned")
        }
    }

    /// db.host configured by the document; the person stored another.
    fn conflict() -> Case {
        Case {
            document: document(vec![template("x/host", Source::Configured)]),
            owned: Owned::all(),
            configured: map(&[("x/host", "db1".to_string())]),
            stored: map(&[("x/host", stored("mine", Source::User, true))]),
            remembered: BTreeMap::new(),
            decisions: Decisions::default(),
        }
    }

    fn action(plan: &Plan, key: &str) -> Action {
        plan.planned
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.action.clone())
            .expect("planned")
    }

    #[test]
    fn a_conflict_is_asked_unless_a_flag_or_an_earlier_decision_settles_it() {
        let decided = Conflict {
            document: "db1".into(),
            stored: "mine".into(),
            since: "2026-01-01T00:00:00Z".into(),
            decided: true,
        };
        let open = Conflict {
            decided: false,
            ..decided.clone()
        };
        let take = Decisions {
            take_document: ["x/host".to_string()].into(),
            ..Decisions::default()
        };
        let keep = Decisions {
            keep_mine_all: true,
            ..Decisions::default()
        };
        let set_db1 = Action::Set {
            value: Some("db1".into()),
            source: Source::Configured,
        };
        for (name, decisions, remembered, expected) in [
            ("nothing decided", Decisions::default(), None, None),
            (
                "an open conflict is asked again",
                Decisions::default(),
                Some(open),
                None,
            ),
            (
                "a person kept theirs",
                Decisions::default(),
                Some(decided),
                Some(Action::Keep),
            ),
            ("--take-document", take, None, Some(set_db1)),
            ("--keep-mine-all", keep, None, Some(Action::Keep)),
        ] {
            let case = Case {
                decisions,
                remembered: remembered
                    .map(|c| map(&[("x/host", c)]))
                    .unwrap_or_default(),
                ..conflict()
            };
            let plan = case.plan();
            match expected {
                None => assert!(
                    matches!(
                        action(&plan, "x/host"),
                        Action::Ask {
                            reason: Reason::Conflict { .. },
                            ..
                        }
                    ),
                    "{name}: {plan:?}"
                ),
                Some(expected) => assert_eq!(action(&plan, "x/host"), expected, "{name}"),
            }
            // The conflict as planned is remembered either way.
            assert!(plan.conflicts.contains_key("x/host"), "{name}");
        }
        assert_eq!(
            Decision::TakeDocument,
            Decisions {
                take_document_all: true,
                ..Decisions::default()
            }
            .for_key("any")
            .expect("all")
        );
    }

    #[test]
    fn only_the_packages_questions_are_planned_in_the_documents_order() {
        let case = Case {
            document: document(vec![
                template("x/c", Source::Configured),
                template("x/a", Source::Configured),
                template("x/b", Source::User),
            ]),
            owned: crate::questions::close(
                &document(vec![]),
                crate::questions::Reads::Keys(["x/a".to_string(), "x/c".to_string()].into()),
            ),
            configured: map(&[("x/a", "1".to_string()), ("x/c", "3".to_string())]),
            ..conflict()
        };
        let keys: Vec<String> = case.plan().planned.into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["x/c", "x/a"]);
    }

    #[test]
    fn a_derived_question_waits_for_the_answer_it_reads_then_is_decided() {
        let case = Case {
            document: document(vec![
                template("x/name", Source::User),
                derived("x/greeting", r#""hello " ~ answers["x/name"]"#),
            ]),
            configured: BTreeMap::new(),
            stored: BTreeMap::new(),
            ..conflict()
        };
        let mut plan = case.plan();
        assert_eq!(action(&plan, "x/greeting"), Action::Keep);
        assert_eq!(
            plan.derived.pending.get("x/greeting").map(String::as_str),
            Some("x/name")
        );
        assert!(matches!(action(&plan, "x/name"), Action::Ask { .. }));
        let scope = scope();
        let inputs = Inputs {
            document: &case.document,
            owned: &case.owned,
            configured: &case.configured,
            stored: &case.stored,
            remembered: &case.remembered,
            settings: NORMAL,
            decisions: &case.decisions,
            scope: &scope,
        };
        let answers = map(&[("x/name", "ada".to_string())]);
        let derived = settle_derived(&mut plan, &inputs, &answers).expect("settled");
        assert_eq!(
            derived.values.get("x/greeting").map(String::as_str),
            Some("hello ada")
        );
        assert_eq!(
            action(&plan, "x/greeting"),
            Action::Set {
                value: Some("hello ada".into()),
                source: Source::Derived
            }
        );
        // Without the answer, the run cannot finish: it says which.
        let mut plan = case.plan();
        let error = settle_derived(&mut plan, &inputs, &BTreeMap::new()).expect_err("pending");
        assert!(
            error
                .to_string()
                .contains("x/greeting reads answers[\"x/name\"]"),
            "{error}"
        );
    }

    #[test]
    fn secrets_are_passwords_stored_secrets_and_values_computed_from_them() {
        let mut password = template("x/password", Source::User);
        password.question_type = QuestionType::Password;
        let mut token = stored("t0k3n", Source::User, true);
        token.secret = true;
        let case = Case {
            document: document(vec![
                password,
                template("x/token", Source::User),
                template("x/plain", Source::User),
                derived("x/dsn", r#""u:" ~ answers["x/password"]"#),
            ]),
            configured: BTreeMap::new(),
            stored: map(&[
                ("x/password", {
                    let mut p = stored("hunter2", Source::User, true);
                    p.secret = true;
                    p
                }),
                ("x/token", token),
                ("x/plain", stored("visible", Source::User, true)),
            ]),
            ..conflict()
        };
        let plan = case.plan();
        let secret: Vec<&str> = plan.secret.iter().map(String::as_str).collect();
        assert_eq!(secret, ["x/dsn", "x/password", "x/token"]);
        let lines = lines(&plan, &case.stored);
        let dsn = lines.iter().find(|l| l.key == "x/dsn").expect("dsn");
        assert!(dsn.secret, "{dsn:?}");
    }

    #[test]
    fn the_dry_run_says_why_and_never_quotes_a_secret_conflict() {
        let plan = conflict().plan();
        let lines = lines(&plan, &conflict().stored);
        assert_eq!(
            lines[0].action,
            "ask: conflict: the document says \"db1\", you entered \"mine\""
        );
        assert_eq!(
            describe_reason(
                &Reason::Conflict {
                    document: "a".into(),
                    user: "b".into()
                },
                true
            ),
            "conflict: the document and your earlier answer differ"
        );
    }
}
