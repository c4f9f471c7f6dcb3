//! `confpack convert --from-debconf-templates`: a package's debconf
//! `templates` file as a native document (templates only), so a package
//! that asked through debconf moves to confpack with its questions, their
//! defaults, choices and translations.
//!
//! Reads both forms of the file: the compiled one in a package's
//! `DEBIAN/templates` (translations as `Description-de.UTF-8:` fields) and
//! po-debconf's source (`_Description:`, `__Choices:`), whose translations
//! come from gettext catalogues (`--po DIR`) merged the way po-debconf's
//! `po2debconf` merges them. What the native format cannot express
//! (choices substituted at run time, localised defaults) is left out with
//! a warning at its `file:line`; a malformed file is an error there.

use std::collections::BTreeMap;
use std::path::Path;

use super::native_writer;
use super::po::{self, Catalogue};
use crate::Listener;
use crate::env::model::{
    Document, Priority, QuestionType, Source, Template, Texts, split_multiselect,
};
use crate::error::{Error, Problem, Result};

/// One `Name: value` field with its continuation lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name without po-debconf's `_`/`__` marks (`Description`,
    /// `Choices-de.UTF-8`).
    pub name: String,
    /// How many `_` marked it translatable (1: by paragraph, 2: by item).
    pub marks: usize,
    /// The text on the field's own line.
    pub value: String,
    /// The following lines, as written (each starts with a space or tab).
    pub continuation: Vec<String>,
    pub line: u64,
}

/// One template: its fields in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub fields: Vec<Field>,
    pub line: u64,
}

impl Record {
    /// The field called `name` (case does not matter, as in debconf).
    fn field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// Converts the templates file at `path` (translations also from
/// `po_dir/*.po`); `owner` prefixes names that have no `owner/` part.
pub fn convert(
    path: &Path,
    po_dir: Option<&Path>,
    owner: Option<&str>,
    listener: &mut dyn Listener,
) -> Result<String> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::at(&origin, None, "not UTF-8 (debconf templates are UTF-8)"))?;
    let records = parse(&text, &origin)?;
    let catalogues = match po_dir {
        Some(dir) => po::read_dir(dir, &is_language, &mut |skipped| {
            listener.warning(&format!(
                "{}: the file name is not a language (like de or pt_BR); skipped",
                skipped.display()
            ))
        })?,
        None => Vec::new(),
    };
    let document = document(&records, &catalogues, owner, &origin, listener)?;
    let native = native_writer::write(&document, listener);
    native_writer::check(&native)?;
    Ok(native)
}

/// Splits a templates file into records of fields; a line that is neither
/// a field, a continuation, a comment nor blank is an error at its line.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut current: Option<Record> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            records.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match current.as_mut().and_then(|r| r.fields.last_mut()) {
                Some(field) => field.continuation.push(line.to_string()),
                None => problems.push(Problem {
                    file: origin.to_string(),
                    line: Some(number),
                    message: "a continuation line (starting with a space) outside a field"
                        .to_string(),
                }),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':').filter(|(name, _)| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        }) else {
            problems.push(Problem {
                file: origin.to_string(),
                line: Some(number),
                message: format!("expected `Field: value`, found `{line}`"),
            });
            continue;
        };
        let marks = name.len() - name.trim_start_matches('_').len();
        let record = current.get_or_insert_with(|| Record {
            fields: Vec::new(),
            line: number,
        });
        let name = name.trim_start_matches('_').to_string();
        if record.field(&name).is_some() {
            problems.push(Problem {
                file: origin.to_string(),
                line: Some(number),
                message: format!("field {name} appears twice in this template"),
            });
            continue;
        }
        record.fields.push(Field {
            name,
            marks,
            value: value.trim().to_string(),
            continuation: Vec::new(),
            line: number,
        });
    }
    records.extend(current);
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Whether `tag` is a language the native format takes (`de`, `pt_BR`,
/// `sr@latin`).
pub fn is_language(tag: &str) -> bool {
    let (base, modifier) = match tag.split_once('@') {
        Some((base, modifier)) => (base, Some(modifier)),
        None => (tag, None),
    };
    let (language, territory) = match base.split_once('_') {
        Some((language, territory)) => (language, Some(territory)),
        None => (base, None),
    };
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && territory.is_none_or(|t| t.len() == 2 && t.chars().all(|c| c.is_ascii_uppercase()))
        && modifier.is_none_or(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_lowercase()))
}

/// Whether `key` fits the native format's `owner/name`.
fn is_key(key: &str) -> bool {
    let Some((owner, name)) = key.split_once('/') else {
        return false;
    };
    owner
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && owner
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c))
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-/".contains(c))
}

/// The document of the templates; every problem found is listed at once.
fn document(
    records: &[Record],
    catalogues: &[Catalogue],
    owner: Option<&str>,
    origin: &str,
    listener: &mut dyn Listener,
) -> Result<Document> {
    let mut document = Document::new(origin);
    let mut problems = Vec::new();
    for record in records {
        let record = merge_catalogues(record, catalogues);
        let mut reader = TemplateReader {
            origin,
            record: &record,
            listener: &mut *listener,
        };
        match reader.template(owner) {
            Ok(template) => {
                let (key, line) = (template.key.clone(), template.line);
                if !document.add_template(template) {
                    problems.push(Problem {
                        file: origin.to_string(),
                        line: Some(line),
                        message: format!("template {key} is defined twice"),
                    });
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(document)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Reads one record into a template.
struct TemplateReader<'a> {
    origin: &'a str,
    record: &'a Record,
    listener: &'a mut dyn Listener,
}

impl TemplateReader<'_> {
    fn problem(&self, line: u64, message: String) -> Problem {
        Problem {
            file: self.origin.to_string(),
            line: Some(line),
            message,
        }
    }

    fn warn(&mut self, line: u64, message: String) {
        self.listener
            .warning(&format!("{}:{line}: {message}", self.origin));
    }

    fn required(&self, name: &str) -> std::result::Result<&Field, Problem> {
        self.record.field(name).ok_or_else(|| {
            self.problem(
                self.record.line,
                format!("a template needs a {name}: field"),
            )
        })
    }

    fn template(&mut self, owner: Option<&str>) -> std::result::Result<Template, Problem> {
        let name = self.required("Template")?;
        let key = match (name.value.contains('/'), owner) {
            (true, _) => name.value.clone(),
            (false, Some(owner)) => format!("{owner}/{}", name.value),
            (false, None) => {
                return Err(self.problem(
                    name.line,
                    format!(
                        "template {} has no owner part (owner/name); pass --owner PACKAGE",
                        name.value
                    ),
                ));
            }
        };
        if !is_key(&key) {
            return Err(self.problem(
                name.line,
                format!("`{key}` is not a question name confpack takes (owner/name, owner a package name)"),
            ));
        }
        let type_field = self.required("Type")?;
        let mut question_type = type_field
            .value
            .parse::<QuestionType>()
            .map_err(|message| {
                self.problem(type_field.line, format!("template {key}: {message}"))
            })?;
        let description_field = self.required("Description")?;
        let (description, mut extended) = description_text(description_field);
        if let Some(old) = self.record.field("Extended_description") {
            extended = extended_text(&old.continuation, Some(&old.value));
        }
        let mut template = Template {
            key,
            question_type,
            priority: Priority::Medium,
            source: Source::User,
            description,
            extended,
            choices: Vec::new(),
            default: None,
            expression: None,
            line: self.record.line,
            vouched: false,
            translations: BTreeMap::new(),
        };
        let dropped = self.choices(&mut template);
        question_type = template.question_type;
        self.translations(&mut template, &dropped);
        if let Some(default) = self.record.field("Default") {
            let value = default.value.clone();
            if question_type.is_display_only() {
                let kind = question_type;
                self.warn(
                    default.line,
                    format!("a {kind} takes no default; `{value}` left out"),
                );
            } else if let Err(message) = question_type.check(&value, &template.choices) {
                self.warn(default.line, format!("default left out: {message}"));
            } else {
                template.default = Some(value);
            }
        }
        Ok(template)
    }

    /// Sets the choices (the values: `Choices-C` when given, else
    /// `Choices`). Choices substituted at run time (`${…}`) cannot be
    /// listed: they are left out, and a question left without choices
    /// becomes a string. Returns the positions left out.
    fn choices(&mut self, template: &mut Template) -> Vec<usize> {
        let kind = template.question_type;
        let values = self
            .record
            .field("Choices-C")
            .or_else(|| self.record.field("Choices"));
        let Some(values) = values else {
            if kind.has_choices() {
                let line = self.record.line;
                self.warn(
                    line,
                    format!(
                        "the {kind} {} has no Choices; it becomes a string",
                        template.key
                    ),
                );
                template.question_type = QuestionType::String;
            }
            return Vec::new();
        };
        if !kind.has_choices() {
            let line = values.line;
            self.warn(line, format!("a {kind} has no choices; Choices left out"));
            return Vec::new();
        }
        let line = values.line;
        let all = split_multiselect(&values.value);
        let dropped: Vec<usize> = (0..all.len()).filter(|&i| all[i].contains("${")).collect();
        template.choices = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !dropped.contains(i))
            .map(|(_, choice)| choice)
            .collect();
        if !dropped.is_empty() {
            self.warn(
                line,
                format!(
                    "choices substituted when the package runs ({}) cannot be listed; left out",
                    values.value
                ),
            );
        }
        if template.choices.is_empty() {
            self.warn(
                line,
                format!(
                    "the {kind} {} has no fixed choice; it becomes a string",
                    template.key
                ),
            );
            template.question_type = QuestionType::String;
        }
        // Choices-C holds the values; the untranslated labels (English)
        // are then shown as the `en` translation.
        if self.record.field("Choices-C").is_some()
            && let Some(labels) = self.record.field("Choices")
        {
            let labels = keep(split_multiselect(&labels.value), &dropped);
            if labels.len() == template.choices.len() && labels != template.choices {
                template.translations.insert(
                    "en".to_string(),
                    Texts {
                        choices: labels,
                        ..Texts::default()
                    },
                );
            }
        }
        dropped
    }

    /// Files the `Field-LANG.ENCODING` translations by language.
    fn translations(&mut self, template: &mut Template, dropped: &[usize]) {
        for field in &self.record.fields {
            let Some((base, suffix)) = field.name.split_once('-') else {
                continue;
            };
            let base = base.to_ascii_lowercase();
            if suffix == "C" || !matches!(base.as_str(), "description" | "choices" | "default") {
                continue;
            }
            let language = suffix.split('.').next().unwrap_or(suffix);
            if base == "default" {
                self.warn(
                    field.line,
                    format!(
                        "localised defaults ({}) are not carried over; Default is used",
                        field.name
                    ),
                );
                continue;
            }
            if !is_language(language) {
                self.warn(
                    field.line,
                    format!(
                        "`{language}` of {} is not a language tag like de or pt_BR; left out",
                        field.name
                    ),
                );
                continue;
            }
            let texts = template
                .translations
                .entry(language.to_string())
                .or_default();
            if base == "description" {
                let (description, extended) = description_text(field);
                texts.description = Some(description);
                texts.extended = (!extended.is_empty()).then_some(extended);
                continue;
            }
            if !template.question_type.has_choices() {
                continue;
            }
            let labels = keep(split_multiselect(&field.value), dropped);
            if labels.len() == template.choices.len() {
                texts.choices = labels;
            } else {
                let (found, wanted) = (labels.len(), template.choices.len());
                self.listener.warning(&format!(
                    "{}:{}: {} has {found} choices, the template {wanted}; its labels are left out",
                    self.origin, field.line, field.name
                ));
            }
        }
        template
            .translations
            .retain(|_, t| t.description.is_some() || !t.choices.is_empty());
    }
}

/// `items` without the positions in `dropped`.
fn keep(items: Vec<String>, dropped: &[usize]) -> Vec<String> {
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, item)| item)
        .collect()
}

/// A `Description` field's short and extended text. debconf's rules: the
/// field's own line is the short description; each following line loses
/// its first space, ` .` is an empty line (a paragraph break), and a line
/// that still starts with a space is verbatim — which is how confpack's
/// extended text reads too.
fn description_text(field: &Field) -> (String, String) {
    (
        field.value.clone(),
        extended_text(&field.continuation, None),
    )
}

fn extended_text(lines: &[String], first: Option<&str>) -> String {
    let mut out: Vec<&str> = first.filter(|f| !f.is_empty()).into_iter().collect();
    for line in lines {
        let line = &line[1..];
        out.push(if line.trim_end() == "." {
            ""
        } else {
            line.trim_end()
        });
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// The record with the translations po-debconf would merge into it from
/// `catalogues`: for each field marked `_` or `__` and each language that
/// translates all of its parts, a `Field-LANG.UTF-8` (as `po2debconf`
/// writes them). A translation the record has already is kept.
fn merge_catalogues(record: &Record, catalogues: &[Catalogue]) -> Record {
    let mut merged = record.clone();
    for field in record.fields.iter().filter(|f| f.marks > 0) {
        let parts = translatable_parts(field);
        for catalogue in catalogues {
            let name = format!("{}-{}.UTF-8", field.name, catalogue.language);
            if merged.field(&name).is_some() {
                continue;
            }
            let Some(translated) = parts
                .iter()
                .map(|part| {
                    if part.is_empty() {
                        Some(String::new())
                    } else {
                        catalogue.get(part).map(str::to_string)
                    }
                })
                .collect::<Option<Vec<String>>>()
            else {
                continue;
            };
            merged
                .fields
                .push(translated_field(field, name, &translated));
        }
    }
    merged
}

/// What po-debconf makes one message of (`rfc822deb_split`): with `__`,
/// each comma-separated item; with `_`, the short description and each
/// paragraph of the extended one (its lines joined by spaces, verbatim
/// lines kept on lines of their own).
fn translatable_parts(field: &Field) -> Vec<String> {
    if field.marks >= 2 {
        return split_multiselect(&field.value);
    }
    let mut parts = vec![field.value.clone()];
    if field.continuation.is_empty() {
        return parts;
    }
    let mut paragraph = String::new();
    for line in &field.continuation {
        let line = &line[1..];
        if line.trim_end() == "." {
            parts.push(paragraph.trim_end().to_string());
            paragraph.clear();
        } else if line.starts_with([' ', '\t']) {
            if !paragraph.is_empty() && !paragraph.ends_with('\n') {
                paragraph.push('\n');
            }
            paragraph.push_str(line.trim_end());
            paragraph.push('\n');
        } else {
            if !paragraph.is_empty() && !paragraph.ends_with('\n') {
                paragraph.push(' ');
            }
            paragraph.push_str(line);
        }
    }
    let last = paragraph.trim_end();
    if !last.is_empty() {
        parts.push(last.to_string());
    }
    parts
}

/// The compiled field po2debconf writes from translated parts.
fn translated_field(field: &Field, name: String, parts: &[String]) -> Field {
    if field.marks >= 2 {
        let value = parts
            .iter()
            .map(|p| p.replace(',', "\\,"))
            .collect::<Vec<_>>()
            .join(", ");
        return Field {
            name,
            marks: 0,
            value,
            continuation: Vec::new(),
            line: field.line,
        };
    }
    let mut continuation = Vec::new();
    for (index, part) in parts.iter().enumerate().skip(1) {
        if index > 1 {
            continuation.push(" .".to_string());
        }
        continuation.extend(part.lines().map(|l| format!(" {l}")));
    }
    Field {
        name,
        marks: 0,
        value: parts
            .first()
            .map(|p| p.replace('\n', " "))
            .unwrap_or_default(),
        continuation,
        line: field.line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordingListener;

    const TEMPLATES: &str = "\
Template: demo/area
Type: select
Choices-C: Europe, Asia, Etc
Choices: Europe, Asia, Other
Choices-de.UTF-8: Europa, Asien, Andere
Default: Etc
Description: Area:
 Where you live.
 .
 A second paragraph
 with two lines.
   verbatim line
Description-de.UTF-8: Gebiet:
 Wo Sie leben.

# a comment
Template: demo/flags
Type: multiselect
Choices: a\\, b, c, ${more}
Default: c
Description: Flags
";

    fn convert_text(text: &str) -> (Document, Vec<String>) {
        let records = parse(text, "templates").expect("parses");
        let mut listener = RecordingListener::default();
        let document = document(&records, &[], None, "templates", &mut listener).expect("converts");
        (document, listener.warnings)
    }

    #[test]
    fn compiled_templates_give_values_labels_and_translations() {
        let (document, warnings) = convert_text(TEMPLATES);
        let area = document.template("demo/area").expect("area");
        assert_eq!(area.question_type, QuestionType::Select);
        assert_eq!(area.choices, ["Europe", "Asia", "Etc"]);
        assert_eq!(area.default.as_deref(), Some("Etc"));
        assert_eq!(area.description, "Area:");
        assert_eq!(
            area.extended,
            "Where you live.\n\nA second paragraph\nwith two lines.\n  verbatim line"
        );
        assert_eq!(
            area.translations["de"].choices,
            ["Europa", "Asien", "Andere"]
        );
        assert_eq!(
            area.translations["de"].description.as_deref(),
            Some("Gebiet:")
        );
        assert_eq!(
            area.translations["de"].extended.as_deref(),
            Some("Wo Sie leben.")
        );
        assert_eq!(area.translations["en"].choices, ["Europe", "Asia", "Other"]);
        let flags = document.template("demo/flags").expect("flags");
        assert_eq!(flags.choices, ["a, b", "c"]);
        assert_eq!(flags.default.as_deref(), Some("c"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("templates:19: "), "{warnings:?}");
    }

    #[test]
    fn a_malformed_line_is_an_error_at_its_line() {
        let Err(Error::Invalid(problems)) = parse("Template: a/b\nno colon here\n", "t") else {
            panic!("must fail");
        };
        assert_eq!(problems[0].line, Some(2));
    }

    #[test]
    fn an_unknown_type_is_an_error_at_its_line() {
        let records = parse("Template: a/b\nType: slider\nDescription: x\n", "t").expect("parses");
        let Err(Error::Invalid(problems)) =
            document(&records, &[], None, "t", &mut RecordingListener::default())
        else {
            panic!("must fail");
        };
        assert_eq!(problems[0].line, Some(2));
        assert!(problems[0].message.contains("slider"), "{problems:?}");
    }

    #[test]
    fn po_debconf_splits_descriptions_into_paragraphs_and_choices_into_items() {
        let records = parse(
            "Template: a/b\nType: select\n__Choices: one, two\n_Description: Short:\n Para one\n continues.\n .\n Para two.\n",
            "t",
        )
        .expect("parses");
        let description = records[0].field("Description").expect("field");
        assert_eq!(description.marks, 1);
        assert_eq!(
            translatable_parts(description),
            ["Short:", "Para one continues.", "Para two."]
        );
        assert_eq!(
            translatable_parts(records[0].field("Choices").expect("field")),
            ["one", "two"]
        );
    }

    #[test]
    fn a_name_without_owner_takes_the_owner_flag_or_is_an_error() {
        let records =
            parse("Template: greeting\nType: note\nDescription: Hi\n", "t").expect("parses");
        let mut listener = RecordingListener::default();
        let document = document(&records, &[], Some("demo"), "t", &mut listener).expect("converts");
        assert!(document.template("demo/greeting").is_some());
        let Err(Error::Invalid(problems)) =
            super::document(&records, &[], None, "t", &mut listener)
        else {
            panic!("must fail");
        };
        assert_eq!(problems[0].line, Some(1));
        assert!(problems[0].message.contains("--owner"), "{problems:?}");
    }

    #[test]
    fn localised_defaults_and_defaults_outside_the_choices_are_left_out_with_a_warning() {
        let records = parse(
            "Template: a/b\nType: select\nChoices: x, y\nDefault: z\nDefault-de.UTF-8: x\nDescription: B\n",
            "t",
        )
        .expect("parses");
        let mut listener = RecordingListener::default();
        let document = document(&records, &[], None, "t", &mut listener).expect("converts");
        assert_eq!(document.template("a/b").expect("b").default, None);
        assert_eq!(listener.warnings.len(), 2, "{:?}", listener.warnings);
        assert!(listener.warnings.iter().any(|w| w.starts_with("t:4: ")));
        assert!(listener.warnings.iter().any(|w| w.starts_with("t:5: ")));
    }

    #[test]
    fn language_tags_are_checked() {
        for good in ["de", "pt_BR", "sr@latin", "ast"] {
            assert!(is_language(good), "{good}");
        }
        for bad in ["C", "de_at", "german", "", "de-AT", "zh_CN.GB2312"] {
            assert!(!is_language(bad), "{bad}");
        }
    }
}
