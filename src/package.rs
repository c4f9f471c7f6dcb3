//! What an installed confpack package tells configure: where its
//! environment document is (online URL, local copy), its templates and its
//! component hooks. Lives in `/usr/share/confpack/<pkg>/` (under `--root`):
//!
//! ```yaml
//! # /usr/share/confpack/webshop/package.yml (optional)
//! environment:
//!   url: https://config.example.com/webshop.xml   # online copy, fetched first
//!   file: environment.xml                          # local copy, relative to this directory
//! questions: [webshop/admin.email]     # asked although nothing here reads it
//! hooks:
//!   - name: firewall
//!     reads: [webshop/cluster.iplist]
//!     run: [/usr/sbin/ufw, reload]
//!     timeout: 120
//!   - name: reload-app                 # a service action: systemctl try-reload-or-restart webshop.service
//!     reads: [webshop/workers]
//!     service: webshop.service
//!     action: try-reload-or-restart
//! ```
//! Without `package.yml`, the local copy is `environment.xml` beside it.
//! Templates are `templates/<target path>.j2`.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The package of the confpack binary itself (`confpack build
/// --runtime`): installed on every node, never a role.
pub const RUNTIME_PACKAGE: &str = "confpack-runtime";

/// The package's `package.yml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageConfig {
    #[serde(default)]
    pub environment: EnvironmentConfig,
    #[serde(default)]
    pub hooks: Vec<Hook>,
    /// Target paths of templates whose mode the package declared
    /// (control.yml `modes:`), as octal text; see [`crate::render::file_mode`].
    #[serde(default)]
    pub modes: std::collections::BTreeMap<String, String>,
    /// Target paths of templates whose local edits are kept, not replaced
    /// (control.yml `keep-local-edits:`); see [`crate::render::EditPolicy`].
    #[serde(default, rename = "keep-local-edits")]
    pub keep_local_edits: Vec<String>,
    /// Questions the package asks besides those its templates, hooks and
    /// derived values read (control.yml `questions:`); see
    /// [`crate::questions`].
    #[serde(default)]
    pub questions: Vec<String>,
    /// Declarations with a "down" (control.yml `directories:`, `users:`,
    /// `services:`, …); see [`crate::declared`].
    #[serde(default)]
    pub declared: crate::declared::Declarations,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub url: Option<String>,
    pub file: Option<PathBuf>,
    pub schema: Option<PathBuf>,
}

/// A command to run when answers it reads have changed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub name: String,
    /// Question keys whose values the command depends on.
    #[serde(default)]
    pub reads: Vec<String>,
    /// argv; never passed through a shell. Empty for a service action.
    #[serde(default)]
    pub run: Vec<String>,
    /// A systemd unit: the hook is `systemctl <action> <service>`, a
    /// service action that waits (unrecorded) while systemd is not running
    /// or policy-rc.d denies it, as Debian's invoke-rc.d does.
    pub service: Option<String>,
    pub action: Option<ServiceAction>,
    /// Seconds before the command is killed (default 300).
    pub timeout: Option<u64>,
}

pub use crate::debian::systemd::{ServiceAction, ServiceCall};

impl Hook {
    /// The unit and action of a service hook.
    pub fn service_call(&self) -> Option<ServiceCall<'_>> {
        Some(ServiceCall {
            unit: self.service.as_deref()?,
            action: self.action?,
        })
    }

    /// The argv the hook runs: `run`, or `systemctl <action> <unit>`.
    pub fn command(&self) -> Vec<String> {
        match self.service_call() {
            Some(call) => vec![
                "systemctl".to_string(),
                call.action.as_str().to_string(),
                call.unit.to_string(),
            ],
            None => self.run.clone(),
        }
    }

    /// What `package.yml` and control.yml must get right beyond the types;
    /// the message starts with the hook's name.
    pub fn check(&self) -> std::result::Result<(), String> {
        let problem = |message: &str| Err(format!("hook {}: {message}", self.name));
        match (&self.service, self.action, self.run.is_empty()) {
            (Some(_), _, false) => problem(
                "`run` and `service` exclude each other (a service hook runs `systemctl <action> <service>`)",
            ),
            (Some(_), None, _) => problem(
                "`service` needs an `action` (start, stop, restart, reload, try-restart, reload-or-restart, try-reload-or-restart)",
            ),
            (None, Some(_), _) => problem("`action` needs a `service`"),
            (None, None, true) => problem("`run` needs at least the command"),
            (Some(unit), Some(_), true) if !crate::debian::systemd::valid_unit_name(unit) => {
                problem(&format!(
                    "`service: {unit}` is not a systemd unit name (letters, digits, `:-_.@\\`, e.g. webshop.service)"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// An installed package's confpack files.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// `<root>/usr/share/confpack/<name>`.
    pub dir: PathBuf,
    pub config: PackageConfig,
}

/// Debian policy: lower case letters, digits, `+ - .`, at least two
/// characters, starting with an alphanumeric.
pub fn valid_package_name(name: &str) -> bool {
    name.len() >= 2
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// The 1-based line of a hook's `name:` in a YAML text (yaml_serde gives
/// lines for syntax errors only).
pub fn hook_line(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches("- ").trim_start();
            line.strip_prefix("name:")
                .is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == name)
        })
        .map(|i| i as u64 + 1)
}

pub use crate::files::rooted;

/// Whether `name` is a package confpack configures on `root` (it installed
/// `/usr/share/confpack/<name>/`), not one that asks through debconf only.
pub fn is_confpacks(root: &Path, name: &str) -> bool {
    valid_package_name(name) && rooted(root, &Path::new("/usr/share/confpack").join(name)).is_dir()
}

impl Package {
    /// A package with no confpack files installed (nothing to render or
    /// apply: what it had is undone).
    pub fn empty(root: &Path, name: &str) -> Package {
        Package {
            name: name.to_string(),
            dir: rooted(root, &Path::new("/usr/share/confpack").join(name)),
            config: PackageConfig::default(),
        }
    }

    pub fn load(root: &Path, name: &str) -> Result<Package> {
        if !valid_package_name(name) {
            return Err(Error::Package {
                package: name.to_string(),
                message: "not a valid Debian package name (lower case letters, digits, + - .)"
                    .into(),
            });
        }
        let dir = rooted(root, &Path::new("/usr/share/confpack").join(name));
        if !dir.is_dir() {
            return Err(Error::Package {
                package: name.to_string(),
                message: format!(
                    "{} does not exist; is the package installed (or --root right)?",
                    dir.display()
                ),
            });
        }
        let config_path = dir.join("package.yml");
        let text = match std::fs::read_to_string(&config_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(&config_path, e)),
        };
        let file = config_path.display().to_string();
        let config: PackageConfig = match text.trim() {
            "" => PackageConfig::default(),
            _ => yaml_serde::from_str(&text).map_err(|e| {
                let line = e.location().map(|l| l.line() as u64);
                Error::at(file.clone(), line, e.to_string())
            })?,
        };
        let mut names = std::collections::BTreeSet::new();
        let mut problems = Vec::new();
        for hook in &config.hooks {
            let duplicate = (!names.insert(hook.name.clone()))
                .then(|| format!("hook {} is defined twice", hook.name));
            for message in hook.check().err().into_iter().chain(duplicate) {
                problems.push(crate::error::Problem {
                    file: file.clone(),
                    line: hook_line(&text, &hook.name),
                    message,
                });
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        Ok(Package {
            name: name.to_string(),
            dir,
            config,
        })
    }

    /// The local copy of the environment document.
    pub fn local_document(&self, root: &Path) -> PathBuf {
        match &self.config.environment.file {
            Some(file) if file.is_absolute() => rooted(root, file),
            Some(file) => self.dir.join(file),
            None => self.dir.join("environment.xml"),
        }
    }

    /// The schema its document is validated against, when `package.yml`
    /// names one: an absolute path is under `root`, a relative one in the
    /// package's directory.
    pub fn schema(&self, root: &Path) -> Option<PathBuf> {
        let schema = self.config.environment.schema.as_ref()?;
        Some(match schema.is_absolute() {
            true => rooted(root, schema),
            false => self.dir.join(schema),
        })
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.dir.join("templates")
    }
}

/// Lists `templates/**/*.j2` as (template path relative to `dir`, target
/// path on the system).
pub fn list_templates(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    for entry in crate::files::walk(dir)? {
        let path = entry.path;
        if entry.file_type.is_symlink() {
            return Err(Error::Template {
                path,
                message: "a symlink under templates/ (file or directory) is refused: \
                          ship the files themselves"
                    .into(),
            });
        }
        if path.extension().is_none_or(|e| e != "j2") {
            continue;
        }
        if !entry.file_type.is_file() {
            return Err(Error::Template {
                path,
                message: "templates must be regular files (not symlinks or devices)".into(),
            });
        }
        let relative = entry.relative;
        if relative.to_str().is_none() {
            return Err(Error::Template {
                path,
                message: "the file name is not valid UTF-8".into(),
            });
        }
        let target = Path::new("/").join(relative.with_extension(""));
        if target
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            return Err(Error::Template {
                path,
                message: "the target path must not contain . or ..".into(),
            });
        }
        out.push((relative, target));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_follow_debian_policy() {
        assert!(valid_package_name("webshop"));
        assert!(valid_package_name("lib2.0-conf+x"));
        assert!(!valid_package_name("Webshop"));
        assert!(!valid_package_name("a"));
        assert!(!valid_package_name("-x"));
        assert!(!valid_package_name("../etc"));
    }

    #[test]
    fn rooted_paths_stay_under_the_root() {
        assert_eq!(
            rooted(Path::new("/tmp/r"), Path::new("/etc/x")),
            PathBuf::from("/tmp/r/etc/x")
        );
        assert_eq!(
            rooted(Path::new("/"), Path::new("/etc/x")),
            PathBuf::from("/etc/x")
        );
    }

    /// Installs a package whose package.yml is `yaml`, and loads it.
    fn load_with(yaml: &str) -> Result<Package> {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("usr/share/confpack/demo");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("package.yml"), yaml).expect("write");
        Package::load(root.path(), "demo")
    }

    #[test]
    fn a_service_hook_names_its_unit_and_action() {
        let package = load_with(
            "hooks:\n  - name: reload-app\n    reads: [a/b]\n    service: webshop.service\n    action: try-reload-or-restart\n",
        )
        .expect("load");
        let hook = &package.config.hooks[0];
        assert_eq!(
            hook.service_call(),
            Some(ServiceCall {
                unit: "webshop.service",
                action: ServiceAction::TryReloadOrRestart
            })
        );
        assert!(hook.run.is_empty());
    }

    #[test]
    fn a_wrong_service_hook_is_an_error_at_its_line() {
        for (yaml, line, expected) in [
            (
                "hooks:\n  - name: ok\n    run: [true]\n  - name: both\n    service: x.service\n    action: reload\n    run: [true]\n",
                4,
                "hook both: `run` and `service` exclude each other",
            ),
            (
                "hooks:\n  - name: no-action\n    service: x.service\n",
                2,
                "hook no-action: `service` needs an `action`",
            ),
            (
                "hooks:\n  - name: no-service\n    action: reload\n",
                2,
                "hook no-service: `action` needs a `service`",
            ),
            (
                "hooks:\n  - name: option\n    service: --now\n    action: reload\n",
                2,
                "hook option: `service: --now` is not a systemd unit name",
            ),
            (
                "hooks:\n  - name: typo\n    service: x.service\n    action: relaod\n",
                4,
                "unknown variant `relaod`",
            ),
            (
                "hooks:\n  - name: typo\n    servce: x.service\n",
                3,
                "unknown field `servce`",
            ),
        ] {
            let message = load_with(yaml).expect_err(yaml).to_string();
            assert!(
                message.contains(&format!("package.yml:{line}: ")) && message.contains(expected),
                "{yaml}: {message}"
            );
        }
    }
}
