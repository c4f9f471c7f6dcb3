//! `confpack upload`: a published repository → where the nodes fetch it:
//! another directory (a web server's document root, a mounted share) or a
//! remote host over rsync/ssh.
//!
//! The copy keeps the target consistent for readers at every moment, in
//! the same order publishing writes: pool files and indexes by hash first,
//! then the indexes by name, then the `Release` files; deletions (with
//! `--delete`) come last, once no index names the deleted files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::Listener;
use crate::error::{Error, Result};

/// How the files travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Copied by confpack into a local directory.
    Copy,
    /// `rsync` (over ssh for `host:path` targets).
    Rsync,
}

/// The files of a repository, in the order they must reach a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Pool files and indexes by hash: never change, nothing names them yet.
    Immutable,
    /// `Packages`, `Packages.gz`.
    Indexes,
    /// `Release.gpg`, `InRelease`, `Release`.
    Release,
}

fn phase(relative: &str) -> Phase {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    match name {
        "Release" | "InRelease" | "Release.gpg" => Phase::Release,
        "Packages" | "Packages.gz" => Phase::Indexes,
        // Environment documents change under the same name, like indexes.
        _ if is_document(relative) => Phase::Indexes,
        _ => Phase::Immutable,
    }
}

/// `dists/<environment>/documents/<NAME>.xml`.
fn is_document(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    matches!(parts.as_slice(), ["dists", _, documents, _] if *documents == super::DOCUMENTS_DIR)
}

/// Runs an external command (rsync), behind a trait for tests.
pub trait Runner {
    fn run(&mut self, argv: &[String]) -> Result<()>;
}

/// Runs commands for real, failing with their stderr.
#[derive(Debug, Default)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&mut self, argv: &[String]) -> Result<()> {
        let shown = argv.join(" ");
        let (program, args) = argv.split_first().ok_or_else(|| Error::Command {
            command: shown.clone(),
            message: "empty command".into(),
        })?;
        let output = Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::Command {
                command: shown.clone(),
                message: e.to_string(),
            })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::Command {
                command: shown,
                message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }
}

/// Whether a target names a remote host (`host:path`, `user@host:path`,
/// `rsync://…`) rather than a local directory.
pub fn is_remote(target: &str) -> bool {
    if target.starts_with("rsync://") {
        return true;
    }
    match target.split_once(':') {
        Some((host, _)) => !host.is_empty() && !host.contains('/'),
        None => false,
    }
}

/// What an upload did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Files copied (copy mode), relative to the repository.
    pub copied: Vec<String>,
    /// Files deleted from the target (copy mode with `delete`).
    pub deleted: Vec<String>,
    /// Commands run (rsync mode).
    pub commands: Vec<Vec<String>>,
}

/// Uploads `repo` to `target`.
pub fn upload(
    repo: &Path,
    target: &str,
    via: Via,
    delete: bool,
    runner: &mut dyn Runner,
    listener: &mut dyn Listener,
) -> Result<Report> {
    if !repo.join("dists").is_dir() {
        return Err(Error::Usage(format!(
            "{} has no dists/: publish into it first (confpack publish --repo {} …)",
            repo.display(),
            repo.display()
        )));
    }
    let report = match via {
        Via::Copy => {
            if is_remote(target) {
                return Err(Error::Usage(format!(
                    "{target} names a remote host; copying is for local directories (use --via rsync)"
                )));
            }
            copy(repo, Path::new(target), delete, listener)?
        }
        Via::Rsync => rsync(repo, target, delete, runner)?,
    };
    listener.info(&format!(
        "uploaded {} to {target}{}",
        repo.display(),
        match via {
            Via::Copy => format!(
                ": {} file(s) copied, {} deleted",
                report.copied.len(),
                report.deleted.len()
            ),
            Via::Rsync => String::new(),
        }
    ));
    Ok(report)
}

/// Hidden names are never uploaded: in a repository they are only ever
/// confpack's own (temporary files of a publish in progress, the lock file
/// of older versions), never content apt fetches.
const HIDDEN: &str = "--exclude=.*";

/// Environment documents go with the indexes, not the immutable files.
const DOCUMENTS: &str = "--exclude=/dists/*/documents/";

/// The repository's files, relative, without hidden ones (see [`HIDDEN`]).
fn files(root: &Path) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = root.join(&relative);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let child = relative.join(&name);
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(child);
            } else {
                out.insert(child.to_string_lossy().into_owned());
            }
        }
    }
    Ok(out)
}

fn same_content(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) if ma.len() == mb.len() => match (std::fs::read(a), std::fs::read(b)) {
            (Ok(x), Ok(y)) => Sha256::digest(&x) == Sha256::digest(&y),
            _ => false,
        },
        _ => false,
    }
}

fn copy(repo: &Path, target: &Path, delete: bool, listener: &mut dyn Listener) -> Result<Report> {
    let source_files = files(repo)?;
    let mut ordered: Vec<&String> = source_files.iter().collect();
    ordered.sort_by_key(|relative| (phase(relative), (*relative).clone()));
    let mut report = Report::default();
    let total = ordered.len() as u64;
    for (done, relative) in ordered.into_iter().enumerate() {
        let from = repo.join(relative);
        let to = target.join(relative);
        // Pool files and by-hash files never change: present is enough.
        let skip = if phase(relative) == Phase::Immutable {
            to.exists()
                && std::fs::metadata(&to).ok().map(|m| m.len())
                    == std::fs::metadata(&from).ok().map(|m| m.len())
        } else {
            same_content(&from, &to)
        };
        if !skip {
            let bytes = std::fs::read(&from).map_err(|e| Error::io(&from, e))?;
            crate::files::write_atomic(&to, &bytes, 0o644)?;
            report.copied.push(relative.clone());
        }
        listener.progress(done as u64 + 1, total);
    }
    if delete {
        for relative in files(target)?.difference(&source_files) {
            let path = target.join(relative);
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            report.deleted.push(relative.clone());
        }
    }
    Ok(report)
}

fn rsync(repo: &Path, target: &str, delete: bool, runner: &mut dyn Runner) -> Result<Report> {
    let source = format!("{}/", repo.display().to_string().trim_end_matches('/'));
    let destination = format!("{}/", target.trim_end_matches('/'));
    let base = |extra: &[&str]| -> Vec<String> {
        let mut argv: Vec<String> = ["rsync", "-rlt", HIDDEN]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv.push(source.clone());
        argv.push(destination.clone());
        argv
    };
    let mut phases = vec![
        base(&[
            "--exclude=Packages",
            "--exclude=Packages.gz",
            DOCUMENTS,
            "--exclude=Release",
            "--exclude=InRelease",
            "--exclude=Release.gpg",
        ]),
        base(&[
            "--exclude=Release",
            "--exclude=InRelease",
            "--exclude=Release.gpg",
        ]),
        base(&[]),
    ];
    if delete {
        phases.push(base(&["--delete"]));
    }
    let mut report = Report::default();
    for argv in phases {
        runner.run(&argv)?;
        report.commands.push(argv);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Vec<Vec<String>>);

    impl Runner for Recorder {
        fn run(&mut self, argv: &[String]) -> Result<()> {
            self.0.push(argv.to_vec());
            Ok(())
        }
    }

    #[test]
    fn remote_targets_are_told_from_directories() {
        assert!(is_remote("apt.example.com:/srv/apt"));
        assert!(is_remote("deploy@apt:/srv/apt"));
        assert!(is_remote("rsync://mirror/apt"));
        assert!(!is_remote("/srv/apt"));
        assert!(!is_remote("./a:b"));
    }

    #[test]
    fn rsync_sends_the_release_files_last_and_deletes_after_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("dists")).expect("mkdir");
        let mut recorder = Recorder::default();
        let mut listener = crate::RecordingListener::default();
        upload(
            dir.path(),
            "apt:/srv/apt",
            Via::Rsync,
            true,
            &mut recorder,
            &mut listener,
        )
        .expect("upload");
        let runs = recorder.0;
        assert_eq!(runs.len(), 4);
        assert!(runs[0].contains(&"--exclude=Packages".to_string()));
        assert!(runs[0].contains(&DOCUMENTS.to_string()));
        assert!(!runs[1].contains(&DOCUMENTS.to_string()));
        assert_eq!(phase("dists/master/documents/webshop.xml"), Phase::Indexes);
        assert_eq!(phase("pool/main/d/documents/x.xml"), Phase::Immutable);
        assert!(runs[1].contains(&"--exclude=Release".to_string()));
        assert!(!runs[1].contains(&"--exclude=Packages".to_string()));
        assert!(!runs[2].iter().any(|a| a.contains("Release")));
        assert!(runs[3].contains(&"--delete".to_string()));
        assert!(
            runs.iter().all(|r| r.contains(&HIDDEN.to_string())),
            "no pass sends a lock or temporary file"
        );
        assert!(
            runs.iter()
                .all(|r| r.last().map(String::as_str) == Some("apt:/srv/apt/"))
        );
    }
}
