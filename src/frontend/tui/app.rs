//! The configurator's state, apart from drawing: which question is shown,
//! what each widget holds, the review screen, the quit dialog, and what
//! the run ends with. Pure: it takes [`Input`]s and is drawn by
//! [`super::ui::draw`], so tests drive it key by key without a terminal.

use std::cell::Cell;
use std::collections::BTreeMap;

use ratatui::crossterm::event::KeyEvent;

use super::keys::{self, KeyAction, Scope, When};
use super::theme::Theme;
use super::widgets::{Component, EventState, Widget};
use crate::frontend::terminal::{MIN_HEIGHT, MIN_WIDTH};
use crate::frontend::{Context, Prompt, strings};
use crate::merge::Reason;

/// What reaches the app from the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Key(KeyEvent),
    Paste(String),
    Resize(u16, u16),
}

/// How a run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The answers, to be committed as one batch.
    Save(BTreeMap<String, String>),
    /// Quit confirmed: nothing is saved.
    Cancel,
    /// The window is too small; go on with the text frontend.
    TextMode,
    /// Back from the first question, when the caller has a step before
    /// ([`Context::back`]): nothing is saved.
    Back,
}

/// One question and its widget.
#[derive(Debug, Clone)]
pub struct Question {
    pub prompt: Prompt,
    pub widget: Widget,
    /// Why the last answer was refused; shown until the next edit.
    pub error: Option<String>,
    /// First visible line of the description.
    pub scroll: u16,
    /// Shown at least once (a note then counts as seen).
    pub shown: bool,
}

/// Which screen is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Question,
    Review,
}

/// The configurator.
#[derive(Debug)]
pub struct App {
    pub context: Context,
    pub questions: Vec<Question>,
    pub current: usize,
    pub view: View,
    /// The quit dialog is open; true when "Quit" has the focus.
    pub quitting: Option<bool>,
    /// The question was opened from the review screen: Enter goes back.
    pub from_review: bool,
    /// Review: the highlighted row (`questions.len()`-style index into
    /// [`App::review_rows`], the last one being Save).
    pub review_cursor: usize,
    /// A passing remark (not an error) under the widget.
    pub notice: Option<&'static str>,
    /// A message on the review screen.
    pub review_message: Option<String>,
    pub theme: Theme,
    /// Window size, when known.
    pub size: Option<(u16, u16)>,
    outcome: Option<Outcome>,
    /// Lines of the current description and rows it got in the last
    /// frame, so scrolling stops at the end.
    pub(crate) description_view: Cell<(u16, u16)>,
    /// Review rows visible in the last frame.
    pub(crate) review_offset: Cell<usize>,
}

impl App {
    pub fn new(context: Context, prompts: Vec<Prompt>, theme: Theme) -> App {
        let questions: Vec<Question> = prompts
            .into_iter()
            .map(|prompt| Question {
                widget: Widget::for_prompt(&prompt),
                prompt,
                error: None,
                scroll: 0,
                shown: false,
            })
            .collect();
        let mut app = App {
            context,
            questions,
            current: 0,
            view: View::Question,
            quitting: None,
            from_review: false,
            review_cursor: 0,
            notice: None,
            review_message: None,
            theme,
            size: None,
            outcome: None,
            description_view: Cell::new((0, 0)),
            review_offset: Cell::new(0),
        };
        app.go_to(0);
        app
    }

    /// The outcome, once the run has ended.
    pub fn take_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    pub fn question(&self) -> Option<&Question> {
        self.questions.get(self.current)
    }

    /// Whether the window is below the minimum size.
    pub fn too_small(&self) -> bool {
        self.size
            .is_some_and(|(w, h)| w < MIN_WIDTH || h < MIN_HEIGHT)
    }

    /// Indices of the questions listed on the review screen.
    pub fn review_rows(&self) -> Vec<usize> {
        (0..self.questions.len())
            .filter(|&i| !self.questions[i].prompt.is_display_only())
            .collect()
    }

    /// Each question's current answer (for handing over to the text
    /// frontend).
    pub fn values(&self) -> Vec<Option<String>> {
        self.questions
            .iter()
            .map(|q| q.widget.value(q.prompt.default.as_deref()).ok())
            .collect()
    }

    /// The key scopes in effect, most specific first.
    pub fn scopes(&self) -> Vec<Scope> {
        if self.quitting.is_some() {
            return vec![Scope::Confirm];
        }
        if self.too_small() {
            return vec![Scope::TooSmall, Scope::Everywhere];
        }
        match (self.view, self.question()) {
            (View::Question, Some(question)) => {
                let mut scopes = question.widget.scopes().to_vec();
                scopes.extend([Scope::Question, Scope::Everywhere]);
                scopes
            }
            _ => vec![Scope::Review, Scope::Everywhere],
        }
    }

    /// The footer: (keys, what they do) for the current screen.
    pub fn hints(&self) -> Vec<(&'static str, &'static str)> {
        let (lines, rows) = self.description_view.get();
        let conflict = self
            .question()
            .is_some_and(|q| matches!(q.prompt.reason, Reason::Conflict { .. }));
        keys::hints(&self.scopes())
            .into_iter()
            .filter(|(_, _, when)| match when {
                When::Always => true,
                When::Conflict => conflict,
                When::Overflow => lines > rows,
                When::NotFirst => self.current > 0,
                When::Answerable => !self.review_rows().is_empty(),
            })
            .map(|(keys, label, _)| (keys, label))
            .collect()
    }

    pub fn handle(&mut self, input: Input) {
        match input {
            Input::Resize(width, height) => self.size = Some((width, height)),
            Input::Paste(text) => {
                if self.quitting.is_none() && self.view == View::Question && !self.too_small() {
                    let current = self.current;
                    if let Some(question) = self.questions.get_mut(current) {
                        self.notice = question.widget.paste(&text);
                        question.error = None;
                    }
                }
            }
            Input::Key(key) => {
                if let Some(action) = keys::lookup(&self.scopes(), key) {
                    self.act(action);
                }
            }
        }
    }

    fn act(&mut self, action: KeyAction) {
        self.notice = None;
        if let Some(quit_focused) = self.quitting {
            match action {
                KeyAction::ConfirmQuit => self.outcome = Some(Outcome::Cancel),
                KeyAction::Resume => self.quitting = None,
                KeyAction::OtherButton => self.quitting = Some(!quit_focused),
                KeyAction::Choose if quit_focused => self.outcome = Some(Outcome::Cancel),
                KeyAction::Choose => self.quitting = None,
                _ => {}
            }
            return;
        }
        match action {
            KeyAction::Quit => {
                self.quitting = Some(false);
                return;
            }
            KeyAction::Escape => {
                let cleared = self.view == View::Question
                    && self
                        .questions
                        .get_mut(self.current)
                        .is_some_and(|q| q.widget.clear());
                if !cleared {
                    self.quitting = Some(false);
                }
                return;
            }
            KeyAction::TextMode => {
                self.outcome = Some(Outcome::TextMode);
                return;
            }
            _ => {}
        }
        match self.view {
            View::Review => self.review_action(action),
            View::Question => self.question_action(action),
        }
    }

    fn question_action(&mut self, action: KeyAction) {
        let Some(question) = self.questions.get_mut(self.current) else {
            return;
        };
        let (lines, rows) = self.description_view.get();
        let last_line = lines.saturating_sub(rows);
        match action {
            KeyAction::Back => {
                self.from_review = false;
                if self.current == 0 && self.context.back {
                    self.outcome = Some(Outcome::Back);
                } else if self.current == 0 {
                    self.notice = Some(strings::FIRST_QUESTION);
                } else {
                    self.go_to(self.current - 1);
                }
            }
            KeyAction::Review => {
                if !self.review_rows().is_empty() {
                    self.open_review(None);
                }
            }
            KeyAction::ScrollUp => question.scroll = question.scroll.saturating_sub(1),
            KeyAction::ScrollDown => question.scroll = (question.scroll + 1).min(last_line),
            KeyAction::PageUp if matches!(question.widget, Widget::Message) => {
                question.scroll = question.scroll.saturating_sub(rows.max(1));
            }
            KeyAction::PageDown if matches!(question.widget, Widget::Message) => {
                question.scroll = (question.scroll + rows.max(1)).min(last_line);
            }
            KeyAction::ToggleConflict => {
                if let Reason::Conflict { document, user } = &question.prompt.reason {
                    let holds_document = question
                        .widget
                        .value(question.prompt.default.as_deref())
                        .is_ok_and(|v| &v == document);
                    let next = if holds_document { user } else { document }.clone();
                    question.widget.set_value(&next);
                    question.error = None;
                }
            }
            KeyAction::Next => {
                if question.widget.event(KeyAction::Next) == EventState::Consumed {
                    return;
                }
                self.accept();
            }
            other => {
                if question.widget.event(other) == EventState::Consumed {
                    question.error = None;
                }
            }
        }
    }

    /// Checks the current answer; moves on when it is good.
    fn accept(&mut self) {
        let Some(question) = self.questions.get_mut(self.current) else {
            return;
        };
        let checked = question
            .widget
            .value(question.prompt.default.as_deref())
            .and_then(|value| question.prompt.check(&value));
        if let Err(message) = checked {
            question.error = Some(message);
            question.widget.refused();
            return;
        }
        question.error = None;
        if self.from_review {
            self.open_review(Some(self.current));
        } else if self.current + 1 < self.questions.len() {
            self.go_to(self.current + 1);
        } else if self.review_rows().is_empty() {
            self.save();
        } else {
            self.open_review(None);
        }
    }

    fn go_to(&mut self, index: usize) {
        self.view = View::Question;
        self.current = index;
        if let Some(question) = self.questions.get_mut(index) {
            question.shown = true;
        }
        self.description_view.set((0, 0));
    }

    /// Opens the review with the cursor on `question`, else on Save.
    fn open_review(&mut self, question: Option<usize>) {
        let rows = self.review_rows();
        self.view = View::Review;
        self.from_review = false;
        self.review_cursor = question
            .and_then(|q| rows.iter().position(|&r| r == q))
            .unwrap_or(rows.len());
    }

    fn review_action(&mut self, action: KeyAction) {
        let rows = self.review_rows();
        let last = rows.len();
        self.review_message = None;
        match action {
            KeyAction::Up => self.review_cursor = self.review_cursor.saturating_sub(1),
            KeyAction::Down => self.review_cursor = (self.review_cursor + 1).min(last),
            KeyAction::PageUp => self.review_cursor = self.review_cursor.saturating_sub(10),
            KeyAction::PageDown => self.review_cursor = (self.review_cursor + 10).min(last),
            KeyAction::Home => self.review_cursor = 0,
            KeyAction::End => self.review_cursor = last,
            KeyAction::Back => self.go_to(self.questions.len().saturating_sub(1)),
            KeyAction::Save => self.save(),
            KeyAction::Choose => match rows.get(self.review_cursor) {
                Some(&index) => {
                    self.go_to(index);
                    self.from_review = true;
                }
                None => self.save(),
            },
            _ => {}
        }
    }

    /// Saves when every answer is good; else opens the first bad one.
    fn save(&mut self) {
        let mut answers = BTreeMap::new();
        let mut bad = Vec::new();
        for (index, question) in self.questions.iter_mut().enumerate() {
            let prompt = &question.prompt;
            if prompt.is_display_only() {
                if question.shown {
                    answers.insert(prompt.template.key.clone(), String::new());
                }
                continue;
            }
            let checked = question
                .widget
                .value(prompt.default.as_deref())
                .and_then(|value| prompt.check(&value).map(|()| value));
            match checked {
                Ok(value) => {
                    answers.insert(prompt.template.key.clone(), value);
                }
                Err(message) => {
                    question.error = Some(message);
                    bad.push(index);
                }
            }
        }
        match bad.first() {
            None => self.outcome = Some(Outcome::Save(answers)),
            Some(&first) => {
                self.review_message = Some(strings::review_blocked(bad.len()));
                self.go_to(first);
                self.from_review = true;
            }
        }
    }
}
