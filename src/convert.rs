//! `confpack convert`: a DataONE v1 document (or any document confpack
//! reads) written as a native one, so a team migrates once. The result is
//! validated against the built-in schema before it is handed out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::Listener;
use crate::env::model::{Document, Machine, Source};
use crate::env::{self, Validation, dataone, native};
use crate::error::{Error, Problem, Result};

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            other => out.push(other),
        }
    }
    out
}

/// Reads `file` and returns the equivalent native document.
pub fn convert(
    file: &Path,
    schema: Option<&Path>,
    rules: &BTreeMap<String, String>,
    listener: &mut dyn Listener,
) -> Result<String> {
    let origin = file.display().to_string();
    let validation = match schema {
        Some(schema) => Validation::File(schema),
        None => Validation::Builtin,
    };
    let document = env::read_document(file, &origin, validation, rules, &|_| true)?;
    for warning in &document.warnings {
        listener.warning(warning);
    }
    let missing: Vec<Problem> = dataone::missing_rules(&document)
        .into_iter()
        .map(|t| Problem {
            file: origin.clone(),
            line: Some(t.line),
            message: format!(
                "derived question {} has no rule; pass --derive {}=EXPR or add it to a --derive-file",
                t.key, t.key
            ),
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::Invalid(missing));
    }
    let text = write_native(&document, listener);
    // Prove the result is a valid native document before anyone uses it.
    let mut check = tempfile::Builder::new()
        .suffix(".xml")
        .tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    std::io::Write::write_all(&mut check, text.as_bytes())
        .map_err(|e| Error::io(check.path(), e))?;
    env::validate(check.path(), "converted document", Validation::Builtin)?;
    Ok(text)
}

fn write_native(document: &Document, listener: &mut dyn Listener) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        out,
        "<!-- Converted by confpack from {} -->",
        escape(&document.origin).replace("--", "- -")
    );
    let _ = writeln!(
        out,
        "<environments xmlns=\"{}\" version=\"1\">",
        native::NAMESPACE
    );
    let _ = writeln!(out, "  <templates>");
    for template in &document.templates {
        let _ = writeln!(
            out,
            "    <template key=\"{}\" type=\"{}\" priority=\"{}\" source=\"{}\">",
            escape(&template.key),
            template.question_type,
            template.priority,
            template.source
        );
        let _ = writeln!(
            out,
            "      <description>{}</description>",
            escape(&template.description)
        );
        if !template.extended.is_empty() {
            let _ = writeln!(
                out,
                "      <extended>{}</extended>",
                escape(&template.extended)
            );
        }
        if !template.choices.is_empty() {
            let _ = write!(out, "      <choices>");
            for choice in &template.choices {
                let _ = write!(out, "<choice>{}</choice>", escape(choice));
            }
            let _ = writeln!(out, "</choices>");
        }
        if let Some(default) = &template.default {
            let _ = writeln!(out, "      <default>{}</default>", escape(default));
        }
        if template.source == Source::Derived
            && let Some(expression) = &template.expression
        {
            let _ = writeln!(out, "      <expression>{}</expression>", escape(expression));
        }
        let _ = writeln!(out, "    </template>");
    }
    let _ = writeln!(out, "  </templates>");
    for environment in &document.environments {
        let _ = writeln!(
            out,
            "  <environment context=\"{}\">",
            escape(&environment.context)
        );
        for value in &environment.values {
            question(&mut out, document, value.template, &value.value, "    ");
        }
        foreign(&mut out, &environment.debconf, "    ");
        for machine in &environment.machines {
            write_machine(&mut out, document, machine, &environment.context, listener);
        }
        let _ = writeln!(out, "  </environment>");
    }
    let _ = writeln!(out, "</environments>");
    out
}

fn write_machine(
    out: &mut String,
    document: &Document,
    machine: &Machine,
    context: &str,
    listener: &mut dyn Listener,
) {
    if machine.ip.is_none() && machine.hostname.is_none() {
        // DataONE's "custom" machine: in the native format the environment
        // itself is selected with --environment.
        if !machine.values.is_empty() {
            listener.warning(&format!(
                "environment {context}: the machine without address (line {}) has values; \
                 they were moved to the environment level",
                machine.line
            ));
            for value in &machine.values {
                question(out, document, value.template, &value.value, "    ");
            }
        }
        return;
    }
    let _ = write!(out, "    <machine");
    if machine.ip.is_some() {
        let _ = write!(out, " ip=\"{}\"", escape(&machine.ip_text));
    }
    if let Some(hostname) = &machine.hostname {
        let _ = write!(out, " hostname=\"{}\"", escape(hostname));
    }
    if machine.values.is_empty() && machine.debconf.is_empty() {
        let _ = writeln!(out, "/>");
        return;
    }
    let _ = writeln!(out, ">");
    for value in &machine.values {
        question(out, document, value.template, &value.value, "      ");
    }
    foreign(out, &machine.debconf, "      ");
    let _ = writeln!(out, "    </machine>");
}

/// `<debconf>` values for other packages' questions.
fn foreign(out: &mut String, values: &[crate::env::model::ForeignValue], indent: &str) {
    for value in values {
        let _ = writeln!(
            out,
            "{indent}<debconf key=\"{}\">{}</debconf>",
            escape(&value.key),
            escape(&value.value)
        );
    }
}

fn question(out: &mut String, document: &Document, template: u32, value: &str, indent: &str) {
    let key = &document.templates[template as usize].key;
    let _ = writeln!(
        out,
        "{indent}<question key=\"{}\">{}</question>",
        escape(key),
        escape(value)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
