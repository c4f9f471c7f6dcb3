//! Groups and users against a temp root's account files: the fake host
//! records the exact command lines, and the tests' own effects change the
//! files as shadow's tools would. One test runs the real tools when run as
//! root.

use std::path::Path;

use super::super::host::{FakeHost, Ran};
use super::super::*;
use super::*;
use crate::RecordingListener;

/// A root with a passwd, group and shadow of root's lines only.
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("etc")).expect("etc");
    for (file, text) in [
        ("passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        ("group", "root:x:0:\n"),
        ("shadow", "root:*:20228:0:99999:7:::\n"),
    ] {
        std::fs::write(dir.path().join("etc").join(file), text).expect("write");
    }
    dir
}

/// Appends `line` to `<root>/etc/<file>`.
fn append(root: &Path, file: &str, line: &str) {
    let path = root.join("etc").join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(path, format!("{text}{line}\n")).expect("write");
}

/// Rewrites `<root>/etc/<file>` line by line (`None`: the line goes).
fn edit(root: &Path, file: &str, change: impl Fn(&str) -> Option<String>) {
    let path = root.join("etc").join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    let out: String = text
        .lines()
        .filter_map(|line| change(line).map(|l| l + "\n"))
        .collect();
    std::fs::write(path, out).expect("write");
}

type Effect = Box<dyn Fn(&Path)>;

/// The fake host, plus what a command starting with a prefix does to the
/// root's files when it runs.
struct Simulated {
    fake: FakeHost,
    effects: Vec<(String, Effect)>,
}

impl Host for Simulated {
    fn root(&self) -> &Path {
        self.fake.root()
    }

    fn run(&mut self, argv: &[&str]) -> Result<Ran> {
        let ran = self.fake.run(argv)?;
        let line = argv.join(" ");
        if ran.success() {
            for (prefix, effect) in &self.effects {
                if line.starts_with(prefix.as_str()) {
                    effect(&self.fake.root);
                }
            }
        }
        Ok(ran)
    }

    fn systemd_running(&self) -> bool {
        false
    }
}

struct Run {
    host: Simulated,
    listener: RecordingListener,
}

impl Run {
    fn new(root: &Path) -> Run {
        Run {
            host: Simulated {
                fake: FakeHost::new(root),
                effects: Vec::new(),
            },
            listener: RecordingListener::default(),
        }
    }

    /// What `program` (with `--root ROOT` after it) does to the files.
    fn on(&mut self, program: &str, effect: impl Fn(&Path) + 'static) {
        let root = self.host.fake.root.display().to_string();
        self.host
            .effects
            .push((format!("{program} --root {root}"), Box::new(effect)));
    }

    /// Takes the command lines run so far, with the root shown as `ROOT`.
    fn ran(&mut self) -> Vec<String> {
        let root = self.host.fake.root.display().to_string();
        std::mem::take(&mut self.host.fake.ran)
            .into_iter()
            .map(|line| line.replace(&root, "ROOT"))
            .collect()
    }

    fn cx<'a>(&'a mut self, root: &'a Path) -> Context<'a> {
        Context {
            root,
            package: "demo",
            host: &mut self.host,
            listener: &mut self.listener,
            render: &no_render,
            changed: &[],
            secrets: &crate::declared::NoSecrets,
        }
    }
}

fn webshop() -> User {
    User {
        name: "webshop".into(),
        group: None,
        groups: vec!["extra".into()],
        home: Some("/var/lib/webshop".into()),
        create_home: false,
        shell: None,
        comment: Some("Web shop".into()),
    }
}

fn declarations(users: Vec<User>) -> Declarations {
    Declarations {
        groups: vec![Group {
            name: "extra".into(),
        }],
        users,
        ..Declarations::default()
    }
}

/// A run whose groupadd and useradd write what the real ones would for
/// the group `extra` (gid 998) and the user `webshop` (`uid`, with its
/// group 999).
fn simulated(root: &Path, uid: u32) -> Run {
    let mut run = Run::new(root);
    run.on("groupadd --system", |root| {
        append(root, "group", "extra:x:998:")
    });
    run.on("useradd --system", move |root| {
        append(
            root,
            "passwd",
            &format!("webshop:x:{uid}:999:Web shop:/var/lib/webshop:/usr/sbin/nologin"),
        );
        append(root, "group", "webshop:x:999:");
        append(root, "shadow", "webshop:!:20790::::::");
        edit(root, "group", |line| {
            Some(match line {
                "extra:x:998:" => "extra:x:998:webshop".into(),
                _ => line.into(),
            })
        });
    });
    run
}

/// A temp root where the group `extra` and the user `webshop` (`uid`)
/// were made.
fn made(uid: u32) -> (tempfile::TempDir, Run, Vec<Record>) {
    let dir = root();
    let mut run = simulated(dir.path(), uid);
    let done = converge(
        &declarations(vec![webshop()]),
        Vec::new(),
        &mut run.cx(dir.path()),
    );
    assert!(done.failure.is_none(), "{:?}", done.failure);
    (dir, run, done.records)
}

#[test]
fn a_group_and_a_user_are_made_with_the_root_passed_to_the_tools() {
    let (_dir, mut run, records) = made(999);
    assert_eq!(
        run.ran(),
        [
            "groupadd --system --root ROOT extra",
            "useradd --system --root ROOT --user-group --groups extra \
             --home-dir /var/lib/webshop --no-create-home --shell /usr/sbin/nologin \
             --comment Web shop webshop",
        ]
    );
    assert_eq!(
        records,
        [
            Record::Group(GroupRecord {
                name: "extra".into(),
                gid: 998,
                created: true,
            }),
            Record::User(UserRecord {
                name: "webshop".into(),
                uid: 999,
                gid: 999,
                created: true,
                created_group: true,
                applied: webshop().settings(),
                locked: false,
            }),
        ]
    );
}

#[test]
fn on_the_node_itself_the_tools_get_no_root() {
    let root = Path::new("/");
    let mut run = Run::new(root);
    let group = Group {
        name: "confpack-test-absent".into(),
    };
    // The fake made nothing, so the group is not found afterwards.
    let failed = group.apply(None, &mut run.cx(root));
    assert!(failed.is_err());
    assert_eq!(run.ran(), ["groupadd --system confpack-test-absent"]);
}

#[test]
fn the_same_declaration_again_runs_no_command() {
    let (dir, mut run, records) = made(999);
    let root = dir.path();
    run.ran();
    let again = converge(
        &declarations(vec![webshop()]),
        records.clone(),
        &mut run.cx(root),
    );
    assert!(again.failure.is_none(), "{:?}", again.failure);
    assert!(run.ran().is_empty());
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    assert_eq!(again.records, records);
}

#[test]
fn a_changed_shell_and_groups_are_changed_in_place_with_usermod() {
    let (dir, mut run, records) = made(999);
    let root = dir.path();
    run.ran();
    let changed = User {
        shell: Some("/bin/bash".into()),
        groups: Vec::new(),
        ..webshop()
    };
    let done = converge(
        &declarations(vec![changed.clone()]),
        records,
        &mut run.cx(root),
    );
    assert!(done.failure.is_none(), "{:?}", done.failure);
    assert_eq!(
        run.ran(),
        ["usermod --root ROOT --groups  --shell /bin/bash webshop"]
    );
    assert_eq!(done.applied, [changed.id()]);
}

#[test]
fn an_account_not_made_by_confpack_is_refused_unless_it_matches() {
    let dir = root();
    let root = dir.path();
    append(root, "group", "extra:x:998:webshop");
    append(root, "group", "webshop:x:999:");
    append(root, "group", "people:x:1000:");
    let mut run = Run::new(root);

    append(
        root,
        "passwd",
        "webshop:x:1000:1000::/home/webshop:/bin/bash",
    );
    let failure = webshop()
        .apply(None, &mut run.cx(root))
        .expect_err("a person's");
    assert!(
        failure
            .to_string()
            .contains("user webshop exists (uid 1000) and is not a system user"),
        "{failure}"
    );

    edit(root, "passwd", |line| {
        Some(match line.starts_with("webshop:") {
            true => "webshop:x:999:999:Web shop:/var/lib/webshop:/bin/sh".into(),
            false => line.into(),
        })
    });
    let failure = webshop()
        .apply(None, &mut run.cx(root))
        .expect_err("differs");
    let message = failure.to_string();
    assert!(message.contains("was not made by confpack"), "{message}");
    assert!(
        message.contains("shell /bin/sh instead of /usr/sbin/nologin;"),
        "{message}"
    );
    assert!(message.contains("declare it as it is"), "{message}");

    edit(root, "passwd", |line| {
        Some(line.replace("/bin/sh", "/usr/sbin/nologin"))
    });
    let adopted = webshop().apply(None, &mut run.cx(root)).expect("matches");
    assert!(!adopted.created);
    assert!(run.ran().is_empty());

    // A later version may not change the adopted account: refused, and
    // no tool runs.
    let changed = User {
        shell: Some("/bin/sh".into()),
        ..webshop()
    };
    let failure = changed
        .apply(Some(&adopted), &mut run.cx(root))
        .expect_err("not confpack's to change");
    assert!(
        failure.to_string().contains("does not change it"),
        "{failure}"
    );
    assert!(run.ran().is_empty(), "{:?}", run.ran());
    // Applied again as it is: still adopted, nothing run.
    let again = webshop()
        .apply(Some(&adopted), &mut run.cx(root))
        .expect("as it is");
    assert!(!again.created);
    assert!(run.ran().is_empty());

    assert_eq!(
        adopted.undo(Undo::Purge, &mut run.cx(root)).expect("undo"),
        None
    );
    assert!(run.ran().is_empty(), "never deleted");
}

#[test]
fn an_existing_group_that_is_not_a_system_group_is_refused() {
    let dir = root();
    let root = dir.path();
    append(root, "group", "extra:x:1000:");
    let mut run = Run::new(root);
    let group = Group {
        name: "extra".into(),
    };
    let failure = group.apply(None, &mut run.cx(root)).expect_err("refused");
    assert!(
        failure
            .to_string()
            .contains("group extra exists (gid 1000)"),
        "{failure}"
    );
    edit(root, "group", |line| Some(line.replace("1000", "100")));
    let adopted = group.apply(None, &mut run.cx(root)).expect("system group");
    assert!(!adopted.created);
    assert!(run.ran().is_empty());
}

#[test]
fn a_missing_supplementary_group_is_refused_before_any_command() {
    let dir = root();
    let root = dir.path();
    let mut run = Run::new(root);
    let failure = webshop()
        .apply(None, &mut run.cx(root))
        .expect_err("no extra");
    assert!(
        failure
            .to_string()
            .contains("group extra of user webshop does not exist"),
        "{failure}"
    );
    assert!(run.ran().is_empty());
}

#[test]
fn remove_locks_and_keeps_the_user_and_installing_again_unlocks_it() {
    let (dir, mut run, records) = made(999);
    let root = dir.path();
    run.ran();
    let (kept, errors) = undo_all(records, Undo::Remove, &mut run.cx(root));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        run.ran(),
        ["usermod --root ROOT --lock --expiredate 1 webshop"]
    );
    assert_eq!(kept.len(), 2, "the user and the group are kept: {kept:?}");
    assert!(matches!(&kept[1], Record::User(u) if u.locked));
    assert!(
        run.listener.warnings[0]
            .contains("locked user webshop and kept it until the package is purged"),
        "{:?}",
        run.listener.warnings
    );

    let again = converge(&declarations(vec![webshop()]), kept, &mut run.cx(root));
    assert!(again.failure.is_none(), "{:?}", again.failure);
    assert_eq!(
        run.ran(),
        ["usermod --root ROOT --unlock --expiredate  webshop"]
    );
    assert!(matches!(&again.records[1], Record::User(u) if !u.locked));
}

#[test]
fn purge_deletes_a_user_that_owns_no_files_and_the_groups_confpack_made() {
    // No file of the temp root belongs to uid 4242.
    let (dir, mut run, records) = made(4242);
    let root = dir.path();
    run.ran();
    // This userdel leaves the user's group (login.defs without
    // USERGROUPS_ENAB): confpack deletes it, having made it.
    run.on("userdel", |root| {
        edit(root, "passwd", |line| {
            (!line.starts_with("webshop:")).then(|| line.into())
        });
    });
    let (kept, errors) = undo_all(records, Undo::Purge, &mut run.cx(root));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(kept.is_empty());
    assert_eq!(
        run.ran(),
        [
            "userdel --root ROOT webshop",
            "groupdel --root ROOT webshop",
            "groupdel --root ROOT extra",
        ]
    );
    assert!(
        run.listener.warnings.is_empty(),
        "{:?}",
        run.listener.warnings
    );
}

#[test]
fn purge_keeps_a_user_that_still_owns_files_locked_and_says_so() {
    // The user is the test's own uid, which owns every file of the root.
    let uid = rustix::process::getuid().as_raw();
    let (dir, mut run, records) = made(uid);
    let root = dir.path();
    std::fs::create_dir_all(root.join("srv")).expect("mkdir");
    std::fs::write(root.join("srv/data"), "x").expect("write");
    run.ran();
    let (kept, errors) = undo_all(records, Undo::Purge, &mut run.cx(root));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(kept.is_empty(), "forgotten: {kept:?}");
    assert_eq!(
        run.ran(),
        [
            "usermod --root ROOT --lock --expiredate 1 webshop",
            "groupdel --root ROOT extra",
        ]
    );
    let warning = &run.listener.warnings[0];
    assert!(
        warning.contains(&format!(
            "kept user webshop (uid {uid}) locked: it still owns "
        )),
        "{warning}"
    );
    assert!(warning.contains("files, such as /"), "{warning}");
    assert!(warning.contains("userdel webshop"), "{warning}");
}

#[test]
fn drift_names_what_changed() {
    let (dir, mut run, records) = made(999);
    let root = dir.path();
    for record in &records {
        assert!(record.drift(&mut run.cx(root)).is_empty(), "{record:?}");
    }
    let user = &records[1];
    edit(root, "passwd", |line| {
        Some(line.replace(":/usr/sbin/nologin", ":/bin/sh"))
    });
    edit(root, "shadow", |line| {
        Some(line.replace("webshop:!:20790::::::", "webshop:!:20790:::::1:"))
    });
    edit(root, "group", |line| {
        Some(line.replace("extra:x:998:webshop", "extra:x:998:"))
    });
    assert_eq!(
        user.drift(&mut run.cx(root)),
        [
            "locked (expired)",
            "groups none instead of extra",
            "shell /bin/sh instead of /usr/sbin/nologin",
        ]
    );
    edit(root, "passwd", |line| {
        (!line.starts_with("webshop:")).then(|| line.into())
    });
    edit(root, "group", |line| {
        (!line.starts_with("extra:")).then(|| line.into())
    });
    assert_eq!(user.drift(&mut run.cx(root)), ["missing"]);
    assert_eq!(records[0].drift(&mut run.cx(root)), ["missing"]);
}

#[test]
fn checks_name_the_problems() {
    let bad = Declarations {
        groups: vec![Group { name: "Bad".into() }],
        users: vec![User {
            name: "ok".into(),
            group: Some("9x".into()),
            groups: vec!["a".into(), "a".into()],
            home: Some("var/lib/ok".into()),
            create_home: true,
            shell: Some("/bin/../sh".into()),
            comment: Some("a:b".into()),
        }],
        ..Declarations::default()
    };
    let messages: Vec<String> = bad
        .check()
        .into_iter()
        .map(|i| format!("{} {}: {}", i.key, i.id, i.message))
        .collect();
    assert_eq!(messages.len(), 6, "{messages:#?}");
    for expected in [
        "groups Bad: name: \"Bad\"",
        "users ok: group: \"9x\"",
        "users ok: groups: a is listed twice",
        "users ok: home: \"var/lib/ok\"",
        "users ok: shell: \"/bin/../sh\"",
        "users ok: comment: \"a:b\"",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(expected)),
            "{expected}: {messages:#?}"
        );
    }
}

#[test]
fn declarations_read_kebab_case_keys_and_refuse_unknown_ones() {
    let yaml = "groups:\n  - name: webshop\nusers:\n  - name: webshop\n    group: webshop\n    create-home: true\n";
    let read: Declarations = yaml_serde::from_str(yaml).expect("yaml");
    assert!(read.users[0].create_home);
    assert_eq!(read.users[0].settings().shell, "/usr/sbin/nologin");
    assert!(yaml_serde::from_str::<Declarations>("users:\n  - name: a\n    uid: 5\n").is_err());
    let record = Record::User(UserRecord {
        name: "webshop".into(),
        uid: 999,
        gid: 999,
        created: true,
        created_group: true,
        applied: webshop().settings(),
        locked: true,
    });
    let json = serde_json::to_string(&record).expect("json");
    assert!(json.contains("\"kind\":\"user\""), "{json}");
    assert_eq!(serde_json::from_str::<Record>(&json).expect("back"), record);
}

/// shadow's tools on a bare directory tree: useradd `--root` chroots into
/// it and needs only the account files (and login.defs, for the id
/// ranges).
#[test]
fn a_system_user_is_made_and_purged_for_real_in_a_bare_root() {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc")).expect("etc");
    for file in ["passwd", "group", "shadow", "gshadow"] {
        let text = std::fs::read_to_string(Path::new("/etc").join(file)).unwrap_or_default();
        let own: String = text
            .lines()
            .filter(|l| l.starts_with("root:"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(root.join("etc").join(file), own).expect("write");
    }
    if let Err(e) = std::fs::copy("/etc/login.defs", root.join("etc/login.defs")) {
        println!("no /etc/login.defs ({e}): the tools use their defaults");
    }
    let mut host = super::super::SystemHost::new(root);
    let mut listener = RecordingListener::default();
    let mut cx = Context {
        root,
        package: "demo",
        host: &mut host,
        listener: &mut listener,
        render: &no_render,
        changed: &[],
        secrets: &crate::declared::NoSecrets,
    };
    let declared = Declarations {
        groups: vec![Group {
            name: "cpextra".into(),
        }],
        users: vec![User {
            name: "cpuser".into(),
            groups: vec!["cpextra".into()],
            comment: Some("confpack test".into()),
            ..webshop()
        }],
        ..Declarations::default()
    };
    let done = converge(&declared, Vec::new(), &mut cx);
    assert!(done.failure.is_none(), "{:?}", done.failure);
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("cpuser:"))
        .expect("cpuser in passwd");
    assert!(
        line.ends_with(":confpack test:/var/lib/webshop:/usr/sbin/nologin"),
        "{line}"
    );
    let group = std::fs::read_to_string(root.join("etc/group")).expect("group");
    assert!(group.contains("cpextra:x:"), "{group}");
    assert!(
        group
            .lines()
            .any(|l| l.starts_with("cpextra:") && l.ends_with(":cpuser")),
        "{group}"
    );
    for record in &done.records {
        assert!(record.drift(&mut cx).is_empty(), "{record:?}");
    }

    // Remove locks (the account expires), reinstall unlocks.
    let (kept, errors) = undo_all(done.records, Undo::Remove, &mut cx);
    assert!(errors.is_empty(), "{errors:?}");
    let shadow = std::fs::read_to_string(root.join("etc/shadow")).expect("shadow");
    assert!(
        shadow
            .lines()
            .any(|l| l.starts_with("cpuser:") && l.ends_with(":1:")),
        "{shadow}"
    );
    let again = converge(&declared, kept, &mut cx);
    assert!(again.failure.is_none(), "{:?}", again.failure);
    for record in &again.records {
        assert!(record.drift(&mut cx).is_empty(), "{record:?}");
    }

    // Purge: it owns no file, so it goes, with both groups.
    let (kept, errors) = undo_all(again.records, Undo::Purge, &mut cx);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(kept.is_empty());
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    assert!(!passwd.contains("cpuser"), "{passwd}");
    let group = std::fs::read_to_string(root.join("etc/group")).expect("group");
    assert!(
        !group.contains("cpuser") && !group.contains("cpextra"),
        "{group}"
    );
}

#[test]
fn a_group_of_the_users_name_that_userdel_takes_along_is_made_again() {
    let dir = root();
    let root = dir.path();
    append(root, "group", "webshop:x:990:");
    let mut run = Run::new(root);
    run.on("useradd --system", |root| {
        append(
            root,
            "passwd",
            "webshop:x:991:990::/nonexistent:/usr/sbin/nologin",
        );
    });
    // Debian's login.defs (USERGROUPS_ENAB yes): the group goes too.
    run.on("userdel", |root| {
        for file in ["passwd", "group"] {
            edit(root, file, |line| {
                (!line.starts_with("webshop:")).then(|| line.into())
            });
        }
    });
    let user = User {
        name: "webshop".into(),
        group: None,
        groups: Vec::new(),
        home: None,
        create_home: false,
        shell: None,
        comment: None,
    };
    let record = user.apply(None, &mut run.cx(root)).expect("made");
    assert!(record.created && !record.created_group, "{record:?}");
    assert_eq!(
        run.ran(),
        ["useradd --system --root ROOT --gid webshop \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin webshop"]
    );
    assert_eq!(
        record.undo(Undo::Purge, &mut run.cx(root)).expect("undo"),
        None
    );
    assert_eq!(
        run.ran(),
        [
            "userdel --root ROOT webshop",
            "groupadd --system --root ROOT --gid 990 webshop",
        ]
    );
}

#[test]
fn files_on_another_local_filesystem_keep_a_user() {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: mounting a filesystem needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("srv")).expect("srv");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(root.join("srv"))
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        println!("skipped: cannot mount a tmpfs here");
        return;
    }
    std::fs::write(root.join("srv/data"), "customer data").expect("write");
    std::os::unix::fs::chown(root.join("srv/data"), Some(4242), Some(4242)).expect("chown");
    let found = super::owned_files(root, 4242);
    let _ = std::process::Command::new("umount")
        .arg(root.join("srv"))
        .status();
    assert_eq!(found, [std::path::PathBuf::from("/srv/data")]);
}
