//! The text frontend: line-by-line prompts for dumb terminals, serial
//! consoles and logs (debconf's readline/teletype).
//!
//! It asks the same questions as the TUI with the same defaults and the
//! same validation ([`Prompt::check`]); an invalid answer is refused with
//! the reason and the question asked again. Passwords are read with echo
//! off and confirmed. Before anything is saved the answers are listed
//! (secrets masked) and any of them can be changed by number. Ctrl-C asks
//! whether to quit; quitting, the input ending, SIGTERM or SIGHUP (never
//! asked about: nobody may be there) cancel the run ([`Error::Cancelled`])
//! and nothing is saved.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::os::fd::AsFd;

use super::terminal::{Device, Reader};
use super::wrap::wrap;
use super::{Abandoned, Context, Frontend, Prompt, strings};
use crate::env::model::{QuestionType, join_multiselect, split_multiselect};
use crate::error::{Error, Result};
use crate::merge::Reason;
use crate::process::signals::{Catching, Caught};
use crate::render::{EditChoice, LocalEdit};

/// One line of input, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// The input ended (Ctrl-D, end of a file or pipe).
    End,
    /// Ctrl-C (SIGINT) while waiting: ask whether to quit.
    Interrupted,
    /// SIGTERM or SIGHUP while waiting: stop at once, print nothing more.
    Terminated,
}

/// Where the text frontend reads answers.
pub trait LineInput {
    /// Reads one line without its line ending; `secret` hides the typing
    /// where the input is a terminal.
    fn read_line(&mut self, secret: bool) -> io::Result<Line>;

    /// Whether typing is echoed by a terminal (so a hidden line needs a
    /// newline printed after it).
    fn is_terminal(&self) -> bool {
        false
    }

    /// From now on, a read waiting for the person gives up with [`Gone`]
    /// once `abandoned` says the questions are no longer wanted (`None`:
    /// never). An input that cannot look while it waits ignores it.
    fn watch(&mut self, abandoned: Option<Abandoned>) {
        let _ = abandoned;
    }
}

/// The error a watched read ends with when whoever asked has gone: why.
#[derive(Debug)]
pub struct Gone(pub String);

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Gone {}

/// Answers from any buffered reader: a file, a pipe, a test's string. A
/// line holding only ETX (the byte Ctrl-C sends) counts as Ctrl-C.
#[derive(Debug)]
pub struct Script<R>(pub R);

impl<R: BufRead> LineInput for Script<R> {
    fn read_line(&mut self, _secret: bool) -> io::Result<Line> {
        let mut line = String::new();
        if self.0.read_line(&mut line)? == 0 {
            return Ok(Line::End);
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if line == "\u{3}" {
            return Ok(Line::Interrupted);
        }
        Ok(Line::Text(line.to_string()))
    }
}

/// Answers from stdin or `/dev/tty`, read with `poll` so that a signal
/// (caught by [`Catching`]) is noticed while waiting, and with echo off for
/// secrets on a terminal.
#[derive(Debug)]
pub struct TerminalInput {
    reader: Reader,
    buffer: Vec<u8>,
    /// Checked each time the wait for input times out.
    abandoned: Option<Abandoned>,
}

impl TerminalInput {
    pub fn new(reader: Reader) -> TerminalInput {
        TerminalInput {
            reader,
            buffer: Vec::new(),
            abandoned: None,
        }
    }

    /// What a caught signal means for the line being read.
    fn stopped_by(&mut self, caught: Caught) -> Line {
        self.buffer.clear();
        if caught.may_ask() {
            Line::Interrupted
        } else {
            Line::Terminated
        }
    }

    fn take_line(&mut self) -> Option<String> {
        let end = self.buffer.iter().position(|b| *b == b'\n')?;
        let line: Vec<u8> = self.buffer.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line[..end]);
        Some(text.trim_end_matches('\r').to_string())
    }
}

impl LineInput for TerminalInput {
    fn read_line(&mut self, secret: bool) -> io::Result<Line> {
        // Inside the frontend's own Catching (see `Text::ask_from`) this
        // sees what arrived between reads; alone, it catches while reading.
        let catching = Catching::start();
        if let Some(caught) = catching.take() {
            return Ok(self.stopped_by(caught));
        }
        let _echo = if secret && self.reader.is_terminal() {
            Some(EchoOff::new(&self.reader)?)
        } else {
            None
        };
        loop {
            if let Some(line) = self.take_line() {
                return Ok(Line::Text(line));
            }
            if let Some(caught) = catching.take() {
                return Ok(self.stopped_by(caught));
            }
            let fd = self.reader.as_fd();
            let mut fds = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 200_000_000,
            };
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => {
                    if let Some(by) = self.abandoned.as_ref().and_then(Abandoned::reason) {
                        return Err(io::Error::other(Gone(by)));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            let mut chunk = [0u8; 4096];
            match rustix::io::read(fd, &mut chunk) {
                Ok(0) => {
                    if self.buffer.is_empty() {
                        return Ok(Line::End);
                    }
                    let rest = std::mem::take(&mut self.buffer);
                    return Ok(Line::Text(
                        String::from_utf8_lossy(&rest)
                            .trim_end_matches('\r')
                            .to_string(),
                    ));
                }
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn is_terminal(&self) -> bool {
        self.reader.is_terminal()
    }

    fn watch(&mut self, abandoned: Option<Abandoned>) {
        self.abandoned = abandoned;
    }
}

/// Echo off on a terminal until dropped.
struct EchoOff {
    terminal: std::os::fd::OwnedFd,
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new(reader: &Reader) -> io::Result<EchoOff> {
        let terminal = reader.as_fd().try_clone_to_owned()?;
        let saved = rustix::termios::tcgetattr(&terminal)?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&terminal, rustix::termios::OptionalActions::Now, &quiet)?;
        Ok(EchoOff { terminal, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            &self.terminal,
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// The text frontend.
pub struct Text {
    input: Box<dyn LineInput>,
    output: Box<dyn Write>,
    width: usize,
    /// `<` at the question being asked goes back ([`Context::back`]):
    /// only at the first question, on the first pass.
    back: bool,
    /// The languages descriptions and choices are shown in, most wanted
    /// first (see [`crate::settings::languages`]).
    languages: Vec<String>,
}

/// What the person did with one question.
enum Step {
    Answer(String),
    Quit,
    Back,
}

impl Text {
    /// A text frontend on any input and output (tests, scripts).
    pub fn new(input: Box<dyn LineInput>, output: Box<dyn Write>, width: usize) -> Text {
        Text {
            input,
            output,
            width: width.clamp(20, 100),
            back: false,
            languages: Vec::new(),
        }
    }

    /// Shows translations for `languages` (most wanted first).
    pub fn in_languages(mut self, languages: &[String]) -> Text {
        self.languages = languages.to_vec();
        self
    }

    /// Prompts on the person's terminal.
    pub fn on_terminal(device: &Device) -> io::Result<Text> {
        Ok(Text::new(
            Box::new(TerminalInput::new(device.reader()?)),
            Box::new(device.writer()?),
            device.width(),
        ))
    }

    /// Answers from stdin, prompts on stdout (no terminal at all).
    pub fn on_stdio() -> Text {
        Text::new(
            Box::new(TerminalInput::new(Reader::Stdin(io::stdin()))),
            Box::new(io::stdout()),
            80,
        )
    }

    /// Gives up waiting for the person once `abandoned` says so (see
    /// [`LineInput::watch`]).
    pub fn watching(&mut self, abandoned: Option<Abandoned>) {
        self.input.watch(abandoned);
    }

    /// Asks `prompts` from `start` on, with `values` (one per prompt) as
    /// the current answers; the TUI hands over this way when its window
    /// becomes too small.
    pub fn ask_from(
        &mut self,
        context: &Context,
        prompts: &[Prompt],
        mut values: Vec<Option<String>>,
        start: usize,
    ) -> Result<BTreeMap<String, String>> {
        // Signals are caught from the first prompt to the last answer, and
        // only then: a run killed later (in a hook, say) just ends.
        let _catching = Catching::start();
        let localized: Vec<Prompt> = prompts
            .iter()
            .map(|p| p.in_languages(&self.languages))
            .collect();
        let prompts = localized.as_slice();
        values.resize(prompts.len(), None);
        self.say(&format!(
            "{}: {}",
            strings::PRODUCT,
            strings::text_heading(prompts.len(), &describe(context))
        ))?;
        for (index, value) in values.iter_mut().enumerate().skip(start) {
            self.back = context.back && index == 0 && !prompts[index].is_display_only();
            if self.back {
                self.say(strings::TEXT_BACK_HINT)?;
            }
            let step = self.ask_one(index, prompts, value.as_deref());
            self.back = false;
            match step? {
                Step::Answer(answer) => *value = Some(answer),
                Step::Quit => return Err(Error::Cancelled),
                Step::Back => return Err(Error::Back),
            }
        }
        if prompts.iter().any(|p| !p.is_display_only()) {
            loop {
                match self.review(prompts, &values)? {
                    Review::Save => break,
                    Review::Quit => return Err(Error::Cancelled),
                    Review::Change(index) => {
                        match self.ask_one(index, prompts, values[index].as_deref())? {
                            Step::Answer(value) => values[index] = Some(value),
                            Step::Quit => return Err(Error::Cancelled),
                            // Not offered in the review.
                            Step::Back => {}
                        }
                    }
                }
            }
            self.say(strings::TEXT_SAVING)?;
        }
        Ok(prompts
            .iter()
            .zip(values)
            .filter_map(|(prompt, value)| {
                let value = if prompt.is_display_only() {
                    String::new()
                } else {
                    value?
                };
                Some((prompt.template.key.clone(), value))
            })
            .collect())
    }

    fn say(&mut self, text: &str) -> Result<()> {
        writeln!(self.output, "{text}").map_err(output_error)?;
        self.output.flush().map_err(output_error)
    }

    fn prompt(&mut self, text: &str) -> Result<()> {
        write!(self.output, "{text}").map_err(output_error)?;
        self.output.flush().map_err(output_error)
    }

    fn read(&mut self, secret: bool) -> Result<Line> {
        let line = self.input.read_line(secret).map_err(|e| {
            match e.get_ref().and_then(|inner| inner.downcast_ref::<Gone>()) {
                Some(Gone(by)) => Error::Ended { by: by.clone() },
                None => Error::io("<terminal>", e),
            }
        })?;
        // A terminal echoes the newline, except of hidden typing; input
        // from a file or pipe echoes nothing, so the log gets one.
        if matches!(line, Line::Text(_)) && (secret || !self.input.is_terminal()) {
            self.say("")?;
        }
        if line == Line::End {
            self.say("")?;
            self.say(strings::TEXT_INPUT_ENDED)?;
        }
        Ok(line)
    }

    /// After Ctrl-C: true when the person wants to quit.
    fn confirm_quit(&mut self) -> Result<bool> {
        self.say("")?;
        self.prompt(strings::TEXT_QUIT_PROMPT)?;
        Ok(match self.read(false)? {
            Line::Text(answer) => matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"),
            Line::End | Line::Interrupted | Line::Terminated => true,
        })
    }

    fn ask_one(&mut self, index: usize, prompts: &[Prompt], current: Option<&str>) -> Result<Step> {
        let prompt = &prompts[index];
        let template = &prompt.template;
        let question_type = template.question_type;
        self.say("")?;
        self.say(&format!(
            "[{}/{}] {}  ({})",
            index + 1,
            prompts.len(),
            template.description,
            template.key
        ))?;
        self.say_wrapped("  ", &template.extended)?;
        if question_type.is_display_only() {
            return Ok(Step::Answer(String::new()));
        }
        self.reason(prompt)?;
        let current = current.or(prompt.default.as_deref());
        if question_type.has_choices() {
            self.list_choices(prompt, current)?;
        }
        loop {
            let (label, secret) = self.label(prompt, current);
            self.prompt(&label)?;
            let typed = match self.read(secret)? {
                Line::Text(text) if self.back && !secret && text.trim() == strings::TEXT_BACK => {
                    return Ok(Step::Back);
                }
                Line::Text(text) => text,
                Line::End | Line::Terminated => return Ok(Step::Quit),
                Line::Interrupted => {
                    if self.confirm_quit()? {
                        return Ok(Step::Quit);
                    }
                    continue;
                }
            };
            let value = match question_type {
                QuestionType::Password => match self.password(&typed, current)? {
                    Ok(value) => value,
                    Err(Some(message)) => {
                        self.refuse(&message)?;
                        continue;
                    }
                    Err(None) => return Ok(Step::Quit),
                },
                _ => match parse(prompt, &typed, current) {
                    Ok(value) => value,
                    Err(message) => {
                        self.refuse(&message)?;
                        continue;
                    }
                },
            };
            match prompt.check(&value) {
                Ok(()) => return Ok(Step::Answer(value)),
                Err(message) => self.refuse(&message)?,
            }
        }
    }

    /// Prints `text` wrapped to the width, each line after `indent`.
    fn say_wrapped(&mut self, indent: &str, text: &str) -> Result<()> {
        for line in wrap(text, self.width.saturating_sub(indent.len())) {
            self.say(format!("{indent}{line}").trim_end())?;
        }
        Ok(())
    }

    fn refuse(&mut self, message: &str) -> Result<()> {
        self.say_wrapped("  ! ", message)
    }

    fn reason(&mut self, prompt: &Prompt) -> Result<()> {
        match &prompt.reason {
            Reason::Conflict { document, user } => {
                self.say_wrapped("  ", strings::CONFLICT_TITLE)?;
                if prompt.is_secret() {
                    self.say(&format!("    {}", strings::CONFLICT_SECRET))?;
                } else {
                    self.say(&format!(
                        "    {} {}",
                        strings::CONFLICT_DOCUMENT,
                        prompt.shown(document)
                    ))?;
                    self.say(&format!(
                        "    {} {}",
                        strings::CONFLICT_YOURS,
                        prompt.shown(user)
                    ))?;
                }
                Ok(())
            }
            other => match strings::reason_line(other) {
                Some(line) => self.say_wrapped("  ", line),
                None => Ok(()),
            },
        }
    }

    fn list_choices(&mut self, prompt: &Prompt, current: Option<&str>) -> Result<()> {
        let multi = prompt.template.question_type == QuestionType::Multiselect;
        let selected: Vec<String> = match (multi, current) {
            (true, Some(value)) => split_multiselect(value),
            (false, Some(value)) => vec![value.to_string()],
            (_, None) => Vec::new(),
        };
        let lines: Vec<String> = prompt
            .template
            .choices
            .iter()
            .zip(prompt.choice_labels())
            .enumerate()
            .map(|(i, (choice, label))| {
                let mark = if multi {
                    if selected.contains(choice) {
                        "[x] "
                    } else {
                        "[ ] "
                    }
                } else {
                    ""
                };
                let note = prompt
                    .choice_note(choice)
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default();
                format!("  {:>2}) {mark}{label}{note}", i + 1)
            })
            .collect();
        for line in lines {
            self.say(&line)?;
        }
        Ok(())
    }

    fn label(&self, prompt: &Prompt, current: Option<&str>) -> (String, bool) {
        let question_type = prompt.template.question_type;
        let default = match (current, question_type) {
            (_, QuestionType::Password | QuestionType::Boolean) => String::new(),
            (Some(value), _) if !value.is_empty() => format!(" [{}]", prompt.shown(value)),
            (Some(_), QuestionType::Multiselect) => " [-]".to_string(),
            (Some(_), _) => String::new(),
            (None, _) => format!(" {}", strings::TEXT_REQUIRED_MARK),
        };
        match question_type {
            QuestionType::Password => {
                let keep = if current.is_some() {
                    format!(" {}", strings::TEXT_KEEP_PASSWORD)
                } else {
                    String::new()
                };
                (
                    format!(
                        "{} {}{keep}: ",
                        strings::PASSWORD_LABEL,
                        strings::TEXT_HIDDEN_INPUT
                    ),
                    true,
                )
            }
            QuestionType::Boolean => {
                let choices = match current {
                    Some("true") => strings::TEXT_YES_NO_DEFAULT_YES,
                    Some("false") => strings::TEXT_YES_NO_DEFAULT_NO,
                    _ => strings::TEXT_YES_NO,
                };
                (format!("{choices}: "), false)
            }
            QuestionType::Select => (format!("{}{default}: ", strings::TEXT_SELECT_HELP), false),
            QuestionType::Multiselect => (
                format!("{}{default}: ", strings::TEXT_MULTISELECT_HELP),
                false,
            ),
            _ => (format!("{}{default}: ", strings::VALUE_LABEL), false),
        }
    }

    /// Reads a password and its confirmation. `Err(Some)` refuses with a
    /// message, `Err(None)` quits.
    fn password(
        &mut self,
        typed: &str,
        current: Option<&str>,
    ) -> Result<std::result::Result<String, Option<String>>> {
        if typed.is_empty() {
            return Ok(match current {
                Some(value) => Ok(value.to_string()),
                None => Err(Some(strings::ANSWER_REQUIRED.to_string())),
            });
        }
        self.prompt(strings::TEXT_PASSWORD_AGAIN)?;
        Ok(match self.read(true)? {
            Line::Text(again) if again == typed => Ok(typed.to_string()),
            Line::Text(_) => Err(Some(strings::PASSWORDS_DIFFER.to_string())),
            Line::End | Line::Terminated => Err(None),
            Line::Interrupted => {
                if self.confirm_quit()? {
                    Err(None)
                } else {
                    Err(Some(strings::PASSWORD_CONFIRM_NEEDED.to_string()))
                }
            }
        })
    }

    fn review(&mut self, prompts: &[Prompt], values: &[Option<String>]) -> Result<Review> {
        self.say("")?;
        self.say(&format!(
            "{} ({})",
            strings::REVIEW_TITLE,
            strings::REVIEW_INTRO
        ))?;
        let answerable: Vec<usize> = (0..prompts.len())
            .filter(|&i| !prompts[i].is_display_only())
            .collect();
        let width = answerable
            .iter()
            .map(|&i| prompts[i].template.description.chars().count())
            .max()
            .unwrap_or(0)
            .min(40);
        for (number, &index) in answerable.iter().enumerate() {
            let prompt = &prompts[index];
            let value = values[index].as_deref().unwrap_or("");
            self.say(&format!(
                "  {:>2}) {:width$}  {}",
                number + 1,
                prompt.template.description,
                prompt.shown(value)
            ))?;
        }
        loop {
            self.prompt(strings::TEXT_REVIEW_PROMPT)?;
            match self.read(false)? {
                Line::End | Line::Terminated => return Ok(Review::Quit),
                Line::Interrupted => {
                    if self.confirm_quit()? {
                        return Ok(Review::Quit);
                    }
                }
                Line::Text(answer) => {
                    let answer = answer.trim();
                    match answer {
                        "" | "y" | "Y" | "yes" | "save" => return Ok(Review::Save),
                        "n" | "N" | "no" => return Ok(Review::Quit),
                        number => match number.parse::<usize>() {
                            Ok(n) if n >= 1 && n <= answerable.len() => {
                                return Ok(Review::Change(answerable[n - 1]));
                            }
                            _ => self.refuse(&format!(
                                "answer y, n or a number from 1 to {}",
                                answerable.len()
                            ))?,
                        },
                    }
                }
            }
        }
    }
}

enum Review {
    Save,
    Quit,
    Change(usize),
}

impl Text {
    /// Asks what becomes of a rendered file a person edited: keep it, or
    /// take the new rendering (the person's version saved beside it);
    /// `d` shows the unified diff first, except for a secret. Quitting or
    /// the input ending cancels the run.
    pub fn ask_local_edit(&mut self, edit: &LocalEdit) -> Result<EditChoice> {
        let _catching = Catching::start();
        self.say("")?;
        self.say_wrapped("", &strings::local_edit_heading(&edit.shown))?;
        loop {
            self.say(strings::LOCAL_EDIT_KEEP)?;
            self.say(&strings::local_edit_take(&edit.saved_as()))?;
            if edit.secret {
                self.say(strings::LOCAL_EDIT_SECRET)?;
                self.prompt(strings::LOCAL_EDIT_PROMPT_SECRET)?;
            } else {
                self.say(strings::LOCAL_EDIT_DIFF)?;
                self.prompt(strings::LOCAL_EDIT_PROMPT)?;
            }
            let typed = match self.read(false)? {
                Line::Text(text) => text,
                Line::End | Line::Terminated => return Err(Error::Cancelled),
                Line::Interrupted => {
                    if self.confirm_quit()? {
                        return Err(Error::Cancelled);
                    }
                    continue;
                }
            };
            match typed.trim() {
                "k" | "K" => return Ok(EditChoice::KeepMine),
                "t" | "T" => return Ok(EditChoice::TakeNew),
                "d" | "D" if !edit.secret => {
                    self.say(edit.diff().trim_end())?;
                }
                _ => self.refuse(strings::LOCAL_EDIT_REFUSED)?,
            }
        }
    }
}

impl Frontend for Text {
    fn name(&self) -> &'static str {
        "text"
    }

    fn ask(&mut self, context: &Context, prompts: &[Prompt]) -> Result<BTreeMap<String, String>> {
        self.ask_from(context, prompts, Vec::new(), 0)
    }

    fn ask_unless(
        &mut self,
        context: &Context,
        prompts: &[Prompt],
        abandoned: &Abandoned,
    ) -> Result<BTreeMap<String, String>> {
        self.watching(Some(abandoned.clone()));
        let asked = self.ask(context, prompts);
        self.watching(None);
        asked
    }

    fn local_edit(&mut self, edit: &LocalEdit) -> Result<Option<EditChoice>> {
        self.ask_local_edit(edit).map(Some)
    }
}

fn output_error(error: io::Error) -> Error {
    Error::io("<terminal>", error)
}

/// "webshop (environment production, machine …)".
fn describe(context: &Context) -> String {
    let mut parts = vec![format!("environment {}", context.environment)];
    if let Some(machine) = &context.machine {
        parts.push(format!("machine {machine}"));
    }
    match context.title.as_ref().or(context.package.as_ref()) {
        Some(shown) => format!("{shown} ({})", parts.join(", ")),
        None => parts.join(", "),
    }
}

/// Turns what was typed into a value of the question's type; empty takes
/// `current`.
fn parse(
    prompt: &Prompt,
    typed: &str,
    current: Option<&str>,
) -> std::result::Result<String, String> {
    let typed = typed.trim();
    let choices = &prompt.template.choices;
    match prompt.template.question_type {
        QuestionType::Boolean => match typed.to_ascii_lowercase().as_str() {
            "" => current
                .map(str::to_string)
                .ok_or_else(|| strings::TEXT_NOT_YES_NO.to_string()),
            "y" | "yes" | "true" => Ok("true".to_string()),
            "n" | "no" | "false" => Ok("false".to_string()),
            _ => Err(strings::TEXT_NOT_YES_NO.to_string()),
        },
        QuestionType::Select => {
            if typed.is_empty() {
                return current
                    .map(str::to_string)
                    .ok_or_else(|| strings::ANSWER_REQUIRED.to_string());
            }
            pick(choices, prompt.choice_labels(), typed)
        }
        QuestionType::Multiselect => {
            if typed.is_empty() {
                return Ok(current.unwrap_or_default().to_string());
            }
            if typed == "-" {
                return Ok(String::new());
            }
            let tokens: Vec<&str> = if typed.contains(',') {
                typed.split(',').map(str::trim).collect()
            } else {
                typed.split_whitespace().collect()
            };
            let mut chosen = Vec::new();
            for token in tokens.into_iter().filter(|t| !t.is_empty()) {
                chosen.push(pick(choices, prompt.choice_labels(), token)?);
            }
            let ordered: Vec<&String> = choices.iter().filter(|c| chosen.contains(c)).collect();
            Ok(join_multiselect(&ordered))
        }
        _ => {
            if typed.is_empty() {
                Ok(current.unwrap_or_default().to_string())
            } else {
                Ok(typed.to_string())
            }
        }
    }
}

/// A choice by number, exact label or value, or unambiguous start of a
/// label; the answer is the choice (the value), whatever was typed.
fn pick(choices: &[String], labels: &[String], typed: &str) -> std::result::Result<String, String> {
    if let Ok(number) = typed.parse::<usize>()
        && number >= 1
        && number <= choices.len()
    {
        return Ok(choices[number - 1].clone());
    }
    let exact = labels
        .iter()
        .position(|l| l.as_str() == typed)
        .or_else(|| choices.iter().position(|c| c.as_str() == typed));
    if let Some(index) = exact {
        return Ok(choices[index].clone());
    }
    let lower = typed.to_lowercase();
    let starting: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i].to_lowercase().starts_with(&lower))
        .collect();
    match starting.as_slice() {
        [one] => Ok(choices[*one].clone()),
        [] => Err(format!(
            "`{typed}` is not one of the choices (1-{})",
            choices.len()
        )),
        several => Err(format!(
            "`{typed}` could be {}",
            several
                .iter()
                .map(|&i| labels[i].as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::model::{Priority, QuestionType, Source, Template};

    fn question() -> Prompt {
        Prompt {
            template: Template {
                key: "p/name".into(),
                question_type: QuestionType::String,
                priority: Priority::High,
                source: Source::User,
                description: "Name".into(),
                extended: String::new(),
                choices: Vec::new(),
                default: None,
                expression: None,
                line: 0,
                vouched: false,
                translations: Default::default(),
            },
            reason: crate::merge::Reason::Unanswered,
            default: None,
            secret: false,
            labels: Vec::new(),
        }
    }

    /// Nobody types (a pipe kept open): the question is given up once
    /// whoever asked has gone, with why, instead of waiting for ever.
    #[test]
    fn a_watched_question_is_given_up_when_whoever_asked_has_gone() {
        let (read, _write) = std::io::pipe().expect("pipe");
        let read = std::os::fd::OwnedFd::from(read);
        let input = TerminalInput::new(Reader::Tty(std::fs::File::from(read)));
        let mut text = Text::new(Box::new(input), Box::new(io::sink()), 80);
        let checks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = checks.clone();
        let abandoned = Abandoned::new(move || {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (n >= 2).then(|| "apt-get ended".to_string())
        });
        let started = std::time::Instant::now();
        let asked = text.ask_unless(&Context::default(), &[question()], &abandoned);
        assert!(
            matches!(&asked, Err(Error::Ended { by }) if by == "apt-get ended"),
            "{asked:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(checks.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
