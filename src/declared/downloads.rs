//! `downloads:` — a file fetched from a URL at configure time, trusted by
//! its sha256.
//!
//! ```yaml
//! downloads:
//!   - url: https://downloads.example.com/agent-1.2.tar.gz
//!     sha256: 3b1f…                # 64 lower-case hex digits, required
//!     path: /opt/agent/agent-1.2.tar.gz
//!     mode: "0644"                 # default 0644
//!     max-size: 200000000          # bytes; default 1 GiB
//!     timeout: 600                 # seconds for the whole fetch; default 300
//! ```
//!
//! Trust: the sha256 in control.yml (which the package's signature
//! covers) is what makes the bytes trusted, not the transport, so
//! `http://` is allowed as well as `https://`: nothing is installed, or
//! even kept as complete in the cache, before its sha256 matched. Other
//! schemes are refused by the builder. The request is the environment
//! document's ([`crate::http::get`]): one timeout for the whole fetch
//! (redirects and body included), at most five redirects, never from
//! `https://` down to `http://`, proxies from the environment.
//!
//! Cache, under the root: `/var/cache/confpack/downloads/<sha256>` is a
//! complete, verified file; `<sha256>.part` a partial one. A fetch that
//! was cut (timeout, reset) keeps its part; the next run asks for the rest
//! with `Range: bytes=N-` and appends a `206`, or starts again on a `200`.
//! `max-size` is checked against `Content-Length` and counted while
//! reading. A complete part whose sha256 differs is deleted and the run
//! fails with "checksum mismatch"; the file at the path is not touched.
//! A verified cache entry is used without any request, and a file already
//! in place with the right sha256 costs one hash and nothing else.
//!
//! Installed: copied from the cache entry (hashed again while copying)
//! into a temp file beside the path and renamed over it, with the mode;
//! never through a symlink, and anything but a regular file at the path
//! is refused. A file that was at the path before confpack first installed
//! there is refused too (it belongs to someone else; move it away), unless
//! it already has the declared content: then it is taken as installed (and
//! removed on undo like one confpack wrote). A file confpack installed that a
//! person changed since is saved as `<path>.confpack-old` before the
//! declared one is put back, with a warning.
//!
//! The id is the path: a new url or sha256 for the same path in a new
//! version replaces the file in place (and drops the old cache entry); a
//! new path removes the old file like any dropped declaration.
//!
//! Undone (removal, purge, dropped): the file is deleted only while its
//! sha256 is still the recorded one (a person's changed file is kept, with
//! a warning), and the cache entry and any part are deleted.
//!
//! Drift: the file is missing, is not a regular file, or its sha256 or
//! mode differs from what was installed.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::directories::{check_absolute, parse_mode};
use super::{Context, Id, Kind, Undo};
use crate::error::{Error, Result};
use crate::files::{Removal, RootedPath, file_sha256};
use crate::http::{CopyError, Failed, Redirects};

/// Mode of an installed file unless `mode:` says otherwise.
pub const DEFAULT_MODE: u32 = 0o644;
/// Largest download unless `max-size:` says otherwise: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024 * 1024;
/// Seconds for the whole fetch unless `timeout:` says otherwise.
pub const DEFAULT_TIMEOUT: u64 = 300;
/// Where downloads are cached, under the root.
pub const CACHE_DIR: &str = "/var/cache/confpack/downloads";

/// One declared download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Download {
    pub url: String,
    /// Lower-case hex.
    pub sha256: String,
    pub path: String,
    /// Octal text, `"0644"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Seconds for the whole fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// What was installed for a download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub url: String,
    pub sha256: String,
    pub path: PathBuf,
    pub mode: u32,
}

/// Whether `text` is a sha256 as control.yml spells it.
fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Download {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Download,
            name: self.path.clone(),
        }
    }

    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        let host = self
            .url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default());
        if !(self.url.starts_with("https://") || self.url.starts_with("http://"))
            || host.is_none_or(str::is_empty)
        {
            out.push(format!(
                "url: {:?} is not an http:// or https:// URL with a host",
                self.url
            ));
        }
        if !is_sha256(&self.sha256) {
            out.push(format!(
                "sha256: {:?} is not a sha256 (64 lower-case hex digits)",
                self.sha256
            ));
        }
        if let Err(message) = check_absolute(&self.path) {
            out.push(format!("path: {message}"));
        }
        if let Some(mode) = &self.mode
            && parse_mode(mode).is_none()
        {
            out.push(format!(
                "mode: {mode:?} is not an octal mode such as \"0644\" (quote it)"
            ));
        }
        if self.max_size == Some(0) {
            out.push("max-size: must be more than 0 bytes".into());
        }
        if self.timeout == Some(0) {
            out.push("timeout: must be more than 0 seconds".into());
        }
        out
    }

    /// What it makes of the node, in one line.
    pub fn intended(&self) -> String {
        format!(
            "{:04o}, sha256 {} from {}",
            self.mode(),
            self.sha256,
            self.url
        )
    }

    fn mode(&self) -> u32 {
        self.mode
            .as_deref()
            .and_then(parse_mode)
            .unwrap_or(DEFAULT_MODE)
    }

    pub fn apply(&self, previous: Option<&Record>, cx: &mut Context<'_>) -> Result<Record> {
        let record = Record {
            url: self.url.clone(),
            sha256: self.sha256.clone(),
            path: PathBuf::from(&self.path),
            mode: self.mode(),
        };
        let rooted = resolve(cx.root, &record.path, true)?;
        let now = installed(&rooted)?;
        if let Some((sha256, mode)) = &now
            && *sha256 == self.sha256
        {
            if *mode != record.mode {
                set_mode(&rooted, record.mode)?;
            }
            forget_replaced(previous, &record, cx.root);
            return Ok(record);
        }
        // Someone else's file: confpack never installed here.
        if let (Some(_), None) = (&now, previous) {
            return Err(Error::UnsafePath {
                path: rooted.shown().to_path_buf(),
                reason: format!(
                    "a file that confpack did not install is there; it is not replaced by the \
                     download of {} (move it away and run again)",
                    self.url
                ),
            });
        }
        let cache = Cache::new(cx.root, &self.sha256);
        let verified = cache.verified(self)?;
        if let (Some((sha256, _)), Some(previous)) = (&now, previous)
            && *sha256 != previous.sha256
            && let Some(saved) = rooted.save_old()?
        {
            cx.listener.warning(&format!(
                "{}: {} was changed since confpack installed it; saved as {} and put back",
                cx.package,
                rooted.shown().display(),
                saved.shown.display()
            ));
        }
        install(&rooted, &verified, &self.sha256, record.mode)?;
        forget_replaced(previous, &record, cx.root);
        cx.listener.info(&format!(
            "{}: {} {} from {}",
            cx.package,
            if now.is_some() {
                "replaced"
            } else {
                "installed"
            },
            self.path,
            self.url
        ));
        Ok(record)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.unwrap_or(DEFAULT_TIMEOUT))
    }

    fn max_size(&self) -> u64 {
        self.max_size.unwrap_or(DEFAULT_MAX_SIZE)
    }
}

/// After an in-place update to another sha256, the old one's cache entry
/// is no longer needed (best effort).
fn forget_replaced(previous: Option<&Record>, record: &Record, root: &Path) {
    if let Some(previous) = previous
        && previous.sha256 != record.sha256
    {
        Cache::new(root, &previous.sha256).remove();
    }
}

fn resolve(root: &Path, path: &Path, create: bool) -> Result<RootedPath> {
    crate::files::resolve(root, path, create)?.ok_or_else(|| {
        Error::io(
            crate::files::rooted(root, path),
            io::Error::from(io::ErrorKind::NotFound),
        )
    })
}

/// The sha256 and mode of the regular file at the path, `None` when
/// nothing is there; anything but a regular file is refused.
fn installed(rooted: &RootedPath) -> Result<Option<(String, u32)>> {
    let Some(mode) = rooted.regular_mode()? else {
        return match rooted.stat()? {
            None => Ok(None),
            Some(_) => Err(Error::UnsafePath {
                path: rooted.shown().to_path_buf(),
                reason: "is not a regular file (a symlink, directory or device); confpack \
                         neither writes through nor replaces it (remove it and run again)"
                    .into(),
            }),
        };
    };
    Ok(rooted.sha256()?.map(|sha256| (sha256, mode)))
}

fn set_mode(rooted: &RootedPath, mode: u32) -> Result<()> {
    let Some(file) = rooted.open_regular()? else {
        return Ok(());
    };
    rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(mode))
        .map_err(|e| Error::io(rooted.shown(), e.into()))
}

/// Copies the verified cache entry to the path atomically, hashing it
/// again on the way: bytes changed in the cache since are not installed.
fn install(rooted: &RootedPath, from: &Path, sha256: &str, mode: u32) -> Result<()> {
    let source = File::open(from).map_err(|e| Error::io(from, e))?;
    rooted.write_from(
        |file| match crate::http::copy_bounded(source, file, u64::MAX) {
            Ok(copied) if copied == sha256 => Ok(()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} changed in the cache; not installed", from.display()),
            )),
            Err(CopyError::Read(e) | CopyError::Write(e)) => Err(e),
            Err(CopyError::TooLarge) => Err(io::Error::from(io::ErrorKind::FileTooLarge)),
        },
        mode,
        None,
    )
}

/// A download's cache entry and its partial file.
struct Cache {
    dir: PathBuf,
    complete: PathBuf,
    part: PathBuf,
}

/// What a request for the rest of a part brought.
enum Fetched {
    Done,
    /// The part could not be continued and was dropped: start again.
    Restart,
}

impl Cache {
    fn new(root: &Path, sha256: &str) -> Cache {
        let dir = crate::files::rooted(root, Path::new(CACHE_DIR));
        Cache {
            complete: dir.join(sha256),
            part: dir.join(format!("{sha256}.part")),
            dir,
        }
    }

    fn remove(&self) {
        for file in [&self.complete, &self.part] {
            let _ = fs::remove_file(file);
        }
    }

    /// The verified cache entry, fetched (or its part completed) when
    /// there is none.
    fn verified(&self, download: &Download) -> Result<PathBuf> {
        if self.complete.is_file() {
            if file_sha256(&self.complete)? == download.sha256 {
                return Ok(self.complete.clone());
            }
            // Changed on disk since it was verified: fetched again.
            let _ = fs::remove_file(&self.complete);
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        // A part left complete by a run killed before the rename.
        if self.part.is_file() && file_sha256(&self.part)? == download.sha256 {
            return self.promote();
        }
        if let Fetched::Restart = self.fetch(download)? {
            self.fetch(download)?;
        }
        let got = file_sha256(&self.part)?;
        if got != download.sha256 {
            let _ = fs::remove_file(&self.part);
            return Err(Error::Fetch {
                url: download.url.clone(),
                reason: format!(
                    "checksum mismatch: expected sha256 {}, got {got}; the previous file at {} is kept",
                    download.sha256, download.path
                ),
            });
        }
        self.promote()
    }

    fn promote(&self) -> Result<PathBuf> {
        fs::rename(&self.part, &self.complete).map_err(|e| Error::io(&self.complete, e))?;
        Ok(self.complete.clone())
    }

    /// Fetches the download into the part, continuing it when one is
    /// there.
    fn fetch(&self, download: &Download) -> Result<Fetched> {
        let fail = |reason: String| Error::Fetch {
            url: download.url.clone(),
            reason,
        };
        let max = download.max_size();
        let too_large = || fail(format!("larger than the limit (max-size) of {max} bytes"));
        let mut have = fs::metadata(&self.part).map(|m| m.len()).unwrap_or(0);
        if have > max {
            let _ = fs::remove_file(&self.part);
            have = 0;
        }
        let range = format!("bytes={have}-");
        let headers: Vec<(&str, &str)> = if have > 0 {
            vec![("Range", &range)]
        } else {
            Vec::new()
        };
        let timeout = download.timeout();
        let mut response = crate::http::get(&download.url, &headers, timeout, Redirects::AnyOrigin)
            .map_err(|e| match e {
                Failed::Transport(e) => fail(crate::http::describe(e, timeout)),
                Failed::Refused(reason) => fail(reason),
            })?;
        let status = response.status().as_u16();
        let start = match status {
            200 => 0,
            206 if have > 0 && continues_at(&response, have) => have,
            206 | 416 if have > 0 => {
                let _ = fs::remove_file(&self.part);
                return Ok(Fetched::Restart);
            }
            _ => {
                let reason = response.status().canonical_reason().unwrap_or("");
                return Err(fail(
                    format!("HTTP {status} {reason}").trim_end().to_string(),
                ));
            }
        };
        if let Some(length) = response.body().content_length()
            && start.saturating_add(length) > max
        {
            return Err(too_large());
        }
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(start > 0)
            .truncate(start == 0)
            .open(&self.part)
            .map_err(|e| Error::io(&self.part, e))?;
        let reader = response.body_mut().as_reader();
        match crate::http::copy_bounded(reader, &mut file, max - start) {
            Ok(_) => Ok(Fetched::Done),
            Err(CopyError::TooLarge) => {
                let _ = fs::remove_file(&self.part);
                Err(too_large())
            }
            // What arrived stays in the part, for the next run to continue.
            Err(CopyError::Read(e)) => {
                Err(fail(crate::http::describe(ureq::Error::from(e), timeout)))
            }
            Err(CopyError::Write(e)) => Err(Error::io(&self.part, e)),
        }
    }
}

/// Whether a 206's `Content-Range` starts at `offset`.
fn continues_at(response: &ureq::http::Response<ureq::Body>, offset: u64) -> bool {
    response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split_once('-'))
        .is_some_and(|(first, _)| first.trim().parse::<u64>().ok() == Some(offset))
}

impl Record {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Download,
            name: self.path.display().to_string(),
        }
    }

    pub fn undo(&self, _why: Undo, cx: &mut Context<'_>) -> Result<Option<Record>> {
        Cache::new(cx.root, &self.sha256).remove();
        let Some(rooted) = crate::files::resolve(cx.root, &self.path, false)? else {
            return Ok(None);
        };
        match rooted.remove_if_written(&self.sha256)? {
            Removal::Removed => {
                cx.listener
                    .info(&format!("{}: removed {}", cx.package, self.path.display()));
            }
            Removal::Absent => {}
            Removal::Changed | Removal::NotAFile => {
                cx.listener.warning(&format!(
                    "{}: kept {}: it was changed since confpack downloaded it; \
                     delete it yourself when it is no longer needed",
                    cx.package,
                    rooted.shown().display()
                ));
            }
        }
        Ok(None)
    }

    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        let rooted = match crate::files::resolve(cx.root, &self.path, false) {
            Ok(Some(rooted)) => rooted,
            Ok(None) => return vec!["missing".into()],
            Err(e) => return vec![e.to_string()],
        };
        match installed(&rooted) {
            Ok(None) => vec!["missing".into()],
            Ok(Some((sha256, mode))) => {
                let mut out = Vec::new();
                if sha256 != self.sha256 {
                    out.push(format!(
                        "sha256 {sha256} instead of {} (changed since it was downloaded)",
                        self.sha256
                    ));
                }
                if mode != self.mode {
                    out.push(format!("mode {mode:04o} instead of {:04o}", self.mode));
                }
                out
            }
            Err(Error::UnsafePath { .. }) => vec!["not a regular file".into()],
            Err(e) => vec![e.to_string()],
        }
    }
}

#[cfg(test)]
mod tests;
