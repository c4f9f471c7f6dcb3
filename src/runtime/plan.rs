//! What `confpack upgrade` installs: pure decisions over the environment's
//! index and the installed packages, so they are table-tested without apt.
//!
//! - A plain upgrade makes the node match its environment: every installed
//!   package the environment publishes goes to the newest version there —
//!   also when that is lower than the installed one (the environment was
//!   rolled back, or the node switched to an environment that is behind).
//! - `--version V` picks that version of each role: V is a full version, a
//!   manifest version (`2`: its newest build) or a commit id (`d4bb01a`).
//!   The role's dependencies get the versions that were current while
//!   that role version was: the newest version built before the role's
//!   next version (confpack versions carry their commit time), within the
//!   dependency's own version constraints. Without commit times (versions
//!   built with `--version-suffix`), the newest version that fits.

use std::collections::{BTreeMap, BTreeSet};

use crate::debian::deb822;
use crate::debian::version;
use crate::error::{Error, Result};

/// One relation alternative: `name [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    pub constraint: Option<(String, String)>,
}

/// A `Depends` field: relations (all needed), each a list of alternatives.
pub fn parse_depends(text: &str) -> Vec<Vec<Wanted>> {
    text.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|relation| {
            relation
                .split('|')
                .filter_map(|alternative| {
                    let alternative = alternative.trim();
                    let end = alternative
                        .find(['(', ' ', '[', ':'])
                        .unwrap_or(alternative.len());
                    let name = alternative[..end].to_string();
                    let constraint = alternative
                        .split_once('(')
                        .and_then(|(_, rest)| rest.split_once(')'))
                        .map(|(inside, _)| {
                            let inside = inside.trim();
                            let split = inside
                                .find(|c: char| !matches!(c, '<' | '>' | '='))
                                .unwrap_or(inside.len());
                            (
                                inside[..split].to_string(),
                                inside[split..].trim().to_string(),
                            )
                        });
                    (!name.is_empty()).then_some(Wanted { name, constraint })
                })
                .collect::<Vec<_>>()
        })
        .filter(|alternatives| !alternatives.is_empty())
        .collect()
}

/// A version of a package in the environment's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: String,
    pub depends: Vec<Vec<Wanted>>,
}

/// The environment's index: every version of every package, ascending.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub packages: BTreeMap<String, Vec<Published>>,
}

impl Index {
    /// Adds the paragraphs of a `Packages` file.
    pub fn add_packages_file(&mut self, origin: &str, text: &str) -> Result<()> {
        let paragraphs = deb822::parse(text)
            .map_err(|(line, message)| Error::at(origin.to_string(), Some(line), message))?;
        for paragraph in paragraphs {
            let (Some(name), Some(version)) = (paragraph.get("Package"), paragraph.get("Version"))
            else {
                continue;
            };
            let depends = paragraph
                .get("Pre-Depends")
                .into_iter()
                .chain(paragraph.get("Depends"))
                .flat_map(|d| parse_depends(&d.replace('\n', " ")))
                .collect();
            let versions = self.packages.entry(name.trim().to_string()).or_default();
            if !versions.iter().any(|p| p.version == version.trim()) {
                versions.push(Published {
                    version: version.trim().to_string(),
                    depends,
                });
            }
        }
        for versions in self.packages.values_mut() {
            versions.sort_by(|a, b| version::compare(&a.version, &b.version));
        }
        Ok(())
    }

    pub fn newest(&self, package: &str) -> Option<&Published> {
        self.packages.get(package).and_then(|v| v.last())
    }

    pub fn contains(&self, package: &str) -> bool {
        self.packages.contains_key(package)
    }

    /// The version of `package` that `wanted` names.
    pub fn resolve(&self, package: &str, wanted: &str) -> Result<&Published> {
        let versions = self.packages.get(package).ok_or_else(|| {
            Error::Selection(format!(
                "{package} is not published in this environment (run `confpack update`?)"
            ))
        })?;
        let exact = versions.iter().find(|p| p.version == wanted);
        let by_commit = || {
            let matches: Vec<&Published> = versions
                .iter()
                .filter(|p| {
                    wanted.len() >= 4
                        && version::commit_id(&p.version).is_some_and(|id| id.starts_with(wanted))
                })
                .collect();
            matches.last().copied()
        };
        let by_manifest = || {
            versions
                .iter()
                .rev()
                .find(|p| p.version.split_once('+').is_some_and(|(m, _)| m == wanted))
        };
        exact
            .or_else(by_commit)
            .or_else(by_manifest)
            .ok_or_else(|| {
                Error::Selection(format!(
                    "{package} has no version {wanted:?} in this environment; published: {}",
                    versions
                        .iter()
                        .map(|p| p.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// The commit time of the version after `version` of `package`.
    fn next_time(&self, package: &str, version: &str) -> Option<i64> {
        self.packages.get(package).and_then(|versions| {
            versions
                .iter()
                .find(|p| version::compare(&p.version, version) == std::cmp::Ordering::Greater)
                .and_then(|p| version::commit_time(&p.version))
        })
    }

    /// The version of a dependency to install with a role version that was
    /// superseded at `before` (commit time), within `constraint`.
    fn pick(&self, wanted: &Wanted, before: Option<i64>) -> Option<&Published> {
        let versions = self.packages.get(&wanted.name)?;
        let fits = |p: &&Published| {
            wanted
                .constraint
                .as_ref()
                .is_none_or(|(op, v)| version::satisfies(&p.version, op, v))
        };
        let in_time = |p: &&Published| match (before, version::commit_time(&p.version)) {
            (Some(before), Some(time)) => time < before,
            _ => true,
        };
        versions
            .iter()
            .rev()
            .filter(fits)
            .find(in_time)
            .or_else(|| versions.iter().rev().find(fits))
    }
}

/// Targets for a plain upgrade: installed packages the environment
/// publishes, at its newest version, where that differs.
pub fn upgrade_targets(
    index: &Index,
    installed: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    installed
        .iter()
        .filter_map(|(name, current)| {
            let newest = index.newest(name)?;
            (version::compare(&newest.version, current) != std::cmp::Ordering::Equal)
                .then(|| (name.clone(), newest.version.clone()))
        })
        .collect()
}

/// Targets for `upgrade --version`: each role at the version `wanted`
/// names, and its dependencies (from the environment) at theirs.
pub fn version_targets(
    index: &Index,
    roles: &[String],
    wanted: &str,
    installed: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut targets: BTreeMap<String, String> = BTreeMap::new();
    for role in roles {
        let chosen = index.resolve(role, wanted)?;
        targets.insert(role.clone(), chosen.version.clone());
        let before = index.next_time(role, &chosen.version);
        let mut pending: Vec<&Published> = vec![chosen];
        let mut visited: BTreeSet<(String, String)> = BTreeSet::new();
        while let Some(package) = pending.pop() {
            for relation in &package.depends {
                // The alternative that is installed, else the first the
                // environment publishes; others are apt's business.
                let alternative = relation
                    .iter()
                    .find(|w| installed.contains_key(&w.name) && index.contains(&w.name))
                    .or_else(|| relation.iter().find(|w| index.contains(&w.name)));
                let Some(alternative) = alternative else {
                    continue;
                };
                let Some(dependency) = index.pick(alternative, before) else {
                    continue;
                };
                if !visited.insert((alternative.name.clone(), dependency.version.clone())) {
                    continue;
                }
                targets
                    .entry(alternative.name.clone())
                    .or_insert_with(|| dependency.version.clone());
                pending.push(dependency);
            }
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        let mut index = Index::default();
        index
            .add_packages_file(
                "Packages",
                "Package: node\nVersion: 1+git20260101.000000.aaaaaaa\nDepends: confpack-runtime (>= 0.1), alpha, beta\n\n\
                 Package: node\nVersion: 2+git20260301.000000.bbbbbbb\nDepends: alpha\n\n\
                 Package: alpha\nVersion: 1+git20260101.000000.aaaaaaa\n\n\
                 Package: alpha\nVersion: 1+git20260201.000000.ccccccc\n\n\
                 Package: alpha\nVersion: 1+git20260301.000000.bbbbbbb\n\n\
                 Package: beta\nVersion: 1+git20260101.000000.aaaaaaa\nDepends: gamma (>= 2) | delta\n\n\
                 Package: gamma\nVersion: 1\n\nPackage: gamma\nVersion: 2\n\nPackage: gamma\nVersion: 3\n",
            )
            .expect("parse");
        index
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_plain_upgrade_goes_to_the_newest_published_version_even_downwards() {
        let index = index();
        let installed = map(&[
            ("node", "1+git20260101.000000.aaaaaaa"),
            ("alpha", "9"),
            ("vim", "2:9.0"),
        ]);
        assert_eq!(
            upgrade_targets(&index, &installed),
            map(&[
                ("node", "2+git20260301.000000.bbbbbbb"),
                ("alpha", "1+git20260301.000000.bbbbbbb"),
            ])
        );
    }

    #[test]
    fn a_role_version_brings_the_dependencies_that_were_current_with_it() {
        let index = index();
        let installed = map(&[("node", "2+git20260301.000000.bbbbbbb")]);
        let targets =
            version_targets(&index, &["node".to_string()], "1", &installed).expect("resolve");
        assert_eq!(
            targets,
            map(&[
                ("node", "1+git20260101.000000.aaaaaaa"),
                // Built before node 2 replaced node 1:
                ("alpha", "1+git20260201.000000.ccccccc"),
                ("beta", "1+git20260101.000000.aaaaaaa"),
                // No commit times: the newest that fits.
                ("gamma", "3"),
            ])
        );
        let latest = version_targets(&index, &["node".to_string()], "bbbbbbb", &installed)
            .expect("by commit");
        assert_eq!(latest["alpha"], "1+git20260301.000000.bbbbbbb");
        let error = version_targets(&index, &["node".to_string()], "7", &installed)
            .expect_err("unknown version");
        assert!(error.to_string().contains("published: 1+git"), "{error}");
    }

    #[test]
    fn relations_keep_their_constraints_and_alternatives() {
        assert_eq!(
            parse_depends("a (>= 1.0), b | c:any (<< 2)"),
            vec![
                vec![Wanted {
                    name: "a".into(),
                    constraint: Some((">=".into(), "1.0".into()))
                }],
                vec![
                    Wanted {
                        name: "b".into(),
                        constraint: None
                    },
                    Wanted {
                        name: "c".into(),
                        constraint: Some(("<<".into(), "2".into()))
                    }
                ],
            ]
        );
    }
}
