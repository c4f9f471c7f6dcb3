//! Drawing the configurator: header (package, environment, machine,
//! progress), the question or review screen, the footer with the keys,
//! the quit dialog, and the message for a window too small to use.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::app::{App, Question, View};
use super::widgets::{Component, fit};
use crate::frontend::terminal::{MIN_HEIGHT, MIN_WIDTH};
use crate::frontend::wrap::wrap;
use crate::frontend::{Context, strings};
use crate::merge::Reason;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if app.too_small() || area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, app, area);
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, app, header);
    let body = body.inner(Margin::new(1, 1));
    match (app.view, app.question()) {
        (View::Question, Some(question)) => draw_question(frame, app, question, body),
        _ => draw_review(frame, app, body),
    }
    draw_footer(frame, app, footer);
    if let Some(quit_focused) = app.quitting {
        draw_quit_dialog(frame, app, area, quit_focused);
    }
}

fn where_(context: &Context) -> String {
    let mut parts = Vec::new();
    if let Some(shown) = context.title.as_ref().or(context.package.as_ref()) {
        parts.push(shown.clone());
    }
    parts.push(context.environment.clone());
    if let Some(machine) = &context.machine {
        parts.push(machine.clone());
    }
    parts.join(" · ")
}

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let theme = &app.theme;
    let progress = match app.view {
        View::Question => strings::progress(app.current + 1, app.questions.len()),
        View::Review => strings::REVIEW_PROGRESS.to_string(),
    };
    let width = usize::from(area.width);
    let right = format!(" {progress} ");
    let left_room = width.saturating_sub(right.width() + 1);
    let left = fit(
        &format!(" {}: {}", strings::PRODUCT, where_(&app.context)),
        left_room,
        theme,
    );
    let gap = width.saturating_sub(left.width() + right.width());
    let line = Line::from(vec![
        Span::styled(
            left,
            theme.bar().add_modifier(ratatui::style::Modifier::BOLD),
        ),
        Span::styled(" ".repeat(gap), theme.bar()),
        Span::styled(right, theme.bar()),
    ]);
    frame.render_widget(Paragraph::new(line).style(theme.bar()), area);
}

fn draw_footer(frame: &mut Frame, app: &App, area: Rect) {
    let theme = &app.theme;
    let mut hints = app.hints();
    let width = |hints: &[(&str, &str)]| -> usize {
        hints
            .iter()
            .map(|(keys, label)| keys.width() + 1 + label.width() + 3)
            .sum::<usize>()
            + 1
    };
    // Too many for the width: drop the optional ones from the end, never
    // the ways forward and out.
    let essential = [
        strings::HINT_NEXT,
        strings::HINT_QUIT,
        strings::HINT_SAVE,
        strings::HINT_TEXT_MODE,
    ];
    while width(&hints) > usize::from(area.width) {
        match hints
            .iter()
            .rposition(|(_, label)| !essential.contains(label))
        {
            Some(index) => {
                hints.remove(index);
            }
            None => break,
        }
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (keys, label)) in hints.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.dim()));
        }
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::raw(format!(" {label}")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The lines explaining why the question is asked, wrapped to `width`.
fn reason_lines<'a>(question: &Question, app: &App, width: usize) -> Vec<Line<'a>> {
    let theme = &app.theme;
    let prompt = &question.prompt;
    match &prompt.reason {
        Reason::Conflict { document, user } => {
            let mut lines = vec![Line::from(Span::styled(
                format!("! {}", strings::CONFLICT_TITLE),
                theme.warning(),
            ))];
            if prompt.is_secret() {
                lines.push(Line::from(format!("  {}", strings::CONFLICT_SECRET)));
            } else {
                let label_width = strings::CONFLICT_DOCUMENT
                    .width()
                    .max(strings::CONFLICT_YOURS.width());
                for (label, value) in [
                    (strings::CONFLICT_DOCUMENT, document),
                    (strings::CONFLICT_YOURS, user),
                ] {
                    lines.push(Line::from(vec![
                        Span::raw(format!("  {label:label_width$} ")),
                        Span::styled(prompt.shown(value), theme.title()),
                    ]));
                }
            }
            for line in wrap(strings::CONFLICT_HELP, width.saturating_sub(2)) {
                lines.push(Line::from(Span::styled(format!("  {line}"), theme.dim())));
            }
            lines
        }
        other => strings::reason_line(other)
            .map(|text| {
                wrap(text, width)
                    .into_iter()
                    .map(|line| Line::from(Span::styled(line, theme.dim())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn draw_question(frame: &mut Frame, app: &App, question: &Question, area: Rect) {
    let theme = &app.theme;
    let prompt = &question.prompt;
    let width = usize::from(area.width);

    // Title line: the short description, the key and kind at the right.
    let tag = format!(
        "{} · {}",
        prompt.template.key,
        strings::type_label(prompt.template.question_type)
    );
    let title_style = if prompt.template.question_type == crate::env::model::QuestionType::Error {
        theme.error()
    } else {
        theme.title()
    };
    let tag_fits = prompt.template.description.width() + tag.width() + 2 <= width;
    let title = fit(&prompt.template.description, width, theme);
    let mut title_spans = vec![Span::styled(title.clone(), title_style)];
    if tag_fits {
        let gap = width - title.width() - tag.width();
        title_spans.push(Span::raw(" ".repeat(gap)));
        title_spans.push(Span::styled(tag, theme.dim()));
    }

    let mut reason = if prompt.is_display_only() {
        Vec::new()
    } else {
        reason_lines(question, app, width)
    };
    // On a short window the reason must leave room for the widget.
    reason.truncate(usize::from(area.height / 2));
    let reason_height = u16::try_from(reason.len()).unwrap_or(0);
    let description = wrap(&prompt.template.extended, width);
    let description_lines = u16::try_from(description.len()).unwrap_or(u16::MAX);
    let (widget_preferred, widget_min) = question.widget.heights();

    // title, gap, reason (+gap), description (+gap), widget, message line.
    let fixed =
        2 + if reason_height > 0 {
            reason_height + 1
        } else {
            0
        } + 1;
    let room = area.height.saturating_sub(fixed);
    let description_wanted = if description_lines > 0 {
        description_lines + 1
    } else {
        0
    };
    let widget_height = if widget_preferred == 0 {
        0
    } else {
        widget_preferred
            .min(room.saturating_sub(description_wanted.min(3)))
            .max(widget_min.min(room))
    };
    // A note's text may fill the screen; otherwise the widget follows
    // the description and the space left over stays below.
    let description_height = if widget_height == 0 {
        room
    } else {
        room.saturating_sub(widget_height).min(description_wanted)
    };

    let [
        title_area,
        _,
        reason_area,
        description_area,
        widget_area,
        message_area,
        _,
    ] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(if reason_height > 0 {
            reason_height + 1
        } else {
            0
        }),
        Constraint::Length(description_height),
        Constraint::Length(widget_height),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(title_spans)), title_area);
    frame.render_widget(Paragraph::new(reason), reason_area);

    // The description, scrolled; the last row says when there is more.
    // A gap separates it from the widget when there is room for one.
    let text_rows = if widget_height > 0 && description_height >= 3 {
        description_height - 1
    } else {
        description_height
    };
    let overflow = description_lines > text_rows;
    let shown_rows = if overflow {
        text_rows.saturating_sub(1)
    } else {
        text_rows
    };
    app.description_view.set((description_lines, shown_rows));
    let scroll = question
        .scroll
        .min(description_lines.saturating_sub(shown_rows));
    let mut lines: Vec<Line> = description
        .iter()
        .skip(usize::from(scroll))
        .take(usize::from(shown_rows))
        .map(|l| Line::from(l.clone()))
        .collect();
    if overflow {
        let more = if scroll + shown_rows < description_lines {
            strings::MORE_BELOW
        } else {
            strings::MORE_ABOVE
        };
        lines.push(Line::from(Span::styled(format!("[{more}]"), theme.dim())));
    }
    if prompt.is_display_only() && !overflow && usize::from(text_rows) > lines.len() + 1 {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            strings::CONTINUE_HINT,
            theme.dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), description_area);

    question.widget.draw(frame, widget_area, theme);

    let message = match (&question.error, app.notice) {
        (Some(error), _) => Line::from(Span::styled(format!("! {error}"), theme.error())),
        (None, Some(notice)) => Line::from(Span::styled(notice, theme.notice())),
        (None, None) => Line::default(),
    };
    frame.render_widget(Paragraph::new(message), message_area);
}

fn draw_review(frame: &mut Frame, app: &App, area: Rect) {
    let theme = &app.theme;
    let rows = app.review_rows();
    // Rows, a gap, Save, and the frame.
    let wanted = u16::try_from(rows.len())
        .unwrap_or(u16::MAX)
        .saturating_add(4);
    let [title_area, intro_area, list_area, message_area, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Max(wanted),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Span::styled(strings::REVIEW_TITLE, theme.title())),
        title_area,
    );
    frame.render_widget(
        Paragraph::new(Span::styled(strings::REVIEW_INTRO, theme.dim())),
        intro_area,
    );
    let block = Block::bordered()
        .border_set(theme.border())
        .border_style(theme.field(true));
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);

    let width = usize::from(inner.width);
    let notes: Vec<String> = rows
        .iter()
        .map(|&i| review_note(&app.questions[i]))
        .collect();
    let note_width = notes.iter().map(|n| n.width()).max().unwrap_or(0);
    let name_width = rows
        .iter()
        .map(|&i| app.questions[i].prompt.template.description.width())
        .max()
        .unwrap_or(0)
        .min(width * 2 / 5);
    let value_width = width.saturating_sub(2 + name_width + 2 + 2 + note_width);

    let mut lines: Vec<Line> = rows
        .iter()
        .zip(&notes)
        .enumerate()
        .map(|(position, (&index, note))| {
            let question = &app.questions[index];
            let prompt = &question.prompt;
            let selected = position == app.review_cursor;
            let value = match question.widget.value(prompt.default.as_deref()) {
                Ok(value) if prompt.is_secret() && Some(&value) == prompt.default.as_ref() => {
                    strings::REVIEW_KEPT_PASSWORD.to_string()
                }
                Ok(value) => prompt.shown(&value),
                Err(_) => String::new(),
            };
            let name = fit(&prompt.template.description, name_width, theme);
            let value = fit(&value, value_width.max(1), theme);
            let text = format!(
                "{}{:name_w$}  {:value_w$}  {}",
                if selected { "> " } else { "  " },
                name,
                value,
                note,
                name_w = name_width,
                value_w = value_width,
            );
            let style = match (selected, question.error.is_some()) {
                (true, _) => theme.selected(),
                (false, true) => theme.error(),
                (false, false) => ratatui::style::Style::new(),
            };
            let pad = width.saturating_sub(text.width());
            Line::from(Span::styled(format!("{text}{}", " ".repeat(pad)), style))
        })
        .collect();
    let save_selected = app.review_cursor >= rows.len();
    let save = format!("[ {} ]", strings::REVIEW_SAVE);
    lines.push(Line::default());
    lines.push(if save_selected {
        Line::from(vec![Span::raw("> "), Span::styled(save, theme.selected())])
    } else {
        Line::from(format!("  {save}"))
    });

    // Scroll so the highlighted row (or Save) is visible.
    let visible = usize::from(inner.height).max(1);
    let cursor_line = if save_selected {
        lines.len() - 1
    } else {
        app.review_cursor
    };
    let mut offset = app.review_offset.get();
    if cursor_line < offset {
        offset = cursor_line;
    } else if cursor_line >= offset + visible {
        offset = cursor_line + 1 - visible;
    }
    app.review_offset.set(offset);
    let lines: Vec<Line> = lines.into_iter().skip(offset).take(visible).collect();
    frame.render_widget(Paragraph::new(lines), inner);

    if let Some(message) = &app.review_message {
        frame.render_widget(
            Paragraph::new(Span::styled(format!("! {message}"), theme.error())),
            message_area,
        );
    }
}

/// The review's last column: what the answer does.
fn review_note(question: &Question) -> String {
    let prompt = &question.prompt;
    if let Some(error) = &question.error {
        return format!("! {error}");
    }
    let Ok(value) = question.widget.value(prompt.default.as_deref()) else {
        return String::new();
    };
    match &prompt.reason {
        Reason::Conflict { document, .. } if &value == document => {
            strings::REVIEW_DOCUMENT.to_string()
        }
        Reason::Conflict { user, .. } if &value == user => strings::REVIEW_YOURS.to_string(),
        _ if prompt.default.is_none() => strings::REVIEW_NEW.to_string(),
        _ if Some(&value) != prompt.default.as_ref() => strings::REVIEW_CHANGED.to_string(),
        _ => String::new(),
    }
}

fn draw_quit_dialog(frame: &mut Frame, app: &App, area: Rect, quit_focused: bool) {
    let theme = &app.theme;
    let width = area.width.saturating_sub(4).min(60);
    let text_width = usize::from(width.saturating_sub(4));
    let body = wrap(strings::QUIT_BODY, text_width);
    let height = u16::try_from(body.len()).unwrap_or(3) + 5;
    let dialog = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height: height.min(area.height),
    };
    frame.render_widget(Clear, dialog);
    let block = Block::bordered()
        .border_set(theme.border())
        .border_style(theme.warning())
        .title(Span::styled(
            format!(" {} ", strings::QUIT_TITLE),
            theme.warning(),
        ));
    let inner = block.inner(dialog).inner(Margin::new(1, 0));
    frame.render_widget(block, dialog);
    let button = |label: &str, focused: bool| {
        if focused {
            Span::styled(format!("[ {label} ]"), theme.selected())
        } else {
            Span::raw(format!("  {label}  "))
        }
    };
    let mut lines: Vec<Line> = body.into_iter().map(Line::from).collect();
    lines.push(Line::default());
    lines.push(
        Line::from(vec![
            button(strings::QUIT_CONFIRM, quit_focused),
            Span::raw("    "),
            button(strings::QUIT_CANCEL, !quit_focused),
        ])
        .alignment(Alignment::Center),
    );
    lines.push(
        Line::from(Span::styled(strings::QUIT_KEYS, theme.dim())).alignment(Alignment::Center),
    );
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_too_small(frame: &mut Frame, app: &App, area: Rect) {
    let theme = &app.theme;
    let (width, height) = app.size.unwrap_or((area.width, area.height));
    let mut lines = vec![
        Line::from(Span::styled(
            strings::too_small(width, height, MIN_WIDTH, MIN_HEIGHT),
            theme.warning(),
        )),
        Line::default(),
        Line::from(strings::TEXT_MODE_OFFER),
    ];
    if let Some(quit_focused) = app.quitting {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            format!(
                "{} [{}]",
                strings::QUIT_TITLE,
                if quit_focused { "Y/n" } else { "y/N" }
            ),
            theme.error(),
        )));
    } else {
        lines.push(Line::from(Span::styled(
            format!("Esc {}", strings::HINT_QUIT),
            theme.dim(),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }),
        area.inner(Margin::new(1, 0)),
    );
}
