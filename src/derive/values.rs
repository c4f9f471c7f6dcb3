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
use crate::questions::Owned;
use crate::select::Selection;
use crate::store::StoredAnswer;

/// What expressions see besides the answers: the selected environment and
/// machine, and the most bytes one value may have.
#[derive(Debug, Clone)]
pub struct Bindings {
    pub environment: Value,
    pub machine: Value,
    pub max_value_bytes: usize,
}

impl Bindings {
    /// The scope of `selection` in `document`.
    pub fn of(document: &Document, selection: &Selection, max_value_bytes: usize) -> Bindings {
        let (environment, machine) =
            super::environment_values(document, &selection.environment, selection.machine.as_ref());
        Bindings {
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

/// The value of every question after the run: the stored answers (of
/// other documents too), then each planned question's `provisional` value
/// (what it gets if nobody answers it, `None`: no value), then the
/// frontend's `answers`. Derived and display-only questions have none here:
/// they are computed, or carry no value.
pub fn values_after<'a>(
    document: &Document,
    provisional: impl IntoIterator<Item = (&'a str, Option<String>)>,
    stored: &BTreeMap<String, StoredAnswer>,
    answers: &BTreeMap<String, String>,
) -> BTreeMap<String, KnownAnswer> {
    let mut known = known_answers(stored);
    for (key, value) in provisional {
        let Some(template) = document.template(key) else {
            continue;
        };
        if template.source == Source::Derived || template.question_type.is_display_only() {
            known.remove(key);
            continue;
        }
        match answers.get(key).cloned().or(value) {
            Some(value) => {
                let answer = KnownAnswer {
                    question_type: template.question_type,
                    secret: template.question_type.is_secret(),
                    value,
                };
                known.insert(key.to_string(), answer);
            }
            None => {
                known.remove(key);
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
    scope: &Bindings,
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
    scope: &Bindings,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::model::QuestionType;
    use crate::merge::{Action, Reason};
    use crate::testing::{derived, document, map, scope, stored, template};

    fn planned(key: &str, action: Action) -> crate::merge::QuestionPlan {
        crate::merge::QuestionPlan {
            key: key.into(),
            action,
            hidden: false,
        }
    }

    fn set(value: &str) -> Action {
        Action::Set {
            value: Some(value.into()),
            source: Source::Configured,
        }
    }

    fn ask(default: Option<&str>) -> Action {
        Action::Ask {
            reason: Reason::Unanswered,
            default: default.map(String::from),
        }
    }

    /// The value of `key` in `known`, if any.
    fn value(known: &BTreeMap<String, KnownAnswer>, key: &str) -> Option<String> {
        known.get(key).map(|k| k.value.clone())
    }

    #[test]
    fn values_after_a_run_come_from_answers_then_the_plan_then_the_store() {
        let mut note = template("x/note", Source::User);
        note.question_type = QuestionType::Note;
        let doc = document(vec![
            template("x/kept", Source::User),
            template("x/set", Source::Configured),
            template("x/asked", Source::User),
            template("x/none", Source::User),
            derived("x/derived", "1"),
            note,
        ]);
        let stored = map(&[
            ("x/kept", stored("old", Source::User, true)),
            ("x/set", stored("before", Source::Configured, true)),
            ("x/derived", stored("d", Source::Derived, true)),
            ("other/q", stored("of another document", Source::User, true)),
        ]);
        let plan = [
            planned("x/kept", Action::Keep),
            planned("x/set", set("new")),
            planned("x/asked", ask(Some("default"))),
            planned("x/none", ask(None)),
            planned("x/derived", Action::Keep),
            planned("x/note", ask(None)),
        ];
        for (answers, key, expected) in [
            (vec![], "x/kept", Some("old")),
            (vec![], "x/set", Some("new")),
            (vec![], "x/asked", Some("default")),
            (vec![("x/asked", "typed")], "x/asked", Some("typed")),
            (vec![], "x/none", None),
            (vec![("x/none", "typed")], "x/none", Some("typed")),
            // Derived values are computed, never read back from the store.
            (vec![], "x/derived", None),
            (vec![], "x/note", None),
            (vec![], "other/q", Some("of another document")),
        ] {
            let answers: BTreeMap<String, String> = answers
                .iter()
                .map(|(k, v): &(&str, &str)| (k.to_string(), v.to_string()))
                .collect();
            let provisional = plan.iter().map(|p| {
                let value = crate::merge::provisional_value(p, stored.get(&p.key));
                (p.key.as_str(), value)
            });
            let known = values_after(&doc, provisional, &stored, &answers);
            assert_eq!(
                value(&known, key).as_deref(),
                expected,
                "{key} with {answers:?}"
            );
        }
    }

    fn known(pairs: &[(&str, &str)]) -> BTreeMap<String, KnownAnswer> {
        pairs
            .iter()
            .map(|(key, value)| {
                let answer = KnownAnswer {
                    question_type: QuestionType::String,
                    secret: false,
                    value: value.to_string(),
                };
                (key.to_string(), answer)
            })
            .collect()
    }

    #[test]
    fn derived_values_are_computed_from_what_is_known_or_wait_for_an_answer() {
        let doc = document(vec![
            template("x/dir", Source::Configured),
            template("x/file", Source::User),
            derived("x/path", r#"answers["x/dir"] ~ "/" ~ answers["x/file"]"#),
            derived("x/upper", r#"answers["x/dir"] | upper"#),
        ]);
        let all = Owned::all();
        for (known_values, path, pending) in [
            (
                vec![("x/dir", "/etc"), ("x/file", "a")],
                Some("/etc/a"),
                None,
            ),
            // x/file has no answer yet: x/path waits for it.
            (vec![("x/dir", "/etc")], None, Some("x/file")),
        ] {
            let derived = compute(&doc, &all, &known(&known_values), &scope()).expect("computed");
            assert_eq!(derived.values.get("x/path").map(String::as_str), path);
            assert_eq!(
                derived.values.get("x/upper").map(String::as_str),
                Some("/ETC")
            );
            assert_eq!(
                derived.pending.get("x/path").map(String::as_str),
                pending,
                "{known_values:?}"
            );
        }
    }

    #[test]
    fn only_the_packages_derived_questions_are_computed() {
        let doc = document(vec![
            template("x/dir", Source::Configured),
            derived("x/mine", r#"answers["x/dir"]"#),
            derived("x/theirs", r#"answers["x/missing"]"#),
        ]);
        let owned = crate::questions::close(
            &doc,
            crate::questions::Reads::Keys(["x/mine".to_string()].into()),
        );
        let derived = compute(&doc, &owned, &known(&[("x/dir", "/etc")]), &scope()).expect("ok");
        assert_eq!(derived.values, map(&[("x/mine", "/etc".to_string())]));
    }

    #[test]
    fn a_value_computed_from_a_secret_is_a_secret_and_a_misfit_names_its_line() {
        let mut password = template("x/password", Source::User);
        password.question_type = QuestionType::Password;
        let mut port = derived("x/port", r#""not a number""#);
        port.question_type = QuestionType::Select;
        port.choices = vec!["80".into(), "443".into()];
        let doc = document(vec![
            password,
            derived("x/url", r#""db://u:" ~ answers["x/password"]"#),
            port,
        ]);
        let mut secret = known(&[("x/password", "hunter2")]);
        if let Some(answer) = secret.get_mut("x/password") {
            answer.secret = true;
        }
        let owned = crate::questions::close(
            &doc,
            crate::questions::Reads::Keys(["x/url".to_string()].into()),
        );
        let derived = compute(&doc, &owned, &secret, &scope()).expect("computed");
        assert!(derived.secret.contains("x/url"), "{derived:?}");

        let error = compute(&doc, &Owned::all(), &secret, &scope()).expect_err("misfit");
        let message = error.to_string();
        assert!(message.contains("test.xml:3: x/port"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn a_value_over_the_limit_names_its_question() {
        let values = map(&[("x/a", "1234".to_string()), ("x/b", "12345".to_string())]);
        assert!(check_sizes(&values, 5).is_ok());
        let error = check_sizes(&values, 4).expect_err("too large");
        assert!(error.to_string().contains("x/b"), "{error}");
    }
}
