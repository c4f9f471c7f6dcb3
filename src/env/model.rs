//! The typed environment document: templates (the questions), environments,
//! machines and their configured values.
//!
//! This is what every later stage works on; the XML readers in
//! [`super::native`] (and later other dialects) produce it. A question's type,
//! its value syntax and its validation live together on [`QuestionType`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of a question, as in debconf. Decides the value syntax, the
/// validation and (in the frontends) the widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionType {
    String,
    Password,
    Boolean,
    Select,
    Multiselect,
    Note,
    Text,
    Title,
    Error,
}

impl QuestionType {
    pub const ALL: [QuestionType; 9] = [
        QuestionType::String,
        QuestionType::Password,
        QuestionType::Boolean,
        QuestionType::Select,
        QuestionType::Multiselect,
        QuestionType::Note,
        QuestionType::Text,
        QuestionType::Title,
        QuestionType::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuestionType::String => "string",
            QuestionType::Password => "password",
            QuestionType::Boolean => "boolean",
            QuestionType::Select => "select",
            QuestionType::Multiselect => "multiselect",
            QuestionType::Note => "note",
            QuestionType::Text => "text",
            QuestionType::Title => "title",
            QuestionType::Error => "error",
        }
    }

    /// Display-only types carry no value; they are shown, never answered.
    pub fn is_display_only(self) -> bool {
        matches!(
            self,
            QuestionType::Note | QuestionType::Text | QuestionType::Title | QuestionType::Error
        )
    }

    /// Values of this type are secrets: stored 0600, masked in output.
    pub fn is_secret(self) -> bool {
        self == QuestionType::Password
    }

    /// Whether this type needs a list of choices.
    pub fn has_choices(self) -> bool {
        matches!(self, QuestionType::Select | QuestionType::Multiselect)
    }

    /// Checks that `value` is a valid value of this type given `choices`;
    /// the error says what is allowed.
    pub fn check(self, value: &str, choices: &[String]) -> Result<(), String> {
        match self {
            QuestionType::Boolean => match value {
                "true" | "false" => Ok(()),
                other => Err(format!("`{other}` is not a boolean; use true or false")),
            },
            QuestionType::Select => {
                if choices.iter().any(|c| c == value) {
                    Ok(())
                } else {
                    Err(format!(
                        "`{value}` is not one of the choices: {}",
                        choices.join(", ")
                    ))
                }
            }
            QuestionType::Multiselect => {
                let unknown: Vec<String> = split_multiselect(value)
                    .into_iter()
                    .filter(|item| !choices.contains(item))
                    .collect();
                if unknown.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} not among the choices: {}",
                        unknown
                            .iter()
                            .map(|u| format!("`{u}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        choices.join(", ")
                    ))
                }
            }
            _ => {
                if value.contains('\0') {
                    Err("value contains a NUL byte".to_string())
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl fmt::Display for QuestionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QuestionType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QuestionType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown question type `{s}`; expected one of {}",
                    QuestionType::ALL.map(QuestionType::as_str).join(", ")
                )
            })
    }
}

/// Splits a multiselect value written the debconf way: items separated by
/// `", "`, a literal comma inside an item escaped as `\,`.
pub fn split_multiselect(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                current.push(',');
                chars.next();
            }
            ',' => {
                items.push(current.trim().to_string());
                current.clear();
            }
            other => current.push(other),
        }
    }
    if !current.trim().is_empty() || !items.is_empty() {
        items.push(current.trim().to_string());
    }
    items.retain(|item| !item.is_empty());
    items
}

/// Joins items into a debconf multiselect value (inverse of
/// [`split_multiselect`]).
pub fn join_multiselect<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|item| item.as_ref().replace(',', "\\,"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How important a question is; questions below the chosen priority are
/// not shown when they have a usable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown priority `{s}`; expected one of low, medium, high, critical")
            })
    }
}

/// Where a value comes from. On a template it is the *intended* source; on a
/// stored answer it is the *actual* one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Taken from the environment document; the document is the authority.
    Configured,
    /// Computed from an expression over other answers and the environment.
    Derived,
    /// Entered (or confirmed) by a person.
    User,
    /// The template's default, used because nothing else was given.
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Configured => "configured",
            Source::Derived => "derived",
            Source::User => "user",
            Source::Default => "default",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "configured" => Ok(Source::Configured),
            "derived" => Ok(Source::Derived),
            "user" => Ok(Source::User),
            "default" => Ok(Source::Default),
            other => Err(format!(
                "unknown source `{other}`; expected configured, derived, user or default"
            )),
        }
    }
}

/// A question definition (debconf's "template").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// `owner/name`, e.g. `webshop/db.host`.
    pub key: String,
    pub question_type: QuestionType,
    pub priority: Priority,
    /// The intended source: configured, derived or user.
    pub source: Source,
    pub description: String,
    pub extended: String,
    pub choices: Vec<String>,
    pub default: Option<String>,
    /// For derived templates: a minijinja expression.
    pub expression: Option<String>,
    /// Line of the `<template>` element.
    pub line: u64,
    /// An external tool vouched for the document's value (DataONE's `seen`
    /// flag): a user question takes it without asking.
    pub vouched: bool,
    /// The texts in other languages, by language tag (`de`, `pt_BR`).
    pub translations: BTreeMap<String, Texts>,
}

/// What a translation gives for a template; a part it leaves out is shown
/// untranslated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    pub description: Option<String>,
    pub extended: Option<String>,
    /// Labels of the choices, in the order of [`Template::choices`]; the
    /// stored value is always the untranslated choice.
    pub choices: Vec<String>,
}

/// A template's texts as a person reads them in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown<'a> {
    pub description: &'a str,
    pub extended: &'a str,
    /// One label per choice, in the order of [`Template::choices`].
    pub labels: Vec<&'a str>,
}

impl Template {
    /// The package part of the key (`webshop` of `webshop/db.host`).
    pub fn owner(&self) -> &str {
        self.key.split('/').next().unwrap_or(&self.key)
    }

    /// The texts to show to someone who reads `languages` (most wanted
    /// first, e.g. `["de_AT", "de"]`): each part from the first language
    /// that translates it, else the untranslated one. Choice labels come
    /// from one language only, and only when it labels every choice.
    pub fn shown(&self, languages: &[String]) -> Shown<'_> {
        let translations: Vec<&Texts> = languages
            .iter()
            .filter_map(|language| self.translations.get(language))
            .collect();
        let description = translations
            .iter()
            .find_map(|t| t.description.as_deref())
            .unwrap_or(&self.description);
        let extended = translations
            .iter()
            .find_map(|t| t.extended.as_deref())
            .unwrap_or(&self.extended);
        let labels = translations
            .iter()
            .find(|t| !t.choices.is_empty() && t.choices.len() == self.choices.len())
            .map(|t| &t.choices)
            .unwrap_or(&self.choices)
            .iter()
            .map(String::as_str)
            .collect();
        Shown {
            description,
            extended,
            labels,
        }
    }
}

/// A value the document configures for a question. Compact on purpose: an
/// environment can hold hundreds of thousands of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredValue {
    /// Index into [`Document::templates`].
    pub template: u32,
    pub line: u32,
    /// Not a `String`: no capacity to carry (8 bytes a value).
    pub value: Box<str>,
}

/// A value for another package's debconf question (`<debconf key="…">`):
/// its template comes from that package when it asks, so the document
/// names only the key and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignValue {
    pub key: String,
    pub value: String,
    pub line: u64,
}

/// A machine of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The address as written (may be empty for a "custom" machine).
    pub ip_text: String,
    /// The parsed address; `None` only when `ip_text` is empty.
    pub ip: Option<IpAddr>,
    pub hostname: Option<String>,
    pub values: Vec<ConfiguredValue>,
    /// Values for other packages' debconf questions on this machine.
    pub debconf: Vec<ForeignValue>,
    pub line: u64,
}

impl Machine {
    /// Exact identity match against an IP address or a host name
    /// (never a substring; IPs compare as addresses, host names
    /// case-insensitively and without a trailing dot).
    pub fn is(&self, identity: &str) -> bool {
        if let Ok(ip) = identity.parse::<IpAddr>() {
            return self.ip == Some(ip);
        }
        match &self.hostname {
            Some(name) => name.eq_ignore_ascii_case(identity.trim_end_matches('.')),
            None => false,
        }
    }

    /// How to name this machine in messages.
    pub fn label(&self) -> String {
        match (&self.hostname, self.ip_text.is_empty()) {
            (Some(name), false) => format!("{} ({name})", self.ip_text),
            (Some(name), true) => name.clone(),
            (None, false) => self.ip_text.clone(),
            (None, true) => "(machine without address)".to_string(),
        }
    }
}

/// An environment: a context label, its machines and environment-level values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub context: String,
    pub values: Vec<ConfiguredValue>,
    /// Values for other packages' debconf questions in this environment.
    pub debconf: Vec<ForeignValue>,
    pub machines: Vec<Machine>,
    pub line: u64,
}

/// A machine as listed in error messages, kept for every environment even
/// when the environment itself was not retained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSummary {
    pub context: String,
    pub label: String,
}

/// A parsed environment document.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Where it came from (file or URL), for messages.
    pub origin: String,
    pub templates: Vec<Template>,
    index: HashMap<String, usize>,
    /// The environments that were retained while reading (all, or only the
    /// ones that can be selected).
    pub environments: Vec<Environment>,
    /// Every environment's context label, in document order.
    pub contexts: Vec<String>,
    /// Every machine of the document, for error messages.
    pub machines: Vec<MachineSummary>,
    /// Things worth a warning that did not stop reading (e.g. a dialect
    /// document checked for well-formedness only).
    pub warnings: Vec<String>,
}

impl Document {
    pub fn new(origin: impl Into<String>) -> Self {
        Document {
            origin: origin.into(),
            ..Document::default()
        }
    }

    /// Adds a template; returns `false` if the key already exists.
    pub fn add_template(&mut self, template: Template) -> bool {
        if self.index.contains_key(&template.key) {
            return false;
        }
        self.index
            .insert(template.key.clone(), self.templates.len());
        self.templates.push(template);
        true
    }

    pub fn template(&self, key: &str) -> Option<&Template> {
        self.index.get(key).map(|&i| &self.templates[i])
    }

    /// Records an environment read from the document: its label and machine
    /// summaries always, the environment itself only when `retain` wants
    /// it. Returns `false` if the label was seen before.
    pub fn add_environment(
        &mut self,
        environment: Environment,
        retain: &dyn Fn(&Environment) -> bool,
    ) -> bool {
        let first = !self.contexts.contains(&environment.context);
        self.contexts.push(environment.context.clone());
        for machine in &environment.machines {
            self.machines.push(MachineSummary {
                context: environment.context.clone(),
                label: machine.label(),
            });
        }
        if retain(&environment) {
            self.environments.push(environment);
        }
        first
    }

    /// Index of a template in [`Document::templates`].
    pub fn template_index(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiselect_round_trips_items_with_commas() {
        let items = vec!["a".to_string(), "b, c".to_string(), "d".to_string()];
        let joined = join_multiselect(&items);
        assert_eq!(joined, "a, b\\, c, d");
        assert_eq!(split_multiselect(&joined), items);
    }

    #[test]
    fn empty_multiselect_has_no_items() {
        assert!(split_multiselect("").is_empty());
        assert!(split_multiselect("  ").is_empty());
    }

    #[test]
    fn machine_matches_ip_exactly_never_by_substring() {
        let machine = Machine {
            ip_text: "10.0.0.1".into(),
            ip: Some("10.0.0.1".parse().expect("ip")),
            hostname: Some("web1.example.org".into()),
            values: vec![],
            debconf: Vec::new(),
            line: 1,
        };
        assert!(machine.is("10.0.0.1"));
        assert!(!machine.is("10.0.0.17"));
        assert!(!machine.is("0.0.1"));
        assert!(machine.is("WEB1.example.org"));
        assert!(!machine.is("web1"));
        assert!(!machine.is("eb1.example.org"));
    }

    #[test]
    fn ipv6_addresses_match_in_any_spelling() {
        let machine = Machine {
            ip_text: "2001:db8::1".into(),
            ip: Some("2001:db8::1".parse().expect("ip")),
            hostname: None,
            values: vec![],
            debconf: Vec::new(),
            line: 1,
        };
        assert!(machine.is("2001:0db8:0000::0001"));
    }

    fn translated() -> Template {
        let mut translations = BTreeMap::new();
        translations.insert(
            "de".to_string(),
            Texts {
                description: Some("Zone".into()),
                extended: None,
                choices: vec!["Europa".into(), "Asien".into()],
            },
        );
        translations.insert(
            "de_AT".to_string(),
            Texts {
                description: Some("Zone (AT)".into()),
                extended: None,
                choices: vec!["Europa".into()],
            },
        );
        Template {
            key: "tz/area".into(),
            question_type: QuestionType::Select,
            priority: Priority::High,
            source: Source::User,
            description: "Area".into(),
            extended: "Where you live.".into(),
            choices: vec!["Europe".into(), "Asia".into()],
            default: None,
            expression: None,
            line: 1,
            vouched: false,
            translations,
        }
    }

    #[test]
    fn shown_texts_come_from_the_first_language_that_has_them() {
        let template = translated();
        let shown = template.shown(&["de_AT".into(), "de".into()]);
        assert_eq!(shown.description, "Zone (AT)");
        assert_eq!(shown.extended, "Where you live.");
        // de_AT labels only one of two choices: de's labels are used.
        assert_eq!(shown.labels, ["Europa", "Asien"]);
        let shown = template.shown(&["fr".into()]);
        assert_eq!(shown.description, "Area");
        assert_eq!(shown.labels, ["Europe", "Asia"]);
        assert_eq!(template.shown(&[]).description, "Area");
    }

    #[test]
    fn select_value_must_be_a_choice() {
        let choices = vec!["a".to_string(), "b".to_string()];
        assert!(QuestionType::Select.check("a", &choices).is_ok());
        assert!(QuestionType::Select.check("c", &choices).is_err());
        assert!(QuestionType::Multiselect.check("a, b", &choices).is_ok());
        assert!(QuestionType::Multiselect.check("a, c", &choices).is_err());
        assert!(QuestionType::Boolean.check("yes", &[]).is_err());
    }
}
