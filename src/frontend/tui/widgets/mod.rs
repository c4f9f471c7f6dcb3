//! The input widgets, one per kind of question.
//!
//! [`Widget::for_prompt`] is the one place that maps a question type to
//! its widget; each widget is a component (`draw` + `event`) that knows
//! nothing of the screen around it. Widgets receive [`KeyAction`]s from the
//! key table, never raw keys.

mod boolean;
mod choice_list;
mod line_editor;
mod password;

use ratatui::Frame;
use ratatui::layout::Rect;

pub use boolean::YesNo;
pub use choice_list::ChoiceList;
pub use line_editor::LineEditor;
pub use password::PasswordEntry;

use super::keys::{KeyAction, Scope};
use super::theme::Theme;
use crate::env::model::QuestionType;
use crate::frontend::{Prompt, strings};

/// Whether a component used an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    Consumed,
    NotConsumed,
}

/// Something on screen that draws itself and reacts to actions.
pub trait Component {
    fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme);
    fn event(&mut self, action: KeyAction) -> EventState;
}

/// The widget of one question.
#[derive(Debug, Clone)]
pub enum Widget {
    Line(LineEditor),
    Password(PasswordEntry),
    Boolean(YesNo),
    Choices(ChoiceList),
    /// Notes and other display-only questions: the description is all.
    Message,
}

impl Widget {
    /// The widget for a question, holding `current` (else the default).
    pub fn for_prompt(prompt: &Prompt) -> Widget {
        let current = prompt.default.as_deref();
        let choices = &prompt.template.choices;
        match prompt.template.question_type {
            QuestionType::String => {
                Widget::Line(LineEditor::new(strings::VALUE_LABEL, current.unwrap_or("")))
            }
            QuestionType::Password => Widget::Password(PasswordEntry::new(current.is_some())),
            QuestionType::Boolean => Widget::Boolean(YesNo::new(current == Some("true"))),
            QuestionType::Select => {
                let mut list = ChoiceList::single(choices.clone(), current)
                    .labelled(prompt.choice_labels().to_vec());
                for (i, choice) in choices.iter().enumerate() {
                    if let Some(note) = prompt.choice_note(choice) {
                        list.annotate(i, note);
                    }
                }
                Widget::Choices(list)
            }
            QuestionType::Multiselect => Widget::Choices(
                ChoiceList::multiple(choices.clone(), current.unwrap_or(""))
                    .labelled(prompt.choice_labels().to_vec()),
            ),
            QuestionType::Note | QuestionType::Text | QuestionType::Title | QuestionType::Error => {
                Widget::Message
            }
        }
    }

    /// The key scopes of this widget, most specific first.
    pub fn scopes(&self) -> &'static [Scope] {
        match self {
            Widget::Line(_) => &[Scope::Editor],
            Widget::Password(_) => &[Scope::Password, Scope::Editor],
            Widget::Boolean(_) => &[Scope::Boolean],
            Widget::Choices(list) if list.is_multiple() => &[Scope::Multiselect, Scope::List],
            Widget::Choices(_) => &[Scope::List],
            Widget::Message => &[Scope::Message],
        }
    }

    /// The answer as the widget holds it; `current` is what a password
    /// left empty keeps. Errors say what is missing.
    pub fn value(&self, current: Option<&str>) -> Result<String, String> {
        match self {
            Widget::Line(editor) => Ok(editor.text()),
            Widget::Password(entry) => entry.value(current),
            Widget::Boolean(yes_no) => Ok(yes_no.value().to_string()),
            Widget::Choices(list) => list.value(),
            Widget::Message => Ok(String::new()),
        }
    }

    /// Replaces the answer (a conflict switching sides).
    pub fn set_value(&mut self, value: &str) {
        match self {
            Widget::Line(editor) => editor.set_text(value),
            Widget::Password(entry) => entry.set_both(value),
            Widget::Boolean(yes_no) => yes_no.set(value == "true"),
            Widget::Choices(list) => list.set_value(value),
            Widget::Message => {}
        }
    }

    /// Rows the widget would like and the fewest it can work with.
    pub fn heights(&self) -> (u16, u16) {
        match self {
            Widget::Line(_) => (3, 3),
            Widget::Password(_) => (6, 6),
            Widget::Boolean(_) => (2, 2),
            Widget::Choices(list) => list.heights(),
            Widget::Message => (0, 0),
        }
    }

    /// Esc: clears a search; true when there was one.
    pub fn clear(&mut self) -> bool {
        match self {
            Widget::Choices(list) => list.clear_search(),
            _ => false,
        }
    }

    /// After an answer was refused: put the focus where the fix goes.
    pub fn refused(&mut self) {
        if let Widget::Password(entry) = self {
            entry.refused();
        }
    }

    /// Pasted text; returns a notice when not all of it was taken.
    pub fn paste(&mut self, text: &str) -> Option<&'static str> {
        let text = text.trim_end_matches(['\r', '\n']);
        let first = text.lines().next().unwrap_or("");
        let cut = first.len() < text.len();
        match self {
            Widget::Line(editor) => editor.insert_str(first),
            Widget::Password(entry) => entry.insert_str(first),
            Widget::Choices(list) => list.search_str(first),
            Widget::Boolean(_) | Widget::Message => return None,
        }
        cut.then_some(strings::PASTE_FIRST_LINE)
    }
}

impl Component for Widget {
    fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        match self {
            Widget::Line(editor) => editor.draw(frame, area, theme),
            Widget::Password(entry) => entry.draw(frame, area, theme),
            Widget::Boolean(yes_no) => yes_no.draw(frame, area, theme),
            Widget::Choices(list) => list.draw(frame, area, theme),
            Widget::Message => {}
        }
    }

    fn event(&mut self, action: KeyAction) -> EventState {
        match self {
            Widget::Line(editor) => editor.event(action),
            Widget::Password(entry) => entry.event(action),
            Widget::Boolean(yes_no) => yes_no.event(action),
            Widget::Choices(list) => list.event(action),
            Widget::Message => EventState::NotConsumed,
        }
    }
}

/// Cuts `text` to `width` columns, marking the cut.
pub fn fit(text: &str, width: usize, theme: &Theme) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if text.width() <= width {
        return text.to_string();
    }
    let ellipsis = theme.ellipsis();
    let room = width.saturating_sub(ellipsis.width());
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push_str(ellipsis);
    }
    out
}
