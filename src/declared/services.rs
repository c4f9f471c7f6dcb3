//! `services:` — a systemd unit enabled (or masked) and running while the
//! package is installed, with the semantics of Debian's deb-systemd-helper
//! and deb-systemd-invoke.
//!
//! ```yaml
//! services:
//!   - unit: webshop.service
//!     enable: true              # default true: started at boot
//!     start: true               # default true: running after configure
//!     restart-on-change: true   # default true: restarted when this run changed the package
//!   - unit: apache-htcacheclean.service
//!     mask: true                # never started while the package is installed
//! ```
//!
//! Enablement is `systemctl [--root=ROOT] enable|disable|mask|unmask UNIT`,
//! read with `is-enabled`. These only edit symlinks under
//! `/etc/systemd/system`, so they work in a chroot or an image build too:
//! `--root=ROOT` is passed when the root is not `/`, and without a running
//! systemd systemctl edits the files itself. `daemon-reload` is not needed
//! for them. A unit masked by someone else is left masked, with a warning,
//! and neither enabled nor started: the administrator's mask wins, as with
//! deb-systemd-helper.
//!
//! Running state changes only while systemd runs the root and
//! `/usr/sbin/policy-rc.d` allows the action (the rules of service hooks,
//! `crate::hooks::service_gate`, asked through the [`Host`]); otherwise
//! an info says why, as deb-systemd-invoke does in a chroot, and the next
//! configure does it:
//! - `start: true`: `systemctl start UNIT` when `is-active` says it is not
//!   active (a failed start is an error with systemctl's message and where
//!   to look: `systemctl status`, `journalctl -u`);
//! - `restart-on-change: true`: `systemctl restart UNIT` when it is active
//!   and this run changed the package's files or the declaration changed.
//!   Restart, not reload: many daemons reread only part of their
//!   configuration on reload; a package whose daemon reloads fully declares
//!   a service hook with `try-reload-or-restart` instead. A restart that
//!   policy-rc.d denies is remembered and done by the next configure it
//!   allows;
//! - `start: false`: confpack neither starts nor stops it (socket or timer
//!   activation may start it); a running one is still restarted on change.
//!   `enable: false` with `start: true` runs it now but not after a reboot
//!   (deb-systemd-invoke would not start a disabled unit; a declaration
//!   says what it wants);
//! - `mask: true`: masked, and stopped when it runs.
//!
//! Undone (remove, purge, or dropped by a new version): the enablement goes
//! back to what it was before confpack first applied the declaration.
//! - It was disabled (or its unit did not exist yet, as when the package
//!   ships it): stopped, then disabled.
//! - It was enabled (or static: pulled in by other units): another package
//!   or the administrator wants it, so it stays enabled and running; if
//!   confpack disabled it (`enable: false`), it is enabled again.
//! - It was masked before: untouched.
//! - confpack masked it: unmasked (not started).
//!
//! Removal must undo the declarations before dpkg removes the package's
//! files (as prerm does), so a unit the package ships still exists to be
//! stopped and disabled: systemctl cannot disable a unit whose file is gone.
//!
//! [`Host`]: super::Host

use serde::{Deserialize, Serialize};

use super::{Context, Id, Kind, Ran, Undo};
use crate::debian::systemd::{
    SYSTEMD_NOT_RUNNING, ServiceAction, ServiceCall, policy_denial, policy_rc_d, valid_unit_name,
};
use crate::error::{Error, Result};

/// Unit suffixes a declaration may name: those enabled and started.
const SUFFIXES: &[&str] = &[".service", ".timer", ".socket", ".path", ".target"];

/// One declared unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Service {
    pub unit: String,
    /// Enabled at boot (default: true, unless masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Running after configure (default: true, unless masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<bool>,
    /// Restarted when configure changed the package (default: true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_on_change: Option<bool>,
    /// Masked while the package is installed (default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<bool>,
}

/// A unit's enablement, from `systemctl is-enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enablement {
    /// Started at boot (`enabled`).
    Enabled,
    /// Started by what pulls it in, never enabled by itself (`static`,
    /// `indirect`, `generated`, `alias`, `transient`).
    Static,
    /// Not started at boot (`disabled`, `enabled-runtime`, `linked`,
    /// `bad`, or no such unit).
    Disabled,
    /// Never started (`masked`, `masked-runtime`).
    Masked,
}

impl Enablement {
    /// The state `systemctl is-enabled` printed.
    fn of(word: &str) -> Enablement {
        match word {
            "enabled" => Enablement::Enabled,
            "static" | "indirect" | "generated" | "alias" | "transient" => Enablement::Static,
            "masked" | "masked-runtime" => Enablement::Masked,
            _ => Enablement::Disabled,
        }
    }
}

/// What was applied for a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The declaration as applied.
    pub applied: Service,
    /// Its enablement before confpack first applied it, to go back to.
    pub before: Enablement,
    /// A restart on change that policy-rc.d denied: the next configure
    /// restarts it, though it changes nothing then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart_pending: bool,
}

impl Service {
    pub fn mask(&self) -> bool {
        self.mask.unwrap_or(false)
    }

    pub fn enable(&self) -> bool {
        self.enable.unwrap_or(!self.mask())
    }

    pub fn start(&self) -> bool {
        self.start.unwrap_or(!self.mask())
    }

    pub fn restart_on_change(&self) -> bool {
        self.restart_on_change.unwrap_or(true)
    }

    /// What it makes of the node, in one line: `enabled, started,
    /// restarted on change`.
    pub fn intended(&self) -> String {
        if self.mask() {
            return "masked".into();
        }
        let words = [
            (self.enable(), "enabled", "not enabled"),
            (self.start(), "started", "not started"),
            (
                self.restart_on_change(),
                "restarted on change",
                "not restarted on change",
            ),
        ];
        words
            .iter()
            .map(|(on, yes, no)| if *on { *yes } else { *no })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Service,
            name: self.unit.clone(),
        }
    }

    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        let unit = &self.unit;
        if !valid_unit_name(unit) {
            out.push(format!(
                "unit: {unit:?} is not a systemd unit name (letters, digits, `:-_.@\\`, e.g. webshop.service)"
            ));
        } else if !SUFFIXES.iter().any(|suffix| unit.ends_with(suffix)) {
            out.push(format!(
                "unit: {unit} needs its type as suffix: {}",
                SUFFIXES.join(", ")
            ));
        } else if unit.contains("@.") {
            out.push(format!(
                "unit: {unit} is a template; name an instance (webshop@main.service)"
            ));
        }
        if self.mask() {
            for (key, value) in [
                ("enable", self.enable),
                ("start", self.start),
                ("restart-on-change", self.restart_on_change),
            ] {
                if value == Some(true) {
                    out.push(format!(
                        "`mask: true` and `{key}: true` exclude each other (a masked unit never runs)"
                    ));
                }
            }
        }
        out
    }

    pub fn apply(&self, previous: Option<&Record>, cx: &mut Context<'_>) -> Result<Record> {
        let now = is_enabled(cx, &self.unit)?;
        let before = previous.map_or(Enablement::of(&now), |record| record.before);
        let masked_by_confpack =
            previous.is_some_and(|r| r.applied.mask()) && before != Enablement::Masked;
        let mut now = Enablement::of(&now);
        if self.mask() {
            if now != Enablement::Masked {
                edit(cx, "mask", &self.unit)?;
                cx.listener
                    .info(&format!("{}: masked {}", cx.package, self.unit));
            }
            stop(cx, &self.unit)?;
            return Ok(self.record(before, false));
        }
        if now == Enablement::Masked && masked_by_confpack {
            edit(cx, "unmask", &self.unit)?;
            cx.listener
                .info(&format!("{}: unmasked {}", cx.package, self.unit));
            now = Enablement::of(&is_enabled(cx, &self.unit)?);
        }
        if now == Enablement::Masked {
            cx.listener.warning(&format!(
                "{}: {} is masked (not by confpack), so it is neither enabled nor started; \
                 `systemctl unmask {}` lets the next configure do it",
                cx.package, self.unit, self.unit
            ));
            return Ok(self.record(before, false));
        }
        match (self.enable(), now) {
            (true, Enablement::Disabled) => {
                edit(cx, "enable", &self.unit)?;
                cx.listener
                    .info(&format!("{}: enabled {}", cx.package, self.unit));
            }
            (false, Enablement::Enabled) => {
                edit(cx, "disable", &self.unit)?;
                cx.listener
                    .info(&format!("{}: disabled {}", cx.package, self.unit));
            }
            _ => {}
        }
        let changed = !cx.changed.is_empty()
            || previous.is_some_and(|r| r.applied != *self || r.restart_pending);
        let restart_pending = self.run(changed && self.restart_on_change(), cx)?;
        Ok(self.record(before, restart_pending))
    }

    /// Starts it (`start: true`) or restarts it (`changed`), as far as
    /// systemd runs and policy-rc.d allows. `true`: a restart that
    /// policy-rc.d denied, still to do.
    fn run(&self, changed: bool, cx: &mut Context<'_>) -> Result<bool> {
        if !self.start() && !changed {
            return Ok(false);
        }
        if !cx.host.systemd_running() {
            if self.start() {
                cx.listener.info(&format!(
                    "{}: did not start {}: {SYSTEMD_NOT_RUNNING}",
                    cx.package, self.unit
                ));
            }
            // Nothing runs yet: it starts on the changed files.
            return Ok(false);
        }
        let action = match (is_active(cx, &self.unit)?, self.start(), changed) {
            (false, true, _) => ServiceAction::Start,
            (true, _, true) => ServiceAction::Restart,
            _ => return Ok(false),
        };
        let done = invoke(cx, &self.unit, action)?;
        Ok(action == ServiceAction::Restart && !done)
    }

    fn record(&self, before: Enablement, restart_pending: bool) -> Record {
        Record {
            applied: self.clone(),
            before,
            restart_pending,
        }
    }
}

/// `systemctl [--root=ROOT] <verb> <unit>`, on unit files: works without
/// systemd running, under any root.
fn unit_files_argv(cx: &Context<'_>, verb: &str, unit: &str) -> Vec<String> {
    let mut argv = vec!["systemctl".to_string()];
    if cx.root != std::path::Path::new("/") {
        argv.push(format!("--root={}", cx.root.display()));
    }
    argv.extend([verb.to_string(), unit.to_string()]);
    argv
}

/// Enables, disables, masks or unmasks it; a failure is an error with
/// what systemctl said.
fn edit(cx: &mut Context<'_>, verb: &str, unit: &str) -> Result<()> {
    let argv = unit_files_argv(cx, verb, unit);
    let ran = cx
        .host
        .run(&argv.iter().map(String::as_str).collect::<Vec<_>>())?;
    if !ran.success() {
        return Err(Error::Command {
            command: argv.join(" "),
            message: ran.said().to_string(),
        });
    }
    Ok(())
}

/// What `systemctl is-enabled` says (`not-found` when it says nothing: an
/// older systemctl for a unit that does not exist).
fn is_enabled(cx: &mut Context<'_>, unit: &str) -> Result<String> {
    let argv = unit_files_argv(cx, "is-enabled", unit);
    let ran = cx
        .host
        .run(&argv.iter().map(String::as_str).collect::<Vec<_>>())?;
    Ok(first_word(&ran, "not-found"))
}

fn first_word(ran: &Ran, otherwise: &str) -> String {
    ran.stdout
        .split_whitespace()
        .next()
        .unwrap_or(otherwise)
        .to_string()
}

/// What `systemctl is-active` says (only asked while systemd runs).
fn active_state(cx: &mut Context<'_>, unit: &str) -> Result<String> {
    let ran = cx.host.run(&["systemctl", "is-active", unit])?;
    Ok(first_word(&ran, "unknown"))
}

/// Whether an `is-active` state is running, or on its way up.
fn runs(state: &str) -> bool {
    matches!(state, "active" | "reloading" | "activating")
}

fn is_active(cx: &mut Context<'_>, unit: &str) -> Result<bool> {
    Ok(runs(&active_state(cx, unit)?))
}

/// Stops it when it runs, as far as systemd runs and policy-rc.d allows.
fn stop(cx: &mut Context<'_>, unit: &str) -> Result<()> {
    if cx.host.systemd_running() && is_active(cx, unit)? {
        invoke(cx, unit, ServiceAction::Stop)?;
    }
    Ok(())
}

/// `systemctl <action> <unit>` unless systemd is not running or
/// policy-rc.d denies it (then an info says why, and `false`), like
/// deb-systemd-invoke.
fn invoke(cx: &mut Context<'_>, unit: &str, action: ServiceAction) -> Result<bool> {
    let verb = action.as_str();
    if let Some(reason) = gate(cx, ServiceCall { unit, action })? {
        cx.listener
            .info(&format!("{}: did not {verb} {unit}: {reason}", cx.package));
        return Ok(false);
    }
    let ran = cx.host.run(&["systemctl", verb, unit])?;
    if !ran.success() {
        return Err(Error::Command {
            command: format!("systemctl {verb} {unit}"),
            message: format!(
                "{}; see `systemctl status {unit}` and `journalctl -u {unit}`",
                ran.said()
            ),
        });
    }
    let done = match action {
        ServiceAction::Start => "started",
        ServiceAction::Stop => "stopped",
        _ => "restarted",
    };
    cx.listener.info(&format!("{}: {done} {unit}", cx.package));
    Ok(true)
}

/// Why `call` must wait; `None` when it may run now.
fn gate(cx: &mut Context<'_>, call: ServiceCall<'_>) -> Result<Option<String>> {
    if !cx.host.systemd_running() {
        return Ok(Some(SYSTEMD_NOT_RUNNING.into()));
    }
    let Some(policy) = policy_rc_d(cx.root) else {
        return Ok(None);
    };
    let policy = policy.to_string_lossy();
    let ran = cx.host.run(&[&policy, call.unit, call.action.as_str()])?;
    Ok(policy_denial(call, ran.code))
}

impl Record {
    pub fn id(&self) -> Id {
        self.applied.id()
    }

    pub fn undo(&self, _why: Undo, cx: &mut Context<'_>) -> Result<Option<Record>> {
        let unit = &self.applied.unit;
        let now = Enablement::of(&is_enabled(cx, unit)?);
        match self.before {
            Enablement::Disabled => {
                if self.applied.enable() || self.applied.start() {
                    stop(cx, unit)?;
                }
                if now == Enablement::Enabled {
                    edit(cx, "disable", unit)?;
                    cx.listener
                        .info(&format!("{}: disabled {unit}", cx.package));
                }
            }
            Enablement::Enabled if !self.applied.enable() && now == Enablement::Disabled => {
                edit(cx, "enable", unit)?;
                cx.listener
                    .info(&format!("{}: enabled {unit} again", cx.package));
            }
            Enablement::Enabled | Enablement::Static | Enablement::Masked => {}
        }
        if self.applied.mask() && self.before != Enablement::Masked && now == Enablement::Masked {
            edit(cx, "unmask", unit)?;
            cx.listener
                .info(&format!("{}: unmasked {unit}", cx.package));
        }
        Ok(None)
    }

    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        let service = &self.applied;
        let unit = &service.unit;
        let mut out = Vec::new();
        match is_enabled(cx, unit) {
            Ok(word) => {
                let now = Enablement::of(&word);
                let (matches, wanted) = if service.mask() {
                    (now == Enablement::Masked, "masked")
                } else if service.enable() {
                    (
                        matches!(now, Enablement::Enabled | Enablement::Static),
                        "enabled",
                    )
                } else {
                    (now != Enablement::Enabled, "disabled")
                };
                if !matches {
                    out.push(format!("{word} instead of {wanted}"));
                }
            }
            Err(e) => out.push(e.to_string()),
        }
        if service.start() && cx.host.systemd_running() {
            match active_state(cx, unit) {
                Ok(state) if runs(&state) => {}
                Ok(state) => out.push(format!("not running ({state})")),
                Err(e) => out.push(e.to_string()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
