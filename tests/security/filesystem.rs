//! Security regressions: filesystem. Symlinks in the root, temp files a
//! killed run left, directories another user owns, hooks that outlive
//! their timeout, hostile debconf selections.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use crate::common::*;

fn configure_webshop(root: &Path) -> std::process::Command {
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

/// A root with the webshop package installed and its password preseeded.
fn webshop_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    install_webshop(dir.path());
    preseed_password(dir.path(), "secret");
    dir
}

/// Every file under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read_dir") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_dir() {
                pending.push(entry.path());
            } else {
                out.push(
                    entry
                        .path()
                        .strip_prefix(dir)
                        .expect("prefix")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_symlink_at_a_target_is_refused_and_neither_it_nor_its_target_changes() {
    let dir = webshop_root();
    let outside = tempfile::tempdir().expect("tempdir");
    let victim = outside.path().join("passwd");
    std::fs::write(&victim, "original").expect("write");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
    std::fs::create_dir_all(dir.path().join("etc/webshop")).expect("mkdir");
    let link = dir.path().join("etc/webshop/app.conf");
    symlink(&victim, &link).expect("symlink");

    let (code, _, stderr) = run(&mut configure_webshop(dir.path()));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{}: is a symlink", link.display())),
        "{stderr}"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the link is kept"
    );
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "original");
    let mode = std::fs::metadata(&victim)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o4755);
}

#[test]
fn a_symlinked_directory_on_the_way_never_leads_outside_the_root() {
    let dir = webshop_root();
    let outside = tempfile::tempdir().expect("tempdir");
    symlink(outside.path(), dir.path().join("etc")).expect("symlink");

    ok(&mut configure_webshop(dir.path()));
    assert_eq!(files_under(outside.path()), Vec::<String>::new());
    // Seen from inside the root, as a chroot sees it.
    let inside = dir
        .path()
        .join(outside.path().strip_prefix("/").expect("absolute"))
        .join("webshop/app.conf");
    assert!(inside.is_file(), "{} is missing", inside.display());
}

#[test]
fn a_symlinked_directory_inside_the_root_is_followed() {
    let dir = webshop_root();
    std::fs::create_dir_all(dir.path().join("srv/webshop")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
    symlink("../srv/webshop", dir.path().join("etc/webshop")).expect("symlink");
    ok(&mut configure_webshop(dir.path()));
    assert!(dir.path().join("srv/webshop/app.conf").is_file());
    ok(confpack(dir.path()).args(["remove-rendered", "webshop"]));
    assert!(!dir.path().join("srv/webshop/app.conf").exists());
}

#[test]
fn remove_rendered_saves_a_file_edited_since_and_says_so() {
    let dir = webshop_root();
    ok(&mut configure_webshop(dir.path()));
    let app = dir.path().join("etc/webshop/app.conf");
    std::fs::write(&app, "edited by hand\n").expect("write");

    let (code, _, stderr) = run(confpack(dir.path()).args(["remove-rendered", "webshop"]));
    assert_eq!(code, 0, "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("edited")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(&app.display().to_string()), "{stderr}");
    assert!(!app.exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/webshop/app.conf.confpack-old"))
            .expect("saved"),
        "edited by hand\n"
    );
    assert!(!dir.path().join("etc/webshop/database.conf").exists());
}

#[test]
fn remove_rendered_does_not_delete_through_a_symlinked_directory() {
    let dir = webshop_root();
    ok(&mut configure_webshop(dir.path()));
    // The rendered directory moved out of the root, a link left in its place.
    let outside = tempfile::tempdir().expect("tempdir");
    let moved = outside.path().join("webshop");
    std::fs::rename(dir.path().join("etc/webshop"), &moved).expect("move");
    symlink(&moved, dir.path().join("etc/webshop")).expect("symlink");

    ok(confpack(dir.path()).args(["remove-rendered", "webshop"]));
    assert_eq!(files_under(&moved), ["app.conf", "database.conf"]);
}

/// The webshop package with one hook running `script` in `sh -c`.
fn webshop_with_hook(script: &str, timeout: u64) -> tempfile::TempDir {
    let dir = webshop_root();
    let yaml = format!(
        "environment:\n  file: environment.xml\nhooks:\n  - name: spawn\n    reads: [webshop/db.host]\n    run: [sh, -c, {}]\n    timeout: {timeout}\n",
        serde_json::Value::String(script.to_string())
    );
    std::fs::write(
        dir.path().join("usr/share/confpack/webshop/package.yml"),
        yaml,
    )
    .expect("package.yml");
    dir
}

/// Waits until `path` holds a pid and returns it (10 s at most).
fn wait_for_pid(path: &Path) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether `pid` still runs (a zombie nobody reaped does not).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

/// Whether `pid` ends within 3 s.
fn ends(pid: i32) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while running(pid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

const BACKGROUND: &str = "sleep 97 & echo $! > \"$CONFPACK_ROOT/background.pid\"; echo $$ > \"$CONFPACK_ROOT/hook.pid\"; exec sleep 98";

#[test]
fn a_hook_timeout_kills_what_the_hook_started_in_the_background() {
    let dir = webshop_with_hook(BACKGROUND, 1);
    // Output to a file: a pipe would stay open as long as sleep 97 lives.
    let log = dir.path().join("configure.log");
    let file = std::fs::File::create(&log).expect("log");
    let status = configure_webshop(dir.path())
        .stdout(file.try_clone().expect("clone"))
        .stderr(file)
        .status()
        .expect("run");
    let output = std::fs::read_to_string(&log).expect("log");
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("killed with its process group"), "{output}");
    let background = wait_for_pid(&dir.path().join("background.pid"));
    assert!(
        ends(background),
        "sleep 97 ({background}) outlived the hook"
    );
}

#[test]
fn configure_ended_by_a_signal_ends_the_running_hook_with_it() {
    use std::os::unix::process::ExitStatusExt;
    let dir = webshop_with_hook(BACKGROUND, 60);
    let mut child = configure_webshop(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let hook = wait_for_pid(&dir.path().join("hook.pid"));
    let background = wait_for_pid(&dir.path().join("background.pid"));
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(15), "{status}");
    assert!(ends(hook), "the hook ({hook}) outlived confpack");
    assert!(
        ends(background),
        "sleep 97 ({background}) outlived confpack"
    );
}

/// Whether this test runs as root; prints why it is skipped otherwise.
fn as_root(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("skipped {test}: chowning to another user needs root");
    }
    root
}

const NOBODY: u32 = 65534;

#[test]
fn a_database_directory_another_user_owns_is_refused() {
    if !as_root("a_database_directory_another_user_owns_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("var/lib/confpack/db");
    std::fs::create_dir_all(&db).expect("mkdir");
    std::os::unix::fs::chown(&db, Some(NOBODY), Some(NOBODY)).expect("chown");
    let (code, _, stderr) = run(confpack(dir.path()).args(["set", "webshop/a", "1"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("owned by uid 65534"), "{stderr}");
    assert!(stderr.contains("chown -R 0"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(&db).expect("read_dir").count(),
        0,
        "nothing is written into it"
    );
}

#[test]
fn an_environment_cache_another_user_owns_is_refused() {
    if !as_root("an_environment_cache_another_user_owns_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    install_webshop(dir.path());
    let cache = dir.path().join("var/cache/confpack/environments");
    std::fs::create_dir_all(&cache).expect("mkdir");
    std::os::unix::fs::chown(&cache, Some(NOBODY), Some(NOBODY)).expect("chown");
    // Nothing listens there: only the cache matters.
    let (code, _, stderr) = run(confpack(dir.path()).args([
        "configure",
        "--package",
        "webshop",
        "--env-url",
        "http://127.0.0.1:9/env.xml",
        "--machine",
        "10.10.0.21",
        "--frontend",
        "noninteractive",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: the environment cache directory is owned by uid 65534",
            cache.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_node_key_directory_another_user_owns_is_refused() {
    if !as_root("a_node_key_directory_another_user_owns_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("etc/confpack");
    std::fs::create_dir_all(&keys).expect("mkdir");
    std::os::unix::fs::chown(&keys, Some(NOBODY), Some(NOBODY)).expect("chown");
    let (code, _, stderr) = run(confpack(dir.path()).arg("keygen"));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: the node key directory is owned by uid 65534",
            keys.display()
        )),
        "{stderr}"
    );
    assert!(!keys.join("key").exists());
}

#[test]
fn the_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(confpack(dir.path()).args(["set", "webshop/a", "1"]));
    let db = dir.path().join("var/lib/confpack/db");
    // A database from before: its files were 0644.
    let conf = db.join("conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    ok(confpack(dir.path()).args(["set", "webshop/a", "2"]));
    for entry in std::fs::read_dir(&db).expect("read_dir") {
        let entry = entry.expect("entry");
        let mode = entry.metadata().expect("stat").mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.path().display());
    }
}

/// A file named like confpack's temp files, last changed an hour ago.
fn stale(path: &Path) {
    std::fs::write(path, "half written").expect("write");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(hour_ago)
        .expect("mtime");
}

#[test]
fn temp_files_a_killed_run_left_are_removed_by_the_next_run() {
    let dir = webshop_root();
    ok(&mut configure_webshop(dir.path()));
    let beside = dir.path().join("etc/webshop/.confpack-Ab12Cd");
    let in_lib = dir.path().join("var/lib/confpack/.confpack-Zz9Yy8");
    let not_ours = dir.path().join("etc/webshop/.confpack-notours");
    stale(&beside);
    stale(&in_lib);
    stale(&not_ours);
    let outside = tempfile::tempdir().expect("tempdir");
    let target = outside.path().join("keep");
    stale(&target);
    let link = dir.path().join("etc/webshop/.confpack-Lnk123");
    symlink(&target, &link).expect("symlink");

    // A changed answer, so the next configure does its work.
    preseed_password(dir.path(), "another");
    ok(&mut configure_webshop(dir.path()));
    assert!(!beside.exists(), "{} is left", beside.display());
    assert!(!in_lib.exists(), "{} is left", in_lib.display());
    assert!(not_ours.exists(), "another name is not confpack's");
    assert!(
        std::fs::symlink_metadata(&link).is_ok(),
        "a symlink is not ours"
    );
    assert!(target.exists());
}

#[test]
fn import_debconf_refuses_a_nul_a_path_like_key_and_a_dangling_continuation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("selections");
    std::fs::write(
        &file,
        "p p/a string x\0y\np ../../etc string v\np p/b string ok\np p/c string cut \\\n",
    )
    .expect("write");
    let (code, _, stderr) = run(confpack(dir.path()).arg("import-debconf").arg(&file));
    assert_eq!(code, 1, "{stderr}");
    let name = file.display().to_string();
    for expected in [
        format!("{name}:1: the value of p/a contains a NUL byte"),
        format!("{name}:2: ../../etc: "),
        format!("{name}:4: the last line ends in `\\`"),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in\n{stderr}"
        );
    }
    assert!(
        !dir.path().join("var/lib/confpack/db").exists()
            || answers(dir.path())
                .as_object()
                .is_some_and(|a| a.is_empty())
    );
}

#[test]
fn set_refuses_a_path_like_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = run(confpack(dir.path()).args(["set", "../../etc", "v"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("../../etc: "), "{stderr}");
}

#[test]
fn a_secret_on_the_command_line_is_warned_about_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) =
        run(confpack(dir.path()).args(["set", "--secret", "webshop/db.password", "hunter2"]));
    assert_eq!(code, 0, "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("`ps`")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("`-`"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let mut quiet = confpack(dir.path());
    quiet.args(["set", "--secret", "webshop/db.password", "-"]);
    let (_, _, stderr) = run(&mut quiet);
    assert!(!stderr.contains("`ps`"), "{stderr}");
}

#[test]
fn a_symlinked_directory_under_templates_is_refused_by_name() {
    let dir = webshop_root();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    std::fs::write(elsewhere.path().join("extra.conf.j2"), "x\n").expect("write");
    let link = dir
        .path()
        .join("usr/share/confpack/webshop/templates/etc/extra");
    symlink(elsewhere.path(), &link).expect("symlink");
    let (code, _, stderr) = run(&mut configure_webshop(dir.path()));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&link.display().to_string()), "{stderr}");
    assert!(stderr.contains("symlink"), "{stderr}");
}
