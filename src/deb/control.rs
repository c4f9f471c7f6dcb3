//! The `control` file of a binary package and the Debian policy rules for
//! what goes in it: package names, versions and relationship fields.
//!
//! Checked here, before anything is written, because dpkg's own messages
//! come too late (at install time, on the node) and name no source line.

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

    /// The control file text.
    pub fn render(&self, installed_size: u64) -> String {
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
        out
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
        let text = control.render(3);
        assert!(
            text.ends_with("Description: Short text\n First paragraph.\n .\n Second.\n"),
            "{text}"
        );
    }

    #[test]
    fn maintainers_need_a_name_and_an_address() {
        assert!(check_maintainer("Ops Team <ops@example.com>").is_ok());
        assert!(check_maintainer("ops@example.com").is_err());
        assert!(check_maintainer("<ops@example.com>").is_err());
    }
}
