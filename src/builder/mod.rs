//! `confpack build`: a configuration repository → one `.deb` per package
//! and per role (a meta package), reproducibly.
//!
//! ```text
//! confpack.yml                          defaults: maintainer, section, priority, homepage, copyright
//! packages/<name>/control/control.yml   package, version, description, depends, …, environment, hooks, modes
//! packages/<name>/control/{preinst,postinst,prerm,postrm}   sh parts added to the generated scripts
//! packages/<name>/control/environment.xml                   the questions (default local copy)
//! packages/<name>/<path>                installed at /<path>
//! packages/<name>/<path>.j2             rendered to /<path> by `confpack configure`
//! roles/<role>.yml                      name, version, description, depends
//! ```
//!
//! Why it is built this way:
//! - everything is read and checked first (names, versions, paths,
//!   templates, environment documents, duplicate targets, dependencies)
//!   and every problem is reported with its file and line; nothing is
//!   written unless all is well;
//! - the version is the manifest's plus the commit that last changed the
//!   package (`1.2+git20261123.153012.3f2a1b9`), so it sorts upward over
//!   time, names its source, and stays put while the package is unchanged;
//! - the archives are written in-process and deterministically
//!   ([`crate::deb`]): same repository state, same bytes.
//!
//! Where each step lives ([`build`] calls them in this order; imports
//! point down this list's lower half, never back up):
//!
//! ```text
//! package        one package or role read: the phases below, in order
//!   fields       control fields from the manifest and confpack.yml
//!   files        the package tree: directories, symlinks, templates, files
//!   secrets      secrets/ encrypted to the recipients
//!   environment  the environment document, schema and package.yml
//!   scripts      script parts read here; the maintainer scripts, at the end
//! checks         across packages: documents valid, names, paths, dependencies
//! git            tracked files, changes, the commits that version packages
//! runtime_deb    the confpack-runtime .deb (not crate::runtime, the node side)
//!   manual       its man pages and shell completions, from the clap definitions
//! planned        Planned (a .deb but for its version) and Problems
//! manifest       YAML manifests with their lines; source: reading repository files
//! ```

pub mod checks;
pub mod declared;
pub mod environment;
pub mod fields;
pub mod files;
pub mod git;
pub mod manifest;
pub mod manual;
pub mod package;
pub mod planned;
pub mod progress;
pub mod runtime_deb;
pub mod scripts;
pub mod secrets;
pub mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Listener;
use crate::deb::{Deb, Entry};
use crate::error::{Error, Problem, Result};

use git::{Commit, Git};
use manifest::RepositoryConfig;
use package::RepositoryView;
use planned::{Planned, Problems};

/// What `confpack build` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The configuration repository.
    pub repo: PathBuf,
    /// Where the `.deb` files go.
    pub out: PathBuf,
    /// Also build `confpack-runtime`.
    pub runtime: bool,
    /// The binary the runtime package ships (default: this one).
    pub runtime_binary: Option<PathBuf>,
    /// Package names that exist besides the repository's, one a line.
    pub known_packages: Option<PathBuf>,
    /// Check that every dependency exists somewhere.
    pub check_dependencies: bool,
    /// Replaces `git<date>.<time>.<sha>` in versions (required without git).
    pub version_suffix: Option<String>,
    /// Build from a work tree with uncommitted changes.
    pub allow_dirty: bool,
    /// `SOURCE_DATE_EPOCH`: the mtime of every file, when set.
    pub source_date_epoch: Option<i64>,
    /// Packages built at once.
    pub jobs: usize,
}

/// What a build wrote.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub written: Vec<PathBuf>,
}

/// A package with its version decided.
struct Versioned {
    planned: Planned,
    mtime: u64,
    /// For the changelog: where it was built from.
    origin: String,
    /// Already has its scripts and documentation (the runtime).
    complete: bool,
}

/// Builds the repository.
pub fn build(options: &Options, listener: &mut dyn Listener) -> Result<Report> {
    let repository = Repository::open(options, listener)?;
    let planned = plan(&repository, options, listener)?;
    let mut versioned = version(&planned, repository.git.as_ref(), options)?;
    let head_time = repository.head_time()?;
    if options.runtime {
        let runtime = versioned_runtime(&repository, options, &versioned, head_time, listener)?;
        versioned.push(runtime);
    }
    let written = write_all(&versioned, &repository.config, options, listener)?;
    listener.info(&format!(
        "built {} package(s) in {}",
        written.len(),
        options.out.display()
    ));
    Ok(Report { written })
}

/// The configuration repository as the build finds it.
struct Repository {
    config: RepositoryConfig,
    /// The problems of `confpack.yml`'s values, reported with the others.
    config_problems: Vec<Problem>,
    git: Option<Git>,
    /// Every file git tracks (with --allow-dirty: and the work tree's).
    tracked: Option<BTreeSet<String>>,
}

impl Repository {
    /// Opens `options.repo`, refusing what cannot be built at all: no
    /// packages or roles, or no way to version them.
    fn open(options: &Options, listener: &mut dyn Listener) -> Result<Repository> {
        let repo = options.repo.as_path();
        let (config, config_problems) = read_config(repo)?;
        let git = Git::open(repo);
        let has_sources = repo.join("packages").is_dir() || repo.join("roles").is_dir();
        if !has_sources && !options.runtime {
            return Err(Error::Usage(format!(
                "{}: no packages/ or roles/ directory; is this a configuration repository?",
                repo.display()
            )));
        }
        if git.is_none() && options.version_suffix.is_none() && has_sources {
            return Err(Error::Usage(format!(
                "{} is not in a git work tree, so there is no commit to version the packages by; \
                 commit it to git, or pass --version-suffix SUFFIX (versions become <version>+SUFFIX) \
                 and set SOURCE_DATE_EPOCH for the file times",
                repo.display()
            )));
        }
        if let Some(git) = &git
            && options.version_suffix.is_none()
            && git.is_shallow()
        {
            listener.warning(
            "the repository is a shallow clone: packages unchanged within its history get the oldest commit it has, not the one that last changed them; fetch the full history (git fetch --unshallow)",
            );
        }
        let tracked = match &git {
            Some(git) => Some(git.files(options.allow_dirty)?),
            None => None,
        };
        Ok(Repository {
            config,
            config_problems,
            git,
            tracked,
        })
    }

    /// When the checked-out commit was made; `None` without git.
    fn head_time(&self) -> Result<Option<i64>> {
        match &self.git {
            Some(git) => Ok(Some(git.head()?.time)),
            None => Ok(None),
        }
    }

    /// The files git tracks under `packages/<name>/`, relative to it;
    /// `None` without git.
    fn package_files(&self, name: &str) -> Option<Vec<String>> {
        let tracked = self.tracked.as_ref()?;
        let prefix = format!("packages/{name}/");
        Some(
            tracked
                .range(prefix.clone()..)
                .take_while(|p| p.starts_with(&prefix))
                .map(|p| p[prefix.len()..].to_string())
                .collect(),
        )
    }
}

/// Reads and checks every package and role, then the repository as a
/// whole; every problem at once, or the packages ready for versions.
fn plan(
    repository: &Repository,
    options: &Options,
    listener: &mut dyn Listener,
) -> Result<Vec<Planned>> {
    let mut problems = Problems::default();
    problems.extend(repository.config_problems.iter().cloned());
    let mut planned = Vec::new();
    for result in plan_packages(repository, options)?
        .into_iter()
        .chain(plan_roles(repository, options)?)
    {
        match result {
            Ok(package) => planned.push(package),
            Err(found) => problems.extend(found),
        }
    }
    problems.extend(checks::validate_environments(&planned));
    problems.extend(checks::check_names(&planned));
    problems.extend(checks::check_targets(&planned));
    if options.check_dependencies {
        let known = checks::known_packages(options.known_packages.as_deref(), listener)?;
        problems.extend(checks::check_dependencies(
            &planned,
            known.as_ref(),
            listener,
        ));
    }
    if let Some(git) = &repository.git {
        problems.extend(uncommitted(git, &planned, options, listener)?);
    }
    problems.finish(planned).map_err(Error::Invalid)
}

/// Every package directory, read on `options.jobs` threads.
fn plan_packages(
    repository: &Repository,
    options: &Options,
) -> Result<Vec<std::result::Result<Planned, Vec<Problem>>>> {
    let names = package_names(&options.repo, repository.tracked.as_ref())?;
    let plan_one = |name: &String| {
        let context = RepositoryView {
            repo: &options.repo,
            config: &repository.config,
            files: repository.package_files(name),
            tracked: repository.tracked.as_ref(),
        };
        package::plan_package(&context, name)
    };
    Ok(parallel(&names, options.jobs.max(1), plan_one, |_| {}))
}

/// Every package of the repository at `repo` as the build reads it (its
/// files, templates, environment document and `package.yml`, as its
/// `.deb` ships them; no version), from the directory as it is, without
/// git: `confpack plan` renders what configure would from them. Any
/// problem a build would report stops it.
pub fn read_packages(repo: &Path, jobs: usize) -> Result<Vec<Planned>> {
    let (config, config_problems) = read_config(repo)?;
    let mut problems = Problems::default();
    problems.extend(config_problems);
    let names = package_names(repo, None)?;
    let plan_one = |name: &String| {
        let context = RepositoryView {
            repo,
            config: &config,
            files: None,
            tracked: None,
        };
        package::plan_package(&context, name)
    };
    let mut planned = Vec::new();
    for result in parallel(&names, jobs.max(1), plan_one, |_| {}) {
        match result {
            Ok(package) => planned.push(package),
            Err(found) => problems.extend(found),
        }
    }
    problems.finish(planned).map_err(Error::Invalid)
}

/// Every role file.
fn plan_roles(
    repository: &Repository,
    options: &Options,
) -> Result<Vec<std::result::Result<Planned, Vec<Problem>>>> {
    Ok(role_files(&options.repo, repository.tracked.as_ref())?
        .iter()
        .map(|file| package::plan_role(&options.repo, &repository.config, file))
        .collect())
}

/// Uncommitted changes that would end up in a package: a problem, or a
/// warning with --allow-dirty.
fn uncommitted(
    git: &Git,
    planned: &[Planned],
    options: &Options,
    listener: &mut dyn Listener,
) -> Result<Option<Problem>> {
    let changed = relevant_changes(git, planned, options)?;
    if changed.is_empty() {
        return Ok(None);
    }
    if options.allow_dirty {
        listener.warning(&format!(
            "building uncommitted changes (--allow-dirty): {}; the versions name the last commits, not this content",
            changed.join(", ")
        ));
        return Ok(None);
    }
    Ok(Some(Problem {
        file: options.repo.display().to_string(),
        line: None,
        message: format!(
            "uncommitted changes: {}; commit them (the versions name commits), or pass --allow-dirty",
            changed.join(", ")
        ),
    }))
}

/// `confpack-runtime`, from the binary that ships it.
fn versioned_runtime(
    repository: &Repository,
    options: &Options,
    versioned: &[Versioned],
    head_time: Option<i64>,
    listener: &mut dyn Listener,
) -> Result<Versioned> {
    let binary = match &options.runtime_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|e| Error::io("confpack", e))?,
    };
    let maintainer = repository
        .config
        .maintainer
        .clone()
        .or_else(|| {
            versioned
                .first()
                .map(|v| v.planned.deb.control.maintainer.clone())
        })
        .ok_or_else(|| {
            Error::Usage(
                "confpack-runtime needs a maintainer: set `maintainer` in the repository's confpack.yml".into(),
            )
        })?;
    let copyright = copyright_text(&repository.config, &maintainer);
    let mtime = runtime_mtime(&binary, head_time, options);
    let deb = runtime_deb::package(
        &binary,
        env!("CARGO_PKG_VERSION"),
        &maintainer,
        &copyright,
        mtime,
        listener,
    )?;
    let manifest = manifest::Located {
        file: binary.display().to_string(),
        text: String::new(),
    };
    Ok(Versioned {
        planned: Planned::new(runtime_deb::PACKAGE, false, manifest, deb),
        mtime,
        origin: String::new(),
        complete: true,
    })
}

/// The runtime's content is the binary, not the repository: its file
/// times follow the binary, so one binary published from several commits
/// is the same .deb (same version, same bytes).
fn runtime_mtime(binary: &Path, head_time: Option<i64>, options: &Options) -> u64 {
    let binary_time = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    options
        .source_date_epoch
        .or(binary_time)
        .or(head_time)
        .unwrap_or(0)
        .max(0) as u64
}

/// Assembles and writes every package into `options.out`.
fn write_all(
    versioned: &[Versioned],
    config: &RepositoryConfig,
    options: &Options,
    listener: &mut dyn Listener,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    let total = versioned.len() as u64;
    parallel(
        versioned,
        options.jobs.max(1),
        |item| assemble_and_write(item, config, &options.out),
        |done| listener.progress(done as u64, total),
    )
    .into_iter()
    .collect()
}

/// `confpack.yml` (defaults when there is none), and the problems of its
/// values.
fn read_config(repo: &Path) -> Result<(RepositoryConfig, Vec<Problem>)> {
    let file = repo.join("confpack.yml").display().to_string();
    match manifest::read(repo, "confpack.yml") {
        Ok(text) => {
            let config: RepositoryConfig =
                manifest::parse(&file, &text).map_err(|p| Error::Invalid(vec![p]))?;
            let located = manifest::Located { file, text };
            let problems = fields::check_defaults(&config, &located).into();
            Ok((config, problems))
        }
        Err(e) if e.is_not_found() => Ok((RepositoryConfig::default(), Vec::new())),
        Err(e) => Err(Error::at(file, None, e.to_string())),
    }
}

/// Directory names under `packages/`.
fn package_names(repo: &Path, tracked: Option<&BTreeSet<String>>) -> Result<Vec<String>> {
    let dir = repo.join("packages");
    if let Ok(metadata) = std::fs::symlink_metadata(&dir)
        && metadata.file_type().is_symlink()
    {
        return Err(Error::at(
            dir.display().to_string(),
            None,
            "packages/ is a symlink; the package trees must be inside the repository",
        ));
    }
    let mut names = BTreeSet::new();
    match tracked {
        Some(tracked) => {
            for path in tracked.range("packages/".to_string()..) {
                let Some(rest) = path.strip_prefix("packages/") else {
                    break;
                };
                if let Some((name, _)) = rest.split_once('/') {
                    names.insert(name.to_string());
                }
            }
        }
        None => {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return Ok(Vec::new());
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    names.insert(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
    }
    for name in &names {
        let path = dir.join(name);
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_dir());
        if !is_dir {
            return Err(Error::at(
                path.display().to_string(),
                None,
                "a package must be a directory inside the repository, not a symlink",
            ));
        }
    }
    Ok(names.into_iter().collect())
}

/// `*.yml` files under `roles/`.
fn role_files(repo: &Path, tracked: Option<&BTreeSet<String>>) -> Result<Vec<String>> {
    let mut files = BTreeSet::new();
    match tracked {
        Some(tracked) => {
            for path in tracked.range("roles/".to_string()..) {
                let Some(rest) = path.strip_prefix("roles/") else {
                    break;
                };
                if !rest.contains('/') && rest.ends_with(".yml") {
                    files.insert(rest.to_string());
                }
            }
        }
        None => {
            let dir = repo.join("roles");
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return Ok(Vec::new());
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".yml") && entry.file_type().is_ok_and(|t| t.is_file()) {
                    files.insert(name);
                }
            }
        }
    }
    Ok(files.into_iter().collect())
}

/// Uncommitted changes that would end up in a package.
fn relevant_changes(git: &Git, planned: &[Planned], options: &Options) -> Result<Vec<String>> {
    let out_prefix = std::path::absolute(&options.out)
        .ok()
        .zip(std::path::absolute(&options.repo).ok())
        .and_then(|(out, repo)| {
            out.strip_prefix(&repo)
                .ok()
                .map(|p| format!("{}/", p.display()))
        });
    let external: BTreeSet<&str> = planned
        .iter()
        .flat_map(|p| p.history.iter())
        .map(String::as_str)
        .collect();
    Ok(git
        .changed_paths()?
        .into_iter()
        .filter(|path| out_prefix.as_ref().is_none_or(|o| !path.starts_with(o)))
        .filter(|path| {
            path.starts_with("packages/")
                || path.starts_with("roles/")
                || external.contains(path.as_str())
        })
        .collect())
}

/// Decides every version: `<version>+git<date>.<time>.<sha7>` of the last
/// commit that touched the package, or `<version>+<suffix>`.
fn version(planned: &[Planned], git: Option<&Git>, options: &Options) -> Result<Vec<Versioned>> {
    let commits = match (git, &options.version_suffix) {
        (Some(git), None) => last_commits(planned, git)?,
        _ => BTreeMap::new(),
    };
    planned
        .iter()
        .map(|package| versioned(package, commits.get(&package.name), options))
        .collect()
}

/// The last commit that changed each package (its history paths), HEAD
/// for one no commit changed.
fn last_commits(planned: &[Planned], git: &Git) -> Result<BTreeMap<String, Commit>> {
    let wanted: BTreeSet<String> = planned.iter().map(|p| p.name.clone()).collect();
    // History entries are exact files or `packages/<name>/`.
    let mut index: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in planned {
        for path in &package.history {
            index
                .entry(path.clone())
                .or_default()
                .push(package.name.clone());
        }
    }
    let lookup = |path: &str| -> Vec<String> {
        let mut names = index.get(path).cloned().unwrap_or_default();
        let mut parts = path.splitn(3, '/');
        if let (Some(first), Some(second), Some(_)) = (parts.next(), parts.next(), parts.next())
            && let Some(more) = index.get(&format!("{first}/{second}/"))
        {
            names.extend(more.iter().cloned());
        }
        names
    };
    let mut found = git.last_changes(&wanted, &lookup)?;
    let head = git.head()?;
    for name in &wanted {
        found.entry(name.clone()).or_insert_with(|| head.clone());
    }
    Ok(found)
}

/// `package` with its version: from `commit`, or the suffix of the
/// options, checked with Debian's rules.
fn versioned(package: &Planned, commit: Option<&Commit>, options: &Options) -> Result<Versioned> {
    let mut package = package.clone();
    let base = package.deb.control.version.clone();
    let (version, time, origin) = match (&options.version_suffix, commit) {
        (Some(suffix), _) => (
            format!("{base}+{suffix}"),
            options.source_date_epoch.unwrap_or(0),
            format!("the configuration repository,\n    version suffix {suffix}"),
        ),
        (None, Some(commit)) => (
            format!(
                "{base}+git{}.{}",
                compact_utc(commit.time),
                commit.sha.get(..7).unwrap_or(&commit.sha)
            ),
            options.source_date_epoch.unwrap_or(commit.time),
            format!("the configuration repository,\n    commit {}", commit.sha),
        ),
        (None, None) => (
            base.clone(),
            options.source_date_epoch.unwrap_or(0),
            String::new(),
        ),
    };
    crate::deb::control::check_version(&version).map_err(|message| {
        Error::at(
            package.manifest.file.clone(),
            package.manifest.key_line("version"),
            message,
        )
    })?;
    package.deb.control.version = version;
    Ok(Versioned {
        planned: package,
        mtime: time.max(0) as u64,
        origin,
        complete: false,
    })
}

/// Adds the scripts and documentation, then writes the `.deb`.
fn assemble_and_write(item: &Versioned, config: &RepositoryConfig, out: &Path) -> Result<PathBuf> {
    let mut deb = item.planned.deb.clone();
    if !item.complete {
        if !item.planned.is_role {
            for (name, script) in scripts::generate(
                &item.planned.name,
                item.planned.configured(),
                &placed(&item.planned),
                &item.planned.parts,
            ) {
                deb.scripts.insert(name, script);
            }
        }
        let copyright = copyright_text(config, &deb.control.maintainer);
        add_documentation(&mut deb, &copyright, &item.origin, item.mtime as i64)?;
    }
    write_deb(&deb, item.mtime, out)
}

/// What a package puts in place: every file and symlink it ships outside
/// its own `/usr/share/confpack/<pkg>/`, and the targets it renders.
fn placed(planned: &Planned) -> scripts::Placed {
    let own = format!("{}/", planned::share_dir(&planned.name));
    scripts::Placed {
        shipped: planned
            .deb
            .entries
            .iter()
            .filter(|(path, entry)| !matches!(entry, Entry::Directory) && !path.starts_with(&own))
            .map(|(path, _)| path.clone())
            .collect(),
        rendered: planned.rendered.clone(),
    }
}

/// Writes `deb` into `dir` under its Debian file name, atomically.
pub fn write_deb(deb: &Deb, mtime: u64, dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(deb.file_name());
    let temp = tempfile::Builder::new()
        .prefix(".confpack-build-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let writer = BufWriter::new(temp.as_file());
    let mut writer = deb.write(writer, mtime).map_err(|e| Error::io(&path, e))?;
    writer.flush().map_err(|e| Error::io(&path, e))?;
    drop(writer);
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(temp.path(), e))?;
    temp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
    Ok(path)
}

fn copyright_text(config: &RepositoryConfig, maintainer: &str) -> String {
    match &config.copyright {
        Some(text) => format!("{}\n", text.trim_end()),
        None => format!(
            "This package was built by confpack from a configuration repository.\n\n\
             Copyright: {maintainer}\n\
             License: see the configuration repository it was built from.\n"
        ),
    }
}

/// `/usr/share/doc/<pkg>/copyright` and the changelog Debian asks every
/// package to carry.
pub fn add_documentation(deb: &mut Deb, copyright: &str, origin: &str, time: i64) -> Result<()> {
    let package = deb.control.package.clone();
    let doc = format!("/usr/share/doc/{package}");
    deb.entries.insert(
        format!("{doc}/copyright"),
        Entry::File {
            data: copyright.as_bytes().to_vec(),
            mode: 0o644,
        },
    );
    let origin = if origin.is_empty() {
        "confpack".to_string()
    } else {
        origin.to_string()
    };
    let changelog = format!(
        "{package} ({}) unstable; urgency=medium\n\n  * Built by confpack from {origin}.\n\n -- {}  {}\n",
        deb.control.version,
        deb.control.maintainer,
        rfc2822(time)
    );
    // A version with a Debian revision is not native.
    let name = if deb.control.version.contains('-') {
        "changelog.Debian.gz"
    } else {
        "changelog.gz"
    };
    let data = crate::deb::gzip_best(changelog.as_bytes()).map_err(|e| Error::io(&doc, e))?;
    deb.entries
        .insert(format!("{doc}/{name}"), Entry::File { data, mode: 0o644 });
    Ok(())
}

/// `20261123.153012` (UTC): sorts like the time it names.
pub fn compact_utc(time: i64) -> String {
    crate::debian::date::compact_utc(time)
}

/// `Mon, 23 Nov 2026 15:30:12 +0000`, the changelog's date format.
pub fn rfc2822(time: i64) -> String {
    crate::debian::date::format_rfc2822(time)
}

/// Runs `work` over `items` on `jobs` threads, keeping the order; `tick`
/// is called on this thread after each item with the count done.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut tick: impl FnMut(usize),
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(items.len()).max(1) {
            let sender = sender.clone();
            let next = &next;
            let work = &work;
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        break;
                    };
                    if sender.send((index, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (done, (index, result)) in receiver.iter().enumerate() {
            results[index] = Some(result);
            tick(done + 1);
        }
    });
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(compact_utc(0), "19700101.000000");
        assert_eq!(compact_utc(1_795_456_617), "20261123.175657");
        assert_eq!(rfc2822(1_795_456_617), "Mon, 23 Nov 2026 17:56:57 +0000");
        assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn parallel_work_keeps_the_order() {
        let items: Vec<u32> = (0..100).collect();
        let mut ticks = 0;
        let out = parallel(&items, 4, |x| x * 2, |_| ticks += 1);
        assert_eq!(out, (0..100).map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(ticks, 100);
    }
}
