//! A one-line text field with a cursor, readline-style editing, paste,
//! horizontal scrolling for long values, and masking for secrets.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::UnicodeWidthChar;

use super::{Component, EventState};
use crate::frontend::tui::keys::KeyAction;
use crate::frontend::tui::theme::Theme;

/// What a masked character looks like.
const MASK_CHAR: char = '*';

/// A single-line editor.
#[derive(Debug, Clone)]
pub struct LineEditor {
    label: &'static str,
    chars: Vec<char>,
    /// Cursor position in characters, 0..=len.
    cursor: usize,
    masked: bool,
    focused: bool,
    placeholder: Option<&'static str>,
}

impl LineEditor {
    pub fn new(label: &'static str, text: &str) -> LineEditor {
        let chars: Vec<char> = text.chars().collect();
        LineEditor {
            label,
            cursor: chars.len(),
            chars,
            masked: false,
            focused: true,
            placeholder: None,
        }
    }

    /// A field whose characters are shown as `*`.
    pub fn masked(label: &'static str) -> LineEditor {
        LineEditor {
            masked: true,
            ..LineEditor::new(label, "")
        }
    }

    pub fn with_placeholder(mut self, placeholder: &'static str) -> LineEditor {
        self.placeholder = Some(placeholder);
        self
    }

    pub fn set_focused(&mut self, focused: bool) {
        self.focused = focused;
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn set_text(&mut self, text: &str) {
        self.chars = text.chars().collect();
        self.cursor = self.chars.len();
    }

    /// Inserts at the cursor; control characters are dropped.
    pub fn insert_str(&mut self, text: &str) {
        for c in text.chars().filter(|c| !c.is_control()) {
            self.chars.insert(self.cursor, c);
            self.cursor += 1;
        }
    }

    fn word_start(&self) -> usize {
        let mut i = self.cursor;
        while i > 0 && self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        while i > 0 && !self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        i
    }

    fn word_end(&self) -> usize {
        let mut i = self.cursor;
        let len = self.chars.len();
        while i < len && self.chars[i].is_whitespace() {
            i += 1;
        }
        while i < len && !self.chars[i].is_whitespace() {
            i += 1;
        }
        i
    }

    fn shown_char(&self, c: char) -> char {
        if self.masked { MASK_CHAR } else { c }
    }

    fn char_width(&self, c: char) -> usize {
        self.shown_char(c).width().unwrap_or(0)
    }
}

impl Component for LineEditor {
    fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let block = Block::bordered()
            .border_set(theme.border())
            .border_style(theme.field(self.focused))
            .title(Span::styled(
                format!(" {} ", self.label),
                if self.focused {
                    theme.title()
                } else {
                    theme.dim()
                },
            ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if inner.width == 0 || inner.height == 0 {
            return;
        }
        let room = usize::from(inner.width).saturating_sub(1).max(1);
        // Scroll so the cursor stays visible, keeping the start when it can.
        let mut start = 0;
        let mut before: usize = self.chars[..self.cursor]
            .iter()
            .map(|&c| self.char_width(c))
            .sum();
        while before > room && start < self.cursor {
            before -= self.char_width(self.chars[start]);
            start += 1;
        }
        let line = if self.chars.is_empty() {
            match self.placeholder {
                Some(placeholder) => Line::from(Span::styled(placeholder, theme.dim())),
                None => Line::default(),
            }
        } else {
            let shown: String = self.chars[start..]
                .iter()
                .map(|&c| self.shown_char(c))
                .collect();
            Line::from(shown)
        };
        frame.render_widget(Paragraph::new(line), inner);
        if self.focused {
            let x = inner.x + u16::try_from(before).unwrap_or(inner.width);
            frame.set_cursor_position(Position::new(x.min(inner.right() - 1), inner.y));
        }
    }

    fn event(&mut self, action: KeyAction) -> EventState {
        let len = self.chars.len();
        match action {
            KeyAction::Insert(c) => self.insert_str(&c.to_string()),
            KeyAction::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyAction::Right => self.cursor = (self.cursor + 1).min(len),
            KeyAction::Home => self.cursor = 0,
            KeyAction::End => self.cursor = len,
            KeyAction::WordLeft => self.cursor = self.word_start(),
            KeyAction::WordRight => self.cursor = self.word_end(),
            KeyAction::DeleteBack if self.cursor > 0 => {
                self.cursor -= 1;
                self.chars.remove(self.cursor);
            }
            KeyAction::DeleteBack => {}
            KeyAction::DeleteForward if self.cursor < len => {
                self.chars.remove(self.cursor);
            }
            KeyAction::DeleteForward => {}
            KeyAction::DeleteWordBack => {
                let start = self.word_start();
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
            KeyAction::DeleteToStart => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            KeyAction::DeleteToEnd => self.chars.truncate(self.cursor),
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(editor: &mut LineEditor, actions: &[KeyAction]) -> String {
        for &action in actions {
            editor.event(action);
        }
        editor.text()
    }

    #[test]
    fn typing_inserts_at_the_cursor() {
        let mut editor = LineEditor::new("Value", "held");
        let text = typed(
            &mut editor,
            &[
                KeyAction::Home,
                KeyAction::Insert('u'),
                KeyAction::Insert('p'),
                KeyAction::End,
                KeyAction::Insert('!'),
            ],
        );
        assert_eq!(text, "upheld!");
    }

    #[test]
    fn word_deletion_stops_at_whitespace() {
        let mut editor = LineEditor::new("Value", "one two  three");
        assert_eq!(
            typed(&mut editor, &[KeyAction::DeleteWordBack]),
            "one two  "
        );
        assert_eq!(typed(&mut editor, &[KeyAction::DeleteWordBack]), "one ");
    }

    #[test]
    fn kill_to_start_and_end_split_at_the_cursor() {
        let mut editor = LineEditor::new("Value", "abcdef");
        typed(&mut editor, &[KeyAction::Left, KeyAction::Left]);
        assert_eq!(typed(&mut editor, &[KeyAction::DeleteToEnd]), "abcd");
        typed(&mut editor, &[KeyAction::Left]);
        assert_eq!(typed(&mut editor, &[KeyAction::DeleteToStart]), "d");
    }

    #[test]
    fn pasted_control_characters_are_dropped() {
        let mut editor = LineEditor::new("Value", "");
        editor.insert_str("a\tb\u{1b}c");
        assert_eq!(editor.text(), "abc");
    }
}
