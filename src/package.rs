//! What an installed confpack package tells configure: where its
//! environment document is (online URL, local copy), its templates and its
//! component hooks. Lives in `/usr/share/confpack/<pkg>/` (under `--root`):
//!
//! ```yaml
//! # /usr/share/confpack/webshop/package.yml (optional)
//! environment:
//!   url: https://config.example.com/webshop.xml   # online copy, fetched first
//!   file: environment.xml                          # local copy, relative to this directory
//! hooks:
//!   - name: firewall
//!     reads: [webshop/cluster.iplist]
//!     run: [/usr/sbin/ufw, reload]
//!     timeout: 120
//! ```
//! Without `package.yml`, the local copy is `environment.xml` beside it.
//! Templates are `templates/<target path>.j2`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The package's `package.yml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageConfig {
    #[serde(default)]
    pub environment: EnvironmentConfig,
    #[serde(default)]
    pub hooks: Vec<Hook>,
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
    /// argv; never passed through a shell.
    pub run: Vec<String>,
    /// Seconds before the command is killed (default 300).
    pub timeout: Option<u64>,
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

/// Joins an absolute system path under `root`.
pub fn rooted(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

impl Package {
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
        let config = match std::fs::read_to_string(&config_path) {
            Ok(text) => serde_yaml::from_str(&text).map_err(|e| {
                let line = e.location().map(|l| l.line() as u64);
                Error::at(config_path.display().to_string(), line, e.to_string())
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PackageConfig::default(),
            Err(e) => return Err(Error::io(&config_path, e)),
        };
        let mut names = std::collections::BTreeSet::new();
        for hook in &config.hooks {
            if hook.run.is_empty() {
                return Err(Error::at(
                    config_path.display().to_string(),
                    None,
                    format!("hook {}: `run` needs at least the command", hook.name),
                ));
            }
            if !names.insert(hook.name.clone()) {
                return Err(Error::at(
                    config_path.display().to_string(),
                    None,
                    format!("hook {} is defined twice", hook.name),
                ));
            }
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

    pub fn templates_dir(&self) -> PathBuf {
        self.dir.join("templates")
    }
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
}
