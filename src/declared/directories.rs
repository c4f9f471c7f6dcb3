//! `directories:` — a directory with an owner, a group and a mode.
//!
//! ```yaml
//! directories:
//!   - path: /var/lib/webshop
//!     owner: webshop        # default root; a user the package declares is fine
//!     group: webshop        # default root
//!     mode: "0750"          # default 0755
//! ```
//!
//! Applied: made if missing (its parents as 0755 root), then owner, group
//! and mode set. Never through a symlink, and anything but a directory at
//! the path is refused. Undone: a directory confpack made is removed when
//! empty; one with files in it is kept with a warning (until purge, then
//! forgotten), as dpkg keeps a directory that still holds files. A
//! directory that existed before gets its former owner and mode back.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Context, Id, Kind, Undo};
use crate::error::{Error, Result};
use crate::files::DirectoryRemoval;

/// One declared directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Octal text, `"0750"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// Owner, group and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// What was applied for a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub path: PathBuf,
    pub applied: Ownership,
    /// What the directory had before confpack first set it; `None`: confpack
    /// made it.
    pub before: Option<Ownership>,
}

/// A mode as octal text: three or four digits, at most `7777`.
pub fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if !(3..=4).contains(&digits.len()) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

/// A user or group name as Debian's adduser accepts it by default.
pub fn valid_account_name(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=32).contains(&name.len())
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
}

/// An absolute, normal path: no `.`, `..` or empty components, not `/`.
pub fn check_absolute(path: &str) -> std::result::Result<(), String> {
    let normal = Path::new(path)
        .components()
        .skip(1)
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !path.starts_with('/')
        || path == "/"
        || !normal
        || path.ends_with('/')
        || path.contains("//")
    {
        return Err(format!(
            "{path:?} must be an absolute path without `.`, `..` or a trailing `/`"
        ));
    }
    Ok(())
}

/// The id of `name` in `<root>/etc/passwd` (`field` 2) or `/etc/group`.
fn lookup(root: &Path, file: &str, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(crate::files::rooted(root, Path::new(file))).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// The uid of a user of the root (`root` is 0 even without a passwd).
pub fn uid_of(root: &Path, name: &str) -> Option<u32> {
    match name {
        "root" => Some(0),
        _ => lookup(root, "/etc/passwd", name),
    }
}

/// The gid of a group of the root.
pub fn gid_of(root: &Path, name: &str) -> Option<u32> {
    match name {
        "root" => Some(0),
        _ => lookup(root, "/etc/group", name),
    }
}

impl Directory {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Directory,
            name: self.path.clone(),
        }
    }

    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(message) = check_absolute(&self.path) {
            out.push(format!("path: {message}"));
        }
        if let Some(mode) = &self.mode
            && parse_mode(mode).is_none()
        {
            out.push(format!(
                "mode: {mode:?} is not an octal mode such as \"0750\" (quote it)"
            ));
        }
        for (what, name) in [("owner", &self.owner), ("group", &self.group)] {
            if let Some(name) = name
                && !valid_account_name(name)
            {
                out.push(format!(
                    "{what}: {name:?} is not a user or group name (lower case letters, digits, `_`, `-`)"
                ));
            }
        }
        out
    }

    /// Owner, group and mode with their defaults.
    fn declared(&self) -> (&str, &str, u32) {
        (
            self.owner.as_deref().unwrap_or("root"),
            self.group.as_deref().unwrap_or("root"),
            self.mode.as_deref().and_then(parse_mode).unwrap_or(0o755),
        )
    }

    /// What it makes of the node, in one line: `0750 webshop:webshop`.
    pub fn intended(&self) -> String {
        let (owner, group, mode) = self.declared();
        format!("{mode:04o} {owner}:{group}")
    }

    fn wanted(&self, root: &Path) -> Result<Ownership> {
        let (owner, group, mode) = self.declared();
        let missing = |what: &str, name: &str, file: &str| {
            Error::Invalid(vec![crate::error::Problem {
                file: self.path.clone(),
                line: None,
                message: format!(
                    "{what} {name} does not exist (not in {}); declare it under `users:`/`groups:` or create it first",
                    crate::files::rooted(root, Path::new(file)).display()
                ),
            }])
        };
        Ok(Ownership {
            uid: uid_of(root, owner).ok_or_else(|| missing("user", owner, "/etc/passwd"))?,
            gid: gid_of(root, group).ok_or_else(|| missing("group", group, "/etc/group"))?,
            mode,
        })
    }

    pub fn apply(&self, previous: Option<&Record>, cx: &mut Context<'_>) -> Result<Record> {
        let wanted = self.wanted(cx.root)?;
        let path = PathBuf::from(&self.path);
        let rooted = resolve(cx.root, &path, true)?;
        let made = rooted.make_directory(0o700)?;
        let fd = opened(&rooted)?;
        let now = ownership(&fd, rooted.shown())?;
        let before = match previous {
            Some(record) => record.before,
            None if made => None,
            None => Some(now),
        };
        if now != wanted {
            set(&fd, wanted, rooted.shown())?;
            cx.listener.info(&format!(
                "{}: {} {} (owner {}, group {}, mode {:04o})",
                cx.package,
                if made { "made" } else { "set" },
                self.path,
                self.owner.as_deref().unwrap_or("root"),
                self.group.as_deref().unwrap_or("root"),
                wanted.mode
            ));
        }
        Ok(Record {
            path,
            applied: wanted,
            before,
        })
    }
}

fn resolve(root: &Path, path: &Path, create: bool) -> Result<crate::files::RootedPath> {
    crate::files::resolve(root, path, create)?.ok_or_else(|| {
        Error::io(
            crate::files::rooted(root, path),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })
}

fn opened(rooted: &crate::files::RootedPath) -> Result<OwnedFd> {
    rooted.open_directory()?.ok_or_else(|| Error::UnsafePath {
        path: rooted.shown().to_path_buf(),
        reason: "is not a directory (or was replaced by a symlink)".into(),
    })
}

fn ownership(fd: &OwnedFd, shown: &Path) -> Result<Ownership> {
    let stat = rustix::fs::fstat(fd).map_err(|e| Error::io(shown, e.into()))?;
    Ok(Ownership {
        uid: stat.st_uid,
        gid: stat.st_gid,
        mode: stat.st_mode & 0o7777,
    })
}

fn set(fd: &OwnedFd, wanted: Ownership, shown: &Path) -> Result<()> {
    let io = |e: rustix::io::Errno| Error::io(shown, e.into());
    rustix::fs::fchown(
        fd,
        Some(rustix::process::Uid::from_raw(wanted.uid)),
        Some(rustix::process::Gid::from_raw(wanted.gid)),
    )
    .map_err(io)?;
    // After the owner: chown clears set-id bits.
    rustix::fs::fchmod(fd, rustix::fs::Mode::from_raw_mode(wanted.mode)).map_err(io)
}

impl Record {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Directory,
            name: self.path.display().to_string(),
        }
    }

    pub fn undo(&self, why: Undo, cx: &mut Context<'_>) -> Result<Option<Record>> {
        let Some(rooted) = crate::files::resolve(cx.root, &self.path, false)? else {
            return Ok(None);
        };
        if let Some(before) = self.before {
            if let Some(fd) = rooted.open_directory()? {
                set(&fd, before, rooted.shown())?;
                cx.listener.info(&format!(
                    "{}: gave {} its former owner and mode back",
                    cx.package,
                    self.path.display()
                ));
            }
            return Ok(None);
        }
        match rooted.remove_empty_directory()? {
            DirectoryRemoval::Removed => {
                cx.listener
                    .info(&format!("{}: removed {}", cx.package, self.path.display()));
                Ok(None)
            }
            DirectoryRemoval::Absent | DirectoryRemoval::NotADirectory => Ok(None),
            DirectoryRemoval::NotEmpty => {
                let until = match why {
                    Undo::Remove => " until the package is purged",
                    Undo::Purge | Undo::Dropped => "",
                };
                cx.listener.warning(&format!(
                    "{}: kept {}: it is not empty (files in it are not the package's); \
                     delete it yourself when they are no longer needed{until}",
                    cx.package,
                    rooted.shown().display()
                ));
                Ok((why == Undo::Remove).then(|| self.clone()))
            }
        }
    }

    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        let rooted = match crate::files::resolve(cx.root, &self.path, false) {
            Ok(Some(rooted)) => rooted,
            Ok(None) => return vec!["missing".into()],
            Err(e) => return vec![e.to_string()],
        };
        let fd = match rooted.open_directory() {
            Ok(Some(fd)) => fd,
            Ok(None) if matches!(rooted.stat(), Ok(None)) => return vec!["missing".into()],
            Ok(None) => return vec!["not a directory".into()],
            Err(e) => return vec![e.to_string()],
        };
        let now = match ownership(&fd, rooted.shown()) {
            Ok(now) => now,
            Err(e) => return vec![e.to_string()],
        };
        let mut out = Vec::new();
        if now.uid != self.applied.uid || now.gid != self.applied.gid {
            out.push(format!(
                "owner {}:{} instead of {}:{}",
                now.uid, now.gid, self.applied.uid, self.applied.gid
            ));
        }
        if now.mode != self.applied.mode {
            out.push(format!(
                "mode {:04o} instead of {:04o}",
                now.mode, self.applied.mode
            ));
        }
        out
    }
}
