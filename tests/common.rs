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

    /// Waits until the screen shows `text` (20 s at most: a loaded CI machine is slow to start a process).
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
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

/// An HTTP server on 127.0.0.1 for one test: answers each request for a
/// path with the raw response given for it (404 otherwise), records the
/// paths asked for, and stops after 10 s or when dropped.
pub struct Server {
    pub url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Server {
    /// Serves `files` by path with 200 OK.
    pub fn start(files: Vec<(&'static str, Vec<u8>)>) -> Server {
        Server::responses(
            files
                .into_iter()
                .map(|(path, body)| (path.to_string(), http_response("200 OK", &[], &body)))
                .collect(),
        )
    }

    /// Answers a request for each path with its raw response bytes.
    pub fn responses(routes: Vec<(String, Vec<u8>)>) -> Server {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, recorded) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).ok();
                stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
                let mut reader = BufReader::new(stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                recorded.lock().expect("requests").push(path.clone());
                let mut stream = reader.into_inner();
                let response = match routes.iter().find(|(p, _)| *p == path) {
                    Some((_, response)) => response.clone(),
                    None => http_response("404 Not Found", &[], b""),
                };
                let _ = stream.write_all(&response);
            }
        });
        Server {
            url,
            requests,
            stop,
        }
    }

    /// The paths asked for so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A complete HTTP/1.1 response with a Content-Length.
pub fn http_response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    let mut response = text.into_bytes();
    response.extend_from_slice(body);
    response
}
