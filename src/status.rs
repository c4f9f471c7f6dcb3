//! `confpack status`: does this node match its environment?
//!
//! A monitoring check runs it every minute, so it only reads: the answer
//! store is opened for reading, the environment document is the installed
//! packages' local copy (no network), the versions come from the index apt
//! already fetched, and the checks reuse the code that does the work
//! ([`Selector`] for the machine, [`merge::decide`] for the questions a
//! noninteractive run would stop at, dpkg's own `md5sums` for packaged
//! files). Anything that does not match makes [`Report::matches`] false;
//! the binary then exits with [`crate::ExitCode::Drift`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use md5::{Digest, Md5};
use serde::Serialize;

use crate::env::load::{DocumentSource, load};
use crate::env::model::{Priority, Source as TemplateSource};
use crate::error::{Error, Result};
use crate::merge::{self, Action, Settings};
use crate::output::MASK;
use crate::package::{Package, rooted};
use crate::paths::Paths;
use crate::runtime::apt::{PackageManager, Purpose};
use crate::runtime::{ROLLBACK_PIN, SOURCES_LIST, Source};
use crate::select::Selector;

/// One package the environment publishes that is installed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PackageState {
    pub name: String,
    pub installed: String,
    /// The newest version in the fetched index; `None` when the index was
    /// never fetched or does not list the package.
    pub published: Option<String>,
    /// The version the rollback pin holds it at.
    pub pinned: Option<String>,
    /// Installed differs from what `upgrade` would install (the pinned
    /// version while pinned, else the newest published).
    pub outdated: bool,
}

/// A kept conflict nobody decided (values masked when secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpenConflict {
    pub key: String,
    pub document: String,
    pub stored: String,
    pub since: String,
}

/// A file whose content is not what confpack or dpkg put there.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Drift {
    pub package: String,
    pub path: PathBuf,
    /// `rendered` (a template's output) or `packaged` (a file of the .deb).
    pub kind: &'static str,
    /// `modified` or `missing`.
    pub state: &'static str,
}

/// An original confpack moved aside and gives back on removal.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Kept {
    pub package: String,
    pub path: PathBuf,
    /// Where the original is now.
    pub kept_at: PathBuf,
    /// `diverted` (another package's file, `dpkg-divert`) or `saved` (a
    /// file of no package, under `/var/lib/confpack/replaced`).
    pub how: &'static str,
}

/// A question a noninteractive configure would stop at (exit 3).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unanswered {
    pub package: String,
    pub key: String,
}

/// Everything `status` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The environment stored by `set-environment` or a configure.
    pub environment: Option<String>,
    /// The machine configure would select (`None`: no machine entry
    /// matches, or no installed package has a document).
    pub machine: Option<String>,
    /// The repository of `confpack.list`.
    pub repository: Option<String>,
    /// The distribution (environment) `confpack.list` follows.
    pub repository_environment: Option<String>,
    /// Whether `confpack update` ever fetched the index.
    pub index_fetched: bool,
    pub rollback_pin: bool,
    pub packages: Vec<PackageState>,
    pub conflicts: Vec<OpenConflict>,
    pub drift: Vec<Drift>,
    /// Declarations (users, directories, services, blocks, …) the node no
    /// longer matches.
    pub declared: Vec<crate::converge::Drifted>,
    pub kept: Vec<Kept>,
    pub unanswered: Vec<Unanswered>,
    /// What could not be checked (an unreadable document, say).
    pub problems: Vec<String>,
}

impl Report {
    /// Whether the node matches its environment.
    pub fn matches(&self) -> bool {
        self.packages.iter().all(|p| !p.outdated)
            && self.conflicts.is_empty()
            && self.drift.is_empty()
            && self.declared.is_empty()
            && self.unanswered.is_empty()
            && self.problems.is_empty()
    }

    /// One line saying why not, for the error.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let mut count = |n: usize, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        };
        count(
            self.packages.iter().filter(|p| p.outdated).count(),
            "package(s) not at the environment's version",
        );
        count(self.conflicts.len(), "open conflict(s)");
        count(self.drift.len(), "drifted file(s)");
        count(self.declared.len(), "drifted declaration(s)");
        count(self.unanswered.len(), "unanswered question(s)");
        count(self.problems.len(), "problem(s)");
        parts.join(", ")
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut lines = self.node_lines();
        lines.push("packages:".into());
        lines.extend(self.packages.iter().map(|p| {
            let published = p.published.as_deref().unwrap_or("?");
            let mark = if p.outdated { "  OUTDATED" } else { "" };
            let pin = p
                .pinned
                .as_ref()
                .map(|v| format!(", pinned {v}"))
                .unwrap_or_default();
            format!(
                "  {} {} (published {published}{pin}){mark}",
                p.name, p.installed
            )
        }));
        let conflicts = self.conflicts.iter().map(|c| {
            format!(
                "  {}: document {:?}, stored {:?}, since {}",
                c.key, c.document, c.stored, c.since
            )
        });
        section(&mut lines, "open conflicts", conflicts);
        let drift = self.drift.iter().map(|d| {
            let path = d.path.display();
            format!("  {} {} file {path} ({})", d.state, d.kind, d.package)
        });
        section(&mut lines, "drift", drift);
        let declared = self
            .declared
            .iter()
            .map(|d| format!("  {} ({}): {}", d.declaration, d.package, d.what.join("; ")));
        section(&mut lines, "declarations", declared);
        let kept = self.kept.iter().map(|k| {
            let (path, kept_at) = (k.path.display(), k.kept_at.display());
            format!("  {path} ({}, {}) kept at {kept_at}", k.package, k.how)
        });
        section(&mut lines, "originals to give back", kept);
        let unanswered = self
            .unanswered
            .iter()
            .map(|u| format!("  {} ({})", u.key, u.package));
        section(&mut lines, "unanswered questions", unanswered);
        lines.extend(self.problems.iter().map(|p| format!("problem: {p}")));
        lines.push(if self.matches() {
            "the node matches its environment".into()
        } else {
            format!("the node does not match: {}", self.summary())
        });
        lines.join("\n") + "\n"
    }

    /// Environment, machine, repository, and whether the index was
    /// fetched and the node is pinned.
    fn node_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "environment: {}",
                self.environment.as_deref().unwrap_or("(none)")
            ),
            format!(
                "machine:     {}",
                self.machine.as_deref().unwrap_or("(no machine entry)")
            ),
            format!(
                "repository:  {}",
                match (&self.repository, &self.repository_environment) {
                    (Some(url), Some(env)) => format!("{url} {env}"),
                    _ => format!("(no {SOURCES_LIST})"),
                }
            ),
        ];
        if !self.index_fetched {
            lines.push("index:       never fetched (run `confpack update`)".into());
        }
        if self.rollback_pin {
            lines.push(format!("rolled back: {ROLLBACK_PIN} pins versions"));
        }
        lines
    }

    /// The report for monitoring (keys documented in docs/node.md).
    pub fn json(&self) -> Result<String> {
        #[derive(Serialize)]
        struct Json<'a> {
            matches: bool,
            #[serde(flatten)]
            report: &'a Report,
        }
        serde_json::to_string_pretty(&Json {
            matches: self.matches(),
            report: self,
        })
        .map(|mut text| {
            text.push('\n');
            text
        })
        .map_err(|e| Error::Usage(format!("status as json: {e}")))
    }
}

/// `title: N` and the N lines under it.
fn section(lines: &mut Vec<String>, title: &str, items: impl ExactSizeIterator<Item = String>) {
    lines.push(format!("{title}: {}", items.len()));
    lines.extend(items);
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Reads the node's state; changes nothing.
pub fn status(
    paths: &Paths,
    lock_timeout: Duration,
    host_identities: Vec<String>,
    apt: &mut dyn PackageManager,
) -> Result<Report> {
    let root = &paths.root;
    let store = paths.open_store_for_reading(lock_timeout)?;
    let environment = store.meta("environment")?;
    let source = std::fs::read_to_string(rooted(root, Path::new(SOURCES_LIST)))
        .ok()
        .and_then(|t| Source::parse(&t));
    let versions = versions(apt, root, source.is_some())?;
    let names: Vec<&str> = versions.packages.iter().map(|p| p.name.as_str()).collect();
    let configured: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| has_share_dir(root, n))
        .collect();
    let answers = store.answers()?;
    let conflicts = conflicts(&store, &answers)?;
    let rendered = rendered_drift(&store, root, &configured)?;
    let mut host = crate::declared::SystemHost::new(root);
    let mut declared = crate::converge::drift(&store, root, &configured, &mut host)?;
    declared.extend(crate::converge::left_behind(&store, &configured)?);
    let packaged = packaged_drift(apt, root, &names)?;
    let diverted = diversions(apt, &names);
    let saved = saved_originals(root, &names);
    let selector = Selector {
        stored_environment: environment.clone(),
        host_identities,
        ..Selector::default()
    };
    let questions = unanswered(paths, &selector, &configured, &answers);
    Ok(assemble(Found {
        environment,
        source,
        versions,
        conflicts,
        rendered,
        declared,
        packaged,
        diverted,
        saved,
        questions,
    }))
}

/// What each part of `status` found, before it is one [`Report`].
struct Found {
    environment: Option<String>,
    source: Option<Source>,
    versions: Versions,
    conflicts: Vec<OpenConflict>,
    rendered: Rendered,
    declared: Vec<crate::converge::Drifted>,
    packaged: Vec<Drift>,
    /// Diversions held by the environment's packages (`dpkg-divert`).
    diverted: Vec<Kept>,
    /// Originals of no package, saved under `/var/lib/confpack/replaced`.
    saved: Vec<Kept>,
    questions: Questions,
}

/// The report: drift of rendered files before packaged ones, originals
/// of the rendered files first (a diversion listed by dpkg too is listed
/// once), then the other diversions, then the saved ones.
fn assemble(found: Found) -> Report {
    let mut drift = found.rendered.drift;
    drift.extend(found.packaged);
    let mut kept = found.rendered.kept;
    let kept_before: BTreeSet<PathBuf> = kept.iter().map(|k| k.path.clone()).collect();
    kept.extend(
        found
            .diverted
            .into_iter()
            .filter(|k| !kept_before.contains(&k.path)),
    );
    kept.extend(found.saved);
    let (repository, repository_environment) = match found.source {
        Some(source) => (Some(source.url), Some(source.environment)),
        None => (None, None),
    };
    Report {
        environment: found.environment,
        machine: found.questions.machine,
        repository,
        repository_environment,
        index_fetched: found.versions.index_fetched,
        rollback_pin: found.versions.rollback_pin,
        packages: found.versions.packages,
        conflicts: found.conflicts,
        drift,
        declared: found.declared,
        kept,
        unanswered: found.questions.unanswered,
        problems: found.questions.problems,
    }
}

/// Whether confpack configures `package` (it has a directory in
/// `/usr/share/confpack`).
fn has_share_dir(root: &Path, package: &str) -> bool {
    rooted(root, &Path::new("/usr/share/confpack").join(package)).is_dir()
}

/// The environment's installed packages and their versions.
struct Versions {
    /// Installed packages the environment publishes or confpack
    /// configures, by name.
    packages: Vec<PackageState>,
    index_fetched: bool,
    rollback_pin: bool,
}

/// Installed versions against the fetched index and the rollback pin.
/// Without confpack's apt source (`has_source`) there is no index of ours
/// to read.
fn versions(apt: &mut dyn PackageManager, root: &Path, has_source: bool) -> Result<Versions> {
    let installed = crate::runtime::installed(apt)?;
    let index = match has_source {
        true => crate::runtime::read_index(apt)?,
        false => None,
    };
    let pins = read_pins(root);
    let packages = installed
        .into_iter()
        .filter(|(name, _)| {
            index.as_ref().is_some_and(|i| i.contains(name)) || has_share_dir(root, name)
        })
        .map(|(name, version)| {
            let published = index
                .as_ref()
                .and_then(|i| i.newest(&name))
                .map(|p| p.version.clone());
            let pinned = pins.get(&name).cloned();
            let wanted = pinned.as_ref().or(published.as_ref());
            PackageState {
                outdated: wanted.is_some_and(|w| *w != version),
                name,
                installed: version,
                published,
                pinned,
            }
        })
        .collect();
    Ok(Versions {
        packages,
        index_fetched: index.is_some(),
        rollback_pin: rooted(root, Path::new(ROLLBACK_PIN)).exists(),
    })
}

/// The open conflicts, secrets masked.
fn conflicts(
    store: &crate::store::Store,
    answers: &BTreeMap<String, crate::store::StoredAnswer>,
) -> Result<Vec<OpenConflict>> {
    Ok(store
        .open_conflicts()?
        .into_iter()
        .map(|(key, conflict)| {
            let secret = answers.get(&key).is_some_and(|a| a.secret);
            let shown = |value: &str| {
                if secret {
                    MASK.to_string()
                } else {
                    value.to_string()
                }
            };
            OpenConflict {
                document: shown(&conflict.document),
                stored: shown(&conflict.stored),
                since: conflict.since,
                key,
            }
        })
        .collect())
}

/// Rendered files that are not what confpack wrote, and the originals of
/// those that were diverted.
#[derive(Default)]
struct Rendered {
    drift: Vec<Drift>,
    kept: Vec<Kept>,
}

/// Every file confpack rendered for `packages` against its recorded
/// sha256.
fn rendered_drift(store: &crate::store::Store, root: &Path, packages: &[&str]) -> Result<Rendered> {
    let mut rendered = Rendered::default();
    for package in packages {
        for file in store.files(package)? {
            let path = rooted(root, &file.path);
            let state = match crate::files::file_sha256(&path) {
                Ok(sum) if sum == file.sha256 => continue,
                Ok(_) => "modified",
                Err(_) if !path.exists() => "missing",
                Err(_) => "modified",
            };
            rendered.drift.push(Drift {
                package: package.to_string(),
                path: file.path.clone(),
                kind: "rendered",
                state,
            });
            if file.diverted {
                rendered.kept.push(Kept {
                    package: package.to_string(),
                    kept_at: crate::divert::diverted_name(&file.path),
                    path: file.path.clone(),
                    how: "diverted",
                });
            }
        }
    }
    Ok(rendered)
}

/// Originals of no package that `packages` moved aside.
fn saved_originals(root: &Path, packages: &[&str]) -> Vec<Kept> {
    let mut kept = Vec::new();
    for package in packages {
        let replaced = Path::new("/var/lib/confpack/replaced").join(package);
        let dir = rooted(root, &replaced);
        for saved in walk(&dir) {
            if let Ok(relative) = saved.strip_prefix(&dir) {
                kept.push(Kept {
                    package: package.to_string(),
                    path: Path::new("/").join(relative),
                    kept_at: replaced.join(relative),
                    how: "saved",
                });
            }
        }
    }
    kept
}

/// What the questions part found: the machine, the questions a
/// noninteractive configure would stop at, what could not be checked.
#[derive(Default)]
struct Questions {
    machine: Option<String>,
    unanswered: Vec<Unanswered>,
    problems: Vec<String>,
}

/// Questions a noninteractive configure of `packages` would stop at,
/// each once.
fn unanswered(
    paths: &Paths,
    selector: &Selector,
    packages: &[&str],
    answers: &BTreeMap<String, crate::store::StoredAnswer>,
) -> Questions {
    let mut questions = Questions::default();
    let mut asked = BTreeSet::new();
    let mut documents = Documents::default();
    for package in packages {
        let document = match documents.load(paths, selector, package) {
            Ok(Some(document)) => document,
            // A package without a document asks nothing.
            Ok(None) => continue,
            Err(error) => {
                questions.problems.push(format!("{package}: {error:#}"));
                continue;
            }
        };
        let selection = match selector.select(&document) {
            Ok(selection) => selection,
            Err(error) => {
                questions.problems.push(format!("{package}: {error:#}"));
                continue;
            }
        };
        if questions.machine.is_none() {
            questions.machine = selection.machine.as_ref().map(|m| m.label());
        }
        // Only what the package itself asks (see crate::questions).
        let owned = Package::load(&paths.root, package)
            .and_then(|p| crate::questions::of_package(&p, &document));
        let owned = match owned {
            Ok(owned) => owned,
            Err(error) => {
                questions.problems.push(format!("{package}: {error:#}"));
                continue;
            }
        };
        for key in stopping_questions(&document, &selection, &owned, answers) {
            if asked.insert(key.clone()) {
                questions.unanswered.push(Unanswered {
                    package: package.to_string(),
                    key,
                });
            }
        }
    }
    questions
}

/// The keys of `document` that a noninteractive run would ask with no
/// default (high priority, not forced).
fn stopping_questions(
    document: &crate::env::model::Document,
    selection: &crate::select::Selection,
    owned: &crate::questions::Owned,
    answers: &BTreeMap<String, crate::store::StoredAnswer>,
) -> Vec<String> {
    let settings = Settings {
        force: false,
        priority: Priority::High,
    };
    let values = selection.configured_values(document);
    document
        .templates
        .iter()
        .filter(|t| t.source != TemplateSource::Derived && !t.question_type.is_display_only())
        .filter(|t| owned.contains(&t.key))
        .filter(|template| {
            let planned = merge::decide(
                template,
                values.get(&template.key).map(String::as_str),
                answers.get(&template.key),
                settings,
            );
            planned.shown() && matches!(planned.action, Action::Ask { default: None, .. })
        })
        .map(|template| template.key.clone())
        .collect()
}

/// The packages' local documents, each read once: packages sharing a
/// document (the usual case) share it by the sha256 of its bytes, so a
/// different copy is read again.
#[derive(Default)]
struct Documents {
    by_sum: BTreeMap<String, Rc<crate::env::model::Document>>,
}

impl Documents {
    /// `package`'s document; `None` when it has none.
    fn load(
        &mut self,
        paths: &Paths,
        selector: &Selector,
        package: &str,
    ) -> Result<Option<Rc<crate::env::model::Document>>> {
        let root = &paths.root;
        let loaded = Package::load(root, package).and_then(|p| {
            let local = p.local_document(root);
            let sum = crate::files::file_sha256(&local).unwrap_or_default();
            if let Some(document) = self.by_sum.get(&sum).filter(|_| !sum.is_empty()) {
                return Ok(document.clone());
            }
            let source = DocumentSource::new(None, Some(local), paths.cache.clone());
            let document = Rc::new(load(&source, &|e| selector.retains(e))?.document);
            self.by_sum.insert(sum, document.clone());
            Ok(document)
        });
        match loaded {
            Ok(document) => Ok(Some(document)),
            Err(Error::Package { .. }) => Ok(None),
            Err(Error::NoDocument { .. }) if !has_document(root, package) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Whether the package ships a local environment document at all.
fn has_document(root: &Path, package: &str) -> bool {
    Package::load(root, package).is_ok_and(|p| p.local_document(root).exists())
}

/// `Package: NAME` / `Pin: version V` pairs of the rollback pin.
fn read_pins(root: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(rooted(root, Path::new(ROLLBACK_PIN))).unwrap_or_default();
    let mut pins = BTreeMap::new();
    let mut package = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("Package:") {
            package = Some(name.trim().to_string());
        } else if let Some(version) = line.strip_prefix("Pin: version")
            && let Some(name) = package.take()
        {
            pins.insert(name, version.trim().to_string());
        }
    }
    pins
}

/// Files under `dir`, recursively (none when it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(path),
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// dpkg's diversions held by `packages` (none when dpkg-divert cannot
/// tell: status reports what it can).
fn diversions(apt: &mut dyn PackageManager, packages: &[&str]) -> Vec<Kept> {
    let text = apt
        .run(
            Purpose::Query,
            "dpkg-divert",
            &strings(&["--list"]),
            &mut crate::RecordingListener::default(),
        )
        .unwrap_or_default();
    let ours: BTreeSet<&str> = packages.iter().copied().collect();
    crate::dpkg::parse_diversions(&text)
        .into_iter()
        .filter_map(|diversion| {
            let package = diversion.by.filter(|by| ours.contains(by.as_str()))?;
            Some(Kept {
                package,
                path: diversion.path,
                kept_at: diversion.to,
                how: "diverted",
            })
        })
        .collect()
}

/// Where dpkg keeps `package`'s md5sums (dpkg-query finds its own
/// database, under `--root` too).
fn md5sums_path(apt: &mut dyn PackageManager, package: &str) -> Option<PathBuf> {
    let text = apt
        .run(
            Purpose::Query,
            "dpkg-query",
            &strings(&["--control-path", package, "md5sums"]),
            &mut crate::RecordingListener::default(),
        )
        .ok()?;
    let path = text.lines().next()?.trim();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Packaged files of `packages` whose md5sum is not the one dpkg
/// recorded. One `dpkg-query` finds dpkg's info directory; the other
/// packages' lists are read from it directly (a package whose list is not
/// there under its plain name asks dpkg-query itself).
fn packaged_drift(
    apt: &mut dyn PackageManager,
    root: &Path,
    packages: &[&str],
) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    let mut info_dir: Option<PathBuf> = None;
    for package in packages {
        let list = match info_dir
            .as_ref()
            .map(|dir| dir.join(format!("{package}.md5sums")))
            .filter(|p| p.exists())
        {
            Some(path) => Some(path),
            None => md5sums_path(apt, package),
        };
        let Some(list) = list else {
            continue;
        };
        if info_dir.is_none() {
            info_dir = list.parent().map(Path::to_path_buf);
        }
        let Ok(text) = std::fs::read_to_string(&list) else {
            continue;
        };
        for (sum, path) in text.lines().filter_map(crate::dpkg::parse_md5sums_line) {
            let state = match md5_of(&rooted(root, &path)) {
                Ok(actual) if actual == sum => continue,
                Ok(_) => "modified",
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing",
                Err(_) => "modified",
            };
            drift.push(Drift {
                package: package.to_string(),
                path,
                kind: "packaged",
                state,
            });
        }
    }
    Ok(drift)
}

fn md5_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(crate::files::hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollback_pin_is_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut versions = BTreeMap::new();
        versions.insert("node".to_string(), "1+git1".to_string());
        let path = rooted(dir.path(), Path::new(ROLLBACK_PIN));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, crate::runtime::rollback_pin("1", &versions)).expect("write");
        assert_eq!(read_pins(dir.path()), versions);
    }

    fn kept(package: &str, path: &str, how: &'static str) -> Kept {
        Kept {
            package: package.into(),
            path: path.into(),
            kept_at: format!("{path}.orig").into(),
            how,
        }
    }

    fn drift(path: &str, kind: &'static str) -> Drift {
        Drift {
            package: "web".into(),
            path: path.into(),
            kind,
            state: "modified",
        }
    }

    #[test]
    fn the_parts_assemble_in_order_and_a_diversion_is_listed_once() {
        let found = Found {
            environment: Some("production".into()),
            source: Some(Source {
                url: "https://apt.example.com/".into(),
                environment: "staging".into(),
                signed_by: "/etc/apt/keyrings/confpack.asc".into(),
            }),
            versions: Versions {
                packages: Vec::new(),
                index_fetched: true,
                rollback_pin: false,
            },
            conflicts: Vec::new(),
            rendered: Rendered {
                drift: vec![drift("/etc/web.conf", "rendered")],
                kept: vec![kept("web", "/etc/web.conf", "diverted")],
            },
            declared: Vec::new(),
            packaged: vec![drift("/usr/share/web/x", "packaged")],
            diverted: vec![
                kept("web", "/etc/web.conf", "diverted"),
                kept("web", "/etc/other.conf", "diverted"),
            ],
            saved: vec![kept("web", "/etc/motd", "saved")],
            questions: Questions {
                machine: Some("web1".into()),
                unanswered: Vec::new(),
                problems: vec!["web: unreadable".into()],
            },
        };
        let report = assemble(found);
        assert_eq!(report.environment.as_deref(), Some("production"));
        assert_eq!(report.repository_environment.as_deref(), Some("staging"));
        assert_eq!(report.machine.as_deref(), Some("web1"));
        let paths = |list: Vec<PathBuf>| -> Vec<String> {
            list.iter().map(|p| p.display().to_string()).collect()
        };
        assert_eq!(
            paths(report.drift.iter().map(|d| d.path.clone()).collect()),
            ["/etc/web.conf", "/usr/share/web/x"]
        );
        assert_eq!(
            paths(report.kept.iter().map(|k| k.path.clone()).collect()),
            ["/etc/web.conf", "/etc/other.conf", "/etc/motd"]
        );
        assert!(!report.matches(), "drift and a problem");
    }

    /// Answers `dpkg-divert --list` with its text; fails anything else.
    struct Diversions(&'static str);

    impl PackageManager for Diversions {
        fn run(
            &mut self,
            kind: Purpose,
            program: &str,
            args: &[String],
            _: &mut dyn crate::Listener,
        ) -> Result<String> {
            assert_eq!(
                (kind, program, args),
                (Purpose::Query, "dpkg-divert", &strings(&["--list"])[..])
            );
            Ok(self.0.to_string())
        }

        fn root(&self) -> &Path {
            Path::new("/")
        }
    }

    #[test]
    fn only_the_diversions_of_the_environments_packages_are_kept_originals() {
        let mut dpkg = Diversions(
            "diversion of /etc/web.conf to /etc/web.conf.confpack-orig by web\n\
             diversion of /bin/sh to /bin/sh.distrib by dash\n\
             local diversion of /etc/motd to /etc/motd.local\n",
        );
        assert_eq!(
            diversions(&mut dpkg, &["web", "db"]),
            [Kept {
                package: "web".into(),
                path: "/etc/web.conf".into(),
                kept_at: "/etc/web.conf.confpack-orig".into(),
                how: "diverted",
            }]
        );
    }

    #[test]
    fn a_full_report_reads_line_by_line() {
        let report = Report {
            environment: Some("production".into()),
            machine: None,
            repository: Some("https://apt.example.com/".into()),
            repository_environment: Some("production".into()),
            index_fetched: false,
            rollback_pin: true,
            packages: vec![PackageState {
                name: "web".into(),
                installed: "1".into(),
                published: Some("2".into()),
                pinned: Some("1".into()),
                outdated: false,
            }],
            conflicts: vec![OpenConflict {
                key: "web/port".into(),
                document: "80".into(),
                stored: "8080".into(),
                since: "2026-01-02".into(),
            }],
            drift: vec![Drift {
                package: "web".into(),
                path: "/etc/web.conf".into(),
                kind: "rendered",
                state: "modified",
            }],
            declared: vec![crate::converge::Drifted {
                package: "web".into(),
                declaration: "directory /srv/web".into(),
                what: vec![
                    "mode 0777 instead of 0750".into(),
                    "owner 0:0 instead of 101:101".into(),
                ],
            }],
            kept: vec![Kept {
                package: "web".into(),
                path: "/etc/motd".into(),
                kept_at: "/var/lib/confpack/replaced/web/etc/motd".into(),
                how: "saved",
            }],
            unanswered: vec![Unanswered {
                package: "web".into(),
                key: "web/admin".into(),
            }],
            problems: vec!["db: unreadable".into()],
        };
        assert_eq!(
            report.text(),
            "environment: production\n\
             machine:     (no machine entry)\n\
             repository:  https://apt.example.com/ production\n\
             index:       never fetched (run `confpack update`)\n\
             rolled back: /etc/apt/preferences.d/confpack-rollback.pref pins versions\n\
             packages:\n  \
             web 1 (published 2, pinned 1)\n\
             open conflicts: 1\n  \
             web/port: document \"80\", stored \"8080\", since 2026-01-02\n\
             drift: 1\n  \
             modified rendered file /etc/web.conf (web)\n\
             declarations: 1\n  \
             directory /srv/web (web): mode 0777 instead of 0750; owner 0:0 instead of 101:101\n\
             originals to give back: 1\n  \
             /etc/motd (web, saved) kept at /var/lib/confpack/replaced/web/etc/motd\n\
             unanswered questions: 1\n  \
             web/admin (web)\n\
             problem: db: unreadable\n\
             the node does not match: 1 open conflict(s), 1 drifted file(s), \
             1 drifted declaration(s), 1 unanswered question(s), 1 problem(s)\n"
        );
    }

    #[test]
    fn an_empty_report_matches() {
        let report = Report::default();
        assert!(report.matches());
        assert!(report.text().contains("the node matches"));
        let json: serde_json::Value =
            serde_json::from_str(&report.json().expect("json")).expect("parse");
        assert_eq!(json["matches"], true);
        assert!(json["drift"].is_array());
    }
}
