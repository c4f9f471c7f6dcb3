//! Downloads against a real HTTP server on 127.0.0.1 that honours
//! `Range`, and can cut a response half-way, serve other bytes, or stall.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::RecordingListener;
use crate::declared::host::FakeHost;
use crate::declared::{
    Context, Converged, Declarations, Record as AnyRecord, converge, no_render, undo_all,
};
use crate::files::sha256_hex;

/// How the server answers the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// The body (or the asked range of it).
    Serve,
    /// Announces the whole length, sends this many bytes, hangs up.
    CutAfter(usize),
    /// Sends the headers and a few bytes, then says nothing for this long.
    Stall(Duration),
    /// Ignores `Range` and sends the whole body with a 200.
    IgnoreRange,
    /// Sends no `Content-Length`: the body ends when the connection does.
    NoLength,
}

#[derive(Clone)]
struct Server {
    base: String,
    body: Arc<Mutex<Vec<u8>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    /// Each request's head, lower-cased.
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(body: &[u8]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = Server {
            base,
            body: Arc::new(Mutex::new(body.to_vec())),
            behaviour: Arc::new(Mutex::new(Behaviour::Serve)),
            requests: Arc::new(Mutex::new(Vec::new())),
        };
        let serving = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let serving = serving.clone();
                std::thread::spawn(move || serving.answer(stream));
            }
        });
        server
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("lock") = behaviour;
    }

    fn set_body(&self, body: &[u8]) {
        *self.body.lock().expect("lock") = body.to_vec();
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    fn answer(&self, mut stream: TcpStream) {
        let mut head = String::new();
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        self.requests.lock().expect("lock").push(head.clone());
        let body = self.body.lock().expect("lock").clone();
        let behaviour = *self.behaviour.lock().expect("lock");
        let from = head
            .lines()
            .find_map(|l| l.strip_prefix("range: bytes="))
            .and_then(|r| r.trim().trim_end_matches('-').parse::<usize>().ok())
            .filter(|from| *from <= body.len() && behaviour != Behaviour::IgnoreRange);
        let (status, served, range) = match from {
            Some(from) => (
                "206 Partial Content",
                &body[from..],
                format!(
                    "Content-Range: bytes {from}-{}/{}\r\n",
                    body.len().saturating_sub(1),
                    body.len()
                ),
            ),
            None => ("200 OK", &body[..], String::new()),
        };
        let length = match behaviour {
            Behaviour::NoLength => String::new(),
            _ => format!("Content-Length: {}\r\n", served.len()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\n{length}{range}Connection: close\r\n\r\n"
        );
        match behaviour {
            Behaviour::Serve | Behaviour::IgnoreRange | Behaviour::NoLength => {
                let _ = stream.write_all(served);
            }
            Behaviour::CutAfter(n) => {
                let _ = stream.write_all(&served[..n.min(served.len())]);
                let _ = stream.flush();
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
            Behaviour::Stall(quiet) => {
                let _ = stream.write_all(&served[..10.min(served.len())]);
                let _ = stream.flush();
                std::thread::sleep(quiet);
            }
        }
    }
}

fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn download(url: &str, content: &[u8], path: &str) -> Download {
    Download {
        url: url.into(),
        sha256: sha256_hex(content),
        path: path.into(),
        mode: Some("0640".into()),
        max_size: None,
        timeout: Some(5),
    }
}

fn declarations(downloads: Vec<Download>) -> Declarations {
    Declarations {
        downloads,
        ..Declarations::default()
    }
}

/// A temp root, a server on 127.0.0.1 serving `content`, and a run that
/// converges under the root with a fake host and a recording listener.
struct Node {
    server: Server,
    dir: tempfile::TempDir,
    host: FakeHost,
    listener: RecordingListener,
}

impl Node {
    fn new(content: &[u8]) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        Node {
            server: Server::start(content),
            host: FakeHost::new(dir.path()),
            dir,
            listener: RecordingListener::default(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `<root>/<path>`, `path` without its leading `/`.
    fn at(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }

    fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.at(path)).expect("read")
    }

    fn cache(&self, content: &[u8]) -> PathBuf {
        self.at(CACHE_DIR).join(sha256_hex(content))
    }

    fn part(&self, content: &[u8]) -> PathBuf {
        self.at(CACHE_DIR)
            .join(format!("{}.part", sha256_hex(content)))
    }

    fn cx(&mut self) -> Context<'_> {
        Context {
            root: self.dir.path(),
            package: "demo",
            host: &mut self.host,
            listener: &mut self.listener,
            render: &no_render,
            changed: &[],
            secrets: &crate::declared::NoSecrets,
        }
    }

    fn converge(&mut self, downloads: Vec<Download>, previous: Vec<AnyRecord>) -> Converged {
        converge(&declarations(downloads), previous, &mut self.cx())
    }

    /// Converges and expects no failure.
    fn converged(&mut self, downloads: Vec<Download>, previous: Vec<AnyRecord>) -> Converged {
        let done = self.converge(downloads, previous);
        assert!(done.failure.is_none(), "{:?}", done.failure);
        done
    }

    /// Converges and expects a failure, returned as text.
    fn refused(
        &mut self,
        downloads: Vec<Download>,
        previous: Vec<AnyRecord>,
    ) -> (Converged, String) {
        let mut done = self.converge(downloads, previous);
        let failure = done.failure.take().expect("a failure").to_string();
        (done, failure)
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn a_download_is_installed_with_its_mode_and_cached() {
    let content = body(50_000);
    let mut node = Node::new(&content);
    let url = node.server.url("agent.tar.gz");
    let done = node.converged(
        vec![download(&url, &content, "/opt/agent/agent.tar.gz")],
        Vec::new(),
    );
    assert_eq!(node.read("/opt/agent/agent.tar.gz"), content);
    assert_eq!(mode(&node.at("/opt/agent/agent.tar.gz")), 0o640);
    assert_eq!(
        std::fs::read(node.cache(&content)).expect("cached"),
        content
    );
    assert!(!node.part(&content).exists());
    assert_eq!(
        done.records,
        [AnyRecord::Download(Record {
            url,
            sha256: sha256_hex(&content),
            path: "/opt/agent/agent.tar.gz".into(),
            mode: 0o640,
        })]
    );
}

#[test]
fn a_second_apply_and_a_reinstall_from_the_cache_make_no_request() {
    use std::os::unix::fs::MetadataExt;
    let content = body(20_000);
    let mut node = Node::new(&content);
    let wanted = vec![download(&node.server.url("a"), &content, "/opt/a")];
    let first = node.converged(wanted.clone(), Vec::new());
    let before = std::fs::metadata(node.at("/opt/a")).expect("stat");

    let again = node.converged(wanted.clone(), first.records);
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    let after = std::fs::metadata(node.at("/opt/a")).expect("stat");
    assert_eq!(before.ino(), after.ino(), "not written again");
    assert_eq!(node.server.requests().len(), 1);

    // Deleted by hand: put back from the verified cache, still no request.
    std::fs::remove_file(node.at("/opt/a")).expect("rm");
    node.converged(wanted, again.records);
    assert_eq!(node.read("/opt/a"), content);
    assert_eq!(node.server.requests().len(), 1);
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let content = body(300_000);
    let mut node = Node::new(&content);
    node.server.set(Behaviour::CutAfter(100_000));
    let wanted = vec![download(&node.server.url("big"), &content, "/opt/big")];
    let (cut, failure) = node.refused(wanted.clone(), Vec::new());
    assert!(failure.contains("download /opt/big"), "{failure}");
    assert!(!node.at("/opt/big").exists(), "nothing half-installed");
    let kept = std::fs::metadata(node.part(&content)).expect("part").len();
    assert!(kept > 0 && kept < 300_000, "{kept}");

    node.server.set(Behaviour::Serve);
    node.converged(wanted, cut.records);
    assert_eq!(node.read("/opt/big"), content);
    let requests = node.server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[1].contains(&format!("range: bytes={kept}-")),
        "{requests:?}"
    );
    assert!(!node.part(&content).exists());
}

#[test]
fn a_server_that_ignores_the_range_is_read_again_from_the_start() {
    let content = body(120_000);
    let mut node = Node::new(&content);
    node.server.set(Behaviour::CutAfter(40_000));
    let wanted = vec![download(&node.server.url("x"), &content, "/opt/x")];
    let (cut, _) = node.refused(wanted.clone(), Vec::new());
    node.server.set(Behaviour::IgnoreRange);
    node.converged(wanted, cut.records);
    assert_eq!(node.read("/opt/x"), content);
}

#[test]
fn a_wrong_checksum_keeps_the_previous_file_and_leaves_no_part() {
    let old = body(1_000);
    let mut node = Node::new(&old);
    let url = node.server.url("f");
    let v1 = node.converged(vec![download(&url, &old, "/opt/f")], Vec::new());

    // Version 2 declares new bytes; the server serves something else.
    let new = body(2_000);
    node.server.set_body(b"not what was declared");
    let (v2, failure) = node.refused(vec![download(&url, &new, "/opt/f")], v1.records.clone());
    assert!(failure.contains("checksum mismatch"), "{failure}");
    assert!(
        failure.contains(&format!("expected sha256 {}", sha256_hex(&new))),
        "{failure}"
    );
    assert!(
        failure.contains(&format!("got {}", sha256_hex(b"not what was declared"))),
        "{failure}"
    );
    assert!(failure.contains("/opt/f is kept"), "{failure}");
    assert_eq!(node.read("/opt/f"), old);
    assert!(!node.part(&new).exists());
    assert!(!node.cache(&new).exists());
    assert_eq!(v2.records, v1.records, "the old record is kept");
    let beside: Vec<_> = std::fs::read_dir(node.at("/opt"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(beside, ["f"], "no temp file beside it");
}

#[test]
fn a_new_sha256_at_the_same_path_replaces_the_file_in_place() {
    let old = body(1_000);
    let new = body(3_000);
    let mut node = Node::new(&old);
    let v1 = node.converged(
        vec![download(&node.server.url("v1"), &old, "/opt/f")],
        Vec::new(),
    );
    node.server.set_body(&new);
    let v2 = node.converged(
        vec![download(&node.server.url("v2"), &new, "/opt/f")],
        v1.records,
    );
    assert!(v2.undone.is_empty(), "in place: {:?}", v2.undone);
    assert_eq!(v2.applied.len(), 1);
    assert_eq!(node.read("/opt/f"), new);
    assert!(!node.cache(&old).exists(), "the old cache entry went");
    assert!(node.cache(&new).exists());
}

#[test]
fn a_download_larger_than_max_size_is_refused() {
    let content = body(10_000);
    let mut node = Node::new(&content);
    let mut limited = download(&node.server.url("huge"), &content, "/opt/huge");
    limited.max_size = Some(4_096);
    let (_, failure) = node.refused(vec![limited], Vec::new());
    assert!(failure.contains("max-size"), "{failure}");
    assert!(failure.contains("4096 bytes"), "{failure}");
    assert!(!node.at("/opt/huge").exists());
    assert!(!node.part(&content).exists());
}

#[test]
fn a_body_without_a_length_is_counted_against_max_size() {
    let content = body(10_000);
    let mut node = Node::new(&content);
    node.server.set(Behaviour::NoLength);
    let fits = download(&node.server.url("huge"), &content, "/opt/huge");
    let mut limited = fits.clone();
    limited.max_size = Some(4_096);
    let (_, failure) = node.refused(vec![limited], Vec::new());
    assert!(failure.contains("max-size"), "{failure}");
    assert!(!node.at("/opt/huge").exists());
    assert!(!node.part(&content).exists());

    // Within the limit, the same server's answer is installed.
    node.converged(vec![fits], Vec::new());
    assert_eq!(node.read("/opt/huge"), content);
}

#[test]
fn a_stalled_download_times_out_in_bounded_time() {
    let content = body(10_000);
    let mut node = Node::new(&content);
    node.server.set(Behaviour::Stall(Duration::from_secs(6)));
    let mut slow = download(&node.server.url("slow"), &content, "/opt/slow");
    slow.timeout = Some(1);
    let started = Instant::now();
    let (_, failure) = node.refused(vec![slow], Vec::new());
    assert!(started.elapsed() < Duration::from_secs(4), "{failure}");
    assert!(failure.contains("timed out"), "{failure}");
    assert!(!node.at("/opt/slow").exists());
}

#[test]
fn undo_removes_the_file_and_the_cache_and_keeps_a_changed_file() {
    let content = body(5_000);
    let mut node = Node::new(&content);
    let url = node.server.url("a");
    let done = node.converged(
        vec![
            download(&url, &content, "/opt/a"),
            download(&url, &content, "/opt/b"),
        ],
        Vec::new(),
    );
    std::fs::write(node.at("/opt/b"), "a person's version").expect("edit");

    let (kept, errors) = undo_all(done.records, Undo::Remove, &mut node.cx());
    assert!(errors.is_empty(), "{errors:?}");
    assert!(kept.is_empty(), "{kept:?}");
    assert!(!node.at("/opt/a").exists());
    assert_eq!(node.read("/opt/b"), b"a person's version");
    assert!(
        node.listener
            .warnings
            .iter()
            .any(|w| w.contains("opt/b") && w.contains("changed since confpack downloaded it")),
        "{:?}",
        node.listener.warnings
    );
    assert!(!node.cache(&content).exists());
}

#[test]
fn dropping_a_download_removes_its_file() {
    let content = body(5_000);
    let mut node = Node::new(&content);
    let done = node.converged(
        vec![download(&node.server.url("a"), &content, "/opt/a")],
        Vec::new(),
    );
    let dropped = node.converged(Vec::new(), done.records);
    assert_eq!(dropped.undone.len(), 1);
    assert!(dropped.records.is_empty());
    assert!(!node.at("/opt/a").exists());
}

#[test]
fn drift_names_a_missing_changed_or_rechmodded_file() {
    let content = body(5_000);
    let mut node = Node::new(&content);
    let done = node.converged(
        vec![download(&node.server.url("a"), &content, "/opt/a")],
        Vec::new(),
    );
    let record = &done.records[0];
    assert!(record.drift(&mut node.cx()).is_empty());
    let installed = node.at("/opt/a");
    std::fs::set_permissions(&installed, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(record.drift(&mut node.cx()), ["mode 0600 instead of 0640"]);
    std::fs::write(&installed, "changed").expect("edit");
    let drift = record.drift(&mut node.cx());
    assert!(
        drift[0].starts_with(&format!("sha256 {} instead of", sha256_hex(b"changed"))),
        "{drift:?}"
    );
    std::fs::remove_file(&installed).expect("rm");
    assert_eq!(record.drift(&mut node.cx()), ["missing"]);
}

#[test]
fn a_changed_file_is_saved_beside_it_when_put_back() {
    let content = body(5_000);
    let mut node = Node::new(&content);
    let wanted = vec![download(&node.server.url("a"), &content, "/opt/a")];
    let done = node.converged(wanted.clone(), Vec::new());
    std::fs::write(node.at("/opt/a"), "edited").expect("edit");
    node.converged(wanted, done.records);
    assert_eq!(node.read("/opt/a"), content);
    assert_eq!(node.read("/opt/a.confpack-old"), b"edited");
    assert!(!node.listener.warnings.is_empty());
}

#[test]
fn a_symlink_or_someone_elses_file_at_the_path_is_refused() {
    let content = body(5_000);
    let mut node = Node::new(&content);
    let outside = tempfile::tempdir().expect("outside");
    let target = outside.path().join("target");
    std::fs::write(&target, "outside").expect("write");
    std::fs::create_dir_all(node.at("/opt")).expect("mkdir");
    std::os::unix::fs::symlink(&target, node.at("/opt/link")).expect("symlink");
    std::fs::write(node.at("/opt/theirs"), "someone else's").expect("write");
    let url = node.server.url("a");

    let (_, failure) = node.refused(vec![download(&url, &content, "/opt/link")], Vec::new());
    assert!(failure.contains("not a regular file"), "{failure}");
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "outside");

    let (_, failure) = node.refused(vec![download(&url, &content, "/opt/theirs")], Vec::new());
    assert!(failure.contains("did not install"), "{failure}");
    assert_eq!(node.read("/opt/theirs"), b"someone else's");
    assert!(
        node.server.requests().is_empty(),
        "refused before any request"
    );
}

#[test]
fn checks_refuse_other_schemes_bad_sums_paths_modes_and_limits() {
    let bad = Download {
        url: "ftp://example.com/x".into(),
        sha256: "ABC".into(),
        path: "opt/x".into(),
        mode: Some("999".into()),
        max_size: Some(0),
        timeout: Some(0),
    };
    let messages = bad.check();
    assert_eq!(messages.len(), 6, "{messages:#?}");
    assert!(messages[0].starts_with("url: "), "{messages:#?}");
    assert!(messages[1].starts_with("sha256: "), "{messages:#?}");
    assert!(messages[2].starts_with("path: "), "{messages:#?}");
    assert!(messages[3].starts_with("mode: "), "{messages:#?}");
    let good = download("http://127.0.0.1/x", b"x", "/opt/x");
    assert!(good.check().is_empty(), "{:?}", good.check());
    let mut upper = good.clone();
    upper.sha256 = upper.sha256.to_uppercase();
    assert_eq!(upper.check().len(), 1);
    let mut hostless = good;
    hostless.url = "https:///x".into();
    assert_eq!(hostless.check().len(), 1);
}

#[test]
fn control_yml_keys_are_kebab_case_and_records_keep_their_kind() {
    let yaml = "downloads:\n  - url: https://example.com/a\n    sha256: aa\n    path: /opt/a\n    max-size: 10\n    timeout: 3\n";
    let read: Declarations = yaml_serde::from_str(yaml).expect("reads");
    assert_eq!(read.downloads[0].max_size, Some(10));
    assert!(yaml_serde::from_str::<Declarations>(&yaml.replace("max-size", "max_size")).is_err());
    let record = AnyRecord::Download(Record {
        url: "https://example.com/a".into(),
        sha256: "aa".into(),
        path: "/opt/a".into(),
        mode: 0o644,
    });
    let json = serde_json::to_string(&record).expect("json");
    assert!(json.contains("\"kind\":\"download\""), "{json}");
    assert_eq!(
        serde_json::from_str::<AnyRecord>(&json).expect("back"),
        record
    );
}
