//! What there is to plan: the repository's packages that have an
//! environment document, installed in a temp root exactly as their
//! `.deb`s install them (`/usr/share/confpack/<name>/`: templates,
//! `package.yml`, the document), so that configure's own functions read
//! them; each document read once; and every environment × machine, with
//! each environment's "no machine matched" case.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::builder::planned::{Planned, share_dir};
use crate::deb::Entry;
use crate::derive::EnvironmentScope;
use crate::env::model::{Document, Environment};
use crate::env::{self, Validation};
use crate::error::{Error, Result};
use crate::package::Package;
use crate::questions::Owned;

/// The packages as a node would have them installed.
pub struct Staged {
    _dir: tempfile::TempDir,
    /// The temp root they are installed under.
    pub root: PathBuf,
    pub packages: Vec<StagedPackage>,
    pub documents: Vec<Document>,
}

/// One package with an environment document.
pub struct StagedPackage {
    pub package: Package,
    /// Index into [`Staged::documents`].
    pub document: usize,
    pub owned: Owned,
    /// (path under the temp root, repository-relative source) of each
    /// shipped file, to name the source in messages.
    pub sources: Vec<(String, String)>,
}

/// An environment as expressions see it (computed once for all its
/// machines), and its values without the machines (what one machine's
/// selection needs of it).
pub struct StagedEnvironment {
    pub values: Environment,
    pub scope: EnvironmentScope,
}

impl StagedEnvironment {
    pub fn of(document: &Document, environment: &Environment) -> StagedEnvironment {
        StagedEnvironment {
            // Without its machines: never copied.
            values: Environment {
                context: environment.context.clone(),
                values: environment.values.clone(),
                debconf: environment.debconf.clone(),
                machines: Vec::new(),
                line: environment.line,
            },
            scope: EnvironmentScope::of(document, environment),
        }
    }
}

/// The targets of one environment of one document: planned together,
/// so that only one environment's scope is held at a time.
#[derive(Debug, Clone)]
pub struct Group {
    pub document: usize,
    pub environment: usize,
    /// Machine by machine (the no-machine case first), each package.
    pub units: Vec<Unit>,
}

/// One thing to plan: a package on a machine (`None`: no machine
/// matched) of an environment.
#[derive(Debug, Clone, Copy)]
pub struct Unit {
    pub package: usize,
    pub environment: usize,
    pub machine: Option<usize>,
}

/// The packages installed under a temp root, their documents not read
/// yet: installing reads every shipped file (a document whole), loading
/// builds the documents' models, and a plan against a revision installs
/// both revisions before it loads either, so that the two never meet.
pub struct Installed {
    dir: tempfile::TempDir,
    root: PathBuf,
    /// Each package with a document: its name, the document's key (file
    /// and schema: read once), its name in messages, its files' sources.
    packages: Vec<InstalledPackage>,
}

struct InstalledPackage {
    name: String,
    document: (PathBuf, Option<PathBuf>),
    shown: String,
    sources: Vec<(String, String)>,
}

/// Reads the repository at `repo` like a build and installs its packages
/// that have an environment document.
pub fn install(repo: &Path, jobs: usize) -> Result<Installed> {
    if !repo.join("packages").is_dir() {
        return Err(Error::Usage(format!(
            "{}: no packages/ directory; is this a configuration repository?",
            repo.display()
        )));
    }
    let planned = crate::builder::read_packages(repo, jobs)?;
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let root = dir.path().to_path_buf();
    let mut packages = Vec::new();
    for planned in planned.into_iter().filter(|p| p.configured()) {
        let sources = install_files(&root, repo, &planned)?;
        if let Some((file, shown, schema)) = planned.environment {
            // Named as in the repository, the same at every revision.
            let shown = Path::new(&shown)
                .strip_prefix(repo)
                .map(|relative| relative.display().to_string())
                .unwrap_or(shown);
            packages.push(InstalledPackage {
                name: planned.name,
                document: (file, schema),
                shown,
                sources,
            });
        }
    }
    Ok(Installed {
        dir,
        root,
        packages,
    })
}

impl Installed {
    /// Reads each document once, and each package as configure would.
    pub fn load(self) -> Result<Staged> {
        let mut documents: Vec<Document> = Vec::new();
        let mut loaded: BTreeMap<(PathBuf, Option<PathBuf>), usize> = BTreeMap::new();
        let mut packages = Vec::new();
        for installed in self.packages {
            let package = Package::load(&self.root, &installed.name)?;
            let document = match loaded.get(&installed.document) {
                Some(index) => *index,
                None => {
                    documents.push(read_document(&self.root, &package, &installed.shown)?);
                    loaded.insert(installed.document, documents.len() - 1);
                    documents.len() - 1
                }
            };
            let owned = crate::questions::of_package(&package, &documents[document])?;
            packages.push(StagedPackage {
                package,
                document,
                owned,
                sources: installed.sources,
            });
        }
        Ok(Staged {
            _dir: self.dir,
            root: self.root,
            packages,
            documents,
        })
    }
}

/// What a package's results depend on besides one environment: its
/// installed files but the document, and the document's name and
/// questions (their lines included: messages quote them). The rest of
/// the document is other environments.
pub fn package_inputs(staged: &Staged, package: &StagedPackage) -> Result<String> {
    let document = &staged.documents[package.document];
    let package = &package.package;
    let local = package.local_document(&staged.root);
    let mut fingerprint = crate::files::Fingerprint::new("plan package");
    for entry in crate::files::walk(&package.dir)? {
        if entry.file_type.is_dir() || entry.path == local {
            continue;
        }
        let data = std::fs::read(&entry.path).map_err(|e| Error::io(&entry.path, e))?;
        fingerprint.add_path(&entry.relative).add(&data);
    }
    fingerprint
        .add_str(&document.origin)
        .add_debug(&document.templates);
    Ok(fingerprint.finish())
}

/// What the results of `package` on `environment`'s machines depend on:
/// equal fingerprints, equal results.
pub fn inputs(package_inputs: &str, environment: &Environment) -> String {
    let mut fingerprint = crate::files::Fingerprint::new("plan environment");
    fingerprint.add_str(package_inputs).add_debug(environment);
    fingerprint.finish()
}

/// The package's document as installed, validated like configure's
/// local copy (against the package's schema when it names one).
fn read_document(root: &Path, package: &Package, shown: &str) -> Result<Document> {
    let local = package.local_document(root);
    let schema = package.schema(root);
    let validation = match &schema {
        Some(schema) => Validation::File(schema),
        None => Validation::Builtin,
    };
    env::validate(&local, shown, validation)
}

/// Writes the package's confpack files under `root`; returns where each
/// came from in the repository.
fn install_files(root: &Path, repo: &Path, planned: &Planned) -> Result<Vec<(String, String)>> {
    let share = format!("{}/", share_dir(&planned.name));
    let mut sources = Vec::new();
    for (path, entry) in planned.deb.entries.range(share.clone()..) {
        if !path.starts_with(&share) {
            break;
        }
        let target = crate::files::rooted(root, Path::new(path));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        match entry {
            Entry::Directory => {
                std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?
            }
            Entry::File { data, mode } => {
                std::fs::write(&target, data).map_err(|e| Error::io(&target, e))?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))
                    .map_err(|e| Error::io(&target, e))?;
            }
            Entry::Symlink { target: link } => {
                std::os::unix::fs::symlink(link, &target).map_err(|e| Error::io(&target, e))?
            }
        }
        if let Some(source) = planned.sources.get(path) {
            let source = Path::new(source)
                .strip_prefix(repo)
                .map(|relative| relative.display().to_string())
                .unwrap_or_else(|_| source.clone());
            sources.push((target.display().to_string(), source));
        }
    }
    // Longest first: a path is never replaced by a shorter one it starts with.
    sources.sort_by_key(|(staged, _)| std::cmp::Reverse(staged.len()));
    Ok(sources)
}

/// Every environment (of `environments`, all when empty) × machine (of
/// `machines`, all when empty, with the no-machine case) × package, by
/// environment.
pub fn groups(staged: &Staged, environments: &[String], machines: &[String]) -> Result<Vec<Group>> {
    for wanted in environments {
        let known = staged
            .documents
            .iter()
            .any(|d| d.environments.iter().any(|e| &e.context == wanted));
        if !known {
            return Err(Error::Selection(format!(
                "no document of the repository has an environment {wanted}"
            )));
        }
    }
    for wanted in machines {
        let known = staged.documents.iter().any(|d| {
            d.environments.iter().any(|e| {
                (environments.is_empty() || environments.contains(&e.context))
                    && e.machines.iter().any(|m| m.is(wanted))
            })
        });
        if !known {
            return Err(Error::Selection(format!(
                "no machine {wanted} (matched exactly, by IP or host name) in the chosen environments"
            )));
        }
    }
    let mut groups = Vec::new();
    for (d, document) in staged.documents.iter().enumerate() {
        let packages: Vec<usize> = (0..staged.packages.len())
            .filter(|p| staged.packages[*p].document == d)
            .collect();
        for (e, environment) in document.environments.iter().enumerate() {
            if !environments.is_empty() && !environments.contains(&environment.context) {
                continue;
            }
            let mut chosen: Vec<Option<usize>> = Vec::new();
            if machines.is_empty() {
                chosen.push(None);
            }
            chosen.extend(
                environment
                    .machines
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| machines.is_empty() || machines.iter().any(|id| m.is(id)))
                    .map(|(m, _)| Some(m)),
            );
            let units = chosen
                .into_iter()
                .flat_map(|machine| {
                    packages.iter().map(move |&package| Unit {
                        package,
                        environment: e,
                        machine,
                    })
                })
                .collect();
            let group = Group {
                document: d,
                environment: e,
                units,
            };
            if !group.units.is_empty() {
                groups.push(group);
            }
        }
    }
    Ok(groups)
}
