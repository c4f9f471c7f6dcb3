//! A list of choices for select (one) and multiselect (checkboxes), with
//! search-as-you-type: typing filters the list to the choices containing
//! the typed text, so a list of two hundred time zones is three keys away.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::{Component, EventState, fit};
use crate::env::model::{join_multiselect, split_multiselect};
use crate::frontend::strings;
use crate::frontend::tui::keys::KeyAction;
use crate::frontend::tui::theme::Theme;

#[derive(Debug, Clone)]
pub struct ChoiceList {
    /// The values; what the answer is made of.
    choices: Vec<String>,
    /// What each choice is shown as and searched by.
    labels: Vec<String>,
    multiple: bool,
    /// Multiselect: which choices are ticked.
    chosen: Vec<bool>,
    /// Short notes after a choice ("document", "current").
    notes: Vec<Option<&'static str>>,
    search: String,
    /// Indices of the choices that match the search.
    matches: Vec<usize>,
    /// Position in `matches`.
    cursor: usize,
    /// The choice last under the cursor.
    highlighted: usize,
    /// The choice highlighted when the search began; Esc returns to it.
    before_search: Option<usize>,
    /// First visible row; kept between frames so the list does not jump.
    offset: Cell<usize>,
    /// Rows visible in the last frame, for PageUp/PageDown.
    page: Cell<usize>,
}

impl ChoiceList {
    fn new(choices: Vec<String>, multiple: bool) -> ChoiceList {
        let count = choices.len();
        ChoiceList {
            multiple,
            chosen: vec![false; count],
            notes: vec![None; count],
            matches: (0..count).collect(),
            labels: choices.clone(),
            choices,
            search: String::new(),
            cursor: 0,
            highlighted: 0,
            before_search: None,
            offset: Cell::new(0),
            page: Cell::new(10),
        }
    }

    /// Pick one; the highlighted choice is the answer.
    pub fn single(choices: Vec<String>, current: Option<&str>) -> ChoiceList {
        let mut list = ChoiceList::new(choices, false);
        if let Some(current) = current {
            list.set_value(current);
        }
        list
    }

    /// Tick any number.
    pub fn multiple(choices: Vec<String>, current: &str) -> ChoiceList {
        let mut list = ChoiceList::new(choices, true);
        list.set_value(current);
        list
    }

    /// Shows `labels` (one per choice, e.g. translations) instead of the
    /// choices; the answer stays the choice.
    pub fn labelled(mut self, labels: Vec<String>) -> ChoiceList {
        if labels.len() == self.choices.len() {
            self.labels = labels;
        }
        self
    }

    pub fn is_multiple(&self) -> bool {
        self.multiple
    }

    pub fn annotate(&mut self, index: usize, note: &'static str) {
        if let Some(slot) = self.notes.get_mut(index) {
            *slot = Some(note);
        }
    }

    pub fn value(&self) -> Result<String, String> {
        if self.multiple {
            let ticked: Vec<&String> = self
                .choices
                .iter()
                .zip(&self.chosen)
                .filter(|(_, ticked)| **ticked)
                .map(|(choice, _)| choice)
                .collect();
            Ok(join_multiselect(&ticked))
        } else {
            self.matches
                .get(self.cursor)
                .map(|&i| self.choices[i].clone())
                .ok_or_else(|| strings::NO_CHOICE_MATCHES.to_string())
        }
    }

    pub fn set_value(&mut self, value: &str) {
        self.clear_search();
        if self.multiple {
            let items = split_multiselect(value);
            for (choice, ticked) in self.choices.iter().zip(self.chosen.iter_mut()) {
                *ticked = items.contains(choice);
            }
        } else if let Some(index) = self.choices.iter().position(|c| c == value) {
            self.cursor = index;
        }
    }

    pub fn heights(&self) -> (u16, u16) {
        let rows = u16::try_from(self.choices.len()).unwrap_or(u16::MAX);
        (rows.saturating_add(2), rows.min(3) + 2)
    }

    /// Clears the search; true when there was one.
    pub fn clear_search(&mut self) -> bool {
        if self.search.is_empty() {
            return false;
        }
        self.search.clear();
        self.refilter();
        if let Some(index) = self.before_search.take() {
            self.highlighted = index;
            self.cursor = index;
        }
        true
    }

    pub fn search_str(&mut self, text: &str) {
        if self.search.is_empty() {
            self.before_search = self.matches.get(self.cursor).copied();
        }
        self.search.extend(text.chars().filter(|c| !c.is_control()));
        self.refilter();
    }

    fn refilter(&mut self) {
        // Keep the highlighted choice through searches that hide it
        // (a search matching nothing, then cleared, returns to it).
        if let Some(&index) = self.matches.get(self.cursor) {
            self.highlighted = index;
        }
        let under_cursor = Some(self.highlighted);
        let needle = self.search.to_lowercase();
        self.matches = (0..self.choices.len())
            .filter(|&i| self.labels[i].to_lowercase().contains(&needle))
            .collect();
        self.cursor = under_cursor
            .and_then(|i| self.matches.iter().position(|&m| m == i))
            .unwrap_or(0);
    }

    fn move_by(&mut self, delta: isize) {
        if self.matches.is_empty() {
            return;
        }
        let last = self.matches.len() - 1;
        self.cursor = self.cursor.saturating_add_signed(delta).min(last);
    }

    fn row<'a>(&self, index: usize, selected: bool, width: usize, theme: &Theme) -> Line<'a> {
        let choice = &self.labels[index];
        let marker = if selected { "> " } else { "  " };
        let tick = match (self.multiple, self.chosen[index]) {
            (false, _) => "",
            (true, true) => "[x] ",
            (true, false) => "[ ] ",
        };
        let note = self.notes[index]
            .map(|n| format!("  ({n})"))
            .unwrap_or_default();
        let room = width.saturating_sub(marker.len() + tick.len() + note.width());
        let name = fit(choice, room.max(1), theme);
        let base = if selected {
            theme.selected()
        } else {
            ratatui::style::Style::new()
        };
        let mut spans = vec![Span::styled(format!("{marker}{tick}"), base)];
        // Underline the part that matches the search.
        let found = (!self.search.is_empty() && choice.to_lowercase().len() == choice.len())
            .then(|| choice.to_lowercase().find(&self.search.to_lowercase()))
            .flatten()
            .filter(|&at| at + self.search.len() <= name.len());
        match found {
            Some(at) => {
                let end = at + self.search.len();
                spans.push(Span::styled(name[..at].to_string(), base));
                spans.push(Span::styled(
                    name[at..end].to_string(),
                    base.patch(theme.search_match()),
                ));
                spans.push(Span::styled(name[end..].to_string(), base));
            }
            None => spans.push(Span::styled(name, base)),
        }
        if !note.is_empty() {
            spans.push(Span::styled(
                note,
                if selected { base } else { theme.dim() },
            ));
        }
        let used: usize = spans.iter().map(|s| s.content.width()).sum();
        if selected && used < width {
            spans.push(Span::styled(" ".repeat(width - used), base));
        }
        Line::from(spans)
    }
}

impl Component for ChoiceList {
    fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let mut block = Block::bordered()
            .border_set(theme.border())
            .border_style(theme.field(true));
        if !self.search.is_empty() {
            block = block.title(Line::from(vec![
                Span::styled(format!(" {}: ", strings::SEARCH_LABEL), theme.title()),
                Span::styled(format!("{} ", self.search), theme.search_match()),
            ]));
            block = block.title_bottom(
                Line::from(format!(
                    " {} ",
                    strings::search_status(self.matches.len(), self.choices.len())
                ))
                .right_aligned(),
            );
        } else if self.multiple {
            let ticked = self.chosen.iter().filter(|t| **t).count();
            block = block.title_bottom(
                Line::from(format!(
                    " {} ",
                    strings::selected_count(ticked, self.choices.len())
                ))
                .right_aligned(),
            );
        }
        let inner = block.inner(area);
        let visible = usize::from(inner.height).max(1);
        if self.matches.len() > visible {
            block = block.title_bottom(
                Line::from(format!(" {}/{} ", self.cursor + 1, self.matches.len())).left_aligned(),
            );
        }
        frame.render_widget(block, area);
        self.page.set(visible);
        let mut offset = self
            .offset
            .get()
            .min(self.matches.len().saturating_sub(visible));
        if self.cursor < offset {
            offset = self.cursor;
        } else if self.cursor >= offset + visible {
            offset = self.cursor + 1 - visible;
        }
        self.offset.set(offset);
        let width = usize::from(inner.width);
        let lines: Vec<Line> = if self.matches.is_empty() {
            vec![Line::from(Span::styled(
                format!("  {}", strings::NO_CHOICE_MATCHES),
                theme.dim(),
            ))]
        } else {
            self.matches
                .iter()
                .enumerate()
                .skip(offset)
                .take(visible)
                .map(|(position, &index)| self.row(index, position == self.cursor, width, theme))
                .collect()
        };
        frame.render_widget(Paragraph::new(lines), inner);
    }

    fn event(&mut self, action: KeyAction) -> EventState {
        let page = isize::try_from(self.page.get().max(1)).unwrap_or(10);
        match action {
            KeyAction::Up => self.move_by(-1),
            KeyAction::Down => self.move_by(1),
            KeyAction::PageUp => self.move_by(-page),
            KeyAction::PageDown => self.move_by(page),
            KeyAction::Home => self.cursor = 0,
            KeyAction::End => self.cursor = self.matches.len().saturating_sub(1),
            KeyAction::Insert(c) => self.search_str(&c.to_string()),
            KeyAction::DeleteBack => {
                if self.search.pop().is_none() {
                    return EventState::NotConsumed;
                }
                self.refilter();
            }
            KeyAction::DeleteToStart => {
                self.clear_search();
            }
            KeyAction::Toggle if self.multiple => {
                if let Some(&index) = self.matches.get(self.cursor) {
                    self.chosen[index] = !self.chosen[index];
                }
            }
            KeyAction::ToggleAll if self.multiple => {
                let all = self.matches.iter().all(|&i| self.chosen[i]);
                for &i in &self.matches {
                    self.chosen[i] = !all;
                }
            }
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones() -> Vec<String> {
        [
            "Europe/Berlin",
            "Europe/Paris",
            "America/New_York",
            "Asia/Tokyo",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn typing_filters_and_enter_takes_the_first_match() {
        let mut list = ChoiceList::single(zones(), None);
        for c in "tok".chars() {
            list.event(KeyAction::Insert(c));
        }
        assert_eq!(list.value(), Ok("Asia/Tokyo".to_string()));
    }

    #[test]
    fn a_search_without_matches_has_no_value() {
        let mut list = ChoiceList::single(zones(), Some("Europe/Paris"));
        list.search_str("xyz");
        assert!(list.value().is_err());
        list.clear_search();
        assert_eq!(list.value(), Ok("Europe/Paris".to_string()));
    }

    #[test]
    fn toggling_all_applies_to_the_filtered_choices_only() {
        let mut list = ChoiceList::multiple(zones(), "");
        list.search_str("europe");
        list.event(KeyAction::ToggleAll);
        list.clear_search();
        assert_eq!(list.value(), Ok("Europe/Berlin, Europe/Paris".to_string()));
    }

    #[test]
    fn a_labelled_list_is_searched_by_label_and_answers_with_the_choice() {
        let labels = [
            "Europa/Berlin",
            "Europa/Paris",
            "Amerika/New York",
            "Asien/Tokio",
        ]
        .map(String::from)
        .to_vec();
        let mut list = ChoiceList::multiple(zones(), "Asia/Tokyo").labelled(labels.clone());
        list.search_str("europa");
        list.event(KeyAction::ToggleAll);
        list.clear_search();
        assert_eq!(
            list.value(),
            Ok("Europe/Berlin, Europe/Paris, Asia/Tokyo".to_string())
        );
        let mut single = ChoiceList::single(zones(), Some("Europe/Paris")).labelled(labels);
        single.search_str("tokio");
        assert_eq!(single.value(), Ok("Asia/Tokyo".to_string()));
    }
}
