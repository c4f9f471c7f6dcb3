//! The merge engine: the document's values and the stored answers become a
//! plan saying, per question, what is set silently and what is asked, and
//! why. Pure: no I/O, table-tested below.
//!
//! The rules (seed 003):
//! - configured (and derived) templates: the document's value overwrites a
//!   stored configured/default/derived value; a stored *user* value that
//!   differs is a conflict, asked with the user's value as default; a stored
//!   user value equal to the document's drops the user flag.
//! - user templates: asked when there is no seen answer; the document's
//!   value (or the template default) is the default.
//! - `force`: everything is asked, defaults = the current values.
//! - priority: a question below the threshold that has a usable default is
//!   not shown; its default is taken.

pub mod outcome;
pub mod plan;

use std::collections::BTreeSet;

use crate::env::model::{Priority, Source, Template};
use crate::store::{Conflict, StoredAnswer};

/// Why a question is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The document says `document`, the user entered `user` earlier.
    Conflict { document: String, user: String },
    /// `--force-questions`.
    Forced,
    /// No value anywhere (or a user question never answered).
    Unanswered,
    /// A stored value nobody has confirmed yet (preseeded with seen=false),
    /// or a note not shown yet.
    NotSeen,
}

impl Reason {
    pub fn describe(&self) -> String {
        match self {
            Reason::Conflict { .. } => {
                "conflict: the document and your earlier answer differ".into()
            }
            Reason::Forced => "forced".into(),
            Reason::Unanswered => "needs an answer".into(),
            Reason::NotSeen => "not confirmed yet".into(),
        }
    }
}

/// What happens to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The stored answer stays exactly as it is.
    Keep,
    /// Set silently.
    Set {
        value: Option<String>,
        source: Source,
    },
    /// Ask; `default` is what a noninteractive run (or Enter) takes.
    Ask {
        reason: Reason,
        default: Option<String>,
    },
}

/// One question of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionPlan {
    pub key: String,
    pub action: Action,
    /// Asked in principle, but below the priority threshold with a usable
    /// default: taken silently.
    pub hidden: bool,
}

impl QuestionPlan {
    /// Whether a frontend must show this question.
    pub fn shown(&self) -> bool {
        matches!(self.action, Action::Ask { .. }) && !self.hidden
    }
}

/// Settings that shape the plan.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub force: bool,
    pub priority: Priority,
}

/// Decides one question. `document` is the document's value for the
/// selected machine (or the computed value of a derived question).
pub fn decide(
    template: &Template,
    document: Option<&str>,
    stored: Option<&StoredAnswer>,
    settings: Settings,
) -> QuestionPlan {
    let action = decide_action(template, document, stored, settings.force);
    let hidden = match &action {
        Action::Ask { reason, default } => {
            template.priority < settings.priority
                && reason != &Reason::Forced
                && (default.is_some() || template.question_type.is_display_only())
        }
        _ => false,
    };
    QuestionPlan {
        key: template.key.clone(),
        action,
        hidden,
    }
}

fn decide_action(
    template: &Template,
    document: Option<&str>,
    stored: Option<&StoredAnswer>,
    force: bool,
) -> Action {
    let stored_value = stored.and_then(|s| s.value.as_deref());
    if template.question_type.is_display_only() {
        return if force {
            Action::Ask {
                reason: Reason::Forced,
                default: None,
            }
        } else if stored.is_some_and(|s| s.seen) {
            Action::Keep
        } else {
            Action::Ask {
                reason: Reason::NotSeen,
                default: None,
            }
        };
    }
    let unforced = match template.source {
        Source::User => match stored {
            Some(answer) if answer.value.is_some() && answer.seen => Action::Keep,
            // Vouched for by an external tool: the document's value is the
            // answer, unless a different one waits to be confirmed.
            _ if template.vouched
                && document.is_some()
                && stored.is_none_or(|s| s.value.is_none() || s.value.as_deref() == document) =>
            {
                Action::Set {
                    value: document.map(str::to_string),
                    source: Source::Configured,
                }
            }
            Some(answer) if answer.value.is_some() => Action::Ask {
                reason: Reason::NotSeen,
                default: answer.value.clone(),
            },
            _ => Action::Ask {
                reason: Reason::Unanswered,
                default: document
                    .map(str::to_string)
                    .or_else(|| template.default.clone()),
            },
        },
        Source::Configured | Source::Derived | Source::Default => {
            let document_source = if template.source == Source::Derived {
                Source::Derived
            } else {
                Source::Configured
            };
            match (document, stored) {
                (Some(doc), Some(answer)) if answer.source == Source::User => {
                    if stored_value == Some(doc) {
                        Action::Set {
                            value: Some(doc.to_string()),
                            source: document_source,
                        }
                    } else {
                        Action::Ask {
                            reason: Reason::Conflict {
                                document: doc.to_string(),
                                user: stored_value.unwrap_or_default().to_string(),
                            },
                            default: answer.value.clone(),
                        }
                    }
                }
                (Some(doc), Some(answer))
                    if stored_value == Some(doc) && answer.source == document_source =>
                {
                    Action::Keep
                }
                (Some(doc), _) => Action::Set {
                    value: Some(doc.to_string()),
                    source: document_source,
                },
                // The document gives no value.
                (None, Some(answer)) if answer.source == Source::User => Action::Keep,
                (None, stored) => match (&template.default, stored) {
                    (Some(default), Some(answer))
                        if stored_value == Some(default.as_str())
                            && answer.source == Source::Default =>
                    {
                        Action::Keep
                    }
                    (Some(default), _) => Action::Set {
                        value: Some(default.clone()),
                        source: Source::Default,
                    },
                    (None, Some(answer)) if answer.value.is_some() => Action::Keep,
                    (None, _) => Action::Ask {
                        reason: Reason::Unanswered,
                        default: None,
                    },
                },
            }
        }
    };
    if !force {
        return unforced;
    }
    let current = match &unforced {
        Action::Keep => stored.and_then(|s| s.value.clone()),
        Action::Set { value, .. } => value.clone(),
        Action::Ask { default, .. } => default.clone(),
    };
    Action::Ask {
        reason: match unforced {
            Action::Ask {
                reason: reason @ Reason::Conflict { .. },
                ..
            } => reason,
            _ => Reason::Forced,
        },
        default: current,
    }
}

/// How a conflict is decided without a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `--take-document`: the document's value replaces the user's.
    TakeDocument,
    /// `--keep-mine`: the user's value stays, and is not warned about
    /// again while the document's value stays the same.
    KeepMine,
}

/// The `--take-document`/`--keep-mine` flags of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    pub take_document: BTreeSet<String>,
    pub take_document_all: bool,
    pub keep_mine: BTreeSet<String>,
    pub keep_mine_all: bool,
}

impl Decisions {
    /// The decision for `key` (a key named explicitly wins over `--…-all`).
    pub fn for_key(&self, key: &str) -> Option<Decision> {
        if self.take_document.contains(key) {
            Some(Decision::TakeDocument)
        } else if self.keep_mine.contains(key) {
            Some(Decision::KeepMine)
        } else if self.take_document_all {
            Some(Decision::TakeDocument)
        } else if self.keep_mine_all {
            Some(Decision::KeepMine)
        } else {
            None
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &Decisions::default()
    }
}

/// The conflict a planned question is: (document value, stored user value).
pub fn conflict_of(planned: &QuestionPlan) -> Option<(&str, &str)> {
    match &planned.action {
        Action::Ask {
            reason: Reason::Conflict { document, user },
            ..
        } => Some((document, user)),
        _ => None,
    }
}

/// Whether `remembered` is this very conflict, decided by a person.
fn decided(remembered: Option<&Conflict>, document: &str, user: &str) -> bool {
    remembered.is_some_and(|c| c.decided && c.document == document && c.stored == user)
}

/// Applies a decision to a planned conflict: the flag's, else one a person
/// made earlier for the same two values. `--take-document` sets the
/// document's value; keep-mine keeps the stored value without asking
/// (with `force` it is still asked, as everything is). Anything else is
/// returned as it is.
pub fn settle(
    template: &Template,
    planned: QuestionPlan,
    decision: Option<Decision>,
    remembered: Option<&Conflict>,
    force: bool,
) -> QuestionPlan {
    let Some((document, user)) = conflict_of(&planned) else {
        return planned;
    };
    let action = match decision {
        Some(Decision::TakeDocument) => Action::Set {
            value: Some(document.to_string()),
            source: if template.source == Source::Derived {
                Source::Derived
            } else {
                Source::Configured
            },
        },
        Some(Decision::KeepMine) => Action::Keep,
        None if decided(remembered, document, user) => {
            if force {
                Action::Ask {
                    reason: Reason::Forced,
                    default: Some(user.to_string()),
                }
            } else {
                Action::Keep
            }
        }
        None => return planned,
    };
    QuestionPlan {
        key: planned.key,
        action,
        hidden: false,
    }
}

/// What to remember about a question's conflict after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictOutcome {
    /// The record to keep under the key (`None`: no conflict).
    pub record: Option<Conflict>,
    /// Kept without anybody deciding: one warning line.
    pub warn: bool,
}

/// Decides what is remembered about a conflict. `planned` is the plan
/// before [`settle`], `answer` the frontend's answer (a person decided),
/// `decision` the flag's, `remembered` what is stored, `now` the time.
pub fn conflict_outcome(
    planned: &QuestionPlan,
    answer: Option<&str>,
    decision: Option<Decision>,
    remembered: Option<&Conflict>,
    now: &str,
) -> ConflictOutcome {
    let none = ConflictOutcome {
        record: None,
        warn: false,
    };
    let Some((document, user)) = conflict_of(planned) else {
        return none;
    };
    let record = |stored: &str, decided: bool| {
        let same = remembered
            .filter(|c| c.document == document && c.stored == stored && c.decided == decided);
        same.cloned().unwrap_or_else(|| Conflict {
            document: document.to_string(),
            stored: stored.to_string(),
            since: now.to_string(),
            decided,
        })
    };
    match (answer, decision) {
        // A person answered: the document's value ends the conflict; any
        // other value is their decision.
        (Some(answer), _) if answer == document => none,
        (Some(answer), _) => ConflictOutcome {
            record: Some(record(answer, true)),
            warn: false,
        },
        (None, Some(Decision::TakeDocument)) => none,
        (None, Some(Decision::KeepMine)) => ConflictOutcome {
            record: Some(record(user, true)),
            warn: false,
        },
        (None, None) if decided(remembered, document, user) => ConflictOutcome {
            record: remembered.cloned(),
            warn: false,
        },
        (None, None) => ConflictOutcome {
            record: Some(record(user, false)),
            warn: true,
        },
    }
}

/// The value a question will have if nobody answers it (used as the input
/// of derived expressions before the frontend runs, and by noninteractive
/// runs).
pub fn provisional_value(planned: &QuestionPlan, stored: Option<&StoredAnswer>) -> Option<String> {
    match &planned.action {
        Action::Keep => stored.and_then(|s| s.value.clone()),
        Action::Set { value, .. } => value.clone(),
        Action::Ask { default, .. } => default.clone(),
    }
}

/// The record to store for a question after the run. `answer` is what the
/// frontend returned for a shown question (`None` when it was not shown or
/// the frontend kept the default). Returns `None` when nothing changes.
pub fn resolve(
    template: &Template,
    planned: &QuestionPlan,
    document: Option<&str>,
    stored: Option<&StoredAnswer>,
    answer: Option<&str>,
    package: Option<&str>,
) -> Option<StoredAnswer> {
    let base = |value: Option<String>, source: Source, seen: bool| {
        let mut owners = stored.map(|s| s.owners.clone()).unwrap_or_default();
        if let Some(package) = package {
            owners.insert(package.to_string());
        }
        StoredAnswer {
            value,
            source,
            seen,
            owners,
            question_type: template.question_type,
            // Once a secret, always a secret (as `confpack set` does): a
            // value marked `--secret` must not surface in output or hooks
            // because its template says `string`.
            secret: template.question_type.is_secret() || stored.is_some_and(|s| s.secret),
        }
    };
    let next = match (&planned.action, answer) {
        (Action::Ask { .. }, Some(_)) if template.question_type.is_display_only() => {
            base(None, Source::User, true)
        }
        (Action::Ask { .. }, Some(answer)) => {
            // Seed 003: an answer equal to the document's value (without
            // one, the template default) is not a user answer; it hands
            // authority back to the document. Only a value the person
            // changed is theirs.
            base(
                Some(answer.to_string()),
                answer_source(template, document, answer),
                true,
            )
        }
        (Action::Keep, _) => match stored {
            Some(stored) => {
                let mut kept = stored.clone();
                if let Some(package) = package {
                    kept.owners.insert(package.to_string());
                }
                kept.question_type = template.question_type;
                kept.secret |= template.question_type.is_secret();
                kept
            }
            None => return None,
        },
        (Action::Set { value, source }, _) => {
            base(value.clone(), *source, stored.is_some_and(|s| s.seen))
        }
        (Action::Ask { default, .. }, None) => {
            // Not shown (noninteractive, or hidden by priority): the default
            // is taken. When it is what is stored (a conflict defaults to
            // the user's value), the stored answer stays: never lose one.
            match stored {
                Some(kept) if kept.value == *default => {
                    let mut kept = kept.clone();
                    if let Some(package) = package {
                        kept.owners.insert(package.to_string());
                    }
                    kept
                }
                _ => {
                    let source = if template.question_type.is_display_only() {
                        Source::User
                    } else if document.is_some() && default.as_deref() == document {
                        if template.source == Source::Derived {
                            Source::Derived
                        } else {
                            Source::Configured
                        }
                    } else {
                        Source::Default
                    };
                    base(default.clone(), source, false)
                }
            }
        }
    };
    if stored == Some(&next) {
        None
    } else {
        Some(next)
    }
}

/// Whose answer `answer` is: the document's (configured, or derived for a
/// derived question) when it equals the document's value, the template's
/// (default) when there is no document value and it equals the template
/// default, else the person's (user).
pub fn answer_source(template: &Template, document: Option<&str>, answer: &str) -> Source {
    match document {
        Some(document) if document == answer => {
            if template.source == Source::Derived {
                Source::Derived
            } else {
                Source::Configured
            }
        }
        None if template.default.as_deref() == Some(answer) => Source::Default,
        _ => Source::User,
    }
}

/// Whether `next` differs from `stored` in what a run reports as a change:
/// the value or its source (a new record too). A record that only becomes
/// seen, or gains an owner, is stored but is not a changed answer.
pub fn is_change(stored: Option<&StoredAnswer>, next: &StoredAnswer) -> bool {
    stored.is_none_or(|s| s.value != next.value || s.source != next.source)
}

/// The record to store for a value computed from a secret, given what
/// [`resolve`] decided: a secret too, also when nothing else changes (a
/// value stored in clear by an earlier version becomes a secret). `None`
/// when the stored record is already right.
pub fn as_secret(
    next: Option<StoredAnswer>,
    stored: Option<&StoredAnswer>,
) -> Option<StoredAnswer> {
    let mut record = next.or_else(|| stored.cloned())?;
    record.secret = true;
    (stored != Some(&record)).then_some(record)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::env::model::QuestionType;

    fn template(source: Source, default: Option<&str>) -> Template {
        Template {
            key: "pkg/q".into(),
            question_type: QuestionType::String,
            priority: Priority::High,
            source,
            description: "Q".into(),
            extended: String::new(),
            choices: vec![],
            default: default.map(str::to_string),
            expression: None,
            line: 1,
            vouched: false,
            translations: Default::default(),
        }
    }

    use crate::testing::stored;

    const NORMAL: Settings = Settings {
        force: false,
        priority: Priority::High,
    };
    const FORCED: Settings = Settings {
        force: true,
        priority: Priority::Low,
    };

    fn action(t: &Template, doc: Option<&str>, s: Option<&StoredAnswer>) -> Action {
        decide(t, doc, s, NORMAL).action
    }

    #[test]
    fn configured_document_value_is_set_when_nothing_is_stored() {
        let t = template(Source::Configured, None);
        assert_eq!(
            action(&t, Some("a"), None),
            Action::Set {
                value: Some("a".into()),
                source: Source::Configured
            }
        );
    }

    #[test]
    fn configured_document_value_overwrites_a_stored_configured_value() {
        let t = template(Source::Configured, None);
        let s = stored("old", Source::Configured, false);
        assert_eq!(
            action(&t, Some("new"), Some(&s)),
            Action::Set {
                value: Some("new".into()),
                source: Source::Configured
            }
        );
    }

    #[test]
    fn configured_document_value_overwrites_a_stored_default_value() {
        let t = template(Source::Configured, Some("d"));
        let s = stored("d", Source::Default, false);
        assert!(matches!(
            action(&t, Some("new"), Some(&s)),
            Action::Set { .. }
        ));
    }

    #[test]
    fn unchanged_configured_value_is_kept_untouched() {
        let t = template(Source::Configured, None);
        let s = stored("a", Source::Configured, false);
        assert_eq!(action(&t, Some("a"), Some(&s)), Action::Keep);
    }

    #[test]
    fn user_value_different_from_document_is_a_conflict_defaulting_to_the_user_value() {
        let t = template(Source::Configured, None);
        let s = stored("mine", Source::User, true);
        assert_eq!(
            action(&t, Some("doc"), Some(&s)),
            Action::Ask {
                reason: Reason::Conflict {
                    document: "doc".into(),
                    user: "mine".into()
                },
                default: Some("mine".into())
            }
        );
    }

    #[test]
    fn user_value_equal_to_configured_drops_user_flag() {
        let t = template(Source::Configured, None);
        let s = stored("same", Source::User, true);
        let planned = decide(&t, Some("same"), Some(&s), NORMAL);
        assert_eq!(
            planned.action,
            Action::Set {
                value: Some("same".into()),
                source: Source::Configured
            }
        );
        let next = resolve(&t, &planned, Some("same"), Some(&s), None, None).expect("changes");
        assert_eq!(next.source, Source::Configured);
        assert!(next.seen, "the user did see it");
    }

    #[test]
    fn user_template_without_stored_answer_is_asked_with_document_value_as_default() {
        let t = template(Source::User, Some("tdefault"));
        assert_eq!(
            action(&t, Some("docvalue"), None),
            Action::Ask {
                reason: Reason::Unanswered,
                default: Some("docvalue".into())
            }
        );
        assert_eq!(
            action(&t, None, None),
            Action::Ask {
                reason: Reason::Unanswered,
                default: Some("tdefault".into())
            }
        );
    }

    #[test]
    fn user_template_with_a_seen_answer_is_not_asked_again() {
        let t = template(Source::User, None);
        let s = stored("x", Source::User, true);
        assert_eq!(action(&t, Some("doc"), Some(&s)), Action::Keep);
    }

    #[test]
    fn externally_preseeded_seen_value_is_not_asked() {
        let t = template(Source::User, None);
        let s = stored("from-ansible", Source::Configured, true);
        assert_eq!(action(&t, None, Some(&s)), Action::Keep);
    }

    #[test]
    fn a_vouched_document_value_answers_a_user_question_without_asking() {
        let mut t = template(Source::User, None);
        t.vouched = true;
        assert_eq!(
            action(&t, Some("doc"), None),
            Action::Set {
                value: Some("doc".into()),
                source: Source::Configured
            }
        );
        // A different value waiting for confirmation is still asked.
        let s = stored("pre", Source::Configured, false);
        assert!(matches!(
            action(&t, Some("doc"), Some(&s)),
            Action::Ask { .. }
        ));
        // Without a document value there is nothing to vouch for.
        assert!(matches!(action(&t, None, None), Action::Ask { .. }));
    }

    #[test]
    fn preseeded_unseen_value_is_asked_with_it_as_default() {
        let t = template(Source::User, None);
        let s = stored("pre", Source::Configured, false);
        assert_eq!(
            action(&t, None, Some(&s)),
            Action::Ask {
                reason: Reason::NotSeen,
                default: Some("pre".into())
            }
        );
    }

    #[test]
    fn configured_template_without_any_value_must_be_answered() {
        let t = template(Source::Configured, None);
        assert_eq!(
            action(&t, None, None),
            Action::Ask {
                reason: Reason::Unanswered,
                default: None
            }
        );
    }

    #[test]
    fn template_default_is_used_when_the_document_gives_no_value() {
        let t = template(Source::Configured, Some("d"));
        assert_eq!(
            action(&t, None, None),
            Action::Set {
                value: Some("d".into()),
                source: Source::Default
            }
        );
    }

    #[test]
    fn a_user_value_survives_the_document_dropping_its_value() {
        let t = template(Source::Configured, Some("d"));
        let s = stored("mine", Source::User, true);
        assert_eq!(action(&t, None, Some(&s)), Action::Keep);
    }

    #[test]
    fn force_asks_everything_with_current_values_as_defaults() {
        let t = template(Source::Configured, None);
        let s = stored("a", Source::Configured, false);
        assert_eq!(
            decide(&t, Some("a"), Some(&s), FORCED).action,
            Action::Ask {
                reason: Reason::Forced,
                default: Some("a".into())
            }
        );
        let t = template(Source::Configured, None);
        assert_eq!(
            decide(&t, Some("new"), Some(&s), FORCED).action,
            Action::Ask {
                reason: Reason::Forced,
                default: Some("new".into())
            }
        );
    }

    #[test]
    fn force_keeps_the_conflict_reason_visible() {
        let t = template(Source::Configured, None);
        let s = stored("mine", Source::User, true);
        assert!(matches!(
            decide(&t, Some("doc"), Some(&s), FORCED).action,
            Action::Ask {
                reason: Reason::Conflict { .. },
                ..
            }
        ));
    }

    #[test]
    fn the_users_answer_always_wins_and_is_marked_user() {
        let t = template(Source::Configured, None);
        let s = stored("a", Source::Configured, false);
        let planned = decide(&t, Some("a"), Some(&s), FORCED);
        let next = resolve(&t, &planned, Some("a"), Some(&s), Some("b"), None).expect("change");
        assert_eq!(next.value.as_deref(), Some("b"));
        assert_eq!(next.source, Source::User);
        assert!(next.seen);
    }

    #[test]
    fn low_priority_question_with_a_default_is_hidden() {
        let mut t = template(Source::User, Some("d"));
        t.priority = Priority::Low;
        let planned = decide(&t, None, None, NORMAL);
        assert!(planned.hidden);
        assert!(!planned.shown());
        let next = resolve(&t, &planned, None, None, None, None).expect("set");
        assert_eq!(next.value.as_deref(), Some("d"));
        assert_eq!(next.source, Source::Default);
    }

    #[test]
    fn low_priority_question_without_a_usable_value_is_still_shown() {
        let mut t = template(Source::User, None);
        t.priority = Priority::Low;
        assert!(decide(&t, None, None, NORMAL).shown());
    }

    #[test]
    fn a_hidden_conflict_keeps_the_users_value() {
        let mut t = template(Source::Configured, None);
        t.priority = Priority::Low;
        let s = stored("mine", Source::User, true);
        let planned = decide(&t, Some("doc"), Some(&s), NORMAL);
        assert!(planned.hidden);
        assert_eq!(
            resolve(&t, &planned, Some("doc"), Some(&s), None, None),
            None
        );
    }

    #[test]
    fn resolving_an_unchanged_question_changes_nothing() {
        let t = template(Source::Configured, None);
        let s = stored("a", Source::Configured, false);
        let planned = decide(&t, Some("a"), Some(&s), NORMAL);
        assert_eq!(resolve(&t, &planned, Some("a"), Some(&s), None, None), None);
    }

    #[test]
    fn a_value_computed_from_a_secret_is_stored_as_a_secret() {
        let clear = stored("v", Source::Derived, false);
        let mut secret = clear.clone();
        secret.secret = true;
        // (what resolve decided, stored) → stored record
        for (next, before, expected) in [
            (None, Some(&clear), Some(secret.clone())),
            (None, Some(&secret), None),
            (None, None, None),
            (Some(clear.clone()), None, Some(secret.clone())),
            (Some(clear.clone()), Some(&secret), None),
        ] {
            assert_eq!(
                as_secret(next.clone(), before),
                expected,
                "{next:?} {before:?}"
            );
        }
    }

    #[test]
    fn resolving_records_the_owning_package() {
        let t = template(Source::Configured, None);
        let planned = decide(&t, Some("a"), None, NORMAL);
        let next = resolve(&t, &planned, Some("a"), None, None, Some("webshop")).expect("set");
        assert!(next.owners.contains("webshop"));
    }

    #[test]
    fn derived_values_follow_configured_rules_with_derived_source() {
        let t = template(Source::Derived, None);
        let s = stored("old", Source::Derived, false);
        assert_eq!(
            action(&t, Some("new"), Some(&s)),
            Action::Set {
                value: Some("new".into()),
                source: Source::Derived
            }
        );
        let s = stored("override", Source::User, true);
        assert!(matches!(
            action(&t, Some("new"), Some(&s)),
            Action::Ask {
                reason: Reason::Conflict { .. },
                ..
            }
        ));
    }

    /// Presses Enter on a forced question: the frontend returns the
    /// default it showed.
    fn enter(t: &Template, doc: Option<&str>, s: Option<&StoredAnswer>) -> Option<StoredAnswer> {
        let planned = decide(t, doc, s, FORCED);
        let Action::Ask { default, .. } = &planned.action else {
            panic!("forced questions are asked: {planned:?}");
        };
        resolve(t, &planned, doc, s, default.as_deref(), None)
    }

    #[test]
    fn user_value_equal_to_configured_drops_user_flag_when_answered() {
        // The person types exactly the document's value: the document is
        // the authority again.
        let t = template(Source::Configured, Some("d"));
        let s = stored("mine", Source::User, true);
        let planned = decide(&t, Some("doc"), Some(&s), NORMAL);
        let next = resolve(&t, &planned, Some("doc"), Some(&s), Some("doc"), None).expect("set");
        assert_eq!(next.source, Source::Configured);
        assert!(next.seen);
    }

    #[test]
    fn an_answer_equal_to_the_template_default_is_not_a_user_answer() {
        // No document value: the template default is the authority.
        for source in [Source::Configured, Source::User] {
            let t = template(source, Some("d"));
            let planned = decide(&t, None, None, FORCED);
            let next = resolve(&t, &planned, None, None, Some("d"), None).expect("set");
            assert_eq!(next.source, Source::Default, "{source:?}");
            assert!(next.seen);
        }
    }

    #[test]
    fn only_a_value_the_person_changed_is_a_user_answer() {
        // (template default, document, answer) → source
        for (default, doc, answer, expected) in [
            (Some("d"), Some("doc"), "doc", Source::Configured),
            (Some("d"), Some("doc"), "d", Source::User),
            (Some("d"), None, "d", Source::Default),
            (Some("d"), None, "other", Source::User),
            (None, None, "other", Source::User),
        ] {
            let t = template(Source::Configured, default);
            let planned = decide(&t, doc, None, FORCED);
            let next = resolve(&t, &planned, doc, None, Some(answer), None).expect("set");
            assert_eq!(next.source, expected, "{default:?} {doc:?} {answer:?}");
        }
    }

    #[test]
    fn enter_on_every_forced_question_changes_nothing() {
        // Every kind of stored record a first run leaves, already seen.
        let cases: Vec<(Template, Option<&str>, Option<StoredAnswer>)> = vec![
            (
                template(Source::Configured, Some("d")),
                Some("doc"),
                Some(stored("doc", Source::Configured, true)),
            ),
            (
                template(Source::Configured, Some("d")),
                None,
                Some(stored("d", Source::Default, true)),
            ),
            (
                template(Source::User, Some("d")),
                None,
                Some(stored("d", Source::Default, true)),
            ),
            (
                template(Source::User, None),
                None,
                Some(stored("mine", Source::User, true)),
            ),
            (
                template(Source::Derived, None),
                Some("computed"),
                Some(stored("computed", Source::Derived, true)),
            ),
        ];
        for (t, doc, s) in &cases {
            assert_eq!(enter(t, *doc, s.as_ref()), None, "{t:?} {doc:?} {s:?}");
        }
        // Not seen before: only the seen flag changes, which is no change
        // of the answer (value and source stay).
        let t = template(Source::Configured, Some("d"));
        let s = stored("d", Source::Default, false);
        let next = enter(&t, None, Some(&s)).expect("seen now");
        assert!(next.seen);
        assert_eq!(next.source, Source::Default);
        assert!(!is_change(Some(&s), &next));
    }

    #[test]
    fn after_enter_a_new_document_value_is_applied() {
        // Enter on the template default keeps it a default: a value the
        // document gives later overwrites it silently.
        let t = template(Source::Configured, Some("8080"));
        let s = stored("8080", Source::Default, false);
        let after_enter = enter(&t, None, Some(&s)).expect("seen now");
        assert_eq!(
            action(&t, Some("8081"), Some(&after_enter)),
            Action::Set {
                value: Some("8081".into()),
                source: Source::Configured
            }
        );
    }

    #[test]
    fn a_record_that_only_becomes_seen_is_no_change() {
        let s = stored("a", Source::Configured, false);
        let mut seen = s.clone();
        seen.seen = true;
        seen.owners.insert("pkg".into());
        assert!(!is_change(Some(&s), &seen));
        let mut other = s.clone();
        other.source = Source::User;
        assert!(is_change(Some(&s), &other));
        other = s.clone();
        other.value = Some("b".into());
        assert!(is_change(Some(&s), &other));
        assert!(is_change(None, &s));
    }

    fn remembered(document: &str, stored: &str, decided: bool) -> Conflict {
        Conflict {
            document: document.into(),
            stored: stored.into(),
            since: "2020-01-01T00:00:00Z".into(),
            decided,
        }
    }

    #[test]
    fn a_kept_conflict_is_reported_and_remembered() {
        let t = template(Source::Configured, None);
        let s = stored("mine", Source::User, true);
        let planned = decide(&t, Some("doc"), Some(&s), NORMAL);
        let settled = settle(&t, planned.clone(), None, None, false);
        assert_eq!(settled, planned, "still a conflict, kept noninteractively");
        assert_eq!(
            resolve(&t, &settled, Some("doc"), Some(&s), None, None),
            None
        );
        let outcome = conflict_outcome(&planned, None, None, None, "now");
        assert!(outcome.warn);
        assert_eq!(
            outcome.record,
            Some(remembered("doc", "mine", false)).map(|c| Conflict {
                since: "now".into(),
                ..c
            })
        );
        // Kept again later: warned again, remembered since the first time.
        let earlier = remembered("doc", "mine", false);
        let outcome = conflict_outcome(&planned, None, None, Some(&earlier), "later");
        assert!(outcome.warn);
        assert_eq!(outcome.record, Some(earlier));
    }

    #[test]
    fn keep_mine_silences_until_the_document_changes_again() {
        let t = template(Source::Configured, None);
        let s = stored("mine", Source::User, true);
        let planned = decide(&t, Some("doc"), Some(&s), NORMAL);
        // --keep-mine: kept, decided, no warning.
        let settled = settle(&t, planned.clone(), Some(Decision::KeepMine), None, false);
        assert_eq!(settled.action, Action::Keep);
        let outcome = conflict_outcome(&planned, None, Some(Decision::KeepMine), None, "t");
        assert!(!outcome.warn);
        let decided = outcome.record.expect("remembered");
        assert!(decided.decided);
        // Later runs without the flag: silent while the document says "doc".
        let again = settle(&t, planned.clone(), None, Some(&decided), false);
        assert_eq!(again.action, Action::Keep);
        assert!(!conflict_outcome(&planned, None, None, Some(&decided), "t2").warn);
        // The document changes to a third value: a conflict again, warned.
        let third = decide(&t, Some("third"), Some(&s), NORMAL);
        assert_eq!(
            settle(&t, third.clone(), None, Some(&decided), false),
            third
        );
        let outcome = conflict_outcome(&third, None, None, Some(&decided), "t3");
        assert!(outcome.warn);
        assert_eq!(outcome.record.map(|c| c.document), Some("third".into()));
    }

    #[test]
    fn take_document_applies_the_documents_value_and_ends_the_conflict() {
        let t = template(Source::Configured, None);
        let s = stored("mine", Source::User, true);
        let planned = decide(&t, Some("doc"), Some(&s), NORMAL);
        let open = remembered("doc", "mine", false);
        let settled = settle(
            &t,
            planned.clone(),
            Some(Decision::TakeDocument),
            Some(&open),
            false,
        );
        let next = resolve(&t, &settled, Some("doc"), Some(&s), None, None).expect("set");
        assert_eq!(next.value.as_deref(), Some("doc"));
        assert_eq!(next.source, Source::Configured);
        let outcome = conflict_outcome(
            &planned,
            None,
            Some(Decision::TakeDocument),
            Some(&open),
            "t",
        );
        assert_eq!(
            outcome,
            ConflictOutcome {
                record: None,
                warn: false
            }
        );
    }

    #[test]
    fn answering_a_conflict_in_a_frontend_decides_it() {
        let t = template(Source::Configured, None);
        let s = stored("mine", Source::User, true);
        let planned = decide(&t, Some("doc"), Some(&s), NORMAL);
        let open = remembered("doc", "mine", false);
        // (answer) → decided record's stored value, or none
        for (answer, expected) in [("doc", None), ("mine", Some("mine")), ("new", Some("new"))] {
            let outcome = conflict_outcome(&planned, Some(answer), None, Some(&open), "t");
            assert!(!outcome.warn, "{answer}");
            assert_eq!(
                outcome.record.as_ref().map(|c| c.stored.as_str()),
                expected,
                "{answer}"
            );
            assert!(outcome.record.is_none_or(|c| c.decided));
        }
    }

    #[test]
    fn no_conflict_means_nothing_is_remembered() {
        let t = template(Source::Configured, None);
        let s = stored("doc", Source::User, true);
        let planned = decide(&t, Some("doc"), Some(&s), NORMAL);
        let stale = remembered("old", "doc", false);
        assert_eq!(
            conflict_outcome(&planned, None, None, Some(&stale), "t").record,
            None
        );
    }

    #[test]
    fn decisions_name_keys_before_all() {
        let decisions = Decisions {
            take_document: ["a/x".to_string()].into(),
            keep_mine_all: true,
            ..Decisions::default()
        };
        assert_eq!(decisions.for_key("a/x"), Some(Decision::TakeDocument));
        assert_eq!(decisions.for_key("a/y"), Some(Decision::KeepMine));
        assert_eq!(Decisions::default().for_key("a/x"), None);
        assert!(Decisions::default().is_empty());
    }

    #[test]
    fn an_unseen_note_is_shown_once() {
        let mut t = template(Source::User, None);
        t.question_type = QuestionType::Note;
        assert!(decide(&t, None, None, NORMAL).shown());
        let mut s = stored("", Source::User, true);
        s.value = None;
        assert_eq!(action(&t, None, Some(&s)), Action::Keep);
    }
}
