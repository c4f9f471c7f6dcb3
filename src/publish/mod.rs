//! `confpack publish`: `.deb` files → a standard apt repository whose
//! distributions are confpack's environments.
//!
//! ```text
//! pool/main/<p>/<package>/<package>_<version>_<arch>.deb      shared by every environment
//! dists/<environment>/Release, InRelease, Release.gpg         signed index of the indexes
//! dists/<environment>/main/binary-<arch>/Packages(.gz)        what the environment publishes
//! dists/<environment>/main/binary-<arch>/by-hash/SHA256/<sum> the same indexes, by content
//! ```
//!
//! Why it is built this way:
//! - the repository is static files, so any HTTP server, mirror or CDN can
//!   serve it (docs/scale.md); pool files never change once written, and a
//!   version that is published stays as it was (a rebuild with other bytes
//!   keeps the published one), so caches may keep them forever;
//! - publishing is incremental: the environment's current `Packages` is the
//!   state, new packages are added, older versions stay for rollback until
//!   `--keep N` or `--remove` prunes them;
//! - publishing is atomic for readers: every file is written to a temporary
//!   name and renamed; the indexes are also written by hash (apt fetches
//!   `by-hash/SHA256/<sum>` when `Release` says `Acquire-By-Hash: yes`), so
//!   a node holding the previous `Release` still finds the indexes it names,
//!   and `Release` (with its signatures just before it) is renamed last;
//! - one publisher at a time: a lock on the repository directory itself
//!   (`flock(2)` on its descriptor), so no lock file sits in the tree a web
//!   server serves.

pub mod debfile;
mod lock;
mod prune;
pub mod sign;
pub mod staging;
pub mod upload;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Listener;
use crate::error::{Error, Result};
use crate::files::write_atomic;

pub use crate::debian::release::{
    COMPONENT, DOCUMENTS_DIR, check_environment_name, is_plain_name, release_entries,
};
pub use crate::debian::{date, deb822, version};
use deb822::Paragraph;
use debfile::DebFile;
use sign::Signer;

/// `Origin` and `Label` of a confpack repository.
pub const ORIGIN: &str = "confpack";
/// The lock file older confpack versions took inside the repository (and
/// so served to the world): still waited for and then removed.
pub(crate) const LEGACY_LOCK_FILE: &str = ".confpack-publish.lock";

/// What to publish.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository's top directory (created when missing).
    pub repo: PathBuf,
    /// The environment: the apt distribution (`dists/<environment>`).
    pub environment: String,
    /// `.deb` files, or directories of them.
    pub debs: Vec<PathBuf>,
    /// Architectures to index besides those already indexed and those of
    /// the packages (`all` packages go into every one).
    pub architectures: Vec<String>,
    /// Keep only the newest N versions of each package in the environment.
    pub keep: Option<usize>,
    /// `NAME` or `NAME=VERSION`: entries to take out of the environment.
    pub remove: Vec<String>,
    /// Days after which apt refuses the `Release` (`Valid-Until`): a node
    /// cut off from updates notices instead of running stale forever.
    pub valid_for_days: Option<u64>,
    /// `Date` of the `Release`, seconds since the epoch.
    pub now: i64,
    /// How long to wait for another publisher.
    pub lock_timeout: Duration,
    /// `NAME=FILE`: environment documents to publish as
    /// `dists/<environment>/documents/<NAME>.xml`, listed in the signed
    /// `Release` (nodes verify them: src/env/trust.rs). Published
    /// documents stay until replaced.
    pub documents: Vec<(String, PathBuf)>,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// `package version architecture` newly in the environment.
    pub added: Vec<String>,
    /// Already published with the same bytes (or kept; see the warnings).
    pub unchanged: Vec<String>,
    /// Taken out of the environment by `--keep` or `--remove`.
    pub removed: Vec<String>,
    /// Pool files no environment names any more, deleted.
    pub pool_deleted: Vec<PathBuf>,
    /// Packages in the environment's index (all architectures).
    pub packages: usize,
    /// Index files written, with their sizes (uncompressed `Packages`,
    /// `Packages.gz`) per architecture.
    pub indexes: Vec<(String, u64, u64)>,
    pub signed: bool,
    /// Environment documents published by this run.
    pub documents: Vec<String>,
}

/// One package in an environment's index.
#[derive(Debug, Clone)]
struct Indexed {
    paragraph: Paragraph,
    package: String,
    version: String,
    architecture: String,
    filename: String,
    sha256: String,
}

/// An index entry's identity: (package, version, architecture).
pub type Key = (String, String, String);

impl Indexed {
    fn key(&self) -> Key {
        (
            self.package.clone(),
            self.version.clone(),
            self.architecture.clone(),
        )
    }

    fn describe(&self) -> String {
        format!("{} {} {}", self.package, self.version, self.architecture)
    }

    fn from_paragraph(paragraph: Paragraph, origin: &Path) -> Result<Indexed> {
        let field = |name: &str| {
            paragraph
                .get(name)
                .map(|v| v.trim().to_string())
                .ok_or_else(|| {
                    Error::at(
                        origin.display().to_string(),
                        None,
                        format!("a paragraph without {name}"),
                    )
                })
        };
        Ok(Indexed {
            package: field("Package")?,
            version: field("Version")?,
            architecture: field("Architecture")?,
            filename: field("Filename")?,
            sha256: field("SHA256")?,
            paragraph,
        })
    }

    fn from_deb(deb: &DebFile, filename: String) -> Indexed {
        let mut paragraph = deb.control.clone();
        for field in ["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"] {
            paragraph.remove(field);
        }
        paragraph.set_before("Filename", filename.clone(), "Description");
        paragraph.set_before("Size", deb.size.to_string(), "Description");
        paragraph.set_before("MD5sum", deb.md5.clone(), "Description");
        paragraph.set_before("SHA256", deb.sha256.clone(), "Description");
        Indexed {
            paragraph,
            package: deb.package.clone(),
            version: deb.version.clone(),
            architecture: deb.architecture.clone(),
            filename,
            sha256: deb.sha256.clone(),
        }
    }
}

/// A document name is a plain file name: `<NAME>.xml` in `documents/`.
pub fn check_document_name(name: &str) -> Result<()> {
    if is_plain_name(name) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--document {name:?}: the name must be letters, digits, . _ - +, starting with a letter or digit"
        )))
    }
}

/// `--document NAME=FILE`.
pub fn document_spec(spec: &str) -> Result<(String, PathBuf)> {
    match spec.split_once('=') {
        Some((name, file)) if !file.is_empty() => {
            check_document_name(name)?;
            Ok((name.to_string(), PathBuf::from(file)))
        }
        _ => Err(Error::Usage(format!(
            "--document {spec:?}: expected NAME=FILE"
        ))),
    }
}

/// A document to publish, refused unless it validates: every node would
/// otherwise warn and fall back.
fn read_document(path: &Path) -> Result<Vec<u8>> {
    let origin = path.display().to_string();
    crate::env::validate(path, &origin, crate::env::Validation::Builtin)?;
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// The pool path of a package: `pool/main/<p>/<package>/<file>`, with
/// `lib` packages under `lib<x>` as Debian does.
pub fn pool_path(package: &str, version: &str, architecture: &str) -> String {
    let prefix = if package.starts_with("lib") && package.len() > 3 {
        &package[..4]
    } else {
        &package[..1]
    };
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    format!("pool/{COMPONENT}/{prefix}/{package}/{package}_{version}_{architecture}.deb")
}

/// The Debian architecture of this machine, for repositories of `all`
/// packages only.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The environment's current state, read from its `Release` and indexes.
struct Current {
    architectures: BTreeSet<String>,
    entries: BTreeMap<Key, Indexed>,
    /// Every `SHA256` the current `Release` names (kept in by-hash).
    release_hashes: BTreeSet<String>,
    /// The published environment documents, by name.
    documents: BTreeMap<String, Vec<u8>>,
    /// The `Date` of the current `Release`, seconds since the epoch.
    date: Option<i64>,
}

fn read_current(dist: &Path) -> Result<Current> {
    let mut current = Current {
        architectures: BTreeSet::new(),
        entries: BTreeMap::new(),
        release_hashes: BTreeSet::new(),
        documents: BTreeMap::new(),
        date: None,
    };
    let release_path = dist.join("Release");
    let text = match std::fs::read_to_string(&release_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
        Err(e) => return Err(Error::io(&release_path, e)),
    };
    let release = parse_one(&release_path, &text)?;
    current.architectures = release
        .get("Architectures")
        .unwrap_or_default()
        .split_whitespace()
        .filter(|a| *a != "all")
        .map(str::to_string)
        .collect();
    current.date = release.get("Date").and_then(date::parse_rfc2822);
    for (sum, _, name) in release_entries(&release) {
        current.release_hashes.insert(sum.to_string());
        if let Some(document) = name
            .strip_prefix(DOCUMENTS_DIR)
            .and_then(|n| n.strip_prefix('/'))
            .and_then(|n| n.strip_suffix(".xml"))
        {
            let path = dist.join(name);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            current.documents.insert(document.to_string(), bytes);
        }
    }
    for architecture in &current.architectures {
        let path = dist
            .join(COMPONENT)
            .join(format!("binary-{architecture}"))
            .join("Packages");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let paragraphs = deb822::parse(&text).map_err(|(line, message)| {
            Error::at(path.display().to_string(), Some(line), message)
        })?;
        for paragraph in paragraphs {
            let entry = Indexed::from_paragraph(paragraph, &path)?;
            current.entries.insert(entry.key(), entry);
        }
    }
    Ok(current)
}

fn parse_one(path: &Path, text: &str) -> Result<Paragraph> {
    deb822::parse(text)
        .map_err(|(line, message)| Error::at(path.display().to_string(), Some(line), message))?
        .into_iter()
        .next()
        .ok_or_else(|| Error::at(path.display().to_string(), None, "empty"))
}

/// Publishes. `signer`: `None` writes an unsigned repository (apt on the
/// nodes refuses it unless told to trust it).
///
/// Nothing published changes until everything is computed and signed: a
/// failure (an unknown key, a bad document) or a kill leaves the previous
/// state byte for byte (see [`staging`]); what a killed run left is
/// deleted by the next.
pub fn publish(
    options: &Options,
    signer: Option<&mut dyn Signer>,
    listener: &mut dyn Listener,
) -> Result<Report> {
    check_options(options)?;
    let repo = &options.repo;
    std::fs::create_dir_all(repo).map_err(|e| Error::io(repo, e))?;
    let _lock = lock::lock(repo, options.lock_timeout)?;
    staging::clean_leftovers(repo)?;
    // Pool files of killed runs that no index names.
    let mut report = Report {
        pool_deleted: collect_pool_garbage(repo)?,
        ..Report::default()
    };
    let dists = repo.join("dists");
    let dist = dists.join(&options.environment);
    let current = read_current(&dist)?;
    let mut entries = current.entries.clone();
    let pool = add_packages(options, &mut entries, &mut report, listener)?;
    apply_pruning(options, &mut entries, &mut report, listener);
    let architectures = architectures(&current, &entries, &options.architectures);
    report.packages = entries.len();
    let documents = documents(&current, options, &mut report)?;

    // Everything in memory, signed, before anything is written.
    let mut files = indexes(&entries, &architectures, &mut report)?;
    files.extend(documents);
    let release = sign_release(options, &current, &architectures, &files, signer)?;

    // The new tree, beside the published one.
    let staged = stage(&dists, &dist, &current, &files, &release)?;
    report.signed = release.signatures.is_some();
    if !report.signed {
        listener.warning(&format!(
            "the environment {} is not signed (no --sign-key); nodes refuse unsigned repositories",
            options.environment
        ));
    }

    // New pool files, then the switch: nothing names them before it.
    write_pool(repo, &pool)?;
    staged.install(&dist)?;

    if !report.removed.is_empty() {
        report.pool_deleted.extend(collect_pool_garbage(repo)?);
    }
    listener.info(&format!(
        "{}: {} added, {} already published, {} removed; {} package(s) in the index{}",
        options.environment,
        report.added.len(),
        report.unchanged.len(),
        report.removed.len(),
        report.packages,
        if report.signed { ", signed" } else { "" }
    ));
    Ok(report)
}

/// The architectures to index: those indexed already, those of the
/// packages (`all` goes into every one), those asked for; this machine's
/// when there is none.
fn architectures(
    current: &Current,
    entries: &BTreeMap<Key, Indexed>,
    asked: &[String],
) -> BTreeSet<String> {
    let mut architectures = current.architectures.clone();
    for entry in entries.values() {
        if entry.architecture != "all" {
            architectures.insert(entry.architecture.clone());
        }
    }
    architectures.extend(asked.iter().cloned());
    if architectures.is_empty() {
        architectures.insert(host_architecture().to_string());
    }
    architectures
}

/// The environment documents after this run: those published, replaced
/// by those given. (path relative to the distribution, bytes).
fn documents(
    current: &Current,
    options: &Options,
    report: &mut Report,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut documents = current.documents.clone();
    for (name, path) in &options.documents {
        documents.insert(name.clone(), read_document(path)?);
        report.documents.push(name.clone());
    }
    Ok(documents
        .into_iter()
        .map(|(name, bytes)| (format!("{DOCUMENTS_DIR}/{name}.xml"), bytes))
        .collect())
}

/// A `Release` and, with a signer, its detached and inline signatures.
struct SignedRelease {
    text: String,
    /// (`Release.gpg`, `InRelease`).
    signatures: Option<(Vec<u8>, Vec<u8>)>,
}

/// The `Release` naming `files`, signed.
fn sign_release(
    options: &Options,
    current: &Current,
    architectures: &BTreeSet<String>,
    files: &[(String, Vec<u8>)],
    signer: Option<&mut dyn Signer>,
) -> Result<SignedRelease> {
    let sums: Vec<(String, u64, String)> = files
        .iter()
        .map(|(relative, bytes)| {
            (
                crate::files::sha256_hex(bytes),
                bytes.len() as u64,
                relative.clone(),
            )
        })
        .collect();
    // A later Release is always dated later, so a node can refuse an
    // older one replayed to it (src/env/trust.rs).
    let date = current
        .date
        .map_or(options.now, |previous| options.now.max(previous + 1));
    let text = release_text(options, date, architectures, &sums);
    let signatures = match signer {
        Some(signer) => Some((
            signer.detach_sign(text.as_bytes())?,
            signer.clearsign(text.as_bytes())?,
        )),
        None => None,
    };
    Ok(SignedRelease { text, signatures })
}

/// Writes the new `dists/<environment>` beside the published one: the
/// indexes (also by hash), the documents, the signatures, `Release`.
fn stage(
    dists: &Path,
    dist: &Path,
    current: &Current,
    files: &[(String, Vec<u8>)],
    release: &SignedRelease,
) -> Result<staging::Staging> {
    let mut staged = staging::Staging::new(dists)?;
    let mut new_hashes = BTreeSet::new();
    for (relative, bytes) in files {
        staged.write(relative, bytes)?;
        if let Some(dir) = relative
            .strip_suffix("/Packages")
            .or_else(|| relative.strip_suffix("/Packages.gz"))
        {
            let sum = crate::files::sha256_hex(bytes);
            if new_hashes.insert(sum.clone()) {
                staged.write(&format!("{dir}/by-hash/SHA256/{sum}"), bytes)?;
            }
        }
    }
    // Index files by hash that the previous Release names stay, for a
    // node that fetched it just before the switch.
    for relative in by_hash_files(dist)? {
        let sum = relative.rsplit('/').next().unwrap_or_default();
        if current.release_hashes.contains(sum) && !new_hashes.contains(sum) {
            staged.keep(&relative, &dist.join(&relative))?;
        }
    }
    if let Some((detached, inline)) = &release.signatures {
        staged.write("Release.gpg", detached)?;
        staged.write("InRelease", inline)?;
    }
    staged.write("Release", release.text.as_bytes())?;
    Ok(staged)
}

/// Copies the new packages into the pool (source, path relative to the
/// repository).
fn write_pool(repo: &Path, pool: &[(PathBuf, String)]) -> Result<()> {
    for (from, relative) in pool {
        let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
        write_atomic(&repo.join(relative), &bytes, 0o644)?;
    }
    Ok(())
}

fn check_options(options: &Options) -> Result<()> {
    check_environment_name(&options.environment)?;
    for architecture in &options.architectures {
        if architecture == "all"
            || architecture.is_empty()
            || !architecture
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(Error::Usage(format!(
                "{architecture:?} is not a Debian architecture to index (amd64, arm64, …)"
            )));
        }
    }
    for (name, _) in &options.documents {
        check_document_name(name)?;
    }
    Ok(())
}

/// The new packages go into the index; returns the pool files to write
/// (source, path relative to the repository).
fn add_packages(
    options: &Options,
    entries: &mut BTreeMap<Key, Indexed>,
    report: &mut Report,
    listener: &mut dyn Listener,
) -> Result<Vec<(PathBuf, String)>> {
    let mut pool = Vec::new();
    for path in &debfile::collect(&options.debs)? {
        let deb = debfile::read(path)?;
        let filename = pool_path(&deb.package, &deb.version, &deb.architecture);
        let mut entry = Indexed::from_deb(&deb, filename.clone());
        let pooled = options.repo.join(&filename);
        let key = entry.key();
        if let Some(published) = entries.get(&key) {
            if published.sha256 != entry.sha256 {
                listener.warning(&format!(
                    "{}: {} is already published with other bytes; the published package is kept \
                     (a published version never changes: bump the version to publish new content)",
                    path.display(),
                    entry.describe()
                ));
            }
            report.unchanged.push(entry.describe());
            continue;
        }
        match std::fs::read(&pooled) {
            Ok(existing) if crate::files::sha256_hex(&existing) == entry.sha256 => {}
            Ok(_) => {
                // Published to another environment with other bytes: use
                // those, so every environment serves the same package.
                listener.warning(&format!(
                    "{}: {} is already in the pool with other bytes; the pooled package is published \
                     (bump the version to publish new content)",
                    path.display(),
                    entry.describe()
                ));
                entry = Indexed::from_deb(&debfile::read(&pooled)?, filename);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !pool.iter().any(|(_, f)| f == &filename) {
                    pool.push((path.clone(), filename));
                }
            }
            Err(e) => return Err(Error::io(&pooled, e)),
        }
        report.added.push(entry.describe());
        entries.insert(key, entry);
    }
    Ok(pool)
}

/// `--remove` and `--keep` (decided by [`prune::prune`]) take entries out
/// of the index.
fn apply_pruning(
    options: &Options,
    entries: &mut BTreeMap<Key, Indexed>,
    report: &mut Report,
    listener: &mut dyn Listener,
) {
    let pruning = prune::prune(entries.keys(), &options.remove, options.keep);
    for wanted in &pruning.unmatched {
        listener.warning(&format!(
            "--remove {wanted}: the environment {} has no such package",
            options.environment
        ));
    }
    for key in &pruning.dropped {
        if let Some(entry) = entries.remove(key) {
            report.removed.push(entry.describe());
        }
    }
}

/// `Packages` and `Packages.gz` of every architecture: (path relative to
/// the distribution, bytes).
fn indexes(
    entries: &BTreeMap<Key, Indexed>,
    architectures: &BTreeSet<String>,
    report: &mut Report,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut ordered: Vec<&Indexed> = entries.values().collect();
    ordered.sort_by(|a, b| {
        a.package
            .cmp(&b.package)
            .then_with(|| version::compare(&a.version, &b.version))
            .then_with(|| a.architecture.cmp(&b.architecture))
    });
    let mut out = Vec::new();
    for architecture in architectures {
        let text: String = ordered
            .iter()
            .filter(|e| &e.architecture == architecture || e.architecture == "all")
            .map(|e| e.paragraph.render())
            .collect::<Vec<_>>()
            .join("\n");
        let gz = crate::deb::gzip_best(text.as_bytes())
            .map_err(|e| Error::io(format!("Packages.gz of {architecture}"), e))?;
        let relative_dir = format!("{COMPONENT}/binary-{architecture}");
        report
            .indexes
            .push((architecture.clone(), text.len() as u64, gz.len() as u64));
        out.push((format!("{relative_dir}/Packages"), text.into_bytes()));
        out.push((format!("{relative_dir}/Packages.gz"), gz));
    }
    Ok(out)
}

/// The by-hash files of a published distribution, relative to it.
fn by_hash_files(dist: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let component = dist.join(COMPONENT);
    let Ok(binaries) = std::fs::read_dir(&component) else {
        return Ok(out);
    };
    for binary in binaries {
        let binary = binary.map_err(|e| Error::io(&component, e))?;
        let name = binary.file_name().to_string_lossy().into_owned();
        let dir = binary.path().join("by-hash/SHA256");
        let Ok(sums) = std::fs::read_dir(&dir) else {
            continue;
        };
        for sum in sums {
            let sum = sum.map_err(|e| Error::io(&dir, e))?;
            let sum = sum.file_name().to_string_lossy().into_owned();
            if !sum.starts_with('.') {
                out.push(format!("{COMPONENT}/{name}/by-hash/SHA256/{sum}"));
            }
        }
    }
    Ok(out)
}

fn release_text(
    options: &Options,
    date: i64,
    architectures: &BTreeSet<String>,
    sums: &[(String, u64, String)],
) -> String {
    let mut release = Paragraph::default();
    release.set("Origin", ORIGIN);
    release.set("Label", ORIGIN);
    release.set("Suite", options.environment.clone());
    release.set("Codename", options.environment.clone());
    release.set("Date", date::format_rfc2822(date));
    if let Some(days) = options.valid_for_days {
        let until = date.saturating_add((days as i64).saturating_mul(86_400));
        release.set("Valid-Until", date::format_rfc2822(until));
    }
    release.set(
        "Architectures",
        architectures.iter().cloned().collect::<Vec<_>>().join(" "),
    );
    release.set("Components", COMPONENT);
    release.set(
        "Description",
        format!("confpack environment {}", options.environment),
    );
    release.set("Acquire-By-Hash", "yes");
    let width = sums
        .iter()
        .map(|(_, size, _)| size.to_string().len())
        .max()
        .unwrap_or(1);
    let list: String = sums
        .iter()
        .map(|(sum, size, name)| format!("\n {sum} {size:>width$} {name}"))
        .collect();
    release.set("SHA256", list);
    release.render()
}

/// Every pool file named by an index of some environment.
fn referenced(repo: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let dists = repo.join("dists");
    let Ok(environments) = std::fs::read_dir(&dists) else {
        return Ok(names);
    };
    for environment in environments {
        let environment = environment.map_err(|e| Error::io(&dists, e))?;
        let current = read_current(&environment.path())?;
        names.extend(current.entries.into_values().map(|e| e.filename));
    }
    Ok(names)
}

/// Deletes pool files that no environment names (after pruning).
fn collect_pool_garbage(repo: &Path) -> Result<Vec<PathBuf>> {
    let keep = referenced(repo)?;
    let mut deleted = Vec::new();
    let mut pending = vec![repo.join("pool")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(repo)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if relative.ends_with(".deb") && !keep.contains(&relative) {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                deleted.push(PathBuf::from(relative));
            }
        }
        // An emptied package directory goes too (fails harmlessly if not empty).
        let _ = std::fs::remove_dir(&dir);
    }
    deleted.sort();
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_paths_follow_debian_layout() {
        assert_eq!(
            pool_path("nginx-conf", "1.0", "all"),
            "pool/main/n/nginx-conf/nginx-conf_1.0_all.deb"
        );
        assert_eq!(
            pool_path("libfoo", "2:1.0-1", "amd64"),
            "pool/main/libf/libfoo/libfoo_1.0-1_amd64.deb"
        );
    }

    #[test]
    fn environment_names_are_plain_distribution_names() {
        assert!(check_environment_name("production").is_ok());
        assert!(check_environment_name("stage-2.eu").is_ok());
        for bad in ["", "../x", "a/b", "-x", "a b"] {
            assert!(check_environment_name(bad).is_err(), "{bad:?}");
        }
    }
}
