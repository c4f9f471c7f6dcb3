//! DataONE v1 documents, `convert`, and debconf import/export (checked
//! with the real `debconf-set-selections` in a sandboxed database).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::*;

fn dataone(name: &str) -> PathBuf {
    fixture("dataone").join(name)
}

fn configure_acme(root: &Path) -> std::process::Command {
    let mut command = confpack(root);
    command
        .args(["configure", "--frontend", "noninteractive", "--env-file"])
        .arg(dataone("acme-v1.xml"))
        .arg("--derive-file")
        .arg(dataone("acme-rules.txt"));
    command
}

mod dialect {
    use super::*;

    #[test]
    fn a_v1_document_validates_against_the_schema_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = ok(confpack(dir.path())
            .args(["validate", "--schema"])
            .arg(dataone("acme-v1.xsd"))
            .arg(dataone("acme-v1.xml")));
        assert!(out.ends_with("acme-v1.xml: valid\n"), "{out}");

        let broken = dir.path().join("broken.xml");
        let text = std::fs::read_to_string(dataone("acme-v1.xml"))
            .expect("read")
            .replacen(
                "<flag name=\"seen\">false</flag>",
                "<flag name=\"sen\">false</flag>",
                1,
            );
        std::fs::write(&broken, text).expect("write");
        let (code, _, stderr) = run(confpack(dir.path())
            .args(["validate", "--schema"])
            .arg(dataone("acme-v1.xsd"))
            .arg(&broken));
        assert_eq!(code, 1);
        assert!(stderr.contains("broken.xml:13:"), "{stderr}");
    }

    #[test]
    fn without_a_schema_only_well_formedness_is_checked_and_said_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, stdout, stderr) = run(confpack(dir.path())
            .arg("validate")
            .arg(dataone("acme-v1.xml")));
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("valid"));
        assert!(stderr.contains("no schema was given"), "{stderr}");
    }

    #[test]
    fn flags_map_to_sources_and_machines_match_by_exact_ip() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_secret(dir.path(), "acme-node/ldap.password", "pw");
        ok(configure_acme(dir.path()).args(["--machine", "10.0.0.1"]));
        let all = answers(dir.path());
        // 10.0.0.1, never 10.0.0.17 (the bash implementation's substring bug).
        assert_eq!(all["acme-node/node.id"]["value"], "urn:node:ACME1");
        assert_eq!(all["acme-node/node.id"]["source"], "configured");
        assert_eq!(all["acme-node/log.level"]["value"], "INFO");
        assert_eq!(all["acme-node/iplist"]["value"], "10.0.0.1 10.0.0.17");
        assert_eq!(all["acme-node/iplist"]["source"], "derived");
        assert_eq!(
            all["acme-node/nodeids"]["value"],
            "urn:node:ACME1 urn:node:ACME17"
        );
        assert_eq!(all["acme-node/context.label"]["value"], "production");
        // user-entered-value + seen=true: the document's value, not asked.
        assert_eq!(all["acme-node/admin.contact"]["value"], "ops@acme.example");
        // An empty question element means no value: the template default.
        assert_eq!(all["acme-node/cert.dir"]["value"], "/etc/ssl/certs");
        assert_eq!(all["acme-node/cert.dir"]["source"], "default");
    }

    #[test]
    fn every_derived_question_without_a_rule_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, _, stderr) = run(confpack(dir.path())
            .args([
                "configure",
                "--frontend",
                "noninteractive",
                "--machine",
                "10.0.0.1",
                "--env-file",
            ])
            .arg(dataone("acme-v1.xml"))
            .args(["--derive", "acme-node/context.label=environment.context"]));
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("acme-node/iplist has no rule"), "{stderr}");
        assert!(stderr.contains("acme-node/nodeids has no rule"), "{stderr}");
        assert!(!stderr.contains("context.label has no rule"), "{stderr}");
        assert_eq!(answers(dir.path()), serde_json::json!({}));
    }

    #[test]
    fn the_custom_environment_is_chosen_by_name_and_asks_for_its_empty_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_secret(dir.path(), "acme-node/ldap.password", "pw");
        let (code, _, stderr) = run(configure_acme(dir.path()).args(["--environment", "custom"]));
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("acme-node/node.hostname"), "{stderr}");
        assert!(stderr.contains("acme-node/node.id"), "{stderr}");
        ok(confpack(dir.path()).args(["set", "acme-node/node.hostname", "lab.acme.example"]));
        ok(confpack(dir.path()).args(["set", "acme-node/node.id", "urn:node:LAB"]));
        ok(confpack(dir.path()).args(["set", "acme-node/admin.contact", "me@acme.example"]));
        ok(configure_acme(dir.path()).args(["--environment", "custom"]));
        assert_eq!(
            value(dir.path(), "acme-node/context.label").as_deref(),
            Some("custom")
        );
    }

    #[test]
    fn convert_writes_a_native_document_that_configures_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let native = dir.path().join("acme.xml");
        ok(confpack(dir.path())
            .args(["convert", "--schema"])
            .arg(dataone("acme-v1.xsd"))
            .arg("--derive-file")
            .arg(dataone("acme-rules.txt"))
            .arg("--output")
            .arg(&native)
            .arg(dataone("acme-v1.xml")));
        let out = ok(confpack(dir.path()).arg("validate").arg(&native));
        assert!(out.contains("valid"), "{out}");

        let via_dialect = tempfile::tempdir().expect("tempdir");
        preseed_secret(via_dialect.path(), "acme-node/ldap.password", "pw");
        ok(configure_acme(via_dialect.path()).args(["--machine", "10.0.0.17"]));
        let via_native = tempfile::tempdir().expect("tempdir");
        preseed_secret(via_native.path(), "acme-node/ldap.password", "pw");
        ok(confpack(via_native.path())
            .args([
                "configure",
                "--frontend",
                "noninteractive",
                "--machine",
                "10.0.0.17",
                "--env-file",
            ])
            .arg(&native));
        let values = |root: &Path| {
            let all = answers(root);
            all.as_object()
                .expect("object")
                .iter()
                .map(|(k, v)| (k.clone(), v["value"].clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert_eq!(values(via_dialect.path()), values(via_native.path()));
    }

    #[test]
    fn convert_without_rules_names_every_derived_question() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, stdout, stderr) = run(confpack(dir.path())
            .arg("convert")
            .arg(dataone("acme-v1.xml")));
        assert_eq!(code, 1);
        assert!(stdout.is_empty(), "{stdout}");
        for key in ["context.label", "iplist", "nodeids"] {
            assert!(
                stderr.contains(&format!("acme-node/{key} has no rule")),
                "{stderr}"
            );
        }
    }
}

mod schema_location {
    use super::*;

    fn configure_online(root: &Path, url: &str) -> (i32, String, String) {
        preseed_secret(root, "acme-node/ldap.password", "pw");
        run(confpack(root)
            .args([
                "configure",
                "--frontend",
                "noninteractive",
                "--machine",
                "10.0.0.1",
                "--timeout",
                "2",
            ])
            .args(["--env-url", &format!("{url}/acme-v1.xml")])
            .arg("--env-file")
            .arg(dataone("acme-v1.xml"))
            .arg("--derive-file")
            .arg(dataone("acme-rules.txt")))
    }

    #[test]
    fn the_schema_a_document_names_is_fetched_from_the_online_location() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(vec![
            (
                "/acme-v1.xml",
                std::fs::read(dataone("acme-v1.xml")).expect("doc"),
            ),
            (
                "/acme-v1.xsd",
                std::fs::read(dataone("acme-v1.xsd")).expect("xsd"),
            ),
        ]);
        let (code, _, stderr) = configure_online(dir.path(), &server.url);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("no schema was given"), "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
        assert_eq!(
            value(dir.path(), "acme-node/node.id").as_deref(),
            Some("urn:node:ACME1")
        );
    }

    #[test]
    fn an_online_copy_invalid_against_its_schema_falls_back_to_the_local_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let invalid = std::fs::read_to_string(dataone("acme-v1.xml"))
            .expect("doc")
            .replacen(
                "<flag name=\"seen\">false</flag>",
                "<flag name=\"sen\">false</flag>",
                1,
            )
            .replace("urn:node:ACME1<", "urn:node:ONLINE<");
        let server = Server::start(vec![
            ("/acme-v1.xml", invalid.into_bytes()),
            (
                "/acme-v1.xsd",
                std::fs::read(dataone("acme-v1.xsd")).expect("xsd"),
            ),
        ]);
        let (code, _, stderr) = configure_online(dir.path(), &server.url);
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("acme-v1.xml:13:"), "{stderr}");
        assert!(stderr.contains("using the local copy"), "{stderr}");
        assert_eq!(
            value(dir.path(), "acme-node/node.id").as_deref(),
            Some("urn:node:ACME1")
        );
    }

    #[test]
    fn an_unreachable_schema_means_well_formedness_only_with_warnings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(vec![(
            "/acme-v1.xml",
            std::fs::read(dataone("acme-v1.xml")).expect("doc"),
        )]);
        let (code, _, stderr) = configure_online(dir.path(), &server.url);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains("acme-v1.xsd named by the document is unreachable"),
            "{stderr}"
        );
        assert!(stderr.contains("no schema was given"), "{stderr}");
    }
}

#[test]
fn a_schema_on_another_server_is_not_fetched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(dataone("acme-v1.xml"))
        .expect("doc")
        .replace(" acme-v1.xsd\"", " http://127.0.0.2:9/acme-v1.xsd\"");
    let server = Server::start(vec![("/acme-v1.xml", text.into_bytes())]);
    preseed_secret(dir.path(), "acme-node/ldap.password", "pw");
    let (code, _, stderr) = run(confpack(dir.path())
        .args([
            "configure",
            "--frontend",
            "noninteractive",
            "--machine",
            "10.0.0.1",
            "--timeout",
            "2",
        ])
        .args(["--env-url", &format!("{}/acme-v1.xml", server.url)])
        .arg("--env-file")
        .arg(dataone("acme-v1.xml"))
        .arg("--derive-file")
        .arg(dataone("acme-rules.txt")));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("is not on the configured online location"),
        "{stderr}"
    );
}

mod debconf {
    use super::*;

    const SELECTIONS: &str = "\
# Preseeded by the provisioning tool
acme-node\tacme-node/admin.contact\tstring\tpre@acme.example
acme-node acme-node/ldap.password password s3cr3t
acme-node acme-node/log.level select DEBUG
acme-node acme-node/services multiselect index, \\
search
";

    #[test]
    fn imported_answers_are_configured_seen_and_not_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("preseed.txt");
        std::fs::write(&file, SELECTIONS).expect("write");
        let (code, _, stderr) = run(confpack(dir.path()).arg("import-debconf").arg(&file));
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("skipped 1 password"), "{stderr}");
        assert!(value(dir.path(), "acme-node/ldap.password").is_none());
        ok(confpack(dir.path())
            .arg("import-debconf")
            .arg("--include-passwords")
            .arg(&file));
        let all = answers(dir.path());
        assert_eq!(all["acme-node/services"]["value"], "index, search");
        assert_eq!(all["acme-node/admin.contact"]["source"], "configured");
        assert_eq!(all["acme-node/admin.contact"]["seen"], true);
        assert_eq!(all["acme-node/ldap.password"]["secret"], true);
        // The password (a user question) was preseeded seen: the
        // noninteractive run needs nothing else.
        ok(configure_acme(dir.path()).args(["--machine", "10.0.0.1"]));
        assert_eq!(
            value(dir.path(), "acme-node/ldap.password").as_deref(),
            Some("s3cr3t")
        );
    }

    #[test]
    fn a_bad_selection_line_imports_nothing_and_names_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = confpack(dir.path())
            .arg("import-debconf")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"p p/a string ok\np p/b strnig bad\n")
            .expect("write");
        let output = child.wait_with_output().expect("wait");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("<stdin>:2: unknown type `strnig`"),
            "{stderr}"
        );
        assert_eq!(answers(dir.path()), serde_json::json!({}));
    }

    #[test]
    fn exported_lines_are_accepted_by_the_real_debconf_set_selections() {
        if std::process::Command::new("debconf-set-selections")
            .arg("--help")
            .output()
            .is_err()
        {
            eprintln!("skipped: debconf-set-selections is not installed (apt-get install debconf)");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        preseed_secret(dir.path(), "acme-node/ldap.password", "pw");
        ok(configure_acme(dir.path()).args(["--machine", "10.0.0.17"]));
        let (code, exported, stderr) =
            run(confpack(dir.path()).args(["export", "--format", "debconf"]));
        assert_eq!(code, 0, "{stderr}");
        assert!(
            !exported.contains("pw"),
            "password exported without the flag: {exported}"
        );
        assert!(stderr.contains("--include-passwords"), "{stderr}");
        assert!(
            exported.contains("acme-node\tacme-node/node.id\tstring\turn:node:ACME17\n"),
            "{exported}"
        );

        // A sandboxed debconf database.
        let debconf = dir.path().join("debconf");
        std::fs::create_dir_all(&debconf).expect("mkdir");
        let config = dir.path().join("debconf.conf");
        std::fs::write(
            &config,
            format!(
                "Config: configdb\nTemplates: templatedb\n\nName: configdb\nDriver: File\nFilename: {0}/config.dat\n\n\
                 Name: templatedb\nDriver: File\nFilename: {0}/templates.dat\n",
                debconf.display()
            ),
        )
        .expect("write");
        let selections = dir.path().join("selections");
        std::fs::write(&selections, &exported).expect("write");
        let output = std::process::Command::new("debconf-set-selections")
            .env("DEBCONF_SYSTEMRC", &config)
            .arg(&selections)
            .output()
            .expect("debconf-set-selections");
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "debconf-set-selections refused: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stored = std::fs::read_to_string(debconf.join("config.dat")).expect("config.dat");
        assert!(stored.contains("Name: acme-node/node.id"), "{stored}");
        assert!(stored.contains("Value: urn:node:ACME17"), "{stored}");
        assert!(
            stored.contains("Value: index, replication, search"),
            "{stored}"
        );

        // And back: an export imported elsewhere gives the same values.
        let other = tempfile::tempdir().expect("tempdir");
        ok(confpack(other.path())
            .arg("import-debconf")
            .arg(&selections));
        assert_eq!(
            value(other.path(), "acme-node/iplist").as_deref(),
            Some("10.0.0.1 10.0.0.17")
        );
    }
}
