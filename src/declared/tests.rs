//! Converging, undoing and checking declarations (directories as the kind
//! under test; each kind's own cases are in its module's tests).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::host::FakeHost;
use super::*;
use crate::RecordingListener;

/// A root whose passwd and group name the test's own uid and gid `svc`
/// (chown to them works without privileges).
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    std::fs::create_dir_all(dir.path().join("etc")).expect("etc");
    std::fs::write(
        dir.path().join("etc/passwd"),
        format!("root:x:0:0::/root:/bin/sh\nsvc:x:{uid}:{gid}::/:/usr/sbin/nologin\n"),
    )
    .expect("passwd");
    std::fs::write(
        dir.path().join("etc/group"),
        format!("root:x:0:\nsvc:x:{gid}:\n"),
    )
    .expect("group");
    dir
}

fn directory(path: &str, mode: &str) -> directories::Directory {
    directories::Directory {
        path: path.into(),
        owner: Some("svc".into()),
        group: Some("svc".into()),
        mode: Some(mode.into()),
    }
}

fn declarations(dirs: Vec<directories::Directory>) -> Declarations {
    Declarations {
        directories: dirs,
        ..Declarations::default()
    }
}

/// A configure run of package `demo` against a [`FakeHost`] (each kind's
/// tests use it too).
pub(super) struct Run {
    pub(super) host: FakeHost,
    pub(super) listener: RecordingListener,
    /// The files this run changed for the package.
    pub(super) changed: Vec<std::path::PathBuf>,
}

impl Run {
    pub(super) fn new(root: &Path) -> Run {
        Run {
            host: FakeHost::new(root),
            listener: RecordingListener::default(),
            changed: Vec::new(),
        }
    }

    pub(super) fn cx<'a>(&'a mut self, root: &'a Path) -> Context<'a> {
        Context {
            root,
            package: "demo",
            host: &mut self.host,
            listener: &mut self.listener,
            render: &no_render,
            changed: &self.changed,
            secrets: &crate::declared::NoSecrets,
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

#[test]
fn a_directory_is_made_changed_in_place_and_removed_when_dropped() {
    let dir = root();
    let root = dir.path();
    let mut run = Run::new(root);
    let first = converge(
        &declarations(vec![directory("/var/lib/demo/data", "0750")]),
        Vec::new(),
        &mut run.cx(root),
    );
    assert!(first.failure.is_none(), "{:?}", first.failure);
    let made = root.join("var/lib/demo/data");
    assert_eq!(mode(&made), 0o750);
    assert_eq!(
        std::fs::metadata(&made).expect("stat").uid(),
        rustix::process::getuid().as_raw()
    );
    assert_eq!(first.applied.len(), 1);

    // The same declaration again changes nothing; a new mode is applied.
    let again = converge(
        &declarations(vec![directory("/var/lib/demo/data", "0750")]),
        first.records.clone(),
        &mut run.cx(root),
    );
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    let changed = converge(
        &declarations(vec![directory("/var/lib/demo/data", "0700")]),
        again.records,
        &mut run.cx(root),
    );
    assert_eq!(mode(&made), 0o700);
    assert_eq!(changed.applied.len(), 1);

    // Dropped by a new version: removed (empty).
    let dropped = converge(&Declarations::default(), changed.records, &mut run.cx(root));
    assert!(dropped.records.is_empty());
    assert_eq!(dropped.undone.len(), 1);
    assert!(!made.exists());
    assert!(
        root.join("var/lib/demo").exists(),
        "parents are not the package's"
    );
}

#[test]
fn a_directory_with_files_is_kept_on_remove_and_forgotten_on_purge() {
    let dir = root();
    let root = dir.path();
    let mut run = Run::new(root);
    let done = converge(
        &declarations(vec![directory("/srv/demo", "0755")]),
        Vec::new(),
        &mut run.cx(root),
    );
    std::fs::write(root.join("srv/demo/user-data"), "x").expect("write");
    let (kept, errors) = undo_all(done.records, Undo::Remove, &mut run.cx(root));
    assert!(errors.is_empty());
    assert_eq!(kept.len(), 1, "kept until purge");
    assert!(
        run.listener.warnings[0].contains("not empty"),
        "{:?}",
        run.listener.warnings
    );
    let (kept, _) = undo_all(kept, Undo::Purge, &mut run.cx(root));
    assert!(kept.is_empty());
    assert!(
        root.join("srv/demo/user-data").exists(),
        "never deletes what is not its own"
    );
}

#[test]
fn an_existing_directory_gets_its_owner_and_mode_back() {
    let dir = root();
    let root = dir.path();
    std::fs::create_dir_all(root.join("srv/shared")).expect("mkdir");
    std::fs::set_permissions(
        root.join("srv/shared"),
        std::fs::Permissions::from_mode(0o711),
    )
    .expect("chmod");
    let mut run = Run::new(root);
    let done = converge(
        &declarations(vec![directory("/srv/shared", "0770")]),
        Vec::new(),
        &mut run.cx(root),
    );
    assert_eq!(mode(&root.join("srv/shared")), 0o770);
    let (kept, _) = undo_all(done.records, Undo::Remove, &mut run.cx(root));
    assert!(kept.is_empty());
    assert!(
        root.join("srv/shared").is_dir(),
        "not the package's to remove"
    );
    assert_eq!(mode(&root.join("srv/shared")), 0o711);
}

#[test]
fn a_symlink_or_file_at_the_path_is_refused_and_earlier_records_are_kept() {
    let dir = root();
    let root = dir.path();
    let outside = tempfile::tempdir().expect("outside");
    // Its mode set, not the umask's: the store opens sled with umask 077
    // for the whole process, which a parallel test may have set just now.
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::create_dir_all(root.join("srv")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), root.join("srv/link")).expect("symlink");
    let mut run = Run::new(root);
    let done = converge(
        &declarations(vec![
            directory("/srv/first", "0755"),
            directory("/srv/link", "0700"),
        ]),
        Vec::new(),
        &mut run.cx(root),
    );
    let failure = done.failure.expect("refused").to_string();
    assert!(failure.contains("directory /srv/link"), "{failure}");
    assert_eq!(
        done.records.len(),
        1,
        "the first one is recorded: {:?}",
        done.records
    );
    assert_ne!(mode(outside.path()), 0o700, "never through the link");
}

#[test]
fn drift_names_what_changed() {
    let dir = root();
    let root = dir.path();
    let mut run = Run::new(root);
    let done = converge(
        &declarations(vec![directory("/srv/demo", "0750")]),
        Vec::new(),
        &mut run.cx(root),
    );
    let record = &done.records[0];
    assert!(record.drift(&mut run.cx(root)).is_empty());
    std::fs::set_permissions(
        root.join("srv/demo"),
        std::fs::Permissions::from_mode(0o777),
    )
    .expect("chmod");
    assert_eq!(
        record.drift(&mut run.cx(root)),
        ["mode 0777 instead of 0750"]
    );
    std::fs::remove_dir(root.join("srv/demo")).expect("rmdir");
    assert_eq!(record.drift(&mut run.cx(root)), ["missing"]);
}

#[test]
fn checks_name_the_declaration() {
    let bad = declarations(vec![
        directories::Directory {
            path: "var/lib/x".into(),
            owner: Some("Bad Name".into()),
            group: None,
            mode: Some("999".into()),
        },
        directory("/srv/a", "0755"),
        directory("/srv/a", "0700"),
    ]);
    let messages: Vec<String> = bad
        .check()
        .into_iter()
        .map(|i| format!("{} {}: {}", i.key, i.id, i.message))
        .collect();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(
        messages[0].starts_with("directories var/lib/x: path:"),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("mode: \"999\"")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("owner: \"Bad Name\"")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("declared twice")),
        "{messages:#?}"
    );
}

#[test]
fn records_round_trip_through_json_with_their_kind() {
    let record = Record::Directory(directories::Record {
        path: "/srv/demo".into(),
        applied: directories::Ownership {
            uid: 1,
            gid: 2,
            mode: 0o750,
        },
        before: None,
    });
    let json = serde_json::to_string(&record).expect("json");
    assert!(json.contains("\"kind\":\"directory\""), "{json}");
    assert_eq!(serde_json::from_str::<Record>(&json).expect("back"), record);
}

#[test]
fn records_are_saved_after_every_step_so_a_killed_run_forgets_nothing() {
    let dir = root();
    let root = dir.path();
    let mut run = Run::new(root);
    let mut saved: Vec<Vec<Record>> = Vec::new();
    let mut save = |records: &[Record]| {
        saved.push(records.to_vec());
        Ok(())
    };
    let mut books = Bookkeeping {
        save: &mut save,
        owner: &|_| None,
    };
    let two = declarations(vec![
        directory("/srv/a", "0750"),
        directory("/srv/b", "0750"),
    ]);
    let done = converge_recording(&two, Vec::new(), &mut run.cx(root), &mut books);
    assert!(done.failure.is_none());
    assert_eq!(saved.len(), 2, "one save per directory made");
    assert_eq!(
        saved[0].len(),
        1,
        "the first is saved before the second is made"
    );
    assert_eq!(saved[1], done.records);
}

#[test]
fn a_declaration_another_package_owns_is_refused_before_anything_changes() {
    let dir = root();
    let root = dir.path();
    let mut run = Run::new(root);
    let mut save = |_: &[Record]| Ok(());
    let owner = |id: &Id| (id.name == "/srv/shared").then(|| "other".to_string());
    let mut books = Bookkeeping {
        save: &mut save,
        owner: &owner,
    };
    let done = converge_recording(
        &declarations(vec![directory("/srv/shared", "0750")]),
        Vec::new(),
        &mut run.cx(root),
        &mut books,
    );
    let message = done.failure.expect("refused").to_string();
    assert!(
        message.contains("directory /srv/shared: package other declares it too"),
        "{message}"
    );
    assert!(!root.join("srv/shared").exists());
}

#[test]
fn a_symlink_on_the_way_that_another_user_owns_is_not_followed() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: giving a symlink to another user needs root");
        return;
    }
    let dir = root();
    let root = dir.path();
    std::fs::create_dir_all(root.join("srv/app")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc")).expect("etc");
    // A service account plants a link in a directory it owns.
    std::os::unix::fs::symlink("/etc", root.join("srv/app/cache")).expect("symlink");
    std::os::unix::fs::lchown(root.join("srv/app/cache"), Some(12345), Some(12345))
        .expect("lchown");
    let mut run = Run::new(root);
    let done = converge(
        &declarations(vec![directory("/srv/app/cache/sudoers.d", "0755")]),
        Vec::new(),
        &mut run.cx(root),
    );
    let message = done.failure.expect("refused").to_string();
    assert!(message.contains("symlink owned by uid 12345"), "{message}");
    assert!(!root.join("etc/sudoers.d").exists());
    // root's own links are followed as a chroot would.
    std::fs::remove_file(root.join("srv/app/cache")).expect("rm");
    std::os::unix::fs::symlink("/etc", root.join("srv/app/cache")).expect("symlink");
    let done = converge(
        &declarations(vec![directory("/srv/app/cache/sudoers.d", "0755")]),
        Vec::new(),
        &mut run.cx(root),
    );
    assert!(done.failure.is_none(), "{:?}", done.failure);
    assert!(root.join("etc/sudoers.d").is_dir());
}

#[test]
fn what_a_block_is_intended_to_write_is_what_applying_writes_and_the_rest_is_its_state() {
    let dir = root();
    let root = dir.path();
    std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").expect("hosts");
    let block = blocks::Block {
        file: "/etc/hosts".into(),
        name: Some("cluster".into()),
        content: "{{ answers }}".into(),
        comment: None,
        create: false,
    };
    let declared = Declarations {
        directories: vec![directory("/var/lib/demo", "0750")],
        blocks: vec![block],
        services: vec![services::Service {
            unit: "demo.service".into(),
            enable: None,
            start: Some(false),
            restart_on_change: None,
            mask: None,
        }],
        ..Declarations::default()
    };
    let render = |_: &str, _: &str| Ok("10.0.0.1 web1".to_string());
    let intended = declared.intended("demo", &render).expect("intended");
    let [directory, block, service] = intended.as_slice() else {
        panic!("{intended:?}")
    };
    assert_eq!(
        directory,
        &Intended::State {
            id: Id {
                kind: Kind::Directory,
                name: "/var/lib/demo".into()
            },
            state: "0750 svc:svc".into()
        }
    );
    assert_eq!(
        service,
        &Intended::State {
            id: Id {
                kind: Kind::Service,
                name: "demo.service".into()
            },
            state: "enabled, not started, restarted on change".into()
        }
    );
    let Intended::Text {
        name,
        content,
        mode,
    } = block
    else {
        panic!("{block:?}")
    };
    assert_eq!((name.as_str(), *mode), ("/etc/hosts block cluster", None));
    let mut run = Run::new(root);
    let mut cx = run.cx(root);
    cx.render = &render;
    declared.blocks[0].apply(None, &mut cx).expect("applied");
    let hosts = std::fs::read_to_string(root.join("etc/hosts")).expect("hosts");
    assert_eq!(hosts, format!("127.0.0.1 localhost\n{content}"));
}
