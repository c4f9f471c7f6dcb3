//! Rendering over a file another Debian package owns (nginx's
//! `/etc/nginx/nginx.conf`, say) without destroying it: the original is
//! moved aside with `dpkg-divert --rename` before confpack writes its own,
//! and moved back when confpack removes its file. dpkg knows about the
//! diversion, so the other package's upgrades write to the diverted name
//! instead of over confpack's file — the way config-package-dev does it.
//!
//! A file no package owns (Debian's `/etc/motd`, written by base-files'
//! postinst) has no package to divert it for: it is moved to
//! `/var/lib/confpack/replaced/<pkg>/<path>` instead, keeping its mode and
//! owner, and moved back the same way. The maintainer scripts do the same
//! for the package's plain files (see `builder::scripts`).
//!
//! Where dpkg is not installed nothing can own a file: an existing file is
//! saved as one of no package.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::os::unix::fs::MetadataExt;

use crate::error::{Error, Result};
use crate::package::rooted;

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

/// Runs a dpkg-divert change for `package`; its failure names both.
fn change(command: &mut Command, package: &str) -> Result<()> {
    crate::process::command::output(command)
        .map(drop)
        .map_err(|error| Error::Package {
            package: package.to_string(),
            message: error.to_string(),
        })
}

/// The packages dpkg says own `path` (diversion lines left out); empty
/// when none does or dpkg is not there.
pub fn owners(root: &Path, path: &Path) -> Vec<String> {
    let mut command = Command::new("dpkg-query");
    with_root(&mut command, root);
    let Some(output) = crate::process::command::query(command.arg("--search").arg(path)) else {
        return Vec::new();
    };
    let wanted = path.display().to_string();
    crate::dpkg::parse_search(&String::from_utf8_lossy(&output.stdout))
        .into_iter()
        .filter(|shipped| shipped.path == wanted)
        .flat_map(|shipped| shipped.packages)
        .collect()
}

/// The package holding a diversion of `path`, if any.
pub fn diverted_by(root: &Path, path: &Path) -> Option<String> {
    let mut command = Command::new("dpkg-divert");
    with_root(&mut command, root);
    let output = crate::process::command::query(command.arg("--listpackage").arg(path))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Where the original of `path`, a file of no package, is kept for
/// `package` (under `root`).
pub fn saved_name(root: &Path, package: &str, path: &Path) -> PathBuf {
    rooted(
        &rooted(root, &Path::new("/var/lib/confpack/replaced").join(package)),
        path,
    )
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Moves `from` to `to`, keeping mode and owner also across file systems.
fn move_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let metadata = std::fs::symlink_metadata(from).map_err(|e| Error::io(from, e))?;
    std::fs::copy(from, to).map_err(|e| Error::io(to, e))?;
    std::os::unix::fs::chown(to, Some(metadata.uid()), Some(metadata.gid()))
        .map_err(|e| Error::io(to, e))?;
    std::fs::set_permissions(to, metadata.permissions()).map_err(|e| Error::io(to, e))?;
    std::fs::remove_file(from).map_err(|e| Error::io(from, e))
}

/// Removes the empty directories left above a given-back saved copy, up
/// to `/var/lib/confpack`.
fn tidy(root: &Path, saved: &Path) {
    let stop = rooted(root, Path::new("/var/lib/confpack"));
    let mut dir = saved.parent();
    while let Some(current) = dir {
        if current == stop || !current.starts_with(&stop) || std::fs::remove_dir(current).is_err() {
            break;
        }
        dir = current.parent();
    }
}

/// Before `package` renders `path`: diverts another package's file there,
/// or saves a file no package owns. Returns whether `package` (now) holds
/// an original of `path`.
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
    let owners = owners(root, path);
    if owners.iter().any(|owner| owner == package) {
        return Ok(false);
    }
    if owners.is_empty() {
        return save_unowned(root, package, path);
    }
    let mut command = Command::new("dpkg-divert");
    with_root(&mut command, root);
    command
        .args(["--quiet", "--package", package, "--rename", "--divert"])
        .arg(diverted_name(path))
        .arg("--add")
        .arg(path);
    change(&mut command, package)?;
    Ok(true)
}

/// A regular file of no package at `path` is moved to its saved name,
/// unless an original is saved already.
fn save_unowned(root: &Path, package: &str, path: &Path) -> Result<bool> {
    let saved = saved_name(root, package, path);
    if exists(&saved) {
        return Ok(true);
    }
    let target = rooted(root, path);
    match std::fs::symlink_metadata(&target) {
        Ok(metadata) if metadata.is_file() => {
            move_file(&target, &saved)?;
            Ok(true)
        }
        // Nothing there; a symlink or directory the render refuses anyway.
        _ => Ok(false),
    }
}

/// After `package` removed its rendering of `path`: gives the original
/// back (undiverted, or its saved copy moved back while nothing is there).
pub fn undivert(root: &Path, package: &str, path: &Path) -> Result<()> {
    if diverted_by(root, path).as_deref() != Some(package) {
        let saved = saved_name(root, package, path);
        let target = rooted(root, path);
        if exists(&saved) && !exists(&target) {
            move_file(&saved, &target)?;
            tidy(root, &saved);
        }
        return Ok(());
    }
    let mut command = Command::new("dpkg-divert");
    with_root(&mut command, root);
    command
        .args(["--quiet", "--package", package, "--rename", "--divert"])
        .arg(diverted_name(path))
        .arg("--remove")
        .arg(path);
    change(&mut command, package)?;
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

    #[test]
    fn a_file_of_no_package_is_saved_and_given_back_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let motd = root.join("etc/motd");
        std::fs::create_dir_all(motd.parent().expect("parent")).expect("mkdir");
        std::fs::write(&motd, "Debian's own\n").expect("write");
        std::fs::set_permissions(&motd, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let path = Path::new("/etc/motd");
        assert!(divert_if_foreign(root, "motd", path).expect("save"));
        assert!(!motd.exists());
        let saved = root.join("var/lib/confpack/replaced/motd/etc/motd");
        assert_eq!(std::fs::read(&saved).expect("saved"), b"Debian's own\n");
        // A second time (the file is confpack's now): the original stays.
        std::fs::write(&motd, "rendered\n").expect("write");
        assert!(divert_if_foreign(root, "motd", path).expect("again"));
        assert_eq!(std::fs::read(&saved).expect("saved"), b"Debian's own\n");
        // Given back only once confpack's file is gone.
        undivert(root, "motd", path).expect("kept");
        assert_eq!(std::fs::read(&motd).expect("motd"), b"rendered\n");
        std::fs::remove_file(&motd).expect("rm");
        undivert(root, "motd", path).expect("give back");
        assert_eq!(std::fs::read(&motd).expect("motd"), b"Debian's own\n");
        let mode = std::fs::metadata(&motd).expect("meta").permissions().mode();
        assert_eq!(mode & 0o7777, 0o640);
        assert!(!root.join("var/lib/confpack/replaced").exists());
    }
}
