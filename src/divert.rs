//! Rendering over a file another Debian package owns (nginx's
//! `/etc/nginx/nginx.conf`, say) without destroying it: the original is
//! moved aside with `dpkg-divert --rename` before confpack writes its own,
//! and moved back when confpack removes its file. dpkg knows about the
//! diversion, so the other package's upgrades write to the diverted name
//! instead of over confpack's file — the way config-package-dev does it.
//!
//! Where dpkg is not installed nothing can own a file, and nothing is done.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The name the original is kept under.
pub fn diverted_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".confpack-orig");
    PathBuf::from(name)
}

fn with_root(command: &mut Command, root: &Path) {
    if root != Path::new("/") {
        command.arg(format!("--root={}", root.display()));
    }
}

fn failed(command: &str, package: &str, stderr: &[u8]) -> Error {
    Error::Package {
        package: package.to_string(),
        message: format!(
            "`{command}` failed: {}",
            String::from_utf8_lossy(stderr).trim()
        ),
    }
}

/// The packages dpkg says own `path` (diversion lines left out); empty
/// when none does or dpkg is not there.
pub fn owners(root: &Path, path: &Path) -> Vec<String> {
    let mut command = Command::new("dpkg-query");
    with_root(&mut command, root);
    let Ok(output) = command.arg("--search").arg(path).output() else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    let wanted = format!(": {}", path.display());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with("diversion by ") && line.ends_with(&wanted))
        .flat_map(|line| {
            line[..line.len() - wanted.len()]
                .split(", ")
                .map(|owner| owner.split(':').next().unwrap_or(owner).trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The package holding a diversion of `path`, if any.
pub fn diverted_by(root: &Path, path: &Path) -> Option<String> {
    let mut command = Command::new("dpkg-divert");
    with_root(&mut command, root);
    let output = command.arg("--listpackage").arg(path).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// Before `package` renders `path`: diverts another package's file there.
/// Returns whether `path` is (now) diverted by `package`.
pub fn divert_if_foreign(root: &Path, package: &str, path: &Path) -> Result<bool> {
    if let Some(holder) = diverted_by(root, path) {
        if holder == package {
            return Ok(true);
        }
        return Err(Error::Package {
            package: package.to_string(),
            message: format!(
                "{} is already diverted by {holder}; confpack cannot render it too",
                path.display()
            ),
        });
    }
    let foreign: Vec<String> = owners(root, path)
        .into_iter()
        .filter(|owner| owner != package)
        .collect();
    if foreign.is_empty() {
        return Ok(false);
    }
    let mut command = Command::new("dpkg-divert");
    with_root(&mut command, root);
    command
        .args(["--quiet", "--package", package, "--rename", "--divert"])
        .arg(diverted_name(path))
        .arg("--add")
        .arg(path);
    let output = command
        .output()
        .map_err(|e| failed("dpkg-divert --add", package, e.to_string().as_bytes()))?;
    if !output.status.success() {
        return Err(failed("dpkg-divert --add", package, &output.stderr));
    }
    Ok(true)
}

/// After `package` removed its rendering of `path`: gives the original back.
pub fn undivert(root: &Path, package: &str, path: &Path) -> Result<()> {
    if diverted_by(root, path).as_deref() != Some(package) {
        return Ok(());
    }
    let mut command = Command::new("dpkg-divert");
    with_root(&mut command, root);
    command
        .args(["--quiet", "--package", package, "--rename", "--divert"])
        .arg(diverted_name(path))
        .arg("--remove")
        .arg(path);
    let output = command
        .output()
        .map_err(|e| failed("dpkg-divert --remove", package, e.to_string().as_bytes()))?;
    if !output.status.success() {
        return Err(failed("dpkg-divert --remove", package, &output.stderr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_keeps_its_name_with_a_suffix() {
        assert_eq!(
            diverted_name(Path::new("/etc/nginx/nginx.conf")),
            PathBuf::from("/etc/nginx/nginx.conf.confpack-orig")
        );
    }
}
