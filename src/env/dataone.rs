//! Reader for DataONE v1 environment documents
//! (`http://ns.dataone.org/debian/conf/types/v1`), the XML dialect of
//! seed 003 that drove debconf in a bash postinst, so teams can keep their
//! documents while they move (`confpack convert` writes the native form).
//!
//! The dialect differs from the native format in ways that matter:
//! - a template's `<description>` holds the short description on its first
//!   line and the long one after it; `<type>` is an element;
//! - the intended source is four `<flag name="…">true|false</flag>`s:
//!   `configured-value`, `derived-value`, `user-entered-value`, `seen`;
//! - machines have only an `ip`; a machine's host name is a question; an
//!   environment for custom installs has one machine with `ip=""`, selected
//!   with `--environment`;
//! - `<question keyref="…">` with an empty body means "no configured value";
//! - derived templates carry no expression: the rules come from
//!   `--derive KEY=EXPR` / `--derive-file`, and every derived question
//!   without one is reported.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use super::model::{
    ConfiguredValue, Document, Environment, Machine, Priority, QuestionType, Source, Template,
};
use super::xml::{ElementHandler, Schema, XmlReader};
use crate::error::{Error, Problem, Result};

/// The dialect's namespace.
pub const NAMESPACE: &str = "http://ns.dataone.org/debian/conf/types/v1";

#[derive(Debug, Default)]
struct PendingTemplate {
    key: String,
    line: u64,
    description: String,
    question_type: String,
    choices: Vec<String>,
    default: Option<String>,
    flags: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Description,
    Type,
    Choice,
    Default,
    Flag,
    Question,
}

struct Reader<'a, 'schema> {
    xml: XmlReader<'schema>,
    origin: &'a str,
    rules: &'a BTreeMap<String, String>,
    document: Document,
    problems: Vec<Problem>,
    retain: &'a dyn Fn(&Environment) -> bool,
    field: Option<Field>,
    text: String,
    flag_name: String,
    template: Option<PendingTemplate>,
    environment: Option<Environment>,
    machine: Option<Machine>,
    question: Option<(Option<u32>, String, u64)>,
}

/// Reads a DataONE v1 document. `rules` are the derived expressions by key.
pub fn read(
    path: &Path,
    origin: &str,
    schema: Option<&Schema>,
    rules: &BTreeMap<String, String>,
    retain: &dyn Fn(&Environment) -> bool,
) -> Result<Document> {
    let xml = XmlReader::open(path, origin, schema)?;
    let mut reader = Reader {
        xml,
        origin,
        rules,
        document: Document::new(origin),
        problems: Vec::new(),
        retain,
        field: None,
        text: String::new(),
        flag_name: String::new(),
        template: None,
        environment: None,
        machine: None,
        question: None,
    };
    super::xml::walk(&mut reader)?;
    Ok(reader.document)
}

impl Reader<'_, '_> {
    fn problem(&mut self, line: u64, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.origin.to_string(),
            line: Some(line),
            message: message.into(),
        });
    }

    fn start_element(&mut self, name: &str, parent: &str, line: u64) {
        self.text.clear();
        match name {
            "template" => {
                self.template = Some(PendingTemplate {
                    key: self.xml.attribute("key").unwrap_or_default(),
                    line,
                    ..PendingTemplate::default()
                });
            }
            "description" if self.template.is_some() => self.field = Some(Field::Description),
            "type" if self.template.is_some() => self.field = Some(Field::Type),
            "choice" if self.template.is_some() => self.field = Some(Field::Choice),
            "default" if self.template.is_some() => self.field = Some(Field::Default),
            "flag" if self.template.is_some() => {
                self.flag_name = self.xml.attribute("name").unwrap_or_default();
                self.field = Some(Field::Flag);
            }
            "environment" => {
                self.environment = Some(Environment {
                    context: self.xml.attribute("context").unwrap_or_default(),
                    values: Vec::new(),
                    debconf: Vec::new(),
                    machines: Vec::new(),
                    line,
                });
            }
            "machine" if parent == "environment" => {
                let ip_text = self
                    .xml
                    .attribute("ip")
                    .unwrap_or_default()
                    .trim()
                    .to_string();
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
                self.machine = Some(Machine {
                    ip_text,
                    ip,
                    hostname: None,
                    values: Vec::new(),
                    debconf: Vec::new(),
                    line,
                });
            }
            "question" => {
                let key = self.xml.attribute("keyref").unwrap_or_default();
                let index = self.document.template_index(&key).map(|i| i as u32);
                if index.is_none() {
                    self.problem(line, format!("question {key} has no template; add a <template key=\"{key}\"> or fix the keyref"));
                }
                self.question = Some((index, key, line));
                self.field = Some(Field::Question);
            }
            _ => {}
        }
    }

    fn end_element(&mut self, name: &str) {
        let text = std::mem::take(&mut self.text);
        if let Some(field) = self.field.take() {
            if field == Field::Question {
                self.end_question(text);
                return;
            }
            if let Some(template) = self.template.as_mut() {
                match field {
                    Field::Description => template.description = text,
                    Field::Type => template.question_type = text.trim().to_string(),
                    Field::Choice => template.choices.push(text.trim().to_string()),
                    Field::Default => template.default = Some(text),
                    Field::Flag => {
                        let name = std::mem::take(&mut self.flag_name);
                        let value = text.trim() == "true";
                        template.flags.insert(name, value);
                    }
                    Field::Question => {}
                }
            }
            return;
        }
        match name {
            "template" => {
                if let Some(pending) = self.template.take() {
                    self.end_template(pending);
                }
            }
            "machine" => {
                if let (Some(machine), Some(environment)) =
                    (self.machine.take(), self.environment.as_mut())
                {
                    environment.machines.push(machine);
                }
            }
            "environment" => {
                if let Some(environment) = self.environment.take() {
                    let (context, line) = (environment.context.clone(), environment.line);
                    if !self.document.add_environment(environment, self.retain) {
                        self.problem(line, format!("environment {context} is defined twice"));
                    }
                }
            }
            _ => {}
        }
    }

    fn end_question(&mut self, value: String) {
        let Some((index, key, line)) = self.question.take() else {
            return;
        };
        let Some(index) = index else { return };
        // An empty element means "no configured value".
        if value.trim().is_empty() {
            return;
        }
        let template = &self.document.templates[index as usize];
        if template.source == Source::Derived {
            // The bash postinst ignored such values too: derived wins.
            return;
        }
        if !template.question_type.is_display_only()
            && let Err(message) = template.question_type.check(&value, &template.choices)
        {
            self.problem(line, format!("question {key}: {message}"));
        }
        let configured = ConfiguredValue {
            template: index,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            value: value.into_boxed_str(),
        };
        if let Some(machine) = self.machine.as_mut() {
            machine.values.push(configured);
        } else if let Some(environment) = self.environment.as_mut() {
            environment.values.push(configured);
        }
    }

    fn end_template(&mut self, pending: PendingTemplate) {
        let key = pending.key.clone();
        let line = pending.line;
        let well_formed_key = key
            .split_once('/')
            .is_some_and(|(owner, name)| !owner.is_empty() && !name.is_empty())
            && !key.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed_key {
            self.problem(
                line,
                format!(
                    "template key {} is not owner/name without spaces",
                    key.escape_debug()
                ),
            );
        }
        let question_type = match pending.question_type.parse::<QuestionType>() {
            Ok(question_type) => question_type,
            Err(message) => {
                self.problem(line, format!("template {key}: {message}"));
                QuestionType::String
            }
        };
        let flag = |name: &str| pending.flags.get(name).copied().unwrap_or(false);
        let source = if flag("derived-value") {
            Source::Derived
        } else if flag("user-entered-value") {
            Source::User
        } else {
            Source::Configured
        };
        let description = pending.description.trim();
        let (short, long) = match description.split_once('\n') {
            Some((short, long)) => (short.trim().to_string(), dedent(long)),
            None => (description.to_string(), String::new()),
        };
        let expression = if source == Source::Derived {
            let rule = self.rules.get(&key).cloned();
            if let Some(rule) = &rule
                && let Err(message) = crate::jinja::check_expression(rule)
            {
                self.problem(
                    line,
                    format!("derived question {key}: the rule does not parse: {message}"),
                );
            }
            rule
        } else {
            None
        };
        let default = pending.default.filter(|d| !d.is_empty());
        if let Some(default) = &default
            && !question_type.is_display_only()
            && let Err(message) = question_type.check(default, &pending.choices)
        {
            self.problem(line, format!("template {key}: default {message}"));
        }
        let template = Template {
            key: key.clone(),
            question_type,
            priority: Priority::Medium,
            source,
            description: short,
            extended: long,
            choices: pending.choices,
            default,
            expression,
            line,
            vouched: flag("seen"),
            translations: Default::default(),
        };
        if !self.document.add_template(template) {
            self.problem(line, format!("template {key} is defined twice"));
        }
    }
}

impl<'schema> ElementHandler<'schema> for Reader<'_, 'schema> {
    fn xml(&mut self) -> &mut XmlReader<'schema> {
        &mut self.xml
    }

    /// The dialect's documents put only the root in the namespace (children
    /// unqualified) or all of it: both are accepted.
    fn is_ours(&self, namespace: Option<&str>, root: bool) -> bool {
        namespace == Some(NAMESPACE) || (!root && namespace.is_none())
    }

    fn foreign_root(&mut self, local_name: &str, namespace: Option<&str>, line: u64) {
        self.problem(
            line,
            format!(
                "the root element is not in the DataONE v1 namespace {NAMESPACE} \
                 (found {{{}}}{local_name})",
                namespace.unwrap_or_default()
            ),
        );
    }

    fn start(&mut self, name: &str, parent: Option<&str>, line: u64) {
        self.start_element(name, parent.unwrap_or_default(), line);
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

fn dedent(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Derived questions of a document that have no rule.
pub fn missing_rules(document: &Document) -> Vec<&Template> {
    document
        .templates
        .iter()
        .filter(|t| t.source == Source::Derived && t.expression.is_none())
        .collect()
}

/// Parses `KEY=EXPR` rules (from `--derive` or the lines of a
/// `--derive-file`: blank lines and `#` comments are skipped).
pub fn parse_rules<'a>(
    lines: impl IntoIterator<Item = (String, Option<u64>, &'a str)>,
) -> Result<BTreeMap<String, String>> {
    let mut rules = BTreeMap::new();
    let mut problems = Vec::new();
    for (origin, line, text) in lines {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.split_once('=') {
            Some((key, expression)) if key.trim().contains('/') && !expression.trim().is_empty() => {
                if rules
                    .insert(key.trim().to_string(), expression.trim().to_string())
                    .is_some()
                {
                    problems.push(Problem {
                        file: origin,
                        line,
                        message: format!("rule for {} given twice", key.trim()),
                    });
                }
            }
            _ => problems.push(Problem {
                file: origin,
                line,
                message: format!("`{trimmed}` is not a rule; write KEY=EXPRESSION, e.g. pkg/iplist=environment.machines | map(attribute=\"ip\") | join(\" \")"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(Error::Invalid(problems))
    }
}
