//! Which questions belong to a package: the ones `configure --package P`
//! plans, asks and stores. Several packages often share one environment
//! document (`webshop-app` and `webshop-nginx`); each asks only what it
//! uses, so a person is never asked for a database password by the
//! package that serves static files, and a question two packages read is
//! decided once (the second run finds it answered and seen).
//!
//! A package's questions are, in the document's order:
//! - the keys its templates read as `answers["KEY"]`,
//! - the keys its hooks declare in `reads:`,
//! - the keys it declares in control.yml `questions:` (asked although
//!   nothing reads them: a note, an e-mail address for a person),
//! - and, transitively, the keys the expressions of those derived
//!   questions read.
//!
//! A template or expression that reaches `answers` any other way
//! (`answers[name]` with a variable, a loop over `answers`, a syntax error)
//! could read anything: the package then has every question of the
//! document. So does a package that reads nothing and declares nothing (a
//! package that only asks: the document is its questions).
//!
//! Found by reading the template sources with minijinja's own tokenizer,
//! so comments, `{% raw %}` blocks and string contents never count.

use std::collections::BTreeSet;

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;

use crate::env::model::{Document, Source};
use crate::error::Result;
use crate::package::Package;

/// What a source reads from `answers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// Only these keys.
    Keys(BTreeSet<String>),
    /// Not known before rendering: possibly any key.
    Any,
}

impl Reads {
    fn none() -> Reads {
        Reads::Keys(BTreeSet::new())
    }

    fn extend(&mut self, other: Reads) {
        match (self, other) {
            (Reads::Keys(mine), Reads::Keys(theirs)) => mine.extend(theirs),
            (this, Reads::Any) => *this = Reads::Any,
            (Reads::Any, Reads::Keys(_)) => {}
        }
    }
}

/// The keys a template source reads.
pub fn template_reads(source: &str) -> Reads {
    scan(source, false)
}

/// The keys a derived question's expression reads.
pub fn expression_reads(expression: &str) -> Reads {
    scan(expression, true)
}

fn scan(source: &str, in_expression: bool) -> Reads {
    let mut tokens = Vec::new();
    for token in tokenize(source, in_expression, SyntaxConfig::default()) {
        match token {
            Ok((token, _)) => tokens.push(token),
            Err(_) => return Reads::Any,
        }
    }
    let mut keys = BTreeSet::new();
    for (i, token) in tokens.iter().enumerate() {
        if !matches!(token, Token::Ident("answers")) {
            continue;
        }
        // `x.answers` is an attribute of something else.
        if i > 0 && matches!(tokens[i - 1], Token::Dot) {
            continue;
        }
        let key = match (tokens.get(i + 1), tokens.get(i + 2), tokens.get(i + 3)) {
            (Some(Token::BracketOpen), Some(Token::Str(key)), Some(Token::BracketClose)) => {
                key.to_string()
            }
            (Some(Token::BracketOpen), Some(Token::String(key)), Some(Token::BracketClose)) => {
                key.to_string()
            }
            _ => return Reads::Any,
        };
        keys.insert(key);
    }
    Reads::Keys(keys)
}

/// The questions of a package, for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// `None`: every question of the document.
    pub keys: Option<BTreeSet<String>>,
    /// Keys the package declares (`questions:`) that the document does not
    /// have (a newer document dropped them): worth a warning, never fatal.
    /// A template may read another document's answers, so what templates
    /// read is not checked here.
    pub unknown: Vec<String>,
}

impl Owned {
    /// Every question of the document (configure without a package).
    pub fn all() -> Owned {
        Owned {
            keys: None,
            unknown: Vec::new(),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.keys.as_ref().is_none_or(|keys| keys.contains(key))
    }
}

/// The questions `package` asks from `document`.
pub fn of_package(package: &Package, document: &Document) -> Result<Owned> {
    let mut reads = Reads::none();
    let mut read_anything =
        !package.config.hooks.is_empty() || !package.config.questions.is_empty();
    let dir = package.templates_dir();
    for (relative, _target) in crate::package::list_templates(&dir)? {
        read_anything = true;
        let source = dir.join(relative);
        let text = std::fs::read_to_string(&source).map_err(|e| crate::Error::io(&source, e))?;
        reads.extend(template_reads(&text));
    }
    // Declarations' template texts (a block's content, a firewall table's
    // rules) read answers as templates do.
    for source in package.config.declared.templates() {
        read_anything = true;
        reads.extend(template_reads(source));
    }
    let hooks = package.config.hooks.iter().flat_map(|h| h.reads.iter());
    reads.extend(Reads::Keys(
        hooks.chain(&package.config.questions).cloned().collect(),
    ));
    if !read_anything {
        return Ok(Owned::all());
    }
    let mut owned = close(document, reads);
    owned.unknown = package
        .config
        .questions
        .iter()
        .filter(|key| document.template(key).is_none())
        .cloned()
        .collect();
    Ok(owned)
}

/// Adds what the derived questions among `reads` read, until nothing new.
pub fn close(document: &Document, reads: Reads) -> Owned {
    let Reads::Keys(mut keys) = reads else {
        return Owned::all();
    };
    let mut pending: Vec<String> = keys.iter().cloned().collect();
    while let Some(key) = pending.pop() {
        let Some(template) = document.template(&key) else {
            continue;
        };
        if template.source != Source::Derived {
            continue;
        }
        match expression_reads(template.expression.as_deref().unwrap_or_default()) {
            Reads::Any => return Owned::all(),
            Reads::Keys(read) => {
                for key in read {
                    if keys.insert(key.clone()) {
                        pending.push(key);
                    }
                }
            }
        }
    }
    Owned {
        keys: Some(keys),
        unknown: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Reads {
        Reads::Keys(list.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn a_template_reads_the_keys_it_subscripts_with_a_literal() {
        for (source, expected) in [
            ("plain text, no tags", keys(&[])),
            (r#"{{ answers["a/b"] }}"#, keys(&["a/b"])),
            (r#"{{ answers['a/b'] | upper }}"#, keys(&["a/b"])),
            (
                r#"{% if answers["x/tls"] %}{{ answers["x/cert"] }}{% endif %}"#,
                keys(&["x/cert", "x/tls"]),
            ),
            (
                r#"{% for ip in answers["x/list"] | split %}{{ ip }}{% endfor %}"#,
                keys(&["x/list"]),
            ),
            (
                r#"{{ environment.context }} {{ machine.hostname }}"#,
                keys(&[]),
            ),
            // Comments and raw blocks are text, not reads.
            (r#"{# answers["x/c"] #}ok"#, keys(&[])),
            (r#"{% raw %}{{ answers[k] }}{% endraw %}"#, keys(&[])),
            (r#"answers["x/text"] outside a tag"#, keys(&[])),
            // Another object's attribute named answers.
            (r#"{{ machine.answers }}"#, keys(&[])),
            // Escaped quotes in the key (an allocated string token).
            (r#"{{ answers["a\"b"] }}"#, keys(&["a\"b"])),
        ] {
            assert_eq!(template_reads(source), expected, "{source}");
        }
    }

    #[test]
    fn any_other_use_of_answers_may_read_anything() {
        for source in [
            r#"{{ answers[name] }}"#,
            r#"{% for k in answers %}{{ k }}{% endfor %}"#,
            r#"{% set a = answers %}{{ a["x/y"] }}"#,
            r#"{{ answers["x/" ~ suffix] }}"#,
            r#"{{ answers | length }}"#,
            r#"{{ answers["unterminated }}"#,
            r#"{{ answers.x }}"#,
        ] {
            assert_eq!(template_reads(source), Reads::Any, "{source}");
        }
    }

    #[test]
    fn an_expression_reads_like_a_template() {
        assert_eq!(
            expression_reads(r#"answers["x/dir"] ~ "/" ~ answers["x/file"]"#),
            keys(&["x/dir", "x/file"])
        );
        assert_eq!(expression_reads("machine.hostname"), keys(&[]));
        assert_eq!(expression_reads("answers[k]"), Reads::Any);
    }

    fn document() -> Document {
        use crate::testing::{derived, template};
        crate::testing::document(vec![
            template("x/dir", Source::Configured),
            template("x/file", Source::Configured),
            derived("x/path", r#"answers["x/dir"] ~ "/" ~ answers["x/file"]"#),
            derived("x/link", r#"answers["x/path"] ~ ".l""#),
            derived("x/loose", "answers[machine.hostname]"),
            template("x/other", Source::Configured),
        ])
    }

    #[test]
    fn derived_questions_bring_what_their_expressions_read() {
        let document = document();
        for (reads, expected) in [
            (keys(&["x/other"]), Some(vec!["x/other"])),
            (keys(&["x/path"]), Some(vec!["x/dir", "x/file", "x/path"])),
            (
                keys(&["x/link"]),
                Some(vec!["x/dir", "x/file", "x/link", "x/path"]),
            ),
            (keys(&["x/loose"]), None),
            (Reads::Any, None),
        ] {
            let owned = close(&document, reads.clone());
            let expected = expected.map(|keys| keys.into_iter().map(String::from).collect());
            assert_eq!(owned.keys, expected, "{reads:?}");
        }
    }

    #[test]
    fn only_the_owned_keys_are_contained() {
        // x/other-doc: another document's answer a template may read.
        let owned = close(&document(), keys(&["x/dir", "x/other-doc"]));
        assert!(owned.unknown.is_empty());
        assert!(owned.contains("x/dir") && owned.contains("x/other-doc"));
        assert!(!owned.contains("x/file"));
        assert!(Owned::all().contains("anything"));
    }

    #[test]
    fn a_declared_question_the_document_lacks_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = Package {
            name: "p".into(),
            dir: dir.path().to_path_buf(),
            config: crate::package::PackageConfig {
                questions: vec!["x/dir".into(), "x/gone".into()],
                ..Default::default()
            },
        };
        let owned = of_package(&package, &document()).expect("owned");
        assert_eq!(owned.unknown, ["x/gone"]);
        assert_eq!(
            owned.keys,
            Some(["x/dir".to_string(), "x/gone".to_string()].into())
        );
    }

    #[test]
    fn what_a_block_or_firewall_table_reads_is_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let yaml =
            "declared:\n  blocks:\n  - file: /etc/hosts\n    content: \"{{ answers['x/dir'] }}\"\n";
        let config: crate::package::PackageConfig = yaml_serde::from_str(yaml).expect("yaml");
        let package = Package {
            name: "p".into(),
            dir: dir.path().to_path_buf(),
            config,
        };
        let owned = of_package(&package, &document()).expect("owned");
        assert_eq!(owned.keys, Some(["x/dir".to_string()].into()));
    }
}
