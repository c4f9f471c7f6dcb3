//! Component hooks: commands a package runs only when an answer they read
//! has changed (or on first configure / `--force-questions`), the seed's
//! "reconfigure only what changed" — with the inputs declared, not guessed
//! from variable names.
//!
//! Values reach the command as data, never through a shell: all read
//! answers as a JSON object on stdin, non-secret ones also as environment
//! variables `CONFPACK_<KEY>` (upper case, other characters as `_`).
//!
//! A service hook (`service:` + `action:`) follows Debian's convention for
//! maintainer scripts (`deb-systemd-invoke`, `invoke-rc.d`): while systemd
//! is not running under the root (a chroot, a container, an image build)
//! or `/usr/sbin/policy-rc.d` denies the action, it is not run and not
//! recorded as done ([`service_gate`]), so the next configure on the booted
//! system runs it.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, waitid};

use crate::debian::systemd::{SYSTEMD_NOT_RUNNING, policy_denial, policy_rc_d};
use crate::error::{Error, Result};
pub use crate::output::variable_name;
use crate::package::{Hook, ServiceCall, rooted};
use crate::process::signals::{Catching, Caught};

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
    digest.update(hook.command().join("\0").as_bytes());
    crate::files::hex(&digest.finalize())
}

/// Why a service hook must wait, as the end of "hook X skipped: …"; `None`
/// when it may run. Checked like `deb-systemd-invoke` does, under `root`:
/// systemd runs when `/run/systemd/system` is a directory, and
/// `/usr/sbin/policy-rc.d <unit> <action>` (when executable) denies with
/// exit 101; any other answer allows.
pub fn service_gate(root: &Path, call: ServiceCall<'_>) -> Result<Option<String>> {
    if !rooted(root, Path::new("/run/systemd/system")).is_dir() {
        return Ok(Some(SYSTEMD_NOT_RUNNING.into()));
    }
    let Some(policy) = policy_rc_d(root) else {
        return Ok(None);
    };
    let mut command = Command::new(&policy);
    command
        .args([call.unit, call.action.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let status = crate::process::command::status(&mut command)?;
    Ok(policy_denial(call, status.code()))
}

/// What [`run_changed`] did.
#[derive(Debug, Default)]
pub struct Ran {
    /// Hooks run (and recorded as done).
    pub run: Vec<String>,
    /// Service hooks that must wait for a booted system (or policy-rc.d);
    /// not recorded as done.
    pub skipped: Vec<String>,
    /// One message per hook that failed or cannot run.
    pub failures: Vec<String>,
}

/// The hooks stage: runs the package's hooks whose inputs changed since
/// their last success (all with `force`), recording each success at once
/// so a later failure does not make it run again, and forgets the stamps
/// of hooks the package no longer declares.
pub fn run_changed(
    root: &Path,
    package: &crate::package::Package,
    store: &crate::store::Store,
    document: &crate::env::model::Document,
    known: &BTreeMap<String, crate::derive::KnownAnswer>,
    force: bool,
    listener: &mut dyn crate::Listener,
) -> Result<Ran> {
    let stamps = store.hook_stamps(&package.name)?;
    let inputs: BTreeMap<String, Input> = known
        .iter()
        .map(|(key, answer)| {
            let input = Input {
                value: answer.value.clone(),
                secret: answer.secret,
            };
            (key.clone(), input)
        })
        .collect();
    let mut ran = Ran::default();
    for hook in &package.config.hooks {
        if let Err(message) = check_reads(hook, &inputs, document) {
            ran.failures.push(message);
            continue;
        }
        let stamp = stamp(hook, &inputs);
        if !force && stamps.get(&hook.name) == Some(&stamp) {
            continue;
        }
        if let Some(call) = hook.service_call() {
            match service_gate(root, call) {
                Ok(None) => {}
                Ok(Some(reason)) => {
                    let name = &package.name;
                    listener.info(&format!("{name}: hook {} skipped: {reason}", hook.name));
                    ran.skipped.push(hook.name.clone());
                    continue;
                }
                Err(error) => {
                    ran.failures.push(format!("hook {}: {error}", hook.name));
                    continue;
                }
            }
        }
        let command = hook.command().join(" ");
        listener.info(&format!("running hook {} ({command})", hook.name));
        match run(&package.name, hook, &inputs, root) {
            Ok(()) => {
                let mut batch = crate::store::Batch::new();
                batch.set_hook_stamp(&package.name, &hook.name, &stamp)?;
                store.commit(batch)?;
                ran.run.push(hook.name.clone());
            }
            Err(error) => ran.failures.push(error.to_string()),
        }
    }
    forget_undeclared(store, package, &stamps)?;
    Ok(ran)
}

/// A hook may read only questions that exist.
fn check_reads(
    hook: &Hook,
    inputs: &BTreeMap<String, Input>,
    document: &crate::env::model::Document,
) -> std::result::Result<(), String> {
    let unknown: Vec<&str> = hook
        .reads
        .iter()
        .filter(|k| !inputs.contains_key(*k) && document.template(k).is_none())
        .map(String::as_str)
        .collect();
    match unknown.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "hook {} reads unknown question(s) {}",
            hook.name,
            unknown.join(", ")
        )),
    }
}

fn forget_undeclared(
    store: &crate::store::Store,
    package: &crate::package::Package,
    stamps: &BTreeMap<String, String>,
) -> Result<()> {
    let declared: std::collections::BTreeSet<&str> = package
        .config
        .hooks
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    let mut batch = crate::store::Batch::new();
    for name in stamps.keys().filter(|n| !declared.contains(n.as_str())) {
        batch.remove_hook_stamp(&package.name, name);
    }
    store.commit(batch)
}

/// Runs one hook; `root` is the working directory and `CONFPACK_ROOT`.
///
/// The hook runs in a process group of its own, so what it started in the
/// background ends with it: its timeout kills the whole group, and so does
/// SIGTERM, SIGINT or SIGHUP sent to confpack while it runs (the group gets
/// the same signal, a second to finish, then SIGKILL; then confpack ends
/// by that signal as it would have without a hook running).
pub fn run(
    package: &str,
    hook: &Hook,
    inputs: &BTreeMap<String, Input>,
    root: &Path,
) -> Result<()> {
    let catching = Catching::start();
    let result = run_until(package, hook, inputs, root, &|| catching.take());
    if let Err(Stopped::Signal(caught, error)) = result {
        drop(catching);
        // With no other Catching alive this ends the process by the signal.
        let _ = signal_hook::low_level::raise(signal_of(caught).1);
        return Err(error);
    }
    result.map_err(Stopped::into_error)
}

/// Why [`run_until`] stopped without success.
#[derive(Debug)]
enum Stopped {
    Failed(Error),
    /// A signal arrived; the hook's group is ended.
    Signal(Caught, Error),
}

impl Stopped {
    fn into_error(self) -> Error {
        match self {
            Stopped::Failed(error) | Stopped::Signal(_, error) => error,
        }
    }
}

/// The signal [`Caught`] stands for, as rustix's and as a raw number.
fn signal_of(caught: Caught) -> (Signal, i32, &'static str) {
    match caught {
        Caught::Interrupt => (Signal::INT, signal_hook::consts::SIGINT, "SIGINT"),
        Caught::HangUp => (Signal::HUP, signal_hook::consts::SIGHUP, "SIGHUP"),
        // SIGTERM, or the confpack that started this one is gone.
        _ => (Signal::TERM, signal_hook::consts::SIGTERM, "SIGTERM"),
    }
}

/// Whether the child has exited, without reaping it: while it is a zombie
/// its pid (the group's id) cannot be reused, so killing the group is safe.
fn exited(pid: Pid) -> bool {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    !matches!(waitid(WaitId::Pid(pid), options), Ok(None))
}

/// Sends `signal` to the group, gives its leader `grace` to exit, then
/// kills whatever is left of the group and reaps the leader.
fn end_group(child: &mut std::process::Child, signal: Signal, grace: Duration) {
    let group = Pid::from_child(child);
    let _ = kill_process_group(group, signal);
    let started = Instant::now();
    while signal != Signal::KILL && !exited(group) && started.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = kill_process_group(group, Signal::KILL);
    let _ = child.wait();
}

/// [`run`], with `interrupted` polled for a signal while the hook runs.
fn run_until(
    package: &str,
    hook: &Hook,
    inputs: &BTreeMap<String, Input>,
    root: &Path,
    interrupted: &dyn Fn() -> Option<Caught>,
) -> std::result::Result<(), Stopped> {
    let failure = |message: String| Error::Hook {
        package: package.to_string(),
        hook: hook.name.clone(),
        message,
    };
    let argv = hook.command();
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Stopped::Failed(failure("no command".into())))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(root)
        .env("CONFPACK_PACKAGE", package)
        .env("CONFPACK_HOOK", &hook.name)
        .env("CONFPACK_ROOT", root)
        .process_group(0)
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
        .map_err(|e| Stopped::Failed(failure(format!("cannot start {program}: {e}"))))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read stdin closes it early; that is fine.
        let _ = stdin.write_all(serde_json::Value::Object(json).to_string().as_bytes());
    }
    let timeout = hook
        .timeout
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let started = Instant::now();
    let group = Pid::from_child(&child);
    loop {
        if exited(group) {
            return match child.wait() {
                Ok(status) if status.success() => Ok(()),
                Ok(status) => Err(Stopped::Failed(failure(format!(
                    "{program} failed: {status}"
                )))),
                Err(e) => Err(Stopped::Failed(failure(format!(
                    "waiting for {program}: {e}"
                )))),
            };
        }
        if let Some(caught) = interrupted() {
            let (signal, _, name) = signal_of(caught);
            end_group(&mut child, signal, Duration::from_secs(1));
            return Err(Stopped::Signal(
                caught,
                failure(format!(
                    "{program} was ended with its process group: confpack received {name}"
                )),
            ));
        }
        if started.elapsed() >= timeout {
            end_group(&mut child, Signal::KILL, Duration::ZERO);
            return Err(Stopped::Failed(failure(format!(
                "{program} did not finish within {} s and was killed with its process group",
                timeout.as_secs()
            ))));
        }
        std::thread::sleep(Duration::from_millis(10));
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
            service: None,
            action: None,
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
            service: None,
            action: None,
            timeout: Some(10),
        };
        let value = "$(touch pwned) `id` ' \"";
        run_until("p", &h, &inputs(&[("p/v", value)]), dir.path(), &|| None).expect("run");
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
            service: None,
            action: None,
            timeout: Some(0),
        };
        let error = run_until("p", &h, &BTreeMap::new(), dir.path(), &|| None)
            .expect_err("timeout")
            .into_error();
        assert!(error.to_string().contains("killed"), "{error}");
    }

    /// A root with `run/systemd/system` when `systemd` and a policy-rc.d
    /// exiting with `policy` (none: no policy-rc.d).
    fn fake_root(systemd: bool, policy: Option<i32>) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        if systemd {
            std::fs::create_dir_all(root.path().join("run/systemd/system")).expect("mkdir");
        }
        if let Some(code) = policy {
            let script = root.path().join("usr/sbin/policy-rc.d");
            std::fs::create_dir_all(script.parent().expect("parent")).expect("mkdir");
            // Records its arguments, so the test sees what it was asked.
            std::fs::write(
                &script,
                format!("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/asked\"\nexit {code}\n"),
            )
            .expect("write");
            std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("chmod");
        }
        root
    }

    const RELOAD: ServiceCall<'static> = ServiceCall {
        unit: "webshop.service",
        action: crate::package::ServiceAction::TryReloadOrRestart,
    };

    #[test]
    fn a_service_action_waits_while_systemd_is_not_running() {
        let root = fake_root(false, Some(0));
        let reason = service_gate(root.path(), RELOAD)
            .expect("gate")
            .expect("skipped");
        assert!(reason.starts_with("systemd is not running"), "{reason}");
        assert!(reason.contains("next configure"), "{reason}");
    }

    #[test]
    fn a_service_action_waits_while_policy_rc_d_denies_it() {
        let root = fake_root(true, Some(101));
        let reason = service_gate(root.path(), RELOAD)
            .expect("gate")
            .expect("skipped");
        assert!(
            reason.starts_with(
                "/usr/sbin/policy-rc.d denies try-reload-or-restart of webshop.service"
            ),
            "{reason}"
        );
        let asked = std::fs::read_to_string(root.path().join("usr/sbin/asked")).expect("asked");
        assert_eq!(asked, "webshop.service try-reload-or-restart\n");
    }

    #[test]
    fn a_service_action_runs_when_systemd_runs_and_policy_rc_d_allows_it() {
        for policy in [None, Some(0), Some(104)] {
            let root = fake_root(true, policy);
            assert_eq!(
                service_gate(root.path(), RELOAD).expect("gate"),
                None,
                "policy-rc.d {policy:?}"
            );
        }
    }

    #[test]
    fn a_service_hook_runs_systemctl_with_its_action_and_unit() {
        let h = Hook {
            name: "reload".into(),
            reads: vec!["p/a".into()],
            run: vec![],
            service: Some("webshop.service".into()),
            action: Some(crate::package::ServiceAction::TryReloadOrRestart),
            timeout: None,
        };
        assert_eq!(
            h.command(),
            ["systemctl", "try-reload-or-restart", "webshop.service"]
        );
        let mut other = h.clone();
        other.service = Some("other.service".into());
        let values = inputs(&[("p/a", "1")]);
        assert_ne!(stamp(&h, &values), stamp(&other, &values));
    }
}
