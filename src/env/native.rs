//! Reader for confpack's native environment document
//! (`urn:confpack:environment:1`, schema in `schemas/`).
//!
//! Streams the document once: templates are kept, each environment is kept
//! only if the caller's `retain` test wants it (the machine summaries of all
//! environments are kept for error messages). Checks what the XSD cannot
//! express, each problem with its line: derived templates need an expression,
//! values must fit their type and choices, IPs must parse.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use super::model::{
    ConfiguredValue, Document, Environment, ForeignValue, Machine, Priority, QuestionType, Source,
    Template, Texts,
};
use super::xml::{ElementHandler, Schema, XmlReader};
use crate::error::{Problem, Result};

/// The namespace of version 1 of the native format.
pub const NAMESPACE: &str = "urn:confpack:environment:1";

/// The XSD of the native format, built into the binary so validation never
/// depends on a file being installed.
pub const SCHEMA: &str = include_str!("../../schemas/confpack-environment-1.xsd");

/// Which element the reader is inside, for the parts that carry text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Description,
    Extended,
    Choice,
    Default,
    Expression,
    Question,
    /// A `<debconf>` value (another package's question).
    Debconf,
}

struct PendingTemplate {
    template: Template,
    choices_seen: bool,
    /// The `<translation>` being read: its language, texts and line.
    translation: Option<(String, Texts, u64)>,
}

struct PendingDebconf {
    key: String,
    line: u64,
}

struct PendingQuestion {
    template: Option<u32>,
    key: String,
    line: u64,
}

struct NativeReader<'a, 'schema> {
    xml: XmlReader<'schema>,
    /// The XSD runs too: leave what it reports (enumerations, keys and
    /// key references) to it, so each problem is listed once.
    validating: bool,
    origin: &'a str,
    document: Document,
    problems: Vec<Problem>,
    template: Option<PendingTemplate>,
    environment: Option<Environment>,
    machine: Option<Machine>,
    question: Option<PendingQuestion>,
    debconf: Option<PendingDebconf>,
    field: Option<Field>,
    text: String,
    retain: &'a dyn Fn(&Environment) -> bool,
    /// Identity checks (the XSD's xs:unique, done here so that validation
    /// streams in constant memory; see `env::runtime_schema`).
    environment_ips: HashSet<IpAddr>,
    environment_hostnames: HashSet<String>,
    environment_keys: HashSet<u32>,
    machine_keys: HashSet<u32>,
    environment_debconf: HashSet<String>,
    machine_debconf: HashSet<String>,
}

/// Reads a native document at `path`. `origin` names it in messages; with
/// `schema`, it is validated while read. `retain` decides which
/// environments are kept whole.
pub fn read(
    path: &Path,
    origin: &str,
    schema: Option<&Schema>,
    retain: &dyn Fn(&Environment) -> bool,
) -> Result<Document> {
    let xml = XmlReader::open(path, origin, schema)?;
    let mut reader = NativeReader {
        xml,
        validating: schema.is_some(),
        origin,
        document: Document::new(origin),
        problems: Vec::new(),
        template: None,
        environment: None,
        machine: None,
        question: None,
        debconf: None,
        field: None,
        text: String::new(),
        retain,
        environment_ips: HashSet::new(),
        environment_hostnames: HashSet::new(),
        environment_keys: HashSet::new(),
        machine_keys: HashSet::new(),
        environment_debconf: HashSet::new(),
        machine_debconf: HashSet::new(),
    };
    super::xml::walk(&mut reader)?;
    Ok(reader.document)
}

fn clamp(line: u64) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

impl NativeReader<'_, '_> {
    /// A problem the XSD also finds: reported only when it does not run.
    fn structural_problem(&mut self, line: u64, message: impl Into<String>) {
        if !self.validating {
            self.problem(line, message);
        }
    }

    fn problem(&mut self, line: u64, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.origin.to_string(),
            line: Some(line),
            message: message.into(),
        });
    }

    fn start_element(&mut self, name: &str, line: u64) {
        self.text.clear();
        match name {
            "environments" => {
                if let Some(version) = self.xml.attribute("version")
                    && version != "1"
                {
                    self.problem(
                        line,
                        format!("document version {version} is not supported; this confpack reads version 1"),
                    );
                }
            }
            "template" => self.start_template(line),
            "translation" => {
                let lang = self.xml.attribute("lang").unwrap_or_default();
                if let Some(pending) = self.template.as_mut() {
                    pending.translation = Some((lang, Texts::default(), line));
                }
            }
            "description" => self.field = Some(Field::Description),
            "extended" => self.field = Some(Field::Extended),
            "choices" => {
                if let Some(pending) = self.template.as_mut() {
                    pending.choices_seen = true;
                }
            }
            "choice" => self.field = Some(Field::Choice),
            "default" => self.field = Some(Field::Default),
            "expression" => self.field = Some(Field::Expression),
            "environment" => {
                self.environment_ips.clear();
                self.environment_hostnames.clear();
                self.environment_keys.clear();
                self.environment_debconf.clear();
                let context = self.xml.attribute("context").unwrap_or_default();
                self.environment = Some(Environment {
                    context,
                    values: Vec::new(),
                    debconf: Vec::new(),
                    machines: Vec::new(),
                    line,
                });
            }
            "machine" => self.start_machine(line),
            "debconf" => {
                let key = self.xml.attribute("key").unwrap_or_default();
                if self.document.template_index(&key).is_some() {
                    self.problem(
                        line,
                        format!(
                            "debconf {key} is a question of this document; give its value with \
                             <question key=\"{key}\"> (<debconf> is for other packages' questions)"
                        ),
                    );
                }
                let in_machine = self.machine.is_some();
                let scope = match in_machine {
                    true => &mut self.machine_debconf,
                    false => &mut self.environment_debconf,
                };
                if !scope.insert(key.clone()) {
                    self.problem(
                        line,
                        format!(
                            "debconf {key} is given twice for this {}",
                            if in_machine { "machine" } else { "environment" }
                        ),
                    );
                }
                self.debconf = Some(PendingDebconf { key, line });
                self.field = Some(Field::Debconf);
            }
            "question" => {
                let key = self.xml.attribute("key").unwrap_or_default();
                let template = self.document.template_index(&key).map(|i| i as u32);
                if template.is_none() {
                    self.problem(
                        line,
                        format!("question {key} has no template; add a <template key=\"{key}\"> or fix the key"),
                    );
                }
                self.question = Some(PendingQuestion {
                    template,
                    key,
                    line,
                });
                self.field = Some(Field::Question);
            }
            _ => {}
        }
    }

    fn start_template(&mut self, line: u64) {
        let key = self.xml.attribute("key").unwrap_or_default();
        let question_type = self
            .xml
            .attribute("type")
            .unwrap_or_default()
            .parse::<QuestionType>();
        let priority = self
            .xml
            .attribute("priority")
            .map(|p| p.parse::<Priority>())
            .unwrap_or(Ok(Priority::Medium));
        let source = self
            .xml
            .attribute("source")
            .map(|s| s.parse::<Source>())
            .unwrap_or(Ok(Source::Configured));
        let question_type = question_type.unwrap_or_else(|message| {
            self.structural_problem(line, format!("template {key}: {message}"));
            QuestionType::String
        });
        let priority = priority.unwrap_or_else(|message| {
            self.structural_problem(line, format!("template {key}: {message}"));
            Priority::Medium
        });
        let source = match source {
            Ok(Source::Default) => {
                self.problem(
                    line,
                    format!("template {key}: source must be configured, derived or user"),
                );
                Source::Configured
            }
            Ok(source) => source,
            Err(message) => {
                self.structural_problem(line, format!("template {key}: {message}"));
                Source::Configured
            }
        };
        self.template = Some(PendingTemplate {
            template: Template {
                key,
                question_type,
                priority,
                source,
                description: String::new(),
                extended: String::new(),
                choices: Vec::new(),
                default: None,
                expression: None,
                line,
                vouched: false,
                translations: Default::default(),
            },
            choices_seen: false,
            translation: None,
        });
    }

    fn start_machine(&mut self, line: u64) {
        let ip_text = self
            .xml
            .attribute("ip")
            .unwrap_or_default()
            .trim()
            .to_string();
        let hostname = self
            .xml
            .attribute("hostname")
            .map(|h| h.trim().trim_end_matches('.').to_string())
            .filter(|h| !h.is_empty());
        let ip = if ip_text.is_empty() {
            None
        } else {
            match ip_text.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    self.problem(
                        line,
                        format!("machine ip `{ip_text}` is not an IPv4 or IPv6 address"),
                    );
                    None
                }
            }
        };
        if ip_text.is_empty() && hostname.is_none() {
            self.problem(line, "a machine needs an ip or a hostname attribute");
        }
        if let Some(ip) = ip
            && !self.environment_ips.insert(ip)
        {
            self.problem(
                line,
                format!("machine ip {ip_text} appears twice in this environment"),
            );
        }
        if let Some(name) = &hostname
            && !self.environment_hostnames.insert(name.to_ascii_lowercase())
        {
            self.problem(
                line,
                format!("machine hostname {name} appears twice in this environment"),
            );
        }
        self.machine_keys.clear();
        self.machine_debconf.clear();
        self.machine = Some(Machine {
            ip_text,
            ip,
            hostname,
            values: Vec::new(),
            debconf: Vec::new(),
            line,
        });
    }

    fn end_element(&mut self, name: &str) {
        let text = std::mem::take(&mut self.text);
        if let Some(field) = self.field.take() {
            if field == Field::Question {
                return self.end_question(text);
            }
            if field == Field::Debconf {
                return self.end_debconf(text);
            }
            if let Some(pending) = self.template.as_mut() {
                if let Some((_, texts, _)) = pending.translation.as_mut() {
                    match field {
                        Field::Description => texts.description = Some(text.trim().to_string()),
                        Field::Extended => texts.extended = Some(dedent(&text)),
                        Field::Choice => texts.choices.push(text.trim().to_string()),
                        _ => {}
                    }
                    return;
                }
                let template = &mut pending.template;
                match field {
                    Field::Description => template.description = text.trim().to_string(),
                    Field::Extended => template.extended = dedent(&text),
                    Field::Choice => template.choices.push(text.trim().to_string()),
                    Field::Default => template.default = Some(text),
                    Field::Expression => template.expression = Some(text.trim().to_string()),
                    Field::Question | Field::Debconf => {}
                }
            }
            return;
        }
        match name {
            "translation" => self.end_translation(),
            "template" => {
                if let Some(pending) = self.template.take() {
                    self.end_template(pending);
                }
            }
            "machine" => {
                if let (Some(mut machine), Some(environment)) =
                    (self.machine.take(), self.environment.as_mut())
                {
                    // Kept while the whole document is: not a quarter
                    // more room than its values take (10,000 machines of
                    // 50 values held 4.5 MB of spare capacity).
                    machine.values.shrink_to_fit();
                    machine.debconf.shrink_to_fit();
                    environment.machines.push(machine);
                }
            }
            "environment" => {
                if let Some(environment) = self.environment.take() {
                    self.end_environment(environment);
                }
            }
            _ => {}
        }
    }

    /// A `<debconf>` value: kept in its machine or environment. The
    /// message for "given twice" uses the scope's own words.
    fn end_debconf(&mut self, value: String) {
        let Some(pending) = self.debconf.take() else {
            return;
        };
        let value = ForeignValue {
            key: pending.key,
            value,
            line: pending.line,
        };
        if let Some(machine) = self.machine.as_mut() {
            machine.debconf.push(value);
        } else if let Some(environment) = self.environment.as_mut() {
            environment.debconf.push(value);
        }
    }

    fn end_question(&mut self, value: String) {
        let Some(question) = self.question.take() else {
            return;
        };
        let Some(index) = question.template else {
            return;
        };
        let scope = if self.machine.is_some() {
            &mut self.machine_keys
        } else {
            &mut self.environment_keys
        };
        if !scope.insert(index) {
            let key = question.key.clone();
            let place = if self.machine.is_some() {
                "this machine"
            } else {
                "this environment"
            };
            self.problem(
                question.line,
                format!("question {key} is given twice for {place}"),
            );
            return;
        }
        let template = &self.document.templates[index as usize];
        let key = &question.key;
        let message = if template.source == Source::Derived {
            Some(format!(
                "question {key} is derived (its value is computed from its expression); \
                 remove this value or change the template's source"
            ))
        } else if template.question_type.is_display_only() {
            Some(format!(
                "question {key} is a {} and takes no value",
                template.question_type
            ))
        } else {
            template
                .question_type
                .check(&value, &template.choices)
                .err()
                .map(|m| format!("question {key}: {m}"))
        };
        if let Some(message) = message {
            self.problem(question.line, message);
        }
        let configured = ConfiguredValue {
            template: index,
            line: clamp(question.line),
            value: value.into_boxed_str(),
        };
        if let Some(machine) = self.machine.as_mut() {
            machine.values.push(configured);
        } else if let Some(environment) = self.environment.as_mut() {
            environment.values.push(configured);
        }
    }

    /// Files a translation under its language: one per language, and its
    /// choices label every choice of the template.
    fn end_translation(&mut self) {
        let Some(pending) = self.template.as_mut() else {
            return;
        };
        let Some((lang, texts, line)) = pending.translation.take() else {
            return;
        };
        let key = pending.template.key.clone();
        let (labels, choices) = (texts.choices.len(), pending.template.choices.len());
        let duplicate = pending.template.translations.contains_key(&lang);
        if !duplicate {
            pending.template.translations.insert(lang.clone(), texts);
        }
        if duplicate {
            self.problem(
                line,
                format!("template {key}: a second translation for language {lang}"),
            );
        }
        if labels != 0 && labels != choices {
            self.problem(
                line,
                format!(
                    "template {key}: the {lang} translation labels {labels} choices; \
                     the template has {choices}"
                ),
            );
        }
    }

    fn end_template(&mut self, pending: PendingTemplate) {
        let template = pending.template;
        let key = template.key.clone();
        let line = template.line;
        let kind = template.question_type;
        if kind.has_choices() && template.choices.is_empty() {
            self.problem(line, format!("template {key}: a {kind} needs <choices>"));
        }
        if !kind.has_choices() && pending.choices_seen {
            self.problem(
                line,
                format!("template {key}: <choices> only apply to select and multiselect"),
            );
        }
        if let Some(default) = &template.default {
            if kind.is_display_only() {
                self.problem(line, format!("template {key}: a {kind} takes no default"));
            } else if let Err(message) = kind.check(default, &template.choices) {
                self.problem(line, format!("template {key}: default {message}"));
            }
        }
        match (&template.source, &template.expression) {
            (Source::Derived, None) => self.problem(
                line,
                format!("template {key}: a derived template needs an <expression>"),
            ),
            (Source::Derived, Some(expression)) => {
                if let Err(message) = crate::jinja::check_expression(expression) {
                    self.problem(
                        line,
                        format!("template {key}: expression does not parse: {message}"),
                    );
                }
                if kind.is_display_only() {
                    self.problem(line, format!("template {key}: a {kind} cannot be derived"));
                }
            }
            (_, Some(_)) => self.problem(
                line,
                format!("template {key}: only derived templates take an <expression>"),
            ),
            (_, None) => {}
        }
        if !self.document.add_template(template) {
            self.problem(line, format!("template {key} is defined twice"));
        }
    }

    fn end_environment(&mut self, environment: Environment) {
        let (context, line) = (environment.context.clone(), environment.line);
        if !self.document.add_environment(environment, self.retain) {
            self.problem(line, format!("environment {context} is defined twice"));
        }
    }
}

impl<'schema> ElementHandler<'schema> for NativeReader<'_, 'schema> {
    fn xml(&mut self) -> &mut XmlReader<'schema> {
        &mut self.xml
    }

    fn is_ours(&self, namespace: Option<&str>, _root: bool) -> bool {
        namespace == Some(NAMESPACE)
    }

    fn foreign_root(&mut self, local_name: &str, namespace: Option<&str>, line: u64) {
        self.problem(
            line,
            format!(
                "the root element is not in the confpack namespace {NAMESPACE} \
                 (found {{{}}}{local_name})",
                namespace.unwrap_or_default()
            ),
        );
    }

    fn start(&mut self, name: &str, _parent: Option<&str>, line: u64) {
        self.start_element(name, line);
    }

    fn end(&mut self, name: &str) {
        self.end_element(name);
    }

    fn wants_text(&self) -> bool {
        self.field.is_some()
    }

    fn text(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn take_problems(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.problems)
    }
}

/// Removes the indentation a multi-line text element picks up from the
/// surrounding XML, keeping blank lines as paragraph breaks.
fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Document> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("env.xml");
        std::fs::write(&path, text).expect("write");
        crate::env::validate(&path, "env.xml", crate::env::Validation::Builtin)
    }

    const FOREIGN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="web/port" type="string"><description>Port</description></template>
  </templates>
  <environment context="production">
    <question key="web/port">80</question>
    <debconf key="postfix/main_mailer_type">Internet Site</debconf>
    <debconf key="postfix/mailname">example.com</debconf>
    <machine ip="10.0.0.1" hostname="mx1.example.com">
      <debconf key="postfix/mailname">mx1.example.com</debconf>
    </machine>
  </environment>
</environments>
"#;

    #[test]
    fn debconf_values_for_other_packages_are_read_per_environment_and_machine() {
        let document = read_text(FOREIGN).expect("valid");
        let environment = &document.environments[0];
        let pairs: Vec<(&str, &str, u64)> = environment
            .debconf
            .iter()
            .map(|v| (v.key.as_str(), v.value.as_str(), v.line))
            .collect();
        assert_eq!(
            pairs,
            [
                ("postfix/main_mailer_type", "Internet Site", 8),
                ("postfix/mailname", "example.com", 9)
            ]
        );
        assert_eq!(environment.machines[0].debconf[0].value, "mx1.example.com");
    }

    #[test]
    fn a_debconf_value_twice_or_for_a_question_of_the_document_is_refused_at_its_line() {
        let twice = FOREIGN.replace(
            "<debconf key=\"postfix/mailname\">example.com</debconf>",
            "<debconf key=\"postfix/mailname\">example.com</debconf>\n    \
             <debconf key=\"postfix/mailname\">again</debconf>",
        );
        let problems = read_text(&twice).expect_err("refused").to_string();
        assert!(
            problems.contains(
                "env.xml:10: debconf postfix/mailname is given twice for this environment"
            ),
            "{problems}"
        );
        let own = FOREIGN.replace("key=\"postfix/main_mailer_type\"", "key=\"web/port\"");
        let problems = read_text(&own).expect_err("refused").to_string();
        assert!(
            problems.contains("env.xml:8: debconf web/port is a question of this document"),
            "{problems}"
        );
        let bad_key = FOREIGN.replace("postfix/main_mailer_type", "no slash");
        assert!(
            read_text(&bad_key).is_err(),
            "the XSD checks the key's form"
        );
    }

    use crate::env::{Validation, validate};
    use crate::error::Error;

    fn document_with(translations: &str) -> std::result::Result<Document, Vec<Problem>> {
        let text = format!(
            r#"<environments xmlns="{NAMESPACE}" version="1">
  <templates>
    <template key="tz/area" type="select" source="user">
      <description>Area</description>
      <extended>Where you live.</extended>
      <choices><choice>Europe</choice><choice>Asia</choice></choices>
      <default>Asia</default>
{translations}
    </template>
  </templates>
</environments>
"#
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("env.xml");
        std::fs::write(&path, text).expect("write");
        match validate(&path, "env.xml", Validation::Builtin) {
            Ok(document) => Ok(document),
            Err(Error::Invalid(problems)) => Err(problems),
            Err(other) => panic!("{other:#}"),
        }
    }

    #[test]
    fn translations_are_read_by_language() {
        let document = document_with(
            r#"      <translation lang="de">
        <description>Gebiet</description>
        <extended>
          Wo Sie leben.

          Zweiter Absatz.
        </extended>
        <choices><choice>Europa</choice><choice>Asien</choice></choices>
      </translation>
      <translation lang="pt_BR"><description>Área</description></translation>"#,
        )
        .expect("valid");
        let template = document.template("tz/area").expect("template");
        let german = &template.translations["de"];
        assert_eq!(german.description.as_deref(), Some("Gebiet"));
        assert_eq!(
            german.extended.as_deref(),
            Some("Wo Sie leben.\n\nZweiter Absatz.")
        );
        assert_eq!(german.choices, ["Europa", "Asien"]);
        let brazilian = &template.translations["pt_BR"];
        assert_eq!(brazilian.description.as_deref(), Some("Área"));
        assert!(brazilian.choices.is_empty());
        assert_eq!(template.description, "Area", "the untranslated text stays");
        assert_eq!(template.choices, ["Europe", "Asia"]);
    }

    #[test]
    fn a_second_translation_for_a_language_is_refused_at_its_line() {
        let problems = document_with(
            r#"      <translation lang="de"><description>Gebiet</description></translation>
      <translation lang="de"><description>Zone</description></translation>"#,
        )
        .expect_err("invalid");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, Some(9));
        assert!(
            problems[0]
                .message
                .contains("second translation for language de")
        );
    }

    #[test]
    fn translated_labels_must_label_every_choice() {
        let problems = document_with(
            r#"      <translation lang="de"><choices><choice>Europa</choice></choices></translation>"#,
        )
        .expect_err("invalid");
        assert!(
            problems[0]
                .message
                .contains("labels 1 choices; the template has 2"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_translation_needs_a_language_and_sits_after_the_untranslated_texts() {
        for (translation, wanted) in [
            (
                r#"      <translation><description>x</description></translation>"#,
                "lang",
            ),
            (r#"      <translation lang="German"/>"#, "German"),
            (
                r#"      <translation lang="de"><default>x</default></translation>"#,
                "default",
            ),
        ] {
            let problems = document_with(translation).expect_err(translation);
            assert!(
                problems.iter().any(|p| p.message.contains(wanted)),
                "{translation}: {problems:?}"
            );
        }
    }

    #[test]
    fn the_published_schema_refuses_a_second_translation_itself() {
        let text = format!(
            r#"<environments xmlns="{NAMESPACE}" version="1"><templates>
<template key="a/b" type="string"><description>B</description>
<translation lang="de"/><translation lang="de"/></template></templates></environments>"#
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, schema) = (dir.path().join("env.xml"), dir.path().join("schema.xsd"));
        std::fs::write(&path, text).expect("write");
        std::fs::write(&schema, SCHEMA).expect("write");
        let Err(Error::Invalid(problems)) = validate(&path, "env.xml", Validation::File(&schema))
        else {
            panic!("invalid");
        };
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("uniqueTranslation")),
            "{problems:?}"
        );
    }

    #[test]
    fn dedent_keeps_paragraphs() {
        let text = "\n      First line\n      second\n\n      Next paragraph\n    ";
        assert_eq!(dedent(text), "First line\nsecond\n\nNext paragraph");
    }
}
