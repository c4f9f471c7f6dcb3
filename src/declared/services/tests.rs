//! Services against a [`FakeHost`] (the exact systemctl command lines),
//! and once against the real systemctl on a temporary root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::RecordingListener;
use crate::declared::tests::Run;
use crate::declared::{Declarations, SystemHost, converge, no_render, undo_all};

/// A root and a configure run on a node whose systemd runs (`systemd`)
/// or not (a chroot).
fn node(systemd: bool) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = Run::new(dir.path());
    run.host.systemd = systemd;
    (dir, run)
}

impl Run {
    /// Answers `systemctl --root=ROOT is-enabled webshop.service`.
    fn enablement(&mut self, root: &Path, code: i32, state: &str) -> &mut Self {
        self.host.answer(&files(root, "is-enabled"), code, state);
        self
    }

    fn activity(&mut self, code: i32, state: &str) -> &mut Self {
        self.host.answer(&manager("is-active"), code, state);
        self
    }

    /// The commands run so far, forgotten.
    fn ran(&mut self) -> Vec<String> {
        std::mem::take(&mut self.host.ran)
    }
}

/// `systemctl --root=ROOT <verb> webshop.service`: a unit file command.
fn files(root: &Path, verb: &str) -> String {
    format!("systemctl --root={} {verb} webshop.service", root.display())
}

/// `systemctl <verb> webshop.service`: a command to the running systemd.
fn manager(verb: &str) -> String {
    format!("systemctl {verb} webshop.service")
}

fn webshop() -> Service {
    Service {
        unit: "webshop.service".into(),
        enable: None,
        start: None,
        restart_on_change: None,
        mask: None,
    }
}

fn masked() -> Service {
    Service {
        mask: Some(true),
        ..webshop()
    }
}

/// An executable `usr/sbin/policy-rc.d` under `root` (the fake host is
/// scripted for its answer; it only has to exist to be asked).
fn policy_rc_d(root: &Path) -> String {
    let script = root.join("usr/sbin/policy-rc.d");
    std::fs::create_dir_all(root.join("usr/sbin")).expect("mkdir");
    std::fs::write(&script, "#!/bin/sh\nexit 101\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script.display().to_string()
}

#[test]
fn a_unit_is_enabled_and_started_on_a_running_systemd() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 1, "disabled\n")
        .activity(3, "inactive\n");
    let record = webshop().apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(
        run.ran(),
        [
            files(root, "is-enabled"),
            files(root, "enable"),
            manager("is-active"),
            manager("start"),
        ]
    );
    assert_eq!(record.before, Enablement::Disabled);
    assert_eq!(
        run.listener.infos,
        [
            "demo: enabled webshop.service",
            "demo: started webshop.service"
        ]
    );
}

#[test]
fn in_a_chroot_a_unit_is_only_enabled_and_an_info_says_why_it_did_not_start() {
    let (dir, mut run) = node(false);
    let root = dir.path();
    run.enablement(root, 1, "disabled\n");
    webshop().apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(
        run.ran(),
        [files(root, "is-enabled"), files(root, "enable"),]
    );
    assert!(
        run.listener.infos[1]
            .starts_with("demo: did not start webshop.service: systemd is not running"),
        "{:?}",
        run.listener.infos
    );
}

#[test]
fn a_start_that_policy_rc_d_denies_waits_with_an_info() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    let policy = policy_rc_d(root);
    run.enablement(root, 0, "enabled\n")
        .activity(3, "inactive\n");
    run.host.answer(&policy, 101, "");
    webshop().apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(
        run.ran(),
        [
            files(root, "is-enabled"),
            manager("is-active"),
            format!("{policy} webshop.service start"),
        ]
    );
    assert_eq!(
        run.listener.infos,
        [
            "demo: did not start webshop.service: /usr/sbin/policy-rc.d denies start of \
             webshop.service; it runs at the next configure that policy-rc.d allows"
        ]
    );

    // Any other answer allows.
    run.host.answers.retain(|(prefix, _)| prefix != &policy);
    run.host.answer(&policy, 104, "");
    webshop().apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(
        run.ran()[2..],
        [format!("{policy} webshop.service start"), manager("start"),]
    );
}

#[test]
fn a_restart_policy_rc_d_denies_is_done_by_the_next_configure_it_allows() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    let policy = policy_rc_d(root);
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    run.host.answer(&policy, 101, "");
    run.changed = vec![PathBuf::from("/etc/webshop/webshop.conf")];
    let denied = webshop().apply(None, &mut run.cx(root)).expect("apply");
    assert!(denied.restart_pending);
    assert_eq!(
        run.ran().last(),
        Some(&format!("{policy} webshop.service restart"))
    );

    // The next configure changes no file, yet restarts it once allowed.
    run.changed.clear();
    run.host.answers.retain(|(prefix, _)| prefix != &policy);
    let done = webshop()
        .apply(Some(&denied), &mut run.cx(root))
        .expect("apply");
    assert!(!done.restart_pending);
    assert_eq!(
        run.ran().last().map(String::as_str),
        Some("systemctl restart webshop.service")
    );
    webshop()
        .apply(Some(&done), &mut run.cx(root))
        .expect("apply");
    assert!(
        !run.ran().iter().any(|c| c.contains("restart")),
        "only once"
    );
}

#[test]
fn applying_again_to_an_enabled_running_unit_changes_nothing() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 1, "disabled\n")
        .activity(3, "inactive\n");
    let declarations = Declarations {
        services: vec![webshop()],
        ..Declarations::default()
    };
    let first = converge(&declarations, Vec::new(), &mut run.cx(root));
    assert!(first.failure.is_none(), "{:?}", first.failure);
    run.ran();
    run.host.answers.clear();
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    let again = converge(&declarations, first.records.clone(), &mut run.cx(root));
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    assert_eq!(again.records, first.records, "the state before is kept");
    assert_eq!(
        run.ran(),
        [files(root, "is-enabled"), manager("is-active"),]
    );
}

#[test]
fn a_running_unit_is_restarted_when_the_run_changed_the_package_or_the_declaration() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    run.changed = vec![PathBuf::from("/etc/webshop/webshop.conf")];
    let record = webshop().apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(
        run.ran().last().map(String::as_str),
        Some("systemctl restart webshop.service")
    );
    assert_eq!(run.listener.infos, ["demo: restarted webshop.service"]);

    // Not with `restart-on-change: false`.
    let quiet = Service {
        restart_on_change: Some(false),
        ..webshop()
    };
    quiet
        .apply(Some(&record), &mut run.cx(root))
        .expect("apply");
    assert!(!run.ran().iter().any(|c| c.contains("restart")));

    // A changed declaration restarts without a changed file.
    run.changed.clear();
    let changed = Service {
        enable: Some(true),
        ..webshop()
    };
    changed
        .apply(Some(&record), &mut run.cx(root))
        .expect("apply");
    assert_eq!(
        run.ran().last().map(String::as_str),
        Some("systemctl restart webshop.service")
    );
}

#[test]
fn a_unit_that_is_not_started_is_restarted_on_change_only_when_it_runs() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n")
        .activity(3, "inactive\n");
    run.changed = vec![PathBuf::from("/etc/webshop/webshop.conf")];
    let unstarted = Service {
        start: Some(false),
        ..webshop()
    };
    unstarted.apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(
        run.ran(),
        [files(root, "is-enabled"), manager("is-active"),]
    );
}

#[test]
fn a_failing_start_names_the_unit_and_where_to_look() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n").activity(3, "failed\n");
    run.host.answers.push((
        manager("start"),
        Ran {
            code: Some(1),
            stdout: String::new(),
            stderr: "Job for webshop.service failed because the control process exited with error code.\n".into(),
        },
    ));
    let error = webshop()
        .apply(None, &mut run.cx(root))
        .expect_err("start fails")
        .to_string();
    assert_eq!(
        error,
        "systemctl start webshop.service: Job for webshop.service failed because the control \
         process exited with error code.; see `systemctl status webshop.service` and \
         `journalctl -u webshop.service`"
    );
}

#[test]
fn undo_stops_and_disables_a_unit_confpack_enabled() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    let record = Record {
        applied: webshop(),
        before: Enablement::Disabled,
        restart_pending: false,
    };
    let kept = record.undo(Undo::Remove, &mut run.cx(root)).expect("undo");
    assert_eq!(kept, None);
    assert_eq!(
        run.ran(),
        [
            files(root, "is-enabled"),
            manager("is-active"),
            manager("stop"),
            files(root, "disable"),
        ]
    );
}

#[test]
fn undo_in_a_chroot_only_disables() {
    let (dir, mut run) = node(false);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n");
    let record = Record {
        applied: webshop(),
        before: Enablement::Disabled,
        restart_pending: false,
    };
    record.undo(Undo::Purge, &mut run.cx(root)).expect("undo");
    assert_eq!(
        run.ran(),
        [files(root, "is-enabled"), files(root, "disable"),]
    );
}

#[test]
fn undo_leaves_a_unit_enabled_before_confpack_enabled_and_running() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    let record = Record {
        applied: webshop(),
        before: Enablement::Enabled,
        restart_pending: false,
    };
    record.undo(Undo::Remove, &mut run.cx(root)).expect("undo");
    assert_eq!(run.ran(), [files(root, "is-enabled")]);

    // One confpack disabled is enabled again.
    run.host.answers.clear();
    run.enablement(root, 1, "disabled\n");
    let disabled = Record {
        applied: Service {
            enable: Some(false),
            ..webshop()
        },
        before: Enablement::Enabled,
        restart_pending: false,
    };
    disabled
        .undo(Undo::Dropped, &mut run.cx(root))
        .expect("undo");
    assert_eq!(run.ran()[1..], [files(root, "enable")]);
}

#[test]
fn enable_false_disables_a_unit_enabled_before() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    let off = Service {
        enable: Some(false),
        ..webshop()
    };
    let record = off.apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(record.before, Enablement::Enabled);
    assert_eq!(
        run.ran(),
        [
            files(root, "is-enabled"),
            files(root, "disable"),
            manager("is-active"),
        ]
    );
}

#[test]
fn a_masked_unit_is_stopped_and_unmasked_on_removal() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    let record = masked().apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(
        run.ran(),
        [
            files(root, "is-enabled"),
            files(root, "mask"),
            manager("is-active"),
            manager("stop"),
        ]
    );
    assert_eq!(record.before, Enablement::Enabled);

    run.host.answers.clear();
    run.enablement(root, 1, "masked\n");
    record.undo(Undo::Remove, &mut run.cx(root)).expect("undo");
    assert_eq!(
        run.ran(),
        [files(root, "is-enabled"), files(root, "unmask"),]
    );
}

#[test]
fn a_mask_confpack_no_longer_declares_is_lifted_and_the_unit_enabled_and_started() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 1, "masked\n")
        .activity(3, "inactive\n");
    let record = Record {
        applied: masked(),
        before: Enablement::Disabled,
        restart_pending: false,
    };
    webshop()
        .apply(Some(&record), &mut run.cx(root))
        .expect("apply");
    let ran = run.ran();
    assert_eq!(ran[1], files(root, "unmask"));
    assert_eq!(ran[2], files(root, "is-enabled"));
}

#[test]
fn a_unit_masked_by_the_administrator_stays_masked() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 1, "masked\n");
    let record = webshop().apply(None, &mut run.cx(root)).expect("apply");
    assert_eq!(run.ran(), [files(root, "is-enabled")]);
    assert!(
        run.listener.warnings[0].contains("webshop.service is masked (not by confpack)"),
        "{:?}",
        run.listener.warnings
    );
    record.undo(Undo::Remove, &mut run.cx(root)).expect("undo");
    assert_eq!(
        run.ran(),
        [files(root, "is-enabled")],
        "not confpack's mask to lift"
    );
}

#[test]
fn drift_names_enablement_and_running_state() {
    let (dir, mut run) = node(true);
    let root = dir.path();
    run.enablement(root, 0, "enabled\n").activity(0, "active\n");
    let record = Record {
        applied: webshop(),
        before: Enablement::Disabled,
        restart_pending: false,
    };
    assert!(record.drift(&mut run.cx(root)).is_empty());
    run.host.answers.clear();
    run.enablement(root, 1, "masked\n").activity(3, "failed\n");
    assert_eq!(
        record.drift(&mut run.cx(root)),
        ["masked instead of enabled", "not running (failed)"]
    );

    // Without systemd running only the enablement is checked.
    run.host.systemd = false;
    run.host.answers.clear();
    run.enablement(root, 1, "disabled\n");
    assert_eq!(
        record.drift(&mut run.cx(root)),
        ["disabled instead of enabled"]
    );
    let masked = Record {
        applied: masked(),
        before: Enablement::Disabled,
        restart_pending: false,
    };
    assert_eq!(
        masked.drift(&mut run.cx(root)),
        ["disabled instead of masked"]
    );
}

#[test]
fn checks_refuse_bad_unit_names_and_a_mask_with_enable_or_start() {
    let check = |service: Service| service.check();
    assert!(check(webshop()).is_empty());
    assert!(check(masked()).is_empty());
    assert!(
        check(Service {
            unit: "--now".into(),
            ..webshop()
        })[0]
            .starts_with("unit: \"--now\" is not a systemd unit name"),
    );
    assert!(
        check(Service {
            unit: "webshop".into(),
            ..webshop()
        })[0]
            .starts_with("unit: webshop needs its type as suffix"),
    );
    assert!(
        check(Service {
            unit: "webshop@.service".into(),
            ..webshop()
        })[0]
            .contains("is a template"),
    );
    assert_eq!(
        check(Service {
            enable: Some(true),
            start: Some(true),
            ..masked()
        }),
        [
            "`mask: true` and `enable: true` exclude each other (a masked unit never runs)",
            "`mask: true` and `start: true` exclude each other (a masked unit never runs)",
        ]
    );
}

#[test]
fn services_are_read_from_control_yml_and_applied_last() {
    let declarations: Declarations = yaml_serde::from_str(
        "services:\n  - unit: webshop.service\n    restart-on-change: false\n  - unit: apache-htcacheclean.service\n    mask: true\ndirectories:\n  - path: /srv/webshop\n",
    )
    .expect("yaml");
    assert_eq!(
        declarations.services[0],
        Service {
            restart_on_change: Some(false),
            ..webshop()
        }
    );
    assert!(declarations.services[1].mask());
    let order: Vec<String> = declarations
        .declared()
        .iter()
        .map(|d| d.id().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "directory /srv/webshop",
            "service webshop.service",
            "service apache-htcacheclean.service"
        ]
    );
    assert!(
        yaml_serde::from_str::<Declarations>("services:\n  - unit: a.service\n    enabled: true\n")
            .is_err(),
        "unknown keys are refused"
    );
    let record = crate::declared::Record::Service(Record {
        applied: masked(),
        before: Enablement::Enabled,
        restart_pending: false,
    });
    let json = serde_json::to_string(&record).expect("json");
    assert!(json.contains("\"kind\":\"service\""), "{json}");
    assert_eq!(
        serde_json::from_str::<crate::declared::Record>(&json).expect("back"),
        record
    );
}

/// The real systemctl on an image root: `--root` only edits symlinks, as
/// in an image build.
#[test]
fn systemctl_root_enables_and_disables_a_unit_in_an_image_root() {
    if !Path::new("/usr/bin/systemctl").exists() && !Path::new("/bin/systemctl").exists() {
        eprintln!("skipped: systemctl is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc/systemd/system")).expect("mkdir");
    std::fs::create_dir_all(root.join("usr/lib/systemd/system")).expect("mkdir");
    std::fs::write(
        root.join("usr/lib/systemd/system/demo.service"),
        "[Unit]\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    )
    .expect("unit");
    let mut host = SystemHost::new(root);
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
    let service = Service {
        unit: "demo.service".into(),
        enable: Some(true),
        start: Some(false),
        restart_on_change: None,
        mask: None,
    };
    let declarations = Declarations {
        services: vec![service],
        ..Declarations::default()
    };
    let done = converge(&declarations, Vec::new(), &mut cx);
    assert!(done.failure.is_none(), "{:?}", done.failure);
    let wants = root.join("etc/systemd/system/multi-user.target.wants/demo.service");
    assert!(wants.symlink_metadata().is_ok(), "enabled");
    assert!(done.records[0].drift(&mut cx).is_empty());
    let (kept, errors) = undo_all(done.records, Undo::Remove, &mut cx);
    assert!(kept.is_empty() && errors.is_empty(), "{errors:?}");
    assert!(wants.symlink_metadata().is_err(), "disabled");
}
