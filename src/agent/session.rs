//! What confpack does with the commands of one apt run's debconf: the
//! state of the passthrough protocol.
//!
//! debconf sends each question's template (DATA), its current value (SET)
//! and substitutions (SUBST) before queueing it (INPUT); GO asks every
//! queued question at once through a confpack [`Frontend`], and GET then
//! reads the answers back. A question confpack already has an answer for
//! (the `preset`, from its store or document) is not shown. A frontend that
//! asks nobody keeps the current values; the important questions
//! (high/critical) left without one are remembered as [`Unanswered`] for
//! the caller to report. Values are never logged: a password is only ever
//! sent back to debconf.

use std::collections::BTreeMap;

use super::protocol::{self, Command, ProgressCommand, Reply};
use crate::env::model::{Priority, QuestionType, Source, Template};
use crate::error::{Error, Result};
use crate::frontend::{Abandoned, Context, Frontend, Prompt};
use crate::merge::Reason;
use crate::output::MASK;

/// Where debconf's progress bars go.
pub trait Progress {
    /// A bar from `min` to `max`, titled `title`.
    fn start(&mut self, min: i64, max: i64, title: &str);
    /// The bar's position.
    fn set(&mut self, value: i64);
    /// Moves the bar `by` further.
    fn step(&mut self, by: i64);
    /// The current step's description.
    fn info(&mut self, text: &str);
    fn stop(&mut self);
}

/// Progress nobody sees.
#[derive(Debug, Default)]
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn start(&mut self, _min: i64, _max: i64, _title: &str) {}
    fn set(&mut self, _value: i64) {}
    fn step(&mut self, _by: i64) {}
    fn info(&mut self, _text: &str) {}
    fn stop(&mut self) {}
}

/// debconf's progress bars as lines of text through a
/// [`crate::Listener`]: the title when the bar starts, then a line like
/// `[####------]  40% Step one` each time the bar passes another tenth,
/// and the full bar at STOP. Lines, not a bar redrawn in place: apt and
/// the maintainer scripts write to the same terminal meanwhile (a redraw
/// would erase their last line), and a log keeps every line.
pub struct ListenerProgress<'a> {
    listener: &'a mut dyn crate::Listener,
    range: (i64, i64),
    position: i64,
    /// The tenth last shown, if any since START.
    shown: Option<u64>,
    /// The current step's text (PROGRESS INFO).
    step: String,
}

/// How many cells the bar has.
const BAR_CELLS: u64 = 10;

impl<'a> ListenerProgress<'a> {
    pub fn new(listener: &'a mut dyn crate::Listener) -> Self {
        ListenerProgress {
            listener,
            range: (0, 0),
            position: 0,
            shown: None,
            step: String::new(),
        }
    }

    /// Tenths done, 0 to 10.
    fn tenths(&self) -> u64 {
        let (min, max) = self.range;
        let total = (max - min).max(0).unsigned_abs();
        if total == 0 {
            return BAR_CELLS;
        }
        let done = (self.position - min).clamp(0, max - min).unsigned_abs();
        done.saturating_mul(BAR_CELLS) / total
    }

    /// Says the bar when it reached another tenth (or always, `force`).
    fn draw(&mut self, force: bool) {
        let tenths = self.tenths();
        if !force && self.shown == Some(tenths) {
            return;
        }
        self.shown = Some(tenths);
        let cells = usize::try_from(tenths).unwrap_or(0);
        let empty = usize::try_from(BAR_CELLS - tenths).unwrap_or(0);
        let line = format!(
            "[{}{}] {:>3}% {}",
            "#".repeat(cells),
            "-".repeat(empty),
            tenths * 10,
            self.step
        );
        self.listener.passthrough(line.trim_end());
    }
}

impl Progress for ListenerProgress<'_> {
    fn start(&mut self, min: i64, max: i64, title: &str) {
        self.range = (min, max.max(min));
        self.position = min;
        self.shown = None;
        self.step.clear();
        if !title.is_empty() {
            self.listener.passthrough(title);
        }
        self.draw(true);
    }

    fn set(&mut self, value: i64) {
        self.position = value;
        self.draw(false);
    }

    fn step(&mut self, by: i64) {
        self.set(self.position.saturating_add(by));
    }

    fn info(&mut self, text: &str) {
        self.step = text.to_string();
    }

    fn stop(&mut self) {
        if self.shown.is_none() {
            return;
        }
        self.position = self.range.1;
        if self.shown != Some(BAR_CELLS) {
            self.draw(true);
        }
        self.shown = None;
    }
}

/// An important question nobody could answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub tag: String,
    /// The tag's owner, the part before `/`.
    pub package: String,
}

/// What debconf told about one question.
#[derive(Debug, Clone, Default)]
struct Question {
    /// DATA items as sent (`type`, `description`, …).
    data: BTreeMap<String, String>,
    /// SUBST variables.
    substitutions: BTreeMap<String, String>,
    /// SET, or the answer given at GO.
    value: Option<String>,
}

impl Question {
    fn question_type(&self) -> QuestionType {
        self.data
            .get("type")
            .and_then(|t| t.parse().ok())
            .unwrap_or(QuestionType::String)
    }

    fn item(&self, item: &str) -> String {
        printable(&substitute(
            self.data.get(item).map(String::as_str).unwrap_or(""),
            &self.substitutions,
        ))
    }

    fn template(&self, tag: &str, priority: Priority) -> Template {
        Template {
            key: tag.to_string(),
            question_type: self.question_type(),
            priority,
            source: Source::User,
            description: self.item("description"),
            extended: self.item("extended_description"),
            choices: split_choices(&self.item("choices")),
            default: self.value.clone(),
            expression: None,
            line: 0,
            vouched: false,
            // debconf sends its texts already in the person's language.
            translations: Default::default(),
        }
    }
}

/// A queued INPUT.
#[derive(Debug, Clone)]
struct Queued {
    tag: String,
    priority: Priority,
}

/// One apt run's debconf conversations (one connection per maintainer
/// script; the answers and unanswered questions add up over them).
pub struct Session<'a> {
    frontend: &'a mut dyn Frontend,
    progress: &'a mut dyn Progress,
    preset: &'a dyn Fn(&str) -> Option<String>,
    context: Context,
    questions: BTreeMap<String, Question>,
    queue: Vec<Queued>,
    /// The confmodule announced CAPB backup.
    backup: bool,
    title: Option<String>,
    unanswered: Vec<Unanswered>,
    /// What each question was answered with, for confpack's records.
    answered: BTreeMap<String, crate::foreign::Answered>,
    /// Questions with a preset are shown too ([`Session::reshowing`]).
    reshow: bool,
    /// Questions nobody answered and no preset covered: they keep what
    /// debconf had (its default), and debconf now counts them as seen.
    /// With debconf's value at the time.
    defaulted: BTreeMap<String, Option<String>>,
    /// Whether the current connection's questions are still wanted.
    abandoned: Option<Abandoned>,
}

impl<'a> Session<'a> {
    pub fn new(
        frontend: &'a mut dyn Frontend,
        progress: &'a mut dyn Progress,
        preset: &'a dyn Fn(&str) -> Option<String>,
        context: Context,
    ) -> Self {
        Session {
            frontend,
            progress,
            preset,
            context,
            questions: BTreeMap::new(),
            queue: Vec::new(),
            backup: false,
            title: None,
            unanswered: Vec::new(),
            answered: BTreeMap::new(),
            reshow: false,
            defaulted: Default::default(),
            abandoned: None,
        }
    }

    /// Shows every queued question, those with a preset too (with it as
    /// the default): what a reconfigure does.
    pub fn reshowing(mut self, reshow: bool) -> Self {
        self.reshow = reshow;
        self
    }

    /// Lets the frontend stop asking once `abandoned` says the current
    /// connection's questions are no longer wanted (its debconf or the
    /// command has gone); until the next connection.
    pub fn watch(&mut self, abandoned: Abandoned) {
        self.abandoned = Some(abandoned);
    }

    /// A new connection: a new confmodule, with its own capabilities and
    /// queue (the templates it needs are sent again).
    pub fn begin_connection(&mut self) {
        self.queue.clear();
        self.backup = false;
        self.title = None;
        self.abandoned = None;
    }

    /// The important questions nobody answered, in order, without repeats.
    /// The questions answered so far: by a preset, or by a person.
    pub fn answered(&self) -> &BTreeMap<String, crate::foreign::Answered> {
        &self.answered
    }

    /// The questions left at debconf's value because nobody could answer
    /// and confpack had no answer (yet: a document installed later in the
    /// same run may have one).
    pub fn defaulted(&self) -> &BTreeMap<String, Option<String>> {
        &self.defaulted
    }

    pub fn unanswered(&self) -> &[Unanswered] {
        &self.unanswered
    }

    /// The title debconf last set (TITLE or SETTITLE).
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// One exchange as a log may show it: `line`, `→`, `reply`, with the
    /// value of a password question (its SET, its GET's reply) masked.
    pub fn loggable(&self, line: &str, reply: &str) -> String {
        let secret = |tag: &str| {
            self.questions
                .get(tag)
                .is_some_and(|q| q.question_type().is_secret())
        };
        let line = line.trim_end();
        match protocol::parse(line) {
            Command::Set { tag, .. } if secret(&tag) => format!("SET {tag} {MASK} → {reply}"),
            Command::Get { tag } if secret(&tag) && reply.starts_with("0 ") => {
                format!("{line} → 0 {MASK}")
            }
            _ => format!("{line} → {reply}"),
        }
    }

    /// Answers one line. An error (the person cancelled) ends the run.
    pub fn reply_to(&mut self, line: &str) -> Result<String> {
        Ok(self.handle(protocol::parse(line))?.line())
    }

    /// Answers one command.
    pub fn handle(&mut self, command: Command) -> Result<Reply> {
        Ok(match command {
            Command::Data { tag, item, value } => {
                self.question(&tag).data.insert(item, value);
                Reply::Ok
            }
            Command::Set { tag, value } => {
                self.question(&tag).value = Some(value);
                Reply::Ok
            }
            Command::Subst {
                tag,
                variable,
                value,
            } => {
                self.question(&tag).substitutions.insert(variable, value);
                Reply::Ok
            }
            Command::Input { priority, tag } => {
                self.question(&tag);
                let priority = priority.parse().unwrap_or(Priority::Medium);
                self.queue.retain(|queued| queued.tag != tag);
                self.queue.push(Queued { tag, priority });
                Reply::Ok
            }
            Command::Go => self.go()?,
            Command::Get { tag } => Reply::Value(
                self.questions
                    .get(&tag)
                    .and_then(|q| q.value.clone())
                    .unwrap_or_default(),
            ),
            Command::Capb(capabilities) => {
                if !capabilities.is_empty() {
                    self.backup = capabilities.iter().any(|c| c == "backup");
                }
                Reply::Value("backup".to_string())
            }
            Command::Title(title) => {
                self.title = Some(printable(&title));
                Reply::Ok
            }
            Command::SetTitle { tag } => {
                self.title = Some(self.question(&tag).item("description"));
                Reply::Ok
            }
            Command::Info { .. } | Command::Stop => Reply::Ok,
            Command::Progress(progress) => {
                self.progress_command(progress);
                Reply::Ok
            }
            Command::Unknown(word) => protocol::unknown(&word),
        })
    }

    fn question(&mut self, tag: &str) -> &mut Question {
        self.questions.entry(tag.to_string()).or_default()
    }

    fn description(&self, tag: &str) -> String {
        self.questions
            .get(tag)
            .map(|q| q.item("description"))
            .unwrap_or_default()
    }

    fn progress_command(&mut self, command: ProgressCommand) {
        match command {
            ProgressCommand::Start { min, max, tag } => {
                let title = self.description(&tag);
                self.progress.start(min, max, &title);
            }
            ProgressCommand::Set(value) => self.progress.set(value),
            ProgressCommand::Step(by) => self.progress.step(by),
            ProgressCommand::Info { tag } => {
                let text = self.description(&tag);
                self.progress.info(&text);
            }
            ProgressCommand::Stop => self.progress.stop(),
        }
    }

    /// Asks the queued questions: presets first, then the frontend.
    fn go(&mut self) -> Result<Reply> {
        let queue = std::mem::take(&mut self.queue);
        let mut shown = Vec::new();
        let mut presets = BTreeMap::new();
        for queued in queue {
            let preset = (self.preset)(&queued.tag);
            if let Some(value) = &preset {
                self.record(&queued.tag, value, false);
                self.question(&queued.tag).value = Some(value.clone());
                presets.insert(queued.tag.clone(), value.clone());
            }
            if preset.is_none() || self.reshow {
                shown.push(queued);
            }
        }
        if shown.is_empty() {
            return Ok(Reply::Ok);
        }
        if !self.frontend.is_interactive() {
            for queued in shown.iter().filter(|q| !presets.contains_key(&q.tag)) {
                let question = self.question(&queued.tag);
                if !question.question_type().is_display_only() {
                    let value = question.value.clone();
                    self.defaulted.insert(queued.tag.clone(), value);
                }
            }
            self.remember_unanswered(&shown);
            return Ok(Reply::Ok);
        }
        let prompts: Vec<Prompt> = shown.iter().map(|q| self.prompt(q)).collect();
        let mut context = self.context.clone();
        context.back = self.backup;
        context.title = self.title.clone();
        if context.package.is_none() {
            context.package = Some(owner(&shown[0].tag).to_string());
        }
        let asked = match &self.abandoned {
            Some(abandoned) => self.frontend.ask_unless(&context, &prompts, abandoned),
            None => self.frontend.ask(&context, &prompts),
        };
        match asked {
            Ok(answers) => {
                for (tag, value) in answers {
                    if self.questions.contains_key(&tag) {
                        // Confirming the preset keeps it confpack's, not
                        // a person's choice.
                        let by_person = presets.get(&tag) != Some(&value);
                        self.record(&tag, &value, by_person);
                        self.question(&tag).value = Some(value);
                    }
                }
                Ok(Reply::Ok)
            }
            Err(Error::Back) if self.backup => Ok(Reply::Back),
            Err(e) => Err(e),
        }
    }

    /// Remembers an answer (display-only questions are not answers).
    fn record(&mut self, tag: &str, value: &str, by_person: bool) {
        let question_type = self
            .questions
            .get(tag)
            .map(Question::question_type)
            .unwrap_or(crate::env::model::QuestionType::String);
        if question_type.is_display_only() {
            return;
        }
        self.answered.insert(
            tag.to_string(),
            crate::foreign::Answered {
                value: value.to_string(),
                question_type,
                by_person,
            },
        );
    }

    fn prompt(&self, queued: &Queued) -> Prompt {
        let question = self.questions.get(&queued.tag).cloned().unwrap_or_default();
        let default = question.value.clone();
        Prompt {
            template: question.template(&queued.tag, queued.priority),
            reason: match default {
                Some(_) if self.reshow => Reason::Forced,
                Some(_) => Reason::NotSeen,
                None => Reason::Unanswered,
            },
            default,
            secret: false,
            // debconf sends the labels already in the person's language.
            labels: Vec::new(),
        }
    }

    fn remember_unanswered(&mut self, shown: &[Queued]) {
        for queued in shown {
            let question = self.question(&queued.tag);
            let empty = question.value.as_deref().is_none_or(str::is_empty);
            if queued.priority >= Priority::High
                && empty
                && !question.question_type().is_display_only()
                && !self.unanswered.iter().any(|u| u.tag == queued.tag)
            {
                self.unanswered.push(Unanswered {
                    tag: queued.tag.clone(),
                    package: owner(&queued.tag).to_string(),
                });
            }
        }
    }
}

/// The package part of a tag (`demo` of `demo/name`).
fn owner(tag: &str) -> &str {
    tag.split('/').next().unwrap_or(tag)
}

/// Replaces `${variable}` with its SUBST value; unknown ones stay.
fn substitute(text: &str, substitutions: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match substitutions.get(name) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A package's text as the terminal may show it: control characters
/// (an escape sequence would reach the person's terminal through the
/// text frontend and the progress lines) dropped, line breaks and tabs
/// kept.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// debconf's choices: separated by commas, `\,` a comma inside one.
fn split_choices(choices: &str) -> Vec<String> {
    crate::env::model::split_multiselect(choices)
}
