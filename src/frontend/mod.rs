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
use crate::env::model::{QuestionType, Template};
use crate::error::Result;
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
}

impl Prompt {
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

/// What the frontend knows about the run, for its header.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub package: Option<String>,
    pub environment: String,
    pub machine: Option<String>,
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

/// Opens a frontend of `kind` on the person's terminal. When it cannot
/// work there it falls back (tui → text → noninteractive) and says so in
/// one line: a warning when the user chose `kind`, information when it
/// was only the default. Never blocks: a missing terminal, or one this
/// process does not own (a background job), means noninteractive.
pub fn open(kind: Kind, chosen: Chosen, listener: &mut dyn Listener) -> Box<dyn Frontend> {
    let mut say = |message: String| {
        if chosen != Chosen::Default {
            listener.warning(&message);
        } else {
            listener.info(&message);
        }
    };
    let noninteractive = |reason: &str, say: &mut dyn FnMut(String)| -> Box<dyn Frontend> {
        say(strings::fallback(reason, "noninteractive"));
        Box::new(noninteractive::Noninteractive)
    };
    match kind {
        Kind::Noninteractive => Box::new(noninteractive::Noninteractive),
        Kind::Tui => match terminal::Device::find() {
            Ok(device) => match device.fit_for_tui() {
                Ok(()) => Box::new(tui::Tui::new(device)),
                Err(terminal::Unfit::ForText(reason)) => match text::Text::on_terminal(&device) {
                    Ok(text) => {
                        say(strings::fallback(&reason, "text"));
                        Box::new(text)
                    }
                    Err(e) => noninteractive(&format!("{reason}; {e}"), &mut say),
                },
                Err(terminal::Unfit::NotAtAll(reason)) => noninteractive(&reason, &mut say),
            },
            Err(reason) => noninteractive(&reason, &mut say),
        },
        Kind::Text => match terminal::Device::find() {
            Ok(device) => match device
                .fit_for_text()
                .and_then(|()| text::Text::on_terminal(&device).map_err(|e| e.to_string()))
            {
                Ok(text) => Box::new(text),
                Err(reason) => noninteractive(&reason, &mut say),
            },
            // `--frontend text` without a terminal: answers come from stdin
            // (a script or a file), prompts go to stdout.
            Err(_) if chosen == Chosen::Flag => Box::new(text::Text::on_stdio()),
            Err(reason) => noninteractive(&reason, &mut say),
        },
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
