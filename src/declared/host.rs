//! The side effects of declarations besides files under the root: system
//! commands (`adduser`, `systemctl`, `nft`, …) and what the node is
//! (is systemd running). [`SystemHost`] does them; tests use
//! `FakeHost`, which records the commands and answers from a script.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Result;

/// What a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ran {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `stderr` (else stdout), trimmed, for a message.
    pub fn said(&self) -> &str {
        let err = self.stderr.trim();
        if err.is_empty() {
            self.stdout.trim()
        } else {
            err
        }
    }
}

/// The node's side of declarations.
pub trait Host {
    /// The root (`--root`; `/` on a node).
    fn root(&self) -> &Path;
    /// Runs `argv` (never through a shell) with stdin closed. `Err` only
    /// when it cannot be started (not installed); a failure is in [`Ran`].
    fn run(&mut self, argv: &[&str]) -> Result<Ran>;
    /// Whether systemd manages this root now (PID 1 is systemd and the
    /// root is `/`): services are started and stopped only then.
    fn systemd_running(&self) -> bool;
}

/// The real node.
#[derive(Debug, Clone)]
pub struct SystemHost {
    root: PathBuf,
}

impl SystemHost {
    pub fn new(root: &Path) -> SystemHost {
        SystemHost {
            root: root.to_path_buf(),
        }
    }
}

impl Host for SystemHost {
    fn root(&self) -> &Path {
        &self.root
    }

    fn run(&mut self, argv: &[&str]) -> Result<Ran> {
        let Some((program, args)) = argv.split_first() else {
            return Ok(Ran::default());
        };
        let output = crate::process::command::output_allowing(
            Command::new(program).args(args),
            &(1..=255).collect::<Vec<i32>>(),
        )?;
        Ok(Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn systemd_running(&self) -> bool {
        self.root == Path::new("/") && Path::new("/run/systemd/system").is_dir()
    }
}

/// A host for tests: records every command; answers each with the first
/// scripted answer whose program and arguments start the same, else
/// success with no output.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct FakeHost {
    pub root: PathBuf,
    pub ran: Vec<String>,
    pub answers: Vec<(String, Ran)>,
    pub systemd: bool,
}

#[cfg(test)]
impl FakeHost {
    pub fn new(root: &Path) -> FakeHost {
        FakeHost {
            root: root.to_path_buf(),
            ..FakeHost::default()
        }
    }

    /// Answers commands starting with `prefix` (argv joined by spaces).
    pub fn answer(&mut self, prefix: &str, code: i32, stdout: &str) -> &mut Self {
        self.answers.push((
            prefix.to_string(),
            Ran {
                code: Some(code),
                stdout: stdout.to_string(),
                stderr: String::new(),
            },
        ));
        self
    }
}

#[cfg(test)]
impl Host for FakeHost {
    fn root(&self) -> &Path {
        &self.root
    }

    fn run(&mut self, argv: &[&str]) -> Result<Ran> {
        let line = argv.join(" ");
        self.ran.push(line.clone());
        Ok(self
            .answers
            .iter()
            .find(|(prefix, _)| line.starts_with(prefix.as_str()))
            .map(|(_, ran)| ran.clone())
            .unwrap_or(Ran {
                code: Some(0),
                ..Ran::default()
            }))
    }

    fn systemd_running(&self) -> bool {
        self.systemd
    }
}
