//! The node runtime: `set-environment`, `update`, `install`, `upgrade` —
//! apt driven so that a node converges to its environment (seed 000:
//! "confpack upgrade does apt-get upgrade and apt-get autoremove").
//!
//! Why it is built this way:
//! - the environment is an apt distribution of the confpack repository;
//!   `set-environment` writes the one apt source (`confpack.list`, with
//!   `signed-by` the repository's key, so apt verifies every index) and
//!   stores the environment for `configure`;
//! - `update` fetches only the confpack source, leaving the others alone;
//! - `upgrade` decides the target version of every installed package the
//!   environment publishes (see [`plan`]; downgrades included, so a
//!   rolled-back environment or `--version` rolls the node back), installs
//!   them in one apt run that keeps automatic packages automatic, then
//!   `apt-get autoremove` takes what no role needs any more (principle 5),
//!   and every configured package is configured again, which is a no-op
//!   unless its environment or document changed;
//! - converging on a schedule is `confpack-converge.timer`, which
//!   `set-environment` enables ([`timer`]);
//! - apt and dpkg sit behind [`apt::PackageManager`]; their failures name
//!   the command and its stderr and map to their own exit codes.

pub mod apt;
#[cfg(test)]
mod fake;
pub mod plan;
#[cfg(test)]
mod scenarios;
pub mod timer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Listener;
use crate::debian::deb822;
use crate::debian::release::check_environment_name;
pub use crate::debian::sources::{SOURCES_LIST, Source};
use crate::error::{Error, Result};
use crate::package::rooted;
use crate::paths::Paths;
use crate::store::Batch;

use apt::{PackageManager, Purpose};
use plan::Index;

/// Where the repository's signing key is kept.
pub const KEYRING_DIR: &str = "/etc/apt/keyrings";
/// The runtime package, never a role.
const RUNTIME: &str = crate::package::RUNTIME_PACKAGE;

fn read_source(root: &Path) -> Result<Option<Source>> {
    let path = rooted(root, Path::new(SOURCES_LIST));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Source::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn check_url(url: &str) -> Result<()> {
    let valid = ["http://", "https://", "file:/"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
        && !url.contains(char::is_whitespace)
        && !url.contains(']');
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{url:?} is not a repository URL (http://, https:// or file:/)"
        )))
    }
}

/// Installs the repository's public key; returns its path as apt must
/// read it (under a sandboxed root, the rooted path: apt does not re-root
/// `signed-by`).
fn install_key(root: &Path, key: &Path) -> Result<String> {
    let bytes = std::fs::read(key).map_err(|e| Error::io(key, e))?;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned();
    let extension = if text.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        "asc"
    } else if text.starts_with("-----BEGIN PGP PRIVATE") {
        return Err(Error::Usage(format!(
            "{} is a private key; give the repository's public key (gpg --armor --export KEY)",
            key.display()
        )));
    } else if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        "gpg"
    } else {
        return Err(Error::Usage(format!(
            "{} is not an OpenPGP public key (armored or binary); export it with gpg --export",
            key.display()
        )));
    };
    let dir = rooted(root, Path::new(KEYRING_DIR));
    let path = dir.join(format!("confpack.{extension}"));
    crate::files::write_atomic(&path, &bytes, 0o644)?;
    let other = dir.join(if extension == "asc" {
        "confpack.gpg"
    } else {
        "confpack.asc"
    });
    let _ = std::fs::remove_file(other);
    Ok(if root == Path::new("/") {
        format!("{KEYRING_DIR}/confpack.{extension}")
    } else {
        path.display().to_string()
    })
}

/// `confpack set-environment NAME [--repo-url URL] [--key FILE]`.
pub fn set_environment(
    paths: &Paths,
    environment: &str,
    repo_url: Option<&str>,
    key: Option<&Path>,
    lock_timeout: Duration,
    listener: &mut dyn Listener,
) -> Result<Option<Source>> {
    check_environment_name(environment)?;
    let root = &paths.root;
    if let Some(url) = repo_url {
        check_url(url)?;
    }
    let existing = read_source(root)?;
    let url = repo_url
        .map(|u| u.trim_end_matches('/').to_string() + "/")
        .or_else(|| existing.as_ref().map(|s| s.url.clone()));
    let source = match url {
        Some(url) => {
            let signed_by = match (key, &existing) {
                (Some(key), _) => install_key(root, key)?,
                (None, Some(existing)) => existing.signed_by.clone(),
                (None, None) => {
                    return Err(Error::Usage(
                        "a new repository source needs --key FILE: the repository's public signing key, \
                         so that apt verifies what it fetches"
                            .into(),
                    ));
                }
            };
            let source = Source {
                url,
                environment: environment.to_string(),
                signed_by,
            };
            let path = rooted(root, Path::new(SOURCES_LIST));
            crate::files::write_atomic(&path, source.render().as_bytes(), 0o644)?;
            Some(source)
        }
        None => {
            listener.warning(
                "no repository URL (--repo-url) is known: the environment is stored for configure, \
                 but no apt source is written",
            );
            None
        }
    };
    let store = paths.open_store(lock_timeout)?;
    let previous = store.meta("environment")?;
    if previous.as_deref() != Some(environment) {
        let mut batch = Batch::new();
        batch.set_meta("environment", environment)?;
        store.commit(batch)?;
    }
    listener.info(&format!(
        "environment {environment}{}{}; next: `confpack install ROLE` on a new node, \
         `confpack update && confpack upgrade` on one that has its roles",
        previous
            .filter(|p| p != environment)
            .map(|p| format!(" (was {p})"))
            .unwrap_or_default(),
        source
            .as_ref()
            .map(|s| format!(", apt source {} {environment}", s.url))
            .unwrap_or_default()
    ));
    Ok(source)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn require_source(apt: &dyn PackageManager) -> Result<Source> {
    read_source(apt.root())?.ok_or_else(|| {
        Error::Usage(
            "no confpack apt source: run `confpack set-environment NAME --repo-url URL --key FILE` first"
                .into(),
        )
    })
}

/// `confpack update`: `apt-get update` of the confpack source only.
pub fn update(apt: &mut dyn PackageManager, listener: &mut dyn Listener) -> Result<()> {
    let source = require_source(apt)?;
    let list = SOURCES_LIST.trim_start_matches("/etc/apt/");
    apt.run(
        Purpose::Update,
        "apt-get",
        &strings(&[
            "update",
            "--error-on=any",
            "-o",
            &format!("Dir::Etc::SourceList={list}"),
            "-o",
            "Dir::Etc::SourceParts=-",
            "-o",
            "APT::Get::List-Cleanup=0",
        ]),
        listener,
    )?;
    listener.info(&format!(
        "updated the index of {} {}",
        source.url, source.environment
    ));
    Ok(())
}

/// The environment's index as apt downloaded it; `None` before the first
/// `update`.
pub fn read_index(apt: &mut dyn PackageManager) -> Result<Option<Index>> {
    let mut quiet = crate::RecordingListener::default();
    let text = apt.run(
        Purpose::Query,
        "apt-get",
        &strings(&["indextargets", "Identifier: Packages"]),
        &mut quiet,
    )?;
    let paragraphs = deb822::parse(&text)
        .map_err(|(line, message)| Error::at("apt-get indextargets", Some(line), message))?;
    let list_name = SOURCES_LIST.rsplit('/').next().unwrap_or(SOURCES_LIST);
    let mut index = Index::default();
    let mut found = false;
    for paragraph in paragraphs {
        let ours = paragraph
            .get("Sourcesentry")
            .is_some_and(|s| s.contains(&format!("/{list_name}:")));
        let Some(file) = paragraph.get("Filename").filter(|_| ours) else {
            continue;
        };
        let file = PathBuf::from(file.trim());
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                found = true;
                index.add_packages_file(&file.display().to_string(), &text)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&file, e)),
        }
    }
    Ok(found.then_some(index))
}

/// Every package dpkg knows: name → (version, state letter; see
/// [`crate::dpkg::parse_states`]).
fn states(apt: &mut dyn PackageManager) -> Result<BTreeMap<String, (String, char)>> {
    let mut quiet = crate::RecordingListener::default();
    let text = apt.run(
        Purpose::Query,
        "dpkg-query",
        &strings(&["-W", crate::dpkg::STATES_FORMAT]),
        &mut quiet,
    )?;
    Ok(crate::dpkg::parse_states(&text))
}

/// Installed packages and their versions (config-files only excluded).
pub fn installed(apt: &mut dyn PackageManager) -> Result<BTreeMap<String, String>> {
    Ok(states(apt)?
        .into_iter()
        .filter(|(_, (version, state))| !matches!(state, 'n' | 'c') && !version.is_empty())
        .map(|(name, (version, _))| (name, version))
        .collect())
}

/// Finishes what an interrupted run left (Ctrl-C, a failed postinst, a
/// power cut): apt refuses to work while dpkg's journal is not empty, and
/// unpacked or half-configured packages are configured before anything
/// else, with the person's terminal when there is one.
fn recover(apt: &mut dyn PackageManager, listener: &mut dyn Listener) -> Result<Vec<String>> {
    let unfinished: Vec<String> = states(apt)?
        .into_iter()
        .filter(|(_, (_, state))| matches!(state, 'U' | 'F' | 'W' | 't'))
        .map(|(name, _)| name)
        .collect();
    // apt itself knows whether dpkg's journal is pending ("dpkg was
    // interrupted, you must manually run 'dpkg --configure -a'").
    let interrupted = unfinished.is_empty()
        && match apt.run(
            Purpose::Query,
            "apt-get",
            &strings(&["check", "-qq"]),
            &mut crate::RecordingListener::default(),
        ) {
            Ok(_) => false,
            Err(Error::PackageManager { stderr, .. }) => stderr.contains("--configure -a"),
            Err(error) => return Err(error),
        };
    if !interrupted && unfinished.is_empty() {
        return Ok(Vec::new());
    }
    listener.info(&format!(
        "finishing what an earlier run left: dpkg --configure -a{}",
        if unfinished.is_empty() {
            String::new()
        } else {
            format!(" ({})", unfinished.join(", "))
        }
    ));
    apt.run(
        Purpose::Change,
        "dpkg",
        &strings(&["--configure", "-a"]),
        listener,
    )?;
    Ok(unfinished)
}

/// apt preferences that hold the node at the versions of
/// `upgrade --version` (a plain `apt-get upgrade` would roll forward);
/// a plain `confpack upgrade` removes them.
pub const ROLLBACK_PIN: &str = "/etc/apt/preferences.d/confpack-rollback.pref";

/// The pin file for `versions` (package → version).
pub fn rollback_pin(wanted: &str, versions: &BTreeMap<String, String>) -> String {
    let mut text = format!(
        "# Written by `confpack upgrade --version {}`: holds this node at these\n\
         # versions until the next plain `confpack upgrade`, which removes this file.\n",
        wanted.replace('\n', " ")
    );
    for (name, version) in versions {
        text.push_str(&format!(
            "\nPackage: {name}\nPin: version {version}\nPin-Priority: 1001\n"
        ));
    }
    text
}

fn write_pin(root: &Path, wanted: &str, versions: &BTreeMap<String, String>) -> Result<()> {
    let path = rooted(root, Path::new(ROLLBACK_PIN));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    crate::files::write_atomic(&path, rollback_pin(wanted, versions).as_bytes(), 0o644)
}

/// Removes the rollback pin; `following` says so (a plain upgrade).
fn remove_pin(root: &Path, following: bool, listener: &mut dyn Listener) -> Result<()> {
    let path = rooted(root, Path::new(ROLLBACK_PIN));
    match std::fs::remove_file(&path) {
        Ok(()) => {
            if following {
                listener.info(&format!(
                    "removed {ROLLBACK_PIN}: following the environment again"
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Purges the environment's packages that are removed but not purged
/// (`rc`): left so by an earlier `apt-get remove` or an older confpack.
/// confpack packages have no conffiles, and their postrm `purge` forgets
/// their answers.
fn purge_removed(
    apt: &mut dyn PackageManager,
    index: &Index,
    listener: &mut dyn Listener,
) -> Result<()> {
    let removed: Vec<String> = states(apt)?
        .into_iter()
        .filter(|(name, (_, state))| *state == 'c' && index.contains(name))
        .map(|(name, _)| name)
        .collect();
    if removed.is_empty() {
        return Ok(());
    }
    let mut args = strings(&["purge", "-y"]);
    args.extend(removed);
    apt.run(Purpose::Change, "apt-get", &args, listener)?;
    Ok(())
}

fn automatic(apt: &mut dyn PackageManager) -> Result<BTreeSet<String>> {
    let mut quiet = crate::RecordingListener::default();
    let text = apt.run(
        Purpose::Query,
        "apt-mark",
        &strings(&["showauto"]),
        &mut quiet,
    )?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}

/// What changed on the node.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub installed: Vec<String>,
    pub upgraded: Vec<String>,
    pub downgraded: Vec<String>,
    pub removed: Vec<String>,
    /// Packages an interrupted run had left unfinished, configured first.
    pub finished: Vec<String>,
    /// Packages configured again whose configuration changed.
    pub reconfigured: Vec<String>,
}

impl Changes {
    fn between(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Changes {
        let mut changes = Changes::default();
        for (name, version) in after {
            match before.get(name) {
                None => changes.installed.push(format!("{name} {version}")),
                Some(old) => match crate::debian::version::compare(version, old) {
                    std::cmp::Ordering::Greater => {
                        changes.upgraded.push(format!("{name} {old} → {version}"))
                    }
                    std::cmp::Ordering::Less => {
                        changes.downgraded.push(format!("{name} {old} → {version}"))
                    }
                    std::cmp::Ordering::Equal => {}
                },
            }
        }
        for (name, version) in before {
            if !after.contains_key(name) {
                changes.removed.push(format!("{name} {version}"));
            }
        }
        changes
    }

    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (label, list) in [
            ("installed", &self.installed),
            ("upgraded", &self.upgraded),
            ("downgraded", &self.downgraded),
            ("removed", &self.removed),
            ("finished", &self.finished),
            ("reconfigured", &self.reconfigured),
        ] {
            if !list.is_empty() {
                parts.push(format!("{label} {}", list.join(", ")));
            }
        }
        if parts.is_empty() {
            "nothing to do: the node matches its environment".into()
        } else {
            parts.join("; ")
        }
    }
}

/// `confpack install NAME...`: installs roles or packages and marks them
/// manually installed (they stay until removed; what they pull in is
/// automatic and goes when no longer needed).
pub fn install(
    apt: &mut dyn PackageManager,
    names: &[String],
    listener: &mut dyn Listener,
) -> Result<Changes> {
    for name in names {
        let package = name.split_once('=').map_or(name.as_str(), |(n, _)| n);
        if !crate::package::valid_package_name(package) {
            return Err(Error::Usage(format!("{name:?} is not a package name")));
        }
    }
    // Always: an index older than the last publish would install stale
    // versions without a word. It costs one conditional request.
    update(apt, listener)?;
    let finished = recover(apt, listener)?;
    let before = installed(apt)?;
    let mut args = strings(&["install", "-y"]);
    args.extend(names.iter().cloned());
    apt.run(Purpose::Change, "apt-get", &args, listener)?;
    let mut mark = strings(&["manual"]);
    mark.extend(
        names
            .iter()
            .map(|n| n.split_once('=').map_or(n.clone(), |(n, _)| n.to_string())),
    );
    apt.run(Purpose::Change, "apt-mark", &mark, listener)?;
    let mut changes = Changes::between(&before, &installed(apt)?);
    changes.finished = finished;
    listener.info(&changes.summary());
    Ok(changes)
}

/// Configures an installed package again (the binary runs `configure`).
pub trait Reconfigure {
    /// Returns whether anything changed.
    fn reconfigure(&mut self, package: &str, listener: &mut dyn Listener) -> Result<bool>;
}

/// What `confpack upgrade` is asked.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// `--version`: roll the roles to this version (rollback/roll-forward).
    pub version: Option<String>,
    /// The roles `--version` applies to (default: the installed manual ones).
    pub roles: Vec<String>,
    /// Run `apt-get autoremove` afterwards (default yes).
    pub autoremove: bool,
}

/// `confpack upgrade [--version V] [ROLE...]`.
pub fn upgrade(
    apt: &mut dyn PackageManager,
    options: &UpgradeOptions,
    reconfigure: &mut dyn Reconfigure,
    listener: &mut dyn Listener,
) -> Result<Changes> {
    let (source, index) = fetched_index(apt)?;
    let finished = recover(apt, listener)?;
    remove_pin(apt.root(), options.version.is_none(), listener)?;
    let before = installed(apt)?;
    let automatic = automatic(apt)?;
    let targets = Targets::choose(&index, options, &before, &automatic)?;
    if !targets.versions.is_empty() {
        listener.info(&targets.describe(&source.environment, options.version.is_some()));
        install_targets(apt, &targets, &before, &automatic, listener)?;
    }
    if options.autoremove {
        autoremove(apt, &index, listener)?;
    }
    let after = installed(apt)?;
    if let Some(version) = &options.version {
        pin(apt.root(), version, &index, &after, listener)?;
    }
    let mut changes = Changes::between(&before, &after);
    changes.finished = finished;
    // Configure every configured package again: a no-op unless its
    // environment (set-environment) or document changed.
    let names = configured_packages(apt.root(), &after);
    let failures = configure_again(&names, reconfigure, &mut changes, listener)?;
    listener.info(&changes.summary());
    if failures.is_empty() {
        Ok(changes)
    } else {
        Err(Error::Package {
            package: failures.len().to_string() + " package(s)",
            message: format!(
                "configuring again failed:\n{}\nfix the cause and run `confpack upgrade` again",
                failures.join("\n")
            ),
        })
    }
}

/// The confpack source and its index as `confpack update` fetched it.
fn fetched_index(apt: &mut dyn PackageManager) -> Result<(Source, Index)> {
    let source = require_source(apt)?;
    match read_index(apt)? {
        Some(index) => Ok((source, index)),
        None => Err(Error::Selection(format!(
            "the index of {} {} has not been fetched; run `confpack update` first",
            source.url, source.environment
        ))),
    }
}

/// What an upgrade installs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Targets {
    /// Package → version, only those not installed at that version.
    versions: BTreeMap<String, String>,
    /// The roles `--version` rolls (none for a plain upgrade).
    roles: Vec<String>,
}

impl Targets {
    /// A plain upgrade: the newest published version of every installed
    /// package; `--version`: that version of the roles (the installed
    /// manual ones unless named) and their dependencies (see [`plan`]).
    fn choose(
        index: &Index,
        options: &UpgradeOptions,
        before: &BTreeMap<String, String>,
        automatic: &BTreeSet<String>,
    ) -> Result<Targets> {
        let (versions, roles) = match &options.version {
            None => (plan::upgrade_targets(index, before), Vec::new()),
            Some(version) => {
                let roles: Vec<String> = if options.roles.is_empty() {
                    before
                        .keys()
                        .filter(|n| index.contains(n) && !automatic.contains(*n) && *n != RUNTIME)
                        .cloned()
                        .collect()
                } else {
                    options.roles.clone()
                };
                if roles.is_empty() {
                    return Err(Error::Usage(
                        "--version applies to roles, and none is installed; name them: confpack upgrade --version V ROLE…"
                            .into(),
                    ));
                }
                (
                    plan::version_targets(index, &roles, version, before)?,
                    roles,
                )
            }
        };
        let versions = versions
            .into_iter()
            .filter(|(name, version)| before.get(name) != Some(version))
            .collect();
        Ok(Targets { versions, roles })
    }

    /// `production newest versions: a 2, b 1`.
    fn describe(&self, environment: &str, rolling: bool) -> String {
        format!(
            "{environment} {}: {}",
            if rolling {
                "versions"
            } else {
                "newest versions"
            },
            self.versions
                .iter()
                .map(|(n, v)| format!("{n} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Installs the targets in one apt run; roles `--version` brought in, or
/// that were automatic, become manual.
fn install_targets(
    apt: &mut dyn PackageManager,
    targets: &Targets,
    before: &BTreeMap<String, String>,
    automatic: &BTreeSet<String>,
    listener: &mut dyn Listener,
) -> Result<()> {
    // --mark-auto keeps automatic packages automatic (apt would mark
    // every named package manual) and leaves manual ones manual.
    let mut args = strings(&["install", "-y", "--mark-auto", "--allow-downgrades"]);
    args.extend(targets.versions.iter().map(|(n, v)| format!("{n}={v}")));
    apt.run(Purpose::Change, "apt-get", &args, listener)?;
    let new_roles: Vec<String> = targets
        .roles
        .iter()
        .filter(|r| !before.contains_key(*r) || automatic.contains(*r))
        .cloned()
        .collect();
    if !new_roles.is_empty() {
        let mut mark = strings(&["manual"]);
        mark.extend(new_roles);
        apt.run(Purpose::Change, "apt-mark", &mark, listener)?;
    }
    Ok(())
}

/// `apt-get autoremove --purge`, then the purge of the environment's
/// packages an earlier run only removed.
fn autoremove(
    apt: &mut dyn PackageManager,
    index: &Index,
    listener: &mut dyn Listener,
) -> Result<()> {
    apt.run(
        Purpose::Change,
        "apt-get",
        &strings(&["autoremove", "--purge", "-y"]),
        listener,
    )?;
    purge_removed(apt, index, listener)
}

/// Holds the environment's installed packages (the runtime excepted) at
/// their versions until the next plain upgrade.
fn pin(
    root: &Path,
    version: &str,
    index: &Index,
    after: &BTreeMap<String, String>,
    listener: &mut dyn Listener,
) -> Result<()> {
    let held: BTreeMap<String, String> = after
        .iter()
        .filter(|(name, _)| index.contains(name) && *name != RUNTIME)
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    write_pin(root, version, &held)?;
    listener.info(&format!(
        "pinned {} package(s) at these versions in {ROLLBACK_PIN}; \
         a plain `confpack upgrade` follows the environment again",
        held.len()
    ));
    Ok(())
}

/// The installed packages confpack configures (those with a directory in
/// `/usr/share/confpack`), sorted.
fn configured_packages(root: &Path, installed: &BTreeMap<String, String>) -> Vec<String> {
    let share = rooted(root, Path::new("/usr/share/confpack"));
    let mut names: Vec<String> = std::fs::read_dir(&share)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| installed.contains_key(name))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Configures `names` again, in order; returns the failures. A person who
/// quits (or a signal) ends the whole run: the next packages are not
/// asked.
fn configure_again(
    names: &[String],
    reconfigure: &mut dyn Reconfigure,
    changes: &mut Changes,
    listener: &mut dyn Listener,
) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    for name in names {
        match reconfigure.reconfigure(name, listener) {
            Ok(true) => changes.reconfigured.push(name.clone()),
            Ok(false) => {}
            Err(
                error @ (Error::Cancelled
                | Error::CancelledAtEditedFile { .. }
                | Error::Ended { .. }),
            ) => return Err(error),
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers for each package in turn, recording who was asked.
    struct Scripted {
        outcomes: Vec<Result<bool>>,
        asked: Vec<String>,
    }

    impl Reconfigure for Scripted {
        fn reconfigure(&mut self, package: &str, _: &mut dyn Listener) -> Result<bool> {
            self.asked.push(package.to_string());
            self.outcomes.remove(0)
        }
    }

    #[test]
    fn a_quit_while_configuring_again_ends_the_run_and_asks_no_one_else() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut scripted = Scripted {
            outcomes: vec![Ok(true), Err(Error::Cancelled), Ok(true)],
            asked: Vec::new(),
        };
        let mut changes = Changes::default();
        let mut listener = crate::RecordingListener::default();
        let result = configure_again(&names, &mut scripted, &mut changes, &mut listener);
        assert!(matches!(result, Err(Error::Cancelled)));
        assert_eq!(scripted.asked, ["a", "b"]);
        assert_eq!(changes.reconfigured, ["a"]);
        // Quitting at an edited file's question is quitting too.
        let mut scripted = Scripted {
            outcomes: vec![Err(Error::CancelledAtEditedFile {
                path: "/etc/a.conf".into(),
            })],
            asked: Vec::new(),
        };
        let result = configure_again(&names, &mut scripted, &mut changes, &mut listener);
        assert!(matches!(result, Err(Error::CancelledAtEditedFile { .. })));
        assert_eq!(scripted.asked, ["a"]);

        // Another failure is collected and the others still run.
        let mut scripted = Scripted {
            outcomes: vec![Err(Error::Usage("broken".into())), Ok(false), Ok(true)],
            asked: Vec::new(),
        };
        let mut changes = Changes::default();
        let failures = configure_again(&names, &mut scripted, &mut changes, &mut listener)
            .expect("failures are collected");
        assert_eq!(failures, ["a: broken"]);
        assert_eq!(scripted.asked, ["a", "b", "c"]);
        assert_eq!(changes.reconfigured, ["c"]);
    }

    #[test]
    fn the_source_line_reads_back() {
        let source = Source {
            url: "https://apt.example.com/confpack/".into(),
            environment: "production".into(),
            signed_by: "/etc/apt/keyrings/confpack.asc".into(),
        };
        assert_eq!(Source::parse(&source.render()), Some(source));
        assert_eq!(Source::parse("deb http://x/ a main\n"), None, "unsigned");
    }

    #[test]
    fn changes_are_told_apart() {
        let before: BTreeMap<String, String> = [("a", "1"), ("b", "2"), ("c", "1")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let after: BTreeMap<String, String> = [("a", "2"), ("b", "1"), ("d", "1")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let changes = Changes::between(&before, &after);
        assert_eq!(changes.upgraded, ["a 1 → 2"]);
        assert_eq!(changes.downgraded, ["b 2 → 1"]);
        assert_eq!(changes.installed, ["d 1"]);
        assert_eq!(changes.removed, ["c 1"]);
    }
}
