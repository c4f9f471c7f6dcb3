//! Frontends: how questions reach a person (or don't).
//!
//! A frontend gets the questions the merge plan wants shown, each with its
//! template, default and reason, and returns the answers. It never writes
//! anything: the caller commits all answers as one batch afterwards, so a
//! cancelled or failed frontend leaves the store untouched.

pub mod noninteractive;
pub(crate) use crate::process::signals;
pub mod strings;
pub mod terminal;
pub mod text;
pub mod tui;
pub mod wrap;

use std::collections::BTreeMap;

use crate::Listener;
use crate::env::model::{QuestionType, Template, join_multiselect, split_multiselect};
use crate::error::{Error, Result};
use crate::merge::Reason;
use crate::output::MASK;
use crate::render::{EditChoice, LocalEdit};

/// One question to show.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub template: Template,
    pub default: Option<String>,
    pub reason: Reason,
    /// The value is a secret though its type is not a password: stored
    /// as one, or computed from one (a boolean or choice derived from a
    /// password). Masked wherever it is shown.
    pub secret: bool,
    /// What each choice is shown as (a translation), in the order of the
    /// template's choices; empty: the choices themselves. The answer is
    /// always the choice, never its label.
    pub labels: Vec<String>,
}

impl Prompt {
    /// The question as someone reading `languages` sees it (see
    /// [`Template::shown`]): description and extended text translated,
    /// choices labelled. Values stay the untranslated choices.
    pub fn in_languages(&self, languages: &[String]) -> Prompt {
        let shown = self.template.shown(languages);
        let mut template = self.template.clone();
        template.description = shown.description.to_string();
        template.extended = shown.extended.to_string();
        let labels = shown.labels.iter().map(|l| l.to_string()).collect();
        Prompt {
            template,
            labels,
            ..self.clone()
        }
    }

    /// The label of each choice, in order.
    pub fn choice_labels(&self) -> &[String] {
        if self.labels.len() == self.template.choices.len() {
            &self.labels
        } else {
            &self.template.choices
        }
    }

    /// What a choice is shown as.
    pub fn choice_label<'a>(&'a self, choice: &'a str) -> &'a str {
        self.template
            .choices
            .iter()
            .position(|c| c == choice)
            .and_then(|i| self.choice_labels().get(i))
            .map_or(choice, String::as_str)
    }

    /// Whether the value must never be shown.
    pub fn is_secret(&self) -> bool {
        self.secret || self.template.question_type.is_secret()
    }

    /// Whether this question shows text and takes no answer.
    pub fn is_display_only(&self) -> bool {
        self.template.question_type.is_display_only()
    }

    /// Checks an answer a person gave: the type's own rules, and for a
    /// free-text question without a default, that something was typed (the
    /// same questions the noninteractive frontend reports as unanswered).
    pub fn check(&self, value: &str) -> std::result::Result<(), String> {
        let question_type = self.template.question_type;
        if question_type.is_display_only() {
            return Ok(());
        }
        if value.is_empty()
            && self.default.is_none()
            && matches!(question_type, QuestionType::String | QuestionType::Password)
        {
            return Err(strings::ANSWER_REQUIRED.to_string());
        }
        question_type.check(value, &self.template.choices)
    }

    /// How a value is shown to a person: secrets masked, nothing marked.
    pub fn shown(&self, value: &str) -> String {
        if self.is_secret() {
            MASK.to_string()
        } else if value.is_empty() {
            match self.template.question_type {
                QuestionType::Multiselect => strings::REVIEW_NONE_SELECTED.to_string(),
                _ => strings::REVIEW_EMPTY_VALUE.to_string(),
            }
        } else if self.template.question_type == QuestionType::Boolean {
            match value {
                "true" => strings::YES.to_string(),
                "false" => strings::NO.to_string(),
                other => other.to_string(),
            }
        } else if self.template.question_type == QuestionType::Select {
            self.choice_label(value).to_string()
        } else if self.template.question_type == QuestionType::Multiselect {
            join_multiselect(
                &split_multiselect(value)
                    .iter()
                    .map(|item| self.choice_label(item).to_string())
                    .collect::<Vec<_>>(),
            )
        } else {
            value.to_string()
        }
    }

    /// What a choice of a select is, for a conflict or a forced question:
    /// the document's, the user's earlier one, the current one.
    pub fn choice_note(&self, choice: &str) -> Option<&'static str> {
        if self.template.question_type != QuestionType::Select {
            return None;
        }
        match &self.reason {
            Reason::Conflict { document, .. } if document == choice => Some(strings::NOTE_DOCUMENT),
            Reason::Conflict { user, .. } if user == choice => Some(strings::NOTE_YOURS),
            Reason::Forced if self.default.as_deref() == Some(choice) => {
                Some(strings::NOTE_CURRENT)
            }
            _ => None,
        }
    }
}

/// Whether the questions on screen are still wanted: debconf's questions
/// are not once the apt run that asked them has died or debconf has
/// closed its connection, and a person answering them would answer
/// nobody while the run's dpkg waits.
#[derive(Clone)]
pub struct Abandoned(std::sync::Arc<dyn Fn() -> Option<String> + Send + Sync>);

impl Abandoned {
    /// `check` says why the questions are no longer wanted, if they are not.
    pub fn new(check: impl Fn() -> Option<String> + Send + Sync + 'static) -> Abandoned {
        Abandoned(std::sync::Arc::new(check))
    }

    /// Why the questions are no longer wanted; `None` while they are.
    pub fn reason(&self) -> Option<String> {
        (self.0)()
    }
}

impl std::fmt::Debug for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Abandoned(..)")
    }
}

/// What the frontend knows about the run, for its header.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub package: Option<String>,
    pub environment: String,
    pub machine: Option<String>,
    /// The caller has an earlier step (debconf's `CAPB backup`): going
    /// back from the first question returns [`Error::Back`].
    pub back: bool,
    /// The title the asking program set (debconf's `TITLE`, e.g.
    /// "Configuring postfix"), shown in the header instead of the package.
    pub title: Option<String>,
}

/// A way of asking questions.
pub trait Frontend {
    /// Short name for messages (`noninteractive`, `text`, `tui`).
    fn name(&self) -> &'static str;

    /// Whether a person may be asked: false for the frontend that only
    /// takes defaults. Callers ask this instead of comparing names.
    fn is_interactive(&self) -> bool {
        true
    }

    /// Asks `prompts` and returns the answers by key. A question missing
    /// from the result keeps its default. Display-only questions (notes)
    /// are answered with an empty string once shown.
    fn ask(&mut self, context: &Context, prompts: &[Prompt]) -> Result<BTreeMap<String, String>>;

    /// Asks like [`Frontend::ask`], but gives up with [`Error::Ended`] as
    /// soon as `abandoned` says that whoever asked has gone. A frontend
    /// that cannot look while it waits asks as usual.
    fn ask_unless(
        &mut self,
        context: &Context,
        prompts: &[Prompt],
        abandoned: &Abandoned,
    ) -> Result<BTreeMap<String, String>> {
        let _ = abandoned;
        self.ask(context, prompts)
    }

    /// Asks whether a rendered file a person edited is kept or replaced;
    /// `None` when nobody can be asked (the new rendering replaces it, the
    /// person's version saved beside it).
    fn local_edit(&mut self, _edit: &LocalEdit) -> Result<Option<EditChoice>> {
        Ok(None)
    }
}

/// Who chose the frontend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// `--frontend`.
    Flag,
    /// `DEBIAN_FRONTEND`.
    Environment,
    /// Nobody: a terminal was found.
    Default,
}

/// The frontend a run asks for and who asked, resolved from `--frontend`
/// and `DEBIAN_FRONTEND` before any terminal is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// `None`: nobody asked; a terminal decides (tui, else noninteractive).
    pub kind: Option<Kind>,
    pub chosen: Chosen,
    /// Said when the frontend is opened: a `DEBIAN_FRONTEND` confpack does
    /// not know (another program's name) is not an error.
    pub warning: Option<String>,
    /// The languages questions are shown in, most wanted first (see
    /// [`crate::settings::languages`]); empty: untranslated.
    pub languages: Vec<String>,
}

impl Choice {
    /// `--frontend` wins over `DEBIAN_FRONTEND` (an empty one counts as
    /// unset). An unknown `--frontend` is a usage error; an unknown
    /// `DEBIAN_FRONTEND` means noninteractive, with a warning.
    pub fn resolve(flag: Option<&str>, from_environment: Option<&str>) -> Result<Choice> {
        let from_environment = from_environment.filter(|name| !name.is_empty());
        match (flag, from_environment) {
            (Some(name), _) => match Kind::parse(name) {
                Some(kind) => Ok(Choice::of(kind, Chosen::Flag)),
                None => Err(Error::Usage(format!(
                    "unknown frontend {name}; use noninteractive, text or tui"
                ))),
            },
            (None, Some(name)) => Ok(match Kind::parse(name) {
                Some(kind) => Choice::of(kind, Chosen::Environment),
                None => Choice {
                    warning: Some(format!(
                        "DEBIAN_FRONTEND={name} is not known to confpack; using noninteractive"
                    )),
                    ..Choice::of(Kind::Noninteractive, Chosen::Environment)
                },
            }),
            (None, None) => Ok(Choice {
                kind: None,
                chosen: Chosen::Default,
                warning: None,
                languages: Vec::new(),
            }),
        }
    }

    /// Noninteractive whatever was asked (`--dry-run` asks nobody).
    pub fn noninteractive() -> Choice {
        Choice::of(Kind::Noninteractive, Chosen::Flag)
    }

    fn of(kind: Kind, chosen: Chosen) -> Choice {
        Choice {
            kind: Some(kind),
            chosen,
            warning: None,
            languages: Vec::new(),
        }
    }
}

/// Opens the frontend `choice` names; when nobody chose, the TUI if there
/// is a terminal (without one, noninteractive is the default, not a
/// fallback).
pub fn choose(choice: &Choice, listener: &mut dyn Listener) -> Box<dyn Frontend> {
    if let Some(warning) = &choice.warning {
        listener.warning(warning);
    }
    let kind = match choice.kind {
        Some(kind) => kind,
        None if terminal::Device::find().is_ok() => Kind::Tui,
        None => Kind::Noninteractive,
    };
    open(kind, choice.chosen, &choice.languages, listener)
}

/// What a terminal allows, as far as choosing a frontend goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitness {
    pub tui: std::result::Result<(), terminal::Unfit>,
    pub text: std::result::Result<(), String>,
}

impl Fitness {
    fn of(device: &terminal::Device) -> Fitness {
        Fitness {
            tui: device.fit_for_tui(),
            text: device.fit_for_text(),
        }
    }
}

/// What opening a frontend comes to, before anything is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// With the reason, when another frontend was wanted.
    Noninteractive(Option<String>),
    Tui,
    /// On the terminal; `instead_of_tui` says why the TUI could not.
    Text {
        instead_of_tui: Option<String>,
    },
    /// `--frontend text` without a terminal: answers come from stdin (a
    /// script or a file), prompts go to stdout.
    TextOnStdio,
}

/// Decides where a frontend of `kind` can run, given the terminal found
/// (or why none was): tui → text → noninteractive. Pure, so every
/// fallback is table-tested.
pub fn decide(
    kind: Kind,
    chosen: Chosen,
    terminal: std::result::Result<&Fitness, &str>,
) -> Opening {
    let noninteractive = |reason: &str| Opening::Noninteractive(Some(reason.to_string()));
    match (kind, terminal) {
        (Kind::Noninteractive, _) => Opening::Noninteractive(None),
        (Kind::Tui, Ok(fitness)) => match &fitness.tui {
            Ok(()) => Opening::Tui,
            Err(terminal::Unfit::ForText(reason)) => Opening::Text {
                instead_of_tui: Some(reason.clone()),
            },
            Err(terminal::Unfit::NotAtAll(reason)) => noninteractive(reason),
        },
        (Kind::Text, Ok(fitness)) => match &fitness.text {
            Ok(()) => Opening::Text {
                instead_of_tui: None,
            },
            Err(reason) => noninteractive(reason),
        },
        (Kind::Text, Err(_)) if chosen == Chosen::Flag => Opening::TextOnStdio,
        (_, Err(reason)) => noninteractive(reason),
    }
}

/// Opens a frontend of `kind` on the person's terminal. When it cannot
/// work there it falls back (tui → text → noninteractive) and says so in
/// one line: a warning when the user chose `kind`, information when it
/// was only the default. Never blocks: a missing terminal, or one this
/// process does not own (a background job), means noninteractive.
pub fn open(
    kind: Kind,
    chosen: Chosen,
    languages: &[String],
    listener: &mut dyn Listener,
) -> Box<dyn Frontend> {
    let mut say = |message: String| {
        if chosen != Chosen::Default {
            listener.warning(&message);
        } else {
            listener.info(&message);
        }
    };
    if kind == Kind::Noninteractive {
        return Box::new(noninteractive::Noninteractive);
    }
    let device = terminal::Device::find();
    let fitness = device.as_ref().map(Fitness::of);
    let opening = decide(
        kind,
        chosen,
        fitness.as_ref().map_err(|reason| reason.as_str()),
    );
    let noninteractive = |reason: &str, say: &mut dyn FnMut(String)| -> Box<dyn Frontend> {
        say(strings::fallback(reason, "noninteractive"));
        Box::new(noninteractive::Noninteractive)
    };
    match (opening, device) {
        (Opening::Noninteractive(None), _) => Box::new(noninteractive::Noninteractive),
        (Opening::Noninteractive(Some(reason)), _) => noninteractive(&reason, &mut say),
        (Opening::TextOnStdio, _) => Box::new(text::Text::on_stdio().in_languages(languages)),
        (Opening::Tui, Ok(device)) => Box::new(tui::Tui::new(device).in_languages(languages)),
        (Opening::Text { instead_of_tui }, Ok(device)) => {
            let text = text::Text::on_terminal(&device).map(|t| t.in_languages(languages));
            match (text, instead_of_tui) {
                (Ok(text), Some(reason)) => {
                    say(strings::fallback(&reason, "text"));
                    Box::new(text)
                }
                (Ok(text), None) => Box::new(text),
                (Err(e), Some(reason)) => noninteractive(&format!("{reason}; {e}"), &mut say),
                (Err(e), None) => noninteractive(&e.to_string(), &mut say),
            }
        }
        // `decide` opens on a terminal only when one was found.
        (Opening::Tui | Opening::Text { .. }, Err(reason)) => noninteractive(&reason, &mut say),
    }
}

/// Which frontend the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Noninteractive,
    Text,
    Tui,
}

impl Kind {
    /// Parses `--frontend` or `DEBIAN_FRONTEND` values (debconf's names are
    /// accepted: dialog/whiptail/gnome/kde → tui, readline/teletype/editor →
    /// text).
    pub fn parse(name: &str) -> Option<Kind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "noninteractive" | "non-interactive" | "none" => Some(Kind::Noninteractive),
            "text" | "readline" | "teletype" | "editor" => Some(Kind::Text),
            "tui" | "dialog" | "whiptail" | "gnome" | "kde" | "gtk" => Some(Kind::Tui),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::terminal::{Unfit, fit_for_tui_by};
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment() {
        let choice = Choice::resolve(Some("tui"), Some("noninteractive")).expect("known");
        assert_eq!(choice.kind, Some(Kind::Tui));
        assert_eq!(choice.chosen, Chosen::Flag);
        assert_eq!(choice.warning, None);
    }

    #[test]
    fn choices_from_flag_and_environment() {
        type Row = (
            Option<&'static str>,
            Option<&'static str>,
            Option<Kind>,
            Chosen,
        );
        let cases: &[Row] = &[
            (
                None,
                Some("noninteractive"),
                Some(Kind::Noninteractive),
                Chosen::Environment,
            ),
            (None, Some("dialog"), Some(Kind::Tui), Chosen::Environment),
            (
                None,
                Some("readline"),
                Some(Kind::Text),
                Chosen::Environment,
            ),
            (Some("text"), None, Some(Kind::Text), Chosen::Flag),
            (
                Some("noninteractive"),
                Some("dialog"),
                Some(Kind::Noninteractive),
                Chosen::Flag,
            ),
            (None, Some(""), None, Chosen::Default),
            (None, None, None, Chosen::Default),
        ];
        for &(flag, environment, kind, chosen) in cases {
            let choice = Choice::resolve(flag, environment).expect("known");
            assert_eq!(
                (choice.kind, choice.chosen),
                (kind, chosen),
                "{flag:?} {environment:?}"
            );
        }
    }

    #[test]
    fn an_unknown_flag_is_a_usage_error_but_an_unknown_environment_only_warns() {
        assert!(matches!(
            Choice::resolve(Some("gtk3"), None),
            Err(Error::Usage(message)) if message.contains("unknown frontend gtk3")
        ));
        let choice = Choice::resolve(None, Some("gtk3")).expect("a warning, not an error");
        assert_eq!(choice.kind, Some(Kind::Noninteractive));
        assert_eq!(
            choice.warning.as_deref(),
            Some("DEBIAN_FRONTEND=gtk3 is not known to confpack; using noninteractive")
        );
    }

    /// A terminal in the foreground judged by its size, TERM=xterm.
    fn sized(name: &str, reported: (u16, u16)) -> Fitness {
        with_term(name, reported, "xterm")
    }

    fn with_term(name: &str, reported: (u16, u16), term: &str) -> Fitness {
        let tui = fit_for_tui_by(Some(name), Some(reported), Some(term));
        let text = match &tui {
            Err(Unfit::NotAtAll(reason)) => Err(reason.clone()),
            _ => Ok(()),
        };
        Fitness { tui, text }
    }

    #[test]
    fn a_0x0_pseudo_terminal_means_noninteractive_whatever_was_asked() {
        let fitness = sized("/dev/pts/3", (0, 0));
        for kind in [Kind::Tui, Kind::Text] {
            for chosen in [Chosen::Flag, Chosen::Environment, Chosen::Default] {
                assert!(
                    matches!(
                        decide(kind, chosen, Ok(&fitness)),
                        Opening::Noninteractive(Some(reason)) if reason.contains("without a size")
                    ),
                    "{kind:?} {chosen:?}"
                );
            }
        }
    }

    #[test]
    fn openings_by_terminal() {
        let big = sized("/dev/pts/3", (120, 40));
        let small = sized("/dev/pts/3", (30, 8));
        let serial = sized("/dev/ttyS0", (0, 0));
        let dumb = with_term("/dev/pts/3", (120, 40), "dumb");
        let cases: &[(Kind, Chosen, std::result::Result<&Fitness, &str>, &str)] = &[
            (Kind::Tui, Chosen::Default, Ok(&big), "tui"),
            (Kind::Tui, Chosen::Flag, Ok(&small), "text instead of tui"),
            (Kind::Tui, Chosen::Flag, Ok(&serial), "text instead of tui"),
            (Kind::Tui, Chosen::Default, Ok(&dumb), "text instead of tui"),
            (Kind::Text, Chosen::Flag, Ok(&dumb), "text"),
            (Kind::Text, Chosen::Environment, Ok(&big), "text"),
            (
                Kind::Text,
                Chosen::Flag,
                Err("no terminal"),
                "text on stdio",
            ),
            (
                Kind::Text,
                Chosen::Environment,
                Err("no terminal"),
                "noninteractive: no terminal",
            ),
            (
                Kind::Tui,
                Chosen::Flag,
                Err("no terminal"),
                "noninteractive: no terminal",
            ),
            (
                Kind::Noninteractive,
                Chosen::Flag,
                Ok(&big),
                "noninteractive",
            ),
        ];
        for &(kind, chosen, terminal, expected) in cases {
            let opened = match decide(kind, chosen, terminal) {
                Opening::Tui => "tui".to_string(),
                Opening::Text {
                    instead_of_tui: Some(_),
                } => "text instead of tui".to_string(),
                Opening::Text {
                    instead_of_tui: None,
                } => "text".to_string(),
                Opening::TextOnStdio => "text on stdio".to_string(),
                Opening::Noninteractive(None) => "noninteractive".to_string(),
                Opening::Noninteractive(Some(reason)) => format!("noninteractive: {reason}"),
            };
            assert_eq!(opened, expected, "{kind:?} {chosen:?}");
        }
    }

    #[test]
    fn only_the_noninteractive_frontend_is_not_interactive() {
        assert!(!noninteractive::Noninteractive.is_interactive());
        assert!(text::Text::on_stdio().is_interactive());
    }
}
