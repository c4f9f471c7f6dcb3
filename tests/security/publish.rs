//! Security regressions: publish.
//!
//! A publish that fails or is killed must leave the previous published
//! state as it was (issue 12, item 9), and an environment document is
//! trusted as far as the packages are (issue 12, one trust chain).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::run;
use crate::publish::{Keyring, arg, confpack, every_file, plain_debs, release_sums, sha256};

/// Every file of `dir` (hidden ones included) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    every_file(dir)
        .into_iter()
        .map(|relative| {
            let bytes = std::fs::read(dir.join(&relative)).expect("read");
            (relative, bytes)
        })
        .collect()
}

/// The public key as gpgv reads it (binary).
fn gpgv_keyring(keyring: &Keyring, dir: &Path) -> PathBuf {
    let path = dir.join("trusted.gpg");
    let status = Command::new("gpg")
        .args(["--batch", "--yes", "--dearmor", "--output"])
        .arg(&path)
        .arg(&keyring.public)
        .status()
        .expect("gpg --dearmor");
    assert!(status.success());
    path
}

fn gpgv(keyring: &Path, files: &[&Path]) -> bool {
    Command::new("gpgv")
        .arg("--keyring")
        .arg(keyring)
        .args(files)
        .output()
        .expect("gpgv")
        .status
        .success()
}

fn signed_publish(keyring: &Keyring, repo: &Path, args: &[String]) -> Command {
    let mut command = confpack();
    command
        .env("GNUPGHOME", &keyring.home)
        .arg("publish")
        .arg("--repo")
        .arg(repo)
        .args(["--environment", "master", "--architecture", "amd64"])
        .args(["--sign-key", &keyring.fingerprint])
        .args(args);
    command
}

/// What is wrong with the published environment: `Release`, `InRelease`
/// and `Release.gpg` must be one signed `Release`, every file it names
/// must have its sum, every package an index names must be in the pool.
fn inconsistencies(repo: &Path, keyring: &Path) -> Vec<String> {
    let dist = repo.join("dists/master");
    let mut wrong = Vec::new();
    let release = match std::fs::read_to_string(dist.join("Release")) {
        Ok(release) => release,
        Err(e) => return vec![format!("Release: {e}")],
    };
    if !gpgv(keyring, &[&dist.join("InRelease")]) {
        wrong.push("InRelease does not verify".to_string());
    }
    if !gpgv(keyring, &[&dist.join("Release.gpg"), &dist.join("Release")]) {
        wrong.push("Release.gpg does not verify Release".to_string());
    }
    let inline = std::fs::read_to_string(dist.join("InRelease")).unwrap_or_default();
    if !inline.contains(release.trim_end()) {
        wrong.push("InRelease signs another Release".to_string());
    }
    for (path, (sum, size)) in release_sums(&release) {
        match std::fs::read(dist.join(&path)) {
            Ok(bytes) if sha256(&bytes) == sum && bytes.len() as u64 == size => {}
            Ok(_) => wrong.push(format!("{path} does not match Release")),
            Err(e) => wrong.push(format!("{path}: {e}")),
        }
        if path.ends_with("Packages") || path.ends_with("Packages.gz") {
            let dir = Path::new(&path).parent().expect("dir");
            if !dist.join(dir).join("by-hash/SHA256").join(&sum).exists() {
                wrong.push(format!("{path}: by-hash/SHA256/{sum} is missing"));
            }
        }
        if path.ends_with("/Packages") {
            let text = std::fs::read_to_string(dist.join(&path)).unwrap_or_default();
            for filename in text.lines().filter_map(|l| l.strip_prefix("Filename: ")) {
                if !repo.join(filename).exists() {
                    wrong.push(format!("{filename} is named by {path} but not in the pool"));
                }
            }
        }
    }
    wrong
}

#[test]
fn a_publish_that_cannot_sign_changes_no_published_byte() {
    let Some(keyring) = Keyring::new("publisher") else {
        return;
    };
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    let v1 = plain_debs(temp.path(), "1.0", &["alpha"]);
    let v2 = plain_debs(temp.path(), "2.0", &["alpha"]);
    let (code, _, stderr) = run(&mut signed_publish(&keyring, &repo, &[arg(&v1[0])]));
    assert_eq!(code, 0, "{stderr}");
    let before = snapshot(&repo);

    let (code, _, stderr) = run(confpack()
        .env("GNUPGHOME", &keyring.home)
        .arg("publish")
        .arg("--repo")
        .arg(&repo)
        .args([
            "--environment",
            "master",
            "--sign-key",
            "nobody@example.com",
        ])
        .arg(&v2[0]));
    assert_ne!(code, 0, "an unknown key fails: {stderr}");
    assert_eq!(
        snapshot(&repo),
        before,
        "every byte of the repository is as it was"
    );

    // The next successful publish does not bring the failed package in.
    let (code, _, stderr) = run(&mut signed_publish(&keyring, &repo, &[]));
    assert_eq!(code, 0, "{stderr}");
    let packages = std::fs::read_to_string(repo.join("dists/master/main/binary-amd64/Packages"))
        .expect("Packages");
    assert!(!packages.contains("Version: 2.0"), "{packages}");
    let trusted = gpgv_keyring(&keyring, temp.path());
    assert_eq!(inconsistencies(&repo, &trusted), Vec::<String>::new());
}

/// A small deterministic generator for the kill delays (no rand crate).
struct Delays(u64);

impl Delays {
    fn next(&mut self, below: Duration) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let micros = below.as_micros().max(1) as u64;
        Duration::from_micros((self.0 >> 33) % micros)
    }
}

#[test]
fn a_publish_killed_at_random_points_leaves_a_verifiable_repository_and_the_next_cleans_up() {
    let Some(keyring) = Keyring::new("publisher") else {
        return;
    };
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    let trusted = gpgv_keyring(&keyring, temp.path());
    let names = ["alpha", "beta", "gamma", "delta", "libeps"];
    plain_debs(temp.path(), "1.0", &names);
    plain_debs(temp.path(), "2.0", &names);
    let v1 = arg(&temp.path().join("debs-1.0"));
    let v2 = arg(&temp.path().join("debs-2.0"));
    let remove_v2: Vec<String> = names
        .iter()
        .flat_map(|n| ["--remove".to_string(), format!("{n}=2.0+t1")])
        .collect();
    let (code, _, stderr) = run(&mut signed_publish(&keyring, &repo, &[v1]));
    assert_eq!(code, 0, "{stderr}");

    // How long a whole publish takes here, to kill anywhere inside one.
    let started = Instant::now();
    let (code, _, stderr) = run(&mut signed_publish(
        &keyring,
        &repo,
        std::slice::from_ref(&v2),
    ));
    assert_eq!(code, 0, "{stderr}");
    let whole = started.elapsed();
    let (code, _, stderr) = run(&mut signed_publish(&keyring, &repo, &remove_v2));
    assert_eq!(code, 0, "{stderr}");

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut delays = Delays(seed);
    let kills = 12;
    let mut killed_running = 0;
    let mut broken = Vec::new();
    for round in 0..kills {
        let args = if round % 2 == 0 {
            vec![v2.clone()]
        } else {
            remove_v2.clone()
        };
        let mut child = signed_publish(&keyring, &repo, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delays.next(whole + whole / 5));
        if child.try_wait().expect("try_wait").is_none() {
            killed_running += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        for problem in inconsistencies(&repo, &trusted) {
            broken.push(format!("kill {round}: {problem}"));
        }
    }
    eprintln!(
        "seed {seed}: {kills} kills ({killed_running} while running, a publish takes {} ms), {} inconsistencies",
        whole.as_millis(),
        broken.len()
    );
    assert!(broken.is_empty(), "{broken:#?}");

    // The next publish deletes what the killed ones left.
    let (code, _, stderr) = run(&mut signed_publish(&keyring, &repo, &remove_v2));
    assert_eq!(code, 0, "{stderr}");
    let files = every_file(&repo);
    let temporary: Vec<&String> = files.iter().filter(|f| f.contains(".confpack")).collect();
    assert!(temporary.is_empty(), "left: {temporary:?}");
    let pooled: Vec<&String> = files.iter().filter(|f| f.starts_with("pool/")).collect();
    let packages = std::fs::read_to_string(repo.join("dists/master/main/binary-amd64/Packages"))
        .expect("Packages");
    for file in &pooled {
        assert!(
            packages.contains(&format!("Filename: {file}\n")),
            "{file} is in the pool but no index names it"
        );
    }
    assert_eq!(inconsistencies(&repo, &trusted), Vec::<String>::new());
}

/// A node (a `--root`) whose confpack apt source trusts `keyring`, and a
/// repository served on 127.0.0.1 that publishes its environment document.
struct Node {
    temp: tempfile::TempDir,
    keyring: Keyring,
    root: PathBuf,
    repo: PathBuf,
    server: crate::publish::Server,
}

/// The sample document, told apart by its site name.
fn labelled(label: &str) -> String {
    std::fs::read_to_string(crate::common::sample())
        .expect("sample-env.xml")
        .replace(
            r#"<question key="webshop/site.name">Example Shop</question>"#,
            &format!(r#"<question key="webshop/site.name">{label}</question>"#),
        )
}

impl Node {
    fn new() -> Option<Node> {
        let keyring = Keyring::new("publisher")?;
        let temp = tempfile::tempdir().expect("tempdir");
        let root = temp.path().join("root");
        let repo = temp.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir");
        let server = crate::publish::Server::start(&repo);
        let key = root.join("etc/apt/keyrings/confpack.asc");
        std::fs::create_dir_all(key.parent().expect("dir")).expect("mkdir");
        std::fs::copy(&keyring.public, &key).expect("key");
        let list = root.join("etc/apt/sources.list.d/confpack.list");
        std::fs::create_dir_all(list.parent().expect("dir")).expect("mkdir");
        std::fs::write(
            &list,
            format!(
                "deb [signed-by={}] {} master main\n",
                key.display(),
                server.url.trim_end_matches('/')
            ),
        )
        .expect("list");
        std::fs::write(temp.path().join("local.xml"), labelled("local copy")).expect("local");
        Some(Node {
            temp,
            keyring,
            root,
            repo,
            server,
        })
    }

    fn url(&self) -> String {
        format!("{}dists/master/documents/webshop.xml", self.server.url)
    }

    /// Publishes the document labelled `label`, signed by `keyring`.
    fn publish(&self, label: &str, keyring: Option<&Keyring>) {
        let file = self.temp.path().join(format!("{label}.xml"));
        std::fs::write(&file, labelled(label)).expect("document");
        let mut command = confpack();
        command
            .arg("publish")
            .arg("--repo")
            .arg(&self.repo)
            .args(["--environment", "master", "--architecture", "amd64"])
            .arg("--document")
            .arg(format!("webshop={}", file.display()));
        if let Some(keyring) = keyring {
            command
                .env("GNUPGHOME", &keyring.home)
                .args(["--sign-key", &keyring.fingerprint]);
        }
        let (code, _, stderr) = run(&mut command);
        assert_eq!(code, 0, "{stderr}");
    }

    /// `configure --dry-run` with the online `url`: (stdout, warnings).
    fn configure(&self, url: &str) -> (String, Vec<String>) {
        let (code, stdout, stderr) = run(crate::common::confpack(&self.root)
            .args(["configure", "--frontend", "noninteractive", "--dry-run"])
            .arg("--env-file")
            .arg(self.temp.path().join("local.xml"))
            .args(["--env-url", url, "--machine", "10.10.0.21"]));
        assert_eq!(code, 0, "{stderr}");
        let warnings = stderr
            .lines()
            .filter(|l| l.contains("warning"))
            .map(str::to_string)
            .collect();
        (stdout, warnings)
    }

    /// Configures and asserts that the document labelled `label` was used,
    /// with one warning containing `why` (none when `why` is empty).
    fn uses(&self, label: &str, why: &str) {
        let (stdout, warnings) = self.configure(&self.url());
        assert!(
            stdout.contains(&format!("\"{label}\"")),
            "{label} expected:\n{stdout}\n{warnings:?}"
        );
        if why.is_empty() {
            assert!(warnings.is_empty(), "{warnings:?}");
        } else {
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains(why), "{why}: {warnings:?}");
        }
    }
}

#[test]
fn a_published_document_that_verifies_configures_the_node() {
    let Some(node) = Node::new() else {
        return;
    };
    node.publish("online 1", Some(&node.keyring));
    node.uses("online 1", "");
}

#[test]
fn a_tampered_published_document_is_refused() {
    let Some(node) = Node::new() else {
        return;
    };
    node.publish("online 1", Some(&node.keyring));
    let served = node.repo.join("dists/master/documents/webshop.xml");
    let text = std::fs::read_to_string(&served).expect("served");
    std::fs::write(&served, text.replace("online 1", "attacker")).expect("tamper");
    node.uses("local copy", "tampered");
}

#[test]
fn a_document_signed_by_another_key_is_refused() {
    let Some(node) = Node::new() else {
        return;
    };
    let intruder = Keyring::new("intruder").expect("gpg");
    node.publish("online 1", Some(&intruder));
    node.uses("local copy", "does not verify");
}

#[test]
fn a_published_document_without_a_signature_is_refused() {
    let Some(node) = Node::new() else {
        return;
    };
    node.publish("online 1", None);
    node.uses("local copy", "no signature");
}

#[test]
fn a_replayed_older_signed_document_is_refused() {
    let Some(node) = Node::new() else {
        return;
    };
    node.publish("online 1", Some(&node.keyring));
    node.uses("online 1", "");
    let old = snapshot(&node.repo.join("dists/master"));
    node.publish("online 2", Some(&node.keyring));
    node.uses("online 2", "");
    // An attacker serves the older, validly signed Release and document.
    for (relative, bytes) in old {
        let path = node.repo.join("dists/master").join(relative);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(path, bytes).expect("replay");
    }
    node.uses("online 2", "replay");
}

#[test]
fn plain_http_without_a_signature_is_refused_unless_allowed() {
    let Some(node) = Node::new() else {
        return;
    };
    // Never contacted: refused before any request.
    let url = "http://192.0.2.1/webshop.xml";
    let (stdout, warnings) = node.configure(url);
    assert!(stdout.contains("\"local copy\""), "{stdout}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("plain http:// without a signature is refused"));
}
