//! The node runtime with the real apt and dpkg, sandboxed: a repository
//! published by `confpack publish` is served over HTTP on 127.0.0.1, and
//! `confpack --root SANDBOX set-environment / install / update / upgrade`
//! run apt-get with its own configuration (`APT_CONFIG`, `Dir=SANDBOX`)
//! and dpkg on the sandbox root, whose maintainer scripts call the
//! confpack under test. Nothing on the host system is touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::build::dpkg::{Sandbox, runtime};
use crate::build::{Repo, build_ok};
use crate::common::run;
use crate::publish::{Keyring, Server};

const BINARY: &str = env!("CARGO_BIN_EXE_confpack");

/// Whether apt, dpkg and root are there; says why not.
fn can_run_apt() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let tools = ["apt-get", "dpkg", "gpg"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !root || !tools {
        eprintln!("skipped: running apt and dpkg in a sandbox needs root, apt-get, dpkg and gpg");
    }
    root && tools
}

/// A publisher's key when apt, dpkg, gpg and root are there (else the
/// reason was printed).
pub(crate) fn apt_and_keyring() -> Option<Keyring> {
    if !can_run_apt() {
        return None;
    }
    Keyring::new("publisher")
}

/// A system root with an empty dpkg database.
pub(crate) struct Node {
    _sandbox: Sandbox,
    pub(crate) root: PathBuf,
}

impl Node {
    pub(crate) fn new() -> Node {
        let sandbox = Sandbox::new();
        let root = sandbox.root.clone();
        Node {
            _sandbox: sandbox,
            root,
        }
    }

    fn path_env() -> String {
        format!(
            "{}:{}",
            Path::new(BINARY).parent().expect("bin dir").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// `confpack --root ROOT ARGS…`, with this confpack on PATH for the
    /// maintainer scripts.
    pub(crate) fn confpack(&self, args: &[&str]) -> (i32, String, String) {
        run(Command::new(BINARY)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .env("PATH", Self::path_env())
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env_remove("DEBIAN_PRIORITY")
            .env_remove("APT_CONFIG")
            .stdin(std::process::Stdio::null()))
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.confpack(args);
        assert_eq!(code, 0, "confpack {args:?} failed:\n{stdout}\n{stderr}");
        format!("{stdout}{stderr}")
    }

    /// The seed's first bootstrap step: `dpkg -i confpack-runtime.deb`.
    fn dpkg_install(&self, deb: &Path) {
        let (code, stdout, stderr) = run(Command::new("dpkg")
            .arg(format!("--root={}", self.root.display()))
            .arg("--force-script-chrootless")
            .arg("--install")
            .arg(deb)
            .env("PATH", Self::path_env())
            .stdin(std::process::Stdio::null()));
        assert_eq!(code, 0, "dpkg -i failed:\n{stdout}\n{stderr}");
    }

    pub(crate) fn file(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn apt(&self) -> confpack::runtime::apt::System {
        confpack::runtime::apt::System::new(
            &self.root,
            Duration::from_secs(5),
            confpack::runtime::apt::Attach::Unattended,
        )
        .expect("apt")
    }

    fn installed(&self) -> std::collections::BTreeMap<String, String> {
        confpack::runtime::installed(&mut self.apt()).expect("dpkg-query")
    }

    fn version(&self, package: &str) -> String {
        self.installed().get(package).cloned().unwrap_or_default()
    }

    /// dpkg's status line of a package (`install ok installed`, …), empty
    /// when dpkg does not know it at all.
    fn dpkg_status(&self, package: &str) -> String {
        let output = Command::new("dpkg-query")
            .arg(format!("--root={}", self.root.display()))
            .args(["-W", "-f=${Status}", package])
            .output()
            .expect("dpkg-query");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn automatic(&self) -> Vec<String> {
        use confpack::runtime::apt::{PackageManager, Purpose};
        let text = self
            .apt()
            .run(
                Purpose::Query,
                "apt-mark",
                &["showauto".to_string()],
                &mut confpack::RecordingListener::default(),
            )
            .expect("apt-mark");
        text.lines().map(str::to_string).collect()
    }

    fn environment(&self) -> Option<String> {
        let paths = confpack::configure::Paths::new(&self.root, None);
        let store = paths.open_store(Duration::from_secs(5)).expect("store");
        store.meta("environment").expect("meta")
    }
}

pub(crate) const ENVIRONMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="alpha/greeting" type="string" priority="high" source="configured">
      <description>Greeting</description>
      <default>hello</default>
    </template>
  </templates>
  <environment context="master">
    <question key="alpha/greeting">hello from master</question>
  </environment>
  <environment context="production">
    <question key="alpha/greeting">hello from production</question>
  </environment>
</environments>
"#;

pub(crate) fn control(name: &str) -> String {
    format!(
        "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  {name}\n  for the runtime tests.\n"
    )
}

pub(crate) fn role(version: &str, depends: &str) -> String {
    format!(
        "version: \"{version}\"\nmaintainer: Test <test@example.com>\ndescription: the node\ndepends: [{depends}]\n"
    )
}

pub(crate) fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8")
}

/// What [`bootstrap`] published and where a node finds it.
pub(crate) struct Published {
    /// The packages built from the repository's commit.
    debs: PathBuf,
    /// The apt repository (served by `server`).
    pub(crate) repository: PathBuf,
    pub(crate) server: Server,
    /// What set-environment printed.
    output: String,
}

/// Builds `repo` (into `../debs`) and the runtime, publishes both to the
/// environment `master`, serves them on 127.0.0.1, and bootstraps `node`
/// the seed's way: `dpkg -i` of the runtime, then `set-environment`.
pub(crate) fn bootstrap(repo: &Repo, keyring: &Keyring, node: &Node) -> Published {
    let debs = repo.path("../debs");
    build_ok(&repo.path("."), &debs, &["--no-dependency-check"]);
    let runtime = runtime(repo, &repo.path("../runtime"));
    let repository = repo.path("../published");
    let mut output = keyring.publish(&repository, "master", &[&debs, &runtime]);
    let server = Server::start(&repository);
    node.dpkg_install(&runtime);
    output.push_str(&node.ok(&[
        "set-environment",
        "master",
        "--repo-url",
        &server.url,
        "--key",
        arg(&keyring.public),
    ]));
    Published {
        debs,
        repository,
        server,
        output,
    }
}

#[test]
fn a_node_bootstraps_converges_rolls_back_and_switches_environment() {
    let Some(keyring) = apt_and_keyring() else {
        return;
    };
    // Role v1: alpha (configured) and beta (a plain file).
    let mut repo = Repo::new();
    write_alpha_beta(&mut repo);
    repo.commit("role v1");
    let node = Node::new();
    // The seed's bootstrap.
    let Published {
        debs: v1,
        repository: published,
        server,
        ..
    } = bootstrap(&repo, &keyring, &node);
    let list = node.read("/etc/apt/sources.list.d/confpack.list");
    assert!(
        list.contains(&format!(
            "signed-by={}",
            node.file("/etc/apt/keyrings/confpack.asc").display()
        )) && list.contains(&format!("{} master main", server.url)),
        "{list}"
    );
    assert_eq!(node.environment().as_deref(), Some("master"));
    let output = node.ok(&["install", "node"]);
    assert!(output.contains("installed"), "{output}");
    assert!(
        node.version("node").starts_with("1+git"),
        "{:?}",
        node.installed()
    );
    assert_eq!(
        node.read("/etc/alpha.conf"),
        "greeting = hello from master\n"
    );
    assert_eq!(node.read("/etc/beta.conf"), "beta\n");
    let automatic = node.automatic();
    assert!(
        automatic.contains(&"alpha".to_string()) && automatic.contains(&"beta".to_string()),
        "dependencies are automatic: {automatic:?}"
    );
    assert!(
        !automatic.contains(&"node".to_string()),
        "the role is manual"
    );
    let (code, _, _) = node.confpack(&["upgrade"]);
    assert_eq!(code, 0, "nothing to upgrade is a success");

    // Role v2 drops beta: upgrade removes it and its file.
    repo.write("roles/node.yml", &role("2", "alpha"));
    repo.commit("role v2");
    let v2 = repo.path("../v2");
    build_ok(&repo.path("."), &v2, &["--no-dependency-check"]);
    keyring.publish(&published, "master", &[&v2]);
    node.ok(&["update"]);
    let output = node.ok(&["upgrade"]);
    assert!(output.contains("removed beta"), "{output}");
    assert!(node.version("node").starts_with("2+git"));
    assert_eq!(node.version("beta"), "", "autoremove took beta");
    assert_eq!(
        node.dpkg_status("beta"),
        "",
        "beta is purged, not left in `rc` state"
    );
    assert!(!node.file("/etc/beta.conf").exists());
    assert_eq!(
        node.read("/etc/alpha.conf"),
        "greeting = hello from master\n"
    );

    // Rollback: role version 1 brings beta and its file back.
    let output = node.ok(&["upgrade", "--version", "1"]);
    assert!(output.contains("downgraded node"), "{output}");
    assert!(node.version("node").starts_with("1+git"));
    assert_eq!(node.read("/etc/beta.conf"), "beta\n");
    assert!(node.automatic().contains(&"beta".to_string()));
    let pin = node.read(confpack::runtime::ROLLBACK_PIN);
    assert!(
        pin.contains("Package: node\nPin: version 1+git") && pin.contains("Pin-Priority: 1001"),
        "rolled back, the node is pinned: {pin}"
    );
    // Roll forward by commit id, then a plain upgrade keeps the newest.
    let v2_id = node_version_id(&v2);
    node.ok(&["upgrade", "--version", &v2_id]);
    assert!(node.version("node").starts_with("2+git"));
    assert!(!node.file("/etc/beta.conf").exists());

    // Switch to production, which publishes role v1 only: the node
    // follows it down and alpha is configured for production.
    keyring.publish(&published, "production", &[&v1]);
    node.ok(&["set-environment", "production"]);
    node.ok(&["update"]);
    let output = node.ok(&["upgrade"]);
    assert!(
        !node.file(confpack::runtime::ROLLBACK_PIN).exists(),
        "a plain upgrade follows the environment again"
    );
    assert!(output.contains("reconfigured alpha"), "{output}");
    assert!(node.version("node").starts_with("1+git"));
    assert_eq!(node.read("/etc/beta.conf"), "beta\n");
    assert_eq!(
        node.read("/etc/alpha.conf"),
        "greeting = hello from production\n"
    );

    // A package the environment does not have: apt's failure, exit 7.
    let (code, _, stderr) = node.confpack(&["install", "ghost"]);
    assert_eq!(code, 7, "{stderr}");
    assert!(
        stderr.contains("apt-get")
            && stderr.contains("install -y ghost")
            && stderr.contains("Unable to locate package ghost"),
        "{stderr}"
    );
    assert!(server.requests.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

/// The commit id in the role's version of a build directory.
fn node_version_id(debs: &Path) -> String {
    let name = std::fs::read_dir(debs)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("node_"))
        .expect("node deb");
    name.split('_')
        .nth(1)
        .and_then(|v| v.rsplit('.').next())
        .expect("id")
        .to_string()
}

#[test]
fn a_tampered_index_or_a_foreign_signature_is_refused() {
    if !can_run_apt() {
        return;
    }
    let (Some(keyring), Some(stranger)) = (Keyring::new("publisher"), Keyring::new("stranger"))
    else {
        return;
    };
    let mut repo = Repo::new();
    repo.write("packages/beta/control/control.yml", &control("beta"))
        .write("packages/beta/etc/beta.conf", "beta\n");
    repo.commit("beta");
    let debs = repo.path("../debs");
    build_ok(&repo.path("."), &debs, &["--no-dependency-check"]);
    let published = repo.path("../published");
    keyring.publish(&published, "master", &[&debs]);
    let server = Server::start(&published);
    let node = Node::new();
    node.ok(&[
        "set-environment",
        "master",
        "--repo-url",
        &server.url,
        "--key",
        arg(&keyring.public),
    ]);
    node.ok(&["update"]);

    // Every copy of the index altered (by name and by hash).
    let index_dir = published.join("dists/master/main/binary-amd64");
    let packages = std::fs::read_to_string(index_dir.join("Packages")).expect("Packages");
    let tampered = packages.replace("Package: beta", "Package: beta\nDepends: evil");
    let gz = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(tampered.as_bytes()).expect("gzip");
        encoder.finish().expect("gzip")
    };
    std::fs::write(index_dir.join("Packages"), &tampered).expect("write");
    std::fs::write(index_dir.join("Packages.gz"), &gz).expect("write");
    for entry in std::fs::read_dir(index_dir.join("by-hash/SHA256")).expect("by-hash") {
        let path = entry.expect("entry").path();
        let compressed = std::fs::read(&path)
            .expect("read")
            .starts_with(&[0x1f, 0x8b]);
        std::fs::write(
            &path,
            if compressed {
                gz.clone()
            } else {
                tampered.clone().into_bytes()
            },
        )
        .expect("write");
    }
    // A fresh node must not accept it.
    let fresh = Node::new();
    fresh.ok(&[
        "set-environment",
        "master",
        "--repo-url",
        &server.url,
        "--key",
        arg(&keyring.public),
    ]);
    let (code, _, stderr) = fresh.confpack(&["update"]);
    assert_eq!(code, 8, "{stderr}");
    assert!(
        stderr.contains("apt-get update")
            && (stderr.contains("Hash Sum mismatch") || stderr.contains("unexpected size")),
        "{stderr}"
    );

    // Signed by another key than the node trusts.
    let other = repo.path("../other");
    stranger.publish(&other, "master", &[&debs]);
    let foreign = Server::start(&other);
    let (code, _, stderr) =
        node.confpack(&["set-environment", "master", "--repo-url", &foreign.url]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = node.confpack(&["update"]);
    assert_eq!(code, 8, "{stderr}");
    assert!(
        stderr.contains("NO_PUBKEY") || stderr.contains("not signed"),
        "{stderr}"
    );
}

/// Every byte of a .deb with its members decompressed.
fn deb_text(deb: &Path) -> Vec<u8> {
    use std::io::Read;
    let bytes = std::fs::read(deb).expect("deb");
    let mut all = bytes.clone();
    let mut archive = ar::Archive::new(bytes.as_slice());
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.expect("member");
        let mut member = Vec::new();
        entry.read_to_end(&mut member).expect("read");
        if String::from_utf8_lossy(entry.header().identifier()).ends_with(".gz") {
            flate2::read::GzDecoder::new(member.as_slice())
                .read_to_end(&mut all)
                .expect("gunzip");
        }
    }
    all
}

/// Files under `dir` that anyone may read: o+r, in directories o+x.
fn world_readable(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read_dir") {
            let path = entry.expect("entry").path();
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let mode = metadata.permissions().mode();
            if metadata.is_dir() && mode & 0o001 != 0 {
                pending.push(path);
            } else if metadata.is_file() && mode & 0o004 != 0 {
                out.push(path);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn a_secret_round_trips_to_a_0600_file_and_appears_nowhere_else() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let Some(keyring) = apt_and_keyring() else {
        return;
    };
    const PASSWORD: &str = "pw-Zq8 'x' $(id)";
    const TOKEN: &str = "token-7f3a9c1e5b";
    const CERT: &str = "cert-0d4e8a2b6c";
    let mut log = String::new();
    let node = Node::new();
    let public_key = node.ok(&["keygen"]);
    let public_key = public_key.lines().next().expect("public key").to_string();
    assert!(public_key.starts_with("age1"), "{public_key}");
    assert_eq!(
        std::fs::metadata(node.file("/etc/confpack/key"))
            .expect("key")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let mut repo = Repo::new();
    repo.write("recipients", &format!("# the nodes\n{public_key}\n"))
        .write("confpack.yml", "recipients: recipients\n");
    let encrypt = |secret: &str, output: Option<&Path>| -> String {
        let mut command = Command::new(BINARY);
        command
            .arg("encrypt")
            .arg("--recipients")
            .arg(repo.path("recipients"));
        if let Some(output) = output {
            command.arg("--output").arg(output);
        }
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("encrypt");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(secret.as_bytes())
            .expect("write");
        let output = child.wait_with_output().expect("wait");
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let value = encrypt(PASSWORD, None);
    assert!(value.starts_with("age:"), "{value}");
    std::fs::create_dir_all(repo.path("packages/vault/secrets/etc/vault")).expect("mkdir");
    encrypt(
        CERT,
        Some(&repo.path("packages/vault/secrets/etc/vault/cert.pem.age")),
    );
    let document = |value: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="vault/db.password" type="password" priority="high" source="configured">
      <description>Database password</description>
    </template>
  </templates>
  <environment context="master">
    <question key="vault/db.password">{value}</question>
  </environment>
</environments>
"#
        )
    };
    repo.write("packages/vault/control/control.yml", &control("vault"))
        .write(
            "packages/vault/control/environment.xml",
            &document(PASSWORD),
        )
        .write(
            "packages/vault/etc/vault/db.conf.j2",
            "password={{ answers[\"vault/db.password\"] }}\n",
        )
        .write("packages/vault/secrets/etc/vault/token", TOKEN);
    repo.commit("vault with a clear password");
    // A password in clear is refused by the build.
    let (code, _, stderr) = run(Command::new(BINARY)
        .arg("build")
        .arg(repo.path("."))
        .arg("--out")
        .arg(repo.path("../refused"))
        .arg("--no-dependency-check"));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("environment.xml:9: vault/db.password")
            && stderr.contains("confpack encrypt"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD));

    repo.write("packages/vault/control/environment.xml", &document(&value));
    repo.commit("vault");
    let bootstrapped = bootstrap(&repo, &keyring, &node);
    log.push_str(&bootstrapped.output);
    let debs: Vec<PathBuf> = std::fs::read_dir(&bootstrapped.debs)
        .expect("debs")
        .map(|e| e.expect("entry").path())
        .collect();
    let published = bootstrapped.repository.clone();
    log.push_str(&node.ok(&["install", "vault"]));
    log.push_str(&node.ok(&["upgrade"]));

    for (path, content) in [
        ("/etc/vault/token", TOKEN.to_string()),
        ("/etc/vault/cert.pem", CERT.to_string()),
        ("/etc/vault/db.conf", format!("password={PASSWORD}\n")),
    ] {
        assert_eq!(node.read(path), content, "{path}");
        let mode = std::fs::metadata(node.file(path))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{path}");
    }
    log.push_str(&node.ok(&["answers"]));
    log.push_str(&node.ok(&["configure", "--package", "vault", "--dry-run"]));

    let secrets = [PASSWORD, TOKEN, CERT];
    for deb in &debs {
        let text = deb_text(deb);
        for secret in secrets {
            assert!(!contains(&text, secret), "{secret} in {}", deb.display());
        }
    }
    let mut repository_files = world_readable(&published);
    repository_files.retain(|p| p.is_file());
    assert!(repository_files.len() > 5);
    for file in repository_files
        .iter()
        .chain(world_readable(&node.root).iter())
    {
        let mut bytes = std::fs::read(file).expect("read");
        if file.extension().is_some_and(|e| e == "gz") {
            bytes = {
                use std::io::Read;
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(bytes.as_slice())
                    .read_to_end(&mut out)
                    .expect("gunzip");
                out
            };
        }
        if file.extension().is_some_and(|e| e == "deb") {
            bytes = deb_text(file);
        }
        for secret in secrets {
            assert!(!contains(&bytes, secret), "{secret} in {}", file.display());
        }
    }
    // The logs, whoever may read them.
    let logs: Vec<PathBuf> = ["var/log/apt/term.log", "var/log/apt/history.log"]
        .iter()
        .map(|l| node.root.join(l))
        .collect();
    for log_file in &logs {
        let bytes =
            std::fs::read(log_file).unwrap_or_else(|e| panic!("{}: {e}", log_file.display()));
        assert!(
            contains(&bytes, "vault"),
            "{} logs the install",
            log_file.display()
        );
        for secret in secrets {
            assert!(
                !contains(&bytes, secret),
                "{secret} in {}",
                log_file.display()
            );
        }
    }
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} in the output:\n{log}");
    }
    assert!(
        log.contains("vault/db.password") && log.contains("********"),
        "{log}"
    );

    // Removing the package removes the decrypted files.
    log.push_str(&node.ok(&["--quiet", "upgrade"]));
    let (code, _, stderr) = run(Command::new("dpkg")
        .arg(format!("--root={}", node.root.display()))
        .args(["--force-script-chrootless", "--remove", "vault"])
        .env("PATH", Node::path_env()));
    assert_eq!(code, 0, "{stderr}");
    assert!(!node.file("/etc/vault/token").exists());
    assert!(!node.file("/etc/vault/cert.pem").exists());
}

/// A postinst that blocks while `/tmp/slow.block` exists under the root,
/// after writing the pid of its `sleep` where the test finds it.
const BLOCKING_POSTINST: &str = r#"if [ -e "$DPKG_ROOT/tmp/slow.block" ]; then
    sh -c 'echo $$ > "$DPKG_ROOT/tmp/slow.pid"; exec sleep 120'
fi
"#;

fn is_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string));
        !matches!(state.as_deref(), Some("Z") | None)
    })
}

#[test]
fn sigterm_ends_the_whole_apt_run_and_the_next_run_finishes_it() {
    use std::time::Instant;
    let Some(keyring) = apt_and_keyring() else {
        return;
    };
    let mut repo = Repo::new();
    repo.write("packages/slow/control/control.yml", &control("slow"))
        .write("packages/slow/control/postinst", BLOCKING_POSTINST)
        .write("packages/slow/etc/slow.conf", "slow\n");
    repo.commit("slow");
    let node = Node::new();
    let _published = bootstrap(&repo, &keyring, &node);
    std::fs::create_dir_all(node.file("/tmp")).expect("tmp");
    std::fs::write(node.file("/tmp/slow.block"), "").expect("block");

    let mut confpack = Command::new(BINARY)
        .arg("--root")
        .arg(&node.root)
        .args(["install", "slow"])
        .env("PATH", Node::path_env())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env_remove("APT_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("confpack install");
    let pid_file = node.file("/tmp/slow.pid");
    let deadline = Instant::now() + Duration::from_secs(60);
    let sleeper: i32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the postinst never started: {:?}",
            confpack.try_wait()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let signalled = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &confpack.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let output = {
        let deadline = Instant::now() + Duration::from_secs(20);
        while confpack.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "confpack did not end on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        confpack.wait_with_output().expect("output")
    };
    let elapsed = signalled.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM")
            && stderr.contains("run the same confpack command again"),
        "{stderr}"
    );
    assert!(
        !is_running(sleeper),
        "the maintainer script's process was left running"
    );
    assert!(elapsed < Duration::from_secs(5), "ended in {elapsed:?}");
    eprintln!("SIGTERM ended the apt run in {elapsed:?}");

    // The next run finishes what dpkg left, with no lock in the way.
    std::fs::remove_file(node.file("/tmp/slow.block")).expect("unblock");
    let output = node.ok(&["install", "slow"]);
    assert!(output.contains("dpkg --configure -a"), "{output}");
    assert_eq!(node.read("/etc/slow.conf"), "slow\n");
    let status = node.dpkg_status("slow");
    assert_eq!(status, "install ok installed", "{output}");
}

/// A package with one user question that has no default.
fn ask_repository() -> Repo {
    let mut repo = Repo::new();
    write_ask(&mut repo);
    repo.commit("ask");
    repo
}

/// `ask`: one user question without a default, rendered into /etc/ask.conf.
pub(crate) fn write_ask(repo: &mut Repo) {
    repo.write("packages/ask/control/control.yml", &control("ask"))
        .write(
            "packages/ask/control/environment.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="ask/name" type="string" priority="high" source="user">
      <description>A name only a person knows</description>
    </template>
    <template key="ask/unread" type="string" priority="high" source="user">
      <description>Nothing of this package reads it: never asked, never missing</description>
    </template>
  </templates>
  <environment context="master"/>
</environments>
"#,
        )
        .write(
            "packages/ask/etc/ask.conf.j2",
            "name = {{ answers[\"ask/name\"] }}\n",
        );
}

/// Role v1 of the node: alpha (configured, a template) and beta (a plain
/// file).
pub(crate) fn write_alpha_beta(repo: &mut Repo) {
    repo.write("packages/alpha/control/control.yml", &control("alpha"))
        .write("packages/alpha/control/environment.xml", ENVIRONMENT)
        .write(
            "packages/alpha/etc/alpha.conf.j2",
            "greeting = {{ answers[\"alpha/greeting\"] }}\n",
        )
        .write("packages/beta/control/control.yml", &control("beta"))
        .write("packages/beta/etc/beta.conf", "beta\n")
        .write("roles/node.yml", &role("1", "alpha, beta"));
}

#[test]
fn an_unattended_install_names_the_questions_nobody_answered_with_exit_3() {
    let Some(keyring) = apt_and_keyring() else {
        return;
    };
    let repo = ask_repository();
    let node = Node::new();
    let _published = bootstrap(&repo, &keyring, &node);
    let (code, _, stderr) = node.confpack(&["install", "ask"]);
    assert_eq!(code, 3, "{stderr}");
    let last = stderr
        .lines()
        .rev()
        .take_while(|l| !l.starts_with("confpack: error:"))
        .collect::<Vec<_>>();
    assert!(
        last.iter()
            .any(|l| l.trim().starts_with("ask/name (string)"))
            && stderr.contains("confpack set"),
        "the final error names the key and how to preseed it:\n{stderr}"
    );
    // Preseeded, the same command finishes what was left.
    node.ok(&["set", "ask/name", "Ada"]);
    let output = node.ok(&["install", "ask"]);
    assert!(output.contains("finished ask"), "{output}");
    assert_eq!(node.read("/etc/ask.conf"), "name = Ada\n");
}

/// Processes whose command line names `root` (apt-get, dpkg and the
/// maintainer scripts' confpack of a sandboxed run all do, through
/// `--root` or the script's path).
fn processes_naming(root: &Path) -> Vec<String> {
    let needle = root.display().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (text.contains(&needle) && !text.contains("tmux")).then_some(text)
        })
        .collect()
}

#[test]
fn a_question_stops_when_the_confpack_that_started_apt_is_killed() {
    use std::time::Instant;
    let Some(keyring) = apt_and_keyring() else {
        return;
    };
    let repo = ask_repository();
    let node = Node::new();
    let _published = bootstrap(&repo, &keyring, &node);
    let pid_file = node.root.join("../confpack.pid");
    let line = format!(
        "echo $$ > {}; exec env PATH={} {BINARY} --root {} install ask",
        pid_file.display(),
        Node::path_env(),
        node.root.display()
    );
    let Some(tmux) = crate::common::Tmux::start("abandoned", &line) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tmux.screen().contains("A name only a person knows") {
        assert!(
            Instant::now() < deadline,
            "no question on the terminal:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = std::fs::read_to_string(&pid_file).expect("pid");
    let killed = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = killed + Duration::from_secs(15);
    loop {
        let left = processes_naming(&node.root);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running: {left:#?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "the question and apt's run ended {:?} after the kill",
        killed.elapsed()
    );
    // No lock is left: preseeded, the same command finishes.
    node.ok(&["set", "ask/name", "Ada"]);
    node.ok(&["install", "ask"]);
    assert_eq!(node.read("/etc/ask.conf"), "name = Ada\n");
}

#[test]
fn purging_the_runtime_leaves_no_trace_of_confpack_and_a_rebuild_is_the_same_deb() {
    let Some(keyring) = apt_and_keyring() else {
        return;
    };
    let mut repo = ask_repository();
    let node = Node::new();
    let published = bootstrap(&repo, &keyring, &node);
    node.ok(&["set", "ask/name", "Ada"]);
    node.ok(&["install", "ask"]);
    node.ok(&["upgrade", "--version", "1"]);
    let timer = confpack::runtime::timer::wants_link();
    for path in [
        "/etc/apt/sources.list.d/confpack.list",
        "/etc/apt/keyrings/confpack.asc",
        confpack::runtime::ROLLBACK_PIN,
        "/var/lib/confpack",
        &timer,
    ] {
        assert!(
            std::fs::symlink_metadata(node.file(path)).is_ok(),
            "{path} before the purge"
        );
    }
    let (code, stdout, stderr) = run(Command::new("dpkg")
        .arg(format!("--root={}", node.root.display()))
        .args([
            "--force-script-chrootless",
            "--purge",
            "ask",
            "confpack-runtime",
        ])
        .env("PATH", Node::path_env())
        .stdin(std::process::Stdio::null()));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for path in [
        "/etc/apt/sources.list.d/confpack.list",
        "/etc/apt/keyrings/confpack.asc",
        confpack::runtime::ROLLBACK_PIN,
        "/var/lib/confpack",
        "/var/cache/confpack",
        "/etc/confpack",
        "/etc/ask.conf",
        &timer,
    ] {
        assert!(
            std::fs::symlink_metadata(node.file(path)).is_err(),
            "{path} is left after the purge"
        );
    }

    // The same binary built from a later commit: the same runtime bytes
    // (it is published once per version).
    let first = std::fs::read(find_deb(&repo.path("../runtime"), "confpack-runtime")).expect("deb");
    repo.write("packages/ask/etc/other.conf", "later\n");
    repo.commit("a later commit");
    let stub = repo.path("../confpack-stub");
    let again_built = build_ok(
        &repo.path("."),
        &repo.path("../runtime-again"),
        &[
            "--no-dependency-check",
            "--runtime",
            "--runtime-binary",
            arg(&stub),
        ],
    );
    let again = find_deb(&repo.path("../runtime-again"), "confpack-runtime");
    assert!(!again_built.is_empty());
    assert!(
        std::fs::read(&again).expect("deb") == first,
        "the runtime .deb changed with the repository's commit"
    );
    drop(published);
}

fn find_deb(dir: &Path, package: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
        })
        .unwrap_or_else(|| panic!("no {package} in {}", dir.display()))
}
