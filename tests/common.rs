//! Helpers shared by the integration tests: a temp root, the real binary,
//! fixture paths, a terminal in tmux.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The repository's directory.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

pub fn sample() -> PathBuf {
    repo().join("sample-env.xml")
}

/// The `confpack` binary with a clean environment (no DEBIAN_FRONTEND or
/// DEBIAN_PRIORITY from the caller) operating on `root`.
pub fn confpack(root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_confpack"));
    command
        .env_remove("DEBIAN_FRONTEND")
        .env_remove("DEBIAN_PRIORITY")
        .arg("--root")
        .arg(root)
        .stdin(std::process::Stdio::null());
    command
}

/// Runs and returns the output, with stdout/stderr as strings.
pub fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run confpack");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Runs and asserts success.
pub fn ok(command: &mut Command) -> String {
    let (code, stdout, stderr) = run(command);
    assert_eq!(
        code, 0,
        "failed: {command:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// The stored answers as JSON (secrets shown).
pub fn answers(root: &Path) -> serde_json::Value {
    let out = ok(confpack(root).args(["answers", "--format", "json", "--show-secrets"]));
    serde_json::from_str(&out).expect("json")
}

pub fn value(root: &Path, key: &str) -> Option<String> {
    answers(root)[key]["value"].as_str().map(str::to_string)
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Installs the webshop fixture package into `root` the way a .deb would:
/// /usr/share/confpack/webshop/{package.yml, environment.xml, templates/}.
pub fn install_webshop(root: &Path) -> PathBuf {
    let dir = root.join("usr/share/confpack/webshop");
    copy_tree(&fixture("packages/webshop"), &dir);
    std::fs::copy(sample(), dir.join("environment.xml")).expect("copy sample");
    dir
}

/// Stores the sample's password so noninteractive runs can complete.
pub fn preseed_password(root: &Path, password: &str) {
    preseed_secret(root, "webshop/db.password", password);
}

/// Stores a secret answer the way an operator would: through stdin.
pub fn preseed_secret(root: &Path, key: &str, value: &str) {
    use std::io::Write;
    let mut child = confpack(root)
        .args(["set", "--secret", key, "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(value.as_bytes())
        .expect("write");
    assert!(child.wait().expect("wait").success());
}

/// A document with `count` configured questions `gen/q0…`, all set to
/// `value`: every run of it stores one recognisable batch.
pub fn generation_document(count: usize, value: &str) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\"?>\n<environments xmlns=\"urn:confpack:environment:1\" version=\"1\">\n<templates>\n",
    );
    for i in 0..count {
        text.push_str(&format!(
            "<template key=\"gen/q{i}\" type=\"string\"><description>Q{i}</description></template>\n"
        ));
    }
    text.push_str("</templates>\n<environment context=\"test\">\n");
    for i in 0..count {
        text.push_str(&format!("<question key=\"gen/q{i}\">{value}</question>\n"));
    }
    text.push_str("</environment>\n</environments>\n");
    text
}

/// How many of the `count` generation answers are stored, and their
/// distinct values (one value means one whole batch).
pub fn generation_answers(
    all: &serde_json::Value,
    count: usize,
) -> (usize, std::collections::BTreeSet<String>) {
    let present = (0..count)
        .filter(|i| all[format!("gen/q{i}")].is_object())
        .count();
    let values = (0..count)
        .filter_map(|i| {
            all[format!("gen/q{i}")]["value"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    (present, values)
}

/// A program in a tmux server of its own (a terminal a person would use),
/// killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a 100x30 window; None (with the reason
    /// printed) when tmux is not installed.
    pub fn start(name: &str, command: &str) -> Option<Tmux> {
        Tmux::start_sized(name, command, 100, 30)
    }

    pub fn start_sized(name: &str, command: &str, width: u16, height: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipped: tmux is not installed");
            return None;
        }
        let tmux = Tmux {
            socket: format!("confpack-test-{}-{name}", std::process::id()),
        };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", &width.to_string()])
            .args(["-y", &height.to_string()])
            .arg(format!("{command}; echo EXIT=$?; sleep 30"))
            .env_remove("DEBIAN_FRONTEND")
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .status()
            .expect("tmux");
        assert!(status.success(), "tmux new-session failed");
        Some(tmux)
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket, "-f", "/dev/null"]);
        command
    }

    pub fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Everything the window showed, scrolled-off lines included.
    pub fn history(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-J", "-S", "-"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` (5 s at most).
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .arg("send-keys")
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(status.success());
    }

    pub fn type_text(&self, text: &str) {
        let status = self
            .command()
            .args(["send-keys", "-l", text])
            .status()
            .expect("send-keys");
        assert!(status.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}
