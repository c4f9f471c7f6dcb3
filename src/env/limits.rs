//! Bounds on the work of reading one environment document.
//!
//! Why: libxml2 checks an element's attributes against each other (and the
//! XSD validator walks them again), so its cost grows with the square of
//! the attributes on one element: 40,000 attributes (430 KB) took seconds
//! and 200,000 took minutes, and as an online copy every `configure` paid
//! that again. confpack's elements need a handful of attributes and a few
//! levels, so the bytes are scanned on their way into libxml2 (one pass, no
//! copy) and the document is refused at the first element that exceeds a
//! limit, before libxml2 has the whole start tag. With these limits the
//! work is linear in the size, and a deadline bounds what is left (a slow
//! disk, a pathological schema): any document is accepted or refused
//! within [`PARSE_DEADLINE`].

use std::time::Duration;

/// Attributes on one element, namespace declarations included.
pub const MAX_ATTRIBUTES: usize = 64;
/// Elements open at once.
pub const MAX_DEPTH: usize = 64;
/// Bytes of one text run (text or CDATA between two tags) or of one
/// attribute value.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Longest a document may take to read (and validate).
pub const PARSE_DEADLINE: Duration = Duration::from_secs(30);

/// A limit a document exceeded, at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub offset: u64,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Character data; `<` starts markup.
    Text,
    /// Just after `<`.
    Open,
    /// Inside a start tag, outside quotes.
    StartTag,
    /// Inside an attribute value quoted with this byte.
    Quoted(u8),
    /// Inside an end tag.
    EndTag,
    /// After `<!`: this many bytes of `[CDATA[` seen.
    Bang(u8),
    /// After `<!-`.
    BangDash,
    /// Inside a comment: how many `-` in a row just before.
    Comment(u8),
    /// Inside a CDATA section: how many `]` in a row just before.
    CData(u8),
    /// Inside a processing instruction: whether the last byte was `?`.
    Instruction(bool),
    /// Inside another declaration, up to `>`.
    Declaration,
}

/// A resumable scanner over the document's bytes, chunk by chunk.
///
/// It only counts: it is not a parser and accepts what libxml2 would
/// refuse anyway (libxml2 still reads every byte).
#[derive(Debug)]
pub struct Scanner {
    state: State,
    /// Bytes scanned before the current chunk.
    consumed: u64,
    depth: usize,
    attributes: usize,
    /// Bytes of the current text run or attribute value.
    run: usize,
    /// The last byte in a start tag that was not white space.
    last: u8,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Text,
            consumed: 0,
            depth: 0,
            attributes: 0,
            run: 0,
            last: 0,
        }
    }
}

const CDATA: &[u8] = b"[CDATA[";

impl Scanner {
    /// Scans the next chunk; fails at the first limit exceeded.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<(), Exceeded> {
        let mut at = 0;
        while at < bytes.len() {
            at += self.step(&bytes[at..], at)?;
        }
        self.consumed += bytes.len() as u64;
        Ok(())
    }

    /// Advances through `rest` (found at `at` of the chunk) in the current
    /// state; returns the bytes consumed (at least one).
    fn step(&mut self, rest: &[u8], at: usize) -> Result<usize, Exceeded> {
        match self.state {
            State::Text => self.text(rest, at),
            State::Open => Ok(self.open(rest[0])),
            State::StartTag => self.start_tag(rest, at),
            State::Quoted(quote) => self.quoted(quote, rest, at),
            State::EndTag => {
                Ok(self.until_close(rest, |limits| limits.depth = limits.depth.saturating_sub(1)))
            }
            State::Bang(seen) => Ok(self.bang(seen, rest[0])),
            State::BangDash => {
                self.state = match rest[0] {
                    b'-' => State::Comment(0),
                    _ => State::Declaration,
                };
                Ok(1)
            }
            State::Comment(dashes) => {
                self.state = match rest[0] {
                    b'-' => State::Comment(dashes.saturating_add(1)),
                    b'>' if dashes >= 2 => State::Text,
                    _ => State::Comment(0),
                };
                Ok(1)
            }
            State::CData(brackets) => self.cdata(brackets, rest[0], at),
            State::Instruction(question) => {
                let byte = rest[0];
                self.state = match byte {
                    b'>' if question => State::Text,
                    _ => State::Instruction(byte == b'?'),
                };
                Ok(1)
            }
            State::Declaration => Ok(self.until_close(rest, |_| {})),
        }
    }

    /// Text up to the next `<`.
    fn text(&mut self, rest: &[u8], at: usize) -> Result<usize, Exceeded> {
        match rest.iter().position(|&b| b == b'<') {
            Some(n) => {
                self.grow_run(n, at)?;
                self.run = 0;
                self.state = State::Open;
                Ok(n + 1)
            }
            None => {
                self.grow_run(rest.len(), at)?;
                Ok(rest.len())
            }
        }
    }

    /// The byte after `<` says what kind of markup this is.
    fn open(&mut self, first: u8) -> usize {
        self.state = match first {
            b'/' => State::EndTag,
            b'!' => State::Bang(0),
            b'?' => State::Instruction(false),
            first => {
                self.attributes = 0;
                self.last = first;
                State::StartTag
            }
        };
        1
    }

    /// Inside a start tag: counts attributes, and depth at its `>`.
    fn start_tag(&mut self, rest: &[u8], at: usize) -> Result<usize, Exceeded> {
        let mut n = 0;
        while n < rest.len() {
            let byte = rest[n];
            n += 1;
            match byte {
                b'"' | b'\'' => {
                    self.run = 0;
                    self.state = State::Quoted(byte);
                    break;
                }
                b'=' => {
                    self.attributes += 1;
                    if self.attributes > MAX_ATTRIBUTES {
                        return Err(self.exceeded(
                            at + n,
                            format!(
                                "an element has more than {MAX_ATTRIBUTES} \
                                 attributes (confpack's limit per element)"
                            ),
                        ));
                    }
                }
                b'>' => {
                    self.close_start_tag(at + n)?;
                    break;
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                other => self.last = other,
            }
        }
        Ok(n)
    }

    /// A start tag ends: one level deeper unless it closed itself (`/>`).
    fn close_start_tag(&mut self, offset: usize) -> Result<(), Exceeded> {
        if self.last != b'/' {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.exceeded(
                    offset,
                    format!("elements are nested more than {MAX_DEPTH} deep (confpack's limit)"),
                ));
            }
        }
        self.state = State::Text;
        Ok(())
    }

    /// An attribute value up to its closing quote.
    fn quoted(&mut self, quote: u8, rest: &[u8], at: usize) -> Result<usize, Exceeded> {
        match rest.iter().position(|&b| b == quote) {
            Some(n) => {
                self.grow_run(n, at)?;
                self.last = quote;
                self.state = State::StartTag;
                Ok(n + 1)
            }
            None => {
                self.grow_run(rest.len(), at)?;
                Ok(rest.len())
            }
        }
    }

    /// Skips to the next `>` (an end tag, a declaration); `closed` runs
    /// when it is found.
    fn until_close(&mut self, rest: &[u8], closed: impl FnOnce(&mut Self)) -> usize {
        match rest.iter().position(|&b| b == b'>') {
            Some(n) => {
                closed(self);
                self.state = State::Text;
                n + 1
            }
            None => rest.len(),
        }
    }

    /// After `<!`: a comment, a CDATA section or a declaration.
    fn bang(&mut self, seen: u8, byte: u8) -> usize {
        let seen = usize::from(seen);
        self.state = if seen == 0 && byte == b'-' {
            State::BangDash
        } else if CDATA[seen] == byte {
            if seen + 1 == CDATA.len() {
                self.run = 0;
                State::CData(0)
            } else {
                State::Bang(seen as u8 + 1)
            }
        } else {
            State::Declaration
        };
        1
    }

    /// Inside CDATA: its text counts like any other, up to `]]>`.
    fn cdata(&mut self, brackets: u8, byte: u8, at: usize) -> Result<usize, Exceeded> {
        self.state = match byte {
            b']' => State::CData(brackets.saturating_add(1)),
            b'>' if brackets >= 2 => State::Text,
            _ => State::CData(0),
        };
        if self.state != State::Text {
            self.grow_run(1, at)?;
        } else {
            self.run = 0;
        }
        Ok(1)
    }

    fn grow_run(&mut self, n: usize, at: usize) -> Result<(), Exceeded> {
        self.run += n;
        if self.run > MAX_TEXT_BYTES {
            return Err(self.exceeded(
                at + n,
                format!(
                    "a text or attribute value is longer than {MAX_TEXT_BYTES} bytes \
                     (confpack's limit)"
                ),
            ));
        }
        Ok(())
    }

    fn exceeded(&self, at: usize, message: String) -> Exceeded {
        Exceeded {
            offset: self.consumed + at as u64,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_chunks(text: &str, chunk: usize) -> Result<(), Exceeded> {
        let mut scanner = Scanner::default();
        for part in text.as_bytes().chunks(chunk) {
            scanner.scan(part)?;
        }
        Ok(())
    }

    fn element_with(attributes: usize) -> String {
        let list: Vec<String> = (0..attributes).map(|i| format!("a{i}=\"=>'\"")).collect();
        format!("<r>\n<e {}/></r>", list.join(" "))
    }

    #[test]
    fn attributes_up_to_the_limit_pass_in_any_chunking() {
        for chunk in [1, 3, 7, 4096] {
            assert_eq!(scan_in_chunks(&element_with(MAX_ATTRIBUTES), chunk), Ok(()));
            let refused = scan_in_chunks(&element_with(MAX_ATTRIBUTES + 1), chunk)
                .expect_err("too many attributes");
            assert!(refused.message.contains("more than 64 attributes"));
            assert!(refused.offset > 5);
        }
    }

    #[test]
    fn markup_inside_comments_cdata_and_values_is_not_counted() {
        let text = format!(
            "<?xml version=\"1.0\"?><!-- <a {} --><r><![CDATA[<x a=1 b=2>]]><e v='>'/>{}</r>",
            "x=1 ".repeat(100),
            "<i/>".repeat(100)
        );
        for chunk in [1, 2, 5, 4096] {
            assert_eq!(scan_in_chunks(&text, chunk), Ok(()), "chunk {chunk}");
        }
    }

    #[test]
    fn depth_and_text_are_bounded() {
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert!(scan_in_chunks(&deep, 10).is_err());
        let wide = "<a></a>".repeat(MAX_DEPTH * 10);
        assert_eq!(scan_in_chunks(&wide, 10), Ok(()));
        let long = format!("<a>{}</a>", "x".repeat(MAX_TEXT_BYTES + 1));
        assert!(scan_in_chunks(&long, 65536).is_err());
        let value = format!("<a v=\"{}\"/>", "x".repeat(MAX_TEXT_BYTES + 1));
        assert!(scan_in_chunks(&value, 65536).is_err());
    }
}
