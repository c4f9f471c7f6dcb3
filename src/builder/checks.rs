//! Checks across the whole repository, after each package was read on its
//! own: environment documents valid, names unique, every path owned by one
//! package, every dependency available somewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::Listener;
use crate::deb::Entry;
use crate::env::{self, Validation};
use crate::error::{Error, Problem, Result};

use super::planned::Planned;
use super::runtime_deb;

/// Validates each environment document once (packages often share one).
/// Sequential: libxml2 is not used from several threads.
pub fn validate_environments(planned: &[Planned]) -> Vec<Problem> {
    // Each document once; its keys for the packages' `questions:`.
    let mut keys: BTreeMap<(PathBuf, Option<PathBuf>), Option<BTreeSet<String>>> = BTreeMap::new();
    let mut problems = Vec::new();
    for package in planned {
        let Some((path, shown, schema)) = &package.environment else {
            if !package.questions.is_empty() {
                problems.push(package.manifest.problem(
                    package.manifest.key_line("questions"),
                    "questions: this package has no environment document to ask them from",
                ));
            }
            continue;
        };
        let known = keys
            .entry((path.clone(), schema.clone()))
            .or_insert_with(|| {
                let validation = match schema {
                    Some(schema) => Validation::File(schema),
                    None => Validation::Builtin,
                };
                match env::validate(path, shown, validation) {
                    Ok(document) => {
                        problems.extend(crate::env::cleartext::clear_values(&document));
                        Some(document.templates.iter().map(|t| t.key.clone()).collect())
                    }
                    Err(Error::Invalid(found)) => {
                        problems.extend(found);
                        None
                    }
                    Err(other) => {
                        problems.push(Problem {
                            file: shown.clone(),
                            line: None,
                            message: other.to_string(),
                        });
                        None
                    }
                }
            });
        let Some(known) = known else { continue };
        for (key, line) in &package.questions {
            if !known.contains(key) {
                problems.push(package.manifest.problem(
                    *line,
                    format!("questions: {key} is not a question of {shown}"),
                ));
            }
        }
    }
    problems
}

/// Package and role names are one namespace; the runtime's is taken.
pub fn check_names(planned: &[Planned]) -> Vec<Problem> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut problems = Vec::new();
    for package in planned {
        if package.name == runtime_deb::PACKAGE {
            problems.push(package.manifest.problem(
                None,
                format!(
                    "{} is the name of confpack's own runtime package",
                    runtime_deb::PACKAGE
                ),
            ));
        }
        if let Some(other) = seen.insert(&package.name, &package.manifest.file) {
            problems.push(package.manifest.problem(
                None,
                format!("the package name {} is also used by {other}", package.name),
            ));
        }
    }
    problems
}

/// A path may belong to one package only (dpkg refuses to overwrite), and
/// a file of one package cannot be a directory of another.
pub fn check_targets(planned: &[Planned]) -> Vec<Problem> {
    let mut owners: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    let mut directories: BTreeMap<String, &str> = BTreeMap::new();
    let mut problems = Vec::new();
    for package in planned {
        for (path, entry) in &package.deb.entries {
            if matches!(entry, Entry::Directory) {
                directories.insert(path.clone(), &package.name);
            }
            let mut parent = Path::new(path).parent();
            while let Some(dir) = parent {
                if dir == Path::new("/") {
                    break;
                }
                directories
                    .entry(dir.display().to_string())
                    .or_insert(&package.name);
                parent = dir.parent();
            }
        }
        for path in &package.rendered {
            if let Some(dir) = Path::new(path).parent() {
                directories
                    .entry(dir.display().to_string())
                    .or_insert(&package.name);
            }
        }
    }
    for package in planned {
        let targets = package
            .deb
            .entries
            .iter()
            .filter(|(_, e)| !matches!(e, Entry::Directory))
            .map(|(p, _)| p)
            .chain(package.rendered.iter());
        for path in targets {
            let source = package
                .sources
                .get(path)
                .map(String::as_str)
                .unwrap_or(package.manifest.file.as_str());
            if let Some((other, other_source)) = owners.insert(path, (&package.name, source))
                && other != package.name
            {
                problems.push(Problem {
                    file: source.to_string(),
                    line: None,
                    message: format!(
                        "{path} is also installed or rendered by package {other} ({other_source}); a path belongs to one package"
                    ),
                });
            }
            if let Some(other) = directories.get(path.as_str()) {
                problems.push(Problem {
                    file: source.to_string(),
                    line: None,
                    message: format!("{path} is a directory in package {other}"),
                });
            }
        }
    }
    problems
}

/// Names that exist outside the repository: the `--known-packages` file,
/// else the local apt cache; `None` when neither is available.
pub fn known_packages(
    file: Option<&Path>,
    listener: &mut dyn Listener,
) -> Result<Option<BTreeSet<String>>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        return Ok(Some(
            text.lines()
                .filter_map(|l| l.split('#').next())
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect(),
        ));
    }
    let mut apt_cache = std::process::Command::new("apt-cache");
    apt_cache.arg("pkgnames").env("LC_ALL", "C");
    match crate::process::command::query(&mut apt_cache) {
        Some(output) if !output.stdout.is_empty() => Ok(Some(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
        )),
        _ => {
            listener.warning(
                "no --known-packages file and no apt cache: dependencies on packages outside the repository are not checked",
            );
            Ok(None)
        }
    }
}

/// Every Pre-Depends/Depends/Recommends must name a package that is built
/// here, provided here, or known; alternatives need one that is.
pub fn check_dependencies(
    planned: &[Planned],
    known: Option<&BTreeSet<String>>,
    listener: &mut dyn Listener,
) -> Vec<Problem> {
    let mut available: BTreeSet<String> = planned.iter().map(|p| p.name.clone()).collect();
    available.insert(runtime_deb::PACKAGE.to_string());
    for package in planned {
        for relation in package.deb.control.relation("Provides") {
            if let Ok(alternatives) = crate::deb::control::parse_relation(relation, true) {
                available.extend(alternatives.into_iter().map(|a| a.name));
            }
        }
    }
    let mut problems = Vec::new();
    let mut unchecked = BTreeSet::new();
    for package in planned {
        for field in ["Pre-Depends", "Depends", "Recommends"] {
            for relation in package.deb.control.relation(field) {
                let Ok(alternatives) = crate::deb::control::parse_relation(relation, false) else {
                    continue;
                };
                let satisfied = alternatives.iter().any(|a| {
                    available.contains(&a.name) || known.is_some_and(|k| k.contains(&a.name))
                });
                if satisfied {
                    continue;
                }
                if known.is_none() {
                    unchecked.insert(relation.clone());
                    continue;
                }
                let key = field.to_ascii_lowercase();
                problems.push(package.manifest.problem(
                    package.manifest.value_line(&key, relation),
                    format!(
                        "{field}: {relation}: no such package in the repository or among the known packages \
                         (--known-packages FILE, or the local apt cache)"
                    ),
                ));
            }
        }
    }
    if !unchecked.is_empty() {
        listener.warning(&format!(
            "not checked (outside the repository): {}",
            unchecked.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    problems
}
