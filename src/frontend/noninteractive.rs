//! The noninteractive frontend: never waits for input. Questions with a
//! usable default take it; questions that must be answered and have none
//! are all reported together ([`Error::Unanswered`], exit code 3).

use std::collections::BTreeMap;

use super::{Context, Frontend, Prompt};
use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub struct Noninteractive;

impl Frontend for Noninteractive {
    fn name(&self) -> &'static str {
        "noninteractive"
    }

    fn is_interactive(&self) -> bool {
        false
    }

    fn ask(&mut self, _context: &Context, prompts: &[Prompt]) -> Result<BTreeMap<String, String>> {
        let missing: Vec<String> = prompts
            .iter()
            .filter(|p| !p.template.question_type.is_display_only() && p.default.is_none())
            .map(|p| {
                format!(
                    "{} ({}): {}",
                    p.template.key, p.template.question_type, p.template.description
                )
            })
            .collect();
        if missing.is_empty() {
            // Defaults are kept by returning no answers.
            Ok(BTreeMap::new())
        } else {
            Err(Error::Unanswered { keys: missing })
        }
    }
}
