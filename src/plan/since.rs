//! The repository at the revision the plan is compared with, exported
//! from git into a temp dir (`git archive`): the work tree and the
//! repository's worktree list are left alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Since;
use crate::error::{Error, Result};

/// The repository's directory as it was at `revision`.
pub struct Tree {
    _dir: tempfile::TempDir,
    pub dir: PathBuf,
    /// As the output names it: `HEAD~1 (1a2b3c4)`.
    pub revision: String,
}

/// The tree to compare with: `since`'s revision, or for
/// [`Since::Previous`] the last commit that changed the repository's
/// directory when its work tree has changes, else the one before it
/// (none outside git, or before there is one).
pub fn baseline(repo: &Path, since: &Since) -> Result<Option<Tree>> {
    let revision = match since {
        Since::Nothing => return Ok(None),
        Since::Revision(revision) => revision.clone(),
        Since::Previous => match previous(repo) {
            Some(revision) => revision,
            None => return Ok(None),
        },
    };
    let commit = format!("{revision}^{{commit}}");
    let sha = git(repo, &["rev-parse", "--verify", &commit]).map_err(|error| {
        Error::Usage(format!(
            "--since {revision}: not a commit of the git repository at {} ({error})",
            repo.display()
        ))
    })?;
    let sha = String::from_utf8_lossy(&sha).trim().to_string();
    let short = &sha[..sha.len().min(12)];
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    // Through a file, not a pipe read whole: the archive holds the
    // documents, as large as what the plan may take in all.
    let archive = dir.path().join("repo.tar");
    let shown = archive.display().to_string();
    git(
        repo,
        &[
            "archive",
            "--format=tar",
            "-o",
            &shown,
            &format!("{sha}:./"),
        ],
    )?;
    let path = dir.path().join("repo");
    let file = std::fs::File::open(&archive).map_err(|e| Error::io(&archive, e))?;
    tar::Archive::new(std::io::BufReader::new(file))
        .unpack(&path)
        .map_err(|e| Error::io(&path, e))?;
    std::fs::remove_file(&archive).map_err(|e| Error::io(&archive, e))?;
    Ok(Some(Tree {
        _dir: dir,
        dir: path,
        revision: match revision == sha {
            true => short.to_string(),
            false => format!("{revision} ({short})"),
        },
    }))
}

/// The default revision, `None` when there is nothing to compare with.
fn previous(repo: &Path) -> Option<String> {
    let log = git(repo, &["log", "-2", "--format=%H", "--", "."]).ok()?;
    let commits: Vec<String> = String::from_utf8_lossy(&log)
        .lines()
        .map(str::to_string)
        .collect();
    let dirty = git(repo, &["status", "--porcelain", "--", "."])
        .map(|out| !out.trim_ascii().is_empty())
        .unwrap_or(false);
    match dirty {
        true => commits.first().cloned(),
        false => commits.get(1).cloned(),
    }
}

/// Runs git in `repo`; its stderr in the error.
fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    crate::process::command::output(&mut command).map(|output| output.stdout)
}
