//! `confpack validate`, `configure`, `get`/`set`/`answers` run as the real
//! binary on fixtures in temporary roots.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

fn configure(root: &Path) -> std::process::Command {
    let mut command = confpack(root);
    command.args(["configure", "--frontend", "noninteractive"]);
    command
}

fn configure_sample(root: &Path, machine: &str) -> std::process::Command {
    let mut command = configure(root);
    command
        .arg("--env-file")
        .arg(sample())
        .args(["--machine", machine]);
    command
}

mod validate {
    use super::*;

    #[test]
    fn the_sample_document_is_valid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = ok(confpack(dir.path()).arg("validate").arg(sample()));
        assert!(out.ends_with("sample-env.xml: valid\n"), "{out}");
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = fixture("invalid-many.xml");
        let (code, _, stderr) = run(confpack(dir.path()).arg("validate").arg(&file));
        assert_eq!(code, 1, "{stderr}");
        let name = file.display().to_string();
        for expected in [
            format!("{name}:4: "), // unknown type (XSD)
            format!("{name}:11: template shop/list: a derived template needs an <expression>"),
            format!("{name}:16: question shop/level: `medium` is not one of the choices"),
            format!("{name}:17: question shop/missing has no template"),
            format!("{name}:18: machine ip `10.0.0.300`"),
        ] {
            assert!(
                stderr.contains(&expected),
                "missing {expected:?} in\n{stderr}"
            );
        }
    }

    #[test]
    fn identity_constraints_are_checked_once_each_with_their_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = fixture("duplicates.xml");
        let (code, _, stderr) = run(confpack(dir.path()).arg("validate").arg(&file));
        assert_eq!(code, 1);
        let name = file.display().to_string();
        for expected in [
            format!("{name}:5: template a/b is defined twice"),
            format!("{name}:9: question a/b is given twice for this environment"),
            format!("{name}:10: question a/b is given twice for this machine"),
            format!("{name}:11: machine ip 10.0.0.1 appears twice"),
            format!("{name}:11: machine hostname H appears twice"),
            format!("{name}:13: environment e is defined twice"),
        ] {
            assert!(
                stderr.contains(&expected),
                "missing {expected:?} in\n{stderr}"
            );
        }
        assert_eq!(stderr.lines().count(), 6, "each problem once:\n{stderr}");
        // The published XSD finds the same problems (xmllint, when present).
        if let Ok(output) = std::process::Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(repo().join("schemas/confpack-environment-1.xsd"))
            .arg(&file)
            .output()
        {
            let text = String::from_utf8_lossy(&output.stderr);
            assert_eq!(text.matches("Duplicate key-sequence").count(), 5, "{text}");
        } else {
            eprintln!(
                "skipped the xmllint cross-check: xmllint is not installed (apt-get install libxml2-utils)"
            );
        }
    }

    #[test]
    fn a_doctype_is_refused_before_any_entity_is_expanded() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["entity-bomb.xml", "external-entity.xml"] {
            let started = Instant::now();
            let (code, stdout, stderr) =
                run(confpack(dir.path()).arg("validate").arg(fixture(name)));
            assert_eq!(code, 1, "{name}: {stdout}{stderr}");
            assert!(
                stderr.contains("<!DOCTYPE> is not allowed"),
                "{name}: {stderr}"
            );
            assert!(
                !stderr.contains("root:"),
                "{name} leaked /etc/passwd: {stderr}"
            );
            assert!(started.elapsed() < Duration::from_secs(10));
        }
    }

    #[test]
    fn a_truncated_document_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = std::fs::read_to_string(sample()).expect("sample");
        let truncated = dir.path().join("truncated.xml");
        std::fs::write(&truncated, &text[..text.len() / 2]).expect("write");
        let (code, _, stderr) = run(confpack(dir.path()).arg("validate").arg(&truncated));
        assert_eq!(code, 1);
        assert!(stderr.contains("truncated.xml:"), "{stderr}");
        assert!(
            stderr.contains("not well-formed") || stderr.contains("Premature"),
            "{stderr}"
        );
    }

    #[test]
    fn every_truncation_of_the_sample_is_an_error_never_a_crash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = std::fs::read(sample()).expect("sample");
        let path = dir.path().join("cut.xml");
        for cut in (0..text.len()).step_by(37) {
            std::fs::write(&path, &text[..cut]).expect("write");
            let result =
                confpack::env::validate(&path, "cut.xml", confpack::env::Validation::Builtin);
            assert!(result.is_err(), "a document cut at byte {cut} was accepted");
        }
    }

    #[test]
    fn a_document_in_another_namespace_is_named_as_such() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("other.xml");
        std::fs::write(
            &file,
            "<environments version=\"1\"><templates/></environments>",
        )
        .expect("write");
        let (code, _, stderr) = run(confpack(dir.path()).arg("validate").arg(&file));
        assert_eq!(code, 1);
        assert!(stderr.contains("unknown document type"), "{stderr}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, _, stderr) =
            run(confpack(dir.path()).args(["validate", "/nonexistent/env.xml"]));
        assert_eq!(code, 1);
        assert!(stderr.contains("/nonexistent/env.xml"), "{stderr}");
    }
}

mod noninteractive {
    use super::*;

    #[test]
    fn a_required_answer_without_default_exits_3_listing_it_and_stores_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, _, stderr) = run(&mut configure_sample(dir.path(), "10.10.0.21"));
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("webshop/db.password"), "{stderr}");
        assert!(stderr.contains("confpack set"), "{stderr}");
        assert_eq!(answers(dir.path()), serde_json::json!({}));
    }

    #[test]
    fn configured_default_and_derived_values_are_stored_with_their_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "s3cret");
        ok(&mut configure_sample(dir.path(), "10.10.0.21"));
        let all = answers(dir.path());
        assert_eq!(all["webshop/db.host"]["value"], "db1.prod.example.com");
        assert_eq!(all["webshop/db.host"]["source"], "configured");
        assert_eq!(
            all["webshop/workers"]["value"], "16",
            "environment-level value"
        );
        assert_eq!(all["webshop/db.name"]["source"], "default");
        assert_eq!(
            all["webshop/cluster.iplist"]["value"],
            "10.10.0.10 10.10.0.21 10.10.0.22 10.10.0.30"
        );
        assert_eq!(all["webshop/cluster.iplist"]["source"], "derived");
        assert_eq!(
            all["webshop/tls.certificate.path"]["value"],
            "/etc/ssl/certs/shop.example.com.pem"
        );
        assert_eq!(all["webshop/db.password"]["value"], "s3cret");
        assert_eq!(all["webshop/db.password"]["secret"], true);
    }

    #[test]
    fn a_machine_value_overrides_the_environment_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "x");
        ok(&mut configure_sample(dir.path(), "db1.prod.example.com"));
        assert_eq!(value(dir.path(), "webshop/workers").as_deref(), Some("2"));
        assert_eq!(
            value(dir.path(), "webshop/role").as_deref(),
            Some("database")
        );
    }

    #[test]
    fn a_conflicting_user_value_is_kept_and_an_equal_one_hands_back_authority() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "x");
        ok(&mut configure_sample(dir.path(), "10.10.0.21"));
        ok(confpack(dir.path()).args(["set", "webshop/db.host", "mydb"]));
        ok(&mut configure_sample(dir.path(), "10.10.0.21"));
        let all = answers(dir.path());
        assert_eq!(all["webshop/db.host"]["value"], "mydb");
        assert_eq!(all["webshop/db.host"]["source"], "user");

        ok(confpack(dir.path()).args(["set", "webshop/db.host", "db1.prod.example.com"]));
        ok(&mut configure_sample(dir.path(), "10.10.0.21"));
        assert_eq!(
            answers(dir.path())["webshop/db.host"]["source"],
            "configured"
        );
    }

    #[test]
    fn the_dry_run_prints_the_plan_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "hunter2");
        let before = answers(dir.path());
        let out = ok(configure_sample(dir.path(), "10.10.0.21").arg("--dry-run"));
        assert!(out.contains("webshop/db.host"), "{out}");
        assert!(out.contains("set (configured)"), "{out}");
        assert!(!out.contains("hunter2"), "secret shown in plan: {out}");
        assert_eq!(answers(dir.path()), before);
    }

    #[test]
    fn the_chosen_environment_is_remembered_for_the_next_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "x");
        ok(configure(dir.path()).arg("--env-file").arg(sample()).args([
            "--environment",
            "staging",
            "--machine",
            "10.20.0.21",
        ]));
        // No machine of the document is this host, no --environment: the
        // stored one is used.
        ok(configure(dir.path()).arg("--env-file").arg(sample()));
        assert_eq!(
            value(dir.path(), "webshop/environment").as_deref(),
            Some("staging")
        );
    }

    #[test]
    fn an_unknown_machine_lists_the_machines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, _, stderr) = run(&mut configure_sample(dir.path(), "10.10.0.2"));
        assert_eq!(code, 1);
        assert!(stderr.contains("no machine 10.10.0.2"), "{stderr}");
        assert!(
            stderr.contains("10.10.0.21 (app1.prod.example.com)"),
            "{stderr}"
        );
    }

    #[test]
    fn this_host_is_found_by_its_exact_host_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hostname = gethostname::gethostname().to_string_lossy().into_owned();
        if hostname.is_empty()
            || hostname == "localhost"
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            eprintln!("skipped: host name {hostname:?} cannot appear in a document");
            return;
        }
        let text = std::fs::read_to_string(sample())
            .expect("sample")
            .replace(
                "hostname=\"app1.staging.example.com\"",
                &format!("hostname=\"{hostname}\""),
            )
            // A near miss that substring matching would take.
            .replace(
                "hostname=\"db1.staging.example.com\"",
                &format!("hostname=\"x{hostname}\""),
            );
        let document = dir.path().join("env.xml");
        std::fs::write(&document, text).expect("write");
        preseed_password(dir.path(), "x");
        ok(configure(dir.path()).arg("--env-file").arg(&document));
        assert_eq!(
            value(dir.path(), "webshop/hostname").as_deref(),
            Some("app1.staging.example.com")
        );
    }

    #[test]
    fn reconfigure_with_force_questions_keeps_values_noninteractively() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "x");
        ok(&mut configure_sample(dir.path(), "10.10.0.21"));
        let before = answers(dir.path());
        ok(confpack(dir.path())
            .args([
                "reconfigure",
                "--frontend",
                "noninteractive",
                "--force-questions",
                "--machine",
                "10.10.0.21",
            ])
            .arg("--env-file")
            .arg(sample()));
        assert_eq!(answers(dir.path()), before);
    }

    /// `reconfigure` plans every question at every priority; with
    /// `--unseen-only` only those never shown (defaults taken unattended,
    /// a note nobody has seen).
    #[test]
    fn reconfigure_unseen_only_asks_only_what_was_never_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "x");
        ok(&mut configure_sample(dir.path(), "10.10.0.21"));
        let plan = |extra: &[&str]| {
            ok(confpack(dir.path())
                .arg("reconfigure")
                .args(extra)
                .args(["--dry-run", "--machine", "10.10.0.21", "--env-file"])
                .arg(sample()))
        };
        let asked = |plan: &str| -> Vec<String> {
            plan.lines()
                .filter(|line| line.contains(" ask: "))
                .filter_map(|line| line.split_whitespace().next().map(str::to_string))
                .collect()
        };
        let everything = plan(&[]);
        assert!(asked(&everything).len() > 20, "{everything}");
        assert!(everything.contains("webshop/workers               ask: forced"));
        let unseen = plan(&["--unseen-only"]);
        // The two the noninteractive run defaulted, and the note.
        assert_eq!(
            asked(&unseen),
            [
                "webshop/welcome",
                "webshop/admin.email",
                "webshop/maintenance"
            ],
            "{unseen}"
        );
        let (code, _, stderr) =
            run(confpack(dir.path()).args(["reconfigure", "--unseen-only", "--force-questions"]));
        assert_eq!(code, 2, "{stderr}");
    }
}

mod answers_output {
    use super::*;

    #[test]
    fn secrets_are_masked_unless_asked_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "hunter2");
        for format in ["table", "json", "shell"] {
            let out = ok(confpack(dir.path()).args(["answers", "--format", format]));
            assert!(!out.contains("hunter2"), "{format}: {out}");
        }
        let out = ok(confpack(dir.path()).args(["answers", "--format", "shell", "--show-secrets"]));
        assert!(out.contains("hunter2"), "{out}");
        assert_eq!(
            ok(confpack(dir.path()).args(["get", "--show-secrets", "webshop/db.password"])),
            "hunter2\n"
        );
    }

    #[test]
    fn shell_format_round_trips_values_that_look_like_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hostile = "$(touch pwned) `touch pwned2` ' \" \\ {{ 7*7 }}\nsecond line";
        ok(confpack(dir.path()).args(["set", "x/v", hostile]));
        let exported = ok(confpack(dir.path()).args(["answers", "--format", "shell"]));
        let script = format!("{exported}\nprintf '%s' \"$CONFPACK_X_V\"");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir.path())
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), hostile);
        assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists());
    }

    #[test]
    fn get_of_an_unknown_key_fails_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, _, stderr) = run(confpack(dir.path()).args(["get", "x/nothing"]));
        assert_eq!(code, 1);
        assert!(
            stderr.contains("no answer stored for x/nothing"),
            "{stderr}"
        );
    }
}

mod package {
    use super::*;

    fn configure_package(root: &Path) -> std::process::Command {
        let mut command = configure(root);
        command.args(["--package", "webshop", "--machine", "10.10.0.21"]);
        command
    }

    fn mtime(path: &Path) -> std::time::SystemTime {
        std::fs::metadata(path)
            .expect("stat")
            .modified()
            .expect("mtime")
    }

    #[test]
    fn templates_are_rendered_with_the_answers_and_secrets_get_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "pa'ss$(x)");
        ok(&mut configure_package(dir.path()));
        let app =
            std::fs::read_to_string(dir.path().join("etc/webshop/app.conf")).expect("app.conf");
        assert!(app.contains("url = https://shop.example.com/"), "{app}");
        assert!(
            app.contains("members = 10.10.0.10 10.10.0.21 10.10.0.22 10.10.0.30"),
            "{app}"
        );
        assert!(app.contains("gift-cards = on"), "{app}");
        assert!(
            app.contains("certificate = /etc/ssl/certs/shop.example.com.pem"),
            "{app}"
        );
        let database = dir.path().join("etc/webshop/database.conf");
        let text = std::fs::read_to_string(&database).expect("database.conf");
        assert!(text.contains("password=pa'ss$(x)\n"), "{text}");
        let mode = std::fs::metadata(&database)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "a file holding a secret must be 0600");
        let app_mode = std::fs::metadata(dir.path().join("etc/webshop/app.conf"))
            .expect("stat")
            .permissions()
            .mode()
            & 0o077;
        assert_ne!(app_mode, 0, "files without secrets keep their usual mode");
    }

    #[test]
    fn a_second_run_with_nothing_changed_touches_nothing_and_runs_no_hook() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(&mut configure_package(dir.path()));
        let app = dir.path().join("etc/webshop/app.conf");
        let firewall_log = dir.path().join("hook-firewall.log");
        assert_eq!(
            std::fs::read_to_string(&firewall_log).expect("hook ran"),
            "10.10.0.10 10.10.0.21 10.10.0.22 10.10.0.30\n"
        );
        let before = mtime(&app);
        std::thread::sleep(Duration::from_millis(20));
        let (code, _, stderr) = run(&mut configure_package(dir.path()));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(mtime(&app), before, "unchanged file rewritten");
        assert_eq!(
            std::fs::read_to_string(&firewall_log)
                .expect("log")
                .lines()
                .count(),
            1,
            "hook ran again"
        );
        assert!(
            stderr.contains("nothing changed since the last run"),
            "{stderr}"
        );
        // The slow path agrees: a full run changes nothing either.
        let (code, _, stderr) = run(configure_package(dir.path()).args(["--priority", "critical"]));
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains("0 answer(s) changed, 0 file(s) written"),
            "{stderr}"
        );
        assert_eq!(mtime(&app), before, "unchanged file rewritten");
    }

    #[test]
    fn a_rendered_file_edited_by_hand_is_rendered_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(&mut configure_package(dir.path()));
        let app = dir.path().join("etc/webshop/app.conf");
        let rendered = std::fs::read_to_string(&app).expect("read");
        std::fs::write(&app, "edited by hand\n").expect("write");
        let (code, _, stderr) = run(&mut configure_package(dir.path()));
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("nothing changed"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&app).expect("read"), rendered);
    }

    #[test]
    fn an_answer_set_between_runs_is_rendered() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "old");
        ok(&mut configure_package(dir.path()));
        preseed_password(dir.path(), "new");
        ok(&mut configure_package(dir.path()));
        let text =
            std::fs::read_to_string(dir.path().join("etc/webshop/database.conf")).expect("read");
        assert!(text.contains("password=new\n"), "{text}");
    }

    #[test]
    fn only_hooks_whose_inputs_changed_run_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(&mut configure_package(dir.path()));
        // Add a machine to production: the IP list changes, the database
        // settings do not.
        let document = package.join("environment.xml");
        let text = std::fs::read_to_string(&document).expect("read").replace(
            "<machine ip=\"10.10.0.30\"",
            "<machine ip=\"10.10.0.23\" hostname=\"app3.prod.example.com\"/>\n    <machine ip=\"10.10.0.30\"",
        );
        std::fs::write(&document, text).expect("write");
        ok(&mut configure_package(dir.path()));
        let firewall = std::fs::read_to_string(dir.path().join("hook-firewall.log")).expect("log");
        assert_eq!(firewall.lines().count(), 2, "{firewall}");
        assert!(firewall.ends_with("10.10.0.23 10.10.0.30\n"), "{firewall}");
        let database = std::fs::read_to_string(dir.path().join("hook-database.log")).expect("log");
        assert_eq!(
            database.lines().count(),
            1,
            "database hook ran without a change: {database}"
        );
        assert!(
            database.contains("\"webshop/db.password\":\"x\""),
            "values arrive on stdin: {database}"
        );
        let app = std::fs::read_to_string(dir.path().join("etc/webshop/app.conf")).expect("app");
        assert!(app.contains("10.10.0.23"), "{app}");
    }

    #[test]
    fn a_dropped_template_removes_its_rendered_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(&mut configure_package(dir.path()));
        assert!(dir.path().join("etc/webshop/database.conf").exists());
        std::fs::remove_file(package.join("templates/etc/webshop/database.conf.j2")).expect("rm");
        ok(&mut configure_package(dir.path()));
        assert!(!dir.path().join("etc/webshop/database.conf").exists());
        assert!(dir.path().join("etc/webshop/app.conf").exists());
    }

    #[test]
    fn a_template_replaced_by_a_shipped_file_keeps_the_shipped_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(&mut configure_package(dir.path()));
        // Version 2 ships database.conf as a plain file: dpkg unpacks it over
        // the rendered one, and the template is gone.
        std::fs::remove_file(package.join("templates/etc/webshop/database.conf.j2")).expect("rm");
        let shipped = dir.path().join("etc/webshop/database.conf");
        std::fs::write(&shipped, "shipped by version 2\n").expect("write");
        ok(&mut configure_package(dir.path()));
        assert_eq!(
            std::fs::read_to_string(&shipped).expect("read"),
            "shipped by version 2\n"
        );
    }

    #[test]
    fn a_broken_template_writes_nothing_and_names_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        std::fs::write(
            package.join("templates/etc/webshop/broken.conf.j2"),
            "ok\nvalue = {{ answers[\"webshop/no.such\"] }}\n",
        )
        .expect("write");
        let (code, _, stderr) = run(&mut configure_package(dir.path()));
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("broken.conf.j2:2: undefined value answers[\"webshop/no.such\"] "),
            "{stderr}"
        );
        assert!(
            !dir.path().join("etc/webshop/app.conf").exists(),
            "a file was written"
        );
        // The answers were committed before rendering: nothing to re-enter.
        assert_eq!(
            value(dir.path(), "webshop/db.host").as_deref(),
            Some("db1.prod.example.com")
        );
    }

    #[test]
    fn without_a_machine_printing_machine_hostname_names_it_with_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(confpack(dir.path()).args(["set", "webshop/hostname", "build"]));
        let (code, _, stderr) = run(configure(dir.path()).args([
            "--package",
            "webshop",
            "--environment",
            "production",
        ]));
        assert_eq!(code, 1, "{stderr}");
        let template = dir
            .path()
            .join("usr/share/confpack/webshop/templates/etc/webshop/app.conf.j2");
        assert!(
            stderr.contains(&format!(
                "{}:1: machine.hostname is none",
                template.display()
            )),
            "{stderr}"
        );
        assert!(stderr.contains("machine.hostname | default(…)"), "{stderr}");
    }

    #[test]
    fn a_derived_expression_with_a_typo_names_it_with_the_document_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = std::fs::read_to_string(sample()).expect("sample");
        let line = text
            .lines()
            .position(|l| l.contains("key=\"webshop/cluster.size\""))
            .expect("template")
            + 1;
        let document = dir.path().join("env.xml");
        std::fs::write(
            &document,
            text.replace("environment.machines | length", "machine.hostnme | length"),
        )
        .expect("write");
        preseed_password(dir.path(), "x");
        let (code, _, stderr) = run(configure(dir.path())
            .arg("--env-file")
            .arg(&document)
            .args(["--machine", "10.10.0.21"]));
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{}:{line}: webshop/cluster.size: undefined value machine.hostnme ",
                document.display()
            )),
            "{stderr}"
        );
    }

    #[test]
    fn an_unknown_package_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, _, stderr) = run(configure(dir.path()).args(["--package", "nosuch"]));
        assert_eq!(code, 1);
        assert!(stderr.contains("package nosuch"), "{stderr}");
        assert!(stderr.contains("is the package installed"), "{stderr}");
    }
}

mod store {
    use super::*;

    /// A person without root running a node command: told to run it as
    /// root, never to take root's answers over with chown.
    #[test]
    fn another_user_is_told_to_use_sudo_not_to_take_roots_answers_over() {
        if rustix::process::geteuid().as_raw() != 0 {
            eprintln!("skipped: needs root (to run confpack as another user)");
            return;
        }
        if std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: setpriv (util-linux) not installed");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_password(dir.path(), "x");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let (code, _, stderr) = run(std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_confpack"))
            .arg("--root")
            .arg(dir.path())
            .arg("answers"));
        assert_ne!(code, 0, "{stderr}");
        assert!(stderr.contains("sudo confpack"), "{stderr}");
        assert!(!stderr.contains("chown"), "{stderr}");
    }

    #[test]
    fn a_second_confpack_waits_then_fails_clearly_while_the_database_is_held() {
        let dir = tempfile::tempdir().expect("tempdir");
        let package = install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        // A hook that holds the run (and so the database) for a while.
        std::fs::write(
            package.join("package.yml"),
            "hooks:\n  - name: slow\n    reads: []\n    run: [sh, -c, 'touch \"$CONFPACK_ROOT/started\"; sleep 3']\n",
        )
        .expect("write");
        let mut holder = configure(dir.path())
            .args(["--package", "webshop", "--machine", "10.10.0.21"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        while !dir.path().join("started").exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "holder never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let (code, _, stderr) =
            run(confpack(dir.path()).args(["--lock-timeout", "0.3", "get", "webshop/db.host"]));
        assert_eq!(code, 4, "{stderr}");
        assert!(
            stderr.contains("another confpack process holds the answer database"),
            "{stderr}"
        );
        assert!(holder.wait().expect("wait").success());
        // Once released, a waiting reader gets through.
        assert_eq!(
            ok(confpack(dir.path()).args(["get", "webshop/db.host"])),
            "db1.prod.example.com\n"
        );
    }

    #[test]
    fn a_copy_the_caller_already_knows_is_hashed_not_read() {
        use confpack::env::load::{DocumentSource, load_unless_known};
        let dir = tempfile::tempdir().expect("tempdir");
        let source = DocumentSource::new(None, Some(sample()), dir.path().join("cache"));
        let expected = confpack::files::file_sha256(&sample()).expect("sha");
        let known = load_unless_known(&source, &|_| true, &|document, _| document == expected)
            .expect("load");
        assert!(known.known);
        assert!(known.document.templates.is_empty(), "the document was read");
        assert_eq!(known.sha256, expected);
        let read = load_unless_known(&source, &|_| true, &|_, _| false).expect("load");
        assert!(!read.known);
        assert!(!read.document.templates.is_empty());
    }

    #[test]
    fn kill_9_at_any_point_leaves_the_old_or_the_new_batch() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let docs: Vec<_> = ["alpha", "beta"]
            .iter()
            .map(|value| {
                let path = dir.path().join(format!("{value}.xml"));
                std::fs::write(&path, generation_document(30, value)).expect("write");
                path
            })
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut killed = 0;
        for iteration in 0..100 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_micros(seed % 15_000);
            let mut child = configure(dir.path())
                .arg("--env-file")
                .arg(&docs[iteration % 2])
                .args(["--environment", "test"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(delay);
            let _ = child.kill();
            let status = child.wait().expect("wait");
            if status.signal() == Some(9) {
                killed += 1;
            }
            let (count, values) = generation_answers(&answers(dir.path()), 30);
            assert!(
                count == 0 || count == 30,
                "iteration {iteration}: {count} of 30 answers stored"
            );
            assert!(
                values.len() <= 1,
                "iteration {iteration}: mixed batches {values:?}"
            );
        }
        eprintln!("kill test: {killed} of 100 runs killed mid-way");
    }
}

mod purge {
    use super::*;

    /// Every file under `dir`, relative; empty when `dir` does not exist.
    fn files_under(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&current) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    out.push(
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
    fn purge_leaves_no_stamp_file_or_answer_of_the_package() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        install_webshop(root);
        preseed_password(root, "x");
        ok(configure(root).args(["--package", "webshop", "--machine", "10.10.0.21"]));
        let stamps = root.join("var/lib/confpack/db.stamps");
        assert!(
            !files_under(&stamps).is_empty(),
            "configure leaves a no-op stamp"
        );
        // dpkg removes the package's own files before postrm purge runs.
        std::fs::remove_dir_all(root.join("usr/share/confpack/webshop")).expect("rm");
        ok(confpack(root).args(["purge", "webshop"]));
        assert_eq!(files_under(&stamps), Vec::<String>::new(), "stamps left");
        assert_eq!(files_under(&root.join("etc/webshop")), Vec::<String>::new());
        let left = answers(root);
        let keys: Vec<&String> = left.as_object().expect("object").keys().collect();
        assert!(keys.is_empty(), "answers left: {keys:?}");
    }
}

/// The example repository's webshop-app (examples/), installed under a root
/// the way its .deb installs it: a service hook and a template that reads
/// `machine`.
mod example_app {
    use super::*;

    /// Installs the package's templates, its environment document and a
    /// package.yml with control.yml's hooks; returns the package directory.
    fn install_example_app(root: &Path) -> std::path::PathBuf {
        let source = repo().join("examples/packages/webshop-app");
        let dir = root.join("usr/share/confpack/webshop-app");
        let templates = dir.join("templates/etc/webshop");
        std::fs::create_dir_all(&templates).expect("mkdir");
        for name in ["app.conf.j2", "database.conf.j2"] {
            std::fs::copy(source.join("etc/webshop").join(name), templates.join(name))
                .expect("copy template");
        }
        std::fs::copy(
            repo().join("examples/environments/webshop.xml"),
            dir.join("environment.xml"),
        )
        .expect("copy document");
        let control: yaml_serde::Value = yaml_serde::from_str(
            &std::fs::read_to_string(source.join("control/control.yml")).expect("control.yml"),
        )
        .expect("yaml");
        let mut package = yaml_serde::Mapping::new();
        package.insert("hooks".into(), control["hooks"].clone());
        std::fs::write(
            dir.join("package.yml"),
            yaml_serde::to_string(&package).expect("yaml"),
        )
        .expect("write");
        preseed_password(root, "x");
        ok(confpack(root).args(["set", "webshop/hostname", "build"]));
        dir
    }

    /// `configure --package webshop-app --environment production`: a host
    /// that is none of production's machines, with `bin` first on PATH.
    fn configure_app(root: &Path, bin: &Path) -> std::process::Command {
        let mut command = configure(root);
        command
            .args(["--package", "webshop-app", "--environment", "production"])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            );
        command
    }

    /// A `systemctl` that logs its arguments to `<root>/systemctl.log`.
    fn fake_systemctl(root: &Path) -> std::path::PathBuf {
        let bin = root.join("fake-bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        write_script(
            &bin.join("systemctl"),
            "echo \"$@\" >> \"$CONFPACK_ROOT/systemctl.log\"",
        );
        bin
    }

    fn write_script(path: &Path, body: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    const SKIPPED_NO_SYSTEMD: &str = "webshop-app: hook reload-app skipped: systemd is not running (chroot or image build); it runs at the next configure on the booted system";

    #[test]
    fn the_example_renders_on_a_host_that_is_none_of_the_machines() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_example_app(dir.path());
        let bin = fake_systemctl(dir.path());
        let (code, _, stderr) = run(&mut configure_app(dir.path(), &bin));
        assert_eq!(code, 0, "{stderr}");
        let app =
            std::fs::read_to_string(dir.path().join("etc/webshop/app.conf")).expect("app.conf");
        assert!(
            app.starts_with("# Generated by confpack for this machine (production).\n"),
            "{app}"
        );
        assert!(app.contains("url = https://shop.example.com/"), "{app}");
    }

    #[test]
    fn a_service_hook_waits_for_systemd_and_runs_at_the_next_configure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        install_example_app(root);
        let bin = fake_systemctl(root);
        let log = root.join("systemctl.log");

        // A chroot: no /run/systemd/system. One info line, success, nothing run.
        let (code, _, stderr) = run(&mut configure_app(root, &bin));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stderr.matches("hook reload-app").count(), 1, "{stderr}");
        assert!(stderr.contains(SKIPPED_NO_SYSTEMD), "{stderr}");
        assert!(!log.exists(), "systemctl ran in a chroot");

        // Not recorded as done: the next run skips it again (no no-op shortcut).
        let (code, _, stderr) = run(&mut configure_app(root, &bin));
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains(SKIPPED_NO_SYSTEMD), "{stderr}");

        // Booted, but policy-rc.d denies the action (a container's image build).
        std::fs::create_dir_all(root.join("run/systemd/system")).expect("mkdir");
        let policy = root.join("usr/sbin/policy-rc.d");
        write_script(&policy, "exit 101");
        let (code, _, stderr) = run(&mut configure_app(root, &bin));
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains("webshop-app: hook reload-app skipped: /usr/sbin/policy-rc.d denies try-reload-or-restart of webshop.service"),
            "{stderr}"
        );
        assert!(!log.exists(), "systemctl ran against the policy");

        // Booted and allowed: it runs, once.
        write_script(&policy, "exit 0");
        let (code, _, stderr) = run(&mut configure_app(root, &bin));
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("running hook reload-app"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&log).expect("systemctl ran"),
            "try-reload-or-restart webshop.service\n"
        );
        let (code, _, stderr) = run(&mut configure_app(root, &bin));
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("reload-app"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&log).expect("log").lines().count(),
            1,
            "the hook ran again without a change"
        );
    }
}

mod a_waiting_prompt {
    use std::io::{Read, Write};

    use super::*;

    /// Starts an interactive configure of the sample on a pipe and returns
    /// once it waits at the password prompt, with its stdout so far.
    fn configure_waiting(root: &Path) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
        let mut child = confpack(root)
            .args(["configure", "--frontend", "text", "--machine", "10.10.0.21"])
            .arg("--env-file")
            .arg(sample())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0
                    || sender
                        .send(String::from_utf8_lossy(&buffer[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut seen = String::new();
        while !seen.contains("Password (typing is not shown)") {
            let left = Duration::from_secs(30).saturating_sub(started.elapsed());
            match receiver.recv_timeout(left) {
                Ok(chunk) => seen.push_str(&chunk),
                Err(_) => panic!("configure never reached the prompt: {seen}"),
            }
        }
        (child, receiver)
    }

    /// Runs a command with a short lock timeout, asserting it succeeds
    /// promptly, not after waiting for the lock.
    fn promptly(root: &Path, args: &[&str]) -> String {
        let started = Instant::now();
        let out = ok(confpack(root).args(["--lock-timeout", "3"]).args(args));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{args:?} waited {:?}",
            started.elapsed()
        );
        out
    }

    #[test]
    fn others_use_the_database_meanwhile_and_the_commit_merges_their_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let (mut child, _stdout) = configure_waiting(root);

        // While the person thinks: readers and writers are not held up.
        promptly(root, &["answers"]);
        promptly(root, &["set", "webshop/hostname", "theirs.example.com"]);
        promptly(root, &["set", "webshop/admin.email", "theirs@example.com"]);
        promptly(root, &["set", "other/key", "kept"]);
        assert_eq!(
            promptly(root, &["get", "webshop/admin.email"]),
            "theirs@example.com\n"
        );

        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"secret\nsecret\nmine@example.com\ny\n")
            .expect("write answers");
        drop(stdin);
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert_eq!(
            stderr.matches("another confpack changed").count(),
            1,
            "{stderr}"
        );

        // Not asked by this run: the other run's value survives.
        assert_eq!(
            value(root, "webshop/hostname").as_deref(),
            Some("theirs.example.com")
        );
        assert_eq!(value(root, "other/key").as_deref(), Some("kept"));
        // Answered by the person: the person's answer wins.
        assert_eq!(
            value(root, "webshop/admin.email").as_deref(),
            Some("mine@example.com")
        );
        assert_eq!(
            value(root, "webshop/db.password").as_deref(),
            Some("secret")
        );
    }

    #[test]
    fn without_a_change_meanwhile_nothing_is_said_about_merging() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let (mut child, _stdout) = configure_waiting(root);
        promptly(root, &["answers"]);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"secret\nsecret\n\ny\n")
            .expect("write answers");
        drop(stdin);
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("another confpack"), "{stderr}");
        assert_eq!(
            value(root, "webshop/hostname").as_deref(),
            Some("app1.prod.example.com")
        );
    }
}

/// Issue 14: the merge rules as seed 003 states them, run end to end.
mod seed_merge_rules {
    use std::io::Write;

    use super::*;

    /// Runs `configure --force-questions` with the text frontend reading
    /// `input` from stdin; returns (exit code, stderr).
    fn forced_text(root: &Path, document: &Path, input: &[u8]) -> (i32, String) {
        let mut child = confpack(root)
            .args(["configure", "--frontend", "text", "--force-questions"])
            .args(["--machine", "10.10.0.21", "--env-file"])
            .arg(document)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        // A closed pipe after the last question is fine.
        let _ = stdin.write_all(input);
        drop(stdin);
        let output = child.wait_with_output().expect("wait");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn sources(root: &Path) -> Vec<(String, String, String)> {
        let answers = answers(root);
        answers
            .as_object()
            .expect("object")
            .iter()
            .map(|(key, a)| {
                (
                    key.clone(),
                    a["value"].to_string(),
                    a["source"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// The sample with `webshop/listen.port` given a value.
    fn sample_with_port(dir: &Path, port: &str) -> std::path::PathBuf {
        let text = std::fs::read_to_string(sample()).expect("sample");
        let text = text.replacen(
            "<question key=\"webshop/workers\">16</question>",
            &format!(
                "<question key=\"webshop/workers\">16</question>\n    \
                 <question key=\"webshop/listen.port\">{port}</question>"
            ),
            1,
        );
        let path = dir.join("env.xml");
        std::fs::write(&path, text).expect("write document");
        path
    }

    #[test]
    fn enter_on_every_forced_question_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        preseed_password(root, "hunter2");
        ok(&mut configure_sample(root, "10.10.0.21"));
        let before = sources(root);

        let (code, stderr) = forced_text(root, &sample(), &b"\n".repeat(200));
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("question(s) asked"), "{stderr}");
        assert!(stderr.contains(" 0 answer(s) changed"), "{stderr}");
        assert_eq!(sources(root), before, "values and sources stay");
        let stored = answers(root);
        for key in [
            "webshop/listen.port",
            "webshop/db.name",
            "webshop/tls.enable",
        ] {
            assert_eq!(stored[key]["source"], "default", "{key}: {stored}");
            assert_eq!(stored[key]["seen"], true, "{key}: {stored}");
        }
        assert_eq!(stored["webshop/hostname"]["source"], "configured");

        // Again: not even a flag changes now.
        let (code, stderr) = forced_text(root, &sample(), &b"\n".repeat(200));
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains(" 0 answer(s) changed"), "{stderr}");

        // The document now gives the port a value: applied, reported.
        let document = sample_with_port(root, "8081");
        let (code, _, stderr) = run(configure(root)
            .args(["--machine", "10.10.0.21", "--env-file"])
            .arg(&document));
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains(" 1 answer(s) changed"), "{stderr}");
        assert_eq!(value(root, "webshop/listen.port").as_deref(), Some("8081"));
        assert_eq!(answers(root)["webshop/listen.port"]["source"], "configured");
    }
}

/// Issue 14, item 2: a kept conflict is said, remembered and decidable
/// without a terminal.
mod kept_conflicts {
    use super::*;

    const WARNING: &str = "kept your value";

    fn warnings(stderr: &str) -> Vec<&str> {
        stderr.lines().filter(|l| l.contains(WARNING)).collect()
    }

    /// The sample's app1 with a user value for db.host and a secret user
    /// value for site.url, both different from the document's.
    fn node_with_conflicts() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        preseed_password(root, "hunter2");
        ok(confpack(root).args(["set", "webshop/db.host", "mine.example.com"]));
        preseed_secret(root, "webshop/site.url", "https://hidden.example/");
        dir
    }

    #[test]
    fn a_kept_conflict_is_reported_and_remembered() {
        let dir = node_with_conflicts();
        let root = dir.path();
        let (code, _, stderr) = run(&mut configure_sample(root, "10.10.0.21"));
        assert_eq!(code, 0, "{stderr}");
        let lines = warnings(&stderr);
        assert_eq!(lines.len(), 2, "{stderr}");
        let host = lines
            .iter()
            .find(|l| l.contains("webshop/db.host"))
            .expect("db.host warned");
        assert!(
            host.contains("\"mine.example.com\"") && host.contains("\"db1.prod.example.com\""),
            "{host}"
        );
        let url = lines
            .iter()
            .find(|l| l.contains("webshop/site.url"))
            .expect("site.url warned");
        assert_eq!(url.matches("********").count(), 2, "{url}");
        assert!(!stderr.contains("hidden.example"), "{stderr}");
        assert!(!stderr.contains("https://shop.example.com/"), "{stderr}");
        // The user's values are kept.
        assert_eq!(
            value(root, "webshop/db.host").as_deref(),
            Some("mine.example.com")
        );

        // Listed, secrets masked.
        let out = ok(confpack(root).args(["answers", "--format", "json"]));
        let json: serde_json::Value = serde_json::from_str(&out).expect("json");
        let conflict = &json["webshop/db.host"]["conflict"];
        assert_eq!(conflict["document"], "db1.prod.example.com", "{json}");
        assert!(
            conflict["since"].as_str().is_some_and(|s| s.ends_with('Z')),
            "{json}"
        );
        assert_eq!(json["webshop/site.url"]["conflict"]["document"], "********");
        assert!(!out.contains("shop.example.com/"), "{out}");
        assert!(json["webshop/hostname"].get("conflict").is_none(), "{json}");

        // Still open: the next run says it again (no silent fast path).
        let (code, _, stderr) = run(&mut configure_sample(root, "10.10.0.21"));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(warnings(&stderr).len(), 2, "{stderr}");
        let since = answers(root)["webshop/db.host"]["conflict"]["since"].clone();
        assert_eq!(since, conflict["since"], "remembered since the first run");
    }

    #[test]
    fn take_document_applies_the_documents_value_and_clears_the_conflict() {
        let dir = node_with_conflicts();
        let root = dir.path();
        ok(&mut configure_sample(root, "10.10.0.21"));
        let (code, _, stderr) =
            run(configure_sample(root, "10.10.0.21").args(["--take-document", "webshop/db.host"]));
        assert_eq!(code, 0, "{stderr}");
        let lines = warnings(&stderr);
        assert_eq!(lines.len(), 1, "only site.url is still open: {stderr}");
        let stored = answers(root);
        assert_eq!(stored["webshop/db.host"]["value"], "db1.prod.example.com");
        assert_eq!(stored["webshop/db.host"]["source"], "configured");
        assert!(
            stored["webshop/db.host"].get("conflict").is_none(),
            "{stored}"
        );
        assert!(
            stored["webshop/site.url"].get("conflict").is_some(),
            "{stored}"
        );
    }

    #[test]
    fn keep_mine_silences_until_the_document_changes_again() {
        let dir = node_with_conflicts();
        let root = dir.path();
        ok(&mut configure_sample(root, "10.10.0.21"));
        let (code, _, stderr) = run(configure_sample(root, "10.10.0.21").args(["--keep-mine-all"]));
        assert_eq!(code, 0, "{stderr}");
        assert!(warnings(&stderr).is_empty(), "{stderr}");
        let stored = answers(root);
        assert_eq!(stored["webshop/db.host"]["value"], "mine.example.com");
        assert!(
            stored["webshop/db.host"].get("conflict").is_none(),
            "{stored}"
        );

        // Later runs: silent.
        let (code, _, stderr) = run(&mut configure_sample(root, "10.10.0.21"));
        assert_eq!(code, 0, "{stderr}");
        assert!(warnings(&stderr).is_empty(), "{stderr}");

        // The document changes db.host to a third value: warned again.
        let text = std::fs::read_to_string(sample()).expect("sample").replace(
            "db1.prod.example.com</question>",
            "db9.prod.example.com</question>",
        );
        let document = root.join("env.xml");
        std::fs::write(&document, text).expect("write");
        let (code, _, stderr) = run(configure(root)
            .args(["--machine", "10.10.0.21", "--env-file"])
            .arg(&document));
        assert_eq!(code, 0, "{stderr}");
        let lines = warnings(&stderr);
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains("\"db9.prod.example.com\""), "{stderr}");
    }
}

/// A person's edit of a rendered file (issue 14, item 5): never silently
/// overwritten or deleted.
mod local_edits {
    use super::*;

    fn configure_package(root: &Path) -> std::process::Command {
        let mut command = configure(root);
        command.args(["--package", "webshop", "--machine", "10.10.0.21"]);
        command
    }

    fn warnings(stderr: &str) -> Vec<&str> {
        stderr.lines().filter(|l| l.contains("warning:")).collect()
    }

    /// The webshop package configured once; app.conf then edited by hand.
    fn edited_webshop() -> (tempfile::TempDir, std::path::PathBuf, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(&mut configure_package(dir.path()));
        let app = dir.path().join("etc/webshop/app.conf");
        let rendered = std::fs::read_to_string(&app).expect("read");
        std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        std::fs::write(&app, "edited by hand\n").expect("write");
        (dir, app, rendered)
    }

    fn old(app: &Path) -> std::path::PathBuf {
        let mut name = app.as_os_str().to_os_string();
        name.push(".confpack-old");
        name.into()
    }

    #[test]
    fn an_edit_is_replaced_and_saved_beside_with_one_warning() {
        let (dir, app, rendered) = edited_webshop();
        let (code, _, stderr) = run(&mut configure_package(dir.path()));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(std::fs::read_to_string(&app).expect("read"), rendered);
        let saved = old(&app);
        assert_eq!(
            std::fs::read_to_string(&saved).expect("saved"),
            "edited by hand\n"
        );
        let mode = std::fs::metadata(&saved)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640, "the edited file's mode");
        let lines = warnings(&stderr);
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(&app.display().to_string()), "{stderr}");
        assert!(lines[0].contains(&saved.display().to_string()), "{stderr}");

        // Settled: the next run is a no-op and warns no more.
        let (code, _, stderr) = run(&mut configure_package(dir.path()));
        assert_eq!(code, 0, "{stderr}");
        assert!(warnings(&stderr).is_empty(), "{stderr}");
        assert!(stderr.contains("nothing changed"), "{stderr}");
    }

    #[test]
    fn keep_local_edits_keeps_the_persons_version() {
        let (dir, app, _) = edited_webshop();
        let yml = dir.path().join("usr/share/confpack/webshop/package.yml");
        let text = std::fs::read_to_string(&yml).expect("package.yml");
        std::fs::write(
            &yml,
            format!("{text}keep-local-edits: [/etc/webshop/app.conf]\n"),
        )
        .expect("write");
        for _ in 0..2 {
            let (code, _, stderr) =
                run(configure_package(dir.path()).args(["--priority", "critical"]));
            assert_eq!(code, 0, "{stderr}");
            assert_eq!(
                std::fs::read_to_string(&app).expect("read"),
                "edited by hand\n"
            );
            assert!(!old(&app).exists());
            let lines = warnings(&stderr);
            if !stderr.contains("nothing changed") {
                assert_eq!(lines.len(), 1, "{stderr}");
                assert!(lines[0].contains(&app.display().to_string()), "{stderr}");
                assert!(lines[0].contains("not applied"), "{stderr}");
            }
        }
    }

    #[test]
    fn the_no_op_path_notices_an_edit_of_the_same_size_and_mtime() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        ok(&mut configure_package(dir.path()));
        let (code, _, stderr) = run(&mut configure_package(dir.path()));
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("nothing changed"), "{stderr}");

        let app = dir.path().join("etc/webshop/app.conf");
        let rendered = std::fs::read(&app).expect("read");
        let modified = std::fs::metadata(&app)
            .expect("stat")
            .modified()
            .expect("mtime");
        // Same length, same mtime, edited in place (same inode).
        let mut edited = rendered.clone();
        edited[0] = if edited[0] == b'#' { b';' } else { b'#' };
        {
            use std::io::{Seek, Write};
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&app)
                .expect("open");
            file.write_all(&edited).expect("write");
            file.seek(std::io::SeekFrom::Start(0)).expect("seek");
            file.set_modified(modified).expect("set mtime");
        }
        let (code, _, stderr) = run(&mut configure_package(dir.path()));
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("nothing changed"), "{stderr}");
        assert_eq!(std::fs::read(&app).expect("read"), rendered);
        assert_eq!(std::fs::read(old(&app)).expect("saved"), edited);
        assert_eq!(warnings(&stderr).len(), 1, "{stderr}");
    }

    #[test]
    fn remove_rendered_saves_an_edit_before_removing_the_file() {
        let (dir, app, _) = edited_webshop();
        let (code, _, stderr) = run(confpack(dir.path()).args(["remove-rendered", "webshop"]));
        assert_eq!(code, 0, "{stderr}");
        assert!(!app.exists());
        assert_eq!(
            std::fs::read_to_string(old(&app)).expect("saved"),
            "edited by hand\n"
        );
        let lines = warnings(&stderr);
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(&app.display().to_string()), "{stderr}");
        assert!(
            lines[0].contains(&old(&app).display().to_string()),
            "{stderr}"
        );
        assert!(!dir.path().join("etc/webshop/database.conf").exists());
    }

    /// Removal keeps the person's saved version; purge deletes it like
    /// dpkg deletes a conffile's `.dpkg-old`, unless it changed since.
    #[test]
    fn purge_deletes_saved_edits_that_are_still_what_was_saved() {
        for touched_since in [false, true] {
            let (dir, app, _) = edited_webshop();
            // Saved by configure (replaced by the new rendering) …
            ok(&mut configure_package(dir.path()));
            assert!(old(&app).exists());
            // … and by remove-rendered (database.conf edited too).
            let database = dir.path().join("etc/webshop/database.conf");
            std::fs::write(&database, "edited too\n").expect("write");
            ok(confpack(dir.path()).args(["remove-rendered", "webshop"]));
            assert!(old(&database).exists() && old(&app).exists());
            if touched_since {
                std::fs::write(old(&app), "the person's again\n").expect("write");
            }
            let (code, _, stderr) = run(confpack(dir.path()).args(["purge", "webshop"]));
            assert_eq!(code, 0, "{stderr}");
            assert!(!old(&database).exists(), "{stderr}");
            assert_eq!(old(&app).exists(), touched_since, "{stderr}");
            assert_eq!(
                warnings(&stderr).len(),
                usize::from(touched_since),
                "{stderr}"
            );
        }
    }
}

/// Issue 14, item 3: a package asks only its own questions, and a decision
/// two packages share is asked once.
mod package_questions {
    use super::*;

    /// A second package on the same document that reads two of its keys
    /// (the way webshop-nginx reads the site's address and port).
    fn install_site(root: &Path) {
        let dir = root.join("usr/share/confpack/webshop-site");
        std::fs::create_dir_all(dir.join("templates/etc")).expect("mkdir");
        std::fs::copy(sample(), dir.join("environment.xml")).expect("copy sample");
        std::fs::write(
            dir.join("templates/etc/site.conf.j2"),
            "{# answers[\"webshop/db.password\"] is not read in a comment #}\
             url = {{ answers[\"webshop/site.url\"] }}\nport = {{ answers['webshop/listen.port'] }}\n",
        )
        .expect("template");
    }

    /// `configure --package PACKAGE` of app1 with `frontend`.
    fn configure_as(root: &Path, package: &str, frontend: &str) -> std::process::Command {
        let mut command = confpack(root);
        command.args(["configure", "--package", package, "--machine", "10.10.0.21"]);
        command.args(["--frontend", frontend]);
        command
    }

    fn configure_site(root: &Path, frontend: &str) -> std::process::Command {
        configure_as(root, "webshop-site", frontend)
    }

    #[test]
    fn a_package_is_not_asked_what_it_never_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        install_site(root);
        // No password stored: the whole document would stop here
        // (webshop/db.password is a critical user question).
        let (code, _, stderr) = run(&mut configure_site(root, "noninteractive"));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            std::fs::read_to_string(root.join("etc/site.conf")).expect("rendered"),
            "url = https://shop.example.com/\nport = 8080\n"
        );
        let stored = answers(root);
        let keys: Vec<&str> = stored
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["webshop/listen.port", "webshop/site.url"],
            "{stored}"
        );

        // Its plan lists its own questions only.
        let plan = ok(configure_site(root, "noninteractive").arg("--dry-run"));
        assert!(plan.contains("webshop/site.url"), "{plan}");
        assert!(!plan.contains("webshop/db.password"), "{plan}");

        // The package that reads the password still asks for it.
        install_webshop(root);
        let (code, _, stderr) = run(&mut configure_as(root, "webshop", "noninteractive"));
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("webshop/db.password"), "{stderr}");
    }

    #[test]
    fn a_conflict_two_packages_read_is_asked_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        install_site(root);
        install_webshop(root);
        preseed_password(root, "hunter2");
        ok(confpack(root).args(["set", "webshop/site.url", "https://mine.example/"]));

        // The first package asks; the person keeps their value.
        let mut child = configure_site(root, "text")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(b"\ny\n").expect("write");
        }
        let output = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stdout.contains("https://shop.example.com/"), "{stdout}");
        assert_eq!(
            value(root, "webshop/site.url").as_deref(),
            Some("https://mine.example/")
        );

        // The second package reads the same key: the decision stands; it
        // neither asks nor warns, and renders the person's value.
        let webshop = |frontend: &str| configure_as(root, "webshop", frontend);
        let plan = ok(webshop("text").arg("--dry-run"));
        let line = plan
            .lines()
            .find(|l| l.contains("webshop/site.url"))
            .expect("site.url planned");
        assert!(!line.contains("ask"), "{plan}");
        let (code, stdout, stderr) = run(&mut webshop("noninteractive"));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(!stderr.contains("kept your value"), "{stderr}");
        let app = std::fs::read_to_string(root.join("etc/webshop/app.conf")).expect("app.conf");
        assert!(app.contains("url = https://mine.example/"), "{app}");

        // And the first package's next run does not ask again either.
        let (code, stdout, stderr) = run(configure_site(root, "text").stdin(Stdio::null()));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(!stdout.contains("Document says"), "{stdout}");
    }
}
