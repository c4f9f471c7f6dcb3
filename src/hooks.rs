//! Component hooks: commands a package runs only when an answer they read
//! has changed (or on first configure / `--force-questions`), the seed's
//! "reconfigure only what changed" — with the inputs declared, not guessed
//! from variable names.
//!
//! Values reach the command as data, never through a shell: all read
//! answers as a JSON object on stdin, non-secret ones also as environment
//! variables `CONFPACK_<KEY>` (upper case, other characters as `_`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::package::Hook;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A value a hook reads.
#[derive(Debug, Clone)]
pub struct Input {
    pub value: String,
    pub secret: bool,
}

/// The stamp of a hook's inputs: changes exactly when one of them does.
pub fn stamp(hook: &Hook, inputs: &BTreeMap<String, Input>) -> String {
    let mut digest = Sha256::new();
    for key in &hook.reads {
        digest.update(key.as_bytes());
        digest.update([0]);
        match inputs.get(key) {
            Some(input) => {
                digest.update([1]);
                digest.update(input.value.as_bytes());
            }
            None => digest.update([2]),
        }
        digest.update([0]);
    }
    digest.update(hook.run.join("\0").as_bytes());
    crate::files::hex(&digest.finalize())
}

/// The environment variable name for an answer key.
pub fn variable_name(key: &str) -> String {
    let mut name = String::from("CONFPACK_");
    name.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name
}

/// Runs one hook; `root` is the working directory and `CONFPACK_ROOT`.
pub fn run(
    package: &str,
    hook: &Hook,
    inputs: &BTreeMap<String, Input>,
    root: &Path,
) -> Result<()> {
    let failure = |message: String| Error::Hook {
        package: package.to_string(),
        hook: hook.name.clone(),
        message,
    };
    let (program, args) = hook
        .run
        .split_first()
        .ok_or_else(|| failure("no command".into()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(root)
        .env("CONFPACK_PACKAGE", package)
        .env("CONFPACK_HOOK", &hook.name)
        .env("CONFPACK_ROOT", root)
        .stdin(Stdio::piped());
    let mut json = serde_json::Map::new();
    for key in &hook.reads {
        if let Some(input) = inputs.get(key) {
            json.insert(key.clone(), serde_json::Value::String(input.value.clone()));
            if !input.secret {
                command.env(variable_name(key), &input.value);
            }
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| failure(format!("cannot start {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read stdin closes it early; that is fine.
        let _ = stdin.write_all(serde_json::Value::Object(json).to_string().as_bytes());
    }
    let timeout = hook
        .timeout
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(failure(format!("{program} failed: {status}"))),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failure(format!(
                    "{program} did not finish within {} s and was killed",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(failure(format!("waiting for {program}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(reads: &[&str]) -> Hook {
        Hook {
            name: "h".into(),
            reads: reads.iter().map(|s| s.to_string()).collect(),
            run: vec!["true".into()],
            timeout: None,
        }
    }

    fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, Input> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Input {
                        value: v.to_string(),
                        secret: false,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn stamp_changes_only_when_a_read_value_changes() {
        let h = hook(&["p/a"]);
        let one = stamp(&h, &inputs(&[("p/a", "1"), ("p/b", "x")]));
        assert_eq!(one, stamp(&h, &inputs(&[("p/a", "1"), ("p/b", "y")])));
        assert_ne!(one, stamp(&h, &inputs(&[("p/a", "2"), ("p/b", "x")])));
    }

    #[test]
    fn variable_names_are_shell_identifiers() {
        assert_eq!(variable_name("webshop/db.host"), "CONFPACK_WEBSHOP_DB_HOST");
    }

    #[test]
    fn a_hook_gets_values_as_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let h = Hook {
            name: "h".into(),
            reads: vec!["p/v".into()],
            run: vec![
                "sh".into(),
                "-c".into(),
                "printf '%s' \"$CONFPACK_P_V\" > \"$1\"; cat >> \"$1\"".into(),
                "sh".into(),
                out.display().to_string(),
            ],
            timeout: Some(10),
        };
        let value = "$(touch pwned) `id` ' \"";
        run("p", &h, &inputs(&[("p/v", value)]), dir.path()).expect("run");
        let written = std::fs::read_to_string(&out).expect("out");
        assert!(written.starts_with(value), "{written}");
        assert!(written.contains("\"p/v\""), "{written}");
        assert!(!dir.path().join("pwned").exists());
    }

    #[test]
    fn a_hanging_hook_is_killed_after_its_timeout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let h = Hook {
            name: "slow".into(),
            reads: vec![],
            run: vec!["sleep".into(), "30".into()],
            timeout: Some(0),
        };
        let error = run("p", &h, &BTreeMap::new(), dir.path()).expect_err("timeout");
        assert!(error.to_string().contains("killed"), "{error}");
    }
}
