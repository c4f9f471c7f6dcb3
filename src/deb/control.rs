//! The `control` file of a binary package and the Debian policy rules for
//! what goes in it: package names, versions, relationship fields, section,
//! priority, homepage and the description.
//!
//! Checked here, before anything is written, because dpkg's own messages
//! come too late (at install time, on the node) and name no source line.
//! A line break in a value would be worse than an error: `priority:
//! "optional\nEssential: yes"` adds fields to the package (and to the
//! repository's index), past every relation check. So the builder refuses
//! such values with their line, and [`Control::render`] refuses them again
//! rather than write them.

use std::fmt::Write as _;

/// Relationship fields, in the order dpkg-gencontrol writes them.
pub const RELATION_FIELDS: [&str; 8] = [
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Provides",
    "Replaces",
];

/// The largest field value (a relation field as written, joined with
/// `, `; the whole description): far above any real package, far below
/// what would make a control file or a repository index a burden.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Debian policy 2.5.
pub const PRIORITIES: [&str; 5] = ["required", "important", "standard", "optional", "extra"];

/// The archive's sections (Debian policy 2.4), each also valid with an
/// archive area prefix (`contrib/net`).
pub const SECTIONS: [&str; 58] = [
    "admin",
    "cli-mono",
    "comm",
    "database",
    "debian-installer",
    "debug",
    "devel",
    "doc",
    "editors",
    "education",
    "electronics",
    "embedded",
    "fonts",
    "games",
    "gnome",
    "gnu-r",
    "gnustep",
    "graphics",
    "hamradio",
    "haskell",
    "httpd",
    "interpreters",
    "introspection",
    "java",
    "javascript",
    "kde",
    "kernel",
    "libdevel",
    "libs",
    "lisp",
    "localization",
    "mail",
    "math",
    "metapackages",
    "misc",
    "net",
    "news",
    "ocaml",
    "oldlibs",
    "otherosfs",
    "perl",
    "php",
    "python",
    "ruby",
    "rust",
    "science",
    "shells",
    "sound",
    "tasks",
    "tex",
    "text",
    "utils",
    "vcs",
    "video",
    "web",
    "x11",
    "xfce",
    "zope",
];

/// Archive areas a section may be prefixed with.
pub const AREAS: [&str; 3] = ["contrib", "non-free", "non-free-firmware"];

/// A field value the control file cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("control field {field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The fields confpack writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    pub package: String,
    pub version: String,
    pub architecture: String,
    pub maintainer: String,
    pub section: String,
    pub priority: String,
    pub homepage: Option<String>,
    /// Relationship field name (one of [`RELATION_FIELDS`]) → relations.
    pub relations: Vec<(String, Vec<String>)>,
    /// Synopsis, then the extended description lines.
    pub description: String,
}

impl Control {
    /// The relations of one field.
    pub fn relation(&self, field: &str) -> &[String] {
        self.relations
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, list)| list.as_slice())
            .unwrap_or_default()
    }

    /// Refuses a value that would not stay in its field: a line break (or
    /// another control character) anywhere but between the description's
    /// lines.
    pub fn check(&self) -> Result<(), FieldError> {
        let error = |field: &str, message: String| FieldError {
            field: field.to_string(),
            message,
        };
        let mut single: Vec<(&str, &str)> = vec![
            ("Package", &self.package),
            ("Version", &self.version),
            ("Architecture", &self.architecture),
            ("Maintainer", &self.maintainer),
            ("Section", &self.section),
            ("Priority", &self.priority),
        ];
        if let Some(homepage) = &self.homepage {
            single.push(("Homepage", homepage));
        }
        for (name, list) in &self.relations {
            check_relations_size(list).map_err(|message| error(name, message))?;
            for relation in list {
                single.push((name, relation));
            }
        }
        for (field, value) in single {
            check_line(value).map_err(|message| error(field, message))?;
        }
        check_description(&self.description).map_err(|message| error("Description", message))
    }

    /// The control file text; a value that would not stay in its field
    /// ([`Control::check`]) is an error, never written.
    pub fn render(&self, installed_size: u64) -> Result<String, FieldError> {
        self.check()?;
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            if !value.is_empty() {
                let _ = writeln!(out, "{name}: {value}");
            }
        };
        field("Package", &self.package);
        field("Version", &self.version);
        field("Architecture", &self.architecture);
        field("Maintainer", &self.maintainer);
        field("Installed-Size", &installed_size.to_string());
        for name in RELATION_FIELDS {
            field(name, &self.relation(name).join(", "));
        }
        field("Section", &self.section);
        field("Priority", &self.priority);
        if let Some(homepage) = &self.homepage {
            field("Homepage", homepage);
        }
        let mut lines = self.description.trim_end().lines();
        let synopsis = lines.next().unwrap_or_default().trim();
        let _ = writeln!(out, "Description: {synopsis}");
        let extended: Vec<&str> = lines.collect();
        let indent = extended
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        for line in extended {
            let line = line.get(indent..).unwrap_or_else(|| line.trim_start());
            if line.trim().is_empty() {
                out.push_str(" .\n");
            } else {
                let _ = writeln!(out, " {}", line.trim_end());
            }
        }
        Ok(out)
    }
}

/// A value shortened for a message (a hostile one may be huge).
fn shown(value: &str) -> String {
    const LIMIT: usize = 60;
    match value.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{:?}…", &value[..at]),
        None => format!("{value:?}"),
    }
}

/// A character that ends a line for some deb822 reader (`\r` for one that
/// reads universal newlines), or is no text at all.
fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// At most [`MAX_FIELD_BYTES`].
fn check_size(size: usize) -> Result<(), String> {
    if size > MAX_FIELD_BYTES {
        return Err(format!(
            "{size} bytes, more than the {MAX_FIELD_BYTES} a control field may have"
        ));
    }
    Ok(())
}

/// A relation field as written (`a, b | c`) fits in a field.
pub fn check_relations_size(relations: &[String]) -> Result<(), String> {
    let size = relations.iter().map(|r| r.len() + 2).sum::<usize>();
    check_size(size.saturating_sub(2))
}

/// A one-line field value: no line break or other control character, at
/// most [`MAX_FIELD_BYTES`].
pub fn check_line(value: &str) -> Result<(), String> {
    check_size(value.len())?;
    if value.contains(breaks_line) {
        return Err(format!(
            "{} has a line break or another control character; a control field is one line \
             (a line break would add fields to the package)",
            shown(value)
        ));
    }
    Ok(())
}

/// The description: a synopsis line, then extended lines (folded when
/// written); tabs aside, no control characters but the line breaks.
pub fn check_description(text: &str) -> Result<(), String> {
    check_size(text.len())?;
    if text.contains(|c: char| c != '\n' && c != '\t' && breaks_line(c)) {
        return Err(format!(
            "{} has a control character (a carriage return?); only line breaks between lines are allowed",
            shown(text)
        ));
    }
    if text.trim().is_empty() || text.trim_start_matches([' ', '\t']).starts_with('\n') {
        return Err("the first line, the synopsis, is empty".into());
    }
    Ok(())
}

/// Debian policy 2.5: `required`, `important`, `standard`, `optional`,
/// `extra`.
pub fn check_priority(priority: &str) -> Result<(), String> {
    check_line(priority)?;
    if PRIORITIES.contains(&priority) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Debian priority ({})",
            shown(priority),
            PRIORITIES.join(", ")
        ))
    }
}

/// Debian policy 2.4: a section of the archive, optionally in an area
/// (`contrib/net`, `non-free/admin`).
pub fn check_section(section: &str) -> Result<(), String> {
    check_line(section)?;
    let name = match section.split_once('/') {
        Some((area, name)) if AREAS.contains(&area) => name,
        _ => section,
    };
    if SECTIONS.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Debian section (admin, net, web, metapackages, …; see Debian policy 2.4), \
             optionally prefixed with {}",
            shown(section),
            AREAS.map(|a| format!("{a}/")).join(", ")
        ))
    }
}

/// An `http://` or `https://` URL with a host and no whitespace.
pub fn check_homepage(url: &str) -> Result<(), String> {
    check_line(url)?;
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !url.contains(char::is_whitespace) => Ok(()),
        _ => Err(format!(
            "{} is not a URL (https://host/…, without spaces)",
            shown(url)
        )),
    }
}

/// Debian policy 5.6.1: lower case letters, digits, `+ - .`, at least two
/// characters, starting with an alphanumeric.
pub fn check_package_name(name: &str) -> Result<(), String> {
    if crate::package::valid_package_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid Debian package name: use at least two of a-z 0-9 + - ., starting with a letter or digit"
        ))
    }
}

/// Debian policy 5.6.12: `[epoch:]upstream[-revision]`.
pub fn check_version(version: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{version:?} is not a valid Debian version: {why}"));
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, version),
    };
    if let Some(epoch) = epoch
        && (epoch.is_empty() || !epoch.chars().all(|c| c.is_ascii_digit()))
    {
        return fail("the epoch (before `:`) must be a number");
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) => (upstream, Some(revision)),
        None => (rest, None),
    };
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return fail("it must start with a digit");
    }
    if let Some(c) = upstream
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-')))
    {
        return fail(&format!(
            "{c:?} is not allowed (use letters, digits, . + ~ -)"
        ));
    }
    if let Some(revision) = revision {
        if revision.is_empty() {
            return fail("the revision after the last `-` is empty");
        }
        if let Some(c) = revision
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~')))
        {
            return fail(&format!("{c:?} is not allowed in the revision"));
        }
    }
    Ok(())
}

/// `Name <address>`, as dpkg and lintian expect.
pub fn check_maintainer(maintainer: &str) -> Result<(), String> {
    check_line(maintainer)?;
    let ok = maintainer
        .strip_suffix('>')
        .and_then(|m| m.split_once(" <"))
        .is_some_and(|(name, address)| {
            !name.trim().is_empty()
                && address.contains('@')
                && !address.contains(['<', '>', ' '])
                && !name.contains([',', '<', '>', '\n'])
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "maintainer {maintainer:?} must read `Full Name <address@example.com>`"
        ))
    }
}

/// One alternative of a relation: `name[:arch] [(op version)] [[archs]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub name: String,
}

/// Parses one relation (`a (>= 1) | b`) into its alternatives, checking the
/// syntax; `provides` allows only `=` versions, as policy says.
pub fn parse_relation(relation: &str, provides: bool) -> Result<Vec<Alternative>, String> {
    // Not even inside `[…]` or `<…>`, whose contents are not parsed.
    check_line(relation)?;
    let mut out = Vec::new();
    for alternative in relation.split('|') {
        let alternative = alternative.trim();
        if provides && out.len() == 1 {
            return Err(format!("{relation:?}: Provides takes no alternatives"));
        }
        let (name_part, rest) = match alternative.find(['(', '[', '<', ' ']) {
            Some(at) => (&alternative[..at], alternative[at..].trim()),
            None => (alternative, ""),
        };
        let name = name_part
            .split_once(':')
            .map(|(name, _)| name)
            .unwrap_or(name_part);
        if name.is_empty() {
            return Err(format!("{relation:?}: an empty package name"));
        }
        check_package_name(name)?;
        let mut rest = rest;
        if let Some(after) = rest.strip_prefix('(') {
            let Some((inside, after)) = after.split_once(')') else {
                return Err(format!("{alternative:?}: `(` without `)`"));
            };
            let inside = inside.trim();
            let op_len = inside
                .find(|c: char| !matches!(c, '<' | '>' | '='))
                .unwrap_or(inside.len());
            let (op, version) = inside.split_at(op_len);
            let allowed: &[&str] = if provides {
                &["="]
            } else {
                &["<<", "<=", "=", ">=", ">>"]
            };
            if !allowed.contains(&op) {
                return Err(format!(
                    "{alternative:?}: the relation must be one of {}",
                    allowed.join(" ")
                ));
            }
            check_version(version.trim())?;
            rest = after.trim();
        }
        if let Some(after) = rest.strip_prefix('[') {
            let Some((_, after)) = after.split_once(']') else {
                return Err(format!("{alternative:?}: `[` without `]`"));
            };
            rest = after.trim();
        }
        while let Some(after) = rest.strip_prefix('<') {
            let Some((_, after)) = after.split_once('>') else {
                return Err(format!("{alternative:?}: `<` without `>`"));
            };
            rest = after.trim();
        }
        if !rest.is_empty() {
            return Err(format!("{alternative:?}: unexpected {rest:?}"));
        }
        out.push(Alternative {
            name: name.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_policy() {
        for good in [
            "1",
            "1.2+git20260101.120000.abcdef1",
            "2:1.0-1",
            "1.0~rc1",
            "0",
        ] {
            assert_eq!(check_version(good), Ok(()), "{good}");
        }
        for bad in ["", "v1", "1_0", "a:1", "1.0-", "1 0", "1.0-x_y"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relations_are_parsed_and_checked() {
        let names = |r: &str| -> Vec<String> {
            parse_relation(r, false)
                .expect(r)
                .into_iter()
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(names("nginx"), ["nginx"]);
        assert_eq!(names("nginx (>= 1.22) | apache2"), ["nginx", "apache2"]);
        assert_eq!(names("libc6:any [amd64] <!nocheck>"), ["libc6"]);
        assert!(parse_relation("nginx (=> 1)", false).is_err());
        assert!(parse_relation("Nginx", false).is_err());
        assert!(parse_relation("nginx (>= 1", false).is_err());
        assert!(parse_relation("web-server (>= 1)", true).is_err());
    }

    #[test]
    fn the_description_is_folded_the_debian_way() {
        let control = Control {
            package: "demo".into(),
            version: "1".into(),
            architecture: "all".into(),
            maintainer: "A <a@example.com>".into(),
            description: "Short text\nFirst paragraph.\n\nSecond.\n".into(),
            ..Control::default()
        };
        let text = control.render(3).expect("render");
        assert!(
            text.ends_with("Description: Short text\n First paragraph.\n .\n Second.\n"),
            "{text}"
        );
    }

    #[test]
    fn a_value_with_a_line_break_is_never_written() {
        let good = Control {
            package: "demo".into(),
            version: "1".into(),
            architecture: "all".into(),
            maintainer: "A <a@example.com>".into(),
            section: "admin".into(),
            priority: "optional".into(),
            description: "Short\nLong.\n".into(),
            ..Control::default()
        };
        assert!(good.render(1).is_ok());
        let injected = "optional\nEssential: yes";
        for control in [
            Control {
                priority: injected.into(),
                ..good.clone()
            },
            Control {
                section: "admin\rEssential: yes".into(),
                ..good.clone()
            },
            Control {
                homepage: Some(format!("https://x/\n{injected}")),
                ..good.clone()
            },
            Control {
                maintainer: "A <a@b\nEssential:yes>".into(),
                ..good.clone()
            },
            Control {
                relations: vec![("Depends".into(), vec!["a [x\nEssential: yes]".into()])],
                ..good.clone()
            },
            Control {
                description: "Short\rEssential: yes\nLong.".into(),
                ..good.clone()
            },
        ] {
            let error = control.render(1).expect_err("refused");
            assert!(error.message.contains("control character"), "{error}");
        }
    }

    #[test]
    fn sections_priorities_and_homepages_follow_policy() {
        for good in ["admin", "contrib/net", "non-free/admin", "metapackages"] {
            assert_eq!(check_section(good), Ok(()), "{good}");
        }
        for bad in ["Admin", "weird", "main/admin", "contrib/", "admin\nX: y"] {
            assert!(check_section(bad).is_err(), "{bad}");
        }
        for good in PRIORITIES {
            assert_eq!(check_priority(good), Ok(()));
        }
        assert!(check_priority("optional\nEssential: yes").is_err());
        assert!(check_priority("high").is_err());
        assert!(check_homepage("https://example.com/x?y").is_ok());
        assert!(check_line(&"a".repeat(MAX_FIELD_BYTES + 1)).is_err());
        let many = vec!["nginx".to_string(); MAX_FIELD_BYTES / 7 + 1];
        assert!(check_relations_size(&many).is_err());
        for bad in [
            "example.com",
            "https://",
            "https://a b",
            "ftp://x",
            "https://x\n",
        ] {
            assert!(check_homepage(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn maintainers_need_a_name_and_an_address() {
        assert!(check_maintainer("Ops Team <ops@example.com>").is_ok());
        assert!(check_maintainer("ops@example.com").is_err());
        assert!(check_maintainer("<ops@example.com>").is_err());
    }
}
