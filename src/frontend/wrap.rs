//! Word wrapping of question descriptions, shared by the TUI (which must
//! know how many lines a description takes to lay out and scroll it) and
//! the text frontend (which prints to a terminal of known width).
//!
//! Descriptions follow debconf's convention: lines that follow each other
//! form one paragraph and are reflowed, a blank line separates paragraphs,
//! and a line that starts with whitespace is kept as written (lists,
//! commands, paths).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Wraps `text` to lines of at most `width` columns (at least 1).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut paragraph, width, &mut lines);
            lines.push(String::new());
        } else if line.starts_with([' ', '\t']) {
            flush(&mut paragraph, width, &mut lines);
            lines.extend(split_long(line.trim_end(), width));
        } else {
            paragraph.push(line);
        }
    }
    flush(&mut paragraph, width, &mut lines);
    // A description never starts or ends with blank lines on screen.
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let leading = lines.iter().take_while(|l| l.is_empty()).count();
    lines.drain(..leading);
    lines
}

fn flush(paragraph: &mut Vec<&str>, width: usize, lines: &mut Vec<String>) {
    if paragraph.is_empty() {
        return;
    }
    let mut current = String::new();
    let mut current_width = 0;
    for word in paragraph.iter().flat_map(|l| l.split_whitespace()) {
        let word_width = word.width();
        if current_width > 0 && current_width + 1 + word_width <= width {
            current.push(' ');
            current.push_str(word);
            current_width += 1 + word_width;
            continue;
        }
        if current_width > 0 {
            lines.push(std::mem::take(&mut current));
        }
        if word_width <= width {
            current = word.to_string();
            current_width = word_width;
        } else {
            let mut pieces = split_long(word, width);
            let last = pieces.pop().unwrap_or_default();
            lines.extend(pieces);
            current_width = last.width();
            current = last;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    paragraph.clear();
}

/// Cuts a line without spaces into pieces of at most `width` columns.
fn split_long(text: &str, width: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut current_width = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if current_width + w > width && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
            current_width = 0;
        }
        current.push(c);
        current_width += w;
    }
    pieces.push(current);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraph_lines_are_reflowed_to_the_width() {
        let text = "one two three\nfour five six seven";
        assert_eq!(
            wrap(text, 10),
            vec!["one two", "three four", "five six", "seven"]
        );
    }

    #[test]
    fn blank_lines_separate_paragraphs_and_indented_lines_stay_verbatim() {
        let text = "Intro text.\n\n  /etc/webshop/app.conf\nAfter.";
        assert_eq!(
            wrap(text, 40),
            vec!["Intro text.", "", "  /etc/webshop/app.conf", "After."]
        );
    }

    #[test]
    fn words_longer_than_the_width_are_cut() {
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn empty_text_has_no_lines() {
        assert!(wrap("", 10).is_empty());
        assert!(wrap("\n\n", 10).is_empty());
    }
}
