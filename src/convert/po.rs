//! gettext catalogues (`.po` files) as po-debconf keeps a package's
//! template translations (`debian/po/de.po`): just enough of the format to
//! look up a translation by its English text.
//!
//! Read: `msgid`/`msgstr` pairs with multi-line strings and C escapes.
//! Left out: the header, fuzzy entries (`#, fuzzy`: a translator has not
//! confirmed them), untranslated ones, obsolete ones (`#~`), plural forms
//! and entries with a context (po-debconf writes neither).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Problem, Result};

/// One language's translations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// The language, from the file name (`pt_BR` of `pt_BR.po`).
    pub language: String,
    messages: HashMap<String, String>,
}

impl Catalogue {
    /// The translation of `english`, if there is a confirmed one.
    pub fn get(&self, english: &str) -> Option<&str> {
        self.messages.get(english).map(String::as_str)
    }
}

/// Reads every `DIR/*.po`, sorted by language; `accept` says whether a
/// file's language can be used (the others are skipped, with `skipped`
/// told why).
pub fn read_dir(
    dir: &Path,
    accept: &dyn Fn(&str) -> bool,
    skipped: &mut dyn FnMut(&Path),
) -> Result<Vec<Catalogue>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "po") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut catalogues = Vec::new();
    for path in paths {
        let language = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !accept(&language) {
            skipped(&path);
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let origin = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::at(
                &origin,
                None,
                "not UTF-8; convert it first (msgconv -t UTF-8)",
            )
        })?;
        catalogues.push(Catalogue {
            language,
            messages: parse(&text, &origin)?,
        });
    }
    Ok(catalogues)
}

/// Which string of an entry the reader is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    None,
    Id,
    Str,
    /// `msgctxt`, `msgid_plural`, `msgstr[n]`: read, not used.
    Ignored,
}

#[derive(Debug, Default)]
struct Entry {
    id: String,
    text: String,
    fuzzy: bool,
    context: bool,
    plural: bool,
}

/// The confirmed translations of a po file's text, by English text.
pub fn parse(text: &str, origin: &str) -> Result<HashMap<String, String>> {
    let mut messages = HashMap::new();
    let mut problems = Vec::new();
    let mut entry = Entry::default();
    let mut part = Part::None;
    let mut finish = |entry: &mut Entry| {
        let done = std::mem::take(entry);
        if !done.id.is_empty()
            && !done.text.is_empty()
            && !done.fuzzy
            && !done.context
            && !done.plural
        {
            messages.insert(done.id, done.text);
        }
    };
    for (index, line) in text.lines().enumerate() {
        let number = index as u64 + 1;
        let line = line.trim();
        let problem = |message: String| Problem {
            file: origin.to_string(),
            line: Some(number),
            message,
        };
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if part != Part::None && part != Part::Id {
                finish(&mut entry);
                part = Part::None;
            }
            if let Some(flags) = comment.strip_prefix(',')
                && flags.split(',').any(|f| f.trim() == "fuzzy")
            {
                entry.fuzzy = true;
            }
            continue;
        }
        if line.starts_with('"') {
            let piece = match unquote(line) {
                Ok(piece) => piece,
                Err(message) => {
                    problems.push(problem(message));
                    continue;
                }
            };
            match part {
                Part::Id => entry.id.push_str(&piece),
                Part::Str => entry.text.push_str(&piece),
                Part::Ignored => {}
                Part::None => problems.push(problem(
                    "a string outside an entry; expected msgid first".to_string(),
                )),
            }
            continue;
        }
        let Some((keyword, rest)) = line.split_once(char::is_whitespace) else {
            problems.push(problem(format!("`{line}` is not a po keyword line")));
            continue;
        };
        let piece = match unquote(rest.trim()) {
            Ok(piece) => piece,
            Err(message) => {
                problems.push(problem(message));
                continue;
            }
        };
        match keyword {
            "msgctxt" => {
                if part == Part::Str {
                    finish(&mut entry);
                }
                entry.context = true;
                part = Part::Ignored;
            }
            "msgid" => {
                if part == Part::Str {
                    finish(&mut entry);
                }
                entry.id = piece;
                part = Part::Id;
            }
            "msgid_plural" => {
                entry.plural = true;
                part = Part::Ignored;
            }
            "msgstr" => {
                entry.text = piece;
                part = Part::Str;
            }
            k if k.starts_with("msgstr[") => part = Part::Ignored,
            other => problems.push(problem(format!("unknown po keyword `{other}`"))),
        }
    }
    finish(&mut entry);
    if problems.is_empty() {
        Ok(messages)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// The text of a C-quoted po string (`"a\"b\n"`).
fn unquote(quoted: &str) -> std::result::Result<String, String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .filter(|_| quoted.len() >= 2)
        .ok_or_else(|| format!("`{quoted}` is not a quoted string"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(other) => return Err(format!("unknown escape `\\{other}` in {quoted}")),
                None => return Err(format!("{quoted} ends in a backslash")),
            },
            '"' => return Err(format!("an unescaped quote inside {quoted}")),
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PO: &str = r#"# German translation
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"

#. Type: select
#. Description
#: ../templates:1001
msgid "Geographic area:"
msgstr "Geografisches Gebiet:"

#: ../templates:1001
msgid ""
"Please select the geographic area "
"in which you live."
msgstr ""
"Bitte wählen Sie das \"Gebiet\", "
"in dem Sie leben."

#, fuzzy
msgid "Time zone:"
msgstr "Zeitzone:"

msgid "Untranslated"
msgstr ""

#~ msgid "Old"
#~ msgstr "Alt"
"#;

    #[test]
    fn confirmed_multi_line_entries_are_read_and_fuzzy_ones_skipped() {
        let messages = parse(PO, "de.po").expect("parses");
        assert_eq!(messages["Geographic area:"], "Geografisches Gebiet:");
        assert_eq!(
            messages["Please select the geographic area in which you live."],
            "Bitte wählen Sie das \"Gebiet\", in dem Sie leben."
        );
        assert!(!messages.contains_key("Time zone:"));
        assert!(!messages.contains_key("Untranslated"));
        assert!(!messages.contains_key("Old"));
        assert!(!messages.contains_key(""));
        assert_eq!(messages.len(), 2);
    }

    #[test]
    fn a_broken_string_is_an_error_at_its_line() {
        let Err(Error::Invalid(problems)) = parse("msgid \"a\"\nmsgstr \"b\n", "x.po") else {
            panic!("must fail");
        };
        assert_eq!(problems[0].line, Some(2));
        assert_eq!(problems[0].file, "x.po");
    }
}
