//! Faults and hostile input that tests/online.rs and tests/configure.rs do
//! not cover: odd servers (an HTML error page served as 200, a 100 MB
//! body, entities and includes that would reach the network), the answer
//! store under contention, on a read-only or full file system and behind a
//! broken path, values that look like code on their way through `set`,
//! the shell format, hooks and templates, and package trees that try to
//! smuggle something into a `.deb`.
//!
//! Every test is bounded in time; servers bind 127.0.0.1 only. Tests that
//! need root (a tmpfs in a private mount namespace) or a tool that is not
//! installed print why they are skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use confpack::env::load::{DEFAULT_MAX_BYTES, DocumentSource, Origin, load};

use crate::common::*;

/// Longest a test server lives.
const SERVER_LIFETIME: Duration = Duration::from_secs(60);

/// The sample as the online tests serve it (see tests/online.rs: the derived
/// multiselect without choices is served as a string).
fn served_sample() -> String {
    std::fs::read_to_string(sample()).expect("sample").replace(
        r#"key="webshop/cluster.hostnames" type="multiselect""#,
        r#"key="webshop/cluster.hostnames" type="string""#,
    )
}

/// A server on 127.0.0.1 that answers each connection with `reply`, for at
/// most `connections` connections or [`SERVER_LIFETIME`]; counts them.
struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

impl Server {
    fn start(connections: usize, reply: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!(
            "http://127.0.0.1:{}/env.xml",
            listener.local_addr().expect("address").port()
        );
        let counter = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&counter);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + SERVER_LIFETIME;
            let mut served = 0;
            while served < connections && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        served += 1;
                        let _ = stream.set_nonblocking(false);
                        read_head(&mut stream);
                        reply(&mut stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            url,
            connections: counter,
            thread,
        }
    }

    fn finish(self) -> usize {
        self.thread.join().expect("server thread");
        self.connections.load(Ordering::SeqCst)
    }
}

fn read_head(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
}

/// A listener that must never be contacted: the port of a URL a hostile
/// document names. `contacted` tells whether anyone connected.
struct Trap {
    listener: TcpListener,
    url: String,
}

impl Trap {
    fn new() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!(
            "http://127.0.0.1:{}/secret",
            listener.local_addr().expect("address").port()
        );
        Trap { listener, url }
    }

    /// A connect completes in the kernel's backlog even if nobody accepts,
    /// so one accept after the fact sees it.
    fn contacted(&self) -> bool {
        std::thread::sleep(Duration::from_millis(50));
        self.listener.accept().is_ok()
    }
}

/// A temp root with a local copy (labelled `local-dev`) and a cache dir.
struct Setup {
    dir: tempfile::TempDir,
    local: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = dir.path().join("usr/share/webshop/environments.xml");
        std::fs::create_dir_all(local.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            &local,
            served_sample().replace(r#"context="development""#, r#"context="local-dev""#),
        )
        .expect("local copy");
        Setup { dir, local }
    }

    fn source(&self, url: &str, timeout: Duration) -> DocumentSource {
        let mut source = DocumentSource::new(
            Some(url.to_string()),
            Some(self.local.clone()),
            self.dir.path().join("var/cache/confpack/environments"),
        );
        source.timeout = timeout;
        source
    }

    /// Every file under the root with its bytes, except the stamp that
    /// remembers a validated local copy.
    fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else if !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("local-"))
                {
                    let bytes = std::fs::read(&path).expect("read");
                    files.push((path, bytes));
                }
            }
        }
        files.sort();
        files
    }
}

/// Loads through `server`: the local copy must be used with one warning
/// containing `why`, and no file may change (no partial download left).
fn falls_back(server: Server, timeout: Duration, why: &[&str]) -> Duration {
    let setup = Setup::new();
    let before = setup.files();
    let started = Instant::now();
    let loaded = load(&setup.source(&server.url, timeout), &|_| true).expect("the local copy");
    let elapsed = started.elapsed();
    server.finish();
    assert_eq!(loaded.origin, Origin::Local);
    assert!(loaded.document.contexts.iter().any(|c| c == "local-dev"));
    assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
    let warning = &loaded.warnings[0];
    assert!(
        why.iter().any(|w| warning.contains(w)),
        "expected one of {why:?} in {warning}"
    );
    assert!(!warning.contains('\n'), "{warning}");
    assert_eq!(setup.files(), before, "no file may change");
    elapsed
}

fn respond(stream: &mut TcpStream, head: &str, body: &[u8]) {
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

mod online {
    use super::*;

    #[test]
    fn an_html_error_page_served_as_200_falls_back_to_local() {
        let page = "<!DOCTYPE html>\n<html><head><title>502</title></head>\
                    <body><h1>Bad gateway</h1></body></html>\n";
        let server = Server::start(1, move |stream| {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.len()
            );
            respond(stream, &head, page.as_bytes());
        });
        falls_back(server, Duration::from_secs(5), &["DOCTYPE"]);
    }

    #[test]
    fn an_html_page_without_doctype_served_as_200_falls_back_to_local() {
        let page = "<html><body><p>Maintenance<br></p></body></html>\n";
        let server = Server::start(1, move |stream| {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.len()
            );
            respond(stream, &head, page.as_bytes());
        });
        falls_back(
            server,
            Duration::from_secs(5),
            &["unknown document type", "not well-formed"],
        );
    }

    #[test]
    fn json_served_for_the_document_falls_back_to_local() {
        let body = "{\"error\": \"not found\"}";
        let server = Server::start(1, move |stream| {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            respond(stream, &head, body.as_bytes());
        });
        falls_back(server, Duration::from_secs(5), &["env.xml:1"]);
    }

    /// A body of `total` bytes written in 64 KiB pieces from a generator
    /// (never held whole): an XML start that would go on forever.
    fn endless_document(stream: &mut TcpStream, total: usize) -> usize {
        let start = "<?xml version=\"1.0\"?>\n<environments xmlns=\"urn:confpack:environment:1\" version=\"1\">\n";
        let mut chunk = Vec::with_capacity(64 * 1024);
        while chunk.len() < 64 * 1024 {
            chunk.extend_from_slice(b"<!-- padding padding padding padding padding padding -->\n");
        }
        let mut sent = 0;
        if stream.write_all(start.as_bytes()).is_err() {
            return sent;
        }
        while sent < total {
            let piece = &chunk[..chunk.len().min(total - sent)];
            if stream.write_all(piece).is_err() {
                break;
            }
            sent += piece.len();
        }
        sent
    }

    const HUNDRED_MB: usize = 100 * 1024 * 1024;

    #[test]
    fn a_100_mb_body_announced_by_content_length_is_refused_before_reading() {
        let sent = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&sent);
        let server = Server::start(1, move |stream| {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {HUNDRED_MB}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            counted.store(endless_document(stream, HUNDRED_MB), Ordering::SeqCst);
        });
        let elapsed = falls_back(
            server,
            Duration::from_secs(30),
            &[&format!(
                "larger than the limit of {DEFAULT_MAX_BYTES} bytes"
            )],
        );
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        let sent = sent.load(Ordering::SeqCst);
        assert!(
            sent < HUNDRED_MB,
            "the client hung up early, the server could not send all ({sent} bytes)"
        );
    }

    #[test]
    fn a_100_mb_body_without_content_length_is_cut_off_at_the_default_limit() {
        let sent = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&sent);
        let server = Server::start(1, move |stream| {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            counted.store(endless_document(stream, HUNDRED_MB), Ordering::SeqCst);
        });
        // A generous timeout, so that the size limit is what stops it.
        let elapsed = falls_back(
            server,
            Duration::from_secs(60),
            &[&format!(
                "larger than the limit of {DEFAULT_MAX_BYTES} bytes"
            )],
        );
        eprintln!("a 100 MB body was refused after {elapsed:?}");
        assert!(elapsed < Duration::from_secs(45), "{elapsed:?}");
        let sent = sent.load(Ordering::SeqCst) as u64;
        assert!(sent < HUNDRED_MB as u64, "{sent} bytes sent");
    }

    #[test]
    fn a_100_mb_body_under_the_default_timeout_still_falls_back() {
        // What a real configure does: the 5 s default budget. Whichever
        // limit trips first, the local copy is used.
        let server = Server::start(1, move |stream| {
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            endless_document(stream, HUNDRED_MB);
        });
        let elapsed = falls_back(
            server,
            confpack::env::load::DEFAULT_TIMEOUT,
            &["larger than the limit", "timed out"],
        );
        assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    }

    #[test]
    fn an_external_entity_naming_a_network_url_is_refused_without_a_connection() {
        let trap = Trap::new();
        let xxe = served_sample().replacen(
            "<environments ",
            &format!(
                "<!DOCTYPE environments [\n  <!ENTITY leak SYSTEM \"{}\">\n  <!ENTITY % remote SYSTEM \"{}/dtd\">\n  %remote;\n]>\n<environments ",
                trap.url, trap.url
            ),
            1,
        );
        let xxe = xxe.replacen("Example Shop</default>", "&leak;</default>", 1);
        let server = Server::start(1, move |stream| {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                xxe.len()
            );
            respond(stream, &head, xxe.as_bytes());
        });
        falls_back(server, Duration::from_secs(5), &["DOCTYPE"]);
        assert!(!trap.contacted(), "the entity's URL was fetched");
    }

    #[test]
    fn xinclude_and_schema_locations_naming_urls_are_never_fetched() {
        let trap = Trap::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let document = served_sample()
            .replacen(
                "<environments ",
                &format!(
                    "<environments xmlns:xi=\"http://www.w3.org/2001/XInclude\" \
                     xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                     xsi:schemaLocation=\"urn:confpack:environment:1 {}/schema.xsd\" ",
                    trap.url
                ),
                1,
            )
            .replacen(
                "<templates>",
                &format!("<templates>\n<xi:include href=\"{}/more.xml\"/>", trap.url),
                1,
            );
        let path = dir.path().join("env.xml");
        std::fs::write(&path, document).expect("write");
        let result = confpack::env::validate(&path, "env.xml", confpack::env::Validation::Builtin);
        assert!(
            result.is_err(),
            "an xi:include element is not part of the schema"
        );
        assert!(!trap.contacted(), "a URL in the document was fetched");
    }

    #[test]
    fn a_user_schema_importing_a_url_never_fetches_it() {
        let trap = Trap::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = dir.path().join("user.xsd");
        let published = std::fs::read_to_string(repo().join("schemas/confpack-environment-1.xsd"))
            .expect("schema");
        let hostile = published.replacen(
            "<xs:element ",
            &format!(
                "<xs:import namespace=\"urn:evil\" schemaLocation=\"{}/evil.xsd\"/>\n  <xs:include schemaLocation=\"{}/inc.xsd\"/>\n  <xs:element ",
                trap.url, trap.url
            ),
            1,
        );
        std::fs::write(&schema, hostile).expect("write");
        let started = Instant::now();
        let (code, _, stderr) = run(confpack(dir.path())
            .arg("validate")
            .arg("--schema")
            .arg(&schema)
            .arg(sample()));
        assert!(started.elapsed() < Duration::from_secs(20));
        assert!(code == 0 || code == 1, "{code}: {stderr}");
        assert!(!trap.contacted(), "the schema's URL was fetched: {stderr}");
    }
}

fn configure_webshop(root: &Path) -> Command {
    let mut command = confpack(root);
    command.args([
        "configure",
        "--frontend",
        "noninteractive",
        "--package",
        "webshop",
        "--machine",
        "10.10.0.21",
    ]);
    command
}

/// Answers without the fields that legitimately differ between two roots.
fn values(root: &Path) -> Vec<(String, String, String)> {
    let all = answers(root);
    let mut out: Vec<_> = all
        .as_object()
        .expect("object")
        .iter()
        .map(|(key, answer)| {
            (
                key.clone(),
                answer["value"].to_string(),
                answer["source"].to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

mod store {
    use super::*;

    #[test]
    fn two_configure_runs_at_once_both_finish_or_one_says_locked_and_nothing_is_corrupt() {
        // The reference: the same configure once, alone.
        let reference = tempfile::tempdir().expect("tempdir");
        install_webshop(reference.path());
        preseed_password(reference.path(), "x");
        ok(&mut configure_webshop(reference.path()));
        let expected = values(reference.path());

        for round in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            install_webshop(dir.path());
            preseed_password(dir.path(), "x");
            let spawn = || {
                configure_webshop(dir.path())
                    .args(["--lock-timeout", "20"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            };
            let children = [spawn(), spawn()];
            let mut codes = Vec::new();
            for child in children {
                let output = child.wait_with_output().expect("wait");
                let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
                let code = output.status.code();
                assert!(
                    code == Some(0) || code == Some(4),
                    "round {round}: {code:?} {stderr}"
                );
                if code == Some(4) {
                    assert!(stderr.contains("another confpack process"), "{stderr}");
                }
                codes.push(code);
            }
            assert!(codes.contains(&Some(0)), "round {round}: {codes:?}");
            assert_eq!(values(dir.path()), expected, "round {round}");
            // The second run found nothing to do: each hook ran once.
            let firewall =
                std::fs::read_to_string(dir.path().join("hook-firewall.log")).expect("hook log");
            assert_eq!(firewall.lines().count(), 1, "round {round}: {firewall}");
            // And a third run agrees that nothing changed.
            let (code, _, stderr) = run(&mut configure_webshop(dir.path()));
            assert_eq!(code, 0, "{stderr}");
            assert!(
                stderr.contains("nothing changed") || stderr.contains("0 answer(s) changed"),
                "{stderr}"
            );
        }
    }

    #[test]
    fn a_database_path_under_a_file_is_a_clear_error_and_the_answers_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        ok(confpack(dir.path()).args(["set", "x/kept", "value"]));
        let file = dir.path().join("not-a-directory");
        std::fs::write(&file, "plain file\n").expect("write");
        let db = file.join("db");
        for args in [
            vec!["set", "x/new", "v"],
            vec!["get", "x/kept"],
            vec!["answers"],
        ] {
            let (code, stdout, stderr) = run(confpack(dir.path()).arg("--db").arg(&db).args(&args));
            assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
            assert!(
                stderr.contains(&file.display().to_string()),
                "{args:?}: {stderr}"
            );
            assert!(
                stderr.to_lowercase().contains("not a directory"),
                "{args:?}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "plain file\n"
        );
        assert_eq!(value(dir.path(), "x/kept").as_deref(), Some("value"));
    }

    #[test]
    fn a_write_error_while_committing_is_a_clear_error_and_the_old_answers_stay() {
        // RLIMIT_FSIZE makes every write past the limit fail with EFBIG (the
        // signal it would send is ignored): a disk that is full for this
        // process, without root.
        let dir = tempfile::tempdir().expect("tempdir");
        ok(confpack(dir.path()).args(["set", "x/kept", "old"]));
        let before = answers(dir.path());
        let binary = env!("CARGO_BIN_EXE_confpack");
        let big = "v".repeat(4 * 1024 * 1024);
        let script = "trap '' XFSZ; ulimit -f 8; exec \"$0\" --root \"$1\" set x/big -";
        let mut child = Command::new("sh")
            .args(["-c", script, binary])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh");
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(big.as_bytes());
        drop(stdin);
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("confpack: error:"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(answers(dir.path()), before, "the old answers are intact");
        // And the database still takes writes once space is back.
        ok(confpack(dir.path()).args(["set", "x/after", "ok"]));
        assert_eq!(value(dir.path(), "x/kept").as_deref(), Some("old"));
    }

    #[test]
    fn a_snapshot_left_half_written_does_not_lock_the_answers_away() {
        // What a process that ran out of space (or was killed) while sled
        // wrote a snapshot leaves behind; sled would take it for the newest
        // snapshot and refuse to open ("Read corrupted data").
        let dir = tempfile::tempdir().expect("tempdir");
        ok(confpack(dir.path()).args(["set", "x/kept", "value"]));
        let db = dir.path().join("var/lib/confpack/db");
        assert!(db.join("conf").exists(), "the database is where expected");
        std::fs::write(db.join("snap.FFFFFFFFFFFFFFFF.generating"), b"").expect("write");
        std::fs::write(db.join("snap.FFFFFFFFFFFFFFF0.generating"), b"half a snap").expect("write");
        assert_eq!(value(dir.path(), "x/kept").as_deref(), Some("value"));
        ok(confpack(dir.path()).args(["set", "x/after", "ok"]));
        assert_eq!(value(dir.path(), "x/after").as_deref(), Some("ok"));
    }

    /// Runs `script` with `sh` as root in a private mount namespace, so a
    /// tmpfs mounted there vanishes with it; `None` (and why) when that is
    /// not possible here.
    fn in_private_mounts(script: &str, args: &[&Path]) -> Option<std::process::Output> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to mount a small tmpfs (running as a user)");
            return None;
        }
        let probe = Command::new("unshare")
            .args(["-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"])
            .output();
        if !probe.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!(
                "skipped: `unshare -m` + `mount -t tmpfs` is not possible here: {:?}",
                probe.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            );
            return None;
        }
        let output = Command::new("timeout")
            .arg("120")
            .args(["unshare", "-m", "sh", "-c", script, "sh"])
            .args(args)
            .env("CONFPACK", env!("CARGO_BIN_EXE_confpack"))
            .env_remove("DEBIAN_FRONTEND")
            .stdin(Stdio::null())
            .output()
            .expect("unshare");
        Some(output)
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Fills the file system the root is on: this script is shared by the
    /// disk-full and read-only tests. `$1` is the root (a tmpfs there), `$2`
    /// the document, `$3` a directory for the reports.
    const SEED: &str = r#"
        set -u
        R=$1; DOC=$2; OUT=$3
        mount -t tmpfs -o size=24m tmpfs "$R" || exit 90
        "$CONFPACK" --root "$R" configure --frontend noninteractive --env-file "$DOC" --environment test \
            >/dev/null 2>"$OUT/seed.err" || exit 91
        "$CONFPACK" --root "$R" answers --format json --show-secrets >"$OUT/before.json" || exit 92
    "#;

    fn generation_file(dir: &Path, name: &str, value: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, generation_document(30, value)).expect("write");
        path
    }

    fn generations_stored(json: &str) -> std::collections::BTreeSet<String> {
        let all: serde_json::Value = serde_json::from_str(json).expect("answers json");
        let (count, values) = generation_answers(&all, 30);
        assert_eq!(count, 30, "a whole batch: {json}");
        values
    }

    #[test]
    fn a_full_disk_is_a_clear_error_and_nothing_is_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let out = dir.path().join("out");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::create_dir_all(&out).expect("mkdir");
        let old = generation_file(dir.path(), "old.xml", "old");
        let new = generation_file(dir.path(), "new.xml", &"new".repeat(2000));
        let script = format!(
            r#"{SEED}
            NEW=$4
            dd if=/dev/zero of="$R/fill" bs=64k 2>/dev/null
            "$CONFPACK" --root "$R" configure --frontend noninteractive --env-file "$NEW" --environment test \
                >/dev/null 2>"$OUT/full.err"
            echo $? >"$OUT/full.rc"
            rm -f "$R/fill"
            "$CONFPACK" --root "$R" answers --format json --show-secrets >"$OUT/after.json" 2>"$OUT/after.err"
            echo $? >"$OUT/after.rc"
            "#
        );
        let Some(output) = in_private_mounts(&script, &[&root, &old, &out, &new]) else {
            return;
        };
        assert!(
            output.status.success(),
            "{:?}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            read(&out.join("seed.err"))
        );
        let rc = read(&out.join("full.rc"));
        let stderr = read(&out.join("full.err"));
        eprintln!("configure on a full disk: exit {rc}{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        match rc.trim() {
            // The new batch fit after all (sled had room in its segments).
            "0" => {}
            "1" => assert!(
                stderr.contains("No space left on device") || stderr.contains("os error 28"),
                "{stderr}"
            ),
            other => panic!("exit {other}: {stderr}"),
        }
        assert_eq!(
            read(&out.join("after.rc")).trim(),
            "0",
            "the answers cannot be read once space is back: {}",
            read(&out.join("after.err"))
        );
        let stored = generations_stored(&read(&out.join("after.json")));
        assert_eq!(stored.len(), 1, "one whole batch, old or new: {stored:?}");
        if rc.trim() != "0" {
            assert!(stored.contains("old"), "{stored:?}");
        }
    }

    #[test]
    fn a_read_only_root_is_a_clear_error_and_nothing_is_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let out = dir.path().join("out");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::create_dir_all(&out).expect("mkdir");
        let old = generation_file(dir.path(), "old.xml", "old");
        let new = generation_file(dir.path(), "new.xml", "new");
        let script = format!(
            r#"{SEED}
            NEW=$4
            mount -o remount,ro "$R" || exit 93
            "$CONFPACK" --root "$R" configure --frontend noninteractive --env-file "$NEW" --environment test \
                >/dev/null 2>"$OUT/ro.err"
            echo $? >"$OUT/ro.rc"
            "$CONFPACK" --root "$R" get gen/q0 >"$OUT/ro-get.out" 2>"$OUT/ro-get.err"
            echo $? >"$OUT/ro-get.rc"
            mount -o remount,rw "$R" || exit 94
            "$CONFPACK" --root "$R" answers --format json --show-secrets >"$OUT/after.json"
            echo $? >"$OUT/after.rc"
            "#
        );
        let Some(output) = in_private_mounts(&script, &[&root, &old, &out, &new]) else {
            return;
        };
        assert!(
            output.status.success(),
            "{:?}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            read(&out.join("seed.err"))
        );
        let stderr = read(&out.join("ro.err"));
        assert_eq!(read(&out.join("ro.rc")).trim(), "1", "{stderr}");
        assert!(
            stderr.contains("Read-only file system") || stderr.contains("os error 30"),
            "{stderr}"
        );
        assert!(
            stderr.contains("var/lib/confpack"),
            "names the path: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        eprintln!(
            "`confpack get` on a read-only root: exit {} {}{}",
            read(&out.join("ro-get.rc")).trim(),
            read(&out.join("ro-get.out")).trim(),
            read(&out.join("ro-get.err")).trim()
        );
        assert_eq!(read(&out.join("after.rc")).trim(), "0");
        assert_eq!(
            read(&out.join("after.json")),
            read(&out.join("before.json")),
            "the answers are exactly as before"
        );
    }

    /// Makes the database read-only: a read-only bind mount of its
    /// directory in a private mount namespace as root, else (as a user)
    /// modes 0500 on the directory and 0400 on its files. Runs `script`
    /// there with `$CONFPACK`; `$1` the root, `$2` a directory for reports,
    /// `$3` a private TMPDIR.
    fn on_a_read_only_database(root: &Path, out: &Path, tmp: &Path, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let db = root.join("var/lib/confpack/db");
        if rustix::process::geteuid().is_root() {
            let mounted = format!(
                r#"mount --bind "$1/var/lib/confpack/db" "$1/var/lib/confpack/db" \
                    && mount -o remount,bind,ro "$1/var/lib/confpack/db" || exit 90
                export TMPDIR=$3
                {script}"#
            );
            let Some(output) = in_private_mounts(&mounted, &[root, out, tmp]) else {
                return;
            };
            assert!(
                output.status.success(),
                "{:?}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        } else {
            eprintln!("not root: the database is made read-only with modes 0500/0400 instead");
            let mode = |path: &Path, mode: u32| {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .expect("chmod");
            };
            for entry in std::fs::read_dir(&db).expect("read db") {
                let path = entry.expect("entry").path();
                if path.is_file() {
                    mode(&path, 0o400);
                }
            }
            mode(&db, 0o500);
            let output = Command::new("sh")
                .args(["-c", script, "sh"])
                .args([root, out, tmp])
                .env("CONFPACK", env!("CARGO_BIN_EXE_confpack"))
                .env("TMPDIR", tmp)
                .env_remove("DEBIAN_FRONTEND")
                .stdin(Stdio::null())
                .output()
                .expect("sh");
            mode(&db, 0o700);
            assert!(output.status.success(), "{output:?}");
        }
    }

    #[test]
    fn a_read_only_database_can_be_read_but_not_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let out = dir.path().join("out");
        let tmp = dir.path().join("tmp");
        for path in [&root, &out, &tmp] {
            std::fs::create_dir_all(path).expect("mkdir");
        }
        ok(confpack(&root).args(["set", "x/plain", "hello"]));
        preseed_secret(&root, "x/secret", "hunter2");
        let before = answers(&root);
        let script = r#"
            R=$1; OUT=$2; TMP=$3
            for step in answers get export set; do
                case $step in
                    answers) set -- answers --format json --show-secrets ;;
                    get) set -- get --show-secrets x/secret ;;
                    export) set -- export --include-passwords ;;
                    set) set -- set x/plain changed ;;
                esac
                "$CONFPACK" --root "$R" "$@" >"$OUT/$step.out" 2>"$OUT/$step.err"
                echo $? >"$OUT/$step.rc"
            done
            ls -A "$TMP" >"$OUT/left-behind"
        "#;
        on_a_read_only_database(&root, &out, &tmp, script);
        if !out.join("answers.rc").exists() {
            return; // skipped, and said why
        }
        let report = |step: &str| {
            (
                read(&out.join(format!("{step}.rc"))).trim().to_string(),
                read(&out.join(format!("{step}.out"))),
                read(&out.join(format!("{step}.err"))),
            )
        };
        let (rc, stdout, stderr) = report("answers");
        assert_eq!(rc, "0", "answers: {stderr}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&stdout).expect("json"),
            before
        );
        assert_eq!(
            report("get"),
            ("0".into(), "hunter2\n".into(), String::new())
        );
        let (rc, stdout, stderr) = report("export");
        assert_eq!(rc, "0", "export: {stderr}");
        assert!(stdout.contains("hello"), "{stdout}");
        let (rc, _, stderr) = report("set");
        assert_eq!(rc, "1", "set: {stderr}");
        assert!(
            stderr.contains("read-only") || stderr.contains("Permission denied"),
            "{stderr}"
        );
        assert!(stderr.contains("var/lib/confpack/db"), "{stderr}");
        assert_eq!(read(&out.join("left-behind")), "", "the copy is removed");
        assert_eq!(answers(&root), before, "nothing changed");
    }
}

/// Values that look like code, and must stay data everywhere.
const HOSTILE: &[&str] = &[
    "$(touch pwned-dollar)",
    "`touch pwned-backtick`",
    "'; touch pwned-quote; '",
    "\"; touch pwned-dquote; \"",
    "{{ 7*7 }}{% include '/etc/passwd' %}",
    "line one\nline two; touch pwned-newline",
    "\\$HOME ${IFS} %s %n",
];

fn no_pwned_file(root: &Path) {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            assert!(
                !path.to_string_lossy().contains("pwned"),
                "a value ran as code: {}",
                path.display()
            );
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
}

mod values_are_data {
    use super::*;

    #[test]
    fn a_nul_byte_is_refused_by_set_and_nothing_is_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = confpack(dir.path())
            .args(["set", "x/v", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"before\0after")
            .expect("write");
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("NUL"), "{stderr}");
        assert_eq!(answers(dir.path()), serde_json::json!({}));
    }

    #[test]
    fn a_key_with_a_newline_is_refused_so_it_cannot_end_a_comment_or_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        for key in ["x/a\ntouch pwned #", "x/a\tb", "x/a b"] {
            let (code, _, stderr) = run(confpack(dir.path()).args(["set", "--secret", key, "v"]));
            assert_eq!(code, 2, "{key:?}: {stderr}");
            assert!(
                stderr.contains("without spaces or control characters"),
                "{stderr}"
            );
        }
        assert_eq!(answers(dir.path()), serde_json::json!({}));
    }

    #[test]
    fn code_like_values_round_trip_through_set_get_json_and_shell() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (i, value) in HOSTILE.iter().enumerate() {
            let key = format!("x/v{i}");
            ok(confpack(dir.path()).args(["set", &key, value]));
            assert_eq!(
                ok(confpack(dir.path()).args(["get", &key])),
                format!("{value}\n")
            );
            assert_eq!(value_of(dir.path(), &key), *value);
        }
        ok(confpack(dir.path()).args(["set", "--secret", "x/secret", HOSTILE[0]]));
        for show in [false, true] {
            let mut command = confpack(dir.path());
            command.args(["answers", "--format", "shell"]);
            if show {
                command.arg("--show-secrets");
            }
            let exported = ok(&mut command);
            let mut script = format!("{exported}\n");
            for i in 0..HOSTILE.len() {
                script.push_str(&format!("printf '%s\\0' \"$CONFPACK_X_V{i}\"\n"));
            }
            script.push_str("printf '%s\\0' \"${CONFPACK_X_SECRET-unset}\"\n");
            let output = Command::new("sh")
                .args(["-c", &script])
                .current_dir(dir.path())
                .output()
                .expect("sh");
            let printed: Vec<String> = output
                .stdout
                .split(|&b| b == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            for (i, value) in HOSTILE.iter().enumerate() {
                assert_eq!(printed[i], *value, "{exported}");
            }
            let secret = if show { HOSTILE[0] } else { "unset" };
            assert_eq!(printed[HOSTILE.len()], secret, "{exported}");
        }
        no_pwned_file(dir.path());
    }

    fn value_of(root: &Path, key: &str) -> String {
        value(root, key).expect("stored")
    }

    #[test]
    fn code_like_values_reach_hooks_and_templates_as_literal_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = install_webshop(dir.path());
        // A hook that records exactly what it got: its environment variable
        // and its JSON on stdin.
        std::fs::write(
            package.join("package.yml"),
            "environment:\n  file: environment.xml\nhooks:\n  - name: record\n    reads: [webshop/db.host, webshop/site.name]\n    run: [sh, -c, 'printf \"%s\" \"$CONFPACK_WEBSHOP_DB_HOST\" > \"$CONFPACK_ROOT/hook-env\"; cat > \"$CONFPACK_ROOT/hook-stdin\"']\n",
        )
        .expect("package.yml");
        // One value from the person (set), one from the document itself.
        let from_user = HOSTILE.join(" | ");
        let from_document = "{{ 7*7 }} $(touch pwned-doc) `id` {% raw %} '\"";
        let document = package.join("environment.xml");
        let original = std::fs::read_to_string(&document).expect("read");
        let production = "<question key=\"webshop/site.name\">Example Shop</question>";
        assert!(original.contains(production));
        let escaped = from_document
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        std::fs::write(
            &document,
            original.replacen(
                production,
                &format!("<question key=\"webshop/site.name\">{escaped}</question>"),
                1,
            ),
        )
        .expect("write");
        preseed_password(dir.path(), "pa'ss$(touch pwned-password)");
        ok(confpack(dir.path()).args(["set", "webshop/db.host", &from_user]));
        ok(&mut configure_webshop(dir.path()));

        // The user's conflicting value is kept; both are rendered literally.
        let database =
            std::fs::read_to_string(dir.path().join("etc/webshop/database.conf")).expect("read");
        assert!(
            database.contains(&format!("host={from_user}\n")),
            "{database}"
        );
        assert!(
            database.contains("password=pa'ss$(touch pwned-password)\n"),
            "{database}"
        );
        let app = std::fs::read_to_string(dir.path().join("etc/webshop/app.conf")).expect("read");
        assert!(app.contains(&format!("name = {from_document}\n")), "{app}");
        for text in [&database, &app] {
            assert!(
                !text.contains("49"),
                "an expression in a value was evaluated"
            );
            assert!(
                !text.contains("root:"),
                "an include in a value was followed"
            );
        }
        // The hook got the exact bytes, as an environment variable and JSON.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("hook-env")).expect("hook env"),
            from_user
        );
        let stdin: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("hook-stdin")).expect("hook stdin"),
        )
        .expect("json on stdin");
        assert_eq!(stdin["webshop/db.host"], from_user.as_str());
        assert_eq!(stdin["webshop/site.name"], from_document);
        no_pwned_file(dir.path());
    }
}

mod hostile_builds {
    use super::*;

    /// A repository without git (built with --version-suffix) holding one
    /// package `demo` with a plain file.
    fn repository() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = dir.path().join("repo/packages/demo");
        std::fs::create_dir_all(package.join("control")).expect("mkdir");
        std::fs::create_dir_all(package.join("etc/demo")).expect("mkdir");
        std::fs::write(
            package.join("control/control.yml"),
            "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  demo\n  a package for the hostile-tree tests.\n",
        )
        .expect("control.yml");
        std::fs::write(package.join("etc/demo/plain.conf"), "plain\n").expect("file");
        dir
    }

    /// Builds; must be refused within 30 s with every `expected` text in
    /// the errors and nothing written.
    fn refused(dir: &tempfile::TempDir, expected: &[&str]) -> String {
        let repo = dir.path().join("repo");
        let out = dir.path().join("out");
        let mut child = Command::new(env!("CARGO_BIN_EXE_confpack"))
            .arg("build")
            .arg(&repo)
            .arg("--out")
            .arg(&out)
            .args(["--version-suffix", "test", "--no-dependency-check"])
            .env_remove("SOURCE_DATE_EPOCH")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        loop {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("confpack build hung on a hostile tree");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        for text in expected {
            assert!(stderr.contains(text), "missing {text:?} in\n{stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "nothing is written when a check fails");
        stderr
    }

    fn package(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("repo/packages/demo")
    }

    #[test]
    fn the_plain_repository_builds() {
        let dir = repository();
        let repo = dir.path().join("repo");
        let out = dir.path().join("out");
        let (code, _, stderr) = run(Command::new(env!("CARGO_BIN_EXE_confpack"))
            .arg("build")
            .arg(&repo)
            .arg("--out")
            .arg(&out)
            .args(["--version-suffix", "test", "--no-dependency-check"]));
        assert_eq!(code, 0, "{stderr}");
    }

    #[test]
    fn a_fifo_in_the_package_is_refused_not_read() {
        let dir = repository();
        let fifo = package(&dir).join("etc/demo/pipe");
        mkfifo(&fifo);
        refused(&dir, &["etc/demo/pipe: not a regular file"]);
    }

    #[test]
    fn a_fifo_as_a_script_part_or_manifest_is_refused_not_read() {
        let dir = repository();
        mkfifo(&package(&dir).join("control/postinst"));
        refused(
            &dir,
            &["control/postinst: a script part must be a regular file"],
        );

        let dir = repository();
        let manifest = package(&dir).join("control/control.yml");
        std::fs::remove_file(&manifest).expect("rm");
        mkfifo(&manifest);
        refused(&dir, &["not a regular file"]);

        let dir = repository();
        mkfifo(&dir.path().join("repo/confpack.yml"));
        refused(&dir, &["confpack.yml", "not a regular file"]);
    }

    #[test]
    fn a_script_part_that_is_a_symlink_is_refused_so_no_host_file_is_packaged() {
        let dir = repository();
        std::os::unix::fs::symlink("/etc/passwd", package(&dir).join("control/postinst"))
            .expect("symlink");
        let stderr = refused(
            &dir,
            &["control/postinst: a script part must be a regular file"],
        );
        assert!(!stderr.contains("root:"), "{stderr}");
    }

    #[test]
    fn a_device_file_is_refused() {
        let device = package_device();
        let Some(device) = device else { return };
        let dir = repository();
        let target = package(&dir).join("etc/demo/null");
        let status = Command::new("mknod")
            .arg(&target)
            .args(["c", &device.0.to_string(), &device.1.to_string()])
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipped: mknod failed (needs root / CAP_MKNOD)");
            return;
        }
        refused(&dir, &["etc/demo/null: not a regular file"]);
    }

    /// /dev/null's major and minor, when `mknod` can be used (root).
    fn package_device() -> Option<(u32, u32)> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: mknod needs root");
            return None;
        }
        Some((1, 3))
    }

    #[test]
    fn a_huge_file_is_a_clear_error_not_an_exhausted_memory() {
        let dir = repository();
        let huge = package(&dir).join("etc/demo/huge.img");
        // Sparse: takes no disk space, and is never read.
        let file = std::fs::File::create(&huge).expect("create");
        file.set_len(confpack::builder::package::MAX_FILE_BYTES + 1)
            .expect("sparse file");
        drop(file);
        refused(
            &dir,
            &["etc/demo/huge.img: the file has", "ordinary Debian package"],
        );
    }

    #[test]
    fn a_name_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let dir = repository();
        let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name.conf");
        std::fs::write(package(&dir).join("etc/demo").join(name), "x\n").expect("write");
        refused(&dir, &["not valid UTF-8"]);
    }

    #[test]
    fn names_with_newlines_and_templates_reaching_up_are_refused() {
        let dir = repository();
        std::fs::write(package(&dir).join("etc/demo/two\nlines.conf"), "x\n").expect("write");
        refused(&dir, &["control character"]);
    }

    #[test]
    fn symlinks_out_of_the_tree_are_refused_and_absolute_ones_are_never_followed() {
        let dir = repository();
        let etc = package(&dir).join("etc/demo");
        std::os::unix::fs::symlink("../../../../../../etc/passwd", etc.join("up")).expect("link");
        refused(&dir, &["outside the package tree"]);

        // An absolute symlink is shipped as a link (it names a path on the
        // installed system), never followed: the host file's bytes must not
        // end up in the package.
        let dir = repository();
        let etc = package(&dir).join("etc/demo");
        std::os::unix::fs::symlink("/etc/passwd", etc.join("absolute")).expect("link");
        let repo = dir.path().join("repo");
        let out = dir.path().join("out");
        let (code, stdout, stderr) = run(Command::new(env!("CARGO_BIN_EXE_confpack"))
            .arg("build")
            .arg(&repo)
            .arg("--out")
            .arg(&out)
            .args(["--version-suffix", "test", "--no-dependency-check"]));
        assert_eq!(code, 0, "{stderr}");
        let deb = PathBuf::from(stdout.lines().next().expect("a .deb"));
        let bytes = std::fs::read(&deb).expect("deb");
        let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
        if passwd.len() > 32 {
            let head = &passwd[..32];
            assert!(
                !bytes.windows(head.len()).any(|w| w == head),
                "/etc/passwd was copied into the package"
            );
        }
        // A template may not be a symlink at all.
        let dir = repository();
        std::fs::write(
            package(&dir).join("control/environment.xml"),
            std::fs::read(sample()).expect("sample"),
        )
        .expect("env");
        std::os::unix::fs::symlink("/etc/passwd", package(&dir).join("etc/demo/x.conf.j2"))
            .expect("link");
        refused(&dir, &["a template must be a regular file"]);
    }

    fn mkfifo(path: &Path) {
        let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
        assert!(status.success());
    }
}

/// Ctrl-C at every screen of the configurator: each question type, a
/// conflict, the review, the too-small screen and the quit dialog itself.
/// tests/tui.rs covers one question on a real terminal (store unchanged,
/// terminal restored); this covers the rest of the screens in the app.
mod tui_cancel {
    use confpack::env::model::{Priority, QuestionType, Source, Template};
    use confpack::frontend::tui::app::{App, Input, Outcome, View};
    use confpack::frontend::tui::theme::Theme;
    use confpack::frontend::{Context, Prompt};
    use confpack::merge::Reason;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn prompt(question_type: QuestionType, reason: Reason) -> Prompt {
        Prompt {
            template: Template {
                key: format!("p/{question_type}"),
                question_type,
                priority: Priority::High,
                source: Source::Configured,
                description: format!("A {question_type} question"),
                extended: "Some help.".to_string(),
                choices: if question_type.has_choices() {
                    vec!["a".to_string(), "b".to_string()]
                } else {
                    Vec::new()
                },
                default: None,
                expression: None,
                line: 1,
                vouched: false,
                translations: Default::default(),
            },
            default: match question_type {
                QuestionType::Boolean => Some("true".to_string()),
                QuestionType::Select | QuestionType::Multiselect => Some("a".to_string()),
                _ => Some("x".to_string()),
            },
            reason,
            secret: false,
            labels: Vec::new(),
        }
    }

    fn app(prompts: Vec<Prompt>) -> App {
        let context = Context {
            package: Some("p".to_string()),
            environment: "production".to_string(),
            machine: None,
            back: false,
            title: None,
        };
        App::new(context, prompts, Theme::monochrome())
    }

    fn ctrl(app: &mut App, c: char) {
        app.handle(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )));
    }

    /// Ctrl-C opens the quit dialog, a second Ctrl-C cancels.
    fn cancels(mut app: App, screen: &str) {
        ctrl(&mut app, 'c');
        assert!(app.take_outcome().is_none(), "{screen}: asks first");
        ctrl(&mut app, 'c');
        assert_eq!(app.take_outcome(), Some(Outcome::Cancel), "{screen}");
    }

    #[test]
    fn ctrl_c_twice_cancels_on_every_screen() {
        for question_type in QuestionType::ALL {
            let reason = if question_type.is_display_only() {
                Reason::NotSeen
            } else {
                Reason::Unanswered
            };
            cancels(
                app(vec![prompt(question_type, reason)]),
                question_type.as_str(),
            );
        }
        let conflict = Reason::Conflict {
            document: "doc".to_string(),
            user: "mine".to_string(),
        };
        cancels(
            app(vec![prompt(QuestionType::String, conflict)]),
            "conflict",
        );

        let mut review = app(vec![prompt(QuestionType::String, Reason::Unanswered)]);
        ctrl(&mut review, 'r');
        assert_eq!(review.view, View::Review);
        cancels(review, "review");

        let mut small = app(vec![prompt(QuestionType::String, Reason::Unanswered)]);
        small.handle(Input::Resize(10, 4));
        assert!(small.too_small());
        cancels(small, "too small");
    }
}

/// Outside a frontend confpack keeps the default action of SIGTERM, SIGINT
/// and SIGHUP: a run waiting for the answer database, or busy in a hook,
/// ends at once instead of waiting out `--lock-timeout` or the hook.
mod signals {
    use super::*;

    /// Whether `signal` (a number) is ignored by `pid`, as a process
    /// started by one that ignores it inherits (`nohup`, a shell's
    /// background job): then nothing confpack does could end it.
    fn ignored(pid: u32, signal: u32) -> bool {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .expect("SigIgn");
        mask & (1 << (signal - 1)) != 0
    }

    /// Sends `signal` to `child`; how long it took to end (at most 2 s).
    fn ends_on(child: &mut std::process::Child, name: &str) -> Duration {
        let sent = Instant::now();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(!status.success(), "SIG{name}: {status:?}");
                return sent.elapsed();
            }
            assert!(
                sent.elapsed() < Duration::from_secs(2),
                "SIG{name} did not end it within 2 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_configure_waiting_for_the_database_or_in_a_hook_ends_at_once_on_each_signal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        // A hook that holds the run (and so the database) for a while.
        std::fs::write(
            package.join("package.yml"),
            "hooks:\n  - name: slow\n    reads: []\n    run: [sh, -c, 'echo $$ >\"$CONFPACK_ROOT/hook.pid\"; touch \"$CONFPACK_ROOT/started\"; exec sleep 20']\n",
        )
        .expect("write");
        let mut holder = configure_webshop(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        while !dir.path().join("started").exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "holder never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for (name, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
            let mut waiter = configure_webshop(dir.path())
                .args(["--lock-timeout", "60"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            // Long enough to be in the lock's wait (startup takes ~50 ms).
            std::thread::sleep(Duration::from_millis(500));
            assert!(
                waiter.try_wait().expect("wait").is_none(),
                "the waiter should wait"
            );
            if ignored(waiter.id(), number) {
                eprintln!("skipped SIG{name}: ignored by the process that started the tests");
                let _ = waiter.kill();
                let _ = waiter.wait();
                continue;
            }
            let took = ends_on(&mut waiter, name);
            eprintln!("waiting for the database, SIG{name}: gone after {took:?}");
        }
        let took = ends_on(&mut holder, "TERM");
        eprintln!("in a hook, SIGTERM: gone after {took:?}");
        // The hook is not confpack's to end here (hooks.rs); don't leave it.
        let hook = std::fs::read_to_string(dir.path().join("hook.pid")).expect("hook pid");
        if Path::new(&format!("/proc/{}", hook.trim())).exists() {
            eprintln!(
                "the hook (pid {}) outlived confpack; ending it",
                hook.trim()
            );
            let _ = Command::new("kill").arg(hook.trim()).status();
        }
    }
}
