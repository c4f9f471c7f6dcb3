//! The native document as text: what every `confpack convert` writes,
//! whatever it read. Deterministic (document order), every text escaped,
//! and checked against the built-in schema before anyone uses it.

use std::fmt::Write as _;

use crate::Listener;
use crate::env::model::{Document, Machine, Source, Template};
use crate::env::{self, Validation, native};
use crate::error::{Error, Result};

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
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

/// Proves `text` is a valid native document (the built-in schema and
/// confpack's own checks), through a temporary file the reader streams.
pub fn check(text: &str) -> Result<()> {
    let mut file = tempfile::Builder::new()
        .suffix(".xml")
        .tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(file.path(), e))?;
    env::validate(file.path(), "converted document", Validation::Builtin)?;
    Ok(())
}

/// The native document of `document`; `listener` hears what had to change.
pub fn write(document: &Document, listener: &mut dyn Listener) -> String {
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
        write_template(&mut out, template);
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

fn write_template(out: &mut String, template: &Template) {
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
    write_choices(out, &template.choices, "      ");
    if let Some(default) = &template.default {
        let _ = writeln!(out, "      <default>{}</default>", escape(default));
    }
    if template.source == Source::Derived
        && let Some(expression) = &template.expression
    {
        let _ = writeln!(out, "      <expression>{}</expression>", escape(expression));
    }
    for (lang, texts) in &template.translations {
        let _ = writeln!(out, "      <translation lang=\"{}\">", escape(lang));
        if let Some(description) = &texts.description {
            let _ = writeln!(
                out,
                "        <description>{}</description>",
                escape(description)
            );
        }
        if let Some(extended) = &texts.extended {
            let _ = writeln!(out, "        <extended>{}</extended>", escape(extended));
        }
        write_choices(out, &texts.choices, "        ");
        let _ = writeln!(out, "      </translation>");
    }
    let _ = writeln!(out, "    </template>");
}

fn write_choices(out: &mut String, choices: &[String], indent: &str) {
    if choices.is_empty() {
        return;
    }
    let _ = write!(out, "{indent}<choices>");
    for choice in choices {
        let _ = write!(out, "<choice>{}</choice>", escape(choice));
    }
    let _ = writeln!(out, "</choices>");
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
