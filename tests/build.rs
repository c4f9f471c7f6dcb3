//! `confpack build`: a configuration repository → .deb packages.
//!
//! Repositories are made in temp dirs and committed with fixed dates, the
//! real binary builds them, and the packages are read back (ar + tar) or
//! installed with the real dpkg into a sandbox root (`dpkg --root` with
//! `--force-script-chrootless`, so the real maintainer scripts run and
//! call the confpack under test with `--root "$DPKG_ROOT"`). Nothing on
//! the host system is touched. Tests that need dpkg or lintian print why
//! they are skipped when the tool is absent.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use md5::{Digest, Md5};

use crate::common::{confpack, ok, run};

const BINARY: &str = env!("CARGO_BIN_EXE_confpack");

/// A git work tree in a temp dir, committed with fixed dates.
pub(crate) struct Repo {
    _temp: tempfile::TempDir,
    dir: PathBuf,
    /// Seconds since the epoch of the next commit.
    clock: i64,
}

impl Repo {
    pub(crate) fn new() -> Repo {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = temp.path().join("repo");
        std::fs::create_dir_all(&dir).expect("mkdir");
        git(&dir, &["init", "-q"]);
        Repo {
            _temp: temp,
            dir,
            clock: 1_767_323_045, // 2026-01-02 03:04:05 UTC
        }
    }

    /// The examples/ repository of this project, committed.
    pub(crate) fn example() -> Repo {
        let repo = Repo::new();
        copy_tree(&crate::common::repo().join("examples"), &repo.dir);
        repo
    }

    pub(crate) fn write(&self, relative: &str, content: &str) -> &Repo {
        let path = self.dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
        self
    }

    pub(crate) fn remove(&self, relative: &str) -> &Repo {
        std::fs::remove_file(self.dir.join(relative)).expect("remove");
        self
    }

    pub(crate) fn commit(&mut self, message: &str) {
        git(&self.dir, &["add", "-A"]);
        let date = format!("@{} +0000", self.clock);
        let status = Command::new("git")
            .current_dir(&self.dir)
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(["commit", "-q", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .status()
            .expect("git commit");
        assert!(status.success());
        self.clock += 3600;
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

/// Copies a tree, keeping symlinks and the executable bit.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().expect("type");
        if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("readlink");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else if file_type.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `confpack build REPO --out OUT ARGS…`.
pub(crate) fn build(repo: &Path, out: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(BINARY)
        .arg("build")
        .arg(repo)
        .arg("--out")
        .arg(out)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(std::process::Stdio::null()))
}

pub(crate) fn build_ok(repo: &Path, out: &Path, args: &[&str]) -> Vec<PathBuf> {
    let (code, stdout, stderr) = build(repo, out, args);
    assert_eq!(code, 0, "build failed:\n{stderr}");
    stdout.lines().map(PathBuf::from).collect()
}

/// The example repository's build: its known-packages file, no apt cache.
fn build_example(repo: &Repo, out: &Path) -> Vec<PathBuf> {
    build_ok(
        &repo.dir,
        out,
        &[
            "--known-packages",
            repo.path("known-packages").to_str().expect("utf-8"),
        ],
    )
}

/// A .deb read back: members, control files and data files.
pub(crate) struct Unpacked {
    pub(crate) members: Vec<String>,
    pub(crate) control: BTreeMap<String, Vec<u8>>,
    pub(crate) data: BTreeMap<String, (tar::EntryType, Vec<u8>)>,
}

fn untar(gz: &[u8]) -> BTreeMap<String, (tar::EntryType, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut out = BTreeMap::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        out.insert(path, (kind, data));
    }
    out
}

pub(crate) fn unpack(deb: &Path) -> Unpacked {
    let bytes = std::fs::read(deb).expect("read deb");
    let mut archive = ar::Archive::new(bytes.as_slice());
    let mut members = Vec::new();
    let mut control = BTreeMap::new();
    let mut data = BTreeMap::new();
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.expect("member");
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("read member");
        match name.as_str() {
            "control.tar.gz" => {
                control = untar(&content)
                    .into_iter()
                    .map(|(k, (_, v))| (k, v))
                    .collect()
            }
            "data.tar.gz" => data = untar(&content),
            _ => {}
        }
        members.push(name);
    }
    Unpacked {
        members,
        control,
        data,
    }
}

/// Asserts that `text` contains every needle, showing it when not.
pub(crate) fn mentions(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn find<'a>(debs: &'a [PathBuf], package: &str) -> &'a PathBuf {
    debs.iter()
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")))
        })
        .unwrap_or_else(|| panic!("no {package} in {debs:?}"))
}

mod archive {
    use super::*;

    #[test]
    fn the_example_builds_one_deb_per_package_and_role() {
        let repo = Repo::example();
        let mut repo = repo;
        repo.commit("example");
        let out = repo.path("../out");
        let debs = build_example(&repo, &out);
        let mut names: Vec<String> = debs
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 5, "{names:?}");
        for name in &names {
            assert!(
                name.contains("+git20260102.030405.") && name.ends_with("_all.deb"),
                "{name}"
            );
        }
        let app = unpack(find(&debs, "webshop-app"));
        assert_eq!(
            app.members,
            ["debian-binary", "control.tar.gz", "data.tar.gz"]
        );
        let control = text(&app.control["./control"]);
        assert!(
            control.contains(&format!(
                "Depends: confpack-runtime (>= {}), webshop-nginx, systemd, nftables\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{control}"
        );
        assert!(
            !app.control.contains_key("./conffiles"),
            "files are not conffiles"
        );
        // Files at their paths, templates under /usr/share/confpack.
        for path in [
            "./etc/webshop/logging.conf",
            "./usr/share/confpack/webshop-app/templates/etc/webshop/app.conf.j2",
            "./usr/share/confpack/webshop-app/environment.xml",
            "./usr/share/confpack/webshop-app/package.yml",
            "./lib/systemd/system/webshop.service",
        ] {
            assert!(app.data.contains_key(path), "{path} missing");
        }
        // Declared, not shipped: configure gives it to the webshop user.
        assert!(!app.data.contains_key("./var/lib/webshop/"));
        assert!(!app.data.contains_key("./etc/webshop/app.conf.j2"));
        let package_yml = text(&app.data["./usr/share/confpack/webshop-app/package.yml"].1);
        assert!(package_yml.contains("url: https://config.example.com/environments/webshop.xml"));
        assert!(package_yml.contains("reload-app"));
        assert!(
            package_yml.contains("declared:\n  users:\n  - name: webshop\n"),
            "{package_yml}"
        );
        // The symlink is shipped as a symlink.
        let nginx = unpack(find(&debs, "webshop-nginx"));
        let (kind, _) = &nginx.data["./etc/nginx/sites-enabled/webshop"];
        assert_eq!(*kind, tar::EntryType::Symlink);
        // The role is a meta package.
        let role = unpack(find(&debs, "webserver"));
        let control = text(&role.control["./control"]);
        assert!(
            control.contains("Depends: webshop-nginx, webshop-app, motd\n"),
            "{control}"
        );
        assert!(control.contains("Section: metapackages\n"));
        assert!(!role.control.contains_key("./postinst"));
    }

    #[test]
    fn md5sums_list_every_regular_file_with_its_digest() {
        let mut repo = Repo::example();
        repo.commit("example");
        let out = repo.path("../out");
        for deb in build_example(&repo, &out) {
            let unpacked = unpack(&deb);
            let sums = text(&unpacked.control["./md5sums"]);
            let listed: BTreeMap<String, String> = sums
                .lines()
                .map(|l| {
                    let (sum, path) = l.split_once("  ").expect("md5sums line");
                    (format!("./{path}"), sum.to_string())
                })
                .collect();
            let files: BTreeMap<String, String> = unpacked
                .data
                .iter()
                .filter(|(_, (kind, _))| *kind == tar::EntryType::Regular)
                .map(|(path, (_, data))| {
                    let digest: String = Md5::digest(data)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    (path.clone(), digest)
                })
                .collect();
            assert_eq!(listed, files, "{}", deb.display());
        }
    }

    #[test]
    fn building_twice_gives_identical_bytes() {
        let mut repo = Repo::example();
        repo.commit("example");
        let first = build_example(&repo, &repo.path("../one"));
        let second = build_example(&repo, &repo.path("../two"));
        assert_eq!(first.len(), second.len());
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.file_name(), b.file_name());
            assert!(
                std::fs::read(a).expect("a") == std::fs::read(b).expect("b"),
                "{} differs between builds",
                a.display()
            );
        }
    }

    #[test]
    fn every_entry_has_the_commit_time_and_root_ownership() {
        let mut repo = Repo::example();
        repo.commit("example");
        let debs = build_example(&repo, &repo.path("../out"));
        let bytes = std::fs::read(find(&debs, "motd")).expect("read");
        let mut archive = ar::Archive::new(bytes.as_slice());
        while let Some(entry) = archive.next_entry() {
            let mut entry = entry.expect("member");
            assert_eq!(entry.header().mtime(), 1_767_323_045);
            if entry.header().identifier() == b"data.tar.gz" {
                let mut content = Vec::new();
                entry.read_to_end(&mut content).expect("read");
                let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(content.as_slice()));
                for file in tar.entries().expect("entries") {
                    let file = file.expect("entry");
                    let header = file.header();
                    assert_eq!(header.mtime().expect("mtime"), 1_767_323_045);
                    assert_eq!(
                        (header.uid().expect("uid"), header.gid().expect("gid")),
                        (0, 0)
                    );
                }
            }
        }
    }

    #[test]
    fn a_commit_to_one_package_changes_only_that_package() {
        let mut repo = Repo::example();
        repo.commit("example");
        let before = build_example(&repo, &repo.path("../before"));
        repo.write("packages/motd/etc/motd", "Changed banner.\n");
        repo.commit("new banner");
        let after = build_example(&repo, &repo.path("../after"));
        let names = |debs: &[PathBuf]| -> Vec<String> {
            debs.iter()
                .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
                .collect()
        };
        let (before_names, after_names) = (names(&before), names(&after));
        for (old, new) in before_names.iter().zip(&after_names) {
            if old.starts_with("motd_") {
                assert!(new > old, "motd's version must sort upward: {old} → {new}");
                assert!(new.contains("+git20260102.040405."), "{new}");
            } else {
                assert_eq!(old, new, "an unchanged package keeps its version");
            }
        }
        for (old, new) in before.iter().zip(&after) {
            if !old.to_string_lossy().contains("motd_") {
                assert_eq!(
                    std::fs::read(old).expect("old"),
                    std::fs::read(new).expect("new")
                );
            }
        }
    }

    /// Every file time of every package, and the runtime's man pages'
    /// dates, are SOURCE_DATE_EPOCH's.
    #[test]
    fn source_date_epoch_sets_the_file_times_and_the_man_pages_dates() {
        let mut repo = Repo::example();
        repo.commit("example");
        let out = repo.path("../out");
        let (code, stdout, stderr) = run(Command::new(BINARY)
            .args(["build", "--quiet", "--runtime", "--known-packages"])
            .arg(repo.path("known-packages"))
            .arg(&repo.dir)
            .arg("--out")
            .arg(&out)
            .env("SOURCE_DATE_EPOCH", "1000000000"));
        assert_eq!(code, 0, "{stderr}");
        let debs: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
        for deb in &debs {
            let bytes = std::fs::read(deb).expect("read");
            let mut archive = ar::Archive::new(bytes.as_slice());
            let entry = archive.next_entry().expect("member").expect("ok");
            assert_eq!(entry.header().mtime(), 1_000_000_000, "{}", deb.display());
        }
        let runtime = unpack(find(&debs, "confpack-runtime"));
        let (_, page) = &runtime.data["./usr/share/man/man1/confpack-configure.1.gz"];
        let mut roff = String::new();
        flate2::read::GzDecoder::new(page.as_slice())
            .read_to_string(&mut roff)
            .expect("gzip");
        mentions(&roff, &["\n.TH confpack-configure 1 2001-09-09 "]);
        assert_eq!(&page[4..8], &[0, 0, 0, 0], "gzip -n: no time");
    }

    #[test]
    fn without_git_a_version_suffix_is_required() {
        let temp = tempfile::tempdir().expect("tempdir");
        let repo = temp.path().join("repo");
        copy_tree(&crate::common::repo().join("examples"), &repo);
        let known = repo.join("known-packages");
        let known = known.to_str().expect("utf-8");
        let (code, _, stderr) = build(
            &repo,
            &temp.path().join("out"),
            &["--known-packages", known],
        );
        assert_eq!(code, 2, "{stderr}");
        mentions(&stderr, &["--version-suffix"]);
        let debs = build_ok(
            &repo,
            &temp.path().join("out"),
            &["--known-packages", known, "--version-suffix", "build42"],
        );
        assert!(
            debs.iter()
                .any(|d| d.to_string_lossy().ends_with("motd_1.0+build42_all.deb")),
            "{debs:?}"
        );
    }

    #[test]
    fn uncommitted_changes_are_refused_unless_allowed() {
        let mut repo = Repo::example();
        repo.commit("example");
        repo.write("packages/motd/etc/issue", "new, not committed\n");
        let out = repo.path("../out");
        let known = repo.path("known-packages");
        let known = known.to_str().expect("utf-8");
        let (code, _, stderr) = build(&repo.dir, &out, &["--known-packages", known]);
        assert_eq!(code, 1);
        mentions(&stderr, &["packages/motd/etc/issue", "--allow-dirty"]);
        assert!(!out.exists(), "nothing is written");
        let debs = build_ok(
            &repo.dir,
            &out,
            &["--known-packages", known, "--allow-dirty"],
        );
        let motd = unpack(find(&debs, "motd"));
        assert!(motd.data.contains_key("./etc/issue"));
    }

    #[test]
    fn an_output_directory_inside_the_repository_is_not_a_change() {
        let mut repo = Repo::example();
        repo.commit("example");
        let out = repo.path("debs");
        build_example(&repo, &out);
        build_example(&repo, &out);
    }
}

mod checks {
    use super::*;

    const ENVIRONMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="demo/greeting" type="string" priority="high" source="configured">
      <description>Greeting</description>
      <default>hello</default>
    </template>
  </templates>
  <environment context="test">
    <question key="demo/greeting">hello from the test environment</question>
  </environment>
</environments>
"#;

    fn control(version: &str) -> String {
        format!(
            "version: \"{version}\"\nmaintainer: Test <test@example.com>\ndescription: |\n  a test package\n  for the checks.\n"
        )
    }

    /// Builds a repository that must be refused: exit 1, nothing written.
    fn refused(repo: &Repo) -> String {
        let out = repo.path("../out");
        let (code, _, stderr) = build(&repo.dir, &out, &["--no-dependency-check"]);
        assert_eq!(code, 1, "{stderr}");
        assert!(!out.exists(), "nothing is written when a check fails");
        stderr
    }

    /// A repository with one problem of every kind.
    fn broken() -> Repo {
        let mut repo = Repo::new();
        repo.write("packages/Bad_Name/control/control.yml", &control("1"))
            .write("packages/badversion/control/control.yml", &control("x1"))
            .write(
                "packages/escape/control/control.yml",
                &(control("1") + "environment:\n  file: ../../../../outside.xml\n"),
            )
            .write(
                "packages/template/control/control.yml",
                &control("1"),
            )
            .write("packages/template/control/environment.xml", ENVIRONMENT)
            .write(
                "packages/template/etc/demo.conf.j2",
                "# line 1\ngreeting = {{ answers[\"demo/greeting\"] }}\n{% if %}\n",
            )
            .write("packages/first/control/control.yml", &control("1"))
            .write("packages/first/etc/same.conf", "a\n")
            .write("packages/second/control/control.yml", &control("1"))
            .write("packages/second/etc/same.conf", "b\n")
            .write(
                "packages/ghost/control/control.yml",
                &(control("1") + "depends:\n  - motd-missing\n  - first\n"),
            )
            .write(
                "packages/missing/control/control.yml",
                &(control("1") + "environment:\n  file: nowhere.xml\n"),
            )
            .write("packages/link/control/control.yml", &control("1"))
            .write("roles/web.yml", "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: role\ndepends: [first, nonexistent]\n");
        std::fs::create_dir_all(repo.path("packages/link/etc")).expect("mkdir");
        std::os::unix::fs::symlink("../../../secret", repo.path("packages/link/etc/secret"))
            .expect("symlink");
        repo.commit("broken");
        repo
    }

    #[test]
    fn every_problem_is_reported_with_file_and_line_and_nothing_is_written() {
        let repo = broken();
        let known = repo.path("../known");
        std::fs::write(&known, "nginx\n").expect("known");
        let out = repo.path("../out");
        let (code, _, stderr) = build(
            &repo.dir,
            &out,
            &["--known-packages", known.to_str().expect("utf-8")],
        );
        assert_eq!(code, 1, "{stderr}");
        assert!(!out.exists(), "nothing is written when a check fails");
        mentions(
            &stderr,
            &[
                "packages/Bad_Name: the directory name is the package name",
                "packages/badversion/control/control.yml:1: \"x1\" is not a valid Debian version",
                "packages/escape/control/control.yml:7: \"../../../../outside.xml\" leaves the repository",
                "packages/template/etc/demo.conf.j2:3: the template does not parse",
                "/etc/same.conf is also installed or rendered by package first",
                "packages/ghost/control/control.yml:7: Depends: motd-missing: no such package",
                "roles/web.yml:4: Depends: nonexistent: no such package",
                "packages/missing/control/control.yml:7: the environment document",
                "packages/link/etc/secret: the symlink points to ../../../secret, outside the package tree",
            ],
        );
        assert!(!stderr.contains("Depends: first"), "{stderr}");
    }

    #[test]
    fn templates_need_an_environment_document() {
        let mut repo = Repo::new();
        repo.write("packages/demo/control/control.yml", &control("1"))
            .write("packages/demo/etc/demo.conf.j2", "x\n");
        repo.commit("demo");
        let stderr = refused(&repo);
        mentions(&stderr, &["no environment document"]);
    }

    #[test]
    fn an_invalid_environment_document_is_reported_at_its_line() {
        let mut repo = Repo::new();
        repo.write("packages/demo/control/control.yml", &control("1"))
            .write(
                "packages/demo/control/environment.xml",
                &ENVIRONMENT.replace("type=\"string\"", "type=\"strung\""),
            );
        repo.commit("demo");
        let stderr = refused(&repo);
        mentions(&stderr, &["packages/demo/control/environment.xml:4"]);
    }

    #[test]
    fn a_bash_script_part_and_an_unknown_control_file_are_refused() {
        let mut repo = Repo::new();
        repo.write("packages/demo/control/control.yml", &control("1"))
            .write("packages/demo/control/postinst", "#!/bin/bash\necho hi\n")
            .write("packages/demo/control/postint", "echo typo\n");
        repo.commit("demo");
        let stderr = refused(&repo);
        mentions(
            &stderr,
            &[
                "packages/demo/control/postinst:1:",
                "packages/demo/control/postint: not a file confpack uses",
            ],
        );
    }

    #[test]
    fn a_yaml_typo_names_its_line() {
        let mut repo = Repo::new();
        repo.write(
            "packages/demo/control/control.yml",
            &(control("1") + "depend: [nginx]\n"),
        );
        repo.commit("demo");
        let stderr = refused(&repo);
        mentions(&stderr, &["control.yml:6", "unknown field `depend`"]);
    }

    #[test]
    fn a_wrong_service_hook_names_its_line() {
        let mut repo = Repo::new();
        repo.write(
            "packages/both/control/control.yml",
            &(control("1")
                + "hooks:\n  - name: reload\n    service: demo.service\n    action: reload\n    run: [\"true\"]\n"),
        )
        .write("packages/both/control/environment.xml", ENVIRONMENT)
        .write(
            "packages/typo/control/control.yml",
            &(control("1") + "hooks:\n  - name: reload\n    service: demo.service\n    acton: reload\n"),
        )
        .write("packages/typo/control/environment.xml", ENVIRONMENT);
        repo.commit("hooks");
        let stderr = refused(&repo);
        mentions(
            &stderr,
            &[
                "packages/both/control/control.yml:7: hook reload: `run` and `service` exclude each other",
                "packages/typo/control/control.yml:9: ",
                "unknown field `acton`",
            ],
        );
    }
}

/// dpkg in a sandbox root.
pub(crate) mod dpkg {
    use super::*;

    pub(crate) fn have_dpkg() -> bool {
        let found = Command::new("dpkg")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("skipped: dpkg is not installed, so packages cannot be installed");
        }
        found
    }

    /// A root directory with its own dpkg database.
    pub(crate) struct Sandbox {
        _temp: tempfile::TempDir,
        pub(crate) root: PathBuf,
    }

    impl Sandbox {
        pub(crate) fn new() -> Sandbox {
            let temp = tempfile::tempdir().expect("tempdir");
            let root = temp.path().join("root");
            let admin = root.join("var/lib/dpkg");
            for dir in ["info", "updates", "triggers"] {
                std::fs::create_dir_all(admin.join(dir)).expect("mkdir");
            }
            std::fs::write(admin.join("status"), "").expect("status");
            std::fs::write(admin.join("available"), "").expect("available");
            Sandbox { _temp: temp, root }
        }

        /// What every Debian root has and a bare dpkg sandbox lacks, for a
        /// package that declares users, blocks or firewall tables: the
        /// account files (root only), login.defs, /etc/hosts and the
        /// nftables package's /etc/nftables.conf.
        pub(crate) fn as_debian_image(&self) {
            let etc = self.root.join("etc");
            std::fs::create_dir_all(&etc).expect("etc");
            for file in ["passwd", "group", "shadow", "gshadow"] {
                let text =
                    std::fs::read_to_string(Path::new("/etc").join(file)).unwrap_or_default();
                let own: String = text
                    .lines()
                    .filter(|l| l.starts_with("root:"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(etc.join(file), own).expect("account file");
            }
            let _ = std::fs::copy("/etc/login.defs", etc.join("login.defs"));
            std::fs::write(etc.join("hosts"), "127.0.0.1\tlocalhost\n").expect("hosts");
            std::fs::write(
                etc.join("nftables.conf"),
                "#!/usr/sbin/nft -f\n\nflush ruleset\n",
            )
            .expect("nftables.conf");
        }

        /// `dpkg --root=ROOT ARGS…` with the confpack under test on PATH.
        pub(crate) fn dpkg(&self, args: &[&str]) -> (i32, String, String) {
            let bin_dir = Path::new(BINARY).parent().expect("bin dir");
            let path = format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            run(Command::new("dpkg")
                .arg(format!("--root={}", self.root.display()))
                .args(["--force-script-chrootless", "--force-not-root"])
                .args(args)
                .env("PATH", path)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .env_remove("DEBIAN_PRIORITY")
                .stdin(std::process::Stdio::null()))
        }

        fn dpkg_divert(&self, args: &[&str]) -> String {
            let out = Command::new("dpkg-divert")
                .arg(format!("--root={}", self.root.display()))
                .args(args)
                .output()
                .expect("dpkg-divert");
            String::from_utf8_lossy(&out.stdout).into_owned()
        }

        pub(crate) fn dpkg_ok(&self, args: &[&str]) -> String {
            let (code, stdout, stderr) = self.dpkg(args);
            assert_eq!(code, 0, "dpkg {args:?} failed:\n{stdout}\n{stderr}");
            stdout
        }

        pub(crate) fn install(&self, debs: &[&Path]) {
            let mut args = vec!["--install".to_string()];
            args.extend(debs.iter().map(|d| d.display().to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.dpkg_ok(&args);
        }

        pub(crate) fn file(&self, path: &str) -> PathBuf {
            self.root.join(path.trim_start_matches('/'))
        }

        pub(crate) fn read(&self, path: &str) -> String {
            std::fs::read_to_string(self.file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
        }

        fn status(&self, package: &str) -> String {
            let out = Command::new("dpkg-query")
                .arg(format!(
                    "--admindir={}",
                    self.root.join("var/lib/dpkg").display()
                ))
                .args([
                    "--show",
                    "--showformat=${Version} ${db:Status-Abbrev}",
                    package,
                ])
                .output()
                .expect("dpkg-query");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }

        /// Chooses the environment as `confpack set-environment` would.
        fn choose_environment(&self, context: &str) {
            let paths = confpack::configure::Paths::new(&self.root, None);
            let store = paths
                .open_store(std::time::Duration::from_secs(5))
                .expect("store");
            let mut batch = confpack::store::Batch::new();
            batch.set_meta("environment", context).expect("meta");
            store.commit(batch).expect("commit");
        }

        fn answers(&self) -> serde_json::Value {
            if !self.file("/var/lib/confpack/db").exists() {
                return serde_json::json!({});
            }
            let out = ok(confpack(&self.root).args(["answers", "--format", "json"]));
            serde_json::from_str(&out).expect("json")
        }
    }

    const ENVIRONMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="demo/greeting" type="string" priority="high" source="configured">
      <description>Greeting</description>
      <default>hello</default>
    </template>
    <template key="demo/port" type="string" priority="medium" source="configured">
      <description>Port</description>
      <default>8080</default>
    </template>
  </templates>
  <environment context="test">
    <question key="demo/greeting">hello from the test environment</question>
  </environment>
</environments>
"#;

    /// A stub runtime (the real confpack comes from PATH), so that the
    /// packages' dependency is satisfied without packing a 100 MB binary.
    pub(crate) fn runtime(repo: &Repo, out: &Path) -> PathBuf {
        let stub = repo.path("../confpack-stub");
        std::fs::write(&stub, "#!/bin/sh\nexit 0\n").expect("stub");
        let debs = build_ok(
            &repo.dir,
            out,
            &[
                "--no-dependency-check",
                "--runtime",
                "--runtime-binary",
                stub.to_str().expect("utf-8"),
            ],
        );
        find(&debs, "confpack-runtime").clone()
    }

    fn demo_v1(repo: &mut Repo) {
        repo.write(
            "packages/demo/control/control.yml",
            "version: \"1.0\"\nmaintainer: Test <test@example.com>\ndescription: |\n  demo configuration\n  used by the dpkg tests.\n",
        )
        .write("packages/demo/control/environment.xml", ENVIRONMENT)
        .write("packages/demo/etc/demo/kept.conf", "kept\n")
        .write("packages/demo/etc/demo/dropped.conf", "dropped in v2\n")
        .write(
            "packages/demo/etc/demo/app.conf.j2",
            "greeting = {{ answers[\"demo/greeting\"] }}\nport = {{ answers[\"demo/port\"] }}\n",
        )
        .write(
            "packages/demo/etc/demo/old.conf.j2",
            "# template dropped in v2\nport = {{ answers[\"demo/port\"] }}\n",
        )
        .write(
            "packages/demo/control/postinst",
            "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then echo \"own part: $1\" > \"$DPKG_ROOT/etc/demo-own-part\"; fi\nexit 0\n",
        )
        .write(
            "packages/demo/control/postrm",
            "#!/bin/sh\nset -e\nif [ \"$1\" = remove ]; then rm -f \"$DPKG_ROOT/etc/demo-own-part\"; fi\n",
        );
        repo.commit("demo v1");
    }

    #[test]
    fn a_file_another_package_owns_is_diverted_and_given_back() {
        if !have_dpkg() {
            return;
        }
        let sandbox = Sandbox::new();
        // The other package, from its own repository.
        let mut other = Repo::new();
        other
            .write(
                "packages/webserver/control/control.yml",
                "version: \"1.0\"\nmaintainer: Test <test@example.com>\ndescription: |\n  a web server\n  shipping its own configuration.\n",
            )
            .write("packages/webserver/etc/webserver/main.conf", "upstream default\n");
        other.commit("webserver");
        let other_debs = build_ok(
            &other.dir,
            &other.path("../out"),
            &["--no-dependency-check"],
        );

        let mut repo = Repo::new();
        repo.write(
            "packages/demo/control/control.yml",
            "version: \"1.0\"\nmaintainer: Test <test@example.com>\ndescription: |\n  demo configuration\n  replacing the web server's file.\n",
        )
        .write("packages/demo/control/environment.xml", ENVIRONMENT)
        .write(
            "packages/demo/etc/webserver/main.conf.j2",
            "greeting = {{ answers[\"demo/greeting\"] }}\n",
        );
        repo.commit("demo");
        let debs = build_ok(&repo.dir, &repo.path("../out"), &["--no-dependency-check"]);
        let runtime = runtime(&repo, &repo.path("../runtime"));
        sandbox.choose_environment("test");

        sandbox.install(&[&runtime, find(&other_debs, "webserver")]);
        sandbox.install(&[find(&debs, "demo")]);
        assert_eq!(
            sandbox.read("/etc/webserver/main.conf"),
            "greeting = hello from the test environment\n"
        );
        assert_eq!(
            sandbox.read("/etc/webserver/main.conf.confpack-orig"),
            "upstream default\n",
            "the original is kept aside"
        );
        let diversions = sandbox.dpkg_divert(&["--list"]);
        assert!(diversions.contains("by demo"), "{diversions}");

        // Removing the configuration gives the web server its file back.
        sandbox.dpkg_ok(&["--remove", "demo"]);
        assert_eq!(
            sandbox.read("/etc/webserver/main.conf"),
            "upstream default\n"
        );
        assert!(
            !sandbox
                .file("/etc/webserver/main.conf.confpack-orig")
                .exists()
        );
        assert!(!sandbox.dpkg_divert(&["--list"]).contains("demo"));
        assert!(sandbox.status("webserver").ends_with("ii"));
    }

    /// The originals a package replaces, each with its content and mode:
    /// a file of no package (Debian's /etc/motd), one with a space and
    /// shell metacharacters in its name, one a template renders over.
    const UNOWNED: [(&str, &str, u32); 3] = [
        ("/etc/motd", "Debian's own motd\n", 0o644),
        ("/etc/it's a [strange] $name", "odd\n", 0o600),
        (
            "/etc/rendered-over.conf",
            "original under a template\n",
            0o640,
        ),
    ];
    /// Shipped by the package `other`, replaced by `demo`'s plain file.
    const OWNED: (&str, &str) = ("/etc/owned.conf", "upstream default\n");

    impl Sandbox {
        fn mode(&self, path: &str) -> u32 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::symlink_metadata(self.file(path))
                .unwrap_or_else(|e| panic!("{path}: {e}"))
                .permissions()
                .mode()
                & 0o7777
        }

        fn originals_are_back(&self, when: &str) {
            for (path, content, mode) in UNOWNED {
                assert_eq!(self.read(path), content, "{path} {when}");
                assert_eq!(self.mode(path), mode, "{path} {when}");
            }
            assert_eq!(self.read(OWNED.0), OWNED.1, "{when}");
            assert!(
                !self.file("/etc/owned.conf.confpack-orig").exists(),
                "{when}"
            );
            let diversions = self.dpkg_divert(&["--list"]);
            assert!(!diversions.contains("demo"), "{when}: {diversions}");
            assert!(
                !self.file("/var/lib/confpack/replaced").exists(),
                "{when}: the saved copies are gone"
            );
        }

        fn ours_are_in_place(&self, motd: &str) {
            assert_eq!(self.read("/etc/motd"), motd);
            assert_eq!(self.read("/etc/it's a [strange] $name"), "ours\n");
            assert_eq!(self.read(OWNED.0), "ours over another package's\n");
            assert_eq!(
                self.read("/etc/rendered-over.conf"),
                "greeting = hello from the test environment\n"
            );
            let saved = "/var/lib/confpack/replaced/demo";
            for (path, content, mode) in UNOWNED {
                let copy = format!("{saved}{path}");
                assert_eq!(self.read(&copy), content, "{copy}");
                assert_eq!(self.mode(&copy), mode, "{copy}");
            }
            assert_eq!(self.read("/etc/owned.conf.confpack-orig"), OWNED.1);
            let diversions = self.dpkg_divert(&["--list"]);
            assert!(
                diversions.contains("/etc/owned.conf.confpack-orig by demo"),
                "{diversions}"
            );
        }
    }

    /// `demo` ships plain files over two files of no package and one of
    /// `other`, and renders a template over a third file of no package.
    fn replacing_demo(repo: &mut Repo, motd: &str) {
        repo.write(
            "packages/demo/control/control.yml",
            "version: \"1.0\"\nmaintainer: Test <test@example.com>\ndescription: |\n  demo configuration\n  replacing files it does not own.\n",
        )
        .write("packages/demo/control/environment.xml", ENVIRONMENT)
        .write("packages/demo/etc/motd", motd)
        .write("packages/demo/etc/it's a [strange] $name", "ours\n")
        .write("packages/demo/etc/owned.conf", "ours over another package's\n")
        .write(
            "packages/demo/etc/rendered-over.conf.j2",
            "greeting = {{ answers[\"demo/greeting\"] }}\n",
        )
        .write("packages/demo/etc/demo/kept.conf", "kept\n")
        .write("packages/demo/etc/demo/new [1] *.conf", "over nothing\n");
        repo.commit(&format!("demo: {motd}"));
    }

    /// A sandbox with the runtime, `other` and the files of no package.
    fn with_originals(repo: &Repo) -> Sandbox {
        use std::os::unix::fs::PermissionsExt;
        let sandbox = Sandbox::new();
        for (path, content, mode) in UNOWNED {
            let file = sandbox.file(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, content).expect("write");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let mut other = Repo::new();
        other
            .write(
                "packages/other/control/control.yml",
                "version: \"1.0\"\nmaintainer: Test <test@example.com>\ndescription: |\n  another package\n  shipping its own file.\n",
            )
            .write("packages/other/etc/owned.conf", OWNED.1);
        other.commit("other");
        let other_debs = build_ok(
            &other.dir,
            &other.path("../out"),
            &["--no-dependency-check"],
        );
        let runtime = runtime(repo, &repo.path("../runtime"));
        sandbox.choose_environment("test");
        sandbox.install(&[&runtime, find(&other_debs, "other")]);
        sandbox
    }

    #[test]
    fn files_the_package_does_not_own_are_moved_aside_and_given_back() {
        if !have_dpkg() {
            return;
        }
        let mut repo = Repo::new();
        replacing_demo(&mut repo, "managed with confpack\n");
        let v1 = build_ok(&repo.dir, &repo.path("../v1"), &["--no-dependency-check"]);
        let sandbox = with_originals(&repo);

        sandbox.install(&[find(&v1, "demo")]);
        sandbox.ours_are_in_place("managed with confpack\n");
        // Installing the same version again (dpkg's upgrade) keeps the
        // originals: the package's own files are not "the original".
        sandbox.install(&[find(&v1, "demo")]);
        sandbox.ours_are_in_place("managed with confpack\n");
        for own in ["/etc/demo/kept.conf", "/etc/demo/new [1] *.conf"] {
            let saved = format!("/var/lib/confpack/replaced/demo{own}");
            assert!(!sandbox.file(&saved).exists(), "{saved}");
        }
        sandbox.dpkg_ok(&["--remove", "demo"]);
        sandbox.originals_are_back("after remove");

        sandbox.install(&[find(&v1, "demo")]);
        sandbox.ours_are_in_place("managed with confpack\n");
        // An upgrade that keeps every path keeps the originals aside.
        replacing_demo(&mut repo, "managed with confpack, v1.1\n");
        let v1_1 = build_ok(&repo.dir, &repo.path("../v1.1"), &["--no-dependency-check"]);
        sandbox.install(&[find(&v1_1, "demo")]);
        sandbox.ours_are_in_place("managed with confpack, v1.1\n");
        sandbox.dpkg_ok(&["--purge", "demo"]);
        sandbox.originals_are_back("after purge");
        assert!(sandbox.status("other").ends_with("ii"));
    }

    #[test]
    fn an_upgrade_that_drops_a_path_gives_its_original_back() {
        if !have_dpkg() {
            return;
        }
        let mut repo = Repo::new();
        replacing_demo(&mut repo, "managed with confpack\n");
        let v1 = build_ok(&repo.dir, &repo.path("../v1"), &["--no-dependency-check"]);
        let sandbox = with_originals(&repo);
        sandbox.install(&[find(&v1, "demo")]);
        sandbox.ours_are_in_place("managed with confpack\n");

        repo.remove("packages/demo/etc/motd")
            .remove("packages/demo/etc/it's a [strange] $name")
            .remove("packages/demo/etc/owned.conf")
            .remove("packages/demo/etc/rendered-over.conf.j2")
            .write(
                "packages/demo/etc/demo/app.conf.j2",
                "greeting = {{ answers[\"demo/greeting\"] }}\n",
            );
        repo.commit("demo v2: none of the replaced paths");
        let v2 = build_ok(&repo.dir, &repo.path("../v2"), &["--no-dependency-check"]);
        sandbox.install(&[find(&v2, "demo")]);
        sandbox.originals_are_back("after the upgrade");
        assert_eq!(sandbox.read("/etc/demo/kept.conf"), "kept\n");
        assert!(sandbox.file("/etc/demo/app.conf").exists());
        sandbox.dpkg_ok(&["--purge", "demo"]);
        sandbox.originals_are_back("after purge");
    }

    #[test]
    fn the_example_app_configures_in_a_chroot_and_leaves_its_service_action_for_later() {
        if !have_dpkg() {
            return;
        }
        // The sandbox is a chroot-like root: no /run/systemd/system.
        let sandbox = Sandbox::new();
        sandbox.as_debian_image();
        let mut repo = Repo::example();
        repo.commit("example");
        let debs = build_example(&repo, &repo.path("../out"));
        let runtime = runtime(&repo, &repo.path("../runtime"));
        // An image for production, built on none of its machines.
        sandbox.choose_environment("production");
        crate::common::preseed_secret(&sandbox.root, "webshop/db.password", "x");
        ok(confpack(&sandbox.root).args(["set", "webshop/hostname", "image"]));
        sandbox.install(&[&runtime]);
        let app = find(&debs, "webshop-app").display().to_string();
        // webshop-nginx (and nginx) are not what this test is about.
        let (code, stdout, stderr) = sandbox.dpkg(&["--force-depends", "--install", &app]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(
            sandbox.status("webshop-app").ends_with("ii"),
            "{}",
            sandbox.status("webshop-app")
        );
        assert!(
            sandbox
                .read("/etc/webshop/app.conf")
                .starts_with("# Generated by confpack for this machine (production).\n"),
            "{}",
            sandbox.read("/etc/webshop/app.conf")
        );
        let all = format!("{stdout}{stderr}");
        assert!(
            all.contains("webshop-app: hook reload-app skipped: systemd is not running"),
            "{all}"
        );
        // `apply` is not for a package with a document: refused, and what
        // configure rendered stays.
        let (code, _, stderr) = run(confpack(&sandbox.root).args(["apply", "webshop-app"]));
        assert_ne!(code, 0);
        assert!(
            stderr.contains("it has an environment document"),
            "{stderr}"
        );
        assert!(sandbox.file("/etc/webshop/app.conf").exists());
        // database.conf reads the password and declares 0640: the group
        // may read it, others never; app.conf reads no secret.
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &str| {
            std::fs::metadata(sandbox.root.join(path))
                .expect("stat")
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("etc/webshop/database.conf"), 0o640);
        assert_eq!(mode("etc/webshop/app.conf"), 0o644);
    }

    #[test]
    fn install_upgrade_remove_and_purge_a_package_with_templates() {
        if !have_dpkg() {
            return;
        }
        let sandbox = Sandbox::new();
        let mut repo = Repo::new();
        demo_v1(&mut repo);
        let out_v1 = repo.path("../v1");
        let debs = build_ok(&repo.dir, &out_v1, &["--no-dependency-check"]);
        let runtime = runtime(&repo, &repo.path("../runtime"));
        sandbox.choose_environment("test");

        // 1. Install: files present, templates rendered with the answers.
        sandbox.install(&[&runtime, find(&debs, "demo")]);
        assert!(
            sandbox.status("demo").ends_with("ii"),
            "{}",
            sandbox.status("demo")
        );
        assert_eq!(sandbox.read("/etc/demo/kept.conf"), "kept\n");
        assert_eq!(sandbox.read("/etc/demo/dropped.conf"), "dropped in v2\n");
        assert_eq!(
            sandbox.read("/etc/demo/app.conf"),
            "greeting = hello from the test environment\nport = 8080\n"
        );
        assert!(sandbox.file("/etc/demo/old.conf").exists());
        assert_eq!(sandbox.read("/etc/demo-own-part"), "own part: configure\n");
        let answers = sandbox.answers();
        assert_eq!(
            answers["demo/greeting"]["owners"],
            serde_json::json!(["demo"])
        );
        let v1 = sandbox.status("demo");

        // 2. Upgrade: a file and a template dropped, one of each added.
        repo.remove("packages/demo/etc/demo/dropped.conf")
            .remove("packages/demo/etc/demo/old.conf.j2")
            .write("packages/demo/etc/demo/added.conf", "added in v2\n")
            .write(
                "packages/demo/etc/demo/added.conf.d/extra.conf.j2",
                "extra greeting = {{ answers[\"demo/greeting\"] }}\n",
            );
        repo.commit("demo v2");
        let debs = build_ok(&repo.dir, &repo.path("../v2"), &["--no-dependency-check"]);
        sandbox.install(&[find(&debs, "demo")]);
        let v2 = sandbox.status("demo");
        assert!(v2 > v1, "the version sorts upward: {v1} → {v2}");
        assert!(
            !sandbox.file("/etc/demo/dropped.conf").exists(),
            "dpkg removes the dropped file"
        );
        assert!(
            !sandbox.file("/etc/demo/old.conf").exists(),
            "configure removes the dropped rendering"
        );
        assert_eq!(sandbox.read("/etc/demo/added.conf"), "added in v2\n");
        assert_eq!(
            sandbox.read("/etc/demo/added.conf.d/extra.conf"),
            "extra greeting = hello from the test environment\n"
        );
        assert_eq!(sandbox.read("/etc/demo/kept.conf"), "kept\n");

        // 3. Remove: everything installed or rendered is gone, the
        // answers stay until purge.
        sandbox.dpkg_ok(&["--remove", "demo"]);
        for path in [
            "/etc/demo/kept.conf",
            "/etc/demo/added.conf",
            "/etc/demo/app.conf",
            "/etc/demo/added.conf.d/extra.conf",
            "/etc/demo-own-part",
            "/usr/share/confpack/demo",
            "/etc/demo",
        ] {
            assert!(!sandbox.file(path).exists(), "{path} is left after remove");
        }
        assert!(sandbox.answers().get("demo/greeting").is_some());
        sandbox.dpkg_ok(&["--purge", "demo"]);
        let answers = sandbox.answers();
        assert!(
            answers
                .as_object()
                .is_some_and(|a| !a.keys().any(|k| k.starts_with("demo/"))),
            "purge forgets the package's answers: {answers}"
        );
        assert_eq!(
            sandbox.status("demo"),
            "",
            "purged packages are unknown to dpkg"
        );
    }

    #[test]
    fn an_upgrade_that_drops_every_template_removes_what_was_rendered() {
        if !have_dpkg() {
            return;
        }
        let sandbox = Sandbox::new();
        let mut repo = Repo::new();
        demo_v1(&mut repo);
        let v1 = build_ok(&repo.dir, &repo.path("../v1"), &["--no-dependency-check"]);
        let runtime = runtime(&repo, &repo.path("../runtime"));
        sandbox.choose_environment("test");
        sandbox.install(&[&runtime, find(&v1, "demo")]);
        assert!(sandbox.file("/etc/demo/app.conf").exists());
        repo.remove("packages/demo/etc/demo/app.conf.j2")
            .remove("packages/demo/etc/demo/old.conf.j2")
            .remove("packages/demo/control/environment.xml");
        repo.commit("demo v2: plain files only");
        let v2 = build_ok(&repo.dir, &repo.path("../v2"), &["--no-dependency-check"]);
        sandbox.install(&[find(&v2, "demo")]);
        assert!(!sandbox.file("/etc/demo/app.conf").exists());
        assert!(!sandbox.file("/etc/demo/old.conf").exists());
        assert!(!sandbox.file("/usr/share/confpack/demo").exists());
        assert_eq!(sandbox.read("/etc/demo/kept.conf"), "kept\n");
    }

    #[test]
    fn the_postinst_fails_clearly_when_configure_fails_and_abort_does_not_configure() {
        if !have_dpkg() {
            return;
        }
        let sandbox = Sandbox::new();
        let mut repo = Repo::new();
        demo_v1(&mut repo);
        let debs = build_ok(&repo.dir, &repo.path("../v1"), &["--no-dependency-check"]);
        let runtime = runtime(&repo, &repo.path("../runtime"));
        // No environment chosen and no machine matches: configure fails.
        let (code, stdout, stderr) = sandbox.dpkg(&[
            "--install",
            runtime.to_str().expect("utf-8"),
            find(&debs, "demo").to_str().expect("utf-8"),
        ]);
        assert_ne!(code, 0);
        let all = format!("{stdout}{stderr}");
        assert!(
            all.contains("demo: 'confpack configure --package demo' failed (exit 1)"),
            "{all}"
        );
        assert!(all.contains("dpkg --configure demo"), "{all}");
        assert!(
            sandbox.status("demo").ends_with("iF"),
            "{}",
            sandbox.status("demo")
        );
        // Fixing the cause and configuring again works.
        sandbox.choose_environment("test");
        sandbox.dpkg_ok(&["--configure", "demo"]);
        assert!(sandbox.file("/etc/demo/app.conf").exists());
        // abort-upgrade does not run configure.
        std::fs::remove_file(sandbox.file("/etc/demo/app.conf")).expect("rm");
        let postinst = sandbox.file("/var/lib/dpkg/info/demo.postinst");
        let status = Command::new("sh")
            .arg(&postinst)
            .arg("abort-upgrade")
            .arg("1.0")
            .env("DPKG_ROOT", &sandbox.root)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    Path::new(BINARY).parent().expect("bin dir").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .status()
            .expect("postinst");
        assert!(status.success());
        assert!(!sandbox.file("/etc/demo/app.conf").exists());
    }

    #[test]
    fn a_role_upgrade_that_drops_a_package_stops_requiring_it() {
        if !have_dpkg() {
            return;
        }
        let sandbox = Sandbox::new();
        let mut repo = Repo::new();
        for name in ["alpha", "beta"] {
            repo.write(
                &format!("packages/{name}/control/control.yml"),
                &format!("version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  {name}\n  a plain package.\n"),
            )
            .write(&format!("packages/{name}/etc/{name}.conf"), "x\n");
        }
        repo.write(
            "roles/node.yml",
            "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: the node\ndepends: [alpha, beta]\n",
        );
        repo.commit("role v1");
        let v1 = build_ok(&repo.dir, &repo.path("../v1"), &["--no-dependency-check"]);
        let runtime = runtime(&repo, &repo.path("../runtime"));
        sandbox.install(&[
            &runtime,
            find(&v1, "alpha"),
            find(&v1, "beta"),
            find(&v1, "node"),
        ]);
        let (code, _, stderr) = sandbox.dpkg(&["--remove", "beta"]);
        assert_ne!(code, 0, "role v1 requires beta");
        mentions(&stderr, &["node depends on beta"]);

        repo.write(
            "roles/node.yml",
            "version: \"2\"\nmaintainer: Test <test@example.com>\ndescription: the node\ndepends: [alpha]\n",
        );
        repo.commit("role v2");
        let v2 = build_ok(&repo.dir, &repo.path("../v2"), &["--no-dependency-check"]);
        sandbox.install(&[find(&v2, "node")]);
        assert!(
            sandbox.status("node").starts_with("2+git"),
            "{}",
            sandbox.status("node")
        );
        // beta is no longer required (apt autoremove would take it); alpha is.
        let (code, _, stderr) = sandbox.dpkg(&["--remove", "alpha"]);
        assert_ne!(code, 0, "role v2 still requires alpha: {stderr}");
        sandbox.dpkg_ok(&["--remove", "beta"]);
        assert!(!sandbox.file("/etc/beta.conf").exists());
        assert!(sandbox.file("/etc/alpha.conf").exists());
    }
}

mod lintian {
    use super::*;

    #[test]
    fn the_example_and_the_runtime_pass_lintian_without_errors() {
        if Command::new("lintian").arg("--version").output().is_err() {
            eprintln!("skipped: lintian is not installed (apt-get install lintian)");
            return;
        }
        let mut repo = Repo::example();
        repo.commit("example");
        let out = repo.path("../out");
        let known = repo.path("known-packages");
        let debs = build_ok(
            &repo.dir,
            &out,
            &[
                "--known-packages",
                known.to_str().expect("utf-8"),
                "--runtime",
            ],
        );
        let output = Command::new("lintian")
            .args(["--no-cfg", "--allow-root", "--fail-on", "error"])
            .args(&debs)
            .output()
            .expect("lintian");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
        assert!(errors.is_empty(), "lintian errors:\n{report}");
        // The accepted warnings (see the README, "Lintian").
        let accepted = ["non-standard-file-perm"];
        for line in report.lines().filter(|l| l.starts_with("W:")) {
            assert!(
                accepted.iter().any(|tag| line.contains(tag)),
                "unexpected lintian warning: {line}"
            );
        }
        assert!(output.status.success(), "{report}");
    }
}

/// control.yml `keep-local-edits:` (issue 14, item 5).
mod keep_local_edits {
    use super::*;

    pub(super) const ENVIRONMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<environments xmlns="urn:confpack:environment:1" version="1">
  <templates>
    <template key="demo/greeting" type="string" priority="high" source="configured">
      <description>Greeting</description>
      <default>hello</default>
    </template>
  </templates>
  <environment context="test">
    <question key="demo/greeting">hello</question>
  </environment>
</environments>
"#;

    fn repo(keep: &str) -> Repo {
        let mut repo = Repo::new();
        repo.write(
            "packages/demo/control/control.yml",
            &format!(
                "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  a test package\n  for keep-local-edits.\nkeep-local-edits:\n{keep}"
            ),
        )
        .write("packages/demo/control/environment.xml", ENVIRONMENT)
        .write(
            "packages/demo/etc/demo/app.conf.j2",
            "greeting = {{ answers[\"demo/greeting\"] }}\n",
        )
        .write("packages/demo/etc/demo/plain.conf", "plain\n");
        repo.commit("demo");
        repo
    }

    #[test]
    fn the_kept_targets_reach_configure_through_package_yml() {
        let repo = repo("  - /etc/demo/app.conf\n");
        let out = repo.path("../out");
        let debs = build_ok(&repo.dir, &out, &["--no-dependency-check"]);
        let demo = unpack(find(&debs, "demo"));
        let package_yml = text(&demo.data["./usr/share/confpack/demo/package.yml"].1);
        assert!(
            package_yml.contains("keep-local-edits:\n- /etc/demo/app.conf\n"),
            "{package_yml}"
        );
    }

    #[test]
    fn a_path_the_package_does_not_render_is_refused_at_its_line() {
        let repo =
            repo("  - /etc/demo/app.conf\n  - /etc/demo/plain.conf\n  - /etc/demo/app.conf\n");
        let out = repo.path("../out");
        let (code, _, stderr) = build(&repo.dir, &out, &["--no-dependency-check"]);
        assert_eq!(code, 1, "{stderr}");
        assert!(!out.exists(), "nothing is written when a check fails");
        mentions(
            &stderr,
            &[
                "packages/demo/control/control.yml:8: keep-local-edits: /etc/demo/plain.conf is not a file this package renders",
                "keep-local-edits: /etc/demo/app.conf is listed twice",
            ],
        );
    }
}

/// control.yml `questions:` (issue 14, item 3).
mod declared_questions {
    use super::*;

    fn repo(questions: &str) -> Repo {
        let mut repo = Repo::new();
        repo.write(
            "packages/demo/control/control.yml",
            &format!(
                "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  a test package\n  for questions.\nquestions:\n{questions}"
            ),
        )
        .write(
            "packages/demo/control/environment.xml",
            keep_local_edits::ENVIRONMENT,
        )
        .write("packages/demo/etc/demo/plain.conf", "plain\n");
        repo.commit("demo");
        repo
    }

    #[test]
    fn declared_questions_reach_configure_through_package_yml() {
        let repo = repo("  - demo/greeting\n");
        let out = repo.path("../out");
        let debs = build_ok(&repo.dir, &out, &["--no-dependency-check"]);
        let demo = unpack(find(&debs, "demo"));
        let package_yml = text(&demo.data["./usr/share/confpack/demo/package.yml"].1);
        assert!(
            package_yml.contains("questions:\n- demo/greeting\n"),
            "{package_yml}"
        );
    }

    #[test]
    fn a_key_listed_twice_or_that_the_document_lacks_is_refused_at_its_line() {
        for (questions, expected) in [
            (
                "  - demo/greeting\n  - demo/greeting\n",
                "packages/demo/control/control.yml:8: questions: demo/greeting is listed twice",
            ),
            (
                "  - demo/greeting\n  - demo/greting\n",
                "packages/demo/control/control.yml:8: questions: demo/greting is not a question of",
            ),
        ] {
            let repo = repo(questions);
            let out = repo.path("../out");
            let (code, _, stderr) = build(&repo.dir, &out, &["--no-dependency-check"]);
            assert_eq!(code, 1, "{stderr}");
            mentions(&stderr, &[expected]);
        }
    }

    #[test]
    fn a_package_without_a_document_cannot_declare_questions() {
        let mut repo = Repo::new();
        repo.write(
            "packages/demo/control/control.yml",
            "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  a test package\n  for questions.\nquestions: [demo/greeting]\n",
        )
        .write("packages/demo/etc/demo/plain.conf", "plain\n");
        repo.commit("demo");
        let out = repo.path("../out");
        let (code, _, stderr) = build(&repo.dir, &out, &["--no-dependency-check"]);
        assert_eq!(code, 1, "{stderr}");
        mentions(
            &stderr,
            &["control.yml:6: questions: this package has no environment document"],
        );
    }
}

/// control.yml declarations with a "down" (issue 15), through dpkg's own
/// maintainer scripts: a package without an environment document.
mod declarations {
    use super::dpkg::{Sandbox, have_dpkg, runtime};
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn control(directories: &str) -> String {
        format!(
            "version: \"1\"\nmaintainer: Test <test@example.com>\ndescription: |\n  declares directories\n  for the tests.\ndirectories:\n{directories}"
        )
    }

    fn mode(sandbox: &Sandbox, path: &str) -> u32 {
        std::fs::metadata(sandbox.file(path))
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn directories_are_made_changed_dropped_and_removed_by_the_package_lifecycle() {
        if !have_dpkg() {
            return;
        }
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: giving a directory to root needs root");
            return;
        }
        let sandbox = Sandbox::new();
        let mut repo = Repo::new();
        repo.write(
            "packages/dirs/control/control.yml",
            &control("  - path: /srv/dirs/data\n    mode: \"0750\"\n  - path: /var/lib/dirs\n"),
        );
        repo.commit("v1");
        let debs = build_ok(&repo.dir, &repo.path("../v1"), &["--no-dependency-check"]);
        let runtime = runtime(&repo, &repo.path("../runtime"));
        sandbox.install(&[&runtime, find(&debs, "dirs")]);
        assert_eq!(mode(&sandbox, "/srv/dirs/data"), 0o750);
        assert_eq!(mode(&sandbox, "/var/lib/dirs"), 0o755);

        // v2: a new mode for one, the other dropped.
        repo.write(
            "packages/dirs/control/control.yml",
            &control("  - path: /srv/dirs/data\n    mode: \"0700\"\n"),
        );
        repo.commit("v2");
        let debs = build_ok(&repo.dir, &repo.path("../v2"), &["--no-dependency-check"]);
        sandbox.install(&[find(&debs, "dirs")]);
        assert_eq!(mode(&sandbox, "/srv/dirs/data"), 0o700);
        assert!(!sandbox.file("/var/lib/dirs").exists(), "dropped by v2");

        // Remove: a directory holding a person's file is kept (until
        // purge), with a warning naming it.
        std::fs::write(sandbox.file("/srv/dirs/data/mine"), "x").expect("write");
        let (code, stdout, stderr) = sandbox.dpkg(&["--remove", "dirs"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stderr.contains("kept") && stderr.contains("/srv/dirs/data"),
            "{stderr}"
        );
        assert!(sandbox.file("/srv/dirs/data/mine").exists());
        sandbox.dpkg_ok(&["--purge", "dirs"]);
        assert!(
            sandbox.file("/srv/dirs/data/mine").exists(),
            "never the package's to delete"
        );

        // The person deletes it as the warning said; installed again and
        // removed, the package leaves nothing.
        std::fs::remove_dir_all(sandbox.file("/srv/dirs/data")).expect("rm");
        sandbox.install(&[find(&debs, "dirs")]);
        assert_eq!(mode(&sandbox, "/srv/dirs/data"), 0o700);
        sandbox.dpkg_ok(&["--remove", "dirs"]);
        assert!(!sandbox.file("/srv/dirs/data").exists());
    }

    /// A download from a server on 127.0.0.1, through `confpack apply`
    /// (postinst) and `remove-rendered` (prerm); a wrong checksum in a
    /// new version fails its postinst and keeps the file of the old one.
    #[test]
    fn a_download_is_fetched_verified_installed_and_removed_with_the_package() {
        if !have_dpkg() {
            return;
        }
        let body = b"agent 1.0\n".repeat(1000);
        let sum = confpack::files::sha256_hex(&body);
        let server = crate::common::Server::start(vec![
            ("/agent-1.0", body.clone()),
            ("/agent-2.0", b"not what the checksum says".to_vec()),
        ]);
        let control = |version: &str, url: &str, sum: &str| {
            format!(
                "version: \"{version}\"\nmaintainer: Test <test@example.com>\ndescription: |\n  \
                 downloads an agent\n  for the tests.\ndownloads:\n  - url: {url}\n    \
                 sha256: {sum}\n    path: /opt/agent/agent.bin\n    mode: \"0755\"\n"
            )
        };
        let sandbox = Sandbox::new();
        let mut repo = Repo::new();
        repo.write(
            "packages/agent/control/control.yml",
            &control("1", &format!("{}/agent-1.0", server.url), &sum),
        );
        repo.commit("v1");
        let debs = build_ok(&repo.dir, &repo.path("../v1"), &["--no-dependency-check"]);
        let runtime = runtime(&repo, &repo.path("../runtime"));
        sandbox.install(&[&runtime, find(&debs, "agent")]);
        assert_eq!(
            std::fs::read(sandbox.file("/opt/agent/agent.bin")).expect("installed"),
            body
        );

        // v2's server sends bytes that do not match its checksum: its
        // postinst fails and the file of v1 stays.
        let expected = confpack::files::sha256_hex(b"agent 2.0\n");
        repo.write(
            "packages/agent/control/control.yml",
            &control("2", &format!("{}/agent-2.0", server.url), &expected),
        );
        repo.commit("v2");
        let debs = build_ok(&repo.dir, &repo.path("../v2"), &["--no-dependency-check"]);
        let v2 = find(&debs, "agent").display().to_string();
        let (code, stdout, stderr) = sandbox.dpkg(&["--install", &v2]);
        assert_ne!(code, 0, "{stdout}{stderr}");
        assert!(stderr.contains("checksum mismatch"), "{stderr}");
        assert_eq!(
            std::fs::read(sandbox.file("/opt/agent/agent.bin")).expect("kept"),
            body
        );

        sandbox.dpkg_ok(&["--remove", "agent"]);
        assert!(!sandbox.file("/opt/agent/agent.bin").exists());
    }

    /// `confpack apply` of a package dpkg does not have installed undoes
    /// nothing and says why (a typo, or a removed package whose
    /// declarations wait for its purge).
    #[test]
    fn apply_refuses_a_package_that_is_not_installed() {
        if !have_dpkg() {
            return;
        }
        let sandbox = Sandbox::new();
        let (code, _, stderr) = run(confpack(&sandbox.root).args(["apply", "typo"]));
        assert_ne!(code, 0);
        assert!(stderr.contains("typo: not installed"), "{stderr}");
    }

    #[test]
    fn a_bad_declaration_is_refused_at_its_line() {
        let mut repo = Repo::new();
        repo.write(
            "packages/dirs/control/control.yml",
            &control("  - path: /srv/ok\n  - path: relative/dir\n    mode: \"0999\"\n"),
        );
        repo.commit("bad");
        let (code, _, stderr) = build(&repo.dir, &repo.path("../out"), &[]);
        assert_ne!(code, 0);
        assert!(
            stderr.contains("control.yml:8: directories: relative/dir: path:"),
            "{stderr}"
        );
        assert!(stderr.contains("mode: \"0999\""), "{stderr}");
    }
}
