//! The control fields of a package or role, from its manifest and the
//! repository's defaults (`confpack.yml`), each checked with Debian's
//! rules and every problem placed at its key's line.

use crate::deb::control::{self, Control, check_maintainer, check_version};

use super::manifest::{Located, Manifest, RepositoryConfig};
use super::planned::Problems;

/// The control fields packages and roles share. A field with a problem
/// gets a placeholder so that every other field is still checked.
pub fn control_fields(
    manifest: &Manifest,
    located: &Located,
    name: &str,
    config: &RepositoryConfig,
    is_role: bool,
    problems: &mut Problems,
) -> Control {
    let version = version(manifest, located, problems);
    let description = description(manifest, located, problems);
    // confpack.yml's values are checked once, at their own lines
    // ([`check_defaults`]).
    check_fields(manifest_fields(manifest), located, problems);
    let maintainer = maintainer(manifest, config, located, problems);
    let architecture = manifest
        .architecture
        .clone()
        .unwrap_or_else(|| "all".into());
    if let Err(message) = check_architecture(&architecture) {
        problems.push(located.problem(located.key_line("architecture"), message));
    }
    let relations = relations(manifest, located, problems);
    Control {
        package: name.to_string(),
        version,
        architecture,
        maintainer,
        section: section(manifest, config, is_role),
        priority: manifest
            .priority
            .clone()
            .or_else(|| config.priority.clone())
            .unwrap_or_else(|| "optional".into()),
        homepage: manifest
            .homepage
            .clone()
            .or_else(|| config.homepage.clone()),
        relations,
        description,
    }
}

fn version(manifest: &Manifest, located: &Located, problems: &mut Problems) -> String {
    let Some(version) = &manifest.version else {
        problems.push(located.problem(None, "`version` is missing (e.g. version: \"1.0\")"));
        return String::new();
    };
    if let Err(message) = check_version(&version.0) {
        problems.push(located.problem(located.key_line("version"), message));
    }
    version.0.clone()
}

fn description(manifest: &Manifest, located: &Located, problems: &mut Problems) -> String {
    match &manifest.description {
        Some(text) if !text.trim().is_empty() => {
            if let Err(message) = control::check_description(text) {
                problems.push(located.problem(
                    located.key_line("description"),
                    format!("description: {message}"),
                ));
            }
            text.clone()
        }
        _ => {
            problems.push(located.problem(
                located.key_line("description"),
                "`description` is missing: its first line is the synopsis",
            ));
            String::new()
        }
    }
}

fn maintainer(
    manifest: &Manifest,
    config: &RepositoryConfig,
    located: &Located,
    problems: &mut Problems,
) -> String {
    match manifest.maintainer.as_ref().or(config.maintainer.as_ref()) {
        Some(maintainer) => maintainer.clone(),
        None => {
            problems.push(located.problem(
                None,
                "`maintainer` is missing (here or in the repository's confpack.yml)",
            ));
            String::new()
        }
    }
}

/// A Debian architecture name: lower-case letters, digits and `-`.
fn check_architecture(architecture: &str) -> Result<(), String> {
    let valid = !architecture.is_empty()
        && architecture
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "architecture {architecture:?} is not a Debian architecture (all, amd64, arm64, …)"
        ))
    }
}

/// The manifest's, else (for a package) confpack.yml's, else `admin` for
/// a package and `metapackages` for a role.
fn section(manifest: &Manifest, config: &RepositoryConfig, is_role: bool) -> String {
    manifest
        .section
        .clone()
        .or_else(|| (!is_role).then(|| config.section.clone()).flatten())
        .unwrap_or_else(|| if is_role { "metapackages" } else { "admin" }.into())
}

/// The relation fields (`Depends`, …), each relation checked at its line.
fn relations(
    manifest: &Manifest,
    located: &Located,
    problems: &mut Problems,
) -> Vec<(String, Vec<String>)> {
    let mut relations = Vec::new();
    for (field, list) in manifest.relations() {
        let key = field.to_ascii_lowercase();
        if let Err(message) = control::check_relations_size(&list.0) {
            problems.push(located.problem(located.key_line(&key), format!("{key}: {message}")));
            continue;
        }
        for relation in &list.0 {
            if let Err(message) = control::parse_relation(relation, field == "Provides") {
                problems.push(located.problem(
                    located.value_line(&key, first_line(relation)),
                    format!("{key}: {message}"),
                ));
            }
        }
        relations.push((field.to_string(), list.0.clone()));
    }
    relations
}

/// The single-line control fields a manifest may set, by key.
fn manifest_fields(manifest: &Manifest) -> [(&'static str, Option<&str>); 4] {
    [
        ("maintainer", manifest.maintainer.as_deref()),
        ("section", manifest.section.as_deref()),
        ("priority", manifest.priority.as_deref()),
        ("homepage", manifest.homepage.as_deref()),
    ]
}

/// Checks control field values (`key`, value) with Debian's rules, each
/// problem at its key's line as `key: message`.
fn check_fields(
    fields: [(&'static str, Option<&str>); 4],
    located: &Located,
    problems: &mut Problems,
) {
    for (key, value) in fields {
        let Some(value) = value else { continue };
        let checked = match key {
            "maintainer" => check_maintainer(value),
            "section" => control::check_section(value),
            "priority" => control::check_priority(value),
            "homepage" => control::check_homepage(value),
            _ => control::check_line(value),
        };
        if let Err(message) = checked {
            problems.push(located.problem(located.key_line(key), format!("{key}: {message}")));
        }
    }
}

/// The defaults of `confpack.yml`, checked like a package's fields.
pub fn check_defaults(config: &RepositoryConfig, located: &Located) -> Problems {
    let mut problems = Problems::default();
    check_fields(
        [
            ("maintainer", config.maintainer.as_deref()),
            ("section", config.section.as_deref()),
            ("priority", config.priority.as_deref()),
            ("homepage", config.homepage.as_deref()),
        ],
        located,
        &mut problems,
    );
    problems
}

/// The first line of a value, to find it again in the YAML text.
fn first_line(value: &str) -> &str {
    value.lines().next().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Problem;

    fn located(text: &str) -> Located {
        Located::control_yml(text)
    }

    fn fields(text: &str, config: &RepositoryConfig, is_role: bool) -> (Control, Vec<String>) {
        let located = located(text);
        let manifest: Manifest = super::super::manifest::parse(&located.file, text).expect("yaml");
        let mut problems = Problems::default();
        let control = control_fields(&manifest, &located, "p", config, is_role, &mut problems);
        let problems: Vec<Problem> = problems.into();
        (control, problems.iter().map(ToString::to_string).collect())
    }

    const VALID: &str = "version: \"1.0\"\ndescription: a package\nmaintainer: A <a@example.com>\n";

    #[test]
    fn architectures_are_debian_names() {
        let table = [
            ("all", true),
            ("amd64", true),
            ("kfreebsd-i386", true),
            ("", false),
            ("AMD64", false),
            ("amd64 arm64", false),
        ];
        for (architecture, valid) in table {
            assert_eq!(
                check_architecture(architecture).is_ok(),
                valid,
                "{architecture:?}"
            );
        }
    }

    #[test]
    fn the_section_comes_from_the_manifest_then_the_defaults_then_the_kind() {
        let config = RepositoryConfig {
            section: Some("net".into()),
            ..RepositoryConfig::default()
        };
        let none = RepositoryConfig::default();
        let table = [
            ("section: web\n", &config, false, "web"),
            ("section: web\n", &config, true, "web"),
            ("", &config, false, "net"),
            ("", &config, true, "metapackages"),
            ("", &none, false, "admin"),
        ];
        for (text, config, is_role, expected) in table {
            let (control, problems) = fields(&format!("{VALID}{text}"), config, is_role);
            assert_eq!(control.section, expected, "{text:?} role={is_role}");
            assert!(problems.is_empty(), "{problems:?}");
        }
    }

    #[test]
    fn missing_fields_are_each_a_problem_and_the_others_still_checked() {
        let (control, problems) = fields(
            "architecture: Any\ndepends: [\"bad name!\"]\n",
            &RepositoryConfig::default(),
            false,
        );
        assert_eq!(control.architecture, "Any");
        let expected = [
            "control.yml: `version` is missing (e.g. version: \"1.0\")",
            "control.yml: `description` is missing: its first line is the synopsis",
            "control.yml: `maintainer` is missing (here or in the repository's confpack.yml)",
            "control.yml:1: architecture \"Any\" is not a Debian architecture (all, amd64, arm64, …)",
        ];
        assert_eq!(problems[..4], expected);
        assert!(
            problems[4].starts_with("control.yml:2: depends: "),
            "{problems:?}"
        );
    }

    #[test]
    fn defaults_are_checked_at_their_own_lines() {
        let config = RepositoryConfig {
            priority: Some("urgent\nEssential: yes".into()),
            ..RepositoryConfig::default()
        };
        let problems: Vec<Problem> =
            check_defaults(&config, &located("maintainer: x\npriority: bad\n")).into();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(2));
        assert!(problems[0].message.starts_with("priority: "));
    }
}
