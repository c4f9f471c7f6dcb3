//! Managed blocks in real files under a temp root.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use proptest::prelude::*;

use super::super::host::FakeHost;
use super::super::{Declarations, Render, converge, undo_all};
use super::*;
use crate::RecordingListener;

fn verbatim(_what: &str, source: &str) -> Result<String> {
    Ok(source.to_string())
}

struct Run {
    root: tempfile::TempDir,
    host: FakeHost,
    listener: RecordingListener,
}

impl Run {
    /// A root with an `/etc`.
    fn new() -> Run {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("etc")).expect("etc");
        Run {
            host: FakeHost::new(root.path()),
            root,
            listener: RecordingListener::default(),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.root.path().join(file.trim_start_matches('/'))
    }

    fn write(&self, file: &str, content: &[u8]) {
        std::fs::write(self.path(file), content).expect("write");
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path(file)).expect("read")
    }

    fn rendering<'a>(&'a mut self, package: &'a str, render: &'a Render<'a>) -> Context<'a> {
        Context {
            root: self.root.path(),
            package,
            host: &mut self.host,
            listener: &mut self.listener,
            render,
            changed: &[],
            secrets: &crate::declared::NoSecrets,
        }
    }

    fn cx<'a>(&'a mut self, package: &'a str) -> Context<'a> {
        self.rendering(package, &verbatim)
    }

    fn apply(&mut self, package: &str, block: &Block, previous: Option<&Record>) -> Result<Record> {
        block.apply(previous, &mut self.cx(package))
    }

    fn undo(&mut self, package: &str, record: &Record) {
        let kept = record
            .undo(Undo::Remove, &mut self.cx(package))
            .expect("undo");
        assert_eq!(kept, None, "a block is never kept for later");
    }

    fn assert_warned(&self, text: &str) {
        assert!(
            self.listener.warnings.iter().any(|w| w.contains(text)),
            "{text:?} not in {:?}",
            self.listener.warnings
        );
    }

    fn drift(&mut self, package: &str, record: &Record) -> Vec<String> {
        record.drift(&mut self.cx(package))
    }
}

/// A run whose `/etc/hosts` holds `base` and then `demo`'s main block `x`.
fn demo_block_after_base() -> (Run, Record) {
    let mut run = Run::new();
    run.write("/etc/hosts", b"base\n");
    let record = run
        .apply("demo", &block("/etc/hosts", "x\n"), None)
        .expect("apply");
    (run, record)
}

fn block(file: &str, content: &str) -> Block {
    Block {
        file: file.into(),
        name: None,
        content: content.into(),
        comment: None,
        create: false,
    }
}

fn named(file: &str, name: &str, content: &str) -> Block {
    Block {
        name: Some(name.into()),
        ..block(file, content)
    }
}

const HOSTS: &[u8] = b"127.0.0.1 localhost\n::1 localhost ip6-localhost";

#[test]
fn a_block_is_appended_after_a_missing_final_newline_and_removed_to_the_same_bytes() {
    let mut run = Run::new();
    run.write("/etc/hosts", HOSTS);
    let record = run
        .apply(
            "webshop",
            &block("/etc/hosts", "10.0.0.1 web1\n10.0.0.2 web2"),
            None,
        )
        .expect("apply");
    assert_eq!(
        String::from_utf8(run.read("/etc/hosts")).expect("utf-8"),
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\
         # BEGIN confpack webshop main\n\
         10.0.0.1 web1\n\
         10.0.0.2 web2\n\
         # END confpack webshop main\n"
    );
    assert!(record.added_newline);
    assert!(!record.created);
    assert!(run.drift("webshop", &record).is_empty());
    run.undo("webshop", &record);
    assert_eq!(run.read("/etc/hosts"), HOSTS);
}

#[test]
fn the_content_is_rendered_with_the_answers() {
    let mut run = Run::new();
    run.write("/etc/hosts", b"");
    let render = |_: &str, source: &str| Ok(source.replace("{{ x }}", "10.0.0.9 db"));
    let record = block("/etc/hosts", "{{ x }}")
        .apply(None, &mut run.rendering("webshop", &render))
        .expect("apply");
    assert_eq!(
        run.read("/etc/hosts"),
        b"# BEGIN confpack webshop main\n10.0.0.9 db\n# END confpack webshop main\n"
    );
    assert!(!record.added_newline, "an empty file needs no newline");
}

#[test]
fn a_changed_declaration_updates_the_block_in_place() {
    let mut run = Run::new();
    run.write("/etc/hosts", b"before\n");
    let first = run
        .apply("demo", &block("/etc/hosts", "one\n"), None)
        .expect("apply");
    let mut text = run.read("/etc/hosts");
    text.extend_from_slice(b"after, added by the admin\n");
    run.write("/etc/hosts", &text);
    let second = run
        .apply("demo", &block("/etc/hosts", "two\nthree\n"), Some(&first))
        .expect("update");
    assert_eq!(
        String::from_utf8(run.read("/etc/hosts")).expect("utf-8"),
        "before\n# BEGIN confpack demo main\ntwo\nthree\n# END confpack demo main\n\
         after, added by the admin\n"
    );
    assert_ne!(first.sha256, second.sha256);
    assert!(
        run.listener.warnings.is_empty(),
        "{:?}",
        run.listener.warnings
    );
    run.undo("demo", &second);
    assert_eq!(
        run.read("/etc/hosts"),
        b"before\nafter, added by the admin\n"
    );
}

#[test]
fn applying_the_same_block_again_writes_nothing() {
    let mut run = Run::new();
    run.write("/etc/hosts", HOSTS);
    let declared = block("/etc/hosts", "10.0.0.1 web1\n");
    let first = run.apply("demo", &declared, None).expect("apply");
    let before = std::fs::metadata(run.path("/etc/hosts")).expect("stat");
    let infos = run.listener.infos.len();
    let again = run.apply("demo", &declared, Some(&first)).expect("again");
    let after = std::fs::metadata(run.path("/etc/hosts")).expect("stat");
    assert_eq!(again, first);
    assert_eq!(after.ino(), before.ino(), "not replaced");
    assert_eq!(after.mtime_nsec(), before.mtime_nsec());
    assert_eq!(after.mtime(), before.mtime());
    assert_eq!(run.listener.infos.len(), infos, "nothing said");
    // Without the record (a lost store) the block is found, not added twice.
    let found = run.apply("demo", &declared, None).expect("found");
    assert_eq!(found.sha256, first.sha256);
    assert_eq!(
        std::fs::metadata(run.path("/etc/hosts"))
            .expect("stat")
            .ino(),
        before.ino()
    );
}

#[test]
fn two_packages_own_blocks_in_one_file_independently() {
    let mut run = Run::new();
    run.write("/etc/hosts", b"127.0.0.1 localhost\n");
    let a = run
        .apply("alpha", &block("/etc/hosts", "10.0.0.1 a\n"), None)
        .expect("alpha");
    let with_a = run.read("/etc/hosts");
    let b = run
        .apply("beta", &block("/etc/hosts", "10.0.0.2 b\n"), None)
        .expect("beta");
    let a = run
        .apply("alpha", &block("/etc/hosts", "10.0.0.3 a\n"), Some(&a))
        .expect("alpha changed");
    assert_eq!(
        String::from_utf8(run.read("/etc/hosts")).expect("utf-8"),
        "127.0.0.1 localhost\n\
         # BEGIN confpack alpha main\n10.0.0.3 a\n# END confpack alpha main\n\
         # BEGIN confpack beta main\n10.0.0.2 b\n# END confpack beta main\n"
    );
    run.undo("alpha", &a);
    assert_eq!(
        run.read("/etc/hosts"),
        b"127.0.0.1 localhost\n# BEGIN confpack beta main\n10.0.0.2 b\n# END confpack beta main\n"
    );
    run.undo("beta", &b);
    assert_eq!(run.read("/etc/hosts"), b"127.0.0.1 localhost\n");
    assert!(with_a.starts_with(b"127.0.0.1 localhost\n"));
}

#[test]
fn one_package_owns_several_named_blocks_in_a_file() {
    let mut run = Run::new();
    run.write("/etc/hosts", b"base\n");
    let web = run
        .apply("demo", &named("/etc/hosts", "web", "w\n"), None)
        .expect("web");
    let db = run
        .apply("demo", &named("/etc/hosts", "db", "d\n"), None)
        .expect("db");
    assert_ne!(web.id(), db.id());
    run.undo("demo", &web);
    assert_eq!(
        run.read("/etc/hosts"),
        b"base\n# BEGIN confpack demo db\nd\n# END confpack demo db\n"
    );
    run.undo("demo", &db);
    assert_eq!(run.read("/etc/hosts"), b"base\n");
}

/// Applies `demo`'s main block to a file holding `text`; the error, after
/// checking the file was left as it was.
fn refused(text: &str) -> String {
    let mut run = Run::new();
    run.write("/etc/hosts", text.as_bytes());
    let error = run
        .apply("demo", &block("/etc/hosts", "new\n"), None)
        .expect_err("refused")
        .to_string();
    assert_eq!(run.read("/etc/hosts"), text.as_bytes(), "left as it was");
    error
}

#[test]
fn damaged_markers_are_reported_with_their_line_and_the_file_is_left() {
    let cases: [(&str, [&str; 2]); 5] = [
        (
            "x\n# BEGIN confpack demo main\ny\n",
            [
                "/etc/hosts:2: markers damaged",
                "has no `# END confpack demo main` after it",
            ],
        ),
        (
            "# BEGIN confpack demo main\na\n# END confpack demo main\n\
             # BEGIN confpack demo main\nb\n# END confpack demo main\n",
            ["hosts:4: markers damaged", "2 times (lines 1, 4)"],
        ),
        (
            "# END confpack demo main\nb\n# BEGIN confpack demo main\n",
            ["hosts:1:", "comes before"],
        ),
        (
            "# BEGIN confpack demo main\n# BEGIN confpack other main\nx\n\
             # END confpack other main\n# END confpack demo main\n",
            ["hosts:2:", "inside"],
        ),
        (
            "# BEGIN confpack demo main \na\n# END confpack demo main\n",
            ["hosts:1:", "almost a marker"],
        ),
    ];
    for (text, says) in cases {
        let error = refused(text);
        for said in says {
            assert!(error.contains(said), "{said:?} not in {error}");
        }
    }
}

#[test]
fn damaged_markers_are_left_with_a_warning_on_undo() {
    let (mut run, record) = demo_block_after_base();
    run.write(
        "/etc/hosts",
        b"base\n# BEGIN confpack demo main\nx\nno end any more\n",
    );
    assert!(
        run.drift("demo", &record)[0].starts_with("line 2: markers damaged"),
        "{:?}",
        run.drift("demo", &record)
    );
    run.undo("demo", &record);
    assert_eq!(
        run.read("/etc/hosts"),
        b"base\n# BEGIN confpack demo main\nx\nno end any more\n"
    );
    run.assert_warned("forgot it");
    run.assert_warned("etc/hosts:2: markers damaged");
}

#[test]
fn a_block_edited_by_hand_is_kept_on_undo_with_a_warning() {
    let (mut run, record) = demo_block_after_base();
    let edited = b"base\n# BEGIN confpack demo main\nx\nmine\n# END confpack demo main\n";
    run.write("/etc/hosts", edited);
    run.undo("demo", &record);
    assert_eq!(run.read("/etc/hosts"), edited);
    run.assert_warned("lines 2-5 were edited by hand");
}

#[test]
fn a_block_edited_by_hand_is_replaced_on_apply_with_a_warning() {
    let (mut run, record) = demo_block_after_base();
    run.write(
        "/etc/hosts",
        b"base\n# BEGIN confpack demo main\nmine\n# END confpack demo main\n",
    );
    let again = run
        .apply("demo", &block("/etc/hosts", "x\n"), Some(&record))
        .expect("again");
    assert_eq!(again, record);
    assert_eq!(
        run.read("/etc/hosts"),
        b"base\n# BEGIN confpack demo main\nx\n# END confpack demo main\n"
    );
    run.assert_warned("replaced the hand edit");
}

#[test]
fn a_symlink_at_the_file_path_is_refused() {
    let mut run = Run::new();
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("hosts"), "outside\n").expect("write");
    std::os::unix::fs::symlink(outside.path().join("hosts"), run.path("/etc/hosts"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.path().join("absent"), run.path("/etc/dangling"))
        .expect("symlink");
    let error = run
        .apply("demo", &block("/etc/hosts", "x\n"), None)
        .expect_err("refused")
        .to_string();
    assert!(
        error.contains("is a symlink, not a regular file"),
        "{error}"
    );
    let create = Block {
        create: true,
        ..block("/etc/dangling", "x\n")
    };
    let error = run
        .apply("demo", &create, None)
        .expect_err("refused")
        .to_string();
    assert!(error.contains("symlink"), "{error}");
    assert_eq!(
        std::fs::read(outside.path().join("hosts")).expect("read"),
        b"outside\n"
    );
    assert!(!outside.path().join("absent").exists());
}

#[test]
fn a_missing_file_is_an_error_unless_create_is_set() {
    let mut run = Run::new();
    let error = run
        .apply("demo", &block("/etc/demo.conf", "x\n"), None)
        .expect_err("missing")
        .to_string();
    assert!(error.contains("create: true"), "{error}");
    assert!(!run.path("/etc/demo.conf").exists());
    let error = run
        .apply(
            "demo",
            &Block {
                create: true,
                ..block("/etc/nowhere/demo.conf", "x\n")
            },
            None,
        )
        .expect_err("no directory")
        .to_string();
    assert!(error.contains("directories:"), "{error}");
}

#[test]
fn create_makes_the_file_and_removes_it_when_only_the_block_was_in_it() {
    let mut run = Run::new();
    let declared = Block {
        create: true,
        ..block("/etc/demo.conf", "x\n")
    };
    let record = run.apply("demo", &declared, None).expect("apply");
    assert!(record.created);
    let made = run.path("/etc/demo.conf");
    assert_eq!(
        std::fs::metadata(&made).expect("stat").permissions().mode() & 0o7777,
        0o644
    );
    let again = run.apply("demo", &declared, Some(&record)).expect("again");
    assert!(again.created, "still the one confpack created");
    run.undo("demo", &again);
    assert!(!made.exists());

    // Someone else's lines in it: the file stays with them.
    let record = run.apply("demo", &declared, None).expect("apply");
    let mut text = run.read("/etc/demo.conf");
    text.extend_from_slice(b"admin\n");
    run.write("/etc/demo.conf", &text);
    run.undo("demo", &record);
    assert_eq!(run.read("/etc/demo.conf"), b"admin\n");
}

#[test]
fn the_file_keeps_its_mode_and_owner() {
    let mut run = Run::new();
    run.write("/etc/hosts", b"base\n");
    let path = run.path("/etc/hosts");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let before = std::fs::metadata(&path).expect("stat");
    let record = run
        .apply("demo", &block("/etc/hosts", "x\n"), None)
        .expect("apply");
    let after = std::fs::metadata(&path).expect("stat");
    assert_ne!(after.ino(), before.ino(), "written");
    assert_eq!(after.permissions().mode() & 0o7777, 0o640);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    run.undo("demo", &record);
    let undone = std::fs::metadata(&path).expect("stat");
    assert_eq!(undone.permissions().mode() & 0o7777, 0o640);
    assert_eq!((undone.uid(), undone.gid()), (before.uid(), before.gid()));
}

#[test]
fn content_with_a_marker_line_is_refused() {
    let mut run = Run::new();
    run.write("/etc/hosts", b"base\n");
    for content in [
        "x\n# END confpack demo main\n",
        "# BEGIN confpack other main\n",
        "  // END confpack other x\n",
    ] {
        let declared = block("/etc/hosts", content);
        let error = run
            .apply("demo", &declared, None)
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains("looks like a confpack block marker"),
            "{error}"
        );
        assert_eq!(declared.check().len(), 1, "{:?}", declared.check());
    }
    let rem = Block {
        comment: Some("REM".into()),
        ..block("/etc/hosts", "REM END confpack demo main\n")
    };
    assert!(run.apply("demo", &rem, None).is_err());
    assert_eq!(rem.check().len(), 1, "{:?}", rem.check());
    assert_eq!(run.read("/etc/hosts"), b"base\n");
}

#[test]
fn drift_names_a_missing_edited_or_damaged_block() {
    let (mut run, record) = demo_block_after_base();
    assert!(run.drift("demo", &record).is_empty());
    run.write(
        "/etc/hosts",
        b"base\n# BEGIN confpack demo main\ny\n# END confpack demo main\n",
    );
    assert_eq!(
        run.drift("demo", &record),
        ["block main edited by hand (lines 2-4)"]
    );
    run.write("/etc/hosts", b"base\n# END confpack demo main\n");
    assert!(
        run.drift("demo", &record)[0].starts_with("line 2: markers damaged"),
        "{:?}",
        run.drift("demo", &record)
    );
    run.write("/etc/hosts", b"base\n");
    assert_eq!(
        run.drift("demo", &record),
        ["block main missing (its markers are gone)"]
    );
    std::fs::remove_file(run.path("/etc/hosts")).expect("rm");
    assert_eq!(run.drift("demo", &record), ["missing"]);
}

#[test]
fn a_new_comment_prefix_moves_the_block() {
    let mut run = Run::new();
    run.write("/etc/demo.ini", b"[section]\n");
    let first = run
        .apply("demo", &block("/etc/demo.ini", "a=1\n"), None)
        .expect("apply");
    let semicolon = Block {
        comment: Some(";".into()),
        ..block("/etc/demo.ini", "a=1\n")
    };
    let second = run.apply("demo", &semicolon, Some(&first)).expect("moved");
    assert_eq!(
        run.read("/etc/demo.ini"),
        b"[section]\n; BEGIN confpack demo main\na=1\n; END confpack demo main\n"
    );
    run.undo("demo", &second);
    assert_eq!(run.read("/etc/demo.ini"), b"[section]\n");
}

#[test]
fn checks_name_the_field() {
    let bad = Block {
        file: "etc/hosts".into(),
        name: Some("Bad name".into()),
        content: " \n".into(),
        comment: Some("  ".into()),
        create: false,
    };
    let messages = bad.check();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    for start in [
        "file:",
        "name: \"Bad name\"",
        "comment:",
        "content: is empty",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(start)),
            "{start}: {messages:#?}"
        );
    }
    assert!(block("/etc/hosts", "x").check().is_empty());
    let twice = Declarations {
        blocks: vec![block("/etc/hosts", "x"), named("/etc/hosts", "main", "y")],
        ..Declarations::default()
    };
    let invalid = twice.check();
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0].key, "blocks");
    assert_eq!(
        invalid[0].message,
        "block /etc/hosts (main) is declared twice"
    );
}

#[test]
fn blocks_are_read_from_yaml_with_defaults() {
    let declarations: Declarations = yaml_serde::from_str(
        "blocks:\n  - file: /etc/hosts\n    content: |\n      10.0.0.1 web1\n",
    )
    .expect("yaml");
    let declared = &declarations.blocks[0];
    assert_eq!((declared.name(), declared.comment()), ("main", "#"));
    assert!(!declared.create);
    assert!(
        yaml_serde::from_str::<Declarations>(
            "blocks:\n  - file: /etc/hosts\n    content: x\n    mode: \"0644\"\n"
        )
        .is_err()
    );
}

#[test]
fn a_block_goes_after_the_directory_it_is_in_and_both_are_undone() {
    let mut run = Run::new();
    // `svc` is the test's own user, so chown works without privileges.
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    run.write(
        "/etc/passwd",
        format!("svc:x:{uid}:{gid}::/:/bin/false\n").as_bytes(),
    );
    run.write("/etc/group", format!("svc:x:{gid}:\n").as_bytes());
    let declarations = Declarations {
        directories: vec![crate::declared::directories::Directory {
            path: "/etc/demo".into(),
            owner: Some("svc".into()),
            group: Some("svc".into()),
            mode: None,
        }],
        blocks: vec![Block {
            create: true,
            ..block("/etc/demo/demo.conf", "x\n")
        }],
        ..Declarations::default()
    };
    let converged = converge(&declarations, Vec::new(), &mut run.cx("demo"));
    assert!(converged.failure.is_none(), "{:?}", converged.failure);
    assert_eq!(converged.records.len(), 2);
    assert!(run.path("/etc/demo/demo.conf").is_file());
    let (kept, errors) = undo_all(converged.records, Undo::Purge, &mut run.cx("demo"));
    assert!(kept.is_empty() && errors.is_empty(), "{kept:?} {errors:?}");
    assert!(!run.path("/etc/demo").exists());
}

#[test]
fn records_round_trip_through_json_with_their_kind() {
    let record = super::super::Record::Block(Record {
        file: "/etc/hosts".into(),
        name: "main".into(),
        comment: "#".into(),
        sha256: "00".into(),
        added_newline: true,
        created: false,
    });
    let json = serde_json::to_string(&record).expect("json");
    assert!(json.contains("\"kind\":\"block\""), "{json}");
    assert!(json.contains("\"added-newline\":true"), "{json}");
    assert_eq!(
        serde_json::from_str::<super::super::Record>(&json).expect("back"),
        record
    );
}

fn file_text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![any::<u8>(), Just(b'\n'), Just(b'#'), Just(b' ')],
        0..200,
    )
    .prop_filter("no confpack marker", |text| {
        !text.windows(8).any(|w| w == b"confpack")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn insert_then_undo_gives_the_original_bytes(
        original in file_text(),
        first in "[^\n]{0,12}(\n[^\n]{0,12}){0,4}\n?",
        second in "[^\n]{0,12}(\n[^\n]{0,12}){0,4}",
    ) {
        prop_assume!(!first.contains("confpack") && !second.contains("confpack"));
        let mut run = Run::new();
        run.write("/etc/target", &original);
        let a = run.apply("alpha", &block("/etc/target", &first), None).expect("alpha");
        let with_a = run.read("/etc/target");
        prop_assert!(with_a.starts_with(&original));
        let b = run.apply("beta", &block("/etc/target", &second), None).expect("beta");
        prop_assert!(run.drift("alpha", &a).is_empty());
        run.undo("beta", &b);
        prop_assert_eq!(run.read("/etc/target"), with_a);
        run.undo("alpha", &a);
        prop_assert_eq!(run.read("/etc/target"), original);
    }
}
