//! control.yml's declarations (`directories:`, `users:`, `services:`, …;
//! see [`crate::declared`]): read into [`Declarations`] with every problem
//! at its line, for `package.yml`.

use crate::declared::{Declarations, KEYS};

use super::manifest::{Located, Manifest};
use super::planned::Problems;

/// The declarations of a package; problems are added, with the line of
/// the key or of the declaration they are about.
pub fn read(manifest: &Manifest, located: &Located, problems: &mut Problems) -> Declarations {
    let mut present = yaml_serde::Mapping::new();
    for (key, value) in manifest.declared() {
        let Some(value) = value else { continue };
        let mut one = yaml_serde::Mapping::new();
        one.insert(key.into(), value.clone());
        // One key at a time: yaml_serde gives no line for a value error,
        // so the key's line is the best there is.
        match yaml_serde::from_value::<Declarations>(yaml_serde::Value::Mapping(one)) {
            Ok(_) => {
                present.insert(key.into(), value.clone());
            }
            Err(e) => problems.push(located.problem(located.key_line(key), format!("{key}: {e}"))),
        }
    }
    let declarations: Declarations =
        yaml_serde::from_value(yaml_serde::Value::Mapping(present)).unwrap_or_default();
    for invalid in declarations.check() {
        problems.push(located.problem(
            located.value_line(invalid.key, &invalid.needle),
            format!("{}: {}: {}", invalid.key, invalid.id, invalid.message),
        ));
    }
    debug_assert!(
        KEYS.iter()
            .all(|k| manifest.declared().iter().any(|(m, _)| m == k))
    );
    declarations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::manifest::parse;

    fn read_text(text: &str) -> (Declarations, Vec<String>) {
        let located = Located::control_yml(text);
        let manifest: Manifest = parse(&located.file, text).expect("parse");
        let mut problems = Problems::default();
        let declared = read(&manifest, &located, &mut problems);
        let shown = problems
            .finish(())
            .err()
            .unwrap_or_default()
            .iter()
            .map(|p| p.to_string())
            .collect();
        (declared, shown)
    }

    #[test]
    fn declarations_are_read_and_checked_at_their_line() {
        let (declared, problems) = read_text(
            "version: \"1\"\ndirectories:\n  - path: /srv/a\n    mode: \"0750\"\n  - path: srv/b\n",
        );
        assert_eq!(declared.directories.len(), 2);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("control.yml:5: directories: srv/b: path:"),
            "{problems:?}"
        );
    }

    #[test]
    fn every_kind_is_found_at_its_line() {
        let (declared, problems) = read_text(
            "version: \"1\"\n\
             groups:\n  - name: Bad\n\
             users:\n  - name: ok\n    shell: bin/sh\n\
             blocks:\n  - file: /etc/hosts\n    content: x\n    name: \"Bad Name\"\n\
             firewall:\n  - table: Web\n    rules: x\n\
             services:\n  - unit: noservice\n",
        );
        assert!(!declared.is_empty());
        let lines: Vec<&str> = problems
            .iter()
            .map(|p| p.split(": ").next().unwrap_or(""))
            .collect();
        assert_eq!(
            lines,
            [
                "control.yml:3",
                "control.yml:5",
                "control.yml:8",
                "control.yml:12",
                "control.yml:15"
            ],
            "{problems:#?}"
        );
    }

    #[test]
    fn a_download_is_found_at_its_path_line() {
        let (declared, problems) = read_text(
            "version: \"1\"\ndownloads:\n  - url: ftp://example.com/a\n    sha256: abc\n    path: /opt/a\n    max-size: 0\n",
        );
        assert_eq!(declared.downloads.len(), 1);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems
                .iter()
                .all(|p| p.starts_with("control.yml:5: downloads: /opt/a: ")),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_wrong_shape_is_a_problem_at_its_key() {
        let (declared, problems) =
            read_text("version: \"1\"\ndirectories:\n  - path: /srv/a\n    colour: red\n");
        assert!(declared.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("control.yml:2: directories:"),
            "{problems:?}"
        );
        assert!(problems[0].contains("colour"), "{problems:?}");
    }
}
