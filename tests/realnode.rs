//! The node lifecycle on a real Debian 12: a fresh minimal bookworm root
//! (mmdebstrap, apt variant) entered with `chroot`, driven through
//! confpack's own commands only, unattended and by a person at a terminal
//! (tmux).
//!
//! `tests/runtime.rs` runs apt and dpkg sandboxed with `--root`; here
//! nothing is simulated: the Debian system's apt configuration, maintainer
//! scripts without `DPKG_ROOT`, `invoke-rc.d`, the runtime's libraries
//! pulled from the Debian archive, and `/dev/tty` under apt and dpkg.
//!
//! Needs root, mmdebstrap, gpg, tmux and the Debian archive; a test that
//! cannot run says why in one line. The root is built at most once a week
//! into `target/realnode/`, where the Debian packages apt downloads are
//! kept too. Only the Debian archive and 127.0.0.1 are contacted (the
//! repository is served by the test; the example's online document URL is
//! dropped from the temp copy).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::build::{Repo, build_ok, find};
use crate::common::{Tmux, run};
use crate::publish::{Keyring, Server};

const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
const MIRROR_ADDRESS: &str = "deb.debian.org:80";
/// A built root older than this is built again (Debian's point releases
/// remove the packages its apt lists name).
const ROOT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The packages the example repository builds, roles included.
const OUR_PACKAGES: [&str; 5] = ["webserver", "base", "motd", "webshop-app", "webshop-nginx"];
const PASSWORD: &str = "pw 'Zq8' $(id)";
/// What confpack owns on a node of the example: hashed to compare states.
const CONFIGURATION: [&str; 6] = [
    "/etc/webshop",
    "/etc/nginx/sites-available",
    "/etc/nginx/sites-enabled",
    "/etc/motd",
    "/var/lib/webshop",
    "/usr/share/confpack",
];

fn skip(reason: &str) {
    eprintln!("realnode: skipped: {reason}");
}

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn archive_reachable() -> Result<(), String> {
    let address = MIRROR_ADDRESS
        .to_socket_addrs()
        .map_err(|e| format!("{MIRROR_ADDRESS}: {e}"))?
        .next()
        .ok_or_else(|| format!("{MIRROR_ADDRESS}: no address"))?;
    TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map(drop)
        .map_err(|e| format!("{MIRROR_ADDRESS} ({address}): {e}"))
}

/// A fresh bookworm root, or None when this machine cannot make one (the
/// reason printed).
fn fresh_node(needs: &[&str]) -> Option<Chroot> {
    if !is_root() {
        skip("not root");
        return None;
    }
    for tool in ["mmdebstrap", "gpg", "chroot", "mount"].iter().chain(needs) {
        if !installed(tool) {
            skip(&format!("{tool} not installed"));
            return None;
        }
    }
    if let Err(e) = archive_reachable() {
        skip(&format!("Debian archive unreachable: {e}"));
        return None;
    }
    match Chroot::new(&bookworm_tarball()) {
        Ok(chroot) => Some(chroot),
        Err(e) => {
            skip(&e);
            None
        }
    }
}

/// `target/realnode/`: the built root and apt's downloads, kept between runs.
fn cache_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::common::repo().join("target"))
        .join("realnode")
}

fn downloads_cache() -> PathBuf {
    cache_dir().join("archives")
}

fn younger_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| {
            SystemTime::now()
                .duration_since(modified)
                .is_ok_and(|elapsed| elapsed < age)
        })
}

/// The minimal bookworm root as a tarball (apt's lists kept, so apt can
/// resolve the runtime's libraries), built when missing or a week old.
/// It is written under a temporary name and renamed: a concurrent test
/// process sees the old tarball or the new one, never half of one.
fn bookworm_tarball() -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_build_at_a_time = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    let tarball = cache_dir().join("bookworm-apt.tar");
    if younger_than(&tarball, ROOT_MAX_AGE) {
        return tarball;
    }
    std::fs::create_dir_all(cache_dir()).expect("mkdir target/realnode");
    let partial = cache_dir().join(format!("bookworm-apt.{}.partial.tar", std::process::id()));
    let started = Instant::now();
    let (code, _, stderr) = run(Command::new("mmdebstrap")
        .args(["--variant=apt", "--mode=root", "--format=tar"])
        .arg("--skip=cleanup/apt/lists")
        .arg(SUITE)
        .arg(&partial)
        .arg(MIRROR)
        .stdin(Stdio::null()));
    if code != 0 {
        let _ = std::fs::remove_file(&partial);
        panic!("mmdebstrap failed (exit {code}):\n{stderr}");
    }
    std::fs::rename(&partial, &tarball).expect("rename the built root");
    eprintln!(
        "realnode: built {} in {:.0?}",
        tarball.display(),
        started.elapsed()
    );
    tarball
}

fn debs_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect()
}

/// A throw-away copy of the root with proc, /dev and /dev/pts mounted.
/// Dropped (also when a test panics), it kills whatever still runs inside,
/// keeps apt's Debian downloads and unmounts in reverse order, lazily when
/// busy; a root that stays mounted is left on disk rather than deleted
/// through the host's /dev.
struct Chroot {
    temp: Option<tempfile::TempDir>,
    root: PathBuf,
    mounts: Vec<PathBuf>,
}

impl Chroot {
    fn new(tarball: &Path) -> Result<Chroot, String> {
        let temp = tempfile::Builder::new()
            .prefix("confpack-realnode-")
            .tempdir()
            .expect("tempdir");
        let root = temp.path().canonicalize().expect("canonical").join("root");
        std::fs::create_dir(&root).expect("mkdir root");
        let mut chroot = Chroot {
            temp: Some(temp),
            root,
            mounts: Vec::new(),
        };
        crate::common::ok(
            Command::new("tar")
                .arg("-xf")
                .arg(tarball)
                .arg("-C")
                .arg(&chroot.root),
        );
        let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
        chroot.write("/etc/resolv.conf", &resolv, 0o644);
        // What Debian's installer writes and a minimal root lacks: a node
        // always has /etc/hosts (webshop-app adds a block to it).
        if !chroot.has("/etc/hosts") {
            chroot.write(
                "/etc/hosts",
                b"127.0.0.1\tlocalhost\n127.0.1.1\tnode1.example.com\tnode1\n\n\
                  # The following lines are desirable for IPv6 capable hosts\n\
                  ::1     localhost ip6-localhost ip6-loopback\n\
                  ff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
                0o644,
            );
        }
        chroot.write(
            "/usr/sbin/policy-rc.d",
            b"#!/bin/sh\n# No service starts: this root shares the host's network.\nexit 101\n",
            0o755,
        );
        chroot.mount("proc", &["-t", "proc", "proc"])?;
        chroot.mount("dev", &["--bind", "/dev"])?;
        chroot.mount("dev/pts", &["--bind", "/dev/pts"])?;
        chroot.seed_downloads();
        Ok(chroot)
    }

    fn mount(&mut self, target: &str, args: &[&str]) -> Result<(), String> {
        let path = self.root.join(target);
        let output = Command::new("mount")
            .args(args)
            .arg(&path)
            .output()
            .map_err(|e| format!("cannot mount {target}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot mount {target}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        self.mounts.push(path);
        Ok(())
    }

    /// A path of the node, seen from the host.
    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Whether the node has `path` (a dangling symlink counts).
    fn has(&self, path: &str) -> bool {
        std::fs::symlink_metadata(self.path(path)).is_ok()
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Writes a file, replacing whatever (a symlink too) was there.
    fn write(&self, path: &str, content: &[u8], mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let target = self.path(path);
        let _ = std::fs::remove_file(&target);
        std::fs::write(&target, content).unwrap_or_else(|e| panic!("{path}: {e}"));
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Puts a host file into the node's /root; returns its path there.
    fn copy_in(&self, file: &Path, name: &str) -> String {
        let inside = format!("/root/{name}");
        std::fs::copy(file, self.path(&inside)).expect("copy into the node");
        inside
    }

    /// The words that run `args` inside: a clean environment, as root.
    fn inside(&self, environment: &[&str], args: &[&str]) -> Vec<String> {
        let mut words = vec![
            self.root.display().to_string(),
            "env".into(),
            "-i".into(),
            format!("PATH={PATH}"),
            "HOME=/root".into(),
        ];
        words.extend(environment.iter().map(|s| s.to_string()));
        words.extend(args.iter().map(|s| s.to_string()));
        words
    }

    /// Runs `args` in the node unattended: no stdin, noninteractive.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(Command::new("chroot")
            .args(self.inside(&["DEBIAN_FRONTEND=noninteractive"], args))
            .stdin(Stdio::null()))
    }

    /// Runs `args` in the node and asserts exit 0; returns stdout and stderr.
    fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.run(args);
        assert_eq!(
            code,
            0,
            "`{}` in the node failed (exit {code}):\n{stdout}\n{stderr}",
            args.join(" ")
        );
        stdout + &stderr
    }

    /// Runs `args` in the node with `input` on stdin and asserts exit 0.
    fn ok_with_input(&self, args: &[&str], input: &str) {
        let mut child = Command::new("chroot")
            .args(self.inside(&["DEBIAN_FRONTEND=noninteractive"], args))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chroot");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "`{}` in the node failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs `args` in the node on a terminal, as a person would: no
    /// DEBIAN_FRONTEND, TERM=xterm, a UTF-8 locale.
    fn on_terminal(&self, name: &str, args: &[&str]) -> Terminal {
        let exit_file = self.scratch(&format!("{name}.exit"));
        let quoted: Vec<String> = self
            .inside(&["TERM=xterm", "LANG=C.UTF-8"], args)
            .iter()
            .map(|word| confpack::output::shell_quote(word))
            .collect();
        let line = format!(
            "chroot {}; echo $? > {}",
            quoted.join(" "),
            confpack::output::shell_quote(&exit_file.display().to_string())
        );
        let tmux = Tmux::start(&format!("realnode-{name}"), &line).expect("tmux");
        Terminal { tmux, exit_file }
    }

    /// A host path beside the root, for the test's own files.
    fn scratch(&self, name: &str) -> PathBuf {
        self.root.parent().expect("temp dir").join(name)
    }

    /// The README's bootstrap: the runtime's .deb installed with apt, which
    /// brings its libraries from the Debian archive; then the environment.
    fn bootstrap(&self, configuration: &Configuration, url: &str) {
        // The lists in the built root may be a few days old.
        self.ok(&["apt-get", "update", "-qq"]);
        let runtime = self.copy_in(&configuration.runtime, &file_name(&configuration.runtime));
        let key = self.copy_in(&configuration.keyring.public, "confpack.asc");
        self.ok(&["apt-get", "install", "-y", &runtime]);
        self.ok(&[
            "confpack",
            "set-environment",
            "production",
            "--repo-url",
            url,
            "--key",
            &key,
        ]);
        self.ok(&["confpack", "update"]);
    }

    /// `dpkg-query`'s state of every package that is not purged.
    fn package_states(&self) -> BTreeMap<String, String> {
        let listing = self.ok(&[
            "dpkg-query",
            "--show",
            "--showformat=${db:Status-Abbrev} ${Package}\n",
        ]);
        listing
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(state, package)| (package.trim().to_string(), state.trim().to_string()))
            .filter(|(_, state)| !state.starts_with("un"))
            .collect()
    }

    fn version(&self, package: &str) -> String {
        let (_, stdout, _) =
            self.run(&["dpkg-query", "--show", "--showformat=${Version}", package]);
        stdout.trim().to_string()
    }

    /// The stored answers, secrets shown.
    fn answers(&self) -> serde_json::Value {
        let (code, stdout, stderr) =
            self.run(&["confpack", "answers", "--format", "json", "--show-secrets"]);
        assert_eq!(code, 0, "confpack answers: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    fn answer(&self, key: &str) -> String {
        self.answers()[key]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Every file, symlink and directory under `paths`: its mode and its
    /// content's sha256 or its link target.
    fn snapshot(&self, paths: &[&str]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut pending: Vec<PathBuf> = paths.iter().map(|p| self.path(p)).collect();
        while let Some(path) = pending.pop() {
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let described = if metadata.is_symlink() {
                format!(
                    "-> {}",
                    std::fs::read_link(&path).expect("readlink").display()
                )
            } else if metadata.is_dir() {
                for entry in std::fs::read_dir(&path).expect("read_dir") {
                    pending.push(entry.expect("entry").path());
                }
                "directory".to_string()
            } else {
                let bytes = std::fs::read(&path).expect("read");
                confpack::files::sha256_hex(&bytes)
            };
            let relative = path.strip_prefix(&self.root).expect("inside");
            out.insert(
                format!("/{}", relative.display()),
                format!("{:o} {described}", metadata.mode() & 0o7777),
            );
        }
        out
    }

    /// What exists under `paths`, as `snapshot` lists it.
    fn leftovers(&self, paths: &[&str]) -> Vec<String> {
        self.snapshot(paths).into_keys().collect()
    }

    /// The processes whose root is this node: pid and name.
    fn processes(&self) -> Vec<(u32, String)> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r == self.root)
            })
            .map(|pid| {
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                (pid, name.trim().to_string())
            })
            .collect()
    }

    /// The processes left in the node once `timeout` has passed.
    fn processes_after(&self, timeout: Duration) -> Vec<(u32, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = self.processes();
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The /proc/locks lines that hold dpkg's locks of this node.
    fn dpkg_lock_holders(&self) -> Vec<String> {
        let ids: Vec<String> = ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"]
            .iter()
            .filter_map(|lock| std::fs::metadata(self.path(lock)).ok())
            .map(|m| {
                let (dev, ino) = (m.dev(), m.ino());
                let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
                let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
                format!("{major:02x}:{minor:02x}:{ino}")
            })
            .collect();
        std::fs::read_to_string("/proc/locks")
            .unwrap_or_default()
            .lines()
            .filter(|line| {
                line.split_whitespace()
                    .any(|field| ids.iter().any(|id| id == field))
            })
            .map(str::to_string)
            .collect()
    }

    fn kill_everything_inside(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.processes();
            if left.is_empty() || Instant::now() >= deadline {
                return;
            }
            for (pid, _) in left {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Puts the kept Debian packages where apt looks first.
    fn seed_downloads(&self) {
        let archives = self.path("/var/cache/apt/archives");
        for deb in debs_in(&downloads_cache()) {
            let target = archives.join(deb.file_name().expect("name"));
            if std::fs::hard_link(&deb, &target).is_err() {
                let _ = std::fs::copy(&deb, &target);
            }
        }
    }

    /// Keeps the Debian packages apt downloaded, for the next run
    /// (confpack's own packages are built anew each run).
    fn keep_downloads(&self) {
        let cache = downloads_cache();
        if std::fs::create_dir_all(&cache).is_err() {
            return;
        }
        for deb in debs_in(&self.path("/var/cache/apt/archives")) {
            let name = file_name(&deb);
            if name.contains("+git") || name.starts_with("confpack-runtime_") {
                continue;
            }
            if cache.join(&name).exists() {
                continue;
            }
            let partial = cache.join(format!(".{name}.{}.partial", std::process::id()));
            if std::fs::copy(&deb, &partial).is_ok() {
                let _ = std::fs::rename(&partial, cache.join(&name));
            }
        }
    }

    fn still_mounted(&self) -> Vec<String> {
        let prefix = self.root.display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .filter(|point| point.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        self.kill_everything_inside();
        self.keep_downloads();
        for mount in self.mounts.iter().rev() {
            let unmount = |lazy: bool| {
                let mut command = Command::new("umount");
                if lazy {
                    command.arg("--lazy");
                }
                command
                    .arg(mount)
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if !unmount(false) && !unmount(true) {
                eprintln!("realnode: cannot unmount {}", mount.display());
            }
        }
        let mounted = self.still_mounted();
        if !mounted.is_empty() {
            let kept = self.temp.take().map(tempfile::TempDir::keep);
            eprintln!("realnode: {mounted:?} still mounted; {kept:?} is left in place");
        }
    }
}

/// A command running in the node on a terminal (tmux).
struct Terminal {
    tmux: Tmux,
    exit_file: PathBuf,
}

impl Terminal {
    /// Waits until the screen shows `text`; fails at once, with
    /// everything the terminal showed, when the command ends first.
    fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.tmux.screen();
            if screen.contains(text) {
                return screen;
            }
            let ended = self.exit_file.exists();
            assert!(
                !ended && Instant::now() < deadline,
                "{} waiting for {text:?}; the terminal:\n{}",
                if ended {
                    "the command ended"
                } else {
                    "timed out"
                },
                self.tmux.history()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a question showing `text` and returns the screen,
    /// which must be confpack's TUI alone: its header and footer, no
    /// progress bar or message drawn over it (a flicker the TUI repairs
    /// within a second is let pass).
    fn question(&self, text: &str, timeout: Duration) -> String {
        let mut screen = self.wait_for(text, timeout);
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let header = screen.lines().next().unwrap_or_default();
            let footer = screen.lines().rev().find(|l| !l.trim().is_empty());
            let tui_alone = header.contains("question ")
                && footer.is_some_and(|l| l.trim_end().ends_with("Esc quit"))
                && !screen.lines().any(|line| line.starts_with("apt ["));
            if tui_alone {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the question is not shown by confpack's TUI alone; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
            screen = self.tmux.screen();
        }
    }

    /// Keys as tmux names them (`Enter`, `C-c`).
    fn send(&self, keys: &[&str]) {
        self.tmux.keys(keys);
    }

    fn type_text(&self, text: &str) {
        self.tmux.type_text(text);
    }

    /// Saves at the review screen that follows the questions.
    fn save(&self) {
        self.wait_for("Save these answers", ANSWERING);
        self.send(&["s"]);
    }

    /// Replaces the text field's value with `text` and goes on.
    fn retype(&self, text: &str) {
        self.send(&["C-u"]);
        self.type_text(text);
        self.send(&["Enter"]);
    }

    /// `text` and Enter, `times` times: a password in both fields of
    /// each password question on screen.
    fn type_password(&self, text: &str, times: usize) {
        for _ in 0..times {
            self.type_text(text);
            self.send(&["Enter"]);
        }
    }

    /// The command's exit code, once it has ended.
    fn exit_code(&self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.exit_file)
                && let Ok(code) = text.trim().parse()
            {
                return code;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {timeout:?}; the terminal:\n{}",
                self.tmux.history()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// Replaces `from` by `to` in a file of the repository; `from` must be
/// there, so that a change to examples/ shows here rather than silently
/// testing less.
fn edit(repo: &Repo, relative: &str, from: &str, to: &str) {
    let path = repo.path(relative);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{relative} no longer has {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

/// The example's packages and confpack-runtime, built into `out`.
fn build_with_runtime(repo: &Repo, out: &Path) -> Vec<PathBuf> {
    let known = repo.path("known-packages");
    let known = known.to_str().expect("utf-8");
    build_ok(
        &repo.path("."),
        out,
        &["--known-packages", known, "--runtime"],
    )
}

/// The example configuration repository in a temp git copy, its two
/// versions built by the confpack under test, the runtime package, and
/// the signed apt repository they are published to.
struct Configuration {
    _repo: Repo,
    keyring: Keyring,
    published: PathBuf,
    first: PathBuf,
    second: PathBuf,
    runtime: PathBuf,
}

impl Configuration {
    fn build() -> Configuration {
        Configuration::build_with(|_| {})
    }

    /// The example with `change` made to version 1 (and kept in 2).
    fn build_with(change: impl Fn(&Repo)) -> Configuration {
        let keyring = Keyring::new("realnode").expect("gpg");
        let mut repo = Repo::example();
        // The document's online copy would be fetched from
        // config.example.com; a test contacts only 127.0.0.1 and Debian.
        edit(
            &repo,
            "packages/webshop-app/control/control.yml",
            "  url: https://config.example.com/environments/webshop.xml\n",
            "",
        );
        change(&repo);
        repo.commit("version 1");
        let first = repo.path("../first");
        let known = repo.path("known-packages");
        let known = ["--known-packages", known.to_str().expect("utf-8")];
        let debs = build_ok(&repo.path("."), &first, &[known[0], known[1], "--runtime"]);
        let runtime = find(&debs, "confpack-runtime").clone();

        second_version(&repo);
        repo.commit("version 2");
        let second = repo.path("../second");
        build_ok(&repo.path("."), &second, &known);
        Configuration {
            published: repo.path("../published"),
            _repo: repo,
            keyring,
            first,
            second,
            runtime,
        }
    }

    fn publish_first(&self) {
        self.keyring
            .publish(&self.published, "production", &[&self.first]);
    }

    fn publish_second(&self) {
        self.keyring
            .publish(&self.published, "production", &[&self.second]);
    }
}

/// Version 2 of the example: logging.conf dropped, app.conf's template
/// changed, webshop-nginx dropped from the role (and from webshop-app's
/// dependencies, so nothing needs it and nginx goes with it), workers
/// changed in the document, and the document now sets tls.enable, which
/// the node's operator had turned off.
fn second_version(repo: &Repo) {
    repo.remove("packages/webshop-app/etc/webshop/logging.conf");
    let template = "packages/webshop-app/etc/webshop/app.conf.j2";
    let text = std::fs::read_to_string(repo.path(template)).expect("template");
    repo.write(
        template,
        &format!("{text}admin = {{{{ answers[\"webshop/admin.email\"] }}}}\n"),
    );
    edit(
        repo,
        "roles/webserver.yml",
        "version: \"1\"",
        "version: \"2\"",
    );
    edit(repo, "roles/webserver.yml", "  - webshop-nginx\n", "");
    edit(
        repo,
        "packages/webshop-app/control/control.yml",
        "depends: [webshop-nginx, systemd, nftables]\n",
        "depends: [systemd, nftables]\n",
    );
    let document = "environments/webshop.xml";
    edit(
        repo,
        document,
        "<question key=\"webshop/workers\">16</question>",
        "<question key=\"webshop/workers\">24</question>",
    );
    edit(
        repo,
        document,
        "<question key=\"webshop/db.host\">db1.prod.example.com</question>",
        "<question key=\"webshop/db.host\">db1.prod.example.com</question>\n    \
         <question key=\"webshop/tls.enable\">true</question>",
    );
}

/// Answers set the README's way: the host name, which the document
/// leaves to the node (this host is none of its machines), and TLS turned
/// off, which the document does not set yet (a high-priority question, so
/// that a later conflict is asked at the default priority).
fn preseed(node: &Chroot) {
    node.ok(&["confpack", "set", "webshop/hostname", "node1.example.com"]);
    node.ok(&["confpack", "set", "webshop/tls.enable", "false"]);
}

#[test]
fn an_unattended_node_installs_upgrades_rolls_back_and_purges_its_role() {
    let Some(node) = fresh_node(&[]) else {
        return;
    };
    let started = Instant::now();
    let configuration = Configuration::build_with(foreign_values);
    configuration.publish_first();
    let server = Server::start(&configuration.published);
    node.bootstrap(&configuration, &server.url);
    // Debian's own /etc/motd (base-files' postinst writes it, no package
    // owns it): the motd package replaces it, and purging gives it back.
    let debian_motd = node.snapshot(&["/etc/motd"]);
    assert_eq!(debian_motd.len(), 1, "Debian writes /etc/motd");
    // Debian's /etc/hosts (netbase's): webshop-app adds a block to it.
    let debian_hosts = std::fs::read(node.path("/etc/hosts")).expect("/etc/hosts");
    preseed(&node);
    node.ok_with_input(
        &["confpack", "set", "--secret", "webshop/db.password", "-"],
        PASSWORD,
    );

    // tzdata in the same run: apt asks its questions before it unpacks
    // the document that answers them.
    let output = node.ok(&["confpack", "install", "webserver", "tzdata"]);
    the_hook_without_systemd_is_skipped_in_one_line(&output);
    the_first_version_is_installed_and_rendered(&node);
    the_declarations_are_applied(&node);
    a_debian_packages_questions_are_answered_from_the_document(&node);
    apt_through_confpack_and_reconfigure_apply_the_documents_answers(&node);
    a_debconf_progress_bar_is_shown_in_lines(&node);
    every_kind_of_debian_question_is_answered_from_the_document(&node);
    status_names_a_drifted_declaration_and_reconfigure_repairs_it(&node);
    let first_install = node.snapshot(&CONFIGURATION);
    install_refreshes_the_index_first(&node, &server);

    configuration.publish_second();
    node.ok(&["confpack", "update"]);
    node.ok(&["confpack", "upgrade"]);
    the_second_version_is_applied_without_a_question(&node);
    nothing_autoremoved_is_left_configured(&node);

    node.ok(&["confpack", "upgrade", "--version", "1"]);
    assert!(node.version("webserver").starts_with("1+git"));
    assert_eq!(node.snapshot(&CONFIGURATION), first_install);
    the_rollback_is_pinned_until_a_plain_upgrade(&node);
    nothing_autoremoved_is_left_configured(&node);

    purge_the_role(&node);
    assert_eq!(
        node.snapshot(&["/etc/motd"]),
        debian_motd,
        "Debian's /etc/motd is back, byte for byte and mode"
    );
    nothing_declared_is_left(&node, &debian_hosts);
    eprintln!(
        "realnode: unattended lifecycle in {:.0?}",
        started.elapsed()
    );
}

/// webshop-app's declarations: its system user, its data directory, its
/// block in /etc/hosts, its firewall table and its service.
fn the_declarations_are_applied(node: &Chroot) {
    let passwd = node.read("/etc/passwd");
    let user = passwd
        .lines()
        .find(|line| line.starts_with("webshop:"))
        .unwrap_or_else(|| panic!("no webshop user:\n{passwd}"));
    let fields: Vec<&str> = user.split(':').collect();
    assert_eq!(
        fields[5..],
        ["/var/lib/webshop", "/usr/sbin/nologin"],
        "{user}"
    );
    let uid: u32 = fields[2].parse().expect("uid");
    assert!(uid < 1000, "a system user: {user}");
    let data = std::fs::metadata(node.path("/var/lib/webshop")).expect("/var/lib/webshop");
    assert_eq!((data.uid(), data.mode() & 0o7777), (uid, 0o750));
    let hosts = node.read("/etc/hosts");
    assert!(
        hosts.contains(
            "# BEGIN confpack webshop-app cluster\n\
             10.10.0.10 lb1.prod.example.com\n\
             10.10.0.21 app1.prod.example.com\n\
             10.10.0.22 app2.prod.example.com\n\
             10.10.0.30 db1.prod.example.com\n\
             # END confpack webshop-app cluster\n"
        ),
        "{hosts}"
    );
    let table = node.read("/etc/nftables.d/webshop-app-webshop.nft");
    assert!(table.contains("tcp dport 8080 counter accept"), "{table}");
    assert!(
        node.read("/etc/nftables.conf")
            .contains("include \"/etc/nftables.d/webshop-app-webshop.nft\"\n"),
        "the table is loaded at boot"
    );
    let enabled = std::fs::read_link(
        node.path("/etc/systemd/system/multi-user.target.wants/webshop.service"),
    )
    .expect("webshop.service is enabled");
    assert!(
        enabled.ends_with("systemd/system/webshop.service"),
        "{}",
        enabled.display()
    );
}

/// tzdata from Debian's archive, installed unattended through `confpack
/// install` with the role whose document has its answers: confpack, as
/// debconf's agent, answers its questions with the document's `<debconf>`
/// values (applied once the document is on the node: apt configured
/// tzdata before it unpacked the document), and debconf, tzdata and
/// confpack's store agree.
fn a_debian_packages_questions_are_answered_from_the_document(node: &Chroot) {
    the_zone_is_the_documents(node, "tzdata configured from the document");
    let shown = node.ok(&["debconf-show", "tzdata"]);
    assert!(shown.contains("tzdata/Areas: Europe"), "{shown}");
    assert!(shown.contains("tzdata/Zones/Europe: Berlin"), "{shown}");
    let answers = node.answers();
    assert_eq!(answers["tzdata/Areas"]["value"], "Europe", "{answers}");
    assert_eq!(answers["tzdata/Areas"]["source"], "configured", "{answers}");
}

/// A package whose postinst draws a debconf progress bar (built here: a
/// few lines of shell and two templates), installed unattended with
/// `confpack apt --`: debconf's PROGRESS reaches confpack, which prints
/// the bar as lines, the step's text included.
fn a_debconf_progress_bar_is_shown_in_lines(node: &Chroot) {
    let dir = node.path("/root/progressdemo");
    std::fs::create_dir_all(dir.join("DEBIAN")).expect("mkdir");
    let files = [
        (
            "control",
            "Package: progressdemo\nVersion: 1\nArchitecture: all\nMaintainer: Test <test@example.com>\n\
             Depends: debconf\nDescription: draws a debconf progress bar\n",
            0o644,
        ),
        (
            "templates",
            "Template: progressdemo/title\nType: text\nDescription: Preparing the demo\n\n\
             Template: progressdemo/step\nType: text\nDescription: Halfway there\n",
            0o644,
        ),
        (
            "postinst",
            "#!/bin/sh\nset -e\n. /usr/share/debconf/confmodule\n\
             db_progress START 0 4 progressdemo/title\ndb_progress STEP 2\n\
             db_progress INFO progressdemo/step\ndb_progress SET 4\ndb_progress STOP\n",
            0o755,
        ),
    ];
    for (name, text, mode) in files {
        let path = dir.join("DEBIAN").join(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let deb = node.path("/root/progressdemo_1_all.deb");
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-b"])
        .arg(&dir)
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    assert!(built.status.success(), "{built:?}");
    let output = node.ok(&[
        "confpack",
        "apt",
        "--",
        "install",
        "-y",
        "/root/progressdemo_1_all.deb",
    ]);
    assert!(output.contains("Preparing the demo\n"), "{output}");
    assert!(output.contains("[#####-----]  50%\n"), "{output}");
    assert!(
        output.contains("[##########] 100% Halfway there\n"),
        "{output}"
    );
    node.ok(&["confpack", "apt", "--", "purge", "-y", "progressdemo"]);
}

/// The node's zone is the example document's, Europe/Berlin.
fn the_zone_is_the_documents(node: &Chroot, why: &str) {
    let zone = std::fs::read_link(node.path("/etc/localtime")).expect("/etc/localtime");
    assert!(zone.ends_with("Europe/Berlin"), "{why}: {}", zone.display());
}

/// `confpack apt -- ARGS` is apt-get with confpack as the agent: tzdata
/// purged (debconf forgets its answers) and installed again gets the
/// document's zone, not debconf's default. `confpack reconfigure tzdata`
/// unattended, after the zone was changed by hand, applies the
/// document's answer again through dpkg-reconfigure.
fn apt_through_confpack_and_reconfigure_apply_the_documents_answers(node: &Chroot) {
    node.ok(&["confpack", "apt", "--", "purge", "-y", "tzdata"]);
    assert!(!node.has("/usr/share/zoneinfo/Europe/Berlin"), "purged");
    node.ok(&["confpack", "apt", "--", "install", "-y", "tzdata"]);
    the_zone_is_the_documents(node, "installed again through confpack apt");

    node.ok(&[
        "ln",
        "-sf",
        "/usr/share/zoneinfo/America/Lima",
        "/etc/localtime",
    ]);
    let output = node.ok(&["confpack", "reconfigure", "tzdata"]);
    the_zone_is_the_documents(node, &format!("reconfigure applied it again:\n{output}"));
    let shown = node.ok(&["debconf-show", "tzdata"]);
    assert!(shown.contains("tzdata/Zones/Europe: Berlin"), "{shown}");
    let (code, _, stderr) = node.run(&["confpack", "reconfigure", "no-such-package"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no-such-package"), "{stderr}");
}

/// The site passphrase tripwire's key is made with: quotes, a space and
/// a `$(…)` that a maintainer script must not run.
const TRIPWIRE_PASSPHRASE: &str = "site 'Pass' $(id) 42";
/// The mail name: postfix writes /etc/mailname only for a dotted name.
const MAILNAME: &str = "shop.example.com";

/// The document's values for the questions of postfix (select, string),
/// tripwire (boolean, password, and a note that takes none) and
/// popularity-contest (boolean): the unattended test's only, so that
/// the terminal test is asked them.
fn foreign_values(repo: &Repo) {
    let values = [
        ("postfix/main_mailer_type", "Internet Site"),
        ("postfix/mailname", MAILNAME),
        ("tripwire/use-sitekey", "true"),
        ("tripwire/use-localkey", "false"),
        ("tripwire/rebuild-config", "true"),
        ("tripwire/rebuild-policy", "true"),
        ("tripwire/site-passphrase", TRIPWIRE_PASSPHRASE),
        ("tripwire/site-passphrase-again", TRIPWIRE_PASSPHRASE),
        ("popularity-contest/participate", "true"),
    ];
    let lines: String = values
        .iter()
        .map(|(key, value)| {
            format!(
                "\n    <debconf key=\"{key}\">{}</debconf>",
                xml_escape(value)
            )
        })
        .collect();
    let berlin = "<debconf key=\"tzdata/Zones/Europe\">Berlin</debconf>";
    edit(
        repo,
        "environments/webshop.xml",
        berlin,
        &format!("{berlin}{lines}"),
    );
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

/// postfix, tripwire and popularity-contest from Debian's archive,
/// installed unattended through `confpack install`: every question type
/// debconf has is answered with the document's `<debconf>` values, and
/// the packages' own configuration, debconf and confpack's store (source
/// configured) have them.
fn every_kind_of_debian_question_is_answered_from_the_document(node: &Chroot) {
    node.ok(&[
        "confpack",
        "install",
        "postfix",
        "tripwire",
        "popularity-contest",
    ]);
    let shown = node.ok(&["debconf-show", "postfix"]);
    assert!(
        shown.contains("postfix/main_mailer_type: Internet Site")
            && shown.contains(&format!("postfix/mailname: {MAILNAME}")),
        "{shown}"
    );
    postfix_has_its_mail_name(node, MAILNAME);
    tripwire_and_popularity_contest_took_their_answers(node);
    let answers = node.answers();
    for key in [
        "postfix/main_mailer_type",
        "postfix/mailname",
        "tripwire/use-localkey",
        "tripwire/site-passphrase",
        "popularity-contest/participate",
    ] {
        assert_eq!(answers[key]["source"], "configured", "{key}: {answers}");
    }
    assert_eq!(answers["postfix/mailname"]["value"], MAILNAME);
    assert_eq!(answers["tripwire/use-localkey"]["value"], "false");
    assert_eq!(
        answers["tripwire/site-passphrase"]["value"],
        TRIPWIRE_PASSPHRASE
    );
    assert_eq!(answers["tripwire/site-passphrase"]["secret"], true);
}

/// postfix's postinst wrote the mail name to /etc/mailname and made it
/// main.cf's origin.
fn postfix_has_its_mail_name(node: &Chroot, mailname: &str) {
    assert_eq!(node.read("/etc/mailname"), format!("{mailname}\n"));
    let main_cf = node.read("/etc/postfix/main.cf");
    assert!(main_cf.contains("myorigin = /etc/mailname"), "{main_cf}");
}

/// tripwire's postinst made the site key with `passphrase` and signed its
/// configuration and policy with it; no local key (declined).
fn tripwire_has_its_site_key_and_no_local_key(node: &Chroot, passphrase: &str) {
    for file in [
        "/etc/tripwire/site.key",
        "/etc/tripwire/tw.cfg",
        "/etc/tripwire/tw.pol",
    ] {
        assert!(node.has(file), "{file} is missing");
    }
    let keys: Vec<String> = std::fs::read_dir(node.path("/etc/tripwire"))
        .expect("/etc/tripwire")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".key"))
        .collect();
    assert_eq!(keys, ["site.key"], "no local key");
    let signs = |passphrase: &str| {
        let (code, stdout, stderr) = node.run(&[
            "twadmin",
            "--create-cfgfile",
            "--site-keyfile",
            "/etc/tripwire/site.key",
            "--site-passphrase",
            passphrase,
            "--cfgfile",
            "/tmp/check.cfg",
            "/etc/tripwire/twcfg.txt",
        ]);
        (code == 0, format!("{stdout}{stderr}"))
    };
    let (signed, output) = signs(passphrase);
    assert!(signed, "the site key opens with the answer: {output}");
    let (signed, output) = signs("not the passphrase");
    assert!(!signed, "a wrong passphrase opens the site key: {output}");
}

fn popularity_contest_participates(node: &Chroot) {
    let conf = node.read("/etc/popularity-contest.conf");
    assert!(conf.contains("PARTICIPATE=\"yes\""), "{conf}");
    let shown = node.ok(&["debconf-show", "popularity-contest"]);
    assert!(
        shown.contains("popularity-contest/participate: true"),
        "{shown}"
    );
}

/// A directory changed by hand is named by `confpack status` (exit 9),
/// and `confpack reconfigure` applies the declaration again.
fn status_names_a_drifted_declaration_and_reconfigure_repairs_it(node: &Chroot) {
    let (_, before, _) = node.run(&["confpack", "status"]);
    assert!(before.contains("declarations: 0\n"), "{before}");
    std::fs::set_permissions(
        node.path("/var/lib/webshop"),
        std::fs::Permissions::from_mode(0o777),
    )
    .expect("chmod");
    let (code, after, stderr) = node.run(&["confpack", "status"]);
    assert_eq!(code, 9, "{after}{stderr}");
    assert!(
        after.contains("directory /var/lib/webshop (webshop-app): mode 0777 instead of 0750"),
        "{after}"
    );
    node.ok(&["confpack", "reconfigure", "webshop-app"]);
    let repaired = std::fs::metadata(node.path("/var/lib/webshop")).expect("stat");
    assert_eq!(repaired.mode() & 0o7777, 0o750);
}

/// After the purge: no user, no table, no enabled unit, and /etc/hosts
/// byte for byte Debian's.
fn nothing_declared_is_left(node: &Chroot, debian_hosts: &[u8]) {
    assert_eq!(
        std::fs::read(node.path("/etc/hosts")).expect("/etc/hosts"),
        debian_hosts,
        "/etc/hosts is Debian's again, byte for byte"
    );
    let passwd = node.read("/etc/passwd");
    assert!(!passwd.contains("webshop:"), "{passwd}");
    assert!(!node.read("/etc/group").contains("webshop:"));
    let nftables = node.read("/etc/nftables.conf");
    assert!(!nftables.contains("confpack"), "{nftables}");
    assert_eq!(
        node.leftovers(&[
            "/etc/nftables.d/webshop-app-webshop.nft",
            "/etc/systemd/system/multi-user.target.wants/webshop.service",
        ]),
        Vec::<String>::new()
    );
}

fn the_hook_without_systemd_is_skipped_in_one_line(output: &str) {
    let hook: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("reload-app"))
        .collect();
    assert!(
        hook.len() == 1 && hook[0].contains("skip"),
        "the hook's systemctl is absent without systemd: one line says it is skipped:\n{output}"
    );
}

fn the_first_version_is_installed_and_rendered(node: &Chroot) {
    assert!(node.version("webserver").starts_with("1+git"));
    let app = node.read("/etc/webshop/app.conf");
    for line in ["workers = 16\n", "log_level = warning\n", "search = on\n"] {
        assert!(app.contains(line), "{line:?} rendered in app.conf:\n{app}");
    }
    assert!(!app.contains("certificate"), "TLS is off:\n{app}");
    let database = node.read("/etc/webshop/database.conf");
    assert!(
        database.contains("host=db1.prod.example.com\n")
            && database.contains(&format!("password={PASSWORD}\n")),
        "{database}"
    );
    assert!(
        node.read("/etc/nginx/sites-available/webshop")
            .contains("server 10.10.0.21:8080;")
    );
    assert_eq!(
        std::fs::read_link(node.path("/etc/nginx/sites-enabled/webshop")).expect("site link"),
        Path::new("../sites-available/webshop")
    );
    assert!(node.has("/etc/webshop/logging.conf") && node.path("/var/lib/webshop").is_dir());
    assert!(node.read("/etc/motd").contains("managed with confpack"));
}

/// With everything installed apt downloads nothing: a request to the
/// repository is the index being fetched.
fn install_refreshes_the_index_first(node: &Chroot, server: &Server) {
    let asked = server.requests.load(Ordering::Relaxed);
    node.ok(&["confpack", "install", "webserver"]);
    assert!(
        server.requests.load(Ordering::Relaxed) > asked,
        "confpack install refreshes the confpack index first"
    );
}

fn the_second_version_is_applied_without_a_question(node: &Chroot) {
    assert!(node.version("webserver").starts_with("2+git"));
    assert!(!node.has("/etc/webshop/logging.conf"), "dropped file");
    let app = node.read("/etc/webshop/app.conf");
    assert!(
        app.contains("admin = ops@example.com\n"),
        "template re-rendered:\n{app}"
    );
    assert!(
        app.contains("workers = 24\n"),
        "the document's new value applied:\n{app}"
    );
    assert!(
        !app.contains("certificate") && node.answer("webshop/tls.enable") == "false",
        "unattended, the operator's conflicting value is kept:\n{app}"
    );
    let states = node.package_states();
    for dropped in ["webshop-nginx", "nginx"] {
        assert_eq!(states.get(dropped), None, "{dropped} is autoremoved");
    }
    assert_eq!(
        node.leftovers(&[
            "/etc/nginx/sites-available/webshop",
            "/etc/nginx/sites-enabled/webshop",
            "/usr/share/confpack/webshop-nginx",
        ]),
        Vec::<String>::new()
    );
}

/// No package in dpkg's `rc` state: what `confpack upgrade` autoremoves
/// is purged.
fn nothing_autoremoved_is_left_configured(node: &Chroot) {
    let configuration_left: Vec<String> = node
        .package_states()
        .into_iter()
        .filter(|(_, state)| state == "rc")
        .map(|(package, _)| package)
        .collect();
    assert_eq!(
        configuration_left,
        Vec::<String>::new(),
        "what upgrade autoremoves is purged"
    );
}

fn the_rollback_is_pinned_until_a_plain_upgrade(node: &Chroot) {
    let pin = "/etc/apt/preferences.d/confpack-rollback.pref";
    assert!(node.has(pin), "a rollback pins its versions in {pin}");
    let simulated = node.ok(&["apt-get", "-s", "upgrade"]);
    assert!(
        !simulated.contains("Inst webserver") && !simulated.contains("Inst webshop-app"),
        "apt-get upgrade would roll forward:\n{simulated}"
    );
    node.ok(&["apt-get", "upgrade", "-y"]);
    assert!(node.version("webserver").starts_with("1+git"));
    node.ok(&["confpack", "upgrade"]);
    assert!(node.version("webserver").starts_with("2+git"));
    assert!(
        !node.has(pin),
        "a plain upgrade follows the environment again"
    );
}

/// `apt-get purge` of the role and its packages, after which nothing of
/// them is left.
fn purge_the_role(node: &Chroot) {
    node.ok(&[
        "apt-get",
        "purge",
        "-y",
        "webserver",
        "webshop-app",
        "webshop-nginx",
        "motd",
    ]);
    nothing_of_the_role_is_left(node);
}

/// No package of the repository (not even its configuration), none of
/// their files, no answer of theirs.
fn nothing_of_the_role_is_left(node: &Chroot) {
    let states = node.package_states();
    let ours: Vec<String> = OUR_PACKAGES
        .iter()
        .filter_map(|p| states.get(*p).map(|state| format!("{state} {p}")))
        .collect();
    assert_eq!(ours, Vec::<String>::new());
    assert_eq!(
        node.leftovers(&[
            "/etc/webshop",
            "/var/lib/webshop",
            // Not /etc/motd: Debian's own, which the motd package replaced,
            // is back (the caller compares it); nothing is kept for it.
            "/var/lib/confpack/replaced",
            "/etc/nginx/sites-available/webshop",
            "/etc/nginx/sites-enabled/webshop",
            "/usr/share/confpack/webshop-app",
            "/usr/share/confpack/webshop-nginx",
            "/usr/share/confpack/motd",
        ]),
        Vec::<String>::new()
    );
    let answers: Vec<String> = node
        .answers()
        .as_object()
        .expect("answers")
        .keys()
        .filter(|key| key.starts_with("webshop/"))
        .cloned()
        .collect();
    assert_eq!(answers, Vec::<String>::new(), "purged packages' answers");
}

#[test]
fn a_person_at_a_terminal_answers_in_the_tui_and_ctrl_c_ends_the_whole_run() {
    let Some(node) = fresh_node(&["tmux"]) else {
        return;
    };
    let started = Instant::now();
    let configuration = Configuration::build();
    configuration.publish_first();
    let server = Server::start(&configuration.published);
    node.bootstrap(&configuration, &server.url);
    preseed(&node);

    ctrl_c_at_a_question_ends_the_whole_run(&node);
    the_next_install_asks_again_and_stores_the_answers(&node);
    configuration.publish_second();
    node.ok(&["confpack", "update"]);
    the_upgrade_asks_the_conflict_and_nothing_else(&node);
    a_debian_packages_question_is_asked_in_confpacks_tui(&node);
    reconfigure_asks_a_debian_packages_questions_again(&node);
    ctrl_c_at_a_debian_packages_question_ends_the_whole_run(&node);
    a_killed_apt_get_ends_the_run_and_says_what_to_run(&node);
    a_killed_debconf_ends_the_question_and_the_run(&node);
    a_killed_confpack_leaves_nothing_waiting_and_install_recovers(&node);
    every_kind_of_debian_question_is_asked_in_confpacks_tui(&node);
    eprintln!("realnode: terminal lifecycle in {:.0?}", started.elapsed());
}

/// How long apt may take before a question shows, and a person's pace.
const INSTALLING: Duration = Duration::from_secs(180);
const ANSWERING: Duration = Duration::from_secs(30);

fn ctrl_c_at_a_question_ends_the_whole_run(node: &Chroot) {
    let install = node.on_terminal("cancelled", &["confpack", "install", "webserver"]);
    install.question("Web shop configuration", INSTALLING);
    install.send(&["Enter"]);
    install.question("Database password", ANSWERING);
    install.send(&["C-c"]);
    install.wait_for("Quit without saving?", ANSWERING);
    install.send(&["C-c"]);
    let code = install.exit_code(ANSWERING);
    let history = install.tmux.history();
    assert_eq!(code, 5, "cancelled:\n{history}");
    assert!(
        history.contains("confpack upgrade") || history.contains("dpkg --configure -a"),
        "says how to recover:\n{history}"
    );
    assert_eq!(
        node.processes_after(Duration::from_secs(10)),
        Vec::new(),
        "nothing keeps running in the node"
    );
    assert_eq!(node.dpkg_lock_holders(), Vec::<String>::new());
}

fn the_next_install_asks_again_and_stores_the_answers(node: &Chroot) {
    let install = node.on_terminal("install", &["confpack", "install", "webserver"]);
    install.question("Web shop configuration", INSTALLING);
    install.send(&["Enter"]);
    install.question("Database password", ANSWERING);
    install.type_password(PASSWORD, 2);
    let screen = install.question("Administrator e-mail", ANSWERING);
    assert!(!screen.contains(PASSWORD), "{screen}");
    install.send(&["Enter"]);
    install.save();
    let code = install.exit_code(INSTALLING);
    assert_eq!(code, 0, "installed:\n{}", install.tmux.history());
    assert_eq!(node.answer("webshop/db.password"), PASSWORD);
    assert!(
        node.read("/etc/webshop/database.conf")
            .contains(&format!("password={PASSWORD}\n"))
    );
}

/// Version 2 changes workers (applied silently) and sets tls.enable,
/// which the operator had turned off: only that conflict is asked.
fn the_upgrade_asks_the_conflict_and_nothing_else(node: &Chroot) {
    let upgrade = node.on_terminal("upgrade", &["confpack", "upgrade"]);
    let screen = upgrade.question("Document says:", INSTALLING);
    assert!(
        screen.contains("question 1 of 1") && screen.contains("webshop/tls.enable"),
        "{screen}"
    );
    upgrade.send(&["C-d", "Enter"]);
    upgrade.save();
    let code = upgrade.exit_code(INSTALLING);
    assert_eq!(code, 0, "upgraded:\n{}", upgrade.tmux.history());
    assert_eq!(node.answer("webshop/tls.enable"), "true");
    let app = node.read("/etc/webshop/app.conf");
    assert!(
        app.contains("certificate = /etc/ssl/certs/shop.example.com.pem\n")
            && app.contains("workers = 24\n"),
        "{app}"
    );
}

/// postfix from Debian's archive through `confpack install` on a
/// terminal: its debconf questions (the document gives no value for
/// them) are asked in confpack's TUI, and the answers reach debconf,
/// postfix's configuration and confpack's store.
fn a_debian_packages_question_is_asked_in_confpacks_tui(node: &Chroot) {
    let install = node.on_terminal("postfix", &["confpack", "install", "postfix"]);
    answer_postfix(&install, "mail.example.com");
    let code = install.exit_code(INSTALLING);
    assert_eq!(code, 0, "installed:\n{}", install.tmux.history());
    let shown = node.ok(&["debconf-show", "postfix"]);
    assert!(
        shown.contains("postfix/main_mailer_type: Internet Site")
            && shown.contains("postfix/mailname: mail.example.com"),
        "{shown}"
    );
    postfix_has_its_mail_name(node, "mail.example.com");
    let answers = node.answers();
    assert_eq!(
        answers["postfix/main_mailer_type"]["source"], "user",
        "{answers}"
    );
    let main_cf = node.read("/etc/postfix/main.cf");
    assert!(
        main_cf.contains("inet_interfaces"),
        "postfix configured its Internet Site from the answers:\n{main_cf}"
    );
}

/// postfix's two questions on `terminal`: the mailer type as offered,
/// the mail name typed. The default mail name is this host's name
/// (`hostname --fqdn`): a bare name (no dot) on a machine without a
/// domain, which postfix keeps out of /etc/mailname; a person types the
/// mail domain. Returns the first question's screen.
fn answer_postfix(terminal: &Terminal, mailname: &str) -> String {
    let screen = terminal.question("General mail configuration type", INSTALLING);
    terminal.send(&["Enter"]);
    terminal.save();
    terminal.question("System mail name", ANSWERING);
    terminal.retype(mailname);
    terminal.save();
    screen
}

/// `confpack reconfigure postfix` on a terminal, like dpkg-reconfigure:
/// postfix's questions are shown again in confpack's TUI with the current
/// answers as defaults (at priority high here, to keep it short), and the
/// new mail name reaches debconf, postfix and confpack's store.
fn reconfigure_asks_a_debian_packages_questions_again(node: &Chroot) {
    let reconfigure = node.on_terminal(
        "reconfigure-postfix",
        &["confpack", "reconfigure", "postfix", "--priority", "high"],
    );
    let screen = answer_postfix(&reconfigure, "mail.reconfigured.example");
    assert!(screen.contains("Internet Site"), "{screen}");
    // postfix's title (its SETTITLE postfix/title) heads confpack's TUI.
    assert!(
        screen.contains("confpack: Postfix Configuration"),
        "{screen}"
    );
    let code = reconfigure.exit_code(INSTALLING);
    assert_eq!(code, 0, "reconfigured:\n{}", reconfigure.tmux.history());
    let shown = node.ok(&["debconf-show", "postfix"]);
    assert!(
        shown.contains("postfix/mailname: mail.reconfigured.example"),
        "{shown}"
    );
    assert_eq!(node.answer("postfix/mailname"), "mail.reconfigured.example");
    let answers = node.answers();
    assert_eq!(answers["postfix/mailname"]["source"], "user", "{answers}");
    assert_eq!(
        answers["postfix/main_mailer_type"]["source"], "user",
        "kept as the person's earlier answer: {answers}"
    );
    // postfix's postinst writes /etc/mailname for a question its config
    // marked changed, which it does only when the question was shown.
    assert_eq!(
        node.read("/etc/mailname"),
        "mail.reconfigured.example\n",
        "postfix took the new mail name"
    );
    assert!(
        node.read("/etc/postfix/main.cf")
            .contains("myorigin = /etc/mailname\n")
    );
}

/// Ctrl-C at another package's question (here dpkg-reconfigure's, under
/// `confpack reconfigure`) ends everything as at confpack's own: exit 5,
/// no process left in the node, no lock held, debconf's answers as they
/// were.
fn ctrl_c_at_a_debian_packages_question_ends_the_whole_run(node: &Chroot) {
    // debconf-show lists in no fixed order.
    let shown = || {
        let mut lines: Vec<String> = node
            .ok(&["debconf-show", "postfix"])
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let before = shown();
    let reconfigure = node.on_terminal("cancel-postfix", &["confpack", "reconfigure", "postfix"]);
    reconfigure.question("General mail configuration type", INSTALLING);
    reconfigure.send(&["C-c"]);
    reconfigure.wait_for("Quit without saving?", ANSWERING);
    reconfigure.send(&["C-c"]);
    let code = reconfigure.exit_code(ANSWERING);
    assert_eq!(code, 5, "cancelled:\n{}", reconfigure.tmux.history());
    assert_eq!(
        node.processes_after(Duration::from_secs(10)),
        Vec::new(),
        "nothing keeps running in the node"
    );
    assert_eq!(node.dpkg_lock_holders(), Vec::<String>::new());
    assert_eq!(shown(), before);
}

/// iptables-persistent's question (whether to save the current rules),
/// the one the kill steps interrupt.
const AUTOSAVE: &str = "Save current IPv4 rules?";
/// How long a run may take to end once a process under it is killed.
const ENDING: Duration = Duration::from_secs(20);

/// The pids of the node's processes named `name`.
fn pids_named(node: &Chroot, name: &str) -> Vec<u32> {
    node.processes()
        .into_iter()
        .filter(|(_, comm)| comm == name)
        .map(|(pid, _)| pid)
        .collect()
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// `confpack install iptables-persistent` on a terminal, and the node's
/// one process named `name` killed with SIGKILL while the question is in
/// confpack's TUI: the run ends within [`ENDING`], leaving no process and
/// no dpkg lock. Returns the exit code and what the terminal showed.
fn kill_under_the_question(node: &Chroot, name: &str) -> (i32, String) {
    let install = node.on_terminal(
        &format!("killed-{name}"),
        &["confpack", "install", "iptables-persistent"],
    );
    install.question(AUTOSAVE, INSTALLING);
    let pids = pids_named(node, name);
    assert_eq!(pids.len(), 1, "one {name}: {:?}", node.processes());
    kill_9(pids[0]);
    let code = install.exit_code(ENDING);
    let history = install.tmux.history();
    assert_eq!(
        node.processes_after(ENDING),
        Vec::new(),
        "nothing is left waiting after {name} was killed:\n{history}"
    );
    assert_eq!(node.dpkg_lock_holders(), Vec::<String>::new());
    (code, history)
}

/// apt-get killed while its dpkg's maintainer script waits for an answer
/// in confpack's TUI: confpack gives up the question, ends the orphaned
/// dpkg and script, and says what happened and what to run.
fn a_killed_apt_get_ends_the_run_and_says_what_to_run(node: &Chroot) {
    let (code, history) = kill_under_the_question(node, "apt-get");
    assert_eq!(code, 7, "apt-get failed:\n{history}");
    assert!(
        history.contains("killed by SIGKILL")
            && history.contains("run the same confpack command again"),
        "names what happened and what to run:\n{history}"
    );
}

/// debconf's frontend killed under its question (the next install asks
/// it again while finishing what dpkg left): the question closes, dpkg
/// reports the failed maintainer script, and confpack says what to run.
fn a_killed_debconf_ends_the_question_and_the_run(node: &Chroot) {
    let (code, history) = kill_under_the_question(node, "frontend");
    assert_eq!(code, 7, "dpkg failed:\n{history}");
    assert!(
        history.contains("run the same confpack command again"),
        "says what to run:\n{history}"
    );
}

/// The confpack that serves the question killed: debconf reads
/// end-of-file, dpkg and the script end on their own; the install after
/// that finishes the package with the person's answer.
fn a_killed_confpack_leaves_nothing_waiting_and_install_recovers(node: &Chroot) {
    let (code, history) = kill_under_the_question(node, "confpack");
    assert_eq!(code, 137, "{history}");

    let install = node.on_terminal("recovered", &["confpack", "install", "iptables-persistent"]);
    install.question(AUTOSAVE, INSTALLING);
    install.send(&["n", "Enter"]);
    install.save();
    install.question("Save current IPv6 rules?", ANSWERING);
    install.send(&["n", "Enter"]);
    install.save();
    assert_eq!(
        install.exit_code(INSTALLING),
        0,
        "{}",
        install.tmux.history()
    );
    assert_eq!(
        node.package_states()
            .get("iptables-persistent")
            .map(String::as_str),
        Some("ii")
    );
    let shown = node.ok(&["debconf-show", "iptables-persistent"]);
    assert!(
        shown.contains("iptables-persistent/autosave_v4: false"),
        "{shown}"
    );
    assert!(!node.has("/etc/iptables/rules.v4"), "no rules saved");
}

/// tripwire (booleans, a password typed twice in two fields, a note) and
/// popularity-contest (a boolean) from Debian's archive through
/// `confpack install` on a terminal: each question in confpack's TUI,
/// and the packages' own configuration, debconf and confpack's store
/// (source user) have the answers.
fn every_kind_of_debian_question_is_asked_in_confpacks_tui(node: &Chroot) {
    let install = node.on_terminal(
        "every-kind",
        &["confpack", "install", "tripwire", "popularity-contest"],
    );
    let save = |keys: &[&str]| {
        install.send(keys);
        install.save();
    };
    install.question("create/use your site key passphrase", INSTALLING);
    save(&["y", "Enter"]);
    install.question("create/use your local key passphrase", ANSWERING);
    save(&["n", "Enter"]);
    install.question("Rebuild Tripwire configuration file?", ANSWERING);
    save(&["Enter"]);
    install.question("Rebuild Tripwire policy file?", ANSWERING);
    save(&["Enter"]);
    let screen = install.question("Enter site-key passphrase", ANSWERING);
    assert!(screen.contains("question 1 of 2"), "{screen}");
    // Two password questions (the passphrase and its repetition).
    install.type_password(TRIPWIRE_PASSPHRASE, 4);
    let review = install.wait_for("Save these answers", ANSWERING);
    assert!(!review.contains(TRIPWIRE_PASSPHRASE), "{review}");
    install.send(&["s"]);
    // The key is made before the note.
    install.question("Tripwire has been installed", INSTALLING);
    install.send(&["Enter"]);
    install.question("Participate in the package usage survey?", INSTALLING);
    save(&["y", "Enter"]);
    let code = install.exit_code(INSTALLING);
    let history = install.tmux.history();
    assert_eq!(code, 0, "installed:\n{history}");
    assert!(!history.contains(TRIPWIRE_PASSPHRASE), "{history}");

    tripwire_and_popularity_contest_took_their_answers(node);
    let answers = node.answers();
    for (key, value) in [
        ("tripwire/use-localkey", "false"),
        ("tripwire/site-passphrase", TRIPWIRE_PASSPHRASE),
        ("popularity-contest/participate", "true"),
    ] {
        assert_eq!(answers[key]["value"], value, "{key}: {answers}");
        assert_eq!(answers[key]["source"], "user", "{key}: {answers}");
    }
    assert!(
        answers.get("tripwire/installed").is_none(),
        "a note is no answer: {answers}"
    );
}

/// tripwire's site key made with the passphrase, no local key, and
/// popularity-contest participating: the answers both ways of answering
/// give.
fn tripwire_and_popularity_contest_took_their_answers(node: &Chroot) {
    tripwire_has_its_site_key_and_no_local_key(node, TRIPWIRE_PASSPHRASE);
    let shown = node.ok(&["debconf-show", "tripwire"]);
    assert!(
        shown.contains("tripwire/use-sitekey: true")
            && shown.contains("tripwire/use-localkey: false"),
        "{shown}"
    );
    popularity_contest_participates(node);
}

/// The package's environment document comes signed from the repository
/// (issue 12) and the node says when it no longer matches it (issue 14):
/// through confpack's own commands on a fresh Debian 12 root.
#[test]
fn a_node_verifies_its_signed_document_and_status_sees_every_drift() {
    let Some(node) = fresh_node(&[]) else {
        return;
    };
    let keyring = Keyring::new("realnode-trust").expect("gpg");
    let mut repo = Repo::example();
    let published = repo.path("../published");
    std::fs::create_dir_all(&published).expect("mkdir");
    let server = Server::start(&published);
    let url = format!("{}dists/production/documents/webshop.xml", server.url);
    edit(
        &repo,
        "packages/webshop-app/control/control.yml",
        "  url: https://config.example.com/environments/webshop.xml\n",
        &format!("  url: {url}\n"),
    );
    repo.commit("online document on the repository");
    let debs = repo.path("../debs");
    let built = build_with_runtime(&repo, &debs);
    let runtime = find(&built, "confpack-runtime").clone();
    // The online copy sets 32 workers; the packaged copy says 16.
    let online = repo.path("../online.xml");
    let document = std::fs::read_to_string(repo.path("environments/webshop.xml")).expect("read");
    let with_workers = |n: u32| {
        document.replace(
            "<question key=\"webshop/workers\">16</question>",
            &format!("<question key=\"webshop/workers\">{n}</question>"),
        )
    };
    std::fs::write(&online, with_workers(32)).expect("write");
    let document_arg = format!("webshop={}", online.display());
    keyring.publish(
        &published,
        "production",
        &[Path::new("--document"), Path::new(&document_arg), &debs],
    );
    let configuration = Configuration {
        keyring,
        published,
        first: debs.clone(),
        second: debs,
        runtime,
        _repo: repo,
    };
    node.bootstrap(&configuration, &server.url);
    preseed(&node);
    node.ok_with_input(
        &["confpack", "set", "--secret", "webshop/db.password", "-"],
        PASSWORD,
    );
    node.ok(&["confpack", "install", "webserver"]);
    let app = "/etc/webshop/app.conf";
    assert!(
        node.read(app).contains("workers = 32\n"),
        "the verified online document is used:\n{}",
        node.read(app)
    );
    let (code, status, stderr) = node.run(&["confpack", "status"]);
    assert_eq!(code, 0, "a fresh node matches:\n{status}{stderr}");

    // A tampered online copy (not what the signed Release lists) is
    // refused in one warning; the last verified copy stays in use.
    std::fs::write(
        configuration
            .published
            .join("dists/production/documents/webshop.xml"),
        with_workers(48),
    )
    .expect("tamper");
    let (code, _, stderr) = node.run(&["confpack", "configure", "--package", "webshop-app"]);
    assert_eq!(code, 0, "{stderr}");
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("warning") && line.contains(&url))
        .collect();
    assert_eq!(refused.len(), 1, "one warning names the URL:\n{stderr}");
    assert!(
        node.read(app).contains("workers = 32\n"),
        "{}",
        node.read(app)
    );

    // A person edits a rendered file: status names it, exit 9.
    node.write(app, b"workers = 1\n", 0o644);
    let (code, status, _) = node.run(&["confpack", "status"]);
    assert_eq!(code, 9, "{status}");
    assert!(
        status.lines().any(|l| l.contains(app)),
        "the edited file is named:\n{status}"
    );
    // Unattended configure saves the edit beside it and renders again.
    let (code, _, stderr) = node.run(&["confpack", "configure", "--package", "webshop-app"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("warning") && l.contains(app)),
        "{stderr}"
    );
    assert_eq!(node.read(&format!("{app}.confpack-old")), "workers = 1\n");
    assert!(node.read(app).contains("workers = 32\n"));

    // An operator's value against the document: kept loudly, listed by
    // status until decided.
    node.ok(&["confpack", "set", "webshop/workers", "4"]);
    let (code, _, stderr) = node.run(&["confpack", "configure", "--package", "webshop-app"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("kept your value \"4\""), "{stderr}");
    let (code, status, _) = node.run(&["confpack", "status"]);
    assert_eq!(code, 9, "{status}");
    assert!(status.contains("webshop/workers"), "{status}");
    node.ok(&[
        "confpack",
        "configure",
        "--package",
        "webshop-app",
        "--take-document",
        "webshop/workers",
    ]);
    assert!(node.read(app).contains("workers = 32\n"));
    let (code, status, stderr) = node.run(&["confpack", "status"]);
    assert_eq!(code, 0, "decided and rendered:\n{status}{stderr}");

    purge_the_role(&node);
}

/// What the runtime package brings besides the binary (issue 18): its
/// manual, read with man as a person would, its shell completions, and
/// the converge timer that set-environment enables, configures and
/// disables with links alone (no systemd runs in a chroot, as in an
/// image build); purging the runtime takes them away.
#[test]
fn the_runtime_ships_its_manual_and_set_environment_enables_its_timer() {
    let Some(node) = fresh_node(&[]) else {
        return;
    };
    let keyring = Keyring::new("realnode-timer").expect("gpg");
    let mut repo = Repo::example();
    repo.commit("example");
    let built = build_with_runtime(&repo, &repo.path("../debs"));
    let runtime = find(&built, "confpack-runtime");
    let runtime = node.copy_in(runtime, &file_name(runtime));
    let key = node.copy_in(&keyring.public, "confpack.asc");
    node.ok(&["apt-get", "update", "-qq"]);
    // man-db is what a person reads the manual with; a minimal root lacks it.
    node.ok(&[
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        &runtime,
        "man-db",
    ]);
    man_renders_a_subcommands_page(&node);
    bash_completes_confpack(&node);
    set_environment_enables_the_timer_and_its_flags_change_it(&node, &key);
    node.ok(&["apt-get", "purge", "-y", "confpack-runtime"]);
    assert_eq!(
        node.leftovers(&[
            "/usr/share/man/man1/confpack-configure.1.gz",
            "/lib/systemd/system/confpack-converge.timer",
            "/etc/systemd/system/timers.target.wants/confpack-converge.timer",
            "/etc/systemd/system/confpack-converge.timer.d",
        ]),
        Vec::<String>::new()
    );
}

fn man_renders_a_subcommands_page(node: &Chroot) {
    for page in ["confpack", "confpack-configure", "confpack-set-environment"] {
        assert!(
            node.has(&format!("/usr/share/man/man1/{page}.1.gz")),
            "{page}"
        );
    }
    // No hyphenation or justification, lines joined: phrases as written.
    let (code, page, stderr) = node.run(&["man", "--nh", "--nj", "confpack-configure"]);
    assert_eq!(code, 0, "{stderr}");
    let page = page.split_whitespace().collect::<Vec<_>>().join(" ");
    for text in [
        "confpack-configure - Merge the environment document",
        "--take-document",
        "EXIT STATUS",
        "ENVIRONMENT",
        "DEBIAN_FRONTEND",
        "FILES",
        "/var/lib/confpack/db",
    ] {
        assert!(
            page.contains(text),
            "{text:?} in man confpack-configure:\n{page}"
        );
    }
    let found = node.ok(&["man", "-w", "confpack-upgrade"]);
    assert_eq!(found.trim(), "/usr/share/man/man1/confpack-upgrade.1.gz");
}

fn bash_completes_confpack(node: &Chroot) {
    let completion = "/usr/share/bash-completion/completions/confpack";
    for path in [
        completion,
        "/usr/share/zsh/vendor-completions/_confpack",
        "/usr/share/fish/vendor_completions.d/confpack.fish",
    ] {
        assert!(node.has(path), "{path}");
    }
    let said = node.ok(&[
        "bash",
        "-c",
        &format!(". {completion} && complete -p confpack"),
    ]);
    assert!(said.contains("confpack"), "{said}");
}

fn set_environment_enables_the_timer_and_its_flags_change_it(node: &Chroot, key: &str) {
    let wants = "/etc/systemd/system/timers.target.wants/confpack-converge.timer";
    let drop_in = "/etc/systemd/system/confpack-converge.timer.d/confpack.conf";
    let enabled = |node: &Chroot| std::fs::read_link(node.path(wants)).ok();
    assert_eq!(enabled(node), None, "shipped disabled");
    let url = "http://127.0.0.1:9/confpack";
    let set = |extra: &[&str]| {
        let mut args = vec![
            "confpack",
            "set-environment",
            "production",
            "--repo-url",
            url,
            "--key",
            key,
        ];
        args.extend(extra);
        node.ok(&args)
    };
    set(&[]);
    let target = enabled(node).expect("set-environment enables the timer");
    assert_eq!(
        target,
        Path::new("/lib/systemd/system/confpack-converge.timer")
    );
    assert!(
        node.has(&target.display().to_string()),
        "the link is not dangling"
    );
    assert!(!node.has(drop_in), "the shipped interval");

    set(&["--converge-every", "15min"]);
    let interval = node.read(drop_in);
    assert!(
        interval.contains("OnCalendar=\nOnCalendar=*-*-* *:00/15:00\nRandomizedDelaySec=15min\n"),
        "{interval}"
    );
    assert!(enabled(node).is_some());

    let said = set(&["--no-converge"]);
    assert_eq!(enabled(node), None, "{said}");
    let said = set(&[]);
    assert_eq!(enabled(node), None, "the node's choice is kept:\n{said}");
    assert!(said.contains("stays disabled"), "{said}");

    set(&["--converge-every", "1h"]);
    assert!(enabled(node).is_some());
    assert!(node.read(drop_in).contains("RandomizedDelaySec=1h\n"));
    let (code, _, stderr) = node.run(&[
        "confpack",
        "set-environment",
        "production",
        "--converge-every",
        "45min",
    ]);
    assert_eq!(code, 2, "a usage error: {stderr}");
}

/// Where a block of the README's quick start runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The build host: this machine, in a home of its own.
    Host,
    /// The node: a fresh bookworm root.
    Node,
}

/// The README's quick start: every ```sh block of the section, with the
/// place its `<!-- quickstart: … -->` marker names.
fn quick_start_blocks() -> Vec<(Place, String)> {
    let readme = std::fs::read_to_string(crate::common::repo().join("README.md")).expect("README");
    let start = readme
        .find("## Quick start")
        .expect("the README has a quick start");
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    let mut blocks = Vec::new();
    let mut place = None;
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(marker) = line.strip_prefix("<!-- quickstart: ") {
            place = match marker.trim_end_matches(" -->") {
                "host" => Some(Place::Host),
                "node" => Some(Place::Node),
                other => panic!("unknown quick start marker {other:?}"),
            };
        } else if line.starts_with("```sh") {
            let place = place
                .take()
                .expect("every block of the quick start is marked (so it is tested)");
            let text: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            blocks.push((place, text.join("\n")));
        }
    }
    blocks
}

/// The README's quick start, block by block as written: the build host's
/// blocks with `bash -e` on this machine (a temporary home, a copy of the
/// checkout's `examples`, this build's confpack first on PATH), the node's
/// in a fresh bookworm root as root. Two substitutions, both here: the
/// test serves the repository (the `python3 -m http.server` line is left
/// out and its URL replaced by the test server's), and the files the
/// build host wrote to `~` are copied to the node's `~`.
#[test]
fn the_readmes_quick_start_works() {
    let Some(node) = fresh_node(&["git", "bash"]) else {
        return;
    };
    let started = Instant::now();
    let blocks = quick_start_blocks();
    let places: Vec<Place> = blocks.iter().map(|(place, _)| *place).collect();
    assert_eq!(
        places,
        [
            Place::Host,
            Place::Node,
            Place::Host,
            Place::Node,
            Place::Node
        ],
        "build, bootstrap, change, upgrade and roll back, remove"
    );
    let home = tempfile::tempdir().expect("tempdir");
    let checkout = home.path().join("checkout");
    crate::build::copy_tree(
        &crate::common::repo().join("examples"),
        &checkout.join("examples"),
    );
    let binary = Path::new(env!("CARGO_BIN_EXE_confpack"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut exports = String::new();
    let mut server: Option<Server> = None;
    for (place, text) in &blocks {
        match place {
            Place::Host => {
                let script: Vec<&str> = text
                    .lines()
                    .filter(|line| !line.contains("http.server"))
                    .collect();
                let script = format!("{exports}{}", script.join("\n"));
                let (code, stdout, stderr) = run(Command::new("bash")
                    .args(["-e", "-c", &script])
                    .current_dir(&checkout)
                    .env("HOME", home.path())
                    .env("PATH", &path)
                    .env_remove("GNUPGHOME")
                    .stdin(Stdio::null()));
                assert_eq!(code, 0, "build host:\n{script}\n{stdout}\n{stderr}");
                for line in text.lines().filter(|l| l.starts_with("export ")) {
                    exports.push_str(line);
                    exports.push('\n');
                }
                server.get_or_insert_with(|| Server::start(&home.path().join("repo")));
            }
            Place::Node => {
                copy_home_into(home.path(), &node);
                let url = server.as_ref().expect("served first").url.clone();
                let script = text.replace("http://127.0.0.1:8080", url.trim_end_matches('/'));
                let output = node.ok(&["bash", "-e", "-c", &script]);
                eprintln!("realnode: quick start block on the node:\n{output}");
            }
        }
    }
    let _ = Command::new("gpgconf")
        .args(["--kill", "all"])
        .env("GNUPGHOME", home.path().join(".confpack-gnupg"))
        .status();
    eprintln!(
        "realnode: the README's quick start in {:.0?}",
        started.elapsed()
    );
}

/// The build host's `~/debs` and `~/confpack.asc` into the node's `~`.
fn copy_home_into(home: &Path, node: &Chroot) {
    let debs = node.path("/root/debs");
    std::fs::create_dir_all(&debs).expect("node's ~/debs");
    for deb in debs_in(&home.join("debs")) {
        std::fs::copy(&deb, debs.join(file_name(&deb))).expect("copy a .deb");
    }
    let key = home.join("confpack.asc");
    if key.exists() {
        std::fs::copy(&key, node.path("/root/confpack.asc")).expect("copy the key");
    }
}
