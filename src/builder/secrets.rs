//! A package's `secrets/` part at build time: every file is shipped
//! encrypted with age to the repository's recipients (see
//! [`crate::secrets`]), as `/usr/share/confpack/<pkg>/secrets/<path>.age`,
//! mode 0600 unless `modes:` says otherwise; `confpack configure` decrypts
//! it to `/<path>` on the node. A file already ending in `.age` (made with
//! `confpack encrypt --output`) is shipped as it is, which keeps clear
//! text out of git and the package byte-for-byte reproducible (age
//! encryption is randomized, so build-time encryption is not).

use std::path::{Component, Path};

use super::manifest::{Located, Manifest, RepositoryConfig};
use super::package::{Planned, share_dir};
use super::source::{self, Links};
use crate::deb::Entry;
use crate::error::Problem;

/// Where the recipients come from.
pub struct Secrets<'a> {
    pub repo: &'a Path,
    pub config: &'a RepositoryConfig,
    pub manifest: &'a Manifest,
    pub located: &'a Located,
    /// `packages/<name>/control`, repository-relative.
    pub control_dir: &'a str,
}

/// The path a secret's target is shipped at, encrypted.
pub fn shipped_path(package: &str, target: &str) -> String {
    format!(
        "{}/{}{target}.{}",
        share_dir(package),
        crate::secrets::SECRETS_DIR,
        crate::secrets::EXTENSION
    )
}

/// `base/relative`, repository-relative, refusing paths that leave it.
fn inside_repo(base: &str, relative: &str) -> Result<String, String> {
    let path = Path::new(relative);
    if path.is_absolute() {
        return Err(format!("{relative:?}: give a path relative to {base}"));
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            // The guard pops: `..` that finds nothing to climb out of escapes.
            Component::ParentDir if parts.pop().is_none() => {
                return Err(format!("{relative:?} leaves the repository"));
            }
            _ => {}
        }
    }
    Ok(parts.join("/"))
}

/// Encrypts (or takes as they are) the package's secret files.
pub fn add_secrets(
    secrets: &Secrets<'_>,
    files: &[(String, String)],
    planned: &mut Planned,
    problems: &mut Vec<Problem>,
) {
    let located = secrets.located;
    let (relative, origin) = match (&secrets.manifest.recipients, &secrets.config.recipients) {
        (Some(file), _) => (
            inside_repo(secrets.control_dir, file),
            located.problem(located.key_line("recipients"), ""),
        ),
        (None, Some(file)) => (
            inside_repo("", file),
            Problem {
                file: secrets.repo.join("confpack.yml").display().to_string(),
                line: None,
                message: String::new(),
            },
        ),
        (None, None) => {
            problems.push(Problem {
                file: files[0].1.clone(),
                line: None,
                message:
                    "secrets are encrypted to the nodes' public keys: set `recipients: FILE` in \
                          confpack.yml (or the package's control.yml), a file of age public keys \
                          (`confpack keygen` on a node prints its key)"
                        .into(),
            });
            return;
        }
    };
    let relative = match relative {
        Ok(relative) => relative,
        Err(message) => {
            problems.push(Problem { message, ..origin });
            return;
        }
    };
    let path = secrets.repo.join(&relative);
    // A symlink may share one recipients file, but not lead out of the
    // repository (its text would end up in the build's messages).
    let read = source::read_text(
        secrets.repo,
        &relative,
        Links::InsideRepository,
        super::package::MAX_FILE_BYTES,
    );
    let recipients = match read {
        Ok(text) => match crate::secrets::parse_recipients(&path.display().to_string(), &text) {
            Ok(recipients) => recipients,
            Err(problem) => {
                problems.push(problem);
                return;
            }
        },
        Err(e) => {
            problems.push(Problem {
                message: format!("the recipients file {}: {e}", path.display()),
                ..origin
            });
            return;
        }
    };
    if !relative.starts_with(&format!("packages/{}/", planned.name)) {
        planned.history.push(relative);
    }
    for (inside, source) in files {
        // `source` is the file's full path, as shown in messages. A symlink
        // here would encrypt a file of the build machine (/etc/shadow, the
        // CI's environment) to every node: never read through one.
        let relative = format!("packages/{}/secrets/{inside}", planned.name);
        let data = match super::package::read_shipped(secrets.repo, &relative) {
            Ok(data) => data,
            Err(message) => {
                problems.push(problem(source, message));
                continue;
            }
        };
        let (target, encrypted) = match inside.strip_suffix(".age") {
            Some(target) => {
                if !data.starts_with(b"age-encryption.org/v1\n") {
                    problems.push(problem(
                        source,
                        "a secret ending in .age must be an age file (`confpack encrypt --output`); \
                         leave the .age off to have the build encrypt it",
                    ));
                    continue;
                }
                (target.to_string(), data)
            }
            None => match crate::secrets::encrypt(&recipients, &data) {
                Ok(encrypted) => (inside.clone(), encrypted),
                Err(error) => {
                    problems.push(problem(source, error.to_string()));
                    continue;
                }
            },
        };
        let target = format!("/{target}");
        if target.starts_with("/usr/share/confpack/") {
            problems.push(problem(source, "/usr/share/confpack is confpack's own"));
            continue;
        }
        if let Some(other) = planned.sources.get(&target) {
            problems.push(problem(
                source,
                format!("{target} is already provided by {other}"),
            ));
            continue;
        }
        if let Some(parent) = target
            .rsplit_once('/')
            .map(|(p, _)| p)
            .filter(|p| !p.is_empty())
        {
            planned
                .deb
                .entries
                .entry(parent.to_string())
                .or_insert(Entry::Directory);
        }
        planned.sources.insert(target.clone(), source.clone());
        planned.rendered.insert(target.clone());
        planned.deb.entries.insert(
            shipped_path(&planned.name, &target),
            Entry::File {
                data: encrypted,
                mode: 0o600,
            },
        );
    }
}

fn problem(file: &str, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_string(),
        line: None,
        message: message.into(),
    }
}
