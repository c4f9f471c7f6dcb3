//! A real confmodule under the real debconf, with confpack as its agent,
//! in a sandboxed debconf database (`DEBCONF_SYSTEMRC`): the host's is
//! never read or written.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::fakes::{Recording, Scripted, Turn, no_preset};
use crate::agent::{Session, Unanswered, run_with_agent};
use crate::env::model::QuestionType;
use crate::frontend::Context;

const SECRET: &str = "s3cret-Pass-91";

const TEMPLATES: &str = "\
Template: agenttest/flavour
Type: select
Choices: vanilla, chocolate, ${extra}
Default: vanilla
Description: Which flavour for ${who}?
 The first paragraph.
 .
 The second one.

Template: agenttest/name
Type: string
Default: world
Description: Your name:

Template: agenttest/enable
Type: boolean
Default: true
Description: Enable it?

Template: agenttest/secret
Type: password
Description: Administrator password:

Template: agenttest/welcome
Type: note
Description: Welcome
 This is a note.
";

/// The confmodule: loads its templates, asks five questions at once and
/// says (on stderr: stdout is debconf's) what it got, all but the
/// password. A back at GO is said too.
const CONFIG: &str = r#"#!/bin/sh
set -e
. /usr/share/debconf/confmodule
db_capb backup
db_x_loadtemplatefile "$AGENTTEST_TEMPLATES" agenttest
db_subst agenttest/flavour extra strawberry
db_subst agenttest/flavour who Bob
db_input high agenttest/flavour || true
db_input high agenttest/name || true
db_input high agenttest/enable || true
db_input critical agenttest/secret || true
db_input high agenttest/welcome || true
if db_go; then
    db_get agenttest/flavour; echo "flavour=$RET" >&2
    db_get agenttest/name; echo "name=$RET" >&2
    db_get agenttest/enable; echo "enable=$RET" >&2
    db_get agenttest/secret
    if [ -n "$RET" ]; then echo "secret is set" >&2; fi
else
    echo "went back" >&2
fi
"#;

/// Perl's Text::Iconv, when missing (it is only recommended by debconf):
/// debconf's Passthrough then dies on its first reply. Converts nothing,
/// which is right in a UTF-8 locale.
const ICONV_STUB: &str = "package Text::Iconv;\n\
sub new { return bless {}, shift }\n\
sub convert { return $_[1] }\n\
1;\n";

struct Sandbox {
    dir: tempfile::TempDir,
    rc: PathBuf,
    perl: Option<PathBuf>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("mkdir");
        let rc = dir.path().join("debconf.conf");
        std::fs::write(
            &rc,
            format!(
                "Config: configdb\nTemplates: templatedb\n\n\
                 Name: configdb\nDriver: File\nFilename: {0}/config.dat\n\n\
                 Name: templatedb\nDriver: File\nFilename: {0}/templates.dat\n",
                db.display()
            ),
        )
        .expect("write rc");
        let has_iconv = Command::new("perl")
            .args(["-MText::Iconv", "-e1"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let perl = (!has_iconv).then(|| {
            let lib = dir.path().join("perl");
            std::fs::create_dir_all(lib.join("Text")).expect("mkdir");
            std::fs::write(lib.join("Text/Iconv.pm"), ICONV_STUB).expect("write stub");
            lib
        });
        std::fs::write(dir.path().join("templates"), TEMPLATES).expect("write templates");
        let config = dir.path().join("config");
        std::fs::write(&config, CONFIG).expect("write config");
        make_executable(&config);
        Sandbox { dir, rc, perl }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A debconf tool (or the confmodule) in the sandbox.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("DEBCONF_SYSTEMRC", &self.rc)
            .env("AGENTTEST_TEMPLATES", self.path("templates"))
            .env("DEBIAN_PRIORITY", "high")
            .env_remove("DEBCONF_DEBUG")
            .env_remove("DEBIAN_HAS_FRONTEND")
            .env_remove("DEBCONF_REDIR")
            .env_remove("DEBCONF_FRONTEND")
            .current_dir(self.dir.path());
        if let Some(lib) = &self.perl {
            command.env("PERL5LIB", lib);
        }
        command
    }

    /// Runs the confmodule with confpack as its agent; its stdout and
    /// stderr are kept in files.
    fn configure(&self, frontend: &mut Scripted, progress: &mut Recording) -> String {
        self.configure_with(frontend, progress, &no_preset).0
    }

    /// Also with `preset` answers; returns the unanswered questions too.
    fn configure_with(
        &self,
        frontend: &mut Scripted,
        progress: &mut Recording,
        preset: &dyn Fn(&str) -> Option<String>,
    ) -> (String, Vec<Unanswered>) {
        let stdout = std::fs::File::create(self.path("stdout")).expect("create");
        let stderr = std::fs::File::create(self.path("stderr")).expect("create");
        let mut command = self.command(self.path("config"));
        command.stdout(stdout).stderr(stderr);
        let mut session = Session::new(frontend, progress, preset, Context::default());
        let status = run_with_agent(&mut command, &mut session).expect("served");
        let unanswered = session.unanswered().to_vec();
        let output = format!(
            "{}{}",
            std::fs::read_to_string(self.path("stdout")).unwrap_or_default(),
            std::fs::read_to_string(self.path("stderr")).unwrap_or_default()
        );
        assert!(status.success(), "{status}: {output}");
        (output, unanswered)
    }

    fn show(&self) -> String {
        let output = self
            .command("debconf-show")
            .arg("agenttest")
            .output()
            .expect("debconf-show");
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr)
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn a_real_confmodule_gets_confpacks_answers_into_its_debconf_database() {
    let sandbox = Sandbox::new();
    let mut frontend = Scripted::answering(vec![
        ("agenttest/flavour", "chocolate"),
        ("agenttest/name", "Alice"),
        ("agenttest/enable", "false"),
        ("agenttest/secret", SECRET),
        ("agenttest/welcome", ""),
    ]);
    let mut progress = Recording::default();
    let output = sandbox.configure(&mut frontend, &mut progress);

    assert!(output.contains("flavour=chocolate"), "{output}");
    assert!(output.contains("name=Alice"), "{output}");
    assert!(output.contains("enable=false"), "{output}");
    assert!(output.contains("secret is set"), "{output}");
    let shown = sandbox.show();
    for line in [
        "agenttest/flavour: chocolate",
        "agenttest/name: Alice",
        "agenttest/enable: false",
        "agenttest/secret: (password omitted)",
    ] {
        assert!(shown.contains(line), "{line} in {shown}");
    }
    let stored = std::fs::read_to_string(sandbox.path("db/config.dat")).expect("config.dat");
    assert!(stored.contains(&format!("Value: {SECRET}")), "{stored}");

    // What was asked, as debconf sent it.
    assert_eq!(
        frontend.asked_tags(),
        vec![vec![
            "agenttest/flavour",
            "agenttest/name",
            "agenttest/enable",
            "agenttest/secret",
            "agenttest/welcome"
        ]]
    );
    let flavour = frontend.prompt("agenttest/flavour");
    assert_eq!(flavour.template.description, "Which flavour for Bob?");
    assert_eq!(
        flavour.template.extended,
        "The first paragraph.\n\nThe second one."
    );
    assert_eq!(
        flavour.template.choices,
        ["vanilla", "chocolate", "strawberry"]
    );
    assert_eq!(flavour.default.as_deref(), Some("vanilla"));
    assert!(frontend.prompt("agenttest/secret").is_secret());
    assert_eq!(
        frontend.prompt("agenttest/welcome").template.question_type,
        QuestionType::Note
    );
    assert!(
        frontend.asked[0].0.back,
        "db_capb backup reached the frontend"
    );

    // The password is nowhere but in debconf's database.
    for (name, text) in [
        ("the command's output", &output),
        ("debconf-show", &shown),
        ("progress", &progress.events.join("\n")),
    ] {
        assert!(!text.contains(SECRET), "the password is in {name}: {text}");
    }
}

#[test]
fn back_at_the_first_question_reaches_a_real_confmodule_as_30() {
    let sandbox = Sandbox::new();
    let mut frontend = Scripted::turns(vec![Turn::Back]);
    let mut progress = Recording::default();
    let output = sandbox.configure(&mut frontend, &mut progress);
    assert!(output.contains("went back"), "{output}");
}

#[test]
fn unattended_a_preset_answers_and_a_critical_password_without_one_is_reported() {
    let sandbox = Sandbox::new();
    let mut frontend = Scripted::noninteractive();
    let mut progress = Recording::default();
    let preset = |tag: &str| (tag == "agenttest/name").then(|| "from-confpack".to_string());
    let (output, unanswered) = sandbox.configure_with(&mut frontend, &mut progress, &preset);
    assert!(output.contains("name=from-confpack"), "{output}");
    assert!(
        output.contains("flavour=vanilla"),
        "the default kept: {output}"
    );
    assert!(!output.contains("secret is set"), "{output}");
    assert_eq!(
        unanswered,
        [Unanswered {
            tag: "agenttest/secret".into(),
            package: "agenttest".into()
        }]
    );
    assert!(sandbox.show().contains("agenttest/name: from-confpack"));
    assert!(frontend.asked.is_empty());
}
