//! One package or role of the repository, read and checked: its manifest,
//! its files, templates, environment document and script parts, turned
//! into what the `.deb` will hold (everything but the version, which comes
//! from git later).
//!
//! Every problem is collected with its file and line rather than stopping
//! at the first, so one build run lists all there is to fix.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::deb::control::{self, Control, check_maintainer, check_package_name, check_version};
use crate::deb::{Deb, Entry};
use crate::error::Problem;

use super::manifest::{Located, Manifest, RepositoryConfig, parse};
use super::planned::{Planned, problem_at, share_dir};
use super::runtime_deb;
use super::scripts::{self, Part};
use super::source::{self, Links, read_in_repo, read_shipped};

/// Kept at its old path for callers outside the builder.
pub use super::source::MAX_FILE_BYTES;

/// What the repository looks like to one package.
pub struct Context<'a> {
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
pub fn plan_package(context: &Context<'_>, name: &str) -> Result<Planned, Vec<Problem>> {
    let repo = context.repo;
    let dir_relative = format!("packages/{name}");
    let manifest_relative = format!("{dir_relative}/control/control.yml");
    let manifest_path = repo.join(&manifest_relative);
    let mut problems = Vec::new();
    let text = match super::manifest::read(repo, &manifest_relative) {
        Ok(text) => text,
        Err(e) if e.is_not_found() => {
            return Err(vec![Problem {
                file: display(repo, &dir_relative),
                line: None,
                message: format!(
                    "no control/control.yml ({e}); every package directory needs one (package, version, description, …)"
                ),
            }]);
        }
        Err(e) => {
            return Err(vec![problem_at(
                manifest_path.display().to_string(),
                e.to_string(),
            )]);
        }
    };
    let located = Located {
        file: manifest_path.display().to_string(),
        text,
    };
    let manifest: Manifest = match parse(&located.file, &located.text) {
        Ok(manifest) => manifest,
        Err(problem) => return Err(vec![problem]),
    };
    if let Err(message) = check_package_name(name) {
        problems.push(problem_at(
            display(repo, &dir_relative),
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
    let mut control = metadata(
        &manifest,
        &located,
        name,
        context.config,
        false,
        &mut problems,
    );
    if control.description.trim().lines().count() < 2 {
        // Debian wants an extended description; say what the package is.
        control.description = format!(
            "{}\nA configuration package built by confpack from packages/{name}.",
            control.description.trim()
        );
    }
    let runtime_listed = control
        .relation("Depends")
        .iter()
        .any(|r| r.split(['(', ' ', '|', ':']).next() == Some(runtime_deb::PACKAGE));
    if !runtime_listed {
        // At least the confpack that generated the scripts: they call its
        // subcommands.
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

    let mut planned = Planned {
        name: name.to_string(),
        is_role: false,
        manifest: located.clone(),
        deb: Deb::new(control),
        sources: BTreeMap::new(),
        rendered: BTreeSet::new(),
        parts: BTreeMap::new(),
        environment: None,
        history: vec![format!("{dir_relative}/"), "confpack.yml".into()],
        questions: question_lines(&manifest.questions, &located),
    };
    let package_dir = repo.join(&dir_relative);
    let files = match &context.files {
        Some(files) => files.clone(),
        None => match walk(&package_dir) {
            Ok(files) => files,
            Err(problem) => {
                problems.push(problem);
                Vec::new()
            }
        },
    };
    let environment = manifest.environment.clone().unwrap_or_default();
    let environment_file = resolve_in_repo(
        repo,
        &format!("{dir_relative}/control"),
        environment.file.as_deref(),
        "environment.xml",
        &located,
        "environment",
        &mut problems,
    );
    let schema_file = environment.schema.as_deref().and_then(|schema| {
        resolve_in_repo(
            repo,
            &format!("{dir_relative}/control"),
            Some(schema),
            "",
            &located,
            "environment",
            &mut problems,
        )
    });
    let mut control_files: BTreeSet<String> = ["control.yml"]
        .into_iter()
        .chain(scripts::SCRIPT_NAMES)
        .map(str::to_string)
        .collect();
    for referenced in [&environment_file, &schema_file].into_iter().flatten() {
        if let Some(inside) = referenced.strip_prefix(&format!("{dir_relative}/control/")) {
            control_files.insert(inside.to_string());
        }
    }
    let templates_dir = format!("{}/templates", share_dir(name));
    let mut templates = 0usize;
    let mut secret_files: Vec<(String, String)> = Vec::new();
    let jinja = crate::derive::jinja();
    for relative in &files {
        let source = display(repo, &format!("{dir_relative}/{relative}"));
        if let Some(inside) = relative.strip_prefix("control/") {
            if !control_files.contains(inside) {
                problems.push(Problem {
                    file: source,
                    line: None,
                    message: format!(
                        "not a file confpack uses in control/ (control.yml, {}, and the environment document or schema control.yml names)",
                        scripts::SCRIPT_NAMES.join(", ")
                    ),
                });
            }
            continue;
        }
        if let Err(message) = check_path(relative) {
            problems.push(problem_at(source, message));
            continue;
        }
        if let Some(inside) = relative.strip_prefix("secrets/") {
            let file_name = inside.rsplit('/').next().unwrap_or_default();
            if !inside.is_empty()
                && !inside.ends_with('/')
                && !matches!(file_name, ".keep" | ".gitkeep")
            {
                secret_files.push((inside.to_string(), source));
            }
            continue;
        }
        let path = package_dir.join(relative.trim_end_matches('/'));
        let file_name = relative.rsplit('/').next().unwrap_or_default();
        if relative.ends_with('/') || matches!(file_name, ".keep" | ".gitkeep") {
            // An (otherwise empty) directory the package creates.
            let directory = match relative.rsplit_once('/') {
                Some((parent, _)) if !relative.ends_with('/') => parent.to_string(),
                _ => relative.trim_end_matches('/').to_string(),
            };
            if !directory.is_empty() {
                planned
                    .deb
                    .entries
                    .entry(format!("/{directory}"))
                    .or_insert(Entry::Directory);
            }
            continue;
        }
        let metadata = match std::fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            // Tracked but deleted in the work tree (--allow-dirty).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(problem_at(source, e.to_string()));
                continue;
            }
        };
        let file_type = metadata.file_type();
        let target = format!("/{relative}");
        if file_type.is_symlink() && relative.ends_with(".j2") {
            problems.push(problem_at(
                source,
                "a template must be a regular file, not a symlink",
            ));
            continue;
        }
        if file_type.is_symlink() {
            match symlink_target(&path, relative) {
                Ok(link) => add(
                    &mut planned,
                    &mut problems,
                    target,
                    Entry::Symlink { target: link },
                    source,
                ),
                Err(message) => problems.push(problem_at(source, message)),
            }
            continue;
        }
        if !file_type.is_file() {
            problems.push(Problem {
                file: source,
                line: None,
                message: if file_type.is_dir() {
                    "a directory git tracks as one entry (a submodule?); packages hold plain files"
                        .into()
                } else {
                    "not a regular file, directory or symlink".into()
                },
            });
            continue;
        }
        // Never through a symlinked directory on the way either.
        let data = match read_shipped(repo, &format!("{dir_relative}/{relative}")) {
            Ok(data) => data,
            Err(message) => {
                problems.push(problem_at(source, message));
                continue;
            }
        };
        let mode = if metadata.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        if let Some(stem) = relative.strip_suffix(".j2") {
            if stem.is_empty() || stem.ends_with('/') {
                problems.push(problem_at(
                    source,
                    "a template needs a file name before .j2",
                ));
                continue;
            }
            match std::str::from_utf8(&data) {
                Ok(text) => {
                    if let Err((line, message)) = crate::derive::check_template_tags(text) {
                        problems.push(Problem {
                            file: source.clone(),
                            line: Some(line as u64),
                            message: format!("the template does not parse: {message}"),
                        });
                    } else if let Err(error) = jinja.template_from_named_str(&source, text) {
                        problems.push(Problem {
                            file: source.clone(),
                            line: error.line().map(|l| l as u64),
                            message: format!(
                                "the template does not parse: {}",
                                error.detail().unwrap_or(&error.to_string())
                            ),
                        });
                    }
                }
                Err(_) => {
                    problems.push(problem_at(source.clone(), "a template must be UTF-8 text"))
                }
            }
            templates += 1;
            let rendered = format!("/{stem}");
            if let Some(parent) = stem.rsplit_once('/').map(|(p, _)| p) {
                planned
                    .deb
                    .entries
                    .entry(format!("/{parent}"))
                    .or_insert(Entry::Directory);
            }
            if let Some(other) = planned.sources.get(&rendered) {
                problems.push(problem_at(
                    source.clone(),
                    format!("renders {rendered}, which {other} already provides"),
                ));
            }
            planned.sources.insert(rendered.clone(), source.clone());
            planned.rendered.insert(rendered);
            add(
                &mut planned,
                &mut problems,
                format!("{templates_dir}/{relative}"),
                Entry::File { data, mode },
                source,
            );
        } else {
            if target.starts_with("/usr/share/confpack/") {
                problems.push(problem_at(
                    source,
                    "/usr/share/confpack is confpack's own; put the file elsewhere",
                ));
                continue;
            }
            add(
                &mut planned,
                &mut problems,
                target,
                Entry::File { data, mode },
                source,
            );
        }
    }

    let secrets = secret_files.len();
    if !secret_files.is_empty() {
        let mut found = super::planned::Problems::default();
        super::secrets::add_secrets(
            &super::secrets::Secrets {
                repo,
                config: context.config,
                manifest: &manifest,
                located: &located,
                control_dir: &format!("{dir_relative}/control"),
            },
            &secret_files,
            &mut planned,
            &mut found,
        );
        problems.extend(Vec::from(found));
    }
    apply_modes(
        &manifest,
        &located,
        &mut planned,
        &templates_dir,
        &mut problems,
    );
    check_keep_local_edits(&manifest, &located, &planned, &mut problems);
    check_questions(&planned, &mut problems);

    // The environment document and what configure reads beside it.
    let share = share_dir(name);
    let url = environment.url.clone();
    if let Some(url) = &url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        problems.push(located.problem(
            located.value_line("environment", "url"),
            format!("environment url {url:?} must be an http:// or https:// URL"),
        ));
    }
    let environment_path = environment_file.as_ref().map(|f| repo.join(f));
    let environment_exists = environment_path.as_ref().is_some_and(|p| p.is_file());
    if environment.file.is_some() && !environment_exists {
        problems.push(located.problem(
            located.value_line("environment", "file"),
            format!(
                "the environment document {} does not exist",
                environment_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        ));
    }
    if url.is_some() && !environment_exists {
        problems.push(located.problem(
            located.value_line("environment", "url"),
            "an online document needs a local copy too (control/environment.xml or environment.file): \
             configure falls back to it when the server cannot be reached",
        ));
    }
    let hooks = check_hooks(&manifest, &located, &mut problems);
    if !environment_exists && (templates > 0 || hooks.is_some() || secrets > 0) {
        problems.push(located.problem(
            None,
            format!(
                "the package has {} but no environment document: add control/environment.xml \
                 (or environment.file) with the questions they use",
                if templates > 0 {
                    "templates"
                } else if secrets > 0 {
                    "secrets (configure decrypts them)"
                } else {
                    "hooks"
                }
            ),
        ));
    }
    if let (true, Some(relative), Some(path)) =
        (environment_exists, &environment_file, environment_path)
    {
        if let Some(tracked) = context.tracked
            && !tracked.contains(relative)
        {
            problems.push(located.problem(
                located.value_line("environment", "file"),
                format!("{} is not committed to git", path.display()),
            ));
        }
        match read_in_repo(repo, relative) {
            Ok(data) => add(
                &mut planned,
                &mut problems,
                format!("{share}/environment.xml"),
                Entry::File { data, mode: 0o644 },
                path.display().to_string(),
            ),
            Err(e) => problems.push(problem_at(path.display().to_string(), e)),
        }
        if !relative.starts_with(&format!("{dir_relative}/")) {
            planned.history.push(relative.clone());
        }
        let schema = schema_file.as_ref().map(|s| repo.join(s));
        if let (Some(schema), Some(relative)) = (&schema, &schema_file) {
            match read_in_repo(repo, relative) {
                Ok(data) => add(
                    &mut planned,
                    &mut problems,
                    format!("{share}/schema.xsd"),
                    Entry::File { data, mode: 0o644 },
                    schema.display().to_string(),
                ),
                Err(e) => problems.push(located.problem(
                    located.value_line("environment", "schema"),
                    format!("the schema {}: {e}", schema.display()),
                )),
            }
            if !relative.starts_with(&format!("{dir_relative}/")) {
                planned.history.push(relative.clone());
            }
        }
        // Configure needs to know which rendered files have a declared
        // mode (a secret keeps its group bits only then).
        let template_modes: BTreeMap<String, String> = manifest
            .modes
            .iter()
            .filter(|(target, _)| planned.rendered.contains(*target))
            .map(|(target, mode)| (target.clone(), mode.0.clone()))
            .collect();
        let package_yml = package_yml(
            url.as_deref(),
            schema.is_some(),
            hooks.as_ref(),
            &template_modes,
            &manifest.keep_local_edits,
            &manifest.questions,
        );
        add(
            &mut planned,
            &mut problems,
            format!("{share}/package.yml"),
            Entry::File {
                data: package_yml.into_bytes(),
                mode: 0o644,
            },
            located.file.clone(),
        );
        planned.environment = Some((path.clone(), path.display().to_string(), schema));
    }

    for name in scripts::SCRIPT_NAMES {
        let path = package_dir.join("control").join(name);
        let source = path.display().to_string();
        // Never followed: a symlink could pull a file of the build machine
        // (/etc/shadow) into the package; a FIFO would block the build.
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Ok(metadata) if metadata.is_file() => {}
            Ok(_) => {
                problems.push(problem_at(
                    source,
                    "a script part must be a regular file (not a symlink, FIFO or device)",
                ));
                continue;
            }
            Err(e) => {
                problems.push(problem_at(source, e.to_string()));
                continue;
            }
        }
        let relative = format!("{dir_relative}/control/{name}");
        let text = match source::read_text(repo, &relative, Links::Refused, MAX_FILE_BYTES) {
            Ok(text) => text,
            Err(e) => {
                problems.push(problem_at(source, format!("cannot read it as text: {e}")));
                continue;
            }
        };
        match scripts::check_part(&source, &path, &text) {
            Ok(()) => {
                planned
                    .parts
                    .insert(name.to_string(), Part { source, text });
            }
            Err(problem) => problems.push(problem),
        }
    }

    // Files in /etc are regular files on purpose (removing the package
    // removes them; no purge needed), which lintian flags.
    let in_etc = planned
        .deb
        .entries
        .iter()
        .any(|(path, entry)| path.starts_with("/etc/") && matches!(entry, Entry::File { .. }));
    if in_etc {
        planned.deb.entries.insert(
            format!("/usr/share/lintian/overrides/{name}"),
            Entry::File {
                data: format!(
                    "# confpack ships configuration as regular files, not conffiles, so that\n\
                     # removing the package removes them (no purge needed).\n\
                     {name}: file-in-etc-not-marked-as-conffile\n"
                )
                .into_bytes(),
                mode: 0o644,
            },
        );
    }

    if problems.is_empty() {
        Ok(planned)
    } else {
        Err(problems)
    }
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
    let mut problems = Vec::new();
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
    ] {
        if present {
            problems.push(located.problem(
                located.key_line(key),
                format!(
                    "`{key}` is for packages; a role is a meta package: name, version, description, depends"
                ),
            ));
        }
    }
    let mut control = metadata(&manifest, &located, &name, config, true, &mut problems);
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
    if problems.is_empty() {
        Ok(Planned {
            name,
            is_role: true,
            manifest: located,
            deb: Deb::new(control),
            sources: BTreeMap::new(),
            rendered: BTreeSet::new(),
            parts: BTreeMap::new(),
            environment: None,
            history: vec![relative, "confpack.yml".into()],
            questions: Vec::new(),
        })
    } else {
        Err(problems)
    }
}

/// The control fields both kinds share.
fn metadata(
    manifest: &Manifest,
    located: &Located,
    name: &str,
    config: &RepositoryConfig,
    is_role: bool,
    problems: &mut Vec<Problem>,
) -> Control {
    let version = match &manifest.version {
        Some(version) => {
            if let Err(message) = check_version(&version.0) {
                problems.push(located.problem(located.key_line("version"), message));
            }
            version.0.clone()
        }
        None => {
            problems.push(located.problem(None, "`version` is missing (e.g. version: \"1.0\")"));
            String::new()
        }
    };
    let description = match &manifest.description {
        Some(text) if !text.trim().is_empty() => {
            if let Err(message) = control::check_description(text) {
                problems.push(located.problem(
                    located.key_line("description"),
                    format!("description: {message}"),
                ));
            }
            text.clone()
        }
        _ => {
            problems.push(located.problem(
                located.key_line("description"),
                "`description` is missing: its first line is the synopsis",
            ));
            String::new()
        }
    };
    // confpack.yml's values are checked once, at their own lines
    // ([`check_defaults`]).
    check_fields(manifest_fields(manifest), located, problems);
    let maintainer = match manifest.maintainer.as_ref().or(config.maintainer.as_ref()) {
        Some(maintainer) => maintainer.clone(),
        None => {
            problems.push(located.problem(
                None,
                "`maintainer` is missing (here or in the repository's confpack.yml)",
            ));
            String::new()
        }
    };
    let architecture = manifest
        .architecture
        .clone()
        .unwrap_or_else(|| "all".into());
    if !architecture
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || architecture.is_empty()
    {
        problems.push(located.problem(
            located.key_line("architecture"),
            format!(
                "architecture {architecture:?} is not a Debian architecture (all, amd64, arm64, …)"
            ),
        ));
    }
    let mut relations = Vec::new();
    for (field, list) in manifest.relations() {
        let key = field.to_ascii_lowercase();
        if let Err(message) = control::check_relations_size(&list.0) {
            problems.push(located.problem(located.key_line(&key), format!("{key}: {message}")));
            continue;
        }
        for relation in &list.0 {
            if let Err(message) = control::parse_relation(relation, field == "Provides") {
                problems.push(located.problem(
                    located.value_line(&key, first_line(relation)),
                    format!("{key}: {message}"),
                ));
            }
        }
        relations.push((field.to_string(), list.0.clone()));
    }
    Control {
        package: name.to_string(),
        version,
        architecture,
        maintainer,
        section: manifest
            .section
            .clone()
            .or_else(|| (!is_role).then(|| config.section.clone()).flatten())
            .unwrap_or_else(|| if is_role { "metapackages" } else { "admin" }.into()),
        priority: manifest
            .priority
            .clone()
            .or_else(|| config.priority.clone())
            .unwrap_or_else(|| "optional".into()),
        homepage: manifest
            .homepage
            .clone()
            .or_else(|| config.homepage.clone()),
        relations,
        description,
    }
}

/// The single-line control fields a manifest may set, by key.
fn manifest_fields(manifest: &Manifest) -> [(&'static str, Option<&str>); 4] {
    [
        ("maintainer", manifest.maintainer.as_deref()),
        ("section", manifest.section.as_deref()),
        ("priority", manifest.priority.as_deref()),
        ("homepage", manifest.homepage.as_deref()),
    ]
}

/// Checks control field values (`key`, value) with Debian's rules, each
/// problem at its key's line as `key: message`.
fn check_fields(
    fields: [(&'static str, Option<&str>); 4],
    located: &Located,
    problems: &mut Vec<Problem>,
) {
    for (key, value) in fields {
        let Some(value) = value else { continue };
        let checked = match key {
            "maintainer" => check_maintainer(value),
            "section" => control::check_section(value),
            "priority" => control::check_priority(value),
            "homepage" => control::check_homepage(value),
            _ => control::check_line(value),
        };
        if let Err(message) = checked {
            problems.push(located.problem(located.key_line(key), format!("{key}: {message}")));
        }
    }
}

/// The defaults of `confpack.yml`, checked like a package's fields.
pub fn check_defaults(config: &RepositoryConfig, located: &Located) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_fields(
        [
            ("maintainer", config.maintainer.as_deref()),
            ("section", config.section.as_deref()),
            ("priority", config.priority.as_deref()),
            ("homepage", config.homepage.as_deref()),
        ],
        located,
        &mut problems,
    );
    problems
}

/// The first line of a value, to find it again in the YAML text.
fn first_line(value: &str) -> &str {
    value.lines().next().unwrap_or(value)
}

/// Adds an entry, refusing a second one at the same path.
fn add(
    planned: &mut Planned,
    problems: &mut Vec<Problem>,
    target: String,
    entry: Entry,
    source: String,
) {
    if let Err(problem) = planned.add(target, entry, source) {
        problems.push(problem);
    }
}

/// A path inside the package must be plain: no `.`/`..`, no control
/// characters (md5sums and dpkg's file lists are line based).
fn check_path(relative: &str) -> Result<(), String> {
    if relative.contains('\u{FFFD}') {
        return Err("the file name is not valid UTF-8".into());
    }
    if relative.chars().any(char::is_control) {
        return Err("the file name contains a control character (a newline?)".into());
    }
    let trimmed = relative.trim_end_matches('/');
    if trimmed
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("the path has an empty, . or .. component".into());
    }
    Ok(())
}

/// A symlink is shipped as it is (never followed while building). A
/// relative target must stay inside the package tree; an absolute one
/// names a path on the installed system.
fn symlink_target(path: &Path, relative: &str) -> Result<String, String> {
    let target = std::fs::read_link(path).map_err(|e| e.to_string())?;
    let target = target
        .to_str()
        .ok_or("the symlink target is not valid UTF-8")?
        .to_string();
    if target.is_empty() || target.chars().any(char::is_control) {
        return Err("the symlink target is empty or has control characters".into());
    }
    if target.starts_with('/') {
        return Ok(target);
    }
    let mut depth: Vec<&str> = relative.split('/').collect();
    depth.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            // The guard pops: `..` that finds nothing to climb out of escapes.
            ".." if depth.pop().is_none() => {
                return Err(format!(
                    "the symlink points to {target}, outside the package tree; \
                     point inside it or use an absolute path on the installed system"
                ));
            }
            ".." => {}
            other => depth.push(other),
        }
    }
    Ok(target)
}

/// Files of a package directory without git: relative paths, empty
/// directories with a trailing `/`, never following symlinks.
pub fn walk(dir: &Path) -> Result<Vec<String>, Problem> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let current = dir.join(&relative);
        let mut entries: Vec<_> = std::fs::read_dir(&current)
            .map_err(|e| problem_at(current.display().to_string(), e.to_string()))?
            .filter_map(std::result::Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        if entries.is_empty() && !relative.as_os_str().is_empty() {
            out.push(format!("{}/", relative.display()));
        }
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(problem_at(
                    entry.path().display().to_string(),
                    "the file name is not valid UTF-8",
                ));
            };
            let child = relative.join(name);
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                pending.push(child);
            } else {
                out.push(child.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Resolves a path named in control.yml (relative to `base`, a repository
/// relative directory) to a repository-relative path, refusing one that
/// leaves the repository. `default` is used when `given` is `None` and it
/// exists.
fn resolve_in_repo(
    repo: &Path,
    base: &str,
    given: Option<&str>,
    default: &str,
    located: &Located,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let (text, explicit) = match given {
        Some(text) => (text, true),
        None if default.is_empty() => return None,
        None => (default, false),
    };
    match source::resolve(repo, base, text) {
        Ok(relative) if !explicit && !repo.join(&relative).exists() => None,
        Ok(relative) => Some(relative),
        Err(error) => {
            problems.push(located.problem(
                located.value_line(key, text),
                error.message(text, "the control/ directory"),
            ));
            None
        }
    }
}

/// `modes:` in control.yml: target path → octal mode.
fn apply_modes(
    manifest: &Manifest,
    located: &Located,
    planned: &mut Planned,
    templates_dir: &str,
    problems: &mut Vec<Problem>,
) {
    for (target, mode) in &manifest.modes {
        let line = located.value_line("modes", target);
        let Some(value) = u32::from_str_radix(mode.0.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
        else {
            problems.push(located.problem(
                line,
                format!("mode {:?} is not an octal mode like \"0640\"", mode.0),
            ));
            continue;
        };
        let secret = super::secrets::shipped_path(&planned.name, target);
        let shipped = if planned.deb.entries.contains_key(&secret) {
            secret
        } else if planned.rendered.contains(target) {
            format!("{templates_dir}{target}.j2")
        } else {
            target.clone()
        };
        match planned.deb.entries.get_mut(&shipped) {
            Some(Entry::File { mode, .. }) => *mode = value,
            _ => problems.push(located.problem(
                line,
                format!("{target} is not a file or template target of this package"),
            )),
        }
    }
}

/// `keep-local-edits:` in control.yml: each a file this package renders
/// (a template's or a secret's target).
fn check_keep_local_edits(
    manifest: &Manifest,
    located: &Located,
    planned: &Planned,
    problems: &mut Vec<Problem>,
) {
    let mut seen = BTreeSet::new();
    for target in &manifest.keep_local_edits {
        let line = located.value_line("keep-local-edits", target);
        if !planned.rendered.contains(target) {
            problems.push(located.problem(
                line,
                format!(
                    "keep-local-edits: {target} is not a file this package renders \
                     (a template or secret target such as /etc/<name>/app.conf)"
                ),
            ));
        } else if !seen.insert(target) {
            problems
                .push(located.problem(line, format!("keep-local-edits: {target} is listed twice")));
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

/// `questions:` in control.yml: keys of the package's own document (checked
/// against it in [`super::checks::validate_environments`]), each once.
fn check_questions(planned: &Planned, problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (key, line) in &planned.questions {
        if !seen.insert(key) {
            problems.push(
                planned
                    .manifest
                    .problem(*line, format!("questions: {key} is listed twice")),
            );
        }
    }
}

/// `hooks:` in control.yml, checked the way configure will read them.
fn check_hooks(
    manifest: &Manifest,
    located: &Located,
    problems: &mut Vec<Problem>,
) -> Option<serde_yaml::Value> {
    /// Only `hooks:`, read from the text so that a problem inside a hook
    /// (an unknown key, a misspelt action) has its own line.
    #[derive(serde::Deserialize)]
    struct Hooks {
        hooks: Vec<crate::package::Hook>,
    }
    let value = manifest.hooks.clone()?;
    match serde_yaml::from_str::<Hooks>(&located.text) {
        Ok(Hooks { hooks }) => {
            let mut names = BTreeSet::new();
            for hook in &hooks {
                if let Err(message) = hook.check() {
                    problems
                        .push(located.problem(located.value_line("hooks", &hook.name), message));
                }
                if !names.insert(hook.name.clone()) {
                    problems.push(located.problem(
                        located.value_line("hooks", &hook.name),
                        format!("hook {} is defined twice", hook.name),
                    ));
                }
            }
            Some(value)
        }
        Err(e) => {
            let line = e
                .location()
                .map(|l| l.line() as u64)
                .or_else(|| located.key_line("hooks"));
            problems.push(located.problem(line, format!("hooks: {e}")));
            None
        }
    }
}

/// The `package.yml` configure reads beside the shipped document.
fn package_yml(
    url: Option<&str>,
    schema: bool,
    hooks: Option<&serde_yaml::Value>,
    template_modes: &BTreeMap<String, String>,
    keep_local_edits: &[String],
    questions: &[String],
) -> String {
    use serde_yaml::{Mapping, Value};
    let mut environment = Mapping::new();
    environment.insert("file".into(), "environment.xml".into());
    if let Some(url) = url {
        environment.insert("url".into(), url.into());
    }
    if schema {
        environment.insert("schema".into(), "schema.xsd".into());
    }
    let mut root = Mapping::new();
    root.insert("environment".into(), Value::Mapping(environment));
    if let Some(hooks) = hooks {
        root.insert("hooks".into(), hooks.clone());
    }
    if !template_modes.is_empty() {
        let modes: Mapping = template_modes
            .iter()
            .map(|(target, mode)| (target.as_str().into(), mode.as_str().into()))
            .collect();
        root.insert("modes".into(), Value::Mapping(modes));
    }
    if !keep_local_edits.is_empty() {
        let keep: Vec<Value> = keep_local_edits
            .iter()
            .map(|target| target.as_str().into())
            .collect();
        root.insert("keep-local-edits".into(), Value::Sequence(keep));
    }
    if !questions.is_empty() {
        let keys: Vec<Value> = questions.iter().map(|key| key.as_str().into()).collect();
        root.insert("questions".into(), Value::Sequence(keys));
    }
    let body = serde_yaml::to_string(&Value::Mapping(root)).unwrap_or_default();
    format!("# Generated by `confpack build` from control/control.yml.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_may_not_climb_out_of_the_package() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("../../x", &link).expect("symlink");
        assert!(symlink_target(&link, "etc/link").is_err());
        assert_eq!(
            symlink_target(&link, "etc/a/link").as_deref(),
            Ok("../../x")
        );
        let absolute = dir.path().join("absolute");
        std::os::unix::fs::symlink("/lib/systemd/system/x.service", &absolute).expect("symlink");
        assert!(symlink_target(&absolute, "etc/absolute").is_ok());
    }

    #[test]
    fn paths_with_dots_or_newlines_are_refused() {
        assert!(check_path("etc/x").is_ok());
        assert!(check_path("etc/../x").is_err());
        assert!(check_path("etc/a\nb").is_err());
    }
}
