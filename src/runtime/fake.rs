//! A recording fake [`PackageManager`] for the runtime's tests: a node's
//! dpkg and apt state in memory, answering the queries the runtime asks
//! and changing as apt would, so `install` and `upgrade` are tested
//! without root, apt or a repository. Every call is recorded as its
//! command line; tests assert the sequence.
//!
//! What it models is what the runtime's decisions read: versions and
//! dpkg states (`db:Status-Abbrev`), automatic marks, the environment's
//! index (with `Depends`, so apt pulls dependencies in as automatic and
//! `autoremove` takes what no manual package needs), dpkg's pending
//! journal (`apt-get check` asks for `dpkg --configure -a`), and commands
//! told to fail. The files the runtime keeps under the root (the apt
//! source, the fetched index, the rollback pin, `/usr/share/confpack`)
//! are real files in a temporary root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::Listener;
use crate::error::{Error, Result};
use crate::package::rooted;

use super::apt::{PackageManager, Purpose};
use super::{Reconfigure, SOURCES_LIST, Source};

/// Where the fake's fetched index is, under its root.
const INDEX: &str = "/var/lib/apt/lists/confpack_dists_test_main_binary-amd64_Packages";

/// A node, as apt and dpkg see it.
pub struct FakeNode {
    root: tempfile::TempDir,
    /// name → (version, dpkg state letter: `i`, `c`, `U`, `F`, …).
    pub packages: BTreeMap<String, (String, char)>,
    pub automatic: BTreeSet<String>,
    /// The environment's index: name → versions (ascending), each with
    /// the names it depends on.
    pub published: BTreeMap<String, Vec<(String, Vec<String>)>>,
    /// dpkg's journal is pending (a run was interrupted between two
    /// packages): `apt-get check` says so.
    pub interrupted: bool,
    /// Commands (`program args…` prefixes) that fail with this stderr.
    pub failing: Vec<(String, String)>,
    /// Every call, `program args…`, queries included.
    pub calls: Vec<String>,
    kinds: Vec<Purpose>,
}

impl FakeNode {
    /// A node with confpack's apt source and nothing installed.
    pub fn new() -> FakeNode {
        let root = tempfile::tempdir().expect("tempdir");
        let source = Source {
            url: "https://apt.example.com/".into(),
            environment: "test".into(),
            signed_by: "/etc/apt/keyrings/confpack.asc".into(),
        };
        let list = rooted(root.path(), Path::new(SOURCES_LIST));
        std::fs::create_dir_all(list.parent().expect("parent")).expect("mkdir");
        std::fs::write(&list, source.render()).expect("write source");
        FakeNode {
            root,
            packages: BTreeMap::new(),
            automatic: BTreeSet::new(),
            published: BTreeMap::new(),
            interrupted: false,
            failing: Vec::new(),
            calls: Vec::new(),
            kinds: Vec::new(),
        }
    }

    /// Publishes `name` at `version`, depending on `depends`.
    pub fn publish(&mut self, name: &str, version: &str, depends: &[&str]) -> &mut Self {
        let versions = self.published.entry(name.to_string()).or_default();
        versions.push((
            version.to_string(),
            depends.iter().map(|d| d.to_string()).collect(),
        ));
        versions.sort_by(|a, b| crate::debian::version::compare(&a.0, &b.0));
        self
    }

    /// Installs `name` at `version` (automatic or manual), as if done
    /// before the test.
    pub fn install(&mut self, name: &str, version: &str, automatic: bool) -> &mut Self {
        self.packages
            .insert(name.to_string(), (version.to_string(), 'i'));
        if automatic {
            self.automatic.insert(name.to_string());
        }
        self
    }

    /// Gives `name` a directory in `/usr/share/confpack`: confpack
    /// configures it.
    pub fn configured(&mut self, name: &str) -> &mut Self {
        let dir = self.path(&format!("/usr/share/confpack/{name}"));
        std::fs::create_dir_all(dir).expect("mkdir");
        self
    }

    /// Writes the index as `confpack update` would have fetched it.
    pub fn fetch(&mut self) -> &mut Self {
        let mut text = String::new();
        for (name, versions) in &self.published {
            for (version, depends) in versions {
                text.push_str(&format!("Package: {name}\nVersion: {version}\n"));
                if !depends.is_empty() {
                    text.push_str(&format!("Depends: {}\n", depends.join(", ")));
                }
                text.push('\n');
            }
        }
        let path = self.path(INDEX);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write index");
        self
    }

    /// `path` (absolute on the node) under the fake's root.
    pub fn path(&self, path: &str) -> PathBuf {
        rooted(self.root.path(), Path::new(path))
    }

    /// The calls that change the node or fetch (no queries).
    pub fn changes(&self) -> Vec<&str> {
        self.calls
            .iter()
            .zip(&self.kinds)
            .filter(|(_, kind)| **kind != Purpose::Query)
            .map(|(call, _)| call.as_str())
            .collect()
    }

    /// Installed packages and versions, as `name version`.
    pub fn state(&self) -> Vec<String> {
        self.packages
            .iter()
            .map(|(name, (version, state))| {
                let auto = if self.automatic.contains(name) {
                    " auto"
                } else {
                    ""
                };
                let state = if *state == 'i' {
                    String::new()
                } else {
                    format!(" [{state}]")
                };
                format!("{name} {version}{auto}{state}")
            })
            .collect()
    }

    fn depends_of(&self, name: &str, version: &str) -> Vec<String> {
        self.published
            .get(name)
            .and_then(|versions| versions.iter().find(|(v, _)| v == version))
            .map(|(_, depends)| depends.clone())
            .unwrap_or_default()
    }

    /// `apt-get install`: `name[=version]`, dependencies automatic.
    fn apt_install(&mut self, args: &[String]) -> Result<String> {
        let mark_auto = args.iter().any(|a| a == "--mark-auto");
        let mut pending: Vec<(String, Option<String>, bool)> = args
            .iter()
            .filter(|a| !a.starts_with('-') && *a != "install")
            .map(|spec| match spec.split_once('=') {
                Some((name, version)) => (name.to_string(), Some(version.to_string()), true),
                None => (spec.clone(), None, true),
            })
            .collect();
        while let Some((name, version, named)) = pending.pop() {
            let versions = self.published.get(&name);
            let version = match version.or_else(|| versions?.last().map(|(v, _)| v.clone())) {
                Some(version)
                    if versions.is_some_and(|vs| vs.iter().any(|(v, _)| *v == version)) =>
                {
                    version
                }
                _ => {
                    return Err(self.failure(
                        "apt-get install",
                        &format!("E: Unable to locate package {name}"),
                    ));
                }
            };
            let new = !self.packages.contains_key(&name);
            if new && (!named || mark_auto) {
                self.automatic.insert(name.clone());
            } else if named && !mark_auto {
                self.automatic.remove(&name);
            }
            for dependency in self.depends_of(&name, &version) {
                if !self.packages.contains_key(&dependency) {
                    pending.push((dependency, None, false));
                }
            }
            self.packages.insert(name, (version, 'i'));
        }
        Ok(String::new())
    }

    /// `apt-get autoremove`: automatic packages no manual one needs.
    fn autoremove(&mut self) {
        let mut needed: BTreeSet<String> = BTreeSet::new();
        let mut pending: Vec<String> = self
            .packages
            .iter()
            .filter(|(name, (_, state))| *state != 'c' && !self.automatic.contains(*name))
            .map(|(name, _)| name.clone())
            .collect();
        while let Some(name) = pending.pop() {
            if !needed.insert(name.clone()) {
                continue;
            }
            if let Some((version, _)) = self.packages.get(&name) {
                pending.extend(self.depends_of(&name, version));
            }
        }
        self.packages
            .retain(|name, (_, state)| needed.contains(name) || *state == 'c');
        self.automatic.retain(|name| needed.contains(name));
    }

    fn failure(&self, command: &str, stderr: &str) -> Error {
        Error::PackageManager {
            command: command.to_string(),
            status: "exit 100".into(),
            stderr: stderr.to_string(),
            hint: String::new(),
        }
    }

    fn answer(&mut self, program: &str, args: &[String]) -> Result<String> {
        let first = args.first().map(String::as_str).unwrap_or_default();
        match (program, first) {
            ("apt-get", "update") => Ok(String::new()),
            ("apt-get", "indextargets") => Ok(format!(
                "Sourcesentry: {}:1\nFilename: {}\n",
                SOURCES_LIST,
                self.path(INDEX).display()
            )),
            ("apt-get", "check") if self.interrupted => Err(self.failure(
                "apt-get check",
                "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.",
            )),
            ("apt-get", "check") => Ok(String::new()),
            ("apt-get", "install") => self.apt_install(args),
            ("apt-get", "autoremove") => {
                self.autoremove();
                Ok(String::new())
            }
            ("apt-get", "purge") => {
                for name in &args[2..] {
                    self.packages.remove(name);
                    self.automatic.remove(name);
                }
                Ok(String::new())
            }
            ("dpkg", "--configure") => {
                for (_, state) in self.packages.values_mut() {
                    if matches!(state, 'U' | 'F' | 'W' | 't') {
                        *state = 'i';
                    }
                }
                self.interrupted = false;
                Ok(String::new())
            }
            ("dpkg-query", "-W") => Ok(self
                .packages
                .iter()
                .map(|(name, (version, state))| format!("{name}\t{version}\ti{state} \n"))
                .collect()),
            ("apt-mark", "showauto") => Ok(self
                .automatic
                .iter()
                .map(|name| format!("{name}\n"))
                .collect()),
            ("apt-mark", "manual") => {
                for name in &args[1..] {
                    self.automatic.remove(name);
                }
                Ok(String::new())
            }
            _ => panic!("the fake does not know `{program} {}`", args.join(" ")),
        }
    }
}

impl PackageManager for FakeNode {
    fn run(
        &mut self,
        kind: Purpose,
        program: &str,
        args: &[String],
        _listener: &mut dyn Listener,
    ) -> Result<String> {
        let line = std::iter::once(program.to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        self.calls.push(line.clone());
        self.kinds.push(kind);
        if let Some((_, stderr)) = self.failing.iter().find(|(p, _)| line.starts_with(p)) {
            return Err(self.failure(&line, &stderr.clone()));
        }
        self.answer(program, args)
    }

    fn root(&self) -> &Path {
        self.root.path()
    }
}

/// Makes the error a fake configure fails with.
pub type Failure = fn() -> Error;

/// A recording fake [`Reconfigure`]: changes what it is told, fails as it
/// is told, records who was asked.
#[derive(Default)]
pub struct FakeReconfigure {
    /// Packages whose configuration changes.
    pub changing: BTreeSet<String>,
    /// Packages whose configure fails, with the error.
    pub failing: BTreeMap<String, Failure>,
    pub asked: Vec<String>,
}

impl Reconfigure for FakeReconfigure {
    fn reconfigure(&mut self, package: &str, _: &mut dyn Listener) -> Result<bool> {
        self.asked.push(package.to_string());
        match self.failing.get(package) {
            Some(error) => Err(error()),
            None => Ok(self.changing.contains(package)),
        }
    }
}
