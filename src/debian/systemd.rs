//! systemd and Debian's service conventions, as service hooks and
//! `services:` declarations share them: `systemctl` verbs, unit names, and
//! how deb-systemd-invoke decides whether an action may run now
//! (systemd running, `/usr/sbin/policy-rc.d`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::files::rooted;

/// What a service hook asks systemd to do (`systemctl` verbs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceAction {
    Start,
    Stop,
    Restart,
    Reload,
    TryRestart,
    ReloadOrRestart,
    TryReloadOrRestart,
}

impl ServiceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Restart => "restart",
            ServiceAction::Reload => "reload",
            ServiceAction::TryRestart => "try-restart",
            ServiceAction::ReloadOrRestart => "reload-or-restart",
            ServiceAction::TryReloadOrRestart => "try-reload-or-restart",
        }
    }
}

/// A service hook's unit and action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceCall<'a> {
    pub unit: &'a str,
    pub action: ServiceAction,
}

/// A systemd unit name as systemctl takes it, never an option (`-…`) or a
/// path.
pub fn valid_unit_name(unit: &str) -> bool {
    !unit.is_empty()
        && unit.len() <= 255
        && !unit.starts_with(['-', '.'])
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '@' | '\\'))
}

/// policy-rc.d's exit code for "action forbidden by policy".
const POLICY_DENIED: i32 = 101;

/// Why a service action waits while systemd does not run the root.
pub const SYSTEMD_NOT_RUNNING: &str = "systemd is not running (chroot or image build); \
     it runs at the next configure on the booted system";

/// `<root>/usr/sbin/policy-rc.d` when it is an executable file: then it
/// decides whether a service action may run now.
pub fn policy_rc_d(root: &Path) -> Option<PathBuf> {
    let policy = rooted(root, Path::new("/usr/sbin/policy-rc.d"));
    let executable = std::fs::metadata(&policy)
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    executable.then_some(policy)
}

/// Why `call` waits, given policy-rc.d's exit `code` when asked about it
/// (101 denies, any other answer allows); `None`: it may run.
pub fn policy_denial(call: ServiceCall<'_>, code: Option<i32>) -> Option<String> {
    (code == Some(POLICY_DENIED)).then(|| {
        format!(
            "/usr/sbin/policy-rc.d denies {} of {}; \
             it runs at the next configure that policy-rc.d allows",
            call.action.as_str(),
            call.unit
        )
    })
}
