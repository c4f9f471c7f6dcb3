//! A password: typed twice, never shown. With a stored password, an empty
//! field keeps it (the stored value is never put on screen, not even
//! masked, so its length does not leak).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::{Component, EventState, LineEditor};
use crate::frontend::strings;
use crate::frontend::tui::keys::KeyAction;
use crate::frontend::tui::theme::Theme;

#[derive(Debug, Clone)]
pub struct PasswordEntry {
    first: LineEditor,
    again: LineEditor,
    /// 0: first field, 1: confirmation.
    focus: usize,
    has_current: bool,
}

impl PasswordEntry {
    pub fn new(has_current: bool) -> PasswordEntry {
        let mut first = LineEditor::masked(strings::PASSWORD_LABEL);
        if has_current {
            first = first.with_placeholder(strings::KEEP_PASSWORD_PLACEHOLDER);
        }
        let mut again = LineEditor::masked(strings::PASSWORD_AGAIN_LABEL);
        again.set_focused(false);
        PasswordEntry {
            first,
            again,
            focus: 0,
            has_current,
        }
    }

    fn focus(&mut self, index: usize) {
        self.focus = index;
        self.first.set_focused(index == 0);
        self.again.set_focused(index == 1);
    }

    /// The password, or why there is none yet.
    pub fn value(&self, current: Option<&str>) -> Result<String, String> {
        if self.first.is_empty() && self.again.is_empty() {
            return match (self.has_current, current) {
                (true, Some(current)) => Ok(current.to_string()),
                _ => Err(strings::ANSWER_REQUIRED.to_string()),
            };
        }
        if self.again.is_empty() {
            return Err(strings::PASSWORD_CONFIRM_NEEDED.to_string());
        }
        if self.first.text() != self.again.text() {
            return Err(strings::PASSWORDS_DIFFER.to_string());
        }
        Ok(self.first.text())
    }

    /// Both fields hold `value` (a conflict switching sides).
    pub fn set_both(&mut self, value: &str) {
        self.first.set_text(value);
        self.again.set_text(value);
    }

    pub fn insert_str(&mut self, text: &str) {
        match self.focus {
            0 => self.first.insert_str(text),
            _ => self.again.insert_str(text),
        }
    }

    /// A refused password: the fix is in the confirmation field (or the
    /// first one when both are empty).
    pub fn refused(&mut self) {
        if self.first.is_empty() {
            self.focus(0);
        } else {
            self.focus(1);
        }
    }
}

impl Component for PasswordEntry {
    fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let [first, again] =
            Layout::vertical([Constraint::Length(3), Constraint::Length(3)]).areas(area);
        self.first.draw(frame, first, theme);
        self.again.draw(frame, again, theme);
    }

    fn event(&mut self, action: KeyAction) -> EventState {
        match action {
            KeyAction::SwitchField => {
                self.focus(1 - self.focus);
                EventState::Consumed
            }
            // Enter after the first entry goes on to the confirmation.
            KeyAction::Next
                if self.focus == 0 && !self.first.is_empty() && self.again.is_empty() =>
            {
                self.focus(1);
                EventState::Consumed
            }
            other => match self.focus {
                0 => self.first.event(other),
                _ => self.again.event(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_text(entry: &mut PasswordEntry, text: &str) {
        for c in text.chars() {
            entry.event(KeyAction::Insert(c));
        }
    }

    #[test]
    fn an_empty_entry_keeps_the_stored_password() {
        let entry = PasswordEntry::new(true);
        assert_eq!(entry.value(Some("old")), Ok("old".to_string()));
    }

    #[test]
    fn an_empty_entry_without_a_stored_password_is_refused() {
        let entry = PasswordEntry::new(false);
        assert!(entry.value(None).is_err());
    }

    #[test]
    fn enter_moves_to_the_confirmation_and_both_must_match() {
        let mut entry = PasswordEntry::new(false);
        type_text(&mut entry, "s3cret");
        assert_eq!(entry.event(KeyAction::Next), EventState::Consumed);
        type_text(&mut entry, "s3cre");
        assert_eq!(
            entry.value(None),
            Err(strings::PASSWORDS_DIFFER.to_string())
        );
        type_text(&mut entry, "t");
        assert_eq!(entry.value(None), Ok("s3cret".to_string()));
    }
}
