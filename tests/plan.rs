//! `confpack plan`: the example repository (committed in a temp dir)
//! planned offline by the real binary; a template that fails for one
//! machine, a change to one environment between two commits, secrets,
//! the JSON shape, and the plan against what configure then writes on a
//! sandboxed node.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::build::{Repo, build_ok, find, unpack};
use crate::common::{confpack, preseed_password, run};

const BINARY: &str = env!("CARGO_BIN_EXE_confpack");

/// `confpack plan REPO ARGS…`.
fn plan(repo: &Repo, args: &[&str]) -> (i32, String, String) {
    run(Command::new(BINARY)
        .arg("plan")
        .arg(repo.path("."))
        .args(args)
        .stdin(std::process::Stdio::null()))
}

/// The plan as JSON, with its exit code.
fn plan_json(repo: &Repo, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = plan(repo, &all);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\nstderr: {stderr}"));
    (code, value)
}

fn committed_example() -> Repo {
    let mut repo = Repo::example();
    repo.commit("example");
    repo
}

/// The production app1's password, as an encrypted value in the document.
const ENCRYPTED: &str = "age:YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBzZWNyZXQ";

fn edit(repo: &Repo, relative: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(repo.path(relative)).expect("read");
    assert!(text.contains(from), "{relative} has no {from:?}");
    repo.write(relative, &text.replacen(from, to, 1));
}

#[test]
fn a_template_failing_for_one_machine_names_it_and_fails_the_plan() {
    let mut repo = committed_example();
    let template = "packages/webshop-app/etc/webshop/app.conf.j2";
    let text = std::fs::read_to_string(repo.path(template)).expect("read");
    repo.write(
        template,
        &format!(
            "{text}{{% if machine.hostname == \"app2.prod.example.com\" %}}{{{{ answers[\"webshop/nope\"] }}}}{{% endif %}}\n"
        ),
    );
    repo.commit("a typo for one machine");
    let (code, stdout, stderr) = plan(&repo, &["--full"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let failing: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("app.conf.j2"))
        .collect();
    assert_eq!(failing.len(), 1, "{stdout}");
    assert!(
        failing[0].starts_with(
            "production/app2.prod.example.com: webshop-app: packages/webshop-app/etc/webshop/app.conf.j2:"
        ) && failing[0].contains("webshop/nope"),
        "{}",
        failing[0]
    );
    // The other machines are planned whole.
    assert!(
        stdout
            .lines()
            .any(|l| l == "production/app1.prod.example.com: webshop-app"),
        "{stdout}"
    );
    assert!(stdout.contains("error(s)\n"), "{stdout}");
    // Only the machines that work: no error, exit 0.
    let (code, stdout, _) = plan(&repo, &["--full", "--machine", "app1.prod.example.com"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with("0 error(s)\n"), "{stdout}");
}

#[test]
fn a_change_to_one_environments_value_lists_only_its_machines_with_the_diff() {
    let mut repo = committed_example();
    edit(
        &repo,
        "environments/webshop.xml",
        "<question key=\"webshop/log.level\">info</question>",
        "<question key=\"webshop/log.level\">debug</question>",
    );
    repo.commit("staging logs debug");
    // The default compares with the previous commit, as --since HEAD~1.
    for args in [&[][..], &["--since", "HEAD~1"][..]] {
        let (_, plan) = plan_json(&repo, args);
        let changes = plan["changes"].as_array().expect("changes");
        let mut machines: Vec<&str> = changes
            .iter()
            .map(|c| c["machine"].as_str().unwrap_or("(no machine)"))
            .collect();
        machines.dedup();
        assert_eq!(
            machines,
            [
                "(no machine)",
                "app1.staging.example.com",
                "db1.staging.example.com"
            ],
            "{plan:#}"
        );
        for change in changes {
            assert_eq!(change["environment"], "staging");
            assert_eq!(change["package"], "webshop-app");
            assert_eq!(change["answers"][0]["key"], "webshop/log.level");
            assert_eq!(change["answers"][0]["before"]["value"], "info");
            assert_eq!(change["answers"][0]["after"]["value"], "debug");
            let diff = change["files"][0]["diff"].as_str().expect("diff");
            assert!(
                diff.contains("-log_level = info\n+log_level = debug\n"),
                "{diff}"
            );
        }
        let summary = &plan["summary"];
        assert_eq!(summary["changed"], 3, "{summary}");
        assert_eq!(summary["files_changed"], 3, "{summary}");
        assert!(summary["unchanged"].as_u64() >= Some(4), "{summary}");
    }
    let (_, text, _) = plan(&repo, &["--since", "HEAD~1"]);
    assert!(
        text.contains("  -log_level = info\n  +log_level = debug\n"),
        "{text}"
    );
    assert!(text.contains("against HEAD~1 ("), "{text}");
    assert!(!text.contains("production/app1"), "{text}");
}

#[test]
fn secrets_stay_masked_in_answers_files_and_stored_answers() {
    let mut repo = committed_example();
    edit(
        &repo,
        "environments/webshop.xml",
        "<question key=\"webshop/hostname\">app1.prod.example.com</question>",
        &format!(
            "<question key=\"webshop/hostname\">app1.prod.example.com</question>\n      \
             <question key=\"webshop/db.password\">{ENCRYPTED}</question>"
        ),
    );
    repo.commit("app1's password, encrypted");
    let answers = repo.path("../answers.json");
    std::fs::write(
        &answers,
        r#"{"webshop/admin.email": {"value": "hunter2@example.com", "source": "user", "seen": true, "type": "string", "secret": true, "owners": []}}"#,
    )
    .expect("write");
    for machine in ["app1.prod.example.com", "app2.prod.example.com"] {
        let (code, stdout, stderr) = plan(
            &repo,
            &[
                "--full",
                "--machine",
                machine,
                "--answers",
                answers.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(
            !stdout.contains("age:") && !stdout.contains("hunter2"),
            "{stdout}"
        );
        assert!(
            stdout.contains("password=<secret webshop/db.password>"),
            "{stdout}"
        );
        assert!(
            stdout.contains("webshop/admin.email = \"<secret webshop/admin.email>\" (user)"),
            "{stdout}"
        );
    }
}

/// The documented shape (docs/plan.md), field by field.
fn check_shape(plan: &Value) {
    assert!(plan["since"].is_null() || plan["since"].is_string());
    for field in [
        "machines",
        "changed",
        "unchanged",
        "files_changed",
        "errors",
    ] {
        assert!(plan["summary"][field].is_u64(), "summary.{field}: {plan}");
    }
    let target = |value: &Value| {
        assert!(value["environment"].is_string(), "{value}");
        assert!(
            value["machine"].is_string() || value["machine"].is_null(),
            "{value}"
        );
        assert!(value["package"].is_string(), "{value}");
    };
    for change in plan["changes"].as_array().expect("changes") {
        target(change);
        for answer in change["answers"].as_array().expect("answers") {
            assert!(answer["key"].is_string());
            for side in ["before", "after"] {
                let value = &answer[side];
                assert!(value.is_null() || value.is_object(), "{answer}");
                if value.is_object() {
                    assert!(value["value"].is_string() || value["value"].is_null());
                    assert!(value["source"].is_string() && value["secret"].is_boolean());
                }
            }
        }
        for declaration in change["declarations"].as_array().expect("declarations") {
            assert!(declaration["id"].is_string(), "{declaration}");
            for side in ["before", "after"] {
                let state = &declaration[side];
                assert!(state.is_null() || state.is_string(), "{declaration}");
            }
        }
        for file in change["files"].as_array().expect("files") {
            assert!(file["path"].is_string(), "{file}");
            assert!(file["mode"].is_string() || file["mode"].is_null(), "{file}");
            // Whole content without an earlier revision, a diff against one.
            assert!(
                file["content"].is_string() != file["diff"].is_string(),
                "{file}"
            );
        }
    }
    for removed in plan["removed"].as_array().expect("removed") {
        target(removed);
    }
    for error in plan["errors"].as_array().expect("errors") {
        target(error);
        assert!(error["message"].is_string());
    }
}

#[test]
fn the_example_plans_clean_a_node_it_does_not_list_included() {
    let repo = committed_example();
    let (code, stdout, stderr) = plan(&repo, &["--full"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.ends_with(
            "planned 11 machine(s) (no earlier revision: the full result): 11 changed, 0 unchanged, \
             66 file(s) changed, 0 error(s)\n"
        ),
        "{stdout}"
    );
    // Unattended, a node outside the document takes the template's
    // default (a person sets its own on the node).
    let unlisted = stdout
        .split("\n\n")
        .find(|entry| entry.starts_with("production/(no machine): webshop-app\n"))
        .expect("production's no-machine case");
    assert!(
        unlisted.contains("\n  webshop/hostname = \"\" (default)\n"),
        "{unlisted}"
    );
    // Without that default, plan names the question again: its check is
    // as strict as before.
    edit(
        &repo,
        "environments/webshop.xml",
        "      <default></default>\n",
        "",
    );
    let (code, stdout, _) = plan(&repo, &["--full"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "production/(no machine): webshop-app: environments/webshop.xml:13: webshop/hostname: \
             no value and no default, and a node cannot ask for it noninteractively\n"
        ),
        "{stdout}"
    );
}

#[test]
fn the_json_output_has_the_documented_shape() {
    let mut repo = committed_example();
    let (code, full) = plan_json(&repo, &["--full"]);
    assert_eq!(code, 0, "{full:#}");
    check_shape(&full);
    assert!(full["since"].is_null());
    assert_eq!(full["summary"]["machines"], 11);
    assert_eq!(full["summary"]["errors"], 0, "{:#}", full["errors"]);
    let app1 = full["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["machine"] == "app1.prod.example.com" && c["package"] == "webshop-app")
        .expect("app1");
    let file = app1["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "/etc/webshop/database.conf")
        .expect("database.conf");
    assert_eq!(file["mode"], "0640");
    edit(
        &repo,
        "environments/webshop.xml",
        "<question key=\"webshop/log.level\">info</question>",
        "<question key=\"webshop/log.level\">error</question>",
    );
    repo.commit("quieter");
    let (_, changed) = plan_json(&repo, &["--since", "HEAD~1"]);
    check_shape(&changed);
    assert!(changed["since"].is_string());
}

/// Writes the files of a .deb's data under `root`, as dpkg unpacks them.
fn install_data(deb: &Path, root: &Path) {
    for (path, (kind, data)) in unpack(deb).data {
        let target = root.join(path.trim_start_matches("./"));
        if kind.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else if kind.is_file() {
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
            std::fs::write(&target, data).expect("write");
        }
    }
}

#[test]
fn the_plan_agrees_with_what_configure_writes_on_a_sandboxed_node() {
    let repo = committed_example();
    let debs = build_ok(
        &repo.path("."),
        &repo.path("../debs"),
        &[
            "--known-packages",
            repo.path("known-packages").to_str().expect("utf-8"),
        ],
    );
    let deb = find(&debs, "webshop-app");
    for machine in ["10.10.0.21", "10.20.0.30", "127.0.0.1"] {
        let root = tempfile::tempdir().expect("tempdir");
        let root = root.path();
        install_data(deb, root);
        // The block's file and nftables' configuration, as the node has them.
        std::fs::create_dir_all(root.join("etc")).expect("mkdir");
        std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").expect("write");
        std::fs::write(root.join("etc/nftables.conf"), "flush ruleset\n").expect("write");
        preseed_password(root, "hunter2");
        let document = root.join("usr/share/confpack/webshop-app/environment.xml");
        let (code, stdout, stderr) = run(confpack(root)
            .args(["configure", "--package", "webshop-app", "--env-file"])
            .arg(&document)
            .args(["--env-url", "http://127.0.0.1:9/webshop.xml"])
            .args(["--machine", machine]));
        // Templates and blocks are written first; what comes after them
        // (loading the firewall table, the service) may need a booted
        // system, which a sandbox is not.
        assert!(
            code == 0 || stderr.contains("wrote block cluster in /etc/hosts"),
            "{stdout}\n{stderr}"
        );
        let (_, plan) = plan_json(&repo, &["--full", "--machine", machine]);
        let change = plan["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["package"] == "webshop-app")
            .expect("planned");
        let (mut compared, mut blocks) = (0, 0);
        for file in change["files"].as_array().expect("files") {
            let Some(mode) = file["mode"].as_str() else {
                // A block, markers included, in a file others own.
                let name = file["path"].as_str().expect("path");
                let (path, _) = name.split_once(" block ").expect("FILE block NAME");
                let text = std::fs::read_to_string(root.join(path.trim_start_matches('/')))
                    .expect("the block's file");
                let block = file["content"].as_str().expect("content");
                assert!(text.contains(block), "{machine}: {name}: {text}");
                blocks += 1;
                continue;
            };
            let path = file["path"].as_str().expect("path");
            let written = root.join(path.trim_start_matches('/'));
            let content = std::fs::read_to_string(&written).expect("written by configure");
            assert_eq!(
                content.replace("hunter2", "<secret webshop/db.password>"),
                file["content"].as_str().expect("content"),
                "{machine}: {path}"
            );
            let written_mode = std::fs::metadata(&written)
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(format!("{:04o}", written_mode & 0o7777), mode, "{path}");
            compared += 1;
        }
        assert_eq!(
            (compared, blocks),
            (3, 2),
            "app.conf, database.conf and the firewall table's file; the hosts block and the \
             table's include line: {change:#}"
        );
    }
}

#[test]
fn a_nodes_stored_answers_win_over_the_document_as_on_that_node() {
    let repo = committed_example();
    let answers = repo.path("../answers.json");
    std::fs::write(
        &answers,
        r#"{"webshop/workers": {"value": "7", "source": "user", "seen": true, "type": "string", "secret": false, "owners": ["webshop-app"]}}"#,
    )
    .expect("write");
    let args = ["--full", "--machine", "app1.prod.example.com"];
    let (_, plain, _) = plan(&repo, &args);
    assert!(plain.contains("    | workers = 16\n"), "{plain}");
    let mut with_answers = args.to_vec();
    with_answers.extend(["--answers", answers.to_str().expect("utf-8")]);
    let (code, stdout, stderr) = plan(&repo, &with_answers);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("  webshop/workers = \"7\" (user)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("    | workers = 7\n"), "{stdout}");
}

#[test]
fn declarations_are_planned_and_a_change_to_them_shows_against_a_revision() {
    let mut repo = committed_example();
    let (_, full, _) = plan(&repo, &["--full", "--machine", "app1.prod.example.com"]);
    for line in [
        "  user webshop: system user, group webshop, home /var/lib/webshop, shell /usr/sbin/nologin, comment \"Web shop application\"\n",
        "  directory /var/lib/webshop: 0750 webshop:webshop\n",
        "  service webshop.service: enabled, started, restarted on change\n",
        // The block with its markers, the firewall table's file and its
        // include line, as configure writes them.
        "  /etc/hosts block cluster:\n    | # BEGIN confpack webshop-app cluster\n    | 10.10.0.10 lb1.prod.example.com\n",
        "  /etc/nftables.d/webshop-app-webshop.nft (0600):\n",
        "    |       tcp dport 8080 counter accept\n",
        "  /etc/nftables.conf block firewall-webshop:\n",
    ] {
        assert!(full.contains(line), "{line:?} in\n{full}");
    }
    let control = "packages/webshop-app/control/control.yml";
    edit(&repo, control, "mode: \"0750\"", "mode: \"0700\"");
    edit(&repo, control, "counter accept", "accept");
    edit(
        &repo,
        control,
        "  - unit: webshop.service\n",
        "  - unit: webshop.service\n    start: false\n",
    );
    repo.commit("a private data directory, no counter, started on demand");
    let (_, planned) = plan_json(&repo, &["--since", "HEAD~1"]);
    let changes = planned["changes"].as_array().expect("changes");
    // Every machine of webshop-app, and each environment's no-machine case.
    assert_eq!(changes.len(), 11, "{planned:#}");
    for change in changes {
        assert_eq!(change["package"], "webshop-app", "{change}");
        let declarations = &change["declarations"];
        assert_eq!(declarations[0]["id"], "directory /var/lib/webshop");
        assert_eq!(declarations[0]["before"], "0750 webshop:webshop");
        assert_eq!(declarations[0]["after"], "0700 webshop:webshop");
        assert_eq!(declarations[1]["id"], "service webshop.service");
        assert_eq!(
            declarations[1]["after"],
            "enabled, not started, restarted on change"
        );
        let [file] = change["files"].as_array().expect("files").as_slice() else {
            panic!("only the table's file changes: {change:#}")
        };
        assert_eq!(file["path"], "/etc/nftables.d/webshop-app-webshop.nft");
        let diff = file["diff"].as_str().expect("diff");
        assert!(
            diff.contains("-      tcp dport 8080 counter accept\n+      tcp dport 8080 accept\n"),
            "{diff}"
        );
    }
    let (_, text, _) = plan(&repo, &["--since", "HEAD~1"]);
    assert!(
        text.contains(
            "  directory /var/lib/webshop: \"0750 webshop:webshop\" -> \"0700 webshop:webshop\"\n"
        ),
        "{text}"
    );
}

#[test]
fn a_template_change_lists_every_machine_of_its_package_and_no_other() {
    let mut repo = committed_example();
    let template = "packages/webshop-app/etc/webshop/app.conf.j2";
    let text = std::fs::read_to_string(repo.path(template)).expect("read");
    repo.write(template, &format!("{text}# managed\n"));
    repo.commit("a comment in app.conf");
    let (_, plan) = plan_json(&repo, &[]);
    let changes = plan["changes"].as_array().expect("changes");
    // Every machine, and each environment's no-machine case.
    assert_eq!(changes.len(), 11, "{plan:#}");
    for change in changes {
        assert_eq!(change["package"], "webshop-app", "{change}");
        let diff = change["files"][0]["diff"].as_str().expect("diff");
        assert!(diff.ends_with("+# managed\n"), "{diff}");
    }
    assert_eq!(plan["summary"]["unchanged"], 0);
}
