//! apt and dpkg, behind a small trait: the node runtime decides what to
//! do, [`PackageManager`] does it. [`System`] runs the real tools; tests
//! of the decisions use a fake.
//!
//! Under `--root DIR` (not `/`), apt and dpkg are sandboxed into DIR: an
//! `APT_CONFIG` file (so the host's `/etc/apt/apt.conf.d` is not read)
//! sets `Dir` to DIR and its own status file, runs dpkg with
//! `--root=DIR --force-script-chrootless` (the maintainer scripts see
//! `DPKG_ROOT`) with this process's `PATH` (apt would reset it, and the
//! scripts must find the confpack that runs them) and downloads as root
//! (the `_apt` user could not write into a private sandbox). That is how
//! the tests run the real apt.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Listener;
use crate::error::{Error, Result};

/// What kind of command, for how its failure is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads state; changes nothing.
    Query,
    /// Fetches the repository's indexes (`apt-get update`).
    Update,
    /// Installs, upgrades or removes packages.
    Change,
}

/// Runs apt-get, apt-mark and dpkg-query.
pub trait PackageManager {
    /// Runs `program args` and returns its stdout; `Query` commands only
    /// print, others stream their output and progress to `listener`.
    fn run(
        &mut self,
        kind: Kind,
        program: &str,
        args: &[String],
        listener: &mut dyn Listener,
    ) -> Result<String>;

    /// The root the package manager works on.
    fn root(&self) -> &Path;
}

/// The real apt and dpkg.
pub struct System {
    root: PathBuf,
    lock_timeout: Duration,
    /// `APT_CONFIG` of a sandboxed root.
    config: Option<tempfile::NamedTempFile>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System").field("root", &self.root).finish()
    }
}

/// Directories apt needs under a sandboxed root.
const SANDBOX_DIRS: [&str; 8] = [
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/sources.list.d",
    "etc/apt/trusted.gpg.d",
    "etc/apt/keyrings",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/log/apt",
];

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl System {
    pub fn new(root: &Path, lock_timeout: Duration) -> Result<System> {
        let sandboxed = root != Path::new("/");
        let config = if sandboxed {
            for dir in SANDBOX_DIRS {
                let path = root.join(dir);
                std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            }
            // With `Dir` set, apt finds dpkg's status file under it, and
            // `dpkg-query --root` its database: confpack never names it.
            let root_text = root.display().to_string();
            let text = format!(
                "// Written by confpack for one run: apt and dpkg on the root {root_text}.\n\
                 Dir {};\n\
                 Dir::Log {};\n\
                 DPkg::Options {{ {}; \"--force-script-chrootless\"; }};\n\
                 APT::Sandbox::User \"root\";\n\
                 DPkg::Path {};\n\
                 Acquire::Languages \"none\";\n",
                quote(&format!("{root_text}/")),
                quote(&root.join("var/log/apt").display().to_string()),
                quote(&format!("--root={root_text}")),
                // The maintainer scripts call the confpack on this PATH.
                quote(&std::env::var("PATH").unwrap_or_default()),
            );
            let mut file = tempfile::Builder::new()
                .prefix("confpack-apt-")
                .suffix(".conf")
                .tempfile()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            std::io::Write::write_all(&mut file, text.as_bytes())
                .map_err(|e| Error::io(file.path(), e))?;
            Some(file)
        } else {
            None
        };
        Ok(System {
            root: root.to_path_buf(),
            lock_timeout,
            config,
        })
    }

    fn command(&self, program: &str, args: &[String]) -> (Command, String) {
        let mut command = Command::new(program);
        let mut shown = vec![program.to_string()];
        if program == "dpkg-query" {
            let root = format!("--root={}", self.root.display());
            command.arg(&root);
            shown.push(root);
        } else if program == "apt-get" {
            let timeout = format!("DPkg::Lock::Timeout={}", self.lock_timeout.as_secs());
            command.args(["-o", &timeout]);
        }
        command.args(args);
        shown.extend(args.iter().cloned());
        if let Some(config) = &self.config {
            command.env("APT_CONFIG", config.path());
        }
        command.stdin(Stdio::null());
        let mut shown = shown.join(" ");
        if self.config.is_some() {
            shown.push_str(&format!(" (sandboxed in {})", self.root.display()));
        }
        (command, shown)
    }
}

/// Whether apt's stderr says another process holds the dpkg/apt lock.
fn is_lock_message(stderr: &str) -> bool {
    stderr.contains("Could not get lock")
        || stderr.contains("Unable to acquire the dpkg")
        || stderr.contains("Unable to lock")
}

/// `pmstatus:pkg:42.5:message` / `dlstatus:…` → (percent, message).
pub fn parse_status(line: &str) -> Option<(f64, &str)> {
    let rest = line
        .strip_prefix("pmstatus:")
        .or_else(|| line.strip_prefix("dlstatus:"))?;
    let mut parts = rest.splitn(3, ':');
    let _package = parts.next()?;
    let percent = parts.next()?.parse::<f64>().ok()?;
    Some((percent, parts.next().unwrap_or_default()))
}

fn failure(root: &Path, kind: Kind, shown: String, status: String, stderr: String) -> Error {
    let stderr = stderr.trim().to_string();
    if is_lock_message(&stderr) {
        return Error::Busy {
            what: format!("another apt or dpkg holds the package manager lock: {stderr}"),
            path: root.to_path_buf(),
        };
    }
    match kind {
        Kind::Update => Error::Repository {
            command: shown,
            stderr,
            hint: "\nhint: check the repository URL and that the key given to \
                   `confpack set-environment --key` is the one the repository is signed with"
                .into(),
        },
        Kind::Query | Kind::Change => Error::PackageManager {
            command: shown,
            status,
            stderr,
            hint: String::new(),
        },
    }
}

impl PackageManager for System {
    fn root(&self) -> &Path {
        &self.root
    }

    fn run(
        &mut self,
        kind: Kind,
        program: &str,
        args: &[String],
        listener: &mut dyn Listener,
    ) -> Result<String> {
        let (mut command, shown) = self.command(program, args);
        if kind != Kind::Query && program == "apt-get" {
            // Progress lines on stdout, told apart by their prefix.
            command.args(["-o", "APT::Status-Fd=1"]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Command {
                command: shown.clone(),
                message: format!("{e}; is apt installed?"),
            })?;
        let mut stderr_pipe = child.stderr.take();
        let stderr_thread = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(pipe) = stderr_pipe.as_mut() {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        });
        let mut stdout = String::new();
        if let Some(pipe) = child.stdout.take() {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if kind == Kind::Query {
                    stdout.push_str(&line);
                    stdout.push('\n');
                    continue;
                }
                if let Some((percent, _)) = parse_status(&line) {
                    listener.progress((percent * 10.0).clamp(0.0, 1000.0) as u64, 1000);
                } else if line.starts_with("pmerror:") || line.starts_with("pmconffile:") {
                    // pmerror:PACKAGE:PERCENT:MESSAGE
                    let mut parts = line.splitn(4, ':').skip(1);
                    let package = parts.next().unwrap_or_default();
                    let message = parts.nth(1).unwrap_or_default();
                    listener.warning(&format!("{package}: {message}"));
                } else if !line.trim().is_empty() {
                    listener.info(&line);
                    stdout.push_str(&line);
                    stdout.push('\n');
                }
            }
        }
        let status = child.wait().map_err(|e| Error::Command {
            command: shown.clone(),
            message: e.to_string(),
        })?;
        let stderr = stderr_thread.join().unwrap_or_default();
        if kind != Kind::Query {
            listener.progress(1000, 1000);
        }
        // apt-get update exits 0 after some failures; `--error-on=any`
        // makes it fail, and an `E:` line is never a success.
        let failed_update = kind == Kind::Update && stderr.lines().any(|l| l.starts_with("E:"));
        if !status.success() || failed_update {
            let code = status
                .code()
                .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"));
            return Err(failure(&self.root, kind, shown, code, stderr));
        }
        if kind != Kind::Query {
            for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
                if line.starts_with("W:") || line.contains("warning") {
                    listener.warning(line.trim_start_matches("W: "));
                } else {
                    listener.info(line);
                }
            }
        }
        Ok(stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_recognised() {
        assert_eq!(
            parse_status("pmstatus:demo:40.0000:Installing demo (amd64)"),
            Some((40.0, "Installing demo (amd64)"))
        );
        assert_eq!(
            parse_status("dlstatus:1:20.5:Retrieving file 1 of 4"),
            Some((20.5, "Retrieving file 1 of 4"))
        );
        assert_eq!(parse_status("Setting up demo (1.0) ..."), None);
    }

    #[test]
    fn a_lock_failure_is_busy_not_a_package_failure() {
        let error = failure(
            Path::new("/"),
            Kind::Change,
            "apt-get install".into(),
            "exit 100".into(),
            "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7".into(),
        );
        assert_eq!(error.exit_code(), crate::ExitCode::Locked);
        let error = failure(
            Path::new("/"),
            Kind::Update,
            "apt-get update".into(),
            "exit 100".into(),
            "E: The repository is not signed.".into(),
        );
        assert_eq!(error.exit_code(), crate::ExitCode::Repository);
    }
}
