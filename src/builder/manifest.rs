//! The YAML files of a configuration repository: `confpack.yml` (defaults
//! for every package), `packages/<name>/control/control.yml` and
//! `roles/<role>.yml`, read with yaml_serde, unknown keys refused (a typo
//! must not silently drop a dependency).
//!
//! yaml_serde gives a line for syntax errors but not for values, so checks
//! on values find their line again in the text ([`Located`]).
//!
//! A YAML alias copies what its anchor names, so a small file can expand to
//! gigabytes (705 KB of `- *s` made a 500 MB `Depends` and 2.4 GB of
//! memory). yaml_serde only bounds the number of alias jumps, not what they
//! copy; so the files are limited in size ([`MAX_YAML_BYTES`]) and walked
//! once, without keeping anything, counting what the aliases expand to
//! ([`MAX_YAML_VALUES`], [`MAX_YAML_TEXT`]) before they are read for real.

use std::collections::BTreeMap;

use serde::de::{DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::Problem;

use super::source::{self, Links, ReadError};

/// `confpack.yml` at the repository root: defaults for every package.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    pub maintainer: Option<String>,
    pub section: Option<String>,
    pub priority: Option<String>,
    pub homepage: Option<String>,
    /// Text of `/usr/share/doc/<pkg>/copyright` in every package.
    pub copyright: Option<String>,
    /// The age recipients (nodes' public keys) that `secrets/` files are
    /// encrypted to, a file relative to the repository.
    pub recipients: Option<String>,
}

/// A string field that YAML might have read as a number: `1` is accepted,
/// `1.10` is refused (YAML would make it 1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        match yaml_serde::Value::deserialize(deserializer)? {
            yaml_serde::Value::String(text) => Ok(Text(text)),
            yaml_serde::Value::Number(number) if number.is_u64() => Ok(Text(number.to_string())),
            yaml_serde::Value::Number(number) => Err(serde::de::Error::custom(format!(
                "{number} is read as a number by YAML; quote it (\"{number}\") so it stays exactly as written"
            ))),
            other => Err(serde::de::Error::custom(format!(
                "expected text, found {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(value: &yaml_serde::Value) -> &'static str {
    match value {
        yaml_serde::Value::Null => "nothing",
        yaml_serde::Value::Bool(_) => "a boolean",
        yaml_serde::Value::Number(_) => "a number",
        yaml_serde::Value::String(_) => "text",
        yaml_serde::Value::Sequence(_) => "a list",
        yaml_serde::Value::Mapping(_) => "a mapping",
        yaml_serde::Value::Tagged(_) => "a tagged value",
    }
}

/// A relationship field: a YAML list, or one comma-separated string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations(pub Vec<String>);

impl<'de> Deserialize<'de> for Relations {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Relations, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<String>),
            Text(String),
        }
        let list = match Form::deserialize(deserializer)? {
            Form::List(list) => list,
            Form::Text(text) => text.split(',').map(str::to_string).collect(),
        };
        Ok(Relations(
            list.into_iter()
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect(),
        ))
    }
}

/// Where a package's environment document comes from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// The local copy, relative to the `control/` directory (default
    /// `environment.xml` there). May be shared: `../../../environments/x.xml`.
    pub file: Option<String>,
    /// The online copy configure fetches first.
    pub url: Option<String>,
    /// An XSD to validate against instead of the built-in one, relative to
    /// `control/`.
    pub schema: Option<String>,
}

/// `control.yml` of a package and `<role>.yml` of a role share the
/// metadata keys; the others are checked per kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// control.yml: the package name (default: the directory name).
    pub package: Option<Text>,
    /// roles: the package name (default: the file name without `.yml`).
    pub name: Option<Text>,
    pub version: Option<Text>,
    pub description: Option<String>,
    pub maintainer: Option<String>,
    pub section: Option<String>,
    pub priority: Option<String>,
    pub architecture: Option<String>,
    pub homepage: Option<String>,
    #[serde(default)]
    pub pre_depends: Relations,
    #[serde(default)]
    pub depends: Relations,
    #[serde(default)]
    pub recommends: Relations,
    #[serde(default)]
    pub suggests: Relations,
    #[serde(default)]
    pub breaks: Relations,
    #[serde(default)]
    pub conflicts: Relations,
    #[serde(default)]
    pub provides: Relations,
    #[serde(default)]
    pub replaces: Relations,
    /// Packages only.
    pub environment: Option<EnvironmentSpec>,
    /// Packages only: configure's component hooks, as in package.yml.
    pub hooks: Option<yaml_serde::Value>,
    /// Packages only: target path → octal mode (`"0440"`).
    #[serde(default)]
    pub modes: BTreeMap<String, Text>,
    /// Packages only: template targets whose local edits configure keeps
    /// instead of replacing (`/etc/webshop/app.conf`).
    #[serde(default)]
    pub keep_local_edits: Vec<String>,
    /// Packages only: question keys this package asks besides those its
    /// templates, hooks and derived values read (see
    /// [`crate::questions`]).
    #[serde(default)]
    pub questions: Vec<String>,
    /// Packages only: the recipients file for this package's secrets,
    /// relative to `control/` (instead of confpack.yml's).
    pub recipients: Option<String>,
    /// Packages only: declarations with a "down" (see
    /// [`crate::declared`]), read by `super::declared`.
    pub groups: Option<yaml_serde::Value>,
    pub users: Option<yaml_serde::Value>,
    pub directories: Option<yaml_serde::Value>,
    pub downloads: Option<yaml_serde::Value>,
    pub blocks: Option<yaml_serde::Value>,
    pub services: Option<yaml_serde::Value>,
    pub firewall: Option<yaml_serde::Value>,
}

impl Manifest {
    /// The declaration keys ([`crate::declared::KEYS`]) and their values.
    pub fn declared(&self) -> Vec<(&'static str, Option<&yaml_serde::Value>)> {
        vec![
            ("groups", self.groups.as_ref()),
            ("users", self.users.as_ref()),
            ("directories", self.directories.as_ref()),
            ("downloads", self.downloads.as_ref()),
            ("blocks", self.blocks.as_ref()),
            ("services", self.services.as_ref()),
            ("firewall", self.firewall.as_ref()),
        ]
    }

    /// The relationship fields by their control-file name.
    pub fn relations(&self) -> Vec<(&'static str, &Relations)> {
        vec![
            ("Pre-Depends", &self.pre_depends),
            ("Depends", &self.depends),
            ("Recommends", &self.recommends),
            ("Suggests", &self.suggests),
            ("Breaks", &self.breaks),
            ("Conflicts", &self.conflicts),
            ("Provides", &self.provides),
            ("Replaces", &self.replaces),
        ]
    }
}

/// Parses YAML, turning yaml_serde's error into a problem at its line.
/// The largest `confpack.yml`, `control.yml` or role file.
pub const MAX_YAML_BYTES: u64 = 1 << 20;
/// The most values (scalars, lists, mappings) a YAML file may expand to,
/// aliases included.
pub const MAX_YAML_VALUES: usize = 1_000_000;
/// The most text (scalar bytes) a YAML file may expand to, aliases included.
pub const MAX_YAML_TEXT: usize = 4 << 20;

/// Parses YAML, turning yaml_serde's error into a problem at its line.
pub fn parse<T: for<'de> Deserialize<'de> + Default>(file: &str, text: &str) -> Result<T, Problem> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    let problem = |e: yaml_serde::Error| Problem {
        file: file.to_string(),
        line: e.location().map(|l| l.line() as u64),
        message: e.to_string(),
    };
    Walk(&mut Expansion::default())
        .deserialize(yaml_serde::Deserializer::from_str(text))
        .map_err(problem)?;
    yaml_serde::from_str(text).map_err(problem)
}

/// What a YAML document expanded to so far.
#[derive(Default)]
struct Expansion {
    values: usize,
    text: usize,
}

impl Expansion {
    fn count<E: serde::de::Error>(&mut self, text: usize) -> Result<(), E> {
        self.values += 1;
        self.text = self.text.saturating_add(text);
        if self.values > MAX_YAML_VALUES || self.text > MAX_YAML_TEXT {
            return Err(E::custom(format!(
                "the YAML expands (aliases copy what they name) past {MAX_YAML_VALUES} values \
                 or {MAX_YAML_TEXT} bytes of text, the most a file of the repository may hold"
            )));
        }
        Ok(())
    }
}

/// Walks any YAML value, counting it into an [`Expansion`] and keeping
/// nothing.
struct Walk<'a>(&'a mut Expansion);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.0.count(0)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.0.count(0)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.0.count(0)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.0.count(0)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        self.0.count(text.len())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.count(0)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.count(0)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.0.count::<D::Error>(0)?;
        Walk(self.0).deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.count(0)?;
        while seq.next_element_seed(Walk(self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.count(0)?;
        while map.next_key_seed(Walk(self.0))?.is_some() {
            map.next_value_seed(Walk(self.0))?;
        }
        Ok(())
    }

    /// A tagged value (`!tag value`).
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let ((), variant) = data.variant_seed(Walk(self.0))?;
        variant.newtype_variant_seed(Walk(self.0))
    }
}

/// Reads a YAML file of the repository (`confpack.yml`, a `control.yml`,
/// a role), following a symlink only inside the repository.
pub fn read(repo: &std::path::Path, relative: &str) -> Result<String, ReadError> {
    source::read_text(repo, relative, Links::InsideRepository, MAX_YAML_BYTES)
}

/// A YAML file's text, to find the line of a key or value again.
#[derive(Debug, Clone)]
pub struct Located {
    pub file: String,
    pub text: String,
}

impl Located {
    /// `text` as `control.yml` (tests).
    #[cfg(test)]
    pub fn control_yml(text: &str) -> Located {
        Located {
            file: "control.yml".into(),
            text: text.into(),
        }
    }

    /// The 1-based line of a top-level `key:`.
    pub fn key_line(&self, key: &str) -> Option<u64> {
        self.text
            .lines()
            .position(|line| {
                line.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
            .map(|i| i as u64 + 1)
    }

    /// The line of `needle` at or after `key`'s line (a list item, a nested
    /// key); the key's line when the needle is not found.
    pub fn value_line(&self, key: &str, needle: &str) -> Option<u64> {
        let start = self.key_line(key)?;
        self.text
            .lines()
            .enumerate()
            .skip(start as usize - 1)
            .find(|(_, line)| line.contains(needle))
            .map(|(i, _)| i as u64 + 1)
            .or(Some(start))
    }

    pub fn problem(&self, line: Option<u64>, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            line,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_version_must_be_quoted() {
        let problem = parse::<Manifest>("c.yml", "version: 1.10\n").expect_err("refused");
        assert_eq!(problem.line, Some(1));
        assert!(problem.message.contains("quote it"), "{}", problem.message);
        let manifest: Manifest = parse("c.yml", "version: 2\n").expect("integer");
        assert_eq!(manifest.version, Some(Text("2".into())));
    }

    #[test]
    fn relations_are_a_list_or_a_comma_separated_string() {
        let manifest: Manifest =
            parse("c.yml", "depends: [a, b (>= 1)]\nrecommends: c, d | e\n").expect("parse");
        assert_eq!(manifest.depends.0, ["a", "b (>= 1)"]);
        assert_eq!(manifest.recommends.0, ["c", "d | e"]);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let problem =
            parse::<Manifest>("c.yml", "version: \"1\"\ndepend: [a]\n").expect_err("refused");
        assert_eq!(problem.line, Some(2));
        assert!(problem.message.contains("depend"), "{}", problem.message);
    }

    #[test]
    fn aliases_may_not_expand_a_file_past_the_limit() {
        let long = "a".repeat(100_000);
        let text = format!("depends:\n  - &s \"{long}\"\n{}", "  - *s\n".repeat(50));
        let problem = parse::<Manifest>("c.yml", &text).expect_err("refused");
        assert!(problem.message.contains("expands"), "{}", problem.message);
        // yaml_serde marks an alias's copy at its anchor; the path names the
        // entry.
        assert_eq!(problem.line, Some(2), "{problem:?}");
        assert!(problem.message.contains("depends["), "{}", problem.message);
        let nested = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                      g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        // yaml_serde's own jump limit may come first.
        let problem = parse::<Manifest>("c.yml", nested).expect_err("refused");
        assert!(
            problem.message.contains("expands") || problem.message.contains("repetition limit"),
            "{}",
            problem.message
        );
        // A few aliases are fine.
        let manifest: Manifest =
            parse("c.yml", "depends: [&n nginx, *n]\nrecommends: [*n]\n").expect("small");
        assert_eq!(manifest.recommends.0, ["nginx"]);
    }

    #[test]
    fn values_are_found_again_by_line() {
        let located = Located {
            file: "c.yml".into(),
            text: "version: \"1\"\ndepends:\n  - nginx\n  - ghost\n".into(),
        };
        assert_eq!(located.key_line("depends"), Some(2));
        assert_eq!(located.value_line("depends", "ghost"), Some(4));
    }
}
