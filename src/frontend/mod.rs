//! Frontends: how questions reach a person (or don't).
//!
//! A frontend gets the questions the merge plan wants shown, each with its
//! template, default and reason, and returns the answers. It never writes
//! anything: the caller commits all answers as one batch afterwards, so a
//! cancelled or failed frontend leaves the store untouched.

pub mod noninteractive;

use std::collections::BTreeMap;

use crate::env::model::Template;
use crate::error::Result;
use crate::merge::Reason;

/// One question to show.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub template: Template,
    pub default: Option<String>,
    pub reason: Reason,
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

    /// Asks `prompts` and returns the answers by key. A question missing
    /// from the result keeps its default. Display-only questions (notes)
    /// are answered with an empty string once shown.
    fn ask(&mut self, context: &Context, prompts: &[Prompt]) -> Result<BTreeMap<String, String>>;
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
