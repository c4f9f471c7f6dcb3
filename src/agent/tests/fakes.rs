//! A scripted frontend and a recording progress.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::agent::session::Progress;
use crate::error::{Error, Result};
use crate::frontend::{Abandoned, Context, Frontend, Prompt};

/// What the scripted frontend does at one GO.
#[derive(Debug, Clone)]
pub enum Turn {
    /// Answers these tags (others keep their default).
    Answer(Vec<(&'static str, &'static str)>),
    /// The person went back from the first question.
    Back,
    /// The person quit.
    Cancel,
    /// Nobody answers: the question stays on screen until the watch says
    /// it is abandoned (10 s at most).
    UntilAbandoned,
}

/// Answers by tag, turn after turn; after the last turn it answers
/// nothing (every question keeps its default).
#[derive(Debug, Default)]
pub struct Scripted {
    pub turns: Vec<Turn>,
    pub interactive: bool,
    /// Every GO's prompts and context.
    pub asked: Vec<(Context, Vec<Prompt>)>,
    /// Why each [`Turn::UntilAbandoned`] ended.
    pub abandoned_by: Vec<String>,
}

impl Scripted {
    pub fn answering(answers: Vec<(&'static str, &'static str)>) -> Scripted {
        Scripted::turns(vec![Turn::Answer(answers)])
    }

    pub fn turns(turns: Vec<Turn>) -> Scripted {
        Scripted {
            turns,
            interactive: true,
            ..Scripted::default()
        }
    }

    pub fn noninteractive() -> Scripted {
        Scripted {
            interactive: false,
            ..Scripted::default()
        }
    }

    /// The tags asked at each GO.
    pub fn asked_tags(&self) -> Vec<Vec<String>> {
        self.asked
            .iter()
            .map(|(_, prompts)| prompts.iter().map(|p| p.template.key.clone()).collect())
            .collect()
    }

    pub fn prompt(&self, tag: &str) -> Prompt {
        self.asked
            .iter()
            .flat_map(|(_, prompts)| prompts)
            .find(|p| p.template.key == tag)
            .cloned()
            .unwrap_or_else(|| panic!("{tag} was not asked"))
    }
}

impl Frontend for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn is_interactive(&self) -> bool {
        self.interactive
    }

    fn ask(&mut self, context: &Context, prompts: &[Prompt]) -> Result<BTreeMap<String, String>> {
        self.asked.push((context.clone(), prompts.to_vec()));
        if self.turns.is_empty() {
            return Ok(BTreeMap::new());
        }
        match self.turns.remove(0) {
            Turn::Answer(answers) => Ok(answers
                .into_iter()
                .map(|(tag, value)| (tag.to_string(), value.to_string()))
                .collect()),
            Turn::Back if context.back => Err(Error::Back),
            Turn::Back => panic!("back asked for but the caller has no step before"),
            Turn::Cancel => Err(Error::Cancelled),
            Turn::UntilAbandoned => panic!("a question left on screen without a watch"),
        }
    }

    fn ask_unless(
        &mut self,
        context: &Context,
        prompts: &[Prompt],
        abandoned: &Abandoned,
    ) -> Result<BTreeMap<String, String>> {
        if !matches!(self.turns.first(), Some(Turn::UntilAbandoned)) {
            return self.ask(context, prompts);
        }
        self.turns.remove(0);
        self.asked.push((context.clone(), prompts.to_vec()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(by) = abandoned.reason() {
                self.abandoned_by.push(by.clone());
                return Err(Error::Ended { by });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(BTreeMap::new())
    }
}

/// Records every progress call.
#[derive(Debug, Default)]
pub struct Recording {
    pub events: Vec<String>,
}

impl Progress for Recording {
    fn start(&mut self, min: i64, max: i64, title: &str) {
        self.events.push(format!("start {min}..{max} {title}"));
    }
    fn set(&mut self, value: i64) {
        self.events.push(format!("set {value}"));
    }
    fn step(&mut self, by: i64) {
        self.events.push(format!("step {by}"));
    }
    fn info(&mut self, text: &str) {
        self.events.push(format!("info {text}"));
    }
    fn stop(&mut self) {
        self.events.push("stop".to_string());
    }
}

/// No preset answers.
pub fn no_preset(_tag: &str) -> Option<String> {
    None
}
