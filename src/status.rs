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
use crate::runtime::apt::{Kind, PackageManager};
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
        count(self.unanswered.len(), "unanswered question(s)");
        count(self.problems.len(), "problem(s)");
        parts.join(", ")
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let none = || "(none)".to_string();
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!(
            "environment: {}",
            self.environment.clone().unwrap_or_else(none)
        ));
        line(format!(
            "machine:     {}",
            self.machine
                .clone()
                .unwrap_or_else(|| "(no machine entry)".into())
        ));
        line(format!(
            "repository:  {}",
            match (&self.repository, &self.repository_environment) {
                (Some(url), Some(env)) => format!("{url} {env}"),
                _ => format!("(no {SOURCES_LIST})"),
            }
        ));
        if !self.index_fetched {
            line("index:       never fetched (run `confpack update`)".into());
        }
        if self.rollback_pin {
            line(format!("rolled back: {ROLLBACK_PIN} pins versions"));
        }
        line("packages:".into());
        for p in &self.packages {
            let published = p.published.as_deref().unwrap_or("?");
            let mark = if p.outdated { "  OUTDATED" } else { "" };
            let pin = p
                .pinned
                .as_ref()
                .map(|v| format!(", pinned {v}"))
                .unwrap_or_default();
            line(format!(
                "  {} {} (published {published}{pin}){mark}",
                p.name, p.installed
            ));
        }
        line(format!("open conflicts: {}", self.conflicts.len()));
        for c in &self.conflicts {
            line(format!(
                "  {}: document {:?}, stored {:?}, since {}",
                c.key, c.document, c.stored, c.since
            ));
        }
        line(format!("drift: {}", self.drift.len()));
        for d in &self.drift {
            line(format!(
                "  {} {} file {} ({})",
                d.state,
                d.kind,
                d.path.display(),
                d.package
            ));
        }
        line(format!("originals to give back: {}", self.kept.len()));
        for k in &self.kept {
            line(format!(
                "  {} ({}, {}) kept at {}",
                k.path.display(),
                k.package,
                k.how,
                k.kept_at.display()
            ));
        }
        line(format!("unanswered questions: {}", self.unanswered.len()));
        for u in &self.unanswered {
            line(format!("  {} ({})", u.key, u.package));
        }
        for p in &self.problems {
            line(format!("problem: {p}"));
        }
        line(if self.matches() {
            "the node matches its environment".into()
        } else {
            format!("the node does not match: {}", self.summary())
        });
        out
    }

    /// The report for monitoring (keys documented in the README).
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Runs `dpkg-query` itself, as [`crate::runtime::apt::System`] would
/// (`--root` always), and everything else through `inner`. Why: `System`
/// watches a command for signals and progress and polls it every 20 ms,
/// which costs each short query about that much; a query needs neither.
struct Queries<'a> {
    inner: &'a mut dyn PackageManager,
}

impl PackageManager for Queries<'_> {
    fn run(
        &mut self,
        kind: Kind,
        program: &str,
        args: &[String],
        listener: &mut dyn crate::Listener,
    ) -> Result<String> {
        if kind != Kind::Query || program != "dpkg-query" {
            return self.inner.run(kind, program, args, listener);
        }
        let root = format!("--root={}", self.inner.root().display());
        let shown = format!("dpkg-query {root} {}", args.join(" "));
        let output = std::process::Command::new(program)
            .arg(&root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::Command {
                command: shown.clone(),
                message: e.to_string(),
            })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(Error::PackageManager {
                command: shown,
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                hint: String::new(),
            })
        }
    }

    fn root(&self) -> &Path {
        self.inner.root()
    }
}

/// Reads the node's state; changes nothing.
pub fn status(
    paths: &Paths,
    lock_timeout: Duration,
    host_identities: Vec<String>,
    apt: &mut dyn PackageManager,
) -> Result<Report> {
    let apt = &mut Queries { inner: apt };
    let root = paths.root.clone();
    let store = paths.open_store_for_reading(lock_timeout)?;
    let mut report = Report {
        environment: store.meta("environment")?,
        ..Report::default()
    };
    let list = rooted(&root, Path::new(SOURCES_LIST));
    if let Some(source) = std::fs::read_to_string(&list)
        .ok()
        .and_then(|t| Source::parse(&t))
    {
        report.repository = Some(source.url);
        report.repository_environment = Some(source.environment);
    }

    // Versions.
    let installed = crate::runtime::installed(apt)?;
    // Without confpack's source there is no index of ours to read.
    let index = match report.repository {
        Some(_) => crate::runtime::read_index(apt)?,
        None => None,
    };
    report.index_fetched = index.is_some();
    let pins = read_pins(&root);
    report.rollback_pin = rooted(&root, Path::new(ROLLBACK_PIN)).exists();
    let has_dir = |name: &str| rooted(&root, &Path::new("/usr/share/confpack").join(name)).is_dir();
    let ours: Vec<(String, String)> = installed
        .into_iter()
        .filter(|(name, _)| index.as_ref().is_some_and(|i| i.contains(name)) || has_dir(name))
        .collect();
    for (name, version) in &ours {
        let published = index
            .as_ref()
            .and_then(|i| i.newest(name))
            .map(|p| p.version.clone());
        let pinned = pins.get(name).cloned();
        let wanted = pinned.as_ref().or(published.as_ref());
        report.packages.push(PackageState {
            name: name.clone(),
            installed: version.clone(),
            outdated: wanted.is_some_and(|w| w != version),
            published,
            pinned,
        });
    }

    // Open conflicts, secrets masked.
    let answers = store.answers()?;
    for (key, conflict) in store.open_conflicts()? {
        let secret = answers.get(&key).is_some_and(|a| a.secret);
        let shown = |value: &str| {
            if secret {
                MASK.to_string()
            } else {
                value.to_string()
            }
        };
        report.conflicts.push(OpenConflict {
            document: shown(&conflict.document),
            stored: shown(&conflict.stored),
            since: conflict.since,
            key,
        });
    }

    // Rendered files.
    let configured: Vec<&str> = ours
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| has_dir(n))
        .collect();
    for package in &configured {
        for file in store.files(package)? {
            let path = rooted(&root, &file.path);
            let state = match crate::files::file_sha256(&path) {
                Ok(sum) if sum == file.sha256 => continue,
                Ok(_) => "modified",
                Err(_) if !path.exists() => "missing",
                Err(_) => "modified",
            };
            report.drift.push(Drift {
                package: package.to_string(),
                path: file.path.clone(),
                kind: "rendered",
                state,
            });
            if file.diverted {
                report.kept.push(Kept {
                    package: package.to_string(),
                    kept_at: crate::divert::diverted_name(&file.path),
                    path: file.path.clone(),
                    how: "diverted",
                });
            }
        }
    }

    // Packaged files against dpkg's md5sums.
    let names: Vec<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
    report.drift.extend(packaged_drift(apt, &root, &names)?);

    // Originals moved aside.
    let kept_before: BTreeSet<PathBuf> = report.kept.iter().map(|k| k.path.clone()).collect();
    for kept in diversions(&root, &names) {
        if !kept_before.contains(&kept.path) {
            report.kept.push(kept);
        }
    }
    for package in &names {
        let dir = rooted(
            &root,
            &Path::new("/var/lib/confpack/replaced").join(package),
        );
        for saved in walk(&dir) {
            if let Ok(relative) = saved.strip_prefix(&dir) {
                report.kept.push(Kept {
                    package: package.to_string(),
                    path: Path::new("/").join(relative),
                    kept_at: Path::new("/var/lib/confpack/replaced")
                        .join(package)
                        .join(relative),
                    how: "saved",
                });
            }
        }
    }

    // Questions a noninteractive configure would stop at.
    let selector = Selector {
        stored_environment: report.environment.clone(),
        host_identities,
        ..Selector::default()
    };
    let settings = Settings {
        force: false,
        priority: Priority::High,
    };
    let mut asked = BTreeSet::new();
    // Packages sharing a document (the usual case) read it once: by the
    // sha256 of its bytes, so a different copy is read again.
    let mut documents: BTreeMap<String, std::rc::Rc<crate::env::model::Document>> = BTreeMap::new();
    for package in &configured {
        let loaded = Package::load(&root, package).and_then(|p| {
            let local = p.local_document(&root);
            let sum = crate::files::file_sha256(&local).unwrap_or_default();
            if let Some(document) = documents.get(&sum).filter(|_| !sum.is_empty()) {
                return Ok(document.clone());
            }
            let source = DocumentSource::new(None, Some(local), paths.cache.clone());
            let document = std::rc::Rc::new(load(&source, &|e| selector.retains(e))?.document);
            documents.insert(sum, document.clone());
            Ok(document)
        });
        let document = match loaded {
            Ok(document) => document,
            // A package without a document asks nothing.
            Err(Error::Package { .. }) => continue,
            Err(Error::NoDocument { .. }) if !has_document(&root, package) => continue,
            Err(error) => {
                report.problems.push(format!("{package}: {error:#}"));
                continue;
            }
        };
        let selection = match selector.select(&document) {
            Ok(selection) => selection,
            Err(error) => {
                report.problems.push(format!("{package}: {error:#}"));
                continue;
            }
        };
        if report.machine.is_none() {
            report.machine = selection.machine.as_ref().map(|m| m.label());
        }
        let values = selection.configured_values(&document);
        for template in &document.templates {
            if template.source == TemplateSource::Derived
                || template.question_type.is_display_only()
            {
                continue;
            }
            let planned = merge::decide(
                template,
                values.get(&template.key).map(String::as_str),
                answers.get(&template.key),
                settings,
            );
            let stops =
                planned.shown() && matches!(planned.action, Action::Ask { default: None, .. });
            if stops && asked.insert(template.key.clone()) {
                report.unanswered.push(Unanswered {
                    package: package.to_string(),
                    key: template.key.clone(),
                });
            }
        }
    }
    Ok(report)
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

/// dpkg's diversions held by `packages`.
fn diversions(root: &Path, packages: &[&str]) -> Vec<Kept> {
    let mut command = std::process::Command::new("dpkg-divert");
    if root != Path::new("/") {
        command.arg(format!("--root={}", root.display()));
    }
    let Ok(output) = command.arg("--list").output() else {
        return Vec::new();
    };
    let ours: BTreeSet<&str> = packages.iter().copied().collect();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            // "diversion of /etc/x to /etc/x.confpack-orig by pkg"
            let rest = line.strip_prefix("diversion of ")?;
            let (path, rest) = rest.split_once(" to ")?;
            let (kept_at, package) = rest.rsplit_once(" by ")?;
            ours.contains(package).then(|| Kept {
                package: package.to_string(),
                path: PathBuf::from(path),
                kept_at: PathBuf::from(kept_at),
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
            Kind::Query,
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
        for line in text.lines() {
            let Some((sum, file)) = line.split_once("  ") else {
                continue;
            };
            let path = Path::new("/").join(file.trim_start_matches('/'));
            let state = match md5_of(&rooted(root, &path)) {
                Ok(actual) if actual == sum.trim() => continue,
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
