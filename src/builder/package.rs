//! One package or role of the repository, read and checked: its manifest,
//! its files, templates, environment document and script parts, turned
//! into what the `.deb` will hold (everything but the version, which comes
//! from git later).
//!
//! [`plan_package`] is the list of phases, each a step of `Reading` that
//! hands its work to the module owning it: [`super::fields`] (control
//! fields), [`super::files`] (the package tree), [`super::secrets`],
//! [`super::environment`] (the document and `package.yml`),
//! [`super::scripts`] (script parts). Every problem is collected with its
//! file and line rather than stopping at the first, so one build run lists
//! all there is to fix.

use std::collections::BTreeSet;
use std::path::Path;

use crate::deb::control::{Control, check_package_name};
use crate::deb::{Deb, Entry};
use crate::error::Problem;

use super::environment::{self, References, Uses};
use super::fields;
use super::files::{self, Found, Tree};
use super::manifest::{Located, Manifest, RepositoryConfig, parse};
use super::planned::{Planned, Problems, problem_at, share_dir};
use super::runtime_deb;
use super::scripts;
use super::secrets::{self, Secrets};

/// Kept at its old path for callers outside the builder.
pub use super::source::MAX_FILE_BYTES;

/// What the repository looks like to one package.
pub struct RepositoryView<'a> {
    pub repo: &'a Path,
    pub config: &'a RepositoryConfig,
    /// Files under the package directory, relative to it; `None`: walk the
    /// directory (no git).
    pub files: Option<Vec<String>>,
    /// Every file git knows in the repository (to tell whether a shared
    /// environment document is committed); `None` without git.
    pub tracked: Option<&'a BTreeSet<String>>,
}

fn display(repo: &Path, relative: &str) -> String {
    repo.join(relative).display().to_string()
}

/// Reads a package directory.
pub fn plan_package(context: &RepositoryView<'_>, name: &str) -> Result<Planned, Vec<Problem>> {
    let (located, manifest) = read_manifest(context.repo, name)?;
    let mut reading = Reading::new(context, name, located, manifest);
    let files = reading.list_files();
    let references = reading.environment_references();
    let found = reading.files(&files, &references);
    reading.secrets(&found.secrets);
    reading.modes();
    reading.keep_local_edits();
    reading.questions();
    reading.declared();
    reading.environment(&references, &found);
    reading.script_parts();
    reading.lintian_override();
    reading.problems.finish(reading.planned)
}

/// `packages/<name>/control/control.yml`, parsed; a package without one
/// is a problem of its directory.
fn read_manifest(repo: &Path, name: &str) -> Result<(Located, Manifest), Vec<Problem>> {
    let dir = format!("packages/{name}");
    let relative = format!("{dir}/control/control.yml");
    let file = display(repo, &relative);
    let text = match super::manifest::read(repo, &relative) {
        Ok(text) => text,
        Err(e) if e.is_not_found() => {
            return Err(vec![problem_at(
                display(repo, &dir),
                format!(
                    "no control/control.yml ({e}); every package directory needs one (package, version, description, …)"
                ),
            )]);
        }
        Err(e) => return Err(vec![problem_at(file, e.to_string())]),
    };
    let located = Located { file, text };
    let manifest = parse(&located.file, &located.text).map_err(|problem| vec![problem])?;
    Ok((located, manifest))
}

/// A package being read: what it becomes, and what is wrong so far.
struct Reading<'a> {
    context: &'a RepositoryView<'a>,
    /// `packages/<name>`, repository-relative.
    dir: String,
    located: Located,
    manifest: Manifest,
    planned: Planned,
    problems: Problems,
}

impl<'a> Reading<'a> {
    /// Starts with the control fields.
    fn new(
        context: &'a RepositoryView<'a>,
        name: &str,
        located: Located,
        manifest: Manifest,
    ) -> Self {
        let dir = format!("packages/{name}");
        let mut problems = Problems::default();
        let shown_dir = display(context.repo, &dir);
        problems.extend(identity_problems(name, &shown_dir, &manifest, &located));
        let mut control = fields::control_fields(
            &manifest,
            &located,
            name,
            context.config,
            false,
            &mut problems,
        );
        control.description = package_description(&control.description, name);
        add_runtime_dependency(&mut control);
        let mut planned = Planned::new(name, false, located.clone(), Deb::new(control));
        planned.history = vec![format!("{dir}/"), "confpack.yml".into()];
        planned.questions = question_lines(&manifest.questions, &located);
        Reading {
            context,
            dir,
            located,
            manifest,
            planned,
            problems,
        }
    }

    /// The files of the package tree: git's, else what is on disk.
    fn list_files(&mut self) -> Vec<String> {
        if let Some(files) = &self.context.files {
            return files.clone();
        }
        match files::walk(&self.context.repo.join(&self.dir)) {
            Ok(files) => files,
            Err(problem) => {
                self.problems.push(problem);
                Vec::new()
            }
        }
    }

    fn control_dir(&self) -> String {
        format!("{}/control", self.dir)
    }

    fn environment_references(&mut self) -> References {
        let spec = self.manifest.environment.clone().unwrap_or_default();
        References::resolve(
            self.context.repo,
            &self.control_dir(),
            &spec,
            &self.located,
            &mut self.problems,
        )
    }

    fn files(&mut self, files: &[String], references: &References) -> Found {
        let control_files = references.control_files(&self.control_dir());
        let tree = Tree {
            repo: self.context.repo,
            dir: &self.dir,
            control_files: &control_files,
        };
        files::plan_files(&tree, files, &mut self.planned, &mut self.problems)
    }

    fn secrets(&mut self, files: &[(String, String)]) {
        if files.is_empty() {
            return;
        }
        let secrets = Secrets {
            repo: self.context.repo,
            config: self.context.config,
            manifest: &self.manifest,
            located: &self.located,
            control_dir: &self.control_dir(),
        };
        secrets::add_secrets(&secrets, files, &mut self.planned, &mut self.problems);
    }

    /// `modes:` in control.yml: target path → octal mode.
    fn modes(&mut self) {
        let located = &self.located;
        for (target, mode) in &self.manifest.modes {
            let line = located.value_line("modes", target);
            let Some(value) = parse_mode(&mode.0) else {
                self.problems.push(located.problem(
                    line,
                    format!("mode {:?} is not an octal mode like \"0640\"", mode.0),
                ));
                continue;
            };
            match self
                .planned
                .deb
                .entries
                .get_mut(&shipped_path(&self.planned, target))
            {
                Some(Entry::File { mode, .. }) => *mode = value,
                _ => self.problems.push(located.problem(
                    line,
                    format!("{target} is not a file or template target of this package"),
                )),
            }
        }
    }

    /// `keep-local-edits:` in control.yml: each a file this package
    /// renders (a template's or a secret's target).
    fn keep_local_edits(&mut self) {
        let located = &self.located;
        let mut seen = BTreeSet::new();
        for target in &self.manifest.keep_local_edits {
            let line = located.value_line("keep-local-edits", target);
            if !self.planned.rendered.contains(target) {
                self.problems.push(located.problem(
                    line,
                    format!(
                        "keep-local-edits: {target} is not a file this package renders \
                         (a template or secret target such as /etc/<name>/app.conf)"
                    ),
                ));
            } else if !seen.insert(target) {
                self.problems.push(
                    located.problem(line, format!("keep-local-edits: {target} is listed twice")),
                );
            }
        }
    }

    /// `questions:` in control.yml: keys of the package's own document
    /// (checked against it in [`super::checks::validate_environments`]),
    /// each once.
    fn questions(&mut self) {
        let mut seen = BTreeSet::new();
        for (key, line) in &self.planned.questions {
            if !seen.insert(key) {
                self.problems.push(
                    self.located
                        .problem(*line, format!("questions: {key} is listed twice")),
                );
            }
        }
    }

    /// `directories:`, `users:`, `services:`, … (see [`crate::declared`]).
    fn declared(&mut self) {
        self.planned.declared =
            super::declared::read(&self.manifest, &self.located, &mut self.problems);
    }

    fn environment(&mut self, references: &References, found: &Found) {
        let package = environment::PackageManifest {
            repo: self.context.repo,
            dir: &self.dir,
            tracked: self.context.tracked,
            manifest: &self.manifest,
            located: &self.located,
        };
        let uses = Uses {
            templates: found.templates,
            secrets: found.secrets.len(),
            hooks: false,
        };
        environment::add_environment(
            &package,
            references,
            uses,
            &mut self.planned,
            &mut self.problems,
        );
    }

    fn script_parts(&mut self) {
        for name in scripts::SCRIPT_NAMES {
            let relative = format!("{}/{name}", self.control_dir());
            match scripts::read_part(self.context.repo, &relative) {
                Ok(Some(part)) => {
                    self.planned.parts.insert(name.to_string(), part);
                }
                Ok(None) => {}
                Err(problem) => self.problems.push(problem),
            }
        }
    }

    fn lintian_override(&mut self) {
        if let Some((path, entry)) = lintian_override(&self.planned) {
            self.planned.deb.entries.insert(path, entry);
        }
    }
}

/// Each of `questions:`'s keys with its own line (a key listed twice has
/// two).
fn question_lines(questions: &[String], located: &Located) -> Vec<(String, Option<u64>)> {
    let mut after = located.key_line("questions").unwrap_or(1);
    questions
        .iter()
        .map(|key| {
            let line = located
                .text
                .lines()
                .enumerate()
                .skip(after as usize)
                .find(|(_, line)| line.contains(key.as_str()))
                .map(|(i, _)| i as u64 + 1);
            if let Some(line) = line {
                after = line;
            }
            (key.clone(), line.or_else(|| located.key_line("questions")))
        })
        .collect()
}

/// The package's name is its directory's, a valid Debian name; `name:`
/// is for roles.
fn identity_problems(
    name: &str,
    shown_dir: &str,
    manifest: &Manifest,
    located: &Located,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Err(message) = check_package_name(name) {
        problems.push(problem_at(
            shown_dir,
            format!("the directory name is the package name: {message}"),
        ));
    }
    if let Some(package) = &manifest.package
        && package.0 != name
    {
        problems.push(located.problem(
            located.key_line("package"),
            format!(
                "package {:?} differs from the directory name {name:?}; rename one so they match",
                package.0
            ),
        ));
    }
    if manifest.name.is_some() {
        problems.push(located.problem(
            located.key_line("name"),
            "`name` is for roles; a package's name is `package` (or the directory name)",
        ));
    }
    problems
}

/// Debian wants an extended description: a synopsis alone gets a line
/// saying what the package is.
fn package_description(description: &str, name: &str) -> String {
    if description.trim().lines().count() < 2 {
        format!(
            "{}\nA configuration package built by confpack from packages/{name}.",
            description.trim()
        )
    } else {
        description.to_string()
    }
}

/// Puts the runtime first in `Depends` unless it is listed: at least the
/// confpack that generated the scripts, which call its subcommands.
fn add_runtime_dependency(control: &mut Control) {
    let listed = control
        .relation("Depends")
        .iter()
        .any(|r| r.split(['(', ' ', '|', ':']).next() == Some(runtime_deb::PACKAGE));
    if listed {
        return;
    }
    for (field, list) in &mut control.relations {
        if field == "Depends" {
            list.insert(
                0,
                format!(
                    "{} (>= {})",
                    runtime_deb::PACKAGE,
                    env!("CARGO_PKG_VERSION")
                ),
            );
        }
    }
}

/// `"0640"` or `"0o640"` → 0o640; at most 0o7777.
fn parse_mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
}

/// The entry whose mode `modes:` sets for `target`: the encrypted secret,
/// the template, or the file itself.
fn shipped_path(planned: &Planned, target: &str) -> String {
    let secret = secrets::shipped_path(&planned.name, target);
    if planned.deb.entries.contains_key(&secret) {
        secret
    } else if planned.rendered.contains(target) {
        format!("{}/templates{target}.j2", share_dir(&planned.name))
    } else {
        target.to_string()
    }
}

/// Files in /etc are regular files on purpose (removing the package
/// removes them; no purge needed), which lintian flags: the override
/// that says so, when the package has any.
fn lintian_override(planned: &Planned) -> Option<(String, Entry)> {
    let name = &planned.name;
    let in_etc = planned
        .deb
        .entries
        .iter()
        .any(|(path, entry)| path.starts_with("/etc/") && matches!(entry, Entry::File { .. }));
    in_etc.then(|| {
        let text = format!(
            "# confpack ships configuration as regular files, not conffiles, so that\n\
             # removing the package removes them (no purge needed).\n\
             {name}: file-in-etc-not-marked-as-conffile\n"
        );
        (
            format!("/usr/share/lintian/overrides/{name}"),
            Entry::File {
                data: text.into_bytes(),
                mode: 0o644,
            },
        )
    })
}

/// Reads `roles/<file>`.
pub fn plan_role(
    repo: &Path,
    config: &RepositoryConfig,
    file: &str,
) -> Result<Planned, Vec<Problem>> {
    let relative = format!("roles/{file}");
    let path = repo.join(&relative);
    let text = super::manifest::read(repo, &relative)
        .map_err(|e| vec![problem_at(path.display().to_string(), e.to_string())])?;
    let located = Located {
        file: path.display().to_string(),
        text,
    };
    let manifest: Manifest = parse(&located.file, &located.text).map_err(|p| vec![p])?;
    let mut problems = Problems::default();
    let stem = file.strip_suffix(".yml").unwrap_or(file);
    let name = match &manifest.name {
        Some(name) => name.0.clone(),
        None => stem.to_string(),
    };
    if let Err(message) = check_package_name(&name) {
        problems.push(located.problem(
            located.key_line("name"),
            format!("the role name is its package name: {message}"),
        ));
    }
    for (key, present) in [
        ("package", manifest.package.is_some()),
        ("architecture", manifest.architecture.is_some()),
        ("environment", manifest.environment.is_some()),
        ("hooks", manifest.hooks.is_some()),
        ("modes", !manifest.modes.is_empty()),
        ("keep-local-edits", !manifest.keep_local_edits.is_empty()),
        ("questions", !manifest.questions.is_empty()),
        ("recipients", manifest.recipients.is_some()),
    ]
    .into_iter()
    .chain(
        manifest
            .declared()
            .into_iter()
            .map(|(key, value)| (key, value.is_some())),
    ) {
        if present {
            problems.push(located.problem(
                located.key_line(key),
                format!(
                    "`{key}` is for packages; a role is a meta package: name, version, description, depends"
                ),
            ));
        }
    }
    let mut control =
        fields::control_fields(&manifest, &located, &name, config, true, &mut problems);
    if control.description.trim().lines().count() < 2 {
        control.description = format!(
            "{}\nThis role (a meta package) installs: {}.",
            control.description.trim(),
            control.relation("Depends").join(", ")
        );
    }
    if control.relation("Depends").is_empty() {
        problems.push(located.problem(
            located.key_line("depends"),
            "a role lists the packages it installs under `depends`",
        ));
    }
    let mut planned = Planned::new(&name, true, located, Deb::new(control));
    planned.history = vec![relative, "confpack.yml".into()];
    problems.finish(planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(text: &str) -> Located {
        Located::control_yml(text)
    }

    fn manifest(text: &str) -> Manifest {
        parse("control.yml", text).expect("yaml")
    }

    #[test]
    fn a_package_is_named_by_its_directory() {
        let table: [(&str, &str, &[&str]); 5] = [
            ("p1", "version: \"1\"\n", &[]),
            ("p1", "package: p1\n", &[]),
            (
                "p1",
                "version: \"1\"\npackage: p2\n",
                &[
                    "control.yml:2: package \"p2\" differs from the directory name \"p1\"; rename one so they match",
                ],
            ),
            (
                "p1",
                "name: p1\n",
                &[
                    "control.yml:1: `name` is for roles; a package's name is `package` (or the directory name)",
                ],
            ),
            (
                "P_1",
                "",
                &["packages/P_1: the directory name is the package name: "],
            ),
        ];
        for (name, text, expected) in table {
            let problems = identity_problems(
                name,
                &format!("packages/{name}"),
                &manifest(text),
                &located(text),
            );
            let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
            assert_eq!(shown.len(), expected.len(), "{name} {text:?}: {shown:?}");
            for (problem, start) in shown.iter().zip(expected) {
                assert!(problem.starts_with(start), "{problem}");
            }
        }
    }

    #[test]
    fn a_synopsis_alone_gets_a_line_saying_what_the_package_is() {
        let table = [
            (
                "web settings",
                "web settings\nA configuration package built by confpack from packages/p.",
            ),
            (
                "  web settings\n",
                "web settings\nA configuration package built by confpack from packages/p.",
            ),
            ("web settings\n more\n", "web settings\n more\n"),
        ];
        for (description, expected) in table {
            assert_eq!(package_description(description, "p"), expected);
        }
    }

    #[test]
    fn the_runtime_is_added_to_depends_unless_listed() {
        let runtime = format!("confpack-runtime (>= {})", env!("CARGO_PKG_VERSION"));
        let table: [(&[&str], Vec<&str>); 4] = [
            (&[], vec![runtime.as_str()]),
            (&["nginx"], vec![runtime.as_str(), "nginx"]),
            (
                &["confpack-runtime (>= 0.1)"],
                vec!["confpack-runtime (>= 0.1)"],
            ),
            (
                &["nginx", "confpack-runtime:amd64 | other"],
                vec!["nginx", "confpack-runtime:amd64 | other"],
            ),
        ];
        for (depends, expected) in table {
            let mut control = Control {
                relations: vec![(
                    "Depends".into(),
                    depends.iter().map(|d| d.to_string()).collect(),
                )],
                ..Control::default()
            };
            add_runtime_dependency(&mut control);
            assert_eq!(control.relation("Depends"), expected, "{depends:?}");
        }
    }

    #[test]
    fn modes_are_octal_up_to_0o7777() {
        let table = [
            ("0640", Some(0o640)),
            ("0o640", Some(0o640)),
            ("640", Some(0o640)),
            ("7777", Some(0o7777)),
            ("10000", None),
            ("0648", None),
            ("rw-r-----", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_mode(text), expected, "{text}");
        }
    }

    #[test]
    fn the_lintian_override_comes_with_regular_files_in_etc_only() {
        let file = || Entry::File {
            data: Vec::new(),
            mode: 0o644,
        };
        let table = [
            (vec![("/etc/p/a.conf", file())], true),
            (
                vec![
                    ("/etc/p", Entry::Directory),
                    ("/etc/p/l", Entry::Symlink { target: "x".into() }),
                ],
                false,
            ),
            (vec![("/usr/lib/p/a", file())], false),
            (vec![], false),
        ];
        for (entries, expected) in table {
            let mut planned = Planned::new("p", false, located(""), Deb::new(Control::default()));
            for (path, entry) in entries {
                planned.deb.entries.insert(path.to_string(), entry);
            }
            let found = lintian_override(&planned);
            assert_eq!(
                found.is_some(),
                expected,
                "{entries:?}",
                entries = planned.deb.entries
            );
            if let Some((path, Entry::File { data, .. })) = found {
                assert_eq!(path, "/usr/share/lintian/overrides/p");
                assert!(
                    String::from_utf8_lossy(&data)
                        .ends_with("p: file-in-etc-not-marked-as-conffile\n")
                );
            }
        }
    }

    #[test]
    fn modes_apply_to_the_secret_the_template_or_the_file() {
        let mut planned = Planned::new("p", false, located(""), Deb::new(Control::default()));
        planned.rendered.insert("/etc/p/t.conf".into());
        planned.rendered.insert("/etc/p/token".into());
        let secret = secrets::shipped_path("p", "/etc/p/token");
        planned.deb.entries.insert(secret.clone(), Entry::Directory);
        let table = [
            ("/etc/p/token", secret.as_str()),
            (
                "/etc/p/t.conf",
                "/usr/share/confpack/p/templates/etc/p/t.conf.j2",
            ),
            ("/etc/p/plain", "/etc/p/plain"),
        ];
        for (target, expected) in table {
            assert_eq!(shipped_path(&planned, target), expected);
        }
    }
}
