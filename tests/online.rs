//! Loading the environment document online first, with the cached and the
//! local copy as fallbacks.
//!
//! Each test runs a tiny scripted HTTP server on 127.0.0.1 (never another
//! address) in a thread, bounded in time and in the number of connections,
//! so the failure modes a real server can show (down, stalled, dripping,
//! truncating, erroring, serving garbage or hostile XML) are reproducible
//! without a network.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use confpack::Error;
use confpack::env::load::{DEFAULT_MAX_BYTES, DocumentSource, Loaded, Origin, load};
use sha2::{Digest, Sha256};

/// Longest any scripted server lives.
const SERVER_LIFETIME: Duration = Duration::from_secs(5);

/// What the server does with one connection, after reading the request.
enum Reply {
    /// Writes these bytes, then closes.
    Bytes(Vec<u8>),
    /// Never answers; waits until the client hangs up.
    Stall,
    /// Promises the whole sample document, then sends one byte every 50 ms.
    Drip,
    /// Closes without answering.
    Close,
}

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    thread: JoinHandle<()>,
}

impl Server {
    /// Serves `replies`, one connection each, in order.
    fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let url = format!(
            "http://127.0.0.1:{}/env.xml",
            listener.local_addr().expect("address").port()
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + SERVER_LIFETIME;
            for reply in replies {
                let Some(stream) = accept(&listener, deadline) else {
                    return;
                };
                let request = read_request(&stream);
                recorded.lock().expect("requests").push(request);
                answer(stream, reply, deadline);
            }
        });
        Server {
            url,
            requests,
            thread,
        }
    }

    /// Waits for the server to finish its script; returns the request heads.
    fn requests(self) -> Vec<String> {
        self.thread.join().expect("server thread");
        self.requests.lock().expect("requests").clone()
    }
}

fn accept(listener: &TcpListener, deadline: Instant) -> Option<TcpStream> {
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).ok()?;
                return Some(stream);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    None
}

/// The request head, lowercased so header names compare easily.
fn read_request(mut stream: &TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("read timeout");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

fn answer(mut stream: TcpStream, reply: Reply, deadline: Instant) {
    match reply {
        Reply::Bytes(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Reply::Stall => {
            // A read returns when the client gives up and closes.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.read(&mut [0u8; 1]);
        }
        Reply::Drip => {
            let body = sample();
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let mut write = |bytes: &[u8]| stream.write_all(bytes).and_then(|()| stream.flush());
            if write(head.as_bytes()).is_err() {
                return;
            }
            for byte in body.as_bytes() {
                if Instant::now() > deadline || write(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Reply::Close => {}
    }
}

/// A complete HTTP response with a Content-Length.
fn response(status: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    Reply::Bytes(text.into_bytes())
}

fn ok(body: &str) -> Reply {
    response("200 OK", &[], body)
}

/// The sample document, made acceptable to confpack's own checks: they
/// currently refuse its derived multiselect `webshop/cluster.hostnames`
/// because it has no `<choices>` (line 90), so it is served as a string
/// here. Loading is what these tests are about, not that rule.
fn sample() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-env.xml"))
        .expect("sample-env.xml")
        .replace(
            r#"key="webshop/cluster.hostnames" type="multiselect""#,
            r#"key="webshop/cluster.hostnames" type="string""#,
        )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

/// The sample, told apart by the label of its development environment.
fn labelled(label: &str) -> String {
    sample().replace(r#"context="development""#, &format!(r#"context="{label}""#))
}

/// The online copy the tests serve when it should work.
fn online_document() -> String {
    labelled("online-dev")
}

/// A temp directory holding a local copy and the cache directory.
struct Setup {
    dir: tempfile::TempDir,
    local: PathBuf,
    cache_dir: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let local = dir.path().join("usr/share/webshop/environments.xml");
        std::fs::create_dir_all(local.parent().expect("parent")).expect("local dir");
        std::fs::write(&local, labelled("local-dev")).expect("local copy");
        let cache_dir = dir.path().join("var/cache/confpack/environments");
        Setup {
            dir,
            local,
            cache_dir,
        }
    }

    fn source(&self, url: Option<&str>) -> DocumentSource {
        let mut source = DocumentSource::new(
            url.map(str::to_string),
            Some(self.local.clone()),
            self.cache_dir.clone(),
        );
        source.timeout = Duration::from_millis(300);
        source
    }

    fn load(&self, url: &str) -> Result<Loaded, Error> {
        load(&self.source(Some(url)), &|_| true)
    }

    /// Every file under the temp dir with its bytes, except the stamps that
    /// remember a validated local copy (a speed-up, written when the local
    /// copy is used).
    fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, files);
                } else {
                    let name = path.file_name().expect("name").to_string_lossy();
                    if !name.starts_with("local-") {
                        files.insert(path.clone(), std::fs::read(&path).expect("read"));
                    }
                }
            }
        }
        let mut files = BTreeMap::new();
        walk(self.dir.path(), &mut files);
        files
    }

    /// The cached document and its metadata (the only `.xml`/`.json` pair).
    fn cache_files(&self) -> (PathBuf, PathBuf) {
        let xml = std::fs::read_dir(&self.cache_dir)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|e| e == "xml"))
            .expect("a cached document");
        let json = xml.with_extension("json");
        assert!(json.exists(), "metadata next to {}", xml.display());
        (xml, json)
    }
}

fn uses(loaded: &Loaded, label: &str) -> bool {
    loaded.document.contexts.iter().any(|c| c == label)
}

/// The online copy failed: exactly one warning naming the URL and `why`,
/// the local copy was used, and no file changed.
/// Serves `replies` to a load limited to `max_bytes`: the online copy must
/// fail with exactly one warning naming the URL and `why`, the local copy
/// must be used, and no file may change (a partial download included).
fn falls_back_to_local(replies: Vec<Reply>, max_bytes: u64, why: &str) {
    let setup = Setup::new();
    let before = setup.files();
    let server = Server::start(replies);
    let url = server.url.clone();
    let mut source = setup.source(Some(&url));
    source.max_bytes = max_bytes;
    let loaded = load(&source, &|_| true).expect("the local copy is usable");
    server.requests();
    assert_used_local(&setup, &loaded, &url, why);
    assert_eq!(setup.files(), before, "no file may change");
}

/// Exactly one warning naming the URL and `why`; the local copy was used.
fn assert_used_local(setup: &Setup, loaded: &Loaded, url: &str, why: &str) {
    assert_eq!(loaded.origin, Origin::Local);
    assert!(uses(loaded, "local-dev"), "{:?}", loaded.document.contexts);
    assert_eq!(loaded.document.origin, setup.local.display().to_string());
    assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
    let warning = &loaded.warnings[0];
    assert!(
        warning.starts_with("warning: online environment document "),
        "{warning}"
    );
    assert!(warning.contains(url), "{warning}");
    assert!(warning.contains(why), "expected {why:?} in {warning}");
    assert!(
        warning.ends_with(&format!("using the local copy {}", setup.local.display())),
        "{warning}"
    );
    assert!(!warning.contains('\n'), "{warning}");
}

fn fails_over(reply: Reply, why: &str) {
    falls_back_to_local(vec![reply], DEFAULT_MAX_BYTES, why);
}

/// `reply` must cost about the 300 ms timeout, not the server's patience.
fn times_out(reply: Reply) {
    let started = Instant::now();
    fails_over(reply, "no complete answer within 300 ms");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

/// Serves a good document once so the cache holds it, then `reply`; the
/// cached copy must be used, untouched.
fn fails_over_to_cache(reply: Reply, why: &str) {
    let setup = Setup::new();
    let server = Server::start(vec![
        response("200 OK", &[("ETag", "\"v1\"")], &online_document()),
        reply,
    ]);
    let first = setup.load(&server.url).expect("online copy");
    assert_eq!(first.origin, Origin::Online);
    let before = setup.files();
    let (cached, _) = setup.cache_files();

    let second = setup.load(&server.url).expect("cached copy");
    server.requests();
    assert_eq!(second.origin, Origin::Cache);
    assert!(uses(&second, "online-dev"));
    assert_eq!(second.warnings.len(), 1, "{:#?}", second.warnings);
    assert!(second.warnings[0].contains(why), "{}", second.warnings[0]);
    assert!(
        second.warnings[0].ends_with(&format!("using the cached copy {}", cached.display())),
        "{}",
        second.warnings[0]
    );
    assert_eq!(setup.files(), before, "no file may change");
}

#[test]
fn valid_online_copy_is_used_and_cached() {
    let setup = Setup::new();
    let local_before = std::fs::read(&setup.local).expect("local");
    let server = Server::start(vec![response(
        "200 OK",
        &[
            ("ETag", "\"v1\""),
            ("Last-Modified", "Tue, 03 Feb 2026 10:00:00 GMT"),
        ],
        &online_document(),
    )]);
    let url = server.url.clone();
    let loaded = setup.load(&url).expect("online copy");
    server.requests();
    assert_eq!(loaded.origin, Origin::Online);
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    assert!(uses(&loaded, "online-dev"));
    assert_eq!(loaded.document.origin, url);
    let (xml, json) = setup.cache_files();
    assert_eq!(
        std::fs::read_to_string(xml).expect("cache"),
        online_document()
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("metadata")).expect("json");
    assert_eq!(metadata["etag"], "\"v1\"");
    assert_eq!(metadata["url"], url.as_str());
    assert_eq!(metadata["last_modified"], "Tue, 03 Feb 2026 10:00:00 GMT");
    assert_eq!(metadata["sha256"], sha256_hex(online_document().as_bytes()));
    assert_eq!(std::fs::read(&setup.local).expect("local"), local_before);
}

#[test]
fn nothing_listening_falls_back_to_local() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let setup = Setup::new();
    let before = setup.files();
    let url = format!("http://127.0.0.1:{port}/env.xml");
    let loaded = setup.load(&url).expect("local copy");
    assert_used_local(&setup, &loaded, &url, "connection refused");
    assert_eq!(setup.files(), before);
}

#[test]
fn connection_closed_without_answer_falls_back_to_local() {
    fails_over(Reply::Close, "closed the connection early");
}

#[test]
fn stalled_server_times_out_and_falls_back_to_local() {
    times_out(Reply::Stall);
}

#[test]
fn slow_drip_times_out_and_falls_back_to_local() {
    times_out(Reply::Drip);
}

#[test]
fn truncated_body_falls_back_to_local() {
    let body = online_document();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        body.len() + 1000
    );
    let bytes = [head.as_bytes(), body.as_bytes()].concat();
    fails_over(Reply::Bytes(bytes), "closed the connection early");
}

#[test]
fn http_500_falls_back_to_the_cached_copy() {
    fails_over_to_cache(
        response("500 Internal Server Error", &[], "oops"),
        "HTTP 500 Internal Server Error",
    );
}

#[test]
fn http_404_falls_back_to_local() {
    fails_over(
        response("404 Not Found", &[], "no such file"),
        "HTTP 404 Not Found",
    );
}

#[test]
fn not_well_formed_body_falls_back_to_the_cached_copy() {
    fails_over_to_cache(ok(&fixture("not-well-formed.xml")), "/env.xml:10:");
}

#[test]
fn not_well_formed_body_falls_back_to_local() {
    fails_over(ok(&fixture("not-well-formed.xml")), "/env.xml:10:");
}

#[test]
fn schema_invalid_body_falls_back_to_local_naming_the_line() {
    fails_over(
        ok(&fixture("invalid-schema.xml")),
        "/env.xml:11: Element '{urn:confpack:environment:1}colour'",
    );
}

#[test]
fn external_entity_is_refused() {
    fails_over(ok(&fixture("external-entity.xml")), "DOCTYPE");
}

#[test]
fn entity_expansion_bomb_is_refused() {
    let mut entities = String::from("  <!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", level - 1)
        };
        entities.push_str(&format!(
            "  <!ENTITY lol{level} \"{}\">\n",
            format!("&{previous};").repeat(10)
        ));
    }
    let bomb = sample().replacen(
        "<environments ",
        &format!("<!DOCTYPE environments [\n{entities}]>\n<environments "),
        1,
    );
    let bomb = bomb.replacen("Example Shop</default>", "&lol9;</default>", 1);
    fails_over(ok(&bomb), "DOCTYPE");
}

#[test]
fn oversized_body_with_content_length_falls_back_to_local() {
    falls_back_to_local(
        vec![ok(&online_document())],
        1024,
        "larger than the limit of 1024 bytes",
    );
}

#[test]
fn oversized_body_without_content_length_is_cut_off() {
    // No Content-Length: the body ends when the server closes, so only
    // counting the bytes can notice it is too large.
    let bytes = format!(
        "HTTP/1.1 200 OK
Connection: close

{}",
        online_document()
    );
    falls_back_to_local(
        vec![Reply::Bytes(bytes.into_bytes())],
        1024,
        "larger than the limit of 1024 bytes",
    );
}

#[test]
fn too_many_redirects_fall_back_to_local() {
    let redirect = || response("302 Found", &[("Location", "/env.xml")], "");
    falls_back_to_local(
        (0..6).map(|_| redirect()).collect(),
        DEFAULT_MAX_BYTES,
        "more than 5 redirects",
    );
}

#[test]
fn not_modified_uses_the_cached_copy_after_a_conditional_request() {
    let setup = Setup::new();
    let last_modified = "Tue, 03 Feb 2026 10:00:00 GMT";
    let server = Server::start(vec![
        response(
            "200 OK",
            &[("ETag", "\"v1\""), ("Last-Modified", last_modified)],
            &online_document(),
        ),
        response("304 Not Modified", &[("ETag", "\"v1\"")], ""),
    ]);
    let first = setup.load(&server.url).expect("online copy");
    assert_eq!(first.origin, Origin::Online);
    let before = setup.files();

    let second = setup.load(&server.url).expect("cached copy");
    let requests = server.requests();
    assert_eq!(second.origin, Origin::NotModified);
    assert!(second.warnings.is_empty(), "{:#?}", second.warnings);
    assert!(uses(&second, "online-dev"));
    assert!(!requests[0].contains("if-none-match"), "{}", requests[0]);
    assert!(
        requests[1].contains("if-none-match: \"v1\"\r\n"),
        "{}",
        requests[1]
    );
    assert!(
        requests[1].contains(&format!(
            "if-modified-since: {}\r\n",
            last_modified.to_lowercase()
        )),
        "{}",
        requests[1]
    );
    assert_eq!(setup.files(), before);
}

/// Makes the cache hold a document the schema refuses (an attribute it does
/// not know) but confpack's own checks accept; with `fix_metadata` the
/// metadata is updated to describe the new bytes, as if it had validated.
fn tamper_cache(setup: &Setup, fix_metadata: bool) {
    let (xml, json) = setup.cache_files();
    let tampered =
        online_document().replacen(r#"version="1">"#, r#"version="1" colour="blue">"#, 1);
    std::fs::write(&xml, &tampered).expect("tamper");
    if fix_metadata {
        let mut metadata: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).expect("metadata")).expect("json");
        metadata["sha256"] = sha256_hex(tampered.as_bytes()).into();
        std::fs::write(&json, serde_json::to_vec(&metadata).expect("json")).expect("metadata");
    }
}

#[test]
fn not_modified_with_matching_metadata_skips_schema_validation() {
    let setup = Setup::new();
    let server = Server::start(vec![
        response("200 OK", &[("ETag", "\"v1\"")], &online_document()),
        response("304 Not Modified", &[], ""),
    ]);
    setup.load(&server.url).expect("online copy");
    tamper_cache(&setup, true);

    // The schema would refuse the tampered copy, so accepting it proves it
    // was not validated a second time.
    let second = setup.load(&server.url).expect("cached copy");
    server.requests();
    assert_eq!(second.origin, Origin::NotModified);
    assert!(second.warnings.is_empty(), "{:#?}", second.warnings);
}

#[test]
fn cache_not_matching_its_metadata_is_validated_again() {
    let setup = Setup::new();
    let server = Server::start(vec![
        response("200 OK", &[("ETag", "\"v1\"")], &online_document()),
        response("500 Internal Server Error", &[], ""),
    ]);
    setup.load(&server.url).expect("online copy");
    tamper_cache(&setup, false);
    let before = setup.files();

    let second = setup.load(&server.url).expect("local copy");
    let requests = server.requests();
    assert!(
        !requests[1].contains("if-none-match"),
        "a cache that does not match its metadata must not be revalidated by the server: {}",
        requests[1]
    );
    assert_eq!(second.origin, Origin::Local);
    assert!(uses(&second, "local-dev"));
    assert_eq!(second.warnings.len(), 2, "{:#?}", second.warnings);
    assert!(
        second.warnings[0].contains("HTTP 500"),
        "{}",
        second.warnings[0]
    );
    assert!(
        second.warnings[1].starts_with("warning: cached environment document "),
        "{}",
        second.warnings[1]
    );
    assert!(
        second.warnings[1].contains("colour"),
        "{}",
        second.warnings[1]
    );
    assert_eq!(setup.files(), before);
}

#[test]
fn changed_valid_document_replaces_the_cache() {
    let setup = Setup::new();
    let changed = labelled("online-dev-2");
    let server = Server::start(vec![
        response("200 OK", &[("ETag", "\"v1\"")], &online_document()),
        response("200 OK", &[("ETag", "\"v2\"")], &changed),
    ]);
    setup.load(&server.url).expect("first online copy");
    let second = setup.load(&server.url).expect("second online copy");
    let requests = server.requests();
    assert!(
        requests[1].contains("if-none-match: \"v1\"\r\n"),
        "{}",
        requests[1]
    );
    assert_eq!(second.origin, Origin::Online);
    assert!(uses(&second, "online-dev-2"));
    assert!(second.warnings.is_empty(), "{:#?}", second.warnings);
    let (xml, json) = setup.cache_files();
    assert_eq!(std::fs::read_to_string(xml).expect("cache"), changed);
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("metadata")).expect("json");
    assert_eq!(metadata["etag"], "\"v2\"");
    assert_eq!(metadata["sha256"], sha256_hex(changed.as_bytes()));
    let leftovers: Vec<_> = std::fs::read_dir(&setup.cache_dir)
        .expect("cache dir")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn both_copies_unusable_is_an_error_naming_both_and_changes_nothing() {
    let setup = Setup::new();
    std::fs::write(&setup.local, fixture("invalid-schema.xml")).expect("local");
    let all_files = |setup: &Setup| {
        // Here even a stamp would be a change.
        let mut files = setup.files();
        if let Ok(entries) = std::fs::read_dir(&setup.cache_dir) {
            for entry in entries {
                let path = entry.expect("entry").path();
                files.insert(path.clone(), std::fs::read(&path).expect("read"));
            }
        }
        files
    };
    let before = all_files(&setup);
    let server = Server::start(vec![response("500 Internal Server Error", &[], "")]);
    let url = server.url.clone();
    let error = setup.load(&url).expect_err("no usable copy");
    server.requests();
    let Error::NoDocument { reasons } = &error else {
        panic!("expected NoDocument, got {error:#}");
    };
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert_eq!(reasons[0], format!("{url}: HTTP 500 Internal Server Error"));
    assert!(
        reasons[1].starts_with(&format!("{}:11: ", setup.local.display())),
        "{}",
        reasons[1]
    );
    assert_eq!(error.exit_code(), confpack::ExitCode::NoDocument);
    assert_eq!(all_files(&setup), before);
    assert!(
        !setup.cache_dir.exists(),
        "not even the cache directory is created"
    );
}

#[test]
fn changed_local_copy_is_validated_again_despite_its_stamp() {
    let setup = Setup::new();
    let source = DocumentSource::new(None, Some(setup.local.clone()), setup.cache_dir.clone());
    let first = load(&source, &|_| true).expect("local copy");
    assert_eq!(first.origin, Origin::Local);
    assert!(first.warnings.is_empty());

    std::fs::write(&setup.local, fixture("invalid-schema.xml")).expect("local");
    let Err(Error::NoDocument { reasons }) = load(&source, &|_| true) else {
        panic!("the changed local copy must be validated");
    };
    assert_eq!(reasons.len(), 1, "{reasons:#?}");
    assert!(reasons[0].contains(":11: Element"), "{}", reasons[0]);
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
