//! `install` and `upgrade` scenario by scenario against [`FakeNode`]: the
//! apt runs they make, in order, and what the node holds afterwards.
//! The real apt runs in `tests/runtime.rs` and `tests/realnode.rs`; these
//! check the decisions without root.

use super::fake::{Failure, FakeNode, FakeReconfigure};
use super::*;

const UPDATE: &str = "apt-get update --error-on=any -o Dir::Etc::SourceList=sources.list.d/confpack.list \
                      -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=0";

/// An environment publishing `app` (1 and 2, depending on `lib`), `lib`
/// (1 and 2) and `old`; the node has `app 1` (manual, configured by
/// confpack) and `lib 1` (pulled in, automatic), and the index fetched.
fn node() -> FakeNode {
    let mut node = FakeNode::new();
    node.publish("app", "1", &["lib"])
        .publish("app", "2", &["lib"])
        .publish("lib", "1", &[])
        .publish("lib", "2", &[])
        .publish("old", "1", &[])
        .install("app", "1", false)
        .install("lib", "1", true)
        .configured("app")
        .fetch();
    node
}

fn plain() -> UpgradeOptions {
    UpgradeOptions {
        autoremove: true,
        ..UpgradeOptions::default()
    }
}

fn rolling_back(roles: &[&str]) -> UpgradeOptions {
    UpgradeOptions {
        version: Some("1".into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        autoremove: true,
    }
}

struct Upgrade {
    case: &'static str,
    prepare: fn(&mut FakeNode),
    options: UpgradeOptions,
    changes: &'static [&'static str],
    after: &'static [&'static str],
}

/// Runs each scenario on a fresh [`node`]: the apt runs and the node
/// afterwards are as the row says, and `app` is configured again.
fn check(table: &[Upgrade]) {
    for row in table {
        let mut node = node();
        (row.prepare)(&mut node);
        let mut reconfigure = FakeReconfigure::default();
        let mut listener = crate::RecordingListener::default();
        upgrade(&mut node, &row.options, &mut reconfigure, &mut listener)
            .unwrap_or_else(|e| panic!("{}: {e}", row.case));
        assert_eq!(node.changes(), row.changes, "{}", row.case);
        assert_eq!(node.state(), row.after, "{}", row.case);
        assert_eq!(reconfigure.asked, ["app"], "{}", row.case);
    }
}

#[test]
fn a_plain_upgrade_runs_apt_as_the_node_needs() {
    check(&[
        Upgrade {
            case: "a plain upgrade installs the newest versions, keeping marks, then autoremoves",
            prepare: |_| {},
            options: plain(),
            changes: &[
                "apt-get install -y --mark-auto --allow-downgrades app=2 lib=2",
                "apt-get autoremove --purge -y",
            ],
            after: &["app 2", "lib 2 auto"],
        },
        Upgrade {
            case: "without autoremove nothing is removed",
            prepare: |node| {
                node.install("stray", "1", true);
            },
            options: UpgradeOptions::default(),
            changes: &["apt-get install -y --mark-auto --allow-downgrades app=2 lib=2"],
            after: &["app 2", "lib 2 auto", "stray 1 auto"],
        },
        Upgrade {
            case: "autoremove takes what nothing needs, and purges removed packages of the environment",
            prepare: |node| {
                node.install("stray", "1", true);
                node.packages.insert("old".into(), ("1".into(), 'c'));
                node.packages.insert("foreign".into(), ("1".into(), 'c'));
            },
            options: plain(),
            changes: &[
                "apt-get install -y --mark-auto --allow-downgrades app=2 lib=2",
                "apt-get autoremove --purge -y",
                "apt-get purge -y old",
            ],
            after: &["app 2", "foreign 1 [c]", "lib 2 auto"],
        },
        Upgrade {
            case: "an interrupted dpkg is finished first",
            prepare: |node| node.interrupted = true,
            options: plain(),
            changes: &[
                "dpkg --configure -a",
                "apt-get install -y --mark-auto --allow-downgrades app=2 lib=2",
                "apt-get autoremove --purge -y",
            ],
            after: &["app 2", "lib 2 auto"],
        },
        Upgrade {
            case: "a node at its environment installs nothing",
            prepare: |node| {
                node.install("app", "2", false).install("lib", "2", true);
            },
            options: plain(),
            changes: &["apt-get autoremove --purge -y"],
            after: &["app 2", "lib 2 auto"],
        },
    ]);
}

#[test]
fn an_upgrade_to_a_version_rolls_the_roles_and_marks_them_manual() {
    check(&[
        Upgrade {
            case: "--version rolls the installed manual roles back; dependencies keep theirs",
            prepare: |node| {
                node.install("app", "2", false).install("lib", "2", true);
            },
            options: rolling_back(&[]),
            changes: &[
                "apt-get install -y --mark-auto --allow-downgrades app=1",
                "apt-get autoremove --purge -y",
            ],
            after: &["app 1", "lib 2 auto"],
        },
        Upgrade {
            case: "--version leaves the runtime package alone",
            prepare: |node| {
                node.publish(RUNTIME, "1", &[])
                    .publish(RUNTIME, "2", &[])
                    .install(RUNTIME, "2", false)
                    .install("app", "2", false)
                    .install("lib", "2", true)
                    .fetch();
            },
            options: rolling_back(&[]),
            changes: &[
                "apt-get install -y --mark-auto --allow-downgrades app=1",
                "apt-get autoremove --purge -y",
            ],
            after: &["app 1", "confpack-runtime 2", "lib 2 auto"],
        },
        Upgrade {
            case: "--version of an automatic role makes it manual",
            prepare: |node| {
                node.install("lib", "2", true);
            },
            options: rolling_back(&["lib"]),
            changes: &[
                "apt-get install -y --mark-auto --allow-downgrades lib=1",
                "apt-mark manual lib",
                "apt-get autoremove --purge -y",
            ],
            after: &["app 1", "lib 1"],
        },
        Upgrade {
            case: "--version of a role not installed installs it, manual",
            prepare: |_| {},
            options: rolling_back(&["old"]),
            changes: &[
                "apt-get install -y --mark-auto --allow-downgrades old=1",
                "apt-mark manual old",
                "apt-get autoremove --purge -y",
            ],
            after: &["app 1", "lib 1 auto", "old 1"],
        },
    ]);
}

#[test]
fn a_rollback_pins_the_versions_and_a_plain_upgrade_removes_the_pin() {
    let mut node = node();
    node.install("app", "2", false).install("lib", "2", true);
    let mut listener = crate::RecordingListener::default();
    let changes = upgrade(
        &mut node,
        &rolling_back(&[]),
        &mut FakeReconfigure::default(),
        &mut listener,
    )
    .expect("rollback");
    assert_eq!(changes.downgraded, ["app 2 → 1"]);
    let pin = node.path(ROLLBACK_PIN);
    let held: BTreeMap<String, String> = [("app", "1"), ("lib", "2")]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        std::fs::read_to_string(&pin).expect("pin written"),
        rollback_pin("1", &held)
    );

    let mut listener = crate::RecordingListener::default();
    let changes = upgrade(
        &mut node,
        &plain(),
        &mut FakeReconfigure::default(),
        &mut listener,
    )
    .expect("plain upgrade");
    assert!(
        !pin.exists(),
        "a plain upgrade follows the environment again"
    );
    assert!(listener.infos[0].contains("following the environment again"));
    assert_eq!(changes.upgraded, ["app 1 → 2"]);
}

#[test]
fn unfinished_packages_are_configured_first_and_reported() {
    let mut node = node();
    node.packages.insert("lib".into(), ("1".into(), 'F'));
    let mut listener = crate::RecordingListener::default();
    let changes = upgrade(
        &mut node,
        &plain(),
        &mut FakeReconfigure::default(),
        &mut listener,
    )
    .expect("upgrade");
    assert_eq!(node.changes()[0], "dpkg --configure -a");
    assert_eq!(changes.finished, ["lib"]);
    assert_eq!(
        listener.infos[0],
        "finishing what an earlier run left: dpkg --configure -a (lib)"
    );
    assert!(
        !node.calls.iter().any(|c| c.starts_with("apt-get check")),
        "a known unfinished package needs no check"
    );
}

#[test]
fn a_failed_reconfigure_is_reported_after_the_others_ran() {
    let mut node = node();
    node.install("other", "1", false).configured("other");
    let mut reconfigure = FakeReconfigure {
        changing: ["other".to_string()].into(),
        failing: [(
            "app".to_string(),
            (|| Error::Usage("broken".into())) as fn() -> Error,
        )]
        .into(),
        ..FakeReconfigure::default()
    };
    let mut listener = crate::RecordingListener::default();
    let error = upgrade(&mut node, &plain(), &mut reconfigure, &mut listener)
        .expect_err("a failed package fails the upgrade");
    assert_eq!(reconfigure.asked, ["app", "other"]);
    match error {
        Error::Package { package, message } => {
            assert_eq!(package, "1 package(s)");
            assert!(message.contains("app: broken"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        listener
            .infos
            .last()
            .expect("summary")
            .contains("reconfigured other"),
        "the summary still tells what changed"
    );
}

#[test]
fn a_quit_or_an_ended_run_stops_reconfiguring_at_once() {
    let endings: [(&str, Failure); 3] = [
        ("cancelled", || Error::Cancelled),
        ("quit at an edited file", || Error::CancelledAtEditedFile {
            path: "/etc/app.conf".into(),
        }),
        ("ended", || Error::Ended {
            by: "SIGTERM".into(),
        }),
    ];
    for (case, ending) in endings {
        let mut node = node();
        node.install("other", "1", false).configured("other");
        let mut reconfigure = FakeReconfigure {
            failing: [("app".to_string(), ending)].into(),
            ..FakeReconfigure::default()
        };
        let mut listener = crate::RecordingListener::default();
        let error = upgrade(&mut node, &plain(), &mut reconfigure, &mut listener).expect_err(case);
        assert_eq!(error.exit_code(), crate::ExitCode::Cancelled, "{case}");
        assert_eq!(reconfigure.asked, ["app"], "{case}: nobody else is asked");
    }
}

#[test]
fn an_upgrade_before_the_first_update_asks_for_it_and_changes_nothing() {
    let mut node = FakeNode::new();
    node.publish("app", "1", &[]).install("app", "1", false);
    let error = upgrade(
        &mut node,
        &plain(),
        &mut FakeReconfigure::default(),
        &mut crate::RecordingListener::default(),
    )
    .expect_err("no index");
    assert!(error.to_string().contains("confpack update"), "{error}");
    assert!(node.changes().is_empty());
}

#[test]
fn install_marks_what_it_names_manual_and_pulls_the_rest_in_automatic() {
    let mut node = FakeNode::new();
    node.publish("app", "1", &["lib"])
        .publish("app", "2", &["lib"])
        .publish("lib", "1", &[])
        .publish("tool", "1", &[])
        .install("tool", "1", true)
        .fetch();
    let mut listener = crate::RecordingListener::default();
    let names = ["app=1".to_string(), "tool".to_string()];
    let changes = install(&mut node, &names, &mut listener).expect("install");
    assert_eq!(
        node.changes(),
        [
            UPDATE,
            "apt-get install -y app=1 tool",
            "apt-mark manual app tool"
        ]
    );
    assert_eq!(node.state(), ["app 1", "lib 1 auto", "tool 1"]);
    assert_eq!(changes.installed, ["app 1", "lib 1"]);
    assert_eq!(listener.infos.last(), Some(&changes.summary()));
}

#[test]
fn install_finishes_an_interrupted_dpkg_before_installing() {
    let mut node = node();
    node.interrupted = true;
    install(
        &mut node,
        &["old".to_string()],
        &mut crate::RecordingListener::default(),
    )
    .expect("install");
    assert_eq!(
        node.changes(),
        [
            UPDATE,
            "dpkg --configure -a",
            "apt-get install -y old",
            "apt-mark manual old"
        ]
    );
}

#[test]
fn install_refuses_a_bad_name_before_running_anything_and_stops_at_a_failed_apt() {
    let mut node = node();
    let error = install(
        &mut node,
        &["Bad Name".to_string()],
        &mut crate::RecordingListener::default(),
    )
    .expect_err("not a package name");
    assert_eq!(error.exit_code(), crate::ExitCode::Usage);
    assert!(node.calls.is_empty());

    node.failing
        .push(("apt-get install".into(), "E: Broken packages".into()));
    let error = install(
        &mut node,
        &["old".to_string()],
        &mut crate::RecordingListener::default(),
    )
    .expect_err("apt failed");
    assert_eq!(error.exit_code(), crate::ExitCode::PackageManager);
    assert_eq!(
        node.changes(),
        [UPDATE, "apt-get install -y old"],
        "no marks"
    );
}
