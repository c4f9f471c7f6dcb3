//! Security regressions: build.
//!
//! A configuration repository is hostile input: whoever can commit to it
//! must not get a file of the build machine into a package (symlinks out
//! of the repository), extra fields into a package's control file
//! (newlines in values), or the build killed for memory (YAML aliases).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::build::{Repo, build, build_ok, find, mentions, text, unpack};
use crate::common::{confpack, ok};

/// What a file of the build machine holds; it must appear in no package
/// and no message.
const HOST_SECRET: &str = "host-secret-5f2c9e";

const ENVIRONMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="p1/greeting" type="string" priority="high" source="configured">
      <description>Greeting</description>
      <default>hello</default>
    </template>
  </templates>
  <environment context="test">
    <question key="p1/greeting">hello</question>
  </environment>
</environments>
"#;

fn control(extra: &str) -> String {
    format!(
        "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  a test package\n  for the security checks.\n{extra}"
    )
}

fn write(dir: &Path, relative: &str, content: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

fn link(target: impl AsRef<Path>, dir: &Path, relative: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    symlink(target, path).expect("symlink");
}

/// A directory of the build machine beside the repository, holding
/// `secret` (and whatever else is written into it).
fn host_dir(repo: &Path) -> PathBuf {
    let host = repo.join("../host");
    write(&host, "secret", HOST_SECRET);
    host.canonicalize().expect("host dir")
}

/// An age public key (a node's), for `recipients`.
fn public_key(repo: &Path) -> String {
    let node = repo.join("../node");
    std::fs::create_dir_all(&node).expect("node");
    let out = ok(confpack(&node).arg("keygen"));
    out.lines().next().expect("public key").to_string()
}

/// A package with an environment document, and the repository's
/// recipients, so that secrets can be built.
fn secrets_package(repo: &Path) {
    let key = public_key(repo);
    write(repo, "recipients", &format!("{key}\n"));
    write(repo, "confpack.yml", "recipients: recipients\n");
    write(repo, "packages/p1/control/control.yml", &control(""));
    write(repo, "packages/p1/control/environment.xml", ENVIRONMENT);
}

/// Builds `repo`, which must be refused with nothing written and the build
/// machine's file quoted nowhere; gives stderr.
fn refused(repo: &Path, args: &[&str]) -> String {
    let out = repo.join("../out");
    let mut all = vec!["--no-dependency-check"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = build(repo, &out, &all);
    assert_eq!(code, 1, "built:\n{stdout}\n{stderr}");
    assert!(!out.exists(), "nothing is written when a check fails");
    assert!(!stderr.contains(HOST_SECRET), "{stderr}");
    stderr
}

mod symlinks {
    use super::*;

    #[test]
    fn a_secret_symlinked_out_of_the_repository_is_refused() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        let host = host_dir(&dir);
        secrets_package(&dir);
        link(host.join("secret"), &dir, "packages/p1/secrets/etc/p1/a");
        link("/proc/self/environ", &dir, "packages/p1/secrets/etc/p1/b");
        link(
            "../../../../../../host/secret",
            &dir,
            "packages/p1/secrets/etc/p1/c",
        );
        // Inside the repository, but a secret is never read through a link.
        link(
            "../../../../../recipients",
            &dir,
            "packages/p1/secrets/etc/p1/d",
        );
        write(&dir, "packages/p1/secrets/etc/p1/plain", "a real secret\n");
        repo.commit("secrets that are links");
        let stderr = refused(&dir, &[]);
        for name in ["a", "b", "c", "d"] {
            mentions(
                &stderr,
                &[&format!(
                    "packages/p1/secrets/etc/p1/{name}: packages/p1/secrets/etc/p1/{name} is a symlink"
                )],
            );
        }
        assert!(!stderr.contains("etc/p1/plain"), "{stderr}");
    }

    #[test]
    fn a_symlinked_secret_directory_is_refused_without_git() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = temp.path().join("repo");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let host = host_dir(&dir);
        secrets_package(&dir);
        link(&host, &dir, "packages/p1/secrets/etc");
        let stderr = refused(&dir, &["--version-suffix", "1"]);
        mentions(
            &stderr,
            &["packages/p1/secrets/etc: packages/p1/secrets/etc is a symlink"],
        );
    }

    #[test]
    fn files_and_templates_are_not_read_through_a_symlinked_directory() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        write(&dir, "packages/p1/control/control.yml", &control(""));
        write(&dir, "packages/p1/control/environment.xml", ENVIRONMENT);
        write(&dir, "packages/p1/etc/p1/plain.conf", "plain\n");
        write(
            &dir,
            "packages/p1/etc/p1/t.conf.j2",
            "{{ answers[\"p1/greeting\"] }}\n",
        );
        repo.commit("files");
        // The directory replaced below must not show as an untracked file.
        write(&dir, ".gitignore", "/packages/p1/etc/p1\n");
        repo.commit("ignore");
        let host = host_dir(&dir);
        write(&host, "plain.conf", HOST_SECRET);
        write(&host, "t.conf.j2", HOST_SECRET);
        std::fs::remove_dir_all(dir.join("packages/p1/etc/p1")).expect("rm");
        link(&host, &dir, "packages/p1/etc/p1");
        let stderr = refused(&dir, &["--allow-dirty"]);
        mentions(
            &stderr,
            &[
                "packages/p1/etc/p1/plain.conf: packages/p1/etc/p1 is a symlink",
                "packages/p1/etc/p1/t.conf.j2: packages/p1/etc/p1 is a symlink",
            ],
        );
    }

    #[test]
    fn manifests_symlinked_out_of_the_repository_are_refused() {
        for (file, content) in [
            (
                "confpack.yml",
                format!("maintainer: Test <test@example.com>\ncopyright: {HOST_SECRET}\n"),
            ),
            ("packages/p1/control/control.yml", control("")),
            (
                "roles/web.yml",
                "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: role\ndepends: [p1]\n"
                    .to_string(),
            ),
        ] {
            let mut repo = Repo::new();
            let dir = repo.path(".");
            let host = host_dir(&dir);
            write(&host, "outside.yml", &content);
            if file != "packages/p1/control/control.yml" {
                write(&dir, "packages/p1/control/control.yml", &control(""));
            }
            link(host.join("outside.yml"), &dir, file);
            repo.commit("a manifest that is a link");
            let stderr = refused(&dir, &[]);
            mentions(&stderr, &[&format!("{file}: it resolves to "), "outside the repository"]);
        }
    }

    #[test]
    fn a_symlinked_control_directory_is_not_read_through() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        let host = host_dir(&dir);
        write(&host, "control/control.yml", &control(""));
        write(&host, "control/postinst", &format!("echo {HOST_SECRET}\n"));
        link(host.join("control"), &dir, "packages/p1/control");
        repo.commit("control is a link");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &["packages/p1/control/control.yml: it resolves to "],
        );
    }

    #[test]
    fn a_recipients_file_symlinked_out_of_the_repository_is_refused() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        let host = host_dir(&dir);
        secrets_package(&dir);
        write(&dir, "packages/p1/secrets/etc/p1/token", "token\n");
        std::fs::rename(dir.join("recipients"), host.join("recipients")).expect("mv");
        link(host.join("recipients"), &dir, "recipients");
        repo.commit("recipients is a link");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &[
                "confpack.yml: the recipients file ",
                "outside the repository",
            ],
        );
    }

    #[test]
    fn environment_documents_and_schemas_symlinked_out_are_refused() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        let host = host_dir(&dir);
        write(&host, "environment.xml", ENVIRONMENT);
        write(
            &host,
            "schema.xsd",
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"/>\n",
        );
        write(
            &dir,
            "packages/p1/control/control.yml",
            &control("environment:\n  file: ../../../environments/shared.xml\n"),
        );
        link(
            host.join("environment.xml"),
            &dir,
            "environments/shared.xml",
        );
        write(
            &dir,
            "packages/p2/control/control.yml",
            &control("environment:\n  schema: schema.xsd\n"),
        );
        write(&dir, "packages/p2/control/environment.xml", ENVIRONMENT);
        link(
            host.join("schema.xsd"),
            &dir,
            "packages/p2/control/schema.xsd",
        );
        link(
            host.join("environment.xml"),
            &dir,
            "packages/p3/control/environment.xml",
        );
        write(&dir, "packages/p3/control/control.yml", &control(""));
        repo.commit("documents that are links");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &[
                "packages/p1/control/control.yml:7: \"../../../environments/shared.xml\" resolves to",
                "packages/p2/control/control.yml:7: \"schema.xsd\" resolves to",
                "packages/p3/control/control.yml: \"environment.xml\" resolves to",
            ],
        );
    }

    #[test]
    fn links_inside_the_repository_still_build() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        secrets_package(&dir);
        // A shared document and recipients file reached through links.
        write(&dir, "environments/shared.xml", ENVIRONMENT);
        std::fs::remove_file(dir.join("packages/p1/control/environment.xml")).expect("rm");
        link(
            "../../../environments/shared.xml",
            &dir,
            "packages/p1/control/environment.xml",
        );
        std::fs::rename(dir.join("recipients"), dir.join("keys")).expect("mv");
        link("keys", &dir, "recipients");
        write(&dir, "packages/p1/secrets/etc/p1/token", "token\n");
        link("../../lib/x.service", &dir, "packages/p1/etc/p1/link");
        repo.commit("links inside");
        let debs = build_ok(&dir, &dir.join("../out"), &["--no-dependency-check"]);
        let package = unpack(find(&debs, "p1"));
        assert!(package.data.contains_key("./etc/p1/link"));
        assert!(
            package
                .data
                .contains_key("./usr/share/confpack/p1/secrets/etc/p1/token.age")
        );
        assert!(!text(&package.control["./postinst"]).is_empty());
    }
}

mod control_fields {
    use super::*;

    #[test]
    fn line_breaks_in_control_fields_are_refused_at_their_lines() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        write(
            &dir,
            "confpack.yml",
            "maintainer: Test <test@example.com>\nsection: \"admin\\nEssential: yes\"\nhomepage: \"https://example.com/\\nEssential: yes\"\n",
        );
        write(
            &dir,
            "packages/p1/control/control.yml",
            "version: \"1\"\n\
             maintainer: \"Test <test@example.com\\nEssential:yes>\"\n\
             description: \"a test\\rEssential: yes\\nmore text\"\n\
             priority: \"optional\\nEssential: yes\\nConflicts: p2\"\n\
             section: \"admin\\nEssential: yes\"\n\
             homepage: \"https://example.com/\\nEssential: yes\"\n\
             depends:\n  - \"p2 [amd64\\nEssential: yes]\"\n",
        );
        // Takes confpack.yml's section and homepage.
        write(&dir, "packages/p2/control/control.yml", &control(""));
        write(
            &dir,
            "roles/web.yml",
            "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: role\n\
             priority: \"optional\\nEssential: yes\"\nsection: \"metapackages\\nEssential: yes\"\n\
             depends: [p1]\n",
        );
        repo.commit("injected fields");
        let stderr = refused(&dir, &[]);
        let p1 = "packages/p1/control/control.yml";
        mentions(
            &stderr,
            &[
                "confpack.yml:2: section: \"admin\\nEssential: yes\" has a line break",
                "confpack.yml:3: homepage: ",
                &format!("{p1}:2: maintainer: "),
                &format!("{p1}:3: description: "),
                &format!(
                    "{p1}:4: priority: \"optional\\nEssential: yes\\nConflicts: p2\" has a line break"
                ),
                &format!("{p1}:5: section: "),
                &format!("{p1}:6: homepage: "),
                &format!("{p1}:8: depends: "),
                "roles/web.yml:4: priority: ",
                "roles/web.yml:5: section: ",
            ],
        );
        // confpack.yml's values are reported once, not once per package.
        assert_eq!(stderr.matches("confpack.yml:2:").count(), 1, "{stderr}");
    }

    #[test]
    fn sections_priorities_and_homepages_follow_debian() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        write(
            &dir,
            "packages/p1/control/control.yml",
            &control("section: weird\npriority: high\nhomepage: example.com\n"),
        );
        repo.commit("unknown values");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &[
                "control.yml:6: section: \"weird\" is not a Debian section",
                "control.yml:7: priority: \"high\" is not a Debian priority",
                "control.yml:8: homepage: \"example.com\" is not a URL",
            ],
        );

        write(
            &dir,
            "packages/p1/control/control.yml",
            &control("section: contrib/net\npriority: extra\nhomepage: https://example.com/p1\n"),
        );
        repo.commit("policy values");
        let debs = build_ok(&dir, &dir.join("../out"), &["--no-dependency-check"]);
        let control = text(&unpack(find(&debs, "p1")).control["./control"]);
        mentions(
            &control,
            &[
                "Section: contrib/net\n",
                "Priority: extra\n",
                "Homepage: https://example.com/p1\n",
            ],
        );
    }
}

mod yaml_limits {
    use super::*;

    #[test]
    fn yaml_aliases_may_not_expand_a_manifest_past_the_limit() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        let long = "a".repeat(5000);
        let aliases = "  - *s\n".repeat(2000);
        write(
            &dir,
            "packages/p1/control/control.yml",
            &control(&format!("depends:\n  - &s \"{long}\"\n{aliases}")),
        );
        write(
            &dir,
            "roles/web.yml",
            &format!(
                "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: role\n\
                 depends:\n  - &s \"{long}\"\n{aliases}"
            ),
        );
        repo.commit("aliases");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &[
                "packages/p1/control/control.yml:7: depends[",
                "roles/web.yml:5: depends[",
                "the YAML expands (aliases copy what they name) past 1000000 values or 4194304 bytes",
            ],
        );
    }

    #[test]
    fn a_manifest_over_one_mib_is_refused() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        let padding = format!("# {}\n", "x".repeat(1 << 20));
        write(
            &dir,
            "packages/p1/control/control.yml",
            &(control("") + &padding),
        );
        write(
            &dir,
            "confpack.yml",
            &format!("maintainer: Test <test@example.com>\n{padding}"),
        );
        repo.commit("large");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &["confpack.yml: the file has 1048615 bytes, more than the 1048576 allowed here"],
        );
        std::fs::remove_file(dir.join("confpack.yml")).expect("rm");
        repo.commit("no confpack.yml");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &[
                "packages/p1/control/control.yml: the file has ",
                "more than the 1048576",
            ],
        );
    }

    #[test]
    fn a_control_field_over_64_kib_is_refused() {
        let mut repo = Repo::new();
        let dir = repo.path(".");
        let depends = "  - nginx\n".repeat(12_000);
        write(
            &dir,
            "packages/p1/control/control.yml",
            &control(&format!("depends:\n{depends}")),
        );
        write(
            &dir,
            "packages/p2/control/control.yml",
            &control(&format!(
                "homepage: https://example.com/{}\n",
                "a".repeat(70_000)
            )),
        );
        repo.commit("long fields");
        let stderr = refused(&dir, &[]);
        mentions(
            &stderr,
            &[
                "packages/p1/control/control.yml:6: depends: 83998 bytes, more than the 65536 a control field may have",
                "packages/p2/control/control.yml:6: homepage: 70020 bytes, more than the 65536",
            ],
        );
    }
}
