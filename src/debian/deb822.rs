//! Reading and writing deb822 paragraphs (control files, `Packages`,
//! `Release`, `apt-get indextargets` output).
//!
//! Why our own: the format is small (fields, continuation lines, blank
//! lines between paragraphs) and both sides of confpack's apt repository
//! need it: publishing rewrites `Packages` incrementally, the node runtime
//! reads the downloaded lists. Field order and continuation lines are kept
//! exactly, so a paragraph read and written again is unchanged.

/// One paragraph: fields in their order, values with continuation lines
/// (without the field name, with their leading space, joined by `\n`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    pub fields: Vec<(String, String)>,
}

impl Paragraph {
    /// A field's value (case-insensitive name), first line and
    /// continuation lines as written.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Sets a field, replacing it in place or appending it.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .fields
            .iter_mut()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
        {
            Some((_, old)) => *old = value,
            None => self.fields.push((name.to_string(), value)),
        }
    }

    /// Sets a field, inserting a new one before `before` when present.
    pub fn set_before(&mut self, name: &str, value: impl Into<String>, before: &str) {
        let value = value.into();
        if self.get(name).is_some() {
            self.set(name, value);
            return;
        }
        match self
            .fields
            .iter()
            .position(|(field, _)| field.eq_ignore_ascii_case(before))
        {
            Some(index) => self.fields.insert(index, (name.to_string(), value)),
            None => self.fields.push((name.to_string(), value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.fields
            .retain(|(field, _)| !field.eq_ignore_ascii_case(name));
    }

    /// The paragraph as text, ending with a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.fields {
            out.push_str(name);
            out.push(':');
            if !value.is_empty() && !value.starts_with('\n') {
                out.push(' ');
            }
            out.push_str(value);
            out.push('\n');
        }
        out
    }
}

/// Parses paragraphs; `Err((line, message))` on a malformed line.
pub fn parse(text: &str) -> Result<Vec<Paragraph>, (u64, String)> {
    let mut paragraphs = Vec::new();
    let mut current = Paragraph::default();
    for (index, line) in text.lines().enumerate() {
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') && current.fields.is_empty() {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match current.fields.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line);
                }
                None => return Err((number, "a continuation line without a field".into())),
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains(' ') => {
                current
                    .fields
                    .push((name.to_string(), value.trim_start().to_string()));
            }
            _ => return Err((number, format!("not a `Field: value` line: {line:?}"))),
        }
    }
    if !current.fields.is_empty() {
        paragraphs.push(current);
    }
    Ok(paragraphs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paragraph_reads_back_as_written() {
        let text = "Package: demo\nVersion: 1.0\nDescription: short\n long line\n .\n more\n\nPackage: other\nVersion: 2\n";
        let paragraphs = parse(text).expect("parse");
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].get("package"), Some("demo"));
        assert_eq!(
            paragraphs[0].get("Description"),
            Some("short\n long line\n .\n more")
        );
        let again: String = paragraphs
            .iter()
            .map(Paragraph::render)
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(again, text);
    }

    #[test]
    fn a_field_list_with_an_empty_first_line_keeps_its_form() {
        let mut paragraph = Paragraph::default();
        paragraph.set("SHA256", "\n abc 1 main/x");
        assert_eq!(paragraph.render(), "SHA256:\n abc 1 main/x\n");
        assert_eq!(parse(&paragraph.render()).expect("parse")[0], paragraph);
    }

    #[test]
    fn a_malformed_line_is_refused_with_its_number() {
        assert_eq!(parse("Package: a\nnonsense\n").expect_err("refused").0, 2);
    }
}
