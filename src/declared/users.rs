//! `groups:` and `users:` — system groups and system users, made with
//! shadow's tools (`groupadd`, `useradd`, `usermod`, `userdel`,
//! `groupdel`, from the `passwd` package Debian always has), as Debian
//! packages make them.
//!
//! ```yaml
//! groups:
//!   - name: webshop            # a system group
//! users:
//!   - name: webshop            # a system user
//!     group: webshop           # primary group; default: a group of the user's
//!                              # name, made with it (`useradd --user-group`)
//!     groups: [www-data]       # supplementary groups: they must exist (or be
//!                              # declared under `groups:`, made first)
//!     home: /var/lib/webshop   # default /nonexistent
//!     create-home: false       # made (from /etc/skel) only when the user is
//!     shell: /usr/sbin/nologin # default
//!     comment: Webshop service
//! ```
//!
//! Applied: a missing group or user is made (`--system`: an id below 1000);
//! a user confpack manages whose shell, home, groups or comment differ is
//! changed in place with `usermod` (the home's files are not moved). The
//! tools run with `--root ROOT` when the root is not `/`; what exists is
//! read from `ROOT/etc/passwd`, `group` and `shadow`.
//!
//! Never taken over: an account that exists without a record of confpack's
//! is adopted only when it is a system account (id below 1000) with exactly
//! the declared settings, and recorded as not made by confpack, so it is
//! never locked, changed back or deleted by an undo. Otherwise applying
//! fails, naming what differs.
//!
//! Removal policy (Debian's own packages never delete a system user, since
//! files may still belong to it; a node should still end up clean):
//! - remove: a user confpack made is locked (`usermod --lock --expiredate
//!   1`: no password, and expired, so neither a key nor a service manager
//!   logs it in) and kept, with a warning, until the purge; a group is kept
//!   too. Installing the package again unlocks the user.
//! - purge, or a new version no longer declares it: the user is deleted
//!   (`userdel`, its home left alone) only when it owns no file left under
//!   the root (walked on every local filesystem under it — /srv or /var on
//!   a disk of their own count — without /proc, /sys, /dev, /run and
//!   network or pseudo filesystems; a home it was made with counts; a uid
//!   given to the next system user must not own old data). Otherwise it
//!   stays locked, a warning names a file it owns and how many, and the
//!   record is forgotten: deleting it is then the administrator's call. The
//!   group of its name made with it goes with it. A group confpack made is
//!   deleted (`groupdel`) unless it is still a user's primary group (a user
//!   kept for its files), which a warning says.
//!
//! `userdel` also deletes the group of the user's name when the root's
//! login.defs has `USERGROUPS_ENAB yes` (Debian's default); a group of
//! that name confpack did not make with the user is made again with the
//! same gid right after.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::directories::{check_absolute, valid_account_name};
use super::{Context, Id, Kind, Undo};
use crate::error::{Error, Problem, Result};

/// Ids from here on are people's, never a system account's.
const FIRST_REGULAR_ID: u32 = 1000;

/// How many files a user kept for its files is said to own, at most.
const OWNED_FILES_COUNTED: usize = 100;

/// One declared system group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
}

/// One declared system user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct User {
    pub name: String,
    /// The primary group; `None`: a group of the user's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Supplementary groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_home: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// What was applied for a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub gid: u32,
    /// Whether confpack made it (else it existed and is never deleted).
    pub created: bool,
}

/// A user's settings, as applied (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Settings {
    pub group: String,
    /// Sorted.
    pub groups: Vec<String>,
    pub home: String,
    pub create_home: bool,
    pub shell: String,
    pub comment: String,
}

/// What was applied for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UserRecord {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Whether confpack made it (else it existed and is never locked or
    /// deleted).
    pub created: bool,
    /// Whether confpack made its primary group with it (the group of its
    /// name), to be deleted with it.
    #[serde(default)]
    pub created_group: bool,
    pub applied: Settings,
    /// Locked when the package was removed, kept for the purge.
    #[serde(default)]
    pub locked: bool,
}

/// One line of `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    comment: String,
    home: String,
    shell: String,
}

/// One line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// The accounts of a root: its passwd, group and (when readable) shadow
/// files. A missing file has no accounts.
#[derive(Debug, Default)]
struct Accounts {
    users: Vec<PasswdEntry>,
    groups: Vec<GroupEntry>,
    /// A user's account expiry (shadow's 8th field, in days since 1970);
    /// `None`: no shadow file, or no line for the user.
    expiry: Vec<(String, Option<u64>)>,
}

impl Accounts {
    fn read(root: &Path) -> Result<Accounts> {
        let users = lines(root, "/etc/passwd")?
            .iter()
            .filter_map(|fields| {
                Some(PasswdEntry {
                    name: fields.first()?.to_string(),
                    uid: fields.get(2)?.parse().ok()?,
                    gid: fields.get(3)?.parse().ok()?,
                    comment: fields.get(4)?.to_string(),
                    home: fields.get(5)?.to_string(),
                    shell: fields.get(6)?.to_string(),
                })
            })
            .collect();
        let groups = lines(root, "/etc/group")?
            .iter()
            .filter_map(|fields| {
                Some(GroupEntry {
                    name: fields.first()?.to_string(),
                    gid: fields.get(2)?.parse().ok()?,
                    members: fields
                        .get(3)?
                        .split(',')
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect(),
                })
            })
            .collect();
        // Readable by root only: without it, the lock is not told.
        let expiry = lines(root, "/etc/shadow")
            .unwrap_or_default()
            .iter()
            .filter_map(|fields| {
                Some((
                    fields.first()?.to_string(),
                    fields.get(7).and_then(|days| days.parse().ok()),
                ))
            })
            .collect();
        Ok(Accounts {
            users,
            groups,
            expiry,
        })
    }

    fn user(&self, name: &str) -> Option<&PasswdEntry> {
        self.users.iter().find(|u| u.name == name)
    }

    fn group(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|g| g.name == name)
    }

    fn group_name(&self, gid: u32) -> String {
        self.groups
            .iter()
            .find(|g| g.gid == gid)
            .map_or_else(|| gid.to_string(), |g| g.name.clone())
    }

    /// The supplementary groups `user` is a member of, sorted.
    fn memberships(&self, user: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == user))
            .map(|g| g.name.clone())
            .collect();
        out.sort();
        out
    }

    /// The users whose primary group `gid` is.
    fn primary_of(&self, gid: u32) -> Vec<&str> {
        self.users
            .iter()
            .filter(|u| u.gid == gid)
            .map(|u| u.name.as_str())
            .collect()
    }

    /// Whether the account has expired (how confpack locks it); `None`:
    /// not told (no shadow file readable).
    fn locked(&self, user: &str) -> Option<bool> {
        let (_, expiry) = self.expiry.iter().find(|(name, _)| name == user)?;
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 86_400);
        Some(expiry.is_some_and(|day| day <= today))
    }
}

/// The `:`-separated fields of each line of `<root>/<file>`.
fn lines(root: &Path, file: &str) -> Result<Vec<Vec<String>>> {
    let path = crate::files::rooted(root, Path::new(file));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    Ok(text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split(':').map(str::to_string).collect())
        .collect())
}

/// A refusal, about the root's account files.
fn refused(root: &Path, file: &str, message: String) -> Error {
    Error::Invalid(vec![Problem {
        file: crate::files::rooted(root, Path::new(file))
            .display()
            .to_string(),
        line: None,
        message,
    }])
}

/// Runs one of shadow's tools: `program [--system] [--root ROOT] options…
/// name` (`--root` only when the root is not `/`).
fn run(
    cx: &mut Context<'_>,
    program: &str,
    system: bool,
    options: &[String],
    name: &str,
) -> Result<()> {
    let root = cx.root.to_string_lossy().into_owned();
    let mut argv = vec![program];
    if system {
        argv.push("--system");
    }
    if cx.root != Path::new("/") {
        argv.extend(["--root", root.as_str()]);
    }
    argv.extend(options.iter().map(String::as_str));
    argv.push(name);
    let ran = cx.host.run(&argv)?;
    if ran.success() {
        return Ok(());
    }
    Err(Error::Command {
        command: argv.join(" "),
        message: ran.said().to_string(),
    })
}

fn options(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(option, value)| [option.to_string(), value.to_string()])
        .collect()
}

fn check_name(what: &str, name: &str) -> Option<String> {
    (!valid_account_name(name)).then(|| {
        format!(
            "{what}: {name:?} is not a user or group name (lower case letters, digits, `_`, `-`)"
        )
    })
}

impl Group {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Group,
            name: self.name.clone(),
        }
    }

    pub fn check(&self) -> Vec<String> {
        check_name("name", &self.name).into_iter().collect()
    }

    pub fn apply(
        &self,
        previous: Option<&GroupRecord>,
        cx: &mut Context<'_>,
    ) -> Result<GroupRecord> {
        let accounts = Accounts::read(cx.root)?;
        if let Some(group) = accounts.group(&self.name) {
            let created = match previous {
                Some(record) => record.created,
                None if group.gid < FIRST_REGULAR_ID => false,
                None => {
                    return Err(refused(
                        cx.root,
                        "/etc/group",
                        format!(
                            "group {} exists (gid {}) and is not a system group, so it is not \
                             confpack's to manage; choose another name",
                            self.name, group.gid
                        ),
                    ));
                }
            };
            return Ok(GroupRecord {
                name: self.name.clone(),
                gid: group.gid,
                created,
            });
        }
        run(cx, "groupadd", true, &[], &self.name)?;
        let gid = Accounts::read(cx.root)?
            .group(&self.name)
            .map(|g| g.gid)
            .ok_or_else(|| {
                refused(
                    cx.root,
                    "/etc/group",
                    format!("groupadd succeeded but group {} is not there", self.name),
                )
            })?;
        cx.listener.info(&format!(
            "{}: made system group {} (gid {gid})",
            cx.package, self.name
        ));
        Ok(GroupRecord {
            name: self.name.clone(),
            gid,
            created: true,
        })
    }
}

impl GroupRecord {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Group,
            name: self.name.clone(),
        }
    }

    pub fn undo(&self, why: Undo, cx: &mut Context<'_>) -> Result<Option<GroupRecord>> {
        if !self.created {
            return Ok(None);
        }
        if why == Undo::Remove {
            return Ok(Some(self.clone()));
        }
        let accounts = Accounts::read(cx.root)?;
        let Some(group) = accounts.group(&self.name) else {
            return Ok(None);
        };
        let users = accounts.primary_of(group.gid);
        if !users.is_empty() {
            cx.listener.warning(&format!(
                "{}: kept group {}: it is the primary group of {} (kept for its files); \
                 delete it yourself (groupdel {}) once no one needs it",
                cx.package,
                self.name,
                users.join(", "),
                self.name
            ));
            return Ok(None);
        }
        run(cx, "groupdel", false, &[], &self.name)?;
        cx.listener
            .info(&format!("{}: deleted group {}", cx.package, self.name));
        Ok(None)
    }

    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        match Accounts::read(cx.root) {
            Ok(accounts) => match accounts.group(&self.name) {
                None => vec!["missing".into()],
                Some(g) if g.gid != self.gid => {
                    vec![format!("gid {} instead of {}", g.gid, self.gid)]
                }
                Some(_) => Vec::new(),
            },
            Err(e) => vec![e.to_string()],
        }
    }
}

/// One way a user differs from its settings: the `usermod` option that
/// changes it, and how to say it.
struct Difference {
    option: &'static str,
    value: String,
    said: String,
}

/// How `now` differs from `wanted`.
fn differences(wanted: &Settings, now: &PasswdEntry, accounts: &Accounts) -> Vec<Difference> {
    let mut out = Vec::new();
    let group = accounts.group_name(now.gid);
    let groups = accounts.memberships(&now.name);
    let mut differ = |option, what, now: String, wanted: &str| {
        if now != wanted {
            let shown = |text: &str| {
                if text.is_empty() {
                    "none".to_string()
                } else {
                    text.to_string()
                }
            };
            out.push(Difference {
                option,
                value: wanted.to_string(),
                said: format!("{what} {} instead of {}", shown(&now), shown(wanted)),
            });
        }
    };
    differ("--gid", "primary group", group, &wanted.group);
    differ(
        "--groups",
        "groups",
        groups.join(","),
        &wanted.groups.join(","),
    );
    differ("--home", "home", now.home.clone(), &wanted.home);
    differ("--shell", "shell", now.shell.clone(), &wanted.shell);
    differ("--comment", "comment", now.comment.clone(), &wanted.comment);
    out
}

impl User {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::User,
            name: self.name.clone(),
        }
    }

    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(check_name("name", &self.name));
        if let Some(group) = &self.group {
            out.extend(check_name("group", group));
        }
        let mut seen = BTreeSet::new();
        for group in &self.groups {
            out.extend(check_name("groups", group));
            if !seen.insert(group) {
                out.push(format!("groups: {group} is listed twice"));
            }
        }
        for (what, path) in [("home", &self.home), ("shell", &self.shell)] {
            if let Some(path) = path
                && let Err(message) = check_absolute(path)
            {
                out.push(format!("{what}: {message}"));
            }
        }
        if let Some(comment) = &self.comment
            && comment.contains([':', '\n'])
        {
            out.push(format!(
                "comment: {comment:?} must not hold `:` or a line break"
            ));
        }
        out
    }

    /// What it makes of the node, in one line: its settings with their
    /// defaults.
    pub fn intended(&self) -> String {
        let settings = self.settings();
        let mut out = format!("system user, group {}", settings.group);
        if !settings.groups.is_empty() {
            out.push_str(&format!(", groups {}", settings.groups.join(",")));
        }
        out.push_str(&format!(", home {}", settings.home));
        if settings.create_home {
            out.push_str(" (created)");
        }
        out.push_str(&format!(", shell {}", settings.shell));
        if !settings.comment.is_empty() {
            out.push_str(&format!(", comment {:?}", settings.comment));
        }
        out
    }

    /// The settings with their defaults.
    pub fn settings(&self) -> Settings {
        let mut groups = self.groups.clone();
        groups.sort();
        Settings {
            group: self.group.clone().unwrap_or_else(|| self.name.clone()),
            groups,
            home: self.home.clone().unwrap_or_else(|| "/nonexistent".into()),
            create_home: self.create_home,
            shell: self
                .shell
                .clone()
                .unwrap_or_else(|| "/usr/sbin/nologin".into()),
            comment: self.comment.clone().unwrap_or_default(),
        }
    }

    pub fn apply(&self, previous: Option<&UserRecord>, cx: &mut Context<'_>) -> Result<UserRecord> {
        let wanted = self.settings();
        let accounts = Accounts::read(cx.root)?;
        let named = self.group.iter().chain(&self.groups);
        if let Some(missing) = named.into_iter().find(|g| accounts.group(g).is_none()) {
            return Err(refused(
                cx.root,
                "/etc/group",
                format!(
                    "group {missing} of user {} does not exist; declare it under `groups:` or create it first",
                    self.name
                ),
            ));
        }
        let (created, created_group) = match (accounts.user(&self.name), previous) {
            (None, previous) => {
                let created_group = self.create(&wanted, &accounts, cx)?;
                (
                    true,
                    created_group || previous.is_some_and(|p| p.created_group),
                )
            }
            (Some(now), None) => {
                self.adoptable(now, &wanted, &accounts, cx.root)?;
                (false, false)
            }
            (Some(now), Some(previous)) if !previous.created => {
                // Adopted: never changed, locked or unlocked by confpack.
                let differ: Vec<String> = differences(&wanted, now, &accounts)
                    .into_iter()
                    .map(|d| d.said)
                    .collect();
                if !differ.is_empty() {
                    return Err(refused(
                        cx.root,
                        "/etc/passwd",
                        format!(
                            "user {} was not made by confpack (it existed before), so confpack \
                             does not change it ({}); declare it as it is, or change it yourself",
                            self.name,
                            differ.join(", ")
                        ),
                    ));
                }
                (false, false)
            }
            (Some(now), Some(previous)) => {
                self.change(now, &wanted, &accounts, cx)?;
                if previous.locked || accounts.locked(&self.name) == Some(true) {
                    run(cx, "usermod", false, &UNLOCK.map(String::from), &self.name)?;
                    cx.listener
                        .info(&format!("{}: unlocked user {}", cx.package, self.name));
                }
                (previous.created, previous.created_group)
            }
        };
        let accounts = Accounts::read(cx.root)?;
        let now = accounts.user(&self.name).ok_or_else(|| {
            refused(
                cx.root,
                "/etc/passwd",
                format!("useradd succeeded but user {} is not there", self.name),
            )
        })?;
        Ok(UserRecord {
            name: self.name.clone(),
            uid: now.uid,
            gid: now.gid,
            created,
            created_group,
            applied: wanted,
            locked: false,
        })
    }

    /// Makes the user; whether its group was made with it.
    fn create(&self, wanted: &Settings, accounts: &Accounts, cx: &mut Context<'_>) -> Result<bool> {
        let user_group = self.group.is_none() && accounts.group(&self.name).is_none();
        let mut argv = if user_group {
            vec!["--user-group".to_string()]
        } else {
            options(&[("--gid", &wanted.group)])
        };
        if !wanted.groups.is_empty() {
            argv.extend(options(&[("--groups", &wanted.groups.join(","))]));
        }
        argv.extend(options(&[("--home-dir", &wanted.home)]));
        argv.push(
            if wanted.create_home {
                "--create-home"
            } else {
                "--no-create-home"
            }
            .into(),
        );
        argv.extend(options(&[("--shell", &wanted.shell)]));
        if !wanted.comment.is_empty() {
            argv.extend(options(&[("--comment", &wanted.comment)]));
        }
        run(cx, "useradd", true, &argv, &self.name)?;
        cx.listener.info(&format!(
            "{}: made system user {} (group {}, home {}, shell {})",
            cx.package, self.name, wanted.group, wanted.home, wanted.shell
        ));
        Ok(user_group)
    }

    /// An account that exists without confpack's record: only a system
    /// account that already matches is used (and never undone).
    fn adoptable(
        &self,
        now: &PasswdEntry,
        wanted: &Settings,
        accounts: &Accounts,
        root: &Path,
    ) -> Result<()> {
        let mut differ: Vec<String> = differences(wanted, now, accounts)
            .into_iter()
            .map(|d| d.said)
            .collect();
        if accounts.locked(&self.name) == Some(true) {
            differ.push("locked (expired)".into());
        }
        if now.uid >= FIRST_REGULAR_ID {
            return Err(refused(
                root,
                "/etc/passwd",
                format!(
                    "user {} exists (uid {}) and is not a system user, so it is not confpack's \
                     to manage; choose another name",
                    self.name, now.uid
                ),
            ));
        }
        if !differ.is_empty() {
            return Err(refused(
                root,
                "/etc/passwd",
                format!(
                    "user {} exists, was not made by confpack and differs from the declaration: \
                     {}; declare it as it is, change the account yourself (usermod) to \
                     match, or choose another name",
                    self.name,
                    differ.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Changes what differs in place, in one `usermod`.
    fn change(
        &self,
        now: &PasswdEntry,
        wanted: &Settings,
        accounts: &Accounts,
        cx: &mut Context<'_>,
    ) -> Result<()> {
        let differences = differences(wanted, now, accounts);
        if differences.is_empty() {
            return Ok(());
        }
        let argv: Vec<String> = differences
            .iter()
            .flat_map(|d| [d.option.to_string(), d.value.clone()])
            .collect();
        run(cx, "usermod", false, &argv, &self.name)?;
        cx.listener.info(&format!(
            "{}: changed user {}: {}",
            cx.package,
            self.name,
            differences
                .iter()
                .map(|d| format!("{} {}", d.option.trim_start_matches('-'), d.value))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(())
    }
}

/// Files under the root owned by `uid` (at most [`OWNED_FILES_COUNTED`]),
/// on its local filesystems, without the kernel's and runtime trees and
/// network mounts.
fn owned_files(root: &Path, uid: u32) -> Vec<PathBuf> {
    let mut skipped: Vec<PathBuf> = ["proc", "sys", "dev", "run"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    skipped.extend(remote_mounts(root));
    walkdir::WalkDir::new(root)
        // Every local filesystem counts: /srv or /var on a disk of its
        // own holds files as much as the root's does.
        .same_file_system(false)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| !skipped.iter().any(|s| s == entry.path()))
        // An unreadable directory is not the user's to tell.
        .filter_map(std::result::Result::ok)
        .filter(|entry| entry.metadata().is_ok_and(|m| m.uid() == uid))
        .take(OWNED_FILES_COUNTED)
        .map(|entry| Path::new("/").join(entry.path().strip_prefix(root).unwrap_or(entry.path())))
        .collect()
}

/// Mount points under `root` of network and pseudo filesystems (from
/// `/proc/self/mounts`): walking an NFS share or /proc for a uid is slow
/// and says nothing about this node's files.
fn remote_mounts(root: &Path) -> Vec<PathBuf> {
    const SKIPPED: &[&str] = &[
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "9p",
        "afs",
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "securityfs",
        "debugfs",
        "tracefs",
        "fusectl",
        "autofs",
        "binfmt_misc",
        "mqueue",
        "pstore",
        "bpf",
    ];
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            let remote = SKIPPED.contains(&kind) || kind.starts_with("fuse.");
            // Octal escapes in mount points (a space is \040).
            let point = point.replace("\\040", " ");
            (remote && Path::new(&point).starts_with(root)).then(|| PathBuf::from(point))
        })
        .collect()
}

/// Locked: no password, and expired since 1970-01-02, so neither a key
/// nor a service manager logs it in.
const LOCK: [&str; 3] = ["--lock", "--expiredate", "1"];
const UNLOCK: [&str; 3] = ["--unlock", "--expiredate", ""];

impl UserRecord {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::User,
            name: self.name.clone(),
        }
    }

    pub fn undo(&self, why: Undo, cx: &mut Context<'_>) -> Result<Option<UserRecord>> {
        if !self.created {
            cx.listener.info(&format!(
                "{}: left user {} as it is: it existed before the package",
                cx.package, self.name
            ));
            return Ok(None);
        }
        let accounts = Accounts::read(cx.root)?;
        let Some(now) = accounts.user(&self.name) else {
            return Ok(None);
        };
        let lock = LOCK.map(String::from);
        if why == Undo::Remove {
            run(cx, "usermod", false, &lock, &self.name)?;
            cx.listener.warning(&format!(
                "{}: locked user {} and kept it until the package is purged: files may still \
                 belong to it",
                cx.package, self.name
            ));
            return Ok(Some(UserRecord {
                locked: true,
                ..self.clone()
            }));
        }
        let owned = owned_files(cx.root, now.uid);
        if let Some(first) = owned.first() {
            if accounts.locked(&self.name) != Some(true) {
                run(cx, "usermod", false, &lock, &self.name)?;
            }
            let count = match owned.len() {
                OWNED_FILES_COUNTED => format!("at least {OWNED_FILES_COUNTED} files"),
                1 => "1 file".to_string(),
                n => format!("{n} files"),
            };
            cx.listener.warning(&format!(
                "{}: kept user {} (uid {}) locked: it still owns {count}, such as {}; \
                 confpack no longer manages it: once they are gone or given to another \
                 user, delete it yourself (userdel {})",
                cx.package,
                self.name,
                now.uid,
                first.display(),
                self.name
            ));
            return Ok(None);
        }
        // userdel takes the group of the user's name with it when
        // login.defs says USERGROUPS_ENAB: one confpack did not make with
        // the user is made again as it was.
        let same_name_group = accounts
            .group(&self.name)
            .filter(|g| g.gid == now.gid && !self.created_group)
            .map(|g| g.gid);
        run(cx, "userdel", false, &[], &self.name)?;
        cx.listener
            .info(&format!("{}: deleted user {}", cx.package, self.name));
        let accounts = Accounts::read(cx.root)?;
        let group = accounts.group(&self.name);
        if let Some(gid) = same_name_group
            && group.is_none()
        {
            let gid = gid.to_string();
            run(
                cx,
                "groupadd",
                true,
                &options(&[("--gid", &gid)]),
                &self.name,
            )?;
            cx.listener.info(&format!(
                "{}: made group {} again (gid {gid}): userdel took it along with the user",
                cx.package, self.name
            ));
        }
        if self.created_group
            && let Some(group) = group
            && accounts.primary_of(group.gid).is_empty()
        {
            run(cx, "groupdel", false, &[], &self.name)?;
            cx.listener
                .info(&format!("{}: deleted group {}", cx.package, self.name));
        }
        Ok(None)
    }

    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        let accounts = match Accounts::read(cx.root) {
            Ok(accounts) => accounts,
            Err(e) => return vec![e.to_string()],
        };
        let Some(now) = accounts.user(&self.name) else {
            return vec!["missing".into()];
        };
        let mut out = Vec::new();
        if now.uid != self.uid {
            out.push(format!("uid {} instead of {}", now.uid, self.uid));
        }
        match (accounts.locked(&self.name), self.locked) {
            (Some(true), false) => out.push("locked (expired)".into()),
            (Some(false), true) => {
                out.push("not locked (it was locked when the package was removed)".into())
            }
            _ => {}
        }
        out.extend(
            differences(&self.applied, now, &accounts)
                .into_iter()
                .map(|d| d.said),
        );
        out
    }
}

#[cfg(test)]
mod tests;
