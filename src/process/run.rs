//! The apt run that `confpack install`/`upgrade` started, as the
//! `confpack configure` of a maintainer script sees it.
//!
//! apt and dpkg sit between the two confpacks, so they talk through two
//! environment variables that apt and dpkg pass on: the starting
//! confpack's pid (a person who quits a question ends the whole run by
//! sending it SIGINT, and a configure whose starter was killed with
//! SIGKILL stops asking instead of holding the terminal and the dpkg lock)
//! and a private directory (0700) where a noninteractive configure leaves
//! the keys it could not answer, so that the starter exits 3 naming them
//! instead of 7 with apt's "Sub-process dpkg returned an error".

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::tree;

/// The starting confpack's pid.
pub const PID_VARIABLE: &str = "CONFPACK_RUN_PID";
/// The run's private directory.
pub const DIR_VARIABLE: &str = "CONFPACK_RUN_DIR";
const UNANSWERED: &str = "unanswered";

/// The starting side: a private directory for one apt run.
#[derive(Debug)]
pub struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    pub fn start() -> std::io::Result<Run> {
        let dir = tempfile::Builder::new().prefix("confpack-run-").tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        Ok(Run { dir })
    }

    /// The variables to give apt.
    pub fn environment(&self) -> [(&'static str, String); 2] {
        [
            (PID_VARIABLE, std::process::id().to_string()),
            (DIR_VARIABLE, self.dir.path().display().to_string()),
        ]
    }

    /// The entry of [`DIR_VARIABLE`] in the environment of every process
    /// of this run (apt and dpkg pass it on).
    pub fn marker(&self) -> String {
        format!("{DIR_VARIABLE}={}", self.dir.path().display())
    }

    /// The questions the maintainer scripts' configures could not answer
    /// noninteractively, in order, without repeats.
    pub fn unanswered(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.path().join(UNANSWERED)).unwrap_or_default();
        let mut keys: Vec<String> = Vec::new();
        for key in text.lines().filter(|l| !l.is_empty()) {
            if !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
        }
        keys
    }
}

/// The starting confpack, when this process runs under one: the pid in
/// [`PID_VARIABLE`] if it is one of our ancestors (checked once).
fn starter() -> Option<rustix::process::Pid> {
    static STARTER: OnceLock<Option<i32>> = OnceLock::new();
    let pid = STARTER.get_or_init(|| {
        std::env::var(PID_VARIABLE)
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .filter(|pid| *pid > 1 && tree::is_ancestor(*pid))
    });
    pid.and_then(rustix::process::Pid::from_raw)
}

/// A person quit a question: the starting confpack ends the whole run
/// (apt, dpkg, the other maintainer scripts) as on Ctrl-C.
pub fn end() {
    if let Some(pid) = starter() {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
    }
}

/// Whether the confpack that started this run is gone (killed with
/// SIGKILL): nobody will read what this process asks.
pub fn abandoned() -> bool {
    starter().is_some_and(|pid| rustix::process::test_kill_process(pid).is_err())
}

/// The run's directory, if it is what the starter made: a directory (not
/// a link) of ours, 0700.
fn private_dir() -> Option<PathBuf> {
    starter()?;
    let dir = PathBuf::from(std::env::var_os(DIR_VARIABLE)?);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let ours = meta.is_dir()
        && meta.uid() == rustix::process::geteuid().as_raw()
        && meta.permissions().mode() & 0o077 == 0;
    ours.then_some(dir)
}

/// Tells the starter which questions need an answer (noninteractive).
pub fn report_unanswered(keys: &[String]) {
    let Some(dir) = private_dir() else { return };
    let _ = append(&dir.join(UNANSWERED), keys);
}

fn append(path: &Path, keys: &[String]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    let mut text = String::new();
    for key in keys {
        // Keys are owner/name; a newline would forge another key.
        text.push_str(&key.replace(['\n', '\r'], " "));
        text.push('\n');
    }
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswered_keys_come_back_once_in_order() {
        let run = Run::start().expect("run");
        append(
            &run.dir.path().join(UNANSWERED),
            &["a/x".to_string(), "b/y".to_string()],
        )
        .expect("append");
        append(
            &run.dir.path().join(UNANSWERED),
            &["a/x".to_string(), "c/z\nforged/key".to_string()],
        )
        .expect("append");
        assert_eq!(run.unanswered(), ["a/x", "b/y", "c/z forged/key"]);
        let mode = std::fs::metadata(run.dir.path())
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn without_a_starter_nothing_is_abandoned_or_reported() {
        // The test process was not started by a confpack apt run.
        assert!(!abandoned());
        report_unanswered(&["a/x".to_string()]);
    }
}
