//! What the build needs from git: which files are tracked, whether the
//! tree is clean, and the last commit that changed each package.
//!
//! A package's version names the commit that last changed *its* sources
//! (`git log --first-parent`), not the repository's HEAD: a commit to one
//! package then upgrades that package alone on every node, and rebuilding
//! an unchanged package gives the same version and the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// A commit: its id and committer time (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub time: i64,
}

/// A directory inside a git work tree.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

fn describe(args: &[&str]) -> String {
    format!("git {}", args.join(" "))
}

impl Git {
    /// `Some` when `dir` is inside a git work tree (and git is installed).
    pub fn open(dir: &Path) -> Option<Git> {
        let git = Git {
            dir: dir.to_path_buf(),
        };
        let inside = git.run(&["rev-parse", "--is-inside-work-tree"]).ok()?;
        (inside.trim_ascii() == b"true").then_some(git)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            .args(["-c", "core.quotepath=off"])
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Result<Vec<u8>> {
        crate::process::command::output(&mut self.command(args))
            .map(|output| output.stdout)
            .map_err(|error| match error {
                Error::Command { message, .. } => Error::Command {
                    command: format!("{} (in {})", describe(args), self.dir.display()),
                    message,
                },
                other => other,
            })
    }

    /// Whether the clone is shallow: its history ends early, so the commit
    /// that last changed a package may be missing.
    pub fn is_shallow(&self) -> bool {
        self.run(&["rev-parse", "--is-shallow-repository"])
            .is_ok_and(|out| out.trim_ascii() == b"true")
    }

    /// The commit checked out.
    pub fn head(&self) -> Result<Commit> {
        let out = self.run(&["log", "-1", "--format=%H %ct"])?;
        parse_commit(&String::from_utf8_lossy(&out)).ok_or_else(|| Error::Command {
            command: "git log -1".into(),
            message: format!(
                "{} has no commits yet; commit the repository first",
                self.dir.display()
            ),
        })
    }

    /// Paths (relative to the directory) that differ from HEAD or are
    /// untracked and not ignored.
    pub fn changed_paths(&self) -> Result<Vec<String>> {
        let out = self.run(&[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            ".",
        ])?;
        let prefix = self.prefix()?;
        let mut paths = Vec::new();
        let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
        while let Some(field) = fields.next() {
            let status = field.get(..2).unwrap_or_default();
            let path = String::from_utf8_lossy(field.get(3..).unwrap_or_default()).into_owned();
            // A rename names its source in the next field.
            if status.starts_with(b"R") || status.starts_with(b"C") {
                fields.next();
            }
            paths.push(path.strip_prefix(&prefix).unwrap_or(&path).to_string());
        }
        Ok(paths)
    }

    /// The directory's path inside the work tree (`examples/` or empty).
    fn prefix(&self) -> Result<String> {
        let out = self.run(&["rev-parse", "--show-prefix"])?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Files git knows under the directory (relative paths); with
    /// `untracked`, also the untracked files that are not ignored.
    pub fn files(&self, untracked: bool) -> Result<BTreeSet<String>> {
        let mut args = vec!["ls-files", "-z", "--cached"];
        if untracked {
            args.extend(["--others", "--exclude-standard"]);
        }
        args.extend(["--", "."]);
        let out = self.run(&args)?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect())
    }

    /// Walks the first-parent history from HEAD, newest first, and gives
    /// each key the first commit that changed a path `classify` maps to it.
    /// Stops reading as soon as every wanted key has its commit.
    pub fn last_changes<K: Ord + Clone>(
        &self,
        wanted: &BTreeSet<K>,
        classify: &dyn Fn(&str) -> Vec<K>,
    ) -> Result<BTreeMap<K, Commit>> {
        let args = [
            "log",
            "--first-parent",
            "-m",
            "--no-renames",
            "--relative",
            "--name-only",
            "-z",
            "--format=%x01%H %ct",
            "--",
            ".",
        ];
        let mut child = self
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Command {
                command: describe(&args),
                message: e.to_string(),
            })?;
        let mut found: BTreeMap<K, Commit> = BTreeMap::new();
        let mut stdout = child.stdout.take().ok_or_else(|| Error::Command {
            command: describe(&args),
            message: "no output pipe".into(),
        })?;
        let mut pending: Vec<u8> = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut current: Option<Commit> = None;
        let mut done = wanted.is_empty();
        while !done {
            let read = stdout.read(&mut buffer).map_err(|e| Error::Command {
                command: describe(&args),
                message: e.to_string(),
            })?;
            if read == 0 {
                record(&pending, &mut current, &mut found, wanted, classify);
                break;
            }
            pending.extend_from_slice(&buffer[..read]);
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|b| *b == 0) {
                record(
                    &pending[start..start + end],
                    &mut current,
                    &mut found,
                    wanted,
                    classify,
                );
                start += end + 1;
            }
            pending.drain(..start);
            done = found.len() == wanted.len();
        }
        drop(stdout);
        finish(child, &args, done)?;
        Ok(found)
    }
}

/// Ends `git log`: killed once it has said enough, else waited for, its
/// failure an error with its stderr.
fn finish(mut child: std::process::Child, args: &[&str], done: bool) -> Result<()> {
    if done {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = child.wait().map_err(|e| Error::Command {
        command: describe(args),
        message: e.to_string(),
    })?;
    if !status.success() {
        return Err(Error::Command {
            command: describe(args),
            message: stderr.trim().to_string(),
        });
    }
    Ok(())
}

/// One NUL-terminated record of `git log -z --name-only`: a commit header
/// (`\x01<sha> <time>`) or a path changed by the current commit.
fn record<K: Ord + Clone>(
    record: &[u8],
    current: &mut Option<Commit>,
    found: &mut BTreeMap<K, Commit>,
    wanted: &BTreeSet<K>,
    classify: &dyn Fn(&str) -> Vec<K>,
) {
    if let Some(header) = record.strip_prefix(b"\x01") {
        *current = parse_commit(&String::from_utf8_lossy(header));
        return;
    }
    let path = String::from_utf8_lossy(record.strip_prefix(b"\n").unwrap_or(record));
    let Some(commit) = current.as_ref() else {
        return;
    };
    if path.is_empty() {
        return;
    }
    for key in classify(&path) {
        if wanted.contains(&key) && !found.contains_key(&key) {
            found.insert(key, commit.clone());
        }
    }
}

fn parse_commit(line: &str) -> Option<Commit> {
    let (sha, time) = line.trim().split_once(' ')?;
    Some(Commit {
        sha: sha.to_string(),
        time: time.trim().parse().ok()?,
    })
}
