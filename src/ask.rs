//! Asking: the plan's shown questions become prompts, the frontend asks
//! them with the database closed (a person may take minutes; every other
//! confpack needs the lock meanwhile), and the answers are checked against
//! their questions before anything is stored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::env::model::{Document, QuestionType};
use crate::error::{Error, Result};
use crate::frontend::{Context, Frontend, Prompt};
use crate::merge::Action;
use crate::merge::plan::Plan;
use crate::store::{Store, StoredAnswer};
use crate::{Listener, derive};

/// How long a run whose questions were answered waits for the database.
const ANSWERED_LOCK_WAIT: Duration = Duration::from_secs(60);

/// The prompts of the plan's shown questions, in its order.
pub fn prompts(plan: &Plan, document: &Document) -> Vec<Prompt> {
    plan.shown()
        .filter_map(|p| {
            let mut template = document.template(&p.key)?.clone();
            let secret = plan.is_secret(&p.key);
            // A secret string (set with --secret, or computed from a
            // secret) is asked like a password: never shown, typed
            // hidden, empty keeps it.
            if secret && template.question_type == QuestionType::String {
                template.question_type = QuestionType::Password;
            }
            match &p.action {
                Action::Ask { reason, default } => Some(Prompt {
                    template,
                    default: default.clone(),
                    reason: reason.clone(),
                    secret,
                    labels: Vec::new(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// What asking gave.
pub struct Asked {
    /// The database, open again.
    pub store: Store,
    pub answers: BTreeMap<String, String>,
    /// What is stored now, when another run committed while the person
    /// answered (`None`: unchanged).
    pub stored_now: Option<BTreeMap<String, StoredAnswer>>,
    /// Keys whose stored answers another run changed meanwhile: those keep
    /// the other run's value unless the person answered them.
    pub changed_meanwhile: BTreeSet<String>,
}

impl Asked {
    /// Nothing to ask: the database stays open.
    pub fn nothing(store: Store) -> Asked {
        Asked {
            store,
            answers: BTreeMap::new(),
            stored_now: None,
            changed_meanwhile: BTreeSet::new(),
        }
    }
}

/// Asks with the database closed, then reopens it (waiting up to
/// `lock_timeout`, at least a minute: the person's answers are not thrown
/// away lightly) and, when another run committed in between, says what is
/// stored now and what changed against `stored`.
pub fn ask_unlocked(
    (db, lock_timeout): (&Path, Duration),
    store: Store,
    stored: &BTreeMap<String, StoredAnswer>,
    frontend: &mut dyn Frontend,
    (context, prompts): (&Context, &[Prompt]),
    listener: &mut dyn Listener,
) -> Result<Asked> {
    let generation = crate::store::generation(db);
    drop(store);
    let answers = frontend.ask(context, prompts)?;
    let store = Store::open(db, lock_timeout.max(ANSWERED_LOCK_WAIT))?;
    if crate::store::generation(db) == generation {
        return Ok(Asked {
            answers,
            ..Asked::nothing(store)
        });
    }
    let now = store.answers()?;
    let changed: BTreeSet<String> = stored
        .keys()
        .chain(now.keys())
        .filter(|key| stored.get(*key) != now.get(*key))
        .cloned()
        .collect();
    if !changed.is_empty() {
        listener.info(&format!(
            "another confpack changed {} stored answer(s) meanwhile; merged: your answers \
             win, the other values are kept",
            changed.len()
        ));
    }
    Ok(Asked {
        store,
        answers,
        stored_now: Some(now),
        changed_meanwhile: changed,
    })
}

/// Every answer must belong to the document, fit its question and its
/// size limit; a secret's value is never quoted.
pub fn check_answers(
    document: &Document,
    plan: &Plan,
    answers: &BTreeMap<String, String>,
    max_value_bytes: usize,
) -> Result<()> {
    for (key, value) in answers {
        let template = document.template(key).ok_or_else(|| Error::Question {
            key: key.clone(),
            message: "answered by the frontend but not part of the document".into(),
        })?;
        if template.question_type.is_display_only() {
            continue;
        }
        template
            .question_type
            .check(value, &template.choices)
            .map_err(|message| Error::Question {
                key: key.clone(),
                message: match plan.is_secret(key) {
                    true => "the answer does not fit the question (a secret: not shown)".into(),
                    false => message,
                },
            })?;
    }
    derive::values::check_sizes(answers, max_value_bytes)
}
