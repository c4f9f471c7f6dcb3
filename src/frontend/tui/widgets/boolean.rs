//! A yes/no question: two rows, the chosen one marked and reversed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Component, EventState};
use crate::frontend::strings;
use crate::frontend::tui::keys::KeyAction;
use crate::frontend::tui::theme::Theme;

#[derive(Debug, Clone)]
pub struct YesNo {
    yes: bool,
}

impl YesNo {
    pub fn new(yes: bool) -> YesNo {
        YesNo { yes }
    }

    /// `true` or `false`, the debconf way.
    pub fn value(&self) -> &'static str {
        if self.yes { "true" } else { "false" }
    }

    pub fn set(&mut self, yes: bool) {
        self.yes = yes;
    }
}

impl Component for YesNo {
    fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let row = |label: &str, chosen: bool| {
            if chosen {
                Line::from(Span::styled(format!("> (*) {label} "), theme.selected()))
            } else {
                Line::from(format!("  ( ) {label} "))
            }
        };
        let lines = vec![row(strings::YES, self.yes), row(strings::NO, !self.yes)];
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn event(&mut self, action: KeyAction) -> EventState {
        match action {
            KeyAction::Yes => self.yes = true,
            KeyAction::No => self.yes = false,
            KeyAction::Flip => self.yes = !self.yes,
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }
}
