//! A package's environment document at build time: which document and
//! schema `control.yml` names (resolved inside the repository), and what
//! the package ships of them for configure: the document, the schema, and
//! the `package.yml` configure reads beside them (the online URL, hooks,
//! the modes of rendered files, keep-local-edits).
//!
//! The document's content is validated later, once per document for the
//! whole repository ([`super::checks::validate_environments`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::deb::Entry;

use super::manifest::{EnvironmentSpec, Located, Manifest};
use super::planned::{Planned, Problems, share_dir};
use super::scripts;
use super::source::{self, read_in_repo};

/// The document and schema a package's `control.yml` names,
/// repository-relative.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    /// `environment.file`, else `control/environment.xml` if it exists.
    pub document: Option<String>,
    /// `environment.schema`.
    pub schema: Option<String>,
}

impl References {
    /// Resolves the paths of `spec`, relative to `control_dir`
    /// (`packages/<name>/control`); a path that leaves the repository is
    /// a problem at its line.
    pub fn resolve(
        repo: &Path,
        control_dir: &str,
        spec: &EnvironmentSpec,
        located: &Located,
        problems: &mut Problems,
    ) -> Self {
        let mut resolve = |given: &str| match source::resolve(repo, control_dir, given) {
            Ok(relative) => Some(relative),
            Err(error) => {
                problems.push(located.problem(
                    located.value_line("environment", given),
                    error.message(given, "the control/ directory"),
                ));
                None
            }
        };
        let document = match spec.file.as_deref() {
            Some(file) => resolve(file),
            None => resolve("environment.xml").filter(|relative| repo.join(relative).exists()),
        };
        let schema = spec.schema.as_deref().and_then(resolve);
        References { document, schema }
    }

    /// The names in `control/` that confpack reads: `control.yml`, the
    /// script parts, and the document and schema when they are there.
    pub fn control_files(&self, control_dir: &str) -> BTreeSet<String> {
        let prefix = format!("{control_dir}/");
        ["control.yml"]
            .into_iter()
            .chain(scripts::SCRIPT_NAMES)
            .map(str::to_string)
            .chain(
                [&self.document, &self.schema]
                    .into_iter()
                    .flatten()
                    .filter_map(|path| path.strip_prefix(&prefix).map(str::to_string)),
            )
            .collect()
    }
}

/// What the environment phase reads of a package.
pub struct PackageManifest<'a> {
    pub repo: &'a Path,
    /// `packages/<name>`, repository-relative.
    pub dir: &'a str,
    /// Every file git knows; `None` without git.
    pub tracked: Option<&'a BTreeSet<String>>,
    pub manifest: &'a Manifest,
    pub located: &'a Located,
}

/// What the package has that configure would render or run, and so
/// needs a document for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    pub templates: usize,
    pub secrets: usize,
    pub hooks: bool,
}

impl Uses {
    /// What needs the document, for the message; `None`: nothing does.
    pub fn needing_document(self) -> Option<&'static str> {
        if self.templates > 0 {
            Some("templates")
        } else if self.secrets > 0 {
            Some("secrets (configure decrypts them)")
        } else if self.hooks {
            Some("hooks")
        } else {
            None
        }
    }
}

/// Checks the environment document and, when there is one, adds it, its
/// schema and `package.yml` to the package.
pub fn add_environment(
    package: &PackageManifest<'_>,
    references: &References,
    uses: Uses,
    planned: &mut Planned,
    problems: &mut Problems,
) {
    let located = package.located;
    let spec = package.manifest.environment.clone().unwrap_or_default();
    let url = spec.url.as_deref();
    if let Some(message) = url.and_then(url_problem) {
        problems.push(located.problem(located.value_line("environment", "url"), message));
    }
    let path = references.document.as_ref().map(|f| package.repo.join(f));
    let exists = path.as_ref().is_some_and(|p| p.is_file());
    if spec.file.is_some() && !exists {
        problems.push(located.problem(
            located.value_line("environment", "file"),
            format!(
                "the environment document {} does not exist",
                path.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        ));
    }
    if url.is_some() && !exists {
        problems.push(located.problem(
            located.value_line("environment", "url"),
            "an online document needs a local copy too (control/environment.xml or environment.file): \
             configure falls back to it when the server cannot be reached",
        ));
    }
    let hooks = check_hooks(package.manifest, located, problems);
    let uses = Uses {
        hooks: hooks.is_some(),
        ..uses
    };
    if let (false, Some(needing)) = (exists, uses.needing_document()) {
        problems.push(located.problem(
            None,
            format!(
                "the package has {needing} but no environment document: add control/environment.xml \
                 (or environment.file) with the questions they use"
            ),
        ));
    }
    if let (true, Some(relative)) = (exists, &references.document) {
        add_document(package, relative, planned, problems);
        let schema = add_schema(package, references.schema.as_deref(), planned, problems);
        let yml = package_yml(
            url,
            schema.is_some(),
            hooks.as_ref(),
            &template_modes(package.manifest, &planned.rendered),
            &package.manifest.keep_local_edits,
            &package.manifest.questions,
            &planned.declared,
        );
        add_package_yml(yml, located, planned, problems);
        let path = package.repo.join(relative);
        planned.environment = Some((path.clone(), path.display().to_string(), schema));
    } else if !planned.declared.is_empty() {
        // No document: `confpack apply` reads the declarations alone.
        let yml = declared_yml(&planned.declared);
        add_package_yml(yml, located, planned, problems);
    }
}

/// Ships `package.yml` beside the package's other confpack files.
fn add_package_yml(yml: String, located: &Located, planned: &mut Planned, problems: &mut Problems) {
    problems.note(planned.add(
        format!("{}/package.yml", share_dir(&planned.name)),
        Entry::File {
            data: yml.into_bytes(),
            mode: 0o644,
        },
        located.file.clone(),
    ));
}

/// The `package.yml` of a package with declarations but no document.
fn declared_yml(declared: &crate::declared::Declarations) -> String {
    let mut root = yaml_serde::Mapping::new();
    root.insert(
        "declared".into(),
        yaml_serde::to_value(declared).unwrap_or_default(),
    );
    let body = yaml_serde::to_string(&yaml_serde::Value::Mapping(root)).unwrap_or_default();
    format!("# Generated by `confpack build` from control/control.yml.\n{body}")
}

/// Why `url` cannot be the online document's.
fn url_problem(url: &str) -> Option<String> {
    (!(url.starts_with("https://") || url.starts_with("http://")))
        .then(|| format!("environment url {url:?} must be an http:// or https:// URL"))
}

/// Ships the document (`relative`, which exists) as `environment.xml`.
fn add_document(
    package: &PackageManifest<'_>,
    relative: &str,
    planned: &mut Planned,
    problems: &mut Problems,
) {
    let located = package.located;
    let path = package.repo.join(relative);
    if let Some(tracked) = package.tracked
        && !tracked.contains(relative)
    {
        problems.push(located.problem(
            located.value_line("environment", "file"),
            format!("{} is not committed to git", path.display()),
        ));
    }
    match read_in_repo(package.repo, relative) {
        Ok(data) => problems.note(planned.add(
            format!("{}/environment.xml", share_dir(&planned.name)),
            Entry::File { data, mode: 0o644 },
            path.display().to_string(),
        )),
        Err(e) => problems.at(path.display().to_string(), e),
    }
    note_history(package, relative, planned);
}

/// Ships the schema, if any, as `schema.xsd`; its path on this machine.
fn add_schema(
    package: &PackageManifest<'_>,
    relative: Option<&str>,
    planned: &mut Planned,
    problems: &mut Problems,
) -> Option<std::path::PathBuf> {
    let relative = relative?;
    let located = package.located;
    let schema = package.repo.join(relative);
    match read_in_repo(package.repo, relative) {
        Ok(data) => problems.note(planned.add(
            format!("{}/schema.xsd", share_dir(&planned.name)),
            Entry::File { data, mode: 0o644 },
            schema.display().to_string(),
        )),
        Err(e) => problems.push(located.problem(
            located.value_line("environment", "schema"),
            format!("the schema {}: {e}", schema.display()),
        )),
    }
    note_history(package, relative, planned);
    Some(schema)
}

/// A file outside the package directory versions the package too.
fn note_history(package: &PackageManifest<'_>, relative: &str, planned: &mut Planned) {
    if !relative.starts_with(&format!("{}/", package.dir)) {
        planned.history.push(relative.to_string());
    }
}

/// The rendered files with a declared mode: configure needs to know them
/// (a secret keeps its group bits only then).
fn template_modes(manifest: &Manifest, rendered: &BTreeSet<String>) -> BTreeMap<String, String> {
    manifest
        .modes
        .iter()
        .filter(|(target, _)| rendered.contains(*target))
        .map(|(target, mode)| (target.clone(), mode.0.clone()))
        .collect()
}

/// `hooks:` in control.yml, checked the way configure will read them.
fn check_hooks(
    manifest: &Manifest,
    located: &Located,
    problems: &mut Problems,
) -> Option<yaml_serde::Value> {
    /// Only `hooks:`, read from the text so that a problem inside a hook
    /// (an unknown key, a misspelt action) has its own line.
    #[derive(serde::Deserialize)]
    struct Hooks {
        hooks: Vec<crate::package::Hook>,
    }
    let value = manifest.hooks.clone()?;
    match yaml_serde::from_str::<Hooks>(&located.text) {
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
    hooks: Option<&yaml_serde::Value>,
    template_modes: &BTreeMap<String, String>,
    keep_local_edits: &[String],
    questions: &[String],
    declared: &crate::declared::Declarations,
) -> String {
    use yaml_serde::{Mapping, Value};
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
    if !declared.is_empty() {
        root.insert(
            "declared".into(),
            yaml_serde::to_value(declared).unwrap_or_default(),
        );
    }
    let body = yaml_serde::to_string(&Value::Mapping(root)).unwrap_or_default();
    format!("# Generated by `confpack build` from control/control.yml.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_needs_a_document_is_named_templates_first() {
        let uses = |templates, secrets, hooks| Uses {
            templates,
            secrets,
            hooks,
        };
        let table = [
            (uses(0, 0, false), None),
            (uses(2, 1, true), Some("templates")),
            (uses(0, 1, true), Some("secrets (configure decrypts them)")),
            (uses(0, 0, true), Some("hooks")),
        ];
        for (uses, expected) in table {
            assert_eq!(uses.needing_document(), expected, "{uses:?}");
        }
    }

    #[test]
    fn an_online_document_is_an_http_url() {
        assert_eq!(url_problem("https://example.com/env.xml"), None);
        assert_eq!(url_problem("http://example.com/env.xml"), None);
        assert_eq!(
            url_problem("ftp://example.com/env.xml").as_deref(),
            Some(
                "environment url \"ftp://example.com/env.xml\" must be an http:// or https:// URL"
            )
        );
    }

    #[test]
    fn control_files_include_the_document_and_schema_only_when_in_control() {
        let table = [
            (References::default(), vec![]),
            (
                References {
                    document: Some("packages/p/control/environment.xml".into()),
                    schema: Some("packages/p/control/schema.xsd".into()),
                },
                vec!["environment.xml", "schema.xsd"],
            ),
            (
                References {
                    document: Some("environments/shared.xml".into()),
                    schema: None,
                },
                vec![],
            ),
        ];
        for (references, extra) in table {
            let expected: BTreeSet<String> = ["control.yml"]
                .into_iter()
                .chain(scripts::SCRIPT_NAMES)
                .chain(extra)
                .map(str::to_string)
                .collect();
            assert_eq!(references.control_files("packages/p/control"), expected);
        }
    }

    #[test]
    fn package_yml_names_only_what_the_package_has() {
        let bare = package_yml(
            None,
            false,
            None,
            &BTreeMap::new(),
            &[],
            &[],
            &Default::default(),
        );
        assert_eq!(
            bare,
            "# Generated by `confpack build` from control/control.yml.\nenvironment:\n  file: environment.xml\n"
        );
        let modes = BTreeMap::from([("/etc/p/a".to_string(), "0640".to_string())]);
        let full = package_yml(
            Some("https://example.com/e.xml"),
            true,
            None,
            &modes,
            &["/etc/p/a".into()],
            &["p/q".into()],
            &crate::declared::Declarations {
                directories: vec![crate::declared::directories::Directory {
                    path: "/srv/p".into(),
                    owner: None,
                    group: None,
                    mode: Some("0750".into()),
                }],
                ..Default::default()
            },
        );
        let back: crate::package::PackageConfig = yaml_serde::from_str(&full).expect("reads back");
        assert_eq!(back.declared.directories[0].path, "/srv/p");
        for line in [
            "  url: https://example.com/e.xml\n",
            "  schema: schema.xsd\n",
            "modes:\n  /etc/p/a: '0640'\n",
            "keep-local-edits:\n- /etc/p/a\n",
            "questions:\n- p/q\n",
            "declared:\n  directories:\n  - path: /srv/p\n    mode: '0750'\n",
        ] {
            assert!(full.contains(line), "{line:?} in {full}");
        }
    }
}
