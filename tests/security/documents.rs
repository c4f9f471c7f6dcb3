//! Security regressions: documents (online copies, their cache, DataONE
//! schemas, parsing cost).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use confpack::env::load::{DocumentSource, Loaded, Origin, load};

use crate::common::{Server, repo};

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
