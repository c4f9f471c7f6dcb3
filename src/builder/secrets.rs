//! A package's `secrets/` part at build time: every file is shipped
//! encrypted with age to the repository's recipients (see
//! [`crate::secrets`]), as `/usr/share/confpack/<pkg>/secrets/<path>.age`,
//! mode 0600 unless `modes:` says otherwise; `confpack configure` decrypts
//! it to `/<path>` on the node. A file already ending in `.age` (made with
//! `confpack encrypt --output`) is shipped as it is, which keeps clear
//! text out of git and the package byte-for-byte reproducible (age
//! encryption is randomized, so build-time encryption is not).

use std::path::Path;

use super::manifest::{Located, Manifest, RepositoryConfig};
use age::x25519::Recipient;

use super::planned::{Planned, Problems, problem_at, share_dir};
use super::source::{self, Links, MAX_FILE_BYTES, read_shipped};
use crate::deb::Entry;
use crate::error::Problem;

/// Where the recipients come from.
pub struct Secrets<'a> {
    pub repo: &'a Path,
    pub config: &'a RepositoryConfig,
    pub manifest: &'a Manifest,
    pub located: &'a Located,
    /// `packages/<name>/control`, repository-relative.
    pub control_dir: &'a str,
}

/// The path a secret's target is shipped at, encrypted.
pub fn shipped_path(package: &str, target: &str) -> String {
    format!(
        "{}/{}{target}.{}",
        share_dir(package),
        crate::secrets::SECRETS_DIR,
        crate::secrets::EXTENSION
    )
}

/// Encrypts (or takes as they are) the package's secret files: `files`
/// are (path inside `secrets/`, full path for messages), at least one.
pub fn add_secrets(
    secrets: &Secrets<'_>,
    files: &[(String, String)],
    planned: &mut Planned,
    problems: &mut Problems,
) {
    let Some((_, first)) = files.first() else {
        return;
    };
    let (recipients, relative) = match read_recipients(secrets, first) {
        Ok(found) => found,
        Err(problem) => return problems.push(problem),
    };
    if !relative.starts_with(&format!("packages/{}/", planned.name)) {
        planned.history.push(relative);
    }
    for (inside, source) in files {
        problems.note(add_secret(
            secrets.repo,
            &recipients,
            inside,
            source,
            planned,
        ));
    }
}

/// The recipients control.yml or else confpack.yml names, and the file's
/// repository-relative path. `first_secret` is blamed when neither does.
fn read_recipients(
    secrets: &Secrets<'_>,
    first_secret: &str,
) -> Result<(Vec<Recipient>, String), Problem> {
    let located = secrets.located;
    let (relative, origin) = match (&secrets.manifest.recipients, &secrets.config.recipients) {
        (Some(file), _) => (
            source::resolve(secrets.repo, secrets.control_dir, file)
                .map_err(|e| e.message(file, "the control/ directory")),
            located.problem(located.key_line("recipients"), ""),
        ),
        (None, Some(file)) => (
            source::resolve(secrets.repo, "", file).map_err(|e| e.message(file, "the repository")),
            problem_at(secrets.repo.join("confpack.yml").display().to_string(), ""),
        ),
        (None, None) => {
            return Err(problem_at(
                first_secret,
                "secrets are encrypted to the nodes' public keys: set `recipients: FILE` in \
                 confpack.yml (or the package's control.yml), a file of age public keys \
                 (`confpack keygen` on a node prints its key)",
            ));
        }
    };
    let relative = relative.map_err(|message| Problem {
        message: format!("the recipients file {message}"),
        ..origin.clone()
    })?;
    let path = secrets.repo.join(&relative);
    // A symlink may share one recipients file, but not lead out of the
    // repository (its text would end up in the build's messages).
    let text = source::read_text(
        secrets.repo,
        &relative,
        Links::InsideRepository,
        MAX_FILE_BYTES,
    )
    .map_err(|e| Problem {
        message: format!("the recipients file {}: {e}", path.display()),
        ..origin
    })?;
    let recipients = crate::secrets::parse_recipients(&path.display().to_string(), &text)?;
    Ok((recipients, relative))
}

/// One secret file, `secrets/<inside>` (`source` is its full path, as
/// shown in messages), shipped encrypted for configure to put at
/// `/<inside>` (less a `.age` it already has).
fn add_secret(
    repo: &Path,
    recipients: &[Recipient],
    inside: &str,
    source: &str,
    planned: &mut Planned,
) -> Result<(), Problem> {
    // A symlink here would encrypt a file of the build machine
    // (/etc/shadow, the CI's environment) to every node: never read
    // through one.
    let relative = format!("packages/{}/secrets/{inside}", planned.name);
    let data = read_shipped(repo, &relative).map_err(|message| problem_at(source, message))?;
    let (target, encrypted) =
        encrypted(recipients, inside, data).map_err(|m| problem_at(source, m))?;
    let target = format!("/{target}");
    if target.starts_with("/usr/share/confpack/") {
        return Err(problem_at(source, "/usr/share/confpack is confpack's own"));
    }
    if let Some(other) = planned.sources.get(&target) {
        return Err(problem_at(
            source,
            format!("{target} is already provided by {other}"),
        ));
    }
    if let Some(parent) = target
        .rsplit_once('/')
        .map(|(p, _)| p)
        .filter(|p| !p.is_empty())
    {
        planned.add_directory(parent.to_string());
    }
    planned.sources.insert(target.clone(), source.to_string());
    planned.rendered.insert(target.clone());
    planned.deb.entries.insert(
        shipped_path(&planned.name, &target),
        Entry::File {
            data: encrypted,
            mode: 0o600,
        },
    );
    Ok(())
}

/// The target (relative) and the age file of `secrets/<inside>`: a file
/// ending in `.age` must already be one; any other is encrypted now.
fn encrypted(
    recipients: &[Recipient],
    inside: &str,
    data: Vec<u8>,
) -> Result<(String, Vec<u8>), String> {
    match inside.strip_suffix(".age") {
        Some(_) if !data.starts_with(b"age-encryption.org/v1\n") => Err(
            "a secret ending in .age must be an age file (`confpack encrypt --output`); \
             leave the .age off to have the build encrypt it"
                .into(),
        ),
        Some(target) => Ok((target.to_string(), data)),
        None => crate::secrets::encrypt(recipients, &data)
            .map(|encrypted| (inside.to_string(), encrypted))
            .map_err(|error| error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deb::{Control, Deb};
    use std::os::unix::fs::symlink;

    fn recipient() -> Recipient {
        age::x25519::Identity::generate().to_public()
    }

    fn planned() -> Planned {
        let manifest = Located {
            file: "packages/p/control/control.yml".into(),
            text: String::new(),
        };
        Planned::new("p", false, manifest, Deb::new(Control::default()))
    }

    /// A repository in `dir/repo` beside a file of the build machine,
    /// `dir/host-secret`.
    fn repository() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("packages/p/secrets/etc/p")).expect("mkdir");
        std::fs::write(dir.path().join("host-secret"), "root:x:0:0\n").expect("write");
        (dir, repo)
    }

    #[test]
    fn a_secret_symlinked_out_of_the_repository_is_refused_naming_the_file() {
        let (dir, repo) = repository();
        let source = repo.join("packages/p/secrets/etc/p/a");
        symlink(dir.path().join("host-secret"), &source).expect("symlink");
        let source = source.display().to_string();
        let mut planned = planned();
        let problem = add_secret(&repo, &[recipient()], "etc/p/a", &source, &mut planned)
            .expect_err("a symlink out of the repository");
        assert_eq!(problem.file, source);
        assert_eq!(problem.line, None);
        assert!(
            problem
                .message
                .starts_with("packages/p/secrets/etc/p/a is a symlink; a file here is never read through a symlink"),
            "{}",
            problem.message
        );
        assert!(planned.deb.entries.is_empty() && planned.rendered.is_empty());
    }

    #[test]
    fn a_recipients_file_symlinked_out_of_the_repository_is_refused_at_confpack_yml() {
        let (dir, repo) = repository();
        symlink(dir.path().join("host-secret"), repo.join("recipients")).expect("symlink");
        let config = RepositoryConfig {
            recipients: Some("recipients".into()),
            ..RepositoryConfig::default()
        };
        let located = Located {
            file: "control.yml".into(),
            text: String::new(),
        };
        let secrets = Secrets {
            repo: &repo,
            config: &config,
            manifest: &Manifest::default(),
            located: &located,
            control_dir: "packages/p/control",
        };
        let problem = read_recipients(&secrets, "secret").expect_err("outside");
        assert_eq!(
            problem.file,
            repo.join("confpack.yml").display().to_string()
        );
        assert!(
            problem
                .message
                .starts_with("the recipients file \"recipients\" resolves to "),
            "{}",
            problem.message
        );
        assert!(problem.message.ends_with(", outside the repository"));
    }

    #[test]
    fn a_secret_is_encrypted_unless_it_is_already_an_age_file() {
        let recipients = [recipient()];
        let age_file = b"age-encryption.org/v1\n-> X25519 x\n".to_vec();
        let table: [(&str, &[u8], Result<&str, &str>); 3] = [
            ("etc/a", b"clear", Ok("etc/a")),
            ("etc/a.age", &age_file, Ok("etc/a")),
            (
                "etc/a.age",
                b"clear",
                Err("a secret ending in .age must be an age file"),
            ),
        ];
        for (inside, data, expected) in table {
            match (encrypted(&recipients, inside, data.to_vec()), expected) {
                (Ok((target, shipped)), Ok(want)) => {
                    assert_eq!(target, want, "{inside}");
                    assert!(shipped.starts_with(b"age-encryption.org/v1\n"), "{inside}");
                    assert_ne!(shipped, b"clear".to_vec());
                }
                (Err(message), Err(want)) => assert!(message.starts_with(want), "{message}"),
                (got, _) => panic!("{inside}: {got:?}"),
            }
        }
    }
}
