//! Security regressions: secrecy, and what values may cost.
//!
//! A value computed from a secret is a secret everywhere (the store, every
//! output, hooks, file modes, errors); values and rendered files have a
//! size limit; a derived value may read a question answered in the same
//! run.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;

const PASSWORD: &str = "hunter2-secret";

/// A document with the given templates (XML) in one environment `test`.
fn document(templates: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n\
         <environments xmlns=\"urn:confpack:environment:1\" version=\"1\">\n\
         <templates>\n{templates}</templates>\n\
         <environment context=\"test\"/>\n\
         </environments>\n"
    )
}

fn template(key: &str, kind: &str, source: &str, expression: Option<&str>) -> String {
    let expression = expression
        .map(|e| format!("<expression>{}</expression>", xml_escape(e)))
        .unwrap_or_default();
    format!(
        "<template key=\"{key}\" type=\"{kind}\" priority=\"high\" source=\"{source}\">\
         <description>{key}</description>{expression}</template>\n"
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// t/p (a password, preseeded), t/d computed from it, t/dd from t/d.
fn secret_document() -> String {
    document(&format!(
        "{}{}{}",
        template("t/p", "password", "user", None),
        template("t/d", "string", "derived", Some("answers[\"t/p\"] ~ \"\"")),
        template(
            "t/dd",
            "string",
            "derived",
            Some("\"x\" ~ answers[\"t/d\"]")
        ),
    ))
}

/// Installs package `tp` in `root` with `document`, `templates` (path under
/// templates/ → text) and a package.yml.
fn install(root: &Path, document: &str, templates: &[(&str, &str)], package_yml: &str) -> PathBuf {
    let dir = root.join("usr/share/confpack/tp");
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(dir.join("environment.xml"), document).expect("document");
    std::fs::write(dir.join("package.yml"), package_yml).expect("package.yml");
    for (path, text) in templates {
        let path = dir.join("templates").join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("template");
    }
    dir
}

fn configure(root: &Path) -> Command {
    let mut command = confpack(root);
    command.args([
        "configure",
        "--frontend",
        "noninteractive",
        "--environment",
        "test",
    ]);
    command
}

fn configure_file(root: &Path, document: &str) -> Command {
    let file = root.join("env.xml");
    std::fs::write(&file, document).expect("write");
    let mut command = configure(root);
    command.arg("--env-file").arg(file);
    command
}

#[test]
fn a_value_derived_from_a_secret_is_stored_and_printed_as_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    preseed_secret(dir.path(), "t/p", PASSWORD);
    ok(&mut configure_file(dir.path(), &secret_document()));
    let all = answers(dir.path());
    assert_eq!(all["t/d"]["value"], PASSWORD);
    assert_eq!(all["t/d"]["secret"], true, "{all}");
    assert_eq!(all["t/dd"]["secret"], true, "transitively: {all}");
    for args in [
        vec!["answers"],
        vec!["answers", "--format", "shell"],
        vec!["answers", "--format", "json"],
        vec!["export"],
        vec!["get", "t/d"],
        vec!["get", "t/dd"],
    ] {
        let (code, stdout, stderr) = run(confpack(dir.path()).args(&args));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stdout.contains(PASSWORD), "{args:?} shows it:\n{stdout}");
    }
    let (_, stdout, stderr) = run(confpack(dir.path()).args(["get", "t/d"]));
    assert_eq!(stdout, "********\n");
    assert!(stderr.contains("--show-secrets"), "{stderr}");
    let shown = ok(confpack(dir.path()).args(["get", "--show-secrets", "t/dd"]));
    assert_eq!(shown, format!("x{PASSWORD}\n"));
}

#[test]
fn get_masks_a_secret_unless_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    preseed_secret(dir.path(), "t/p", PASSWORD);
    let (code, stdout, stderr) = run(confpack(dir.path()).args(["get", "t/p"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "********\n");
    assert!(stderr.contains("t/p is a secret"), "{stderr}");
    let shown = ok(confpack(dir.path()).args(["get", "--show-secrets", "t/p"]));
    assert_eq!(shown, format!("{PASSWORD}\n"));
}

#[test]
fn dry_run_masks_a_value_derived_from_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    preseed_secret(dir.path(), "t/p", PASSWORD);
    let out = ok(configure_file(dir.path(), &secret_document()).arg("--dry-run"));
    assert!(!out.contains(PASSWORD), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("t/d ") && l.contains("********")),
        "{out}"
    );
}

#[test]
fn a_file_and_a_hook_reading_only_a_derived_secret_treat_it_as_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    preseed_secret(dir.path(), "t/p", PASSWORD);
    install(
        dir.path(),
        &secret_document(),
        &[("etc/t/d.conf.j2", "d = {{ answers[\"t/d\"] }}\n")],
        "hooks:\n  - name: env\n    reads: [t/d, t/dd]\n    run: [sh, -c, 'env > \"$CONFPACK_ROOT/hook-env\"; cat > \"$CONFPACK_ROOT/hook-stdin\"']\n",
    );
    ok(configure(dir.path()).args(["--package", "tp"]));
    let file = dir.path().join("etc/t/d.conf");
    assert_eq!(
        std::fs::read_to_string(&file).expect("rendered"),
        format!("d = {PASSWORD}\n")
    );
    let mode = std::fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let env = std::fs::read_to_string(dir.path().join("hook-env")).expect("hook ran");
    assert!(!env.contains(PASSWORD), "{env}");
    assert!(!env.contains("CONFPACK_T_D="), "{env}");
    let stdin = std::fs::read_to_string(dir.path().join("hook-stdin")).expect("stdin");
    assert!(
        stdin.contains(PASSWORD),
        "the hook still gets it on stdin: {stdin}"
    );
}

#[test]
fn an_expression_error_never_shows_a_secret_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    preseed_secret(dir.path(), "t/p", PASSWORD);
    for expression in [
        "answers[answers[\"t/p\"]]",
        "answers[answers[\"t/p\"] ~ \"\"] | upper",
        "answers[\"t/p\"] | int",
    ] {
        let text = document(&format!(
            "{}{}",
            template("t/p", "password", "user", None),
            template("t/d", "boolean", "derived", Some(expression)),
        ));
        let (code, stdout, stderr) = run(&mut configure_file(dir.path(), &text));
        assert_eq!(code, 1, "{expression}: {stdout}{stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "{expression} shows it:\n{stderr}"
        );
        assert!(stderr.contains("t/d"), "{stderr}");
    }
}

#[test]
fn a_template_error_never_shows_a_secret_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    preseed_secret(dir.path(), "t/p", PASSWORD);
    install(
        dir.path(),
        &secret_document(),
        &[("etc/t/x.conf.j2", "x\n{{ answers[answers[\"t/dd\"]] }}\n")],
        "{}\n",
    );
    let (code, _, stderr) = run(configure(dir.path()).args(["--package", "tp"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(stderr.contains("x.conf.j2:2: undefined value"), "{stderr}");
}

#[test]
fn the_text_frontend_masks_a_derived_secret_in_the_review() {
    let dir = tempfile::tempdir().expect("tempdir");
    preseed_secret(dir.path(), "t/p", PASSWORD);
    ok(&mut configure_file(dir.path(), &secret_document()));
    let file = dir.path().join("env.xml");
    let mut child = confpack(dir.path())
        .args(["configure", "--frontend", "text", "--force-questions"])
        .args(["--environment", "test", "--env-file"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Enter keeps each value (a password twice), then save.
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\n\n\n\n\n\n\n\ny\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(value(dir.path(), "t/d").as_deref(), Some(PASSWORD));
}

/// The 823-byte attack: a 50 MB string and three doubling values.
fn doubling_document() -> String {
    document(&format!(
        "{}{}{}{}",
        template("t/d0", "string", "derived", Some("\"x\" * 50000000")),
        template(
            "t/d1",
            "string",
            "derived",
            Some("answers[\"t/d0\"] ~ answers[\"t/d0\"]")
        ),
        template(
            "t/d2",
            "string",
            "derived",
            Some("answers[\"t/d1\"] ~ answers[\"t/d1\"]")
        ),
        template(
            "t/d3",
            "string",
            "derived",
            Some("answers[\"t/d2\"] ~ answers[\"t/d2\"]")
        ),
    ))
}

#[test]
fn a_huge_derived_value_fails_at_the_value_limit_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = run(&mut configure_file(dir.path(), &doubling_document()));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("t/d0: the value has 50000000 bytes, more than the limit of 1048576 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("--max-value-size"), "{stderr}");
    assert!(
        stderr.len() < 2000,
        "the value is not quoted: {}",
        stderr.len()
    );
}

#[test]
fn max_value_size_lets_a_large_value_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = document(&template(
        "t/big",
        "string",
        "derived",
        Some("\"x\" * 2000000"),
    ));
    let (code, _, stderr) = run(&mut configure_file(dir.path(), &text));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("t/big: the value has 2000000 bytes"),
        "{stderr}"
    );
    ok(configure_file(dir.path(), &text).args(["--max-value-size", "3000000"]));
    assert_eq!(value(dir.path(), "t/big").map(|v| v.len()), Some(2_000_000));
}

#[test]
fn a_configured_value_past_the_limit_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = document(&template("t/c", "string", "configured", None)).replace(
        "<environment context=\"test\"/>",
        &format!(
            "<environment context=\"test\"><question key=\"t/c\">{}</question></environment>",
            "y".repeat(2000)
        ),
    );
    let (code, _, stderr) =
        run(configure_file(dir.path(), &text).args(["--max-value-size", "1000"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr
            .contains("question t/c: the value has 2000 bytes, more than the limit of 1000 bytes"),
        "{stderr}"
    );
}

#[test]
fn a_template_loop_fails_at_the_render_limit_naming_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = document(&template("t/v", "string", "derived", Some("\"v\" * 1000")));
    let package = install(
        dir.path(),
        &text,
        &[
            (
                "etc/t/raw.conf.j2",
                "# header\n{% for i in range(10000) %}{% for j in range(10000) %}0123456789abcdef0123456789abcdef{% endfor %}{% endfor %}\n",
            ),
            (
                "etc/t/value.conf.j2",
                "# header\n\n{% for i in range(10000) %}{% for j in range(10000) %}{{ answers[\"t/v\"] }}{% endfor %}{% endfor %}\n",
            ),
            ("etc/t/small.conf.j2", "{{ answers[\"t/v\"] }}\n"),
        ],
        "{}\n",
    );
    let (code, _, stderr) =
        run(configure(dir.path()).args(["--package", "tp", "--max-render-size", "1000000"]));
    assert_eq!(code, 1, "{stderr}");
    let templates = package.join("templates/etc/t");
    for (file, line) in [("raw.conf.j2", 2), ("value.conf.j2", 3)] {
        let expected = format!(
            "{}:{line}: the rendered file passes the limit of 1000000 bytes",
            templates.join(file).display()
        );
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    assert!(stderr.contains("--max-render-size"), "{stderr}");
    assert!(!dir.path().join("etc/t").exists(), "nothing written");
    // The default (64 MiB) stops the loop too.
    let (code, _, stderr) = run(configure(dir.path()).args(["--package", "tp"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("limit of 67108864 bytes"), "{stderr}");
}

/// t/u a user question without a default, t/d derived from it.
fn unanswered_document() -> String {
    document(&format!(
        "{}{}",
        template("t/u", "string", "user", None),
        template(
            "t/d",
            "string",
            "derived",
            Some("answers[\"t/u\"] ~ \".d\"")
        ),
    ))
}

#[test]
fn a_derived_value_reading_an_unanswered_question_lists_it_noninteractively() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = run(&mut configure_file(dir.path(), &unanswered_document()));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("  t/u"), "{stderr}");
    assert!(!stderr.contains("not a known question"), "{stderr}");
}

#[test]
fn dry_run_shows_a_derived_value_reading_an_unanswered_question_as_computed_after_asking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ok(configure_file(dir.path(), &unanswered_document()).arg("--dry-run"));
    assert!(
        out.lines()
            .any(|l| l.contains("t/d ") && l.contains("computed after asking (reads t/u)")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains("t/u ") && l.contains("ask")),
        "{out}"
    );
}

#[test]
fn a_derived_value_reading_an_unanswered_question_is_computed_after_asking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("env.xml");
    std::fs::write(&file, unanswered_document()).expect("write");
    let mut child = confpack(dir.path())
        .args(["configure", "--frontend", "text", "--environment", "test"])
        .arg("--env-file")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"typed\ny\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(value(dir.path(), "t/u").as_deref(), Some("typed"));
    assert_eq!(value(dir.path(), "t/d").as_deref(), Some("typed.d"));
    // And a preseeded answer is used noninteractively.
    let dir = tempfile::tempdir().expect("tempdir");
    ok(confpack(dir.path()).args(["set", "t/u", "preseeded"]));
    ok(&mut configure_file(dir.path(), &unanswered_document()));
    assert_eq!(value(dir.path(), "t/d").as_deref(), Some("preseeded.d"));
}
