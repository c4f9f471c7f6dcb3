//! What a run stores: the plan, the person's answers and the final derived
//! values become one [`Batch`] of answer records and conflict records, and
//! the list of conflicts kept without anybody deciding (one warning each).
//! Pure: the batch is data until the caller commits it.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{Inputs, Plan};
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

impl<'a> Answered<'a> {
    /// The run's inputs with the final derived values and the frontend's
    /// answers (and the keys another run changed meanwhile); no package,
    /// no time yet (see [`Answered::by`]).
    pub fn of(
        inputs: &Inputs<'a>,
        derived: &'a Derived,
        (answers, changed_meanwhile): (&'a BTreeMap<String, String>, &'a BTreeSet<String>),
    ) -> Answered<'a> {
        Answered {
            document: inputs.document,
            configured: inputs.configured,
            derived,
            stored: inputs.stored,
            answers,
            changed_meanwhile,
            remembered: inputs.remembered,
            decisions: inputs.decisions,
            package: None,
            now: "",
        }
    }

    /// Stored on behalf of `package`, at `now`.
    pub fn by(self, package: Option<&'a str>, now: &'a str) -> Answered<'a> {
        Answered {
            package,
            now,
            ..self
        }
    }
}

/// A conflict kept because nobody decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptConflict {
    pub key: String,
    pub stored: String,
    pub document: String,
}

impl KeptConflict {
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
pub struct Records {
    pub batch: Batch,
    /// Keys whose value or source changed.
    pub changed: Vec<String>,
    pub kept: Vec<KeptConflict>,
}

/// The records the run stores.
pub fn outcome(plan: &Plan, run: &Answered<'_>) -> Result<Records> {
    let mut out = Records::default();
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
fn remember_conflict(plan: &Plan, run: &Answered<'_>, key: &str, out: &mut Records) -> Result<()> {
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
        out.kept.push(KeptConflict {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::model::Priority;
    use crate::merge::Settings;
    use crate::merge::plan::{Inputs, plan};
    use crate::questions::Owned;
    use crate::testing::{document, map, scope, stored, template};

    /// db.host: the document says db1, the person stored "mine".
    struct Node {
        document: Document,
        configured: BTreeMap<String, String>,
        stored: BTreeMap<String, StoredAnswer>,
        remembered: BTreeMap<String, Conflict>,
        decisions: Decisions,
    }

    fn node() -> Node {
        Node {
            document: document(vec![template("x/host", Source::Configured)]),
            configured: map(&[("x/host", "db1".to_string())]),
            stored: map(&[("x/host", stored("mine", Source::User, true))]),
            remembered: BTreeMap::new(),
            decisions: Decisions::default(),
        }
    }

    impl Node {
        fn plan(&self) -> Plan {
            plan(&Inputs {
                document: &self.document,
                owned: &Owned::all(),
                configured: &self.configured,
                stored: &self.stored,
                remembered: &self.remembered,
                settings: Settings {
                    force: false,
                    priority: Priority::High,
                },
                decisions: &self.decisions,
                scope: &scope(),
            })
            .expect("plan")
        }
    }

    fn run(node: &Node, answers: &[(&str, &str)], meanwhile: &[&str]) -> Records {
        let plan = node.plan();
        let answers: BTreeMap<String, String> = answers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let meanwhile = meanwhile.iter().map(|k| k.to_string()).collect();
        outcome(
            &plan,
            &Answered {
                document: &node.document,
                configured: &node.configured,
                derived: &Derived::default(),
                stored: &node.stored,
                answers: &answers,
                changed_meanwhile: &meanwhile,
                remembered: &node.remembered,
                decisions: &node.decisions,
                package: Some("pkg"),
                now: "2026-12-03T00:00:00Z",
            },
        )
        .expect("outcome")
    }

    #[test]
    fn what_a_run_stores_and_remembers_about_a_conflict() {
        let open = Conflict {
            document: "db1".into(),
            stored: "mine".into(),
            since: "2026-01-01T00:00:00Z".into(),
            decided: false,
        };
        for (name, remembered, answers, meanwhile, expected, kept) in [
            (
                "nobody decided: kept, remembered, warned",
                None,
                vec![],
                vec![],
                vec!["set answer/x/host", "set conflict/x/host"],
                true,
            ),
            (
                "still open: remembered as it was (same since)",
                Some(open.clone()),
                vec![],
                vec![],
                vec!["set answer/x/host"],
                true,
            ),
            (
                "the person took the document's value: the conflict ends",
                Some(open.clone()),
                vec![("x/host", "db1")],
                vec![],
                vec!["set answer/x/host", "remove conflict/x/host"],
                false,
            ),
            (
                "the person kept theirs: a decision, no warning",
                None,
                vec![("x/host", "mine")],
                vec![],
                vec!["set answer/x/host", "set conflict/x/host"],
                false,
            ),
            (
                "another run stored it meanwhile and nobody answered: untouched",
                None,
                vec![],
                vec!["x/host"],
                vec![],
                false,
            ),
        ] {
            let node = Node {
                remembered: remembered
                    .map(|c| map(&[("x/host", c)]))
                    .unwrap_or_default(),
                ..node()
            };
            let outcome = run(&node, &answers, &meanwhile);
            assert_eq!(outcome.batch.describe(), expected, "{name}");
            assert_eq!(!outcome.kept.is_empty(), kept, "{name}");
        }
    }

    #[test]
    fn a_kept_conflict_warns_with_both_values_a_secret_masked() {
        let kept = KeptConflict {
            key: "x/host".into(),
            stored: "mine".into(),
            document: "db1".into(),
        };
        let shown = kept.warning(false);
        assert!(
            shown.contains("\"mine\"") && shown.contains("\"db1\""),
            "{shown}"
        );
        assert!(shown.contains("--take-document x/host"), "{shown}");
        let masked = kept.warning(true);
        assert!(
            !masked.contains("\"mine\"") && !masked.contains("db1"),
            "{masked}"
        );
    }

    #[test]
    fn a_flag_for_a_key_without_a_conflict_is_named() {
        let node = Node {
            decisions: Decisions {
                take_document: ["x/host".to_string(), "x/other".to_string()].into(),
                ..Decisions::default()
            },
            ..node()
        };
        let plan = node.plan();
        assert_eq!(undecidable(&node.decisions, &plan), ["x/other"]);
        let outcome = run(&node, &[], &[]);
        assert_eq!(outcome.changed, ["x/host"]);
    }
}
