//! The YAML files of a configuration repository: `confpack.yml` (defaults
//! for every package), `packages/<name>/control/control.yml` and
//! `roles/<role>.yml`, read with serde_yaml, unknown keys refused (a typo
//! must not silently drop a dependency).
//!
//! serde_yaml gives a line for syntax errors but not for values, so checks
//! on values find their line again in the text ([`Located`]).

use std::collections::BTreeMap;

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
        match serde_yaml::Value::deserialize(deserializer)? {
            serde_yaml::Value::String(text) => Ok(Text(text)),
            serde_yaml::Value::Number(number) if number.is_u64() => Ok(Text(number.to_string())),
            serde_yaml::Value::Number(number) => Err(serde::de::Error::custom(format!(
                "{number} is read as a number by YAML; quote it (\"{number}\") so it stays exactly as written"
            ))),
            other => Err(serde::de::Error::custom(format!(
                "expected text, found {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "text",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
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
    pub hooks: Option<serde_yaml::Value>,
    /// Packages only: target path → octal mode (`"0440"`).
    #[serde(default)]
    pub modes: BTreeMap<String, Text>,
    /// Packages only: the recipients file for this package's secrets,
    /// relative to `control/` (instead of confpack.yml's).
    pub recipients: Option<String>,
}

impl Manifest {
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

/// Parses YAML, turning serde_yaml's error into a problem at its line.
pub fn parse<T: for<'de> Deserialize<'de> + Default>(file: &str, text: &str) -> Result<T, Problem> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_yaml::from_str(text).map_err(|e| Problem {
        file: file.to_string(),
        line: e.location().map(|l| l.line() as u64),
        message: e.to_string(),
    })
}

/// Reads a YAML file of the repository (`confpack.yml`, a `control.yml`,
/// a role), following a symlink only inside the repository.
pub fn read(repo: &std::path::Path, relative: &str) -> Result<String, ReadError> {
    source::read_text(
        repo,
        relative,
        Links::InsideRepository,
        super::package::MAX_FILE_BYTES,
    )
}

/// A YAML file's text, to find the line of a key or value again.
#[derive(Debug, Clone)]
pub struct Located {
    pub file: String,
    pub text: String,
}

impl Located {
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
    fn values_are_found_again_by_line() {
        let located = Located {
            file: "c.yml".into(),
            text: "version: \"1\"\ndepends:\n  - nginx\n  - ghost\n".into(),
        };
        assert_eq!(located.key_line("depends"), Some(2));
        assert_eq!(located.value_line("depends", "ghost"), Some(4));
    }
}
