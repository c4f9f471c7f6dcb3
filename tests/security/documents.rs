//! Security regressions: documents (online copies, their cache, DataONE
//! schemas, parsing cost).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use confpack::env::load::{DocumentSource, Loaded, Origin, load};

use crate::common::{Server, http_response, repo};

/// The sample, acceptable to confpack's own checks (see tests/online.rs),
/// its development environment labelled `label`.
fn sample(label: &str) -> String {
    std::fs::read_to_string(repo().join("sample-env.xml"))
        .expect("sample-env.xml")
        .replace(
            r#"key="webshop/cluster.hostnames" type="multiselect""#,
            r#"key="webshop/cluster.hostnames" type="string""#,
        )
        .replace(r#"context="development""#, &format!(r#"context="{label}""#))
}

/// The line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle in text");
    text[..at].matches('\n').count() + 1
}

/// A temp root with a local copy and a cache directory.
struct Node {
    dir: tempfile::TempDir,
    local: PathBuf,
    cache_dir: PathBuf,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let local = dir.path().join("usr/share/webshop/environments.xml");
        std::fs::create_dir_all(local.parent().expect("parent")).expect("local dir");
        std::fs::write(&local, sample("local-dev")).expect("local copy");
        let cache_dir = dir.path().join("var/cache/confpack/environments");
        Node {
            dir,
            local,
            cache_dir,
        }
    }

    fn source(&self, url: &str) -> DocumentSource {
        let mut source = DocumentSource::new(
            Some(url.to_string()),
            Some(self.local.clone()),
            self.cache_dir.clone(),
        );
        source.timeout = Duration::from_secs(2);
        source
    }

    fn load(&self, url: &str) -> Loaded {
        load(&self.source(url), &|_| true).expect("a usable copy")
    }

    fn cached_documents(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.cache_dir) else {
            return Vec::new();
        };
        entries
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect()
    }
}

fn uses(loaded: &Loaded, label: &str) -> bool {
    loaded.document.contexts.iter().any(|c| c == label)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

mod clear_passwords {
    use super::*;

    const PASSWORD: &str = "hunter2-in-clear";

    #[test]
    fn an_online_copy_with_a_clear_password_is_refused_like_an_invalid_one() {
        let node = Node::new();
        let document = sample("online-dev").replace(
            r#"<question key="webshop/db.host">127.0.0.1</question>"#,
            &format!(
                "<question key=\"webshop/db.host\">127.0.0.1</question>\n    \
                 <question key=\"webshop/db.password\">{PASSWORD}</question>"
            ),
        );
        let line = line_of(&document, PASSWORD);
        let server = Server::start(vec![("/env.xml", document.into_bytes())]);
        let url = format!("{}/env.xml", server.url);

        let loaded = node.load(&url);

        assert_eq!(loaded.origin, Origin::Local);
        assert!(uses(&loaded, "local-dev"));
        assert_eq!(loaded.warnings.len(), 1, "{:#?}", loaded.warnings);
        let warning = &loaded.warnings[0];
        assert!(
            warning.contains(&format!("{url}:{line}: webshop/db.password")),
            "{warning}"
        );
        assert!(warning.contains("in clear"), "{warning}");
        assert!(warning.contains("using the local copy"), "{warning}");
        assert!(!warning.contains(PASSWORD), "{warning}");
        assert!(node.cached_documents().is_empty(), "nothing cached");
    }

    #[test]
    fn a_clear_password_default_in_an_online_copy_is_refused() {
        let node = Node::new();
        let document = sample("online-dev").replace(
            "never printed.</extended>",
            &format!("never printed.</extended><default>{PASSWORD}</default>"),
        );
        let server = Server::start(vec![("/env.xml", document.into_bytes())]);
        let loaded = node.load(&format!("{}/env.xml", server.url));
        assert_eq!(loaded.origin, Origin::Local);
        assert!(
            loaded.warnings[0].contains("the default of a password question is in clear"),
            "{:#?}",
            loaded.warnings
        );
    }

    #[test]
    fn the_cache_is_readable_by_its_owner_only() {
        let node = Node::new();
        let server = Server::start(vec![("/env.xml", sample("online-dev").into_bytes())]);
        let loaded = node.load(&format!("{}/env.xml", server.url));
        assert_eq!(loaded.origin, Origin::Online, "{:#?}", loaded.warnings);
        assert_eq!(mode(&node.cache_dir), 0o700);
        let files: Vec<PathBuf> = std::fs::read_dir(&node.cache_dir)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert!(files.len() >= 2, "{files:?}");
        for file in files {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[test]
    fn an_existing_world_readable_cache_directory_is_tightened() {
        let node = Node::new();
        std::fs::create_dir_all(&node.cache_dir).expect("cache dir");
        std::fs::set_permissions(&node.cache_dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let server = Server::start(vec![("/env.xml", sample("online-dev").into_bytes())]);
        node.load(&format!("{}/env.xml", server.url));
        assert_eq!(mode(&node.cache_dir), 0o700);
        drop(node.dir);
    }
}

mod parsing_cost {
    use super::*;
    use confpack::env::{Validation, validate};
    use std::time::Instant;

    /// A document whose template at line 4 carries `count` attributes.
    fn many_attributes(count: usize) -> String {
        let attributes: Vec<String> = (0..count).map(|i| format!("a{i}=\"x\"")).collect();
        format!(
            "<?xml version=\"1.0\"?>\n<environments xmlns=\"urn:confpack:environment:1\" \
             version=\"1\">\n  <templates>\n    <template key=\"t/a\" type=\"string\" {}>\n      \
             <description>A</description>\n    </template>\n  </templates>\n</environments>\n",
            attributes.join(" ")
        )
    }

    fn refused_fast(text: &str, limit: &str) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("env.xml");
        std::fs::write(&path, text).expect("write");
        let started = Instant::now();
        let error = validate(&path, "env.xml", Validation::Builtin).expect_err("refused");
        let elapsed = started.elapsed();
        let message = format!("{error:#}");
        assert!(message.contains(limit), "{message}");
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
        message
    }

    #[test]
    fn forty_thousand_attributes_are_refused_at_once_naming_the_line_and_the_limit() {
        let message = refused_fast(&many_attributes(40_000), "more than 64 attributes");
        assert!(message.starts_with("env.xml:4: "), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }

    #[test]
    fn deep_nesting_and_huge_text_are_refused_naming_the_limit() {
        let deep = format!(
            "<?xml version=\"1.0\"?>\n<environments xmlns=\"urn:confpack:environment:1\" \
             version=\"1\">\n{}{}</environments>\n",
            "<x:a xmlns:x=\"urn:other\">\n".repeat(100),
            "</x:a>".repeat(100)
        );
        let message = refused_fast(&deep, "nested more than 64 deep");
        assert!(message.starts_with("env.xml:66: "), "{message}");
        let huge = many_attributes(1).replace(
            "<description>A</description>",
            &format!("<description>{}</description>", "x".repeat(2 << 20)),
        );
        refused_fast(&huge, "longer than 1048576 bytes");
    }

    /// A large document (~3 MB) that is invalid only on its last lines:
    /// reading it costs time before the verdict.
    fn large_invalid_document() -> String {
        let environments: String = (0..6000)
            .map(|i| {
                format!(
                    "  <environment context=\"e{i}\">\n    \
                     <question key=\"webshop/db.host\">db{i}.example.com</question>\n    \
                     <machine ip=\"10.{}.{}.1\" hostname=\"m{i}\"/>\n  </environment>\n",
                    i / 250,
                    i % 250
                )
            })
            .collect();
        sample("online-dev").replace(
            "</environments>",
            &format!("{environments}  <bogus/>\n</environments>"),
        )
    }

    #[test]
    fn a_costly_refused_online_copy_is_remembered_by_its_validator() {
        let node = Node::new();
        let body = large_invalid_document();
        let line = line_of(&body, "<bogus/>");
        let response = http_response("200 OK", &[("ETag", "\"hostile-1\"")], body.as_bytes());
        let server = Server::responses(vec![("/env.xml".to_string(), response)]);
        let url = format!("{}/env.xml", server.url);

        let first = node.load(&url);
        assert_eq!(first.origin, Origin::Local);
        assert_eq!(first.warnings.len(), 1, "{:#?}", first.warnings);
        assert!(
            first.warnings[0].contains(&format!("{url}:{line}:")),
            "{}",
            first.warnings[0]
        );

        // Not validated again (the costly part): the warning says the
        // copy with this validator was refused on an earlier run.
        let second = node.load(&url);
        assert_eq!(second.origin, Origin::Local);
        assert_eq!(second.warnings.len(), 1, "{:#?}", second.warnings);
        let warning = &second.warnings[0];
        assert!(
            warning.contains("refused on an earlier run") && warning.contains("\"hostile-1\""),
            "{warning}"
        );
        assert!(warning.contains(&format!("{url}:{line}:")), "{warning}");
        assert!(warning.contains("using the local copy"), "{warning}");
        assert!(node.cached_documents().is_empty());
    }
}

mod dataone_schemas {
    use super::*;
    use crate::common::{confpack, fixture, preseed_secret, run};
    use std::time::Instant;

    fn dataone(name: &str) -> PathBuf {
        fixture("dataone").join(name)
    }

    /// The fixture schema with `include` added as its first child.
    fn schema_including(location: &str) -> Vec<u8> {
        std::fs::read_to_string(dataone("acme-v1.xsd"))
            .expect("xsd")
            .replacen(
                "elementFormDefault=\"unqualified\">",
                &format!("elementFormDefault=\"unqualified\">\n  <xs:include schemaLocation=\"{location}\"/>"),
                1,
            )
            .into_bytes()
    }

    /// `configure` of the fixture document served from `server` as
    /// `/acme-v1.xml`, the fixture as local copy.
    fn configure(root: &Path, server: &Server) -> (i32, String, String, Duration) {
        preseed_secret(root, "acme-node/ldap.password", "pw");
        let started = Instant::now();
        let (code, stdout, stderr) = run(confpack(root)
            .args([
                "configure",
                "--frontend",
                "noninteractive",
                "--machine",
                "10.0.0.1",
            ])
            .args(["--timeout", "2"])
            .args(["--env-url", &format!("{}/acme-v1.xml", server.url)])
            .arg("--env-file")
            .arg(dataone("acme-v1.xml"))
            .arg("--derive-file")
            .arg(dataone("acme-rules.txt")));
        (code, stdout, stderr, started.elapsed())
    }

    fn document() -> (&'static str, Vec<u8>) {
        (
            "/acme-v1.xml",
            std::fs::read(dataone("acme-v1.xml")).expect("doc"),
        )
    }

    #[test]
    fn a_schema_including_a_local_file_never_shows_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("shadow");
        std::fs::write(&secret, "root:$6$SECRETHASH:19000:0:99999:7:::\n").expect("secret");
        let server = Server::start(vec![
            document(),
            (
                "/acme-v1.xsd",
                schema_including(&format!("file://{}", secret.display())),
            ),
        ]);
        let (code, _, stderr, _) = configure(dir.path(), &server);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("SECRETHASH"), "{stderr}");
        assert!(stderr.contains("is not on the schema's origin"), "{stderr}");
        let cached: Vec<String> =
            std::fs::read_dir(dir.path().join("var/cache/confpack/environments"))
                .expect("cache")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("schema-"))
                .collect();
        assert!(
            cached.is_empty(),
            "an unusable schema is not cached: {cached:?}"
        );
    }

    #[test]
    fn a_schema_including_a_fifo_does_not_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let server = Server::start(vec![
            document(),
            (
                "/acme-v1.xsd",
                schema_including(&fifo.display().to_string()),
            ),
        ]);
        let (code, _, stderr, elapsed) = configure(dir.path(), &server);
        assert_eq!(code, 0, "{stderr}");
        assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    }

    #[test]
    fn an_include_from_the_schemas_origin_is_fetched_through_confpack() {
        let dir = tempfile::tempdir().expect("tempdir");
        let part = b"<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
            targetNamespace=\"http://ns.dataone.org/debian/conf/types/v1\"/>"
            .to_vec();
        let server = Server::start(vec![
            document(),
            ("/acme-v1.xsd", schema_including("parts/empty.xsd")),
            ("/parts/empty.xsd", part),
        ]);
        let (code, _, stderr, _) = configure(dir.path(), &server);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
        assert!(server.requests().contains(&"/parts/empty.xsd".to_string()));
    }

    #[test]
    fn a_schema_redirected_to_another_port_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = Server::start(vec![(
            "/acme-v1.xsd",
            std::fs::read(dataone("acme-v1.xsd")).expect("xsd"),
        )]);
        let location = format!("{}/acme-v1.xsd", elsewhere.url);
        let (path, body) = document();
        let server = Server::responses(vec![
            (path.to_string(), http_response("200 OK", &[], &body)),
            (
                "/acme-v1.xsd".to_string(),
                http_response("302 Found", &[("Location", &location)], b""),
            ),
        ]);
        let (code, _, stderr, _) = configure(dir.path(), &server);
        assert_eq!(code, 0, "{stderr}");
        assert!(elsewhere.requests().is_empty(), "followed to {location}");
        assert!(stderr.contains("another origin"), "{stderr}");
    }

    #[test]
    fn a_redirect_to_a_file_url_is_named_as_such() {
        let node = Node::new();
        let server = Server::responses(vec![(
            "/env.xml".to_string(),
            http_response("302 Found", &[("Location", "file:///etc/passwd")], b""),
        )]);
        let loaded = node.load(&format!("{}/env.xml", server.url));
        assert_eq!(loaded.origin, Origin::Local);
        let warning = &loaded.warnings[0];
        assert!(
            warning.contains("redirected to file:///etc/passwd"),
            "{warning}"
        );
        assert!(!warning.contains("404"), "{warning}");
    }

    #[test]
    fn a_non_schema_file_is_not_kept_as_the_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(vec![
            document(),
            ("/acme-v1.xsd", b"<html>not a schema</html>".to_vec()),
        ]);
        let (code, _, stderr, _) = configure(dir.path(), &server);
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("is not a usable schema"), "{stderr}");
        let cache = dir.path().join("var/cache/confpack/environments");
        let schemas = std::fs::read_dir(&cache)
            .expect("cache")
            .filter(|e| {
                e.as_ref()
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .starts_with("schema-")
            })
            .count();
        assert_eq!(schemas, 0);
    }
}
