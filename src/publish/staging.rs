//! Replacing an environment's published files all at once.
//!
//! Why a staging directory: `Release`, its signatures and the indexes it
//! names are several files, and no sequence of renames replaces several
//! files atomically; a publish that fails or is killed between two renames
//! leaves a `Packages` that its `Release` does not name (apt refuses it),
//! or a signature of another `Release`. So the new `dists/<environment>`
//! is written whole into a hidden sibling (`dists/.confpack-stage-XXXXXX`)
//! and swapped with the published one in one `renameat2(RENAME_EXCHANGE)`:
//! readers, and a publish killed at any point, see either the previous
//! tree or the new one, never a mix. The previous tree, now at the hidden
//! name, is deleted afterwards; a kill in between leaves it for
//! [`clean_leftovers`] of the next publish.
//!
//! File systems without `RENAME_EXCHANGE` (some network and FUSE file
//! systems) get the files renamed one by one in the order readers need
//! (by-hash first, `Release` last): still never a half-written file, but a
//! kill between two renames can leave the indexes ahead of `Release`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Prefix of everything a publish writes under a temporary name.
pub const TEMP_PREFIX: &str = ".confpack-";

/// A new `dists/<environment>` being written.
pub struct Staging {
    dir: tempfile::TempDir,
    /// Relative paths written, in no particular order.
    files: Vec<String>,
}

impl Staging {
    /// An empty staging directory beside the environments in `dists`.
    pub fn new(dists: &Path) -> Result<Staging> {
        std::fs::create_dir_all(dists).map_err(|e| Error::io(dists, e))?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}stage-"))
            .tempdir_in(dists)
            .map_err(|e| Error::io(dists, e))?;
        Ok(Staging {
            dir,
            files: Vec::new(),
        })
    }

    /// Writes (and syncs) `relative` with `bytes`, mode 0644.
    pub fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<()> {
        let path = self.prepare(relative)?;
        let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        file.write_all(bytes).map_err(|e| Error::io(&path, e))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        Ok(())
    }

    /// Puts the published file `from` (immutable: a by-hash index) at
    /// `relative`, as a hard link where the file system allows.
    pub fn keep(&mut self, relative: &str, from: &Path) -> Result<()> {
        let path = self.prepare(relative)?;
        if std::fs::hard_link(from, &path).is_err() {
            let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
            self.files.pop();
            return self.write(relative, &bytes);
        }
        Ok(())
    }

    fn prepare(&mut self, relative: &str) -> Result<PathBuf> {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        self.files.push(relative.to_string());
        Ok(path)
    }

    /// Makes the staged tree `dist`, in one step where the file system
    /// can; the previous tree is deleted.
    pub fn install(self, dist: &Path) -> Result<()> {
        let staged = self.dir.path();
        std::fs::set_permissions(staged, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(staged, e))?;
        sync_dir(staged);
        let dists = dist.parent().unwrap_or(Path::new("."));
        if !dist.exists() {
            std::fs::rename(staged, dist).map_err(|e| Error::io(dist, e))?;
            sync_dir(dists);
            // The temp dir's own path no longer exists: nothing to delete.
            let _ = self.dir.keep();
            return Ok(());
        }
        let exchanged = rustix::fs::renameat_with(
            rustix::fs::CWD,
            staged,
            rustix::fs::CWD,
            dist,
            rustix::fs::RenameFlags::EXCHANGE,
        );
        match exchanged {
            Ok(()) => {
                sync_dir(dists);
                // `self.dir` now holds the previous tree; dropping it deletes it.
                Ok(())
            }
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                self.install_file_by_file(dist)
            }
            Err(e) => Err(Error::io(dist, std::io::Error::from(e))),
        }
    }

    /// The fallback: every file renamed into `dist` in the order readers
    /// need, then what the new tree does not have is deleted.
    fn install_file_by_file(mut self, dist: &Path) -> Result<()> {
        self.files
            .sort_by_key(|relative| (rank(relative), relative.clone()));
        for relative in &self.files {
            let from = self.dir.path().join(relative);
            let to = dist.join(relative);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
        sync_dir(dist);
        let keep: std::collections::BTreeSet<&str> =
            self.files.iter().map(String::as_str).collect();
        for relative in relative_files(dist)? {
            if !keep.contains(relative.as_str()) {
                let path = dist.join(&relative);
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(())
    }
}

/// Where a file comes in the one-by-one order: what nothing names yet
/// first, `Release` (which names everything) last.
fn rank(relative: &str) -> u8 {
    match relative.rsplit('/').next().unwrap_or(relative) {
        "Release" => 4,
        "InRelease" => 3,
        "Release.gpg" => 2,
        _ if relative.contains("/by-hash/") => 0,
        _ => 1,
    }
}

/// Every file under `dir`, relative.
fn relative_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| Error::io(&current, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&current, e))?;
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    Ok(out)
}

/// Deletes what killed publishes left in the repository: staging
/// directories and previous trees in `dists/`, and temporary files
/// (`.confpack-*`) anywhere. Runs under the publish lock, so nothing of
/// it belongs to a running publish.
pub fn clean_leftovers(repo: &Path) -> Result<()> {
    let mut pending = vec![repo.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let removed = if is_dir {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|e| Error::io(&path, e))?;
            } else if is_dir {
                pending.push(path);
            }
        }
    }
    Ok(())
}

/// Makes renames in `dir` durable (best effort: a kill needs no sync).
fn sync_dir(dir: &Path) {
    if let Ok(file) = std::fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_tree_replaces_the_published_one_whole() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dists = temp.path().join("dists");
        let dist = dists.join("master");
        std::fs::create_dir_all(dist.join("old")).expect("mkdir");
        std::fs::write(dist.join("old/file"), "old").expect("write");
        let mut staging = Staging::new(&dists).expect("staging");
        staging.write("main/Packages", b"new").expect("write");
        staging.keep("kept", &dist.join("old/file")).expect("keep");
        staging.install(&dist).expect("install");
        assert_eq!(
            std::fs::read(dist.join("main/Packages")).expect("new"),
            b"new"
        );
        assert_eq!(std::fs::read(dist.join("kept")).expect("kept"), b"old");
        assert!(!dist.join("old").exists());
        let left: Vec<_> = std::fs::read_dir(&dists).expect("dists").collect();
        assert_eq!(left.len(), 1, "the previous tree is gone");
    }

    #[test]
    fn the_one_by_one_order_names_nothing_before_it_exists() {
        let mut files = [
            "Release",
            "main/binary-all/Packages",
            "InRelease",
            "main/binary-all/by-hash/SHA256/ab",
            "Release.gpg",
        ];
        files.sort_by_key(|f| rank(f));
        assert_eq!(
            files,
            [
                "main/binary-all/by-hash/SHA256/ab",
                "main/binary-all/Packages",
                "Release.gpg",
                "InRelease",
                "Release"
            ]
        );
    }
}
