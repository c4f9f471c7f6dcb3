//! `blocks:` — a managed block of lines in a file another package or the
//! admin owns (`/etc/hosts`, `/etc/fstab`, a shared `sshd_config`), where
//! confpack may not own the whole file but a package needs lines in it.
//!
//! ```yaml
//! blocks:
//!   - file: /etc/hosts
//!     name: cluster     # default "main"; several blocks of one package in a file
//!     content: |        # template text, rendered with the package's answers
//!       {% for host in answers["webshop/cluster.hosts"] | split(",") %}{{ host }}
//!       {% endfor %}
//!     comment: "#"      # the file syntax's comment prefix, default "#"
//!     create: false     # default: a missing file is an error
//! ```
//!
//! The block sits between two marker lines, exact whole lines that name
//! the package and the block:
//!
//! ```text
//! # BEGIN confpack webshop cluster
//! 10.0.0.1 web1
//! # END confpack webshop cluster
//! ```
//!
//! so blocks of two packages (or two blocks of one) in one file never touch
//! each other, and everything outside the markers stays byte for byte.
//!
//! Applied: the content is rendered (a final newline added; a line that
//! looks like a confpack marker is refused, it would break finding
//! blocks). Without its markers in the file the block is appended (after
//! a newline if the file lacks a final one, remembered so removal gives
//! the same bytes back); with them, what is between is replaced in place.
//! Anything else — BEGIN without END, END before BEGIN, a marker twice,
//! another confpack marker inside — is an error naming the file and line:
//! confpack never guesses where a block a person damaged ends. A block
//! edited by hand is replaced by the declared content, with a warning. The
//! file is written atomically with its mode and owner, and only when its
//! bytes change. Never through a symlink: a symlink (or anything but a
//! regular file) at the path is refused; declare the file it points to.
//! A missing file is an error (the block belongs in a file someone else
//! provides) unless `create: true`, which makes it 0644; its directory
//! must exist (declare it under `directories:`).
//!
//! Undone (remove, purge, dropped alike): the block's lines go, and the
//! newline confpack added before it when the block is still the file's
//! end, so the file is what it was before when nobody else changed it; a
//! file confpack created is deleted when nothing else is left in it. A
//! block edited by hand since it was written, or whose markers are
//! damaged, is left as it is with a warning naming the file and line,
//! and forgotten: a person's lines are theirs to delete.
//!
//! Files in CRLF or another encoding are handled as bytes; the markers are
//! written with `\n` line ends. Comment syntaxes needing an end (`<!-- -->`)
//! are not supported.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Context, Id, Kind, Render, Undo};
use crate::error::{Error, Result};
use crate::files::RootedPath;

/// The block name when none is declared.
const DEFAULT_NAME: &str = "main";
/// The comment prefix when none is declared.
const DEFAULT_COMMENT: &str = "#";
/// The mode of a file `create: true` makes.
const CREATED_MODE: u32 = 0o644;

/// One declared block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Block {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Template text.
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
}

/// What was applied for a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    pub file: PathBuf,
    pub name: String,
    pub comment: String,
    /// The sha256 of the block as written, marker lines included.
    pub sha256: String,
    /// Whether confpack added a newline before the block (the file did not
    /// end with one).
    pub added_newline: bool,
    /// Whether confpack created the file.
    pub created: bool,
}

fn id(file: &str, name: &str) -> Id {
    Id {
        kind: Kind::Block,
        name: format!("{file} ({name})"),
    }
}

/// A block name: `[a-z0-9][a-z0-9._-]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

impl Block {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT_NAME)
    }

    /// How its template text is named in messages: `/etc/hosts block cluster`.
    pub fn what(&self) -> String {
        format!("{} block {}", self.file, self.name())
    }

    pub fn comment(&self) -> &str {
        self.comment.as_deref().unwrap_or(DEFAULT_COMMENT)
    }

    pub fn id(&self) -> Id {
        id(&self.file, self.name())
    }

    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(message) = super::directories::check_absolute(&self.file) {
            out.push(format!("file: {message}"));
        }
        if !valid_name(self.name()) {
            out.push(format!(
                "name: {:?} is not a block name (lower case letters, digits, `.`, `_`, `-`)",
                self.name()
            ));
        }
        let comment = self.comment();
        if comment.trim().is_empty() || comment.contains(['\n', '\r']) {
            out.push(format!(
                "comment: {comment:?} is not a comment prefix (one line, such as \"#\" or \"//\")"
            ));
        }
        if self.content.trim().is_empty() {
            out.push("content: is empty; a block needs lines".into());
        }
        if let Some(line) = marker_line(self.content.as_bytes(), comment) {
            out.push(format!(
                "content: line {line} looks like a confpack block marker; a block cannot hold one"
            ));
        }
        out
    }

    fn markers(&self, package: &str) -> Markers {
        Markers::new(self.comment(), package, self.name())
    }

    /// The rendered content, ending with a newline (empty: no line).
    fn rendered(&self, render: &Render<'_>) -> Result<String> {
        let mut content = render(&self.what(), &self.content)?;
        if let Some(line) = marker_line(content.as_bytes(), self.comment()) {
            return Err(Error::at(
                &self.file,
                None,
                format!(
                    "block {}: line {line} of its rendered content looks like a confpack block \
                     marker; a block cannot hold one (change the template or the answers)",
                    self.name()
                ),
            ));
        }
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        Ok(content)
    }

    /// The block as it is written into its file, markers included.
    pub fn written(&self, package: &str, render: &Render<'_>) -> Result<String> {
        let block = self.markers(package).block(&self.rendered(render)?);
        Ok(String::from_utf8_lossy(&block).into_owned())
    }

    pub fn apply(&self, previous: Option<&Record>, cx: &mut Context<'_>) -> Result<Record> {
        let content = self.rendered(cx.render)?;
        let markers = self.markers(cx.package);
        let block = markers.block(&content);
        let path = PathBuf::from(&self.file);
        let rooted = resolve(cx.root, &path)?;
        let (text, mode, created) = match read(&rooted)? {
            Some((text, mode)) => (text, mode, previous.is_some_and(|p| p.created)),
            None if self.create => (Vec::new(), CREATED_MODE, true),
            None => {
                return Err(Error::io(
                    rooted.shown(),
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the file for the block is missing: it belongs in a file another package \
                         or the admin provides (install or create it first, or declare the block \
                         with `create: true`)",
                    ),
                ));
            }
        };
        if mode & 0o004 != 0 && cx.secrets.read_by(&self.content) {
            return Err(Error::at(
                &self.file,
                None,
                format!(
                    "block {}: its content holds a secret answer, and the file is readable by \
                     everyone (mode {mode:04o}); keep secrets in a file of their own (a template \
                     of the package: it is written 0600 or with `modes:`)",
                    self.name()
                ),
            ));
        }
        let mut new = text.clone();
        // A block declared with another comment prefix before: its markers
        // differ, so it goes first.
        if let Some(previous) = previous
            && previous.comment != self.comment()
        {
            let old = Markers::new(&previous.comment, cx.package, &previous.name);
            if let Some(found) = old.find(&new).map_err(|d| d.error(rooted.shown()))? {
                new = found.removed_from(&new, previous.added_newline);
            }
        }
        let (new, added_newline) = match markers.find(&new).map_err(|d| d.error(rooted.shown()))? {
            Some(found) => {
                if let Some(previous) = previous
                    && found.sha256(&new) != previous.sha256
                {
                    cx.listener.warning(&format!(
                        "{}: replaced the hand edit of block {} in {} (lines {}-{}) with the \
                         declared content",
                        cx.package,
                        self.name(),
                        rooted.shown().display(),
                        found.begin_line,
                        found.end_line
                    ));
                }
                (
                    found.replaced_in(&new, &block),
                    previous.is_some_and(|p| p.added_newline),
                )
            }
            None => appended(&new, &block),
        };
        if new != text {
            rooted.write(&new, mode)?;
            cx.listener.info(&format!(
                "{}: wrote block {} in {}",
                cx.package,
                self.name(),
                self.file
            ));
        }
        Ok(Record {
            file: path,
            name: self.name().to_string(),
            comment: self.comment().to_string(),
            sha256: crate::files::sha256_hex(&block),
            added_newline,
            created,
        })
    }
}

/// `<root>/<file>`'s directory, which must exist.
fn resolve(root: &Path, path: &Path) -> Result<RootedPath> {
    crate::files::resolve(root, path, false)?.ok_or_else(|| {
        Error::io(
            crate::files::rooted(root, path),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the directory of the block's file is missing (declare it under `directories:`)",
            ),
        )
    })
}

/// The regular file's content and mode; `None` when there is none.
/// Anything else at the path (a symlink, a directory) is refused.
fn read(rooted: &RootedPath) -> Result<Option<(Vec<u8>, u32)>> {
    let Some(stat) = rooted.stat()? else {
        return Ok(None);
    };
    let refused = |kind: &str| Error::UnsafePath {
        path: rooted.shown().to_path_buf(),
        reason: format!(
            "is a {kind}, not a regular file; confpack writes a block only into a regular file, \
             never through a symlink (declare the file it points to)"
        ),
    };
    let Some(mode) = rooted.regular_mode()? else {
        return Err(refused(crate::files::file_kind(&stat)));
    };
    // Replaced by something else since the stat: refused all the same.
    let text = rooted.read()?.ok_or_else(|| refused("special file"))?;
    Ok(Some((text, mode)))
}

/// `text` with `block` at its end, after a newline if `text` lacks a final
/// one; whether that newline was added.
fn appended(text: &[u8], block: &[u8]) -> (Vec<u8>, bool) {
    let added = !text.is_empty() && !text.ends_with(b"\n");
    let mut out = Vec::with_capacity(text.len() + block.len() + 1);
    out.extend_from_slice(text);
    if added {
        out.push(b'\n');
    }
    out.extend_from_slice(block);
    (out, added)
}

/// One line of a file.
struct Line<'a> {
    /// 1-based.
    number: usize,
    /// Where it starts.
    start: usize,
    /// Without its newline.
    text: &'a [u8],
    /// Where the next line starts (after the newline, if any).
    end: usize,
}

fn lines(text: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut start = 0;
    let mut number = 0;
    std::iter::from_fn(move || {
        let rest = text.get(start..).filter(|rest| !rest.is_empty())?;
        let (body, len) = match rest.iter().position(|b| *b == b'\n') {
            Some(at) => (&rest[..at], at + 1),
            None => (rest, rest.len()),
        };
        number += 1;
        let line = Line {
            number,
            start,
            text: body,
            end: start + len,
        };
        start += len;
        Some(line)
    })
}

/// Whether a line is (or looks like) a confpack marker of any block:
/// `BEGIN confpack ` or `END confpack ` after `comment` (the file's
/// comment prefix, which may hold letters: `REM`) or after nothing but
/// punctuation and blanks (another comment syntax).
fn is_marker_like(line: &[u8], comment: &str) -> bool {
    const WORDS: [&[u8]; 2] = [b"BEGIN confpack ", b"END confpack "];
    let after_comment = line
        .trim_ascii_start()
        .strip_prefix(comment.trim().as_bytes())
        .map(<[u8]>::trim_ascii_start)
        .is_some_and(|rest| WORDS.iter().any(|word| rest.starts_with(word)));
    after_comment
        || WORDS.iter().any(|word| {
            line.windows(word.len())
                .position(|w| w == *word)
                .is_some_and(|at| !line[..at].iter().any(u8::is_ascii_alphanumeric))
        })
}

/// The first line of `text` that looks like a marker (1-based).
fn marker_line(text: &[u8], comment: &str) -> Option<usize> {
    lines(text)
        .find(|line| is_marker_like(line.text, comment))
        .map(|line| line.number)
}

/// A block's two marker lines (without newlines).
struct Markers {
    comment: String,
    begin: Vec<u8>,
    end: Vec<u8>,
}

/// A block found between its markers.
struct Found {
    /// Where its BEGIN line starts.
    start: usize,
    /// Where the line after its END line starts (or the end of the file).
    end: usize,
    begin_line: usize,
    end_line: usize,
}

/// Why a block's markers cannot be trusted: at which line, what to fix.
struct Damage {
    line: usize,
    message: String,
}

impl Damage {
    fn error(self, shown: &Path) -> Error {
        Error::at(
            shown.display().to_string(),
            Some(self.line as u64),
            self.message,
        )
    }

    fn shown(&self, shown: &Path) -> String {
        format!("{}:{}: {}", shown.display(), self.line, self.message)
    }
}

impl Markers {
    fn new(comment: &str, package: &str, name: &str) -> Markers {
        Markers {
            comment: comment.to_string(),
            begin: format!("{comment} BEGIN confpack {package} {name}").into_bytes(),
            end: format!("{comment} END confpack {package} {name}").into_bytes(),
        }
    }

    /// The block as written: the markers around `content` (which is empty
    /// or ends with a newline).
    fn block(&self, content: &str) -> Vec<u8> {
        [
            &self.begin[..],
            b"\n",
            content.as_bytes(),
            &self.end[..],
            b"\n",
        ]
        .concat()
    }

    fn shown(marker: &[u8]) -> String {
        String::from_utf8_lossy(marker).into_owned()
    }

    /// The block in `text`: `None` when neither marker is there.
    fn find(&self, text: &[u8]) -> std::result::Result<Option<Found>, Damage> {
        let (begin, end) = (Self::shown(&self.begin), Self::shown(&self.end));
        let mut begins = Vec::new();
        let mut ends = Vec::new();
        let mut others = Vec::new();
        for line in lines(text) {
            if line.text == self.begin.as_slice() {
                begins.push((line.number, line.start));
            } else if line.text == self.end.as_slice() {
                ends.push((line.number, line.end));
            } else if line.text.trim_ascii() == self.begin.trim_ascii()
                || line.text.trim_ascii() == self.end.trim_ascii()
            {
                return Err(Damage {
                    line: line.number,
                    message: format!(
                        "markers damaged: this line is almost a marker of the block (blanks or a \
                         carriage return added); make it exactly `{begin}` or `{end}`, then run \
                         again"
                    ),
                });
            } else if is_marker_like(line.text, &self.comment) {
                others.push(line.number);
            }
        }
        match (begins.as_slice(), ends.as_slice()) {
            ([], []) => Ok(None),
            (&[(begin_line, start)], &[(end_line, end)]) if begin_line < end_line => {
                if let Some(&inner) = others.iter().find(|n| (begin_line..end_line).contains(n)) {
                    return Err(Damage {
                        line: inner,
                        message: format!(
                            "markers damaged: another block's confpack marker is inside the block \
                             from line {begin_line} to {end_line}; move that block out of it, \
                             then run again"
                        ),
                    });
                }
                Ok(Some(Found {
                    start,
                    end,
                    begin_line,
                    end_line,
                }))
            }
            (&[(begin_line, _)], []) => Err(Damage {
                line: begin_line,
                message: format!(
                    "markers damaged: `{begin}` has no `{end}` after it; put that line back after \
                     the block's last line (or delete the block with its BEGIN line), then run \
                     again"
                ),
            }),
            ([], &[(end_line, _)]) => Err(Damage {
                line: end_line,
                message: format!(
                    "markers damaged: `{end}` has no `{begin}` before it; put that line back \
                     before the block's first line (or delete the block with its END line), then \
                     run again"
                ),
            }),
            (&[(begin_line, _)], &[(end_line, _)]) => Err(Damage {
                line: end_line,
                message: format!(
                    "markers damaged: `{end}` comes before `{begin}` (line {begin_line}); put the \
                     block's lines between them in order, then run again"
                ),
            }),
            (begins, ends) => {
                let (marker, twice) = if begins.len() > 1 {
                    (&begin, begins)
                } else {
                    (&end, ends)
                };
                let numbers: Vec<String> = twice.iter().map(|(n, _)| n.to_string()).collect();
                Err(Damage {
                    line: twice.get(1).map_or(0, |(n, _)| *n),
                    message: format!(
                        "markers damaged: `{marker}` is there {} times (lines {}); keep one block \
                         between one BEGIN and one END line, then run again",
                        twice.len(),
                        numbers.join(", ")
                    ),
                })
            }
        }
    }
}

impl Found {
    /// The block's text as found, ending with a newline as written.
    fn sha256(&self, text: &[u8]) -> String {
        let found = &text[self.start..self.end];
        if found.ends_with(b"\n") {
            crate::files::sha256_hex(found)
        } else {
            crate::files::sha256_hex(&[found, b"\n"].concat())
        }
    }

    fn replaced_in(&self, text: &[u8], block: &[u8]) -> Vec<u8> {
        [&text[..self.start], block, &text[self.end..]].concat()
    }

    /// `text` without the block, and without the newline confpack added
    /// before it while the block is still the file's end.
    fn removed_from(&self, text: &[u8], added_newline: bool) -> Vec<u8> {
        let (before, after) = (&text[..self.start], &text[self.end..]);
        let before = match before.strip_suffix(b"\n") {
            Some(without) if added_newline && after.is_empty() => without,
            _ => before,
        };
        [before, after].concat()
    }
}

impl Record {
    pub fn id(&self) -> Id {
        id(&self.file.display().to_string(), &self.name)
    }

    fn markers(&self, package: &str) -> Markers {
        Markers::new(&self.comment, package, &self.name)
    }

    /// Every reason removes the block alike.
    pub fn undo(&self, _why: Undo, cx: &mut Context<'_>) -> Result<Option<Record>> {
        let Some(rooted) = crate::files::resolve(cx.root, &self.file, false)? else {
            return Ok(None);
        };
        let forgotten = |cx: &mut Context<'_>, what: String| {
            cx.listener.warning(&format!(
                "{}: left block {} in {} as it is and forgot it: {what}",
                cx.package,
                self.name,
                rooted.shown().display()
            ));
        };
        let (text, mode) = match read(&rooted) {
            Ok(Some(read)) => read,
            Ok(None) => return Ok(None),
            Err(e @ Error::UnsafePath { .. }) => {
                forgotten(cx, e.to_string());
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let found = match self.markers(cx.package).find(&text) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(None),
            Err(damage) => {
                forgotten(
                    cx,
                    format!(
                        "{}; delete the block yourself when it is no longer needed",
                        damage.shown(rooted.shown())
                    ),
                );
                return Ok(None);
            }
        };
        if found.sha256(&text) != self.sha256 {
            forgotten(
                cx,
                format!(
                    "lines {}-{} were edited by hand since confpack wrote them; delete them \
                     (with their marker lines) yourself when they are no longer needed",
                    found.begin_line, found.end_line
                ),
            );
            return Ok(None);
        }
        let rest = found.removed_from(&text, self.added_newline);
        if self.created && rest.is_empty() {
            rooted.remove()?;
            cx.listener.info(&format!(
                "{}: removed {} (only its block was in it)",
                cx.package,
                self.file.display()
            ));
        } else {
            rooted.write(&rest, mode)?;
            cx.listener.info(&format!(
                "{}: removed block {} from {}",
                cx.package,
                self.name,
                self.file.display()
            ));
        }
        Ok(None)
    }

    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        let rooted = match crate::files::resolve(cx.root, &self.file, false) {
            Ok(Some(rooted)) => rooted,
            Ok(None) => return vec!["missing".into()],
            Err(e) => return vec![e.to_string()],
        };
        let text = match read(&rooted) {
            Ok(Some((text, _))) => text,
            Ok(None) => return vec!["missing".into()],
            Err(e) => return vec![e.to_string()],
        };
        match self.markers(cx.package).find(&text) {
            Ok(None) => vec![format!(
                "block {} missing (its markers are gone)",
                self.name
            )],
            Err(damage) => vec![format!("line {}: {}", damage.line, damage.message)],
            Ok(Some(found)) if found.sha256(&text) != self.sha256 => vec![format!(
                "block {} edited by hand (lines {}-{})",
                self.name, found.begin_line, found.end_line
            )],
            Ok(Some(_)) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
