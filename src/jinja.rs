//! The one minijinja environment confpack renders and evaluates with, and
//! the checks every expression and template passes first: strict undefined
//! (a typo is an error naming it), bounded fuel and output, no
//! auto-escaping, a bound on code length that keeps minijinja's recursive
//! compiler off the end of the stack, and errors in words that name the
//! undefined value. The lowest layer of templating: the document reader,
//! the builder, derive and render all use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use minijinja::value::{Rest, Value};
use minijinja::{Environment as Jinja, ErrorKind, State, UndefinedBehavior};

/// Upper bound on the work one expression or template may do, so a hostile
/// document cannot make a postinst spin.
const FUEL: u64 = 50_000_000;

/// Most characters of code (outside string literals and whitespace) one
/// expression or template tag may have.
///
/// Why: minijinja bounds the nesting of brackets (150 levels) but not
/// chains of unary operators (`- - - 1`, `not not x`), and it compiles a
/// chain of operators, attribute lookups or filters (`1+1+…`, `x.a.a…`,
/// `x|f|f…`) by recursing once per link. About 5,000 links overflow the
/// 8 MB main stack of a debug build and 100,000 a release build, which
/// aborts the process (a postinst, on a document fetched from a server)
/// instead of failing. A link costs at least one character of code, so
/// this bound keeps the depth far below any stack's limit (found by
/// tests/fuzz.rs).
pub const MAX_CODE_LEN: usize = 1000;

/// Counts the code characters of `source` up to `end` (a template tag's
/// closing delimiter; `None`: the whole text), skipping whitespace and the
/// contents of string literals. Returns the count and the text after `end`.
fn code_len<'a>(source: &'a str, end: Option<&str>) -> (usize, &'a str) {
    let mut count = 0;
    let mut chars = source.char_indices();
    while let Some((at, c)) = chars.next() {
        if let Some(end) = end
            && source[at..].starts_with(end)
        {
            return (count, &source[at + end.len()..]);
        }
        if c == '"' || c == '\'' {
            while let Some((_, inside)) = chars.next() {
                if inside == '\\' {
                    chars.next();
                } else if inside == c {
                    break;
                }
            }
        }
        if !c.is_whitespace() {
            count += 1;
        }
    }
    (count, "")
}

fn too_long(count: usize) -> String {
    format!(
        "{count} characters of code outside strings, more than the {MAX_CODE_LEN} that \
         minijinja can compile without overflowing its stack; split it into smaller steps"
    )
}

/// Refuses an expression too long for minijinja to compile safely (see
/// [`MAX_CODE_LEN`]).
pub fn check_code_len(expression: &str) -> std::result::Result<(), String> {
    match code_len(expression, None).0 {
        count if count > MAX_CODE_LEN => Err(format!("the expression has {}", too_long(count))),
        _ => Ok(()),
    }
}

/// Refuses a template with a tag (`{{ }}`, `{% %}`) too long for minijinja
/// to compile safely (see [`MAX_CODE_LEN`]); the error has the tag's
/// 1-based line.
pub fn check_template_tags(source: &str) -> std::result::Result<(), (usize, String)> {
    let mut rest = source;
    loop {
        let Some(open) = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|tag| rest.find(tag))
            .min()
        else {
            return Ok(());
        };
        let line = source[..source.len() - rest.len() + open]
            .matches('\n')
            .count()
            + 1;
        let tag = &rest[open..open + 2];
        let body = &rest[open + 2..];
        rest = match tag {
            "{#" => body.find("#}").map_or("", |end| &body[end + 2..]),
            _ => {
                let end = if tag == "{{" { "}}" } else { "%}" };
                let (count, after) = code_len(body, Some(end));
                if count > MAX_CODE_LEN {
                    return Err((line, format!("the tag has {}", too_long(count))));
                }
                let code = &body[..body.len() - after.len()];
                let words: Vec<&str> = code
                    .trim_end_matches(end)
                    .trim_matches(['-', '+', '~'])
                    .split_whitespace()
                    .collect();
                if words == ["raw"] {
                    // The text up to `endraw` is not parsed.
                    after
                        .find("endraw")
                        .and_then(|at| after[at..].find("%}").map(|end| &after[at + end + 2..]))
                        .unwrap_or("")
                } else {
                    after
                }
            }
        };
    }
}

/// Builds the minijinja environment used for expressions and templates:
/// strict undefined (a typo is an error, not an empty string), bounded fuel,
/// no auto-escaping (configuration files are not HTML).
///
/// Debug mode makes minijinja remember which expression produced an
/// undefined value (`machine.hostname`), which [`explain`] reports; it costs
/// only when an error happens. A none value (the fields of a machine that
/// did not match) counts as missing for `default` and is refused when
/// printed, like undefined: `none` in a configuration file is never meant.
pub fn jinja() -> Jinja<'static> {
    jinja_with_output(None)
}

/// The detail of the error raised when a value would make the output pass
/// its limit ([`jinja_with_output`]).
pub const OUTPUT_LIMIT: &str = "the output passes its size limit";

/// Like [`jinja`], for rendering into a bounded output: `limit` is the
/// bytes written so far (counted by the writer) and the most allowed;
/// printing a string that would pass it fails where it is printed, so
/// the error has the template's line.
pub fn jinja_with_output(limit: Option<(Arc<AtomicUsize>, usize)>) -> Jinja<'static> {
    let mut jinja = Jinja::new();
    jinja.set_undefined_behavior(UndefinedBehavior::Strict);
    jinja.set_debug(true);
    jinja.set_fuel(Some(FUEL));
    jinja.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    jinja.add_filter("default", default_filter);
    jinja.set_formatter(move |out, state, value| {
        if value.is_none() {
            return Err(minijinja::Error::new(
                ErrorKind::UndefinedError,
                NONE_PRINTED,
            ));
        }
        if let (Some((written, limit)), Some(text)) = (&limit, value.as_str())
            && written.load(Ordering::Relaxed).saturating_add(text.len()) > *limit
        {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                OUTPUT_LIMIT,
            ));
        }
        minijinja::escape_formatter(out, state, value)
    });
    // A configuration file keeps its final newline.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        jinja.set_syntax(syntax);
    }
    jinja
}

/// The detail of the error raised when a none value is printed.
const NONE_PRINTED: &str = "none is not printed";

/// minijinja's `default`, with none counting as missing too.
fn default_filter(
    state: &State,
    value: &Value,
    args: Rest<Value>,
) -> std::result::Result<Value, minijinja::Error> {
    let value = if value.is_none() {
        &Value::UNDEFINED
    } else {
        value
    };
    minijinja::filters::default(state, value, args)
}

/// A template's or expression's error in words, without minijinja's
/// `(in name:line)`: the caller puts the file and line in front. An
/// undefined value is named (`machine.hostname`, `answers["x/y"]`), from
/// minijinja's debug information, else from the answer key `answers` last
/// missed (`missing_answer`), else from the text at the error's span in
/// `source`.
pub fn explain(error: &minijinja::Error, source: &str, missing_answer: Option<&str>) -> String {
    let mut message = match error.kind() {
        ErrorKind::UndefinedError => {
            let name = if error.detail() == Some(NONE_PRINTED) {
                span_text(error, source)
            } else {
                undefined_name(error, source, missing_answer)
            };
            match (error.detail(), name) {
                (Some(NONE_PRINTED), Some(name)) => format!(
                    "{name} is none (no machine of the document matched this host?); \
                     give a fallback with `{name} | default(…)` or test it with `{{% if {name} %}}`"
                ),
                (_, Some(name)) => format!(
                    "undefined value {name} (a typo, or a value that may be missing: \
                     use `| default(…)` or `is defined`)"
                ),
                (_, None) => "undefined value".to_string(),
            }
        }
        kind => match error.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    let mut source_error = std::error::Error::source(error);
    while let Some(inner) = source_error {
        message.push_str(&format!(": {inner}"));
        source_error = inner.source();
    }
    message
}

/// The name of the undefined value an error is about (see [`explain`]).
fn undefined_name(
    error: &minijinja::Error,
    source: &str,
    missing_answer: Option<&str>,
) -> Option<String> {
    // minijinja's detail: "`machine.hostname` is undefined", or with the
    // operation in front: "… (`answers['x']` is undefined)".
    let described = error.detail().and_then(|detail| {
        let start = detail.find('`')? + 1;
        let end = start + detail[start..].find("` is undefined")?;
        Some(detail[start..end].to_string())
    });
    let answer = missing_answer.map(|key| format!("answers[{key:?}]"));
    match described {
        Some(name) if name.starts_with("answers[") => answer.or(Some(name)),
        Some(name) if !name.contains("...") => Some(name),
        _ => answer.or_else(|| span_text(error, source)),
    }
}

/// The source text the error points at.
fn span_text(error: &minijinja::Error, source: &str) -> Option<String> {
    let text = source.get(error.range()?)?.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Checks that an expression parses; the error is minijinja's message.
pub fn check_expression(expression: &str) -> std::result::Result<(), String> {
    check_code_len(expression)?;
    let jinja = jinja();
    jinja
        .compile_expression(expression)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
