//! `confpack publish` and `confpack upload`: .deb files → a signed apt
//! repository, incremental and atomic; copies to where nodes fetch it.
//!
//! The helpers here (a gpg keyring in a temp dir, a static HTTP server on
//! 127.0.0.1 only) are shared with `tests/runtime.rs`, where the real apt
//! fetches what is published.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::build::find;
use crate::common::{ok, run};

const BINARY: &str = env!("CARGO_BIN_EXE_confpack");

/// `confpack ARGS…` without a root.
pub(crate) fn confpack() -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_remove("DEBIAN_FRONTEND")
        .stdin(std::process::Stdio::null());
    command
}

/// A gpg home with one signing key without passphrase.
pub(crate) struct Keyring {
    _temp: tempfile::TempDir,
    pub(crate) home: PathBuf,
    pub(crate) fingerprint: String,
    /// The armored public key.
    pub(crate) public: PathBuf,
}

impl Keyring {
    /// `None` (with the reason printed) when gpg is missing.
    pub(crate) fn new(name: &str) -> Option<Keyring> {
        if Command::new("gpg").arg("--version").output().is_err() {
            eprintln!("skipped: gpg is not installed (apt-get install gnupg)");
            return None;
        }
        let temp = tempfile::tempdir().expect("tempdir");
        let home = temp.path().join("gnupg");
        std::fs::create_dir_all(&home).expect("mkdir");
        let gpg = |args: &[&str]| {
            let output = Command::new("gpg")
                .arg("--homedir")
                .arg(&home)
                .args(["--batch", "--no-tty", "--quiet"])
                .args(args)
                .output()
                .expect("gpg");
            assert!(
                output.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            output.stdout
        };
        gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            &format!("{name} <{name}@example.com>"),
            "ed25519",
            "sign",
            "never",
        ]);
        let listing = String::from_utf8(gpg(&["--with-colons", "--list-keys"])).expect("utf-8");
        let fingerprint = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("fingerprint")
            .to_string();
        let public = temp.path().join("public.asc");
        std::fs::write(&public, gpg(&["--armor", "--export", &fingerprint])).expect("export");
        Some(Keyring {
            _temp: temp,
            home,
            fingerprint,
            public,
        })
    }

    /// `confpack publish --repo REPO --environment ENV --sign-key KEY ARGS…`.
    pub(crate) fn publish(&self, repo: &Path, environment: &str, args: &[&Path]) -> String {
        let (code, stdout, stderr) = run(confpack()
            .env("GNUPGHOME", &self.home)
            .arg("publish")
            .arg("--repo")
            .arg(repo)
            .args([
                "--environment",
                environment,
                "--sign-key",
                &self.fingerprint,
            ])
            .args(args));
        assert_eq!(code, 0, "publish failed:\n{stderr}");
        stdout + &stderr
    }
}

/// A static file server for a directory, on 127.0.0.1 only, serving
/// keep-alive connections until dropped (or 15 minutes at most, so that
/// a slow suite on a loaded CI machine still finds it).
pub(crate) struct Server {
    pub(crate) url: String,
    stop: Arc<AtomicBool>,
    pub(crate) requests: Arc<AtomicUsize>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Server {
    pub(crate) fn start(dir: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!(
            "http://127.0.0.1:{}/",
            listener.local_addr().expect("address").port()
        );
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (dir, flag, count) = (dir.to_path_buf(), Arc::clone(&stop), Arc::clone(&requests));
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(900);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let dir = dir.clone();
                        let count = Arc::clone(&count);
                        std::thread::spawn(move || serve(stream, &dir, &count));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            url,
            stop,
            requests,
        }
    }
}

fn serve(stream: TcpStream, dir: &Path, count: &AtomicUsize) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
        }
        count.fetch_add(1, Ordering::Relaxed);
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or("/").split('?').next().unwrap_or("/");
        let relative = percent_decode(target.trim_start_matches('/'));
        let path = dir.join(&relative);
        let body = if relative.split('/').any(|p| p == "..") {
            None
        } else {
            std::fs::read(&path).ok().filter(|_| path.is_file())
        };
        let head = match &body {
            Some(body) => format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                body.len()
            ),
            None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
        };
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        if method != "HEAD"
            && let Some(body) = body
            && writer.write_all(&body).is_err()
        {
            return;
        }
    }
}

/// `%2b` → `+` (apt escapes `+` and `:` in pool paths).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Packages built from a configuration repository without git.
pub(crate) fn plain_debs(dir: &Path, version: &str, names: &[&str]) -> Vec<PathBuf> {
    let repo = dir.join(format!("src-{version}"));
    for name in names {
        let control = repo.join(format!("packages/{name}/control"));
        std::fs::create_dir_all(&control).expect("mkdir");
        std::fs::write(
            control.join("control.yml"),
            format!("version: \"{version}\"\nmaintainer: Test <test@example.com>\ndescription: |\n  {name}\n  for the publish tests.\n"),
        )
        .expect("control.yml");
        std::fs::create_dir_all(repo.join(format!("packages/{name}/etc"))).expect("mkdir");
        std::fs::write(
            repo.join(format!("packages/{name}/etc/{name}.conf")),
            version,
        )
        .expect("file");
    }
    let out = dir.join(format!("debs-{version}"));
    let output = ok(Command::new(BINARY)
        .arg("build")
        .arg(&repo)
        .arg("--out")
        .arg(&out)
        .args(["--no-dependency-check", "--version-suffix", "t1"])
        .env("SOURCE_DATE_EPOCH", "1767323045"));
    output.lines().map(PathBuf::from).collect()
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("gunzip");
    text
}

/// `SHA256` lines of a Release: path → (sum, size).
pub(crate) fn release_sums(release: &str) -> BTreeMap<String, (String, u64)> {
    release
        .lines()
        .skip_while(|l| !l.starts_with("SHA256:"))
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .map(|l| {
            let mut words = l.split_whitespace();
            let sum = words.next().expect("sum").to_string();
            let size = words.next().expect("size").parse().expect("size");
            (words.next().expect("path").to_string(), (sum, size))
        })
        .collect()
}

pub(crate) fn publish_unsigned(
    repo: &Path,
    environment: &str,
    args: &[&str],
) -> (i32, String, String) {
    run(confpack()
        .arg("publish")
        .arg("--repo")
        .arg(repo)
        .args(["--environment", environment, "--architecture", "amd64"])
        .args(args))
}

#[test]
fn publishing_writes_a_standard_repository_with_sizes_and_sums() {
    let temp = tempfile::tempdir().expect("tempdir");
    let debs = plain_debs(temp.path(), "1.0", &["alpha", "libbeta"]);
    let repo = temp.path().join("repo");
    let out_dir = temp.path().join("debs-1.0");
    let (code, _, stderr) = publish_unsigned(&repo, "master", &[out_dir.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("not signed"), "{stderr}");

    for deb in &debs {
        let name = deb.file_name().and_then(|n| n.to_str()).expect("name");
        let package = name.split('_').next().expect("package");
        let prefix = if package.starts_with("lib") {
            &package[..4]
        } else {
            &package[..1]
        };
        let pooled = repo.join(format!("pool/main/{prefix}/{package}/{name}"));
        assert_eq!(
            std::fs::read(&pooled).expect("pooled"),
            std::fs::read(deb).expect("deb")
        );
    }
    let dist = repo.join("dists/master");
    let release = std::fs::read_to_string(dist.join("Release")).expect("Release");
    for field in [
        "Origin: confpack",
        "Suite: master",
        "Codename: master",
        "Architectures: amd64",
        "Components: main",
        "Acquire-By-Hash: yes",
        "Date: ",
    ] {
        assert!(release.contains(field), "{field} missing:\n{release}");
    }
    let sums = release_sums(&release);
    assert_eq!(
        sums.keys().collect::<Vec<_>>(),
        [
            "main/binary-amd64/Packages",
            "main/binary-amd64/Packages.gz"
        ]
    );
    for (path, (sum, size)) in &sums {
        let bytes = std::fs::read(dist.join(path)).expect("index");
        assert_eq!(&sha256(&bytes), sum, "{path}");
        assert_eq!(bytes.len() as u64, *size, "{path}");
        let by_hash = dist.join("main/binary-amd64/by-hash/SHA256").join(sum);
        assert_eq!(std::fs::read(by_hash).expect("by-hash"), bytes);
    }
    let packages =
        std::fs::read_to_string(dist.join("main/binary-amd64/Packages")).expect("Packages");
    let gz = std::fs::read(dist.join("main/binary-amd64/Packages.gz")).expect("gz");
    assert_eq!(gunzip(&gz), packages);
    let alpha = find(&debs, "alpha");
    let bytes = std::fs::read(alpha).expect("deb");
    for needle in [
        "Package: alpha\n".to_string(),
        "Version: 1.0+t1\n".into(),
        "Filename: pool/main/a/alpha/alpha_1.0+t1_all.deb\n".into(),
        format!("Size: {}\n", bytes.len()),
        format!("SHA256: {}\n", sha256(&bytes)),
        "Package: libbeta\n".into(),
    ] {
        assert!(packages.contains(&needle), "{needle} missing:\n{packages}");
    }
}

#[test]
fn publishing_is_incremental_keeps_older_versions_and_prunes_on_request() {
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    let v1 = plain_debs(temp.path(), "1.0", &["alpha"]);
    let v2 = plain_debs(temp.path(), "2.0", &["alpha"]);
    let index = || {
        std::fs::read_to_string(repo.join("dists/master/main/binary-amd64/Packages"))
            .expect("Packages")
    };
    let arg = |p: &PathBuf| p.to_str().expect("utf-8").to_string();
    assert_eq!(publish_unsigned(&repo, "master", &[&arg(&v1[0])]).0, 0);
    let first = std::fs::read_to_string(repo.join("dists/master/Release")).expect("Release");
    assert_eq!(publish_unsigned(&repo, "master", &[&arg(&v2[0])]).0, 0);
    assert!(index().contains("Version: 1.0+t1") && index().contains("Version: 2.0+t1"));
    // The indexes the previous Release named are still there by hash.
    for (path, (sum, _)) in release_sums(&first) {
        let dir = Path::new(&path).parent().expect("dir");
        assert!(
            repo.join("dists/master")
                .join(dir)
                .join("by-hash/SHA256")
                .join(&sum)
                .exists(),
            "{path} of the previous Release is gone"
        );
    }
    // Publishing the same file again changes nothing.
    let before = index();
    let (code, _, stderr) = publish_unsigned(&repo, "master", &[&arg(&v2[0])]);
    assert_eq!(code, 0);
    assert!(stderr.contains("0 added, 1 already published"), "{stderr}");
    assert_eq!(index(), before);
    // Another environment shares the pool.
    assert_eq!(publish_unsigned(&repo, "production", &[&arg(&v1[0])]).0, 0);
    // --keep 1 drops 1.0 from master; production still names its pool file.
    let (code, _, stderr) = publish_unsigned(&repo, "master", &["--keep", "1"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!index().contains("Version: 1.0+t1"));
    assert!(repo.join("pool/main/a/alpha/alpha_1.0+t1_all.deb").exists());
    // Once no environment names it, the pool file goes.
    assert_eq!(
        publish_unsigned(&repo, "production", &["--remove", "alpha"]).0,
        0
    );
    assert!(!repo.join("pool/main/a/alpha/alpha_1.0+t1_all.deb").exists());
    assert!(repo.join("pool/main/a/alpha/alpha_2.0+t1_all.deb").exists());
}

#[test]
fn a_published_version_never_changes() {
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    let first = plain_debs(temp.path(), "1.0", &["alpha"]);
    let arg = |p: &PathBuf| p.to_str().expect("utf-8").to_string();
    assert_eq!(publish_unsigned(&repo, "master", &[&arg(&first[0])]).0, 0);
    let pooled = repo.join("pool/main/a/alpha/alpha_1.0+t1_all.deb");
    let published = std::fs::read(&pooled).expect("pool");
    // The same version rebuilt with other content.
    let other = temp.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    let rebuilt = {
        let debs = plain_debs(&other, "1.0", &["alpha"]);
        let mut bytes = std::fs::read(&debs[0]).expect("read");
        bytes.extend_from_slice(b"\n");
        std::fs::write(&debs[0], &bytes).expect("write");
        debs[0].clone()
    };
    let (code, _, stderr) = publish_unsigned(&repo, "master", &[&arg(&rebuilt)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("already published with other bytes"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&pooled).expect("pool"), published);
}

#[test]
fn a_second_publisher_waits_then_gives_up_with_exit_4() {
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    // The lock is the directory's, whatever path names it.
    let link = temp.path().join("link");
    std::os::unix::fs::symlink(&repo, &link).expect("symlink");
    let holder = std::fs::File::open(&link).expect("open the directory");
    holder.lock().expect("lock");
    let started = std::time::Instant::now();
    let (code, _, stderr) = run(confpack()
        .args(["--lock-timeout", "0.5", "publish", "--repo"])
        .arg(&repo)
        .args(["--environment", "master"]));
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("another confpack publish"), "{stderr}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(500));
    drop(holder);
    let (code, _, stderr) = run(confpack()
        .args(["--lock-timeout", "0.5", "publish", "--repo"])
        .arg(&repo)
        .args(["--environment", "master"]));
    assert_eq!(code, 0, "released, the repository is published: {stderr}");
}

pub(crate) fn arg(path: &Path) -> String {
    path.to_str().expect("utf-8").to_string()
}

/// Every file under `dir`, relative, hidden ones included.
pub(crate) fn every_file(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir)
                        .expect("inside")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out
}

#[test]
fn publishing_leaves_no_lock_file_in_the_served_tree() {
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    let debs = plain_debs(temp.path(), "1.0", &["alpha"]);
    // What an older confpack left behind: waited for, then removed.
    std::fs::create_dir_all(&repo).expect("mkdir");
    std::fs::write(repo.join(".confpack-publish.lock"), "").expect("old lock");
    let (code, _, stderr) = publish_unsigned(&repo, "master", &[&arg(&debs[0])]);
    assert_eq!(code, 0, "{stderr}");
    let hidden: Vec<String> = every_file(&repo)
        .into_iter()
        .filter(|f| f.starts_with('.') || f.contains("/.") || f.contains("lock"))
        .collect();
    assert!(hidden.is_empty(), "served: {hidden:?}");
    assert!(
        std::fs::read_dir(temp.path()).expect("read_dir").all(|e| !e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .contains("lock")),
        "nothing beside the repository either"
    );
}

#[test]
fn upload_never_copies_a_lock_or_temporary_file() {
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    let debs = plain_debs(temp.path(), "1.0", &["alpha"]);
    let (code, _, stderr) = publish_unsigned(&repo, "master", &[&arg(&debs[0])]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(repo.join(".confpack-publish.lock"), "").expect("old lock");
    std::fs::write(repo.join("dists/master/.confpack-Release.tmp"), "half").expect("temp");
    let copy = temp.path().join("copy");
    ok(confpack().arg("upload").arg("--repo").arg(&repo).arg(&copy));
    let copied = every_file(&copy);
    assert!(copied.contains("dists/master/Release"), "{copied:?}");
    assert!(
        copied.iter().all(|f| !f.contains(".confpack")),
        "{copied:?}"
    );
    if Command::new("rsync").arg("--version").output().is_ok() {
        let synced = temp.path().join("synced");
        ok(confpack()
            .arg("upload")
            .arg("--repo")
            .arg(&repo)
            .args(["--via", "rsync"])
            .arg(&synced));
        assert_eq!(every_file(&synced), copied);
    } else {
        eprintln!("skipped the rsync half: rsync is not installed");
    }
}

#[test]
fn a_signed_release_verifies_with_gpgv_and_upload_copies_it_whole() {
    let Some(keyring) = Keyring::new("publisher") else {
        return;
    };
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path().join("repo");
    plain_debs(temp.path(), "1.0", &["alpha"]);
    let output = keyring.publish(&repo, "master", &[&temp.path().join("debs-1.0")]);
    assert!(output.contains("signed"), "{output}");
    let dist = repo.join("dists/master");
    let keyring_file = temp.path().join("trusted.gpg");
    let dearmored = Command::new("gpg")
        .args(["--batch", "--yes", "--dearmor", "--output"])
        .arg(&keyring_file)
        .arg(&keyring.public)
        .status()
        .expect("gpg --dearmor");
    assert!(dearmored.success());
    let gpgv = |args: &[&Path]| {
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&keyring_file)
            .args(args)
            .output()
            .expect("gpgv")
            .status
            .success()
    };
    assert!(gpgv(&[&dist.join("InRelease")]), "InRelease verifies");
    assert!(gpgv(&[&dist.join("Release.gpg"), &dist.join("Release")]));
    let inline = std::fs::read_to_string(dist.join("InRelease")).expect("InRelease");
    let release = std::fs::read_to_string(dist.join("Release")).expect("Release");
    assert!(
        inline.contains(release.trim_end()),
        "InRelease signs the same Release"
    );

    // upload: a copy into a directory, and rsync (when installed) agree.
    let copy = temp.path().join("copy");
    ok(confpack().arg("upload").arg("--repo").arg(&repo).arg(&copy));
    let listing = |dir: &Path| -> BTreeMap<String, String> {
        every_file(dir)
            .into_iter()
            .map(|relative| {
                let sum = sha256(&std::fs::read(dir.join(&relative)).expect("read"));
                (relative, sum)
            })
            .collect()
    };
    assert_eq!(listing(&copy), listing(&repo));
    if Command::new("rsync").arg("--version").output().is_ok() {
        let synced = temp.path().join("synced");
        ok(confpack()
            .arg("upload")
            .arg("--repo")
            .arg(&repo)
            .args(["--via", "rsync", "--delete"])
            .arg(&synced));
        assert_eq!(listing(&synced), listing(&repo));
    } else {
        eprintln!("skipped the rsync half: rsync is not installed");
    }
}
