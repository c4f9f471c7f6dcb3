//! File primitives every stage shares: atomic writes, content hashes, and
//! paths resolved under a root without following links out of it.
//!
//! One place, so that "a reader sees the old or the new file, never half of
//! one" and "the sha256 of these bytes" mean the same thing for rendered
//! files, caches, stamps, the database generation and packages.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A hasher fed with length-prefixed fields, so fields cannot run into
/// each other.
#[derive(Default)]
pub struct Fingerprint(Sha256);

impl Fingerprint {
    pub fn new(kind: &str) -> Fingerprint {
        let mut fingerprint = Fingerprint(Sha256::new());
        fingerprint.add(kind.as_bytes());
        fingerprint
    }

    pub fn add(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub fn add_str(&mut self, text: &str) -> &mut Self {
        self.add(text.as_bytes())
    }

    pub fn add_path(&mut self, path: &Path) -> &mut Self {
        self.add(path.as_os_str().as_encoded_bytes())
    }

    /// Adds `value`'s `Debug` text, streamed: a large value (an
    /// environment of 1,000 machines) is never one string in memory.
    pub fn add_debug(&mut self, value: &impl std::fmt::Debug) -> &mut Self {
        /// Hashes the text as it is written, in chunks (`Debug` writes
        /// a few bytes at a time), and counts it.
        struct Streamed<'a> {
            hasher: &'a mut Sha256,
            chunk: Vec<u8>,
            length: u64,
        }
        impl std::fmt::Write for Streamed<'_> {
            fn write_str(&mut self, text: &str) -> std::fmt::Result {
                if self.chunk.len() + text.len() > self.chunk.capacity() {
                    self.hasher.update(&self.chunk);
                    self.chunk.clear();
                }
                self.chunk.extend_from_slice(text.as_bytes());
                self.length += text.len() as u64;
                Ok(())
            }
        }
        let mut streamed = Streamed {
            hasher: &mut self.0,
            chunk: Vec::with_capacity(64 * 1024),
            length: 0,
        };
        // Writing into a hasher cannot fail.
        let _ = std::fmt::write(&mut streamed, format_args!("{value:?}"));
        let Streamed {
            hasher,
            chunk,
            length,
        } = streamed;
        hasher.update(&chunk);
        // The length after the text: what follows cannot be taken for it.
        hasher.update(length.to_le_bytes());
        self
    }

    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

/// The sha256 of a file's content, in hex, read in chunks.
pub fn file_sha256(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    hash_reader(file).map_err(|e| Error::io(path, e))
}

/// The sha256 of everything `reader` yields, in hex, read in chunks.
pub fn hash_reader(mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Writes `content` to `path` through a temporary file in the same
/// directory and a rename, so a reader sees the old or the new file, never
/// a half-written one. Keeps the owner of an existing regular file (a
/// symlink is replaced, and its target's owner never taken). Rendered
/// files go through [`RootedPath::write`] instead.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let owner = std::fs::symlink_metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| (m.uid(), m.gid()));
    let mut temp = tempfile::Builder::new()
        .prefix(".confpack-")
        .tempfile_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    // Restrict first, so a secret is never readable through the temp file.
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
        .map_err(|e| Error::io(temp.path(), e))?;
    temp.write_all(content).map_err(|e| Error::io(path, e))?;
    temp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    if let Some((uid, gid)) = owner {
        // Only root may give a file away; elsewhere the owner is ours anyway.
        let _ = std::os::unix::fs::fchown(temp.as_file(), Some(uid), Some(gid));
    }
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(temp.path(), e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A system path resolved under a root: its directory, opened without
/// following a link out of the root, and its name there.
///
/// Why: `root.join(path)` lets the kernel follow every symlink on the way,
/// so a link at `<root>/etc` or at the target itself would make confpack
/// write, read or delete outside the root, or take the mode and owner of
/// the file a link points to. Here each directory is opened relative to
/// the one before with `O_NOFOLLOW`; a symlinked directory is followed the
/// way a chroot would see it (an absolute target starts again at the root,
/// `..` never climbs above it), so nothing outside the root is reached —
/// the convention of `systemd-tmpfiles --root`. The last component is
/// never followed: a symlink there (or a device, a FIFO) is refused.
#[derive(Debug)]
pub struct RootedPath {
    dir: OwnedFd,
    name: OsString,
    /// `<root>/<path>`, for messages.
    shown: PathBuf,
}

/// How many symlinks one resolution follows, as the kernel's `ELOOP` limit.
const MAX_LINKS: usize = 40;

/// What a person's edited version of a rendered file is saved as, beside
/// it, when confpack replaces or removes the file.
pub const OLD_SUFFIX: &str = ".confpack-old";

/// The prefix of every temp file confpack writes beside its target.
pub const TEMP_PREFIX: &str = ".confpack-";
const TEMP_RANDOM_LEN: usize = 6;

/// Joins an absolute system path under `root`.
pub fn rooted(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// One entry found by [`walk`].
#[derive(Debug, Clone)]
pub struct Walked {
    pub path: PathBuf,
    /// Relative to the walked directory.
    pub relative: PathBuf,
    /// Never followed: a symlink (to a file or a directory) is a symlink.
    pub file_type: std::fs::FileType,
}

/// Everything under `dir` that is not a directory (files, symlinks,
/// FIFOs…), sorted by path, without following any link; empty when `dir`
/// does not exist. The one directory walker of the crate (walkdir).
pub fn walk(dir: &Path) -> crate::error::Result<Vec<Walked>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().min_depth(1) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            let error = e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("a directory loop"));
            crate::error::Error::io(path, error)
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        out.push(Walked {
            relative: entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .to_path_buf(),
            path: entry.path().to_path_buf(),
            file_type: entry.file_type(),
        });
    }
    Ok(out)
}

/// A person's version saved by [`RootedPath::save_old`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedOld {
    /// Where it is, under the root, for messages.
    pub shown: PathBuf,
    /// sha256 of what was saved: purge deletes only that.
    pub sha256: String,
}

/// The system path of the `<path>.confpack-old` beside `path`.
pub fn old_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(OLD_SUFFIX);
    PathBuf::from(name)
}

/// What [`RootedPath::remove_if_written`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    Absent,
    /// The content is not what confpack wrote; kept.
    Changed,
    /// A symlink, directory or device is there; kept.
    NotAFile,
}

/// What [`RootedPath::remove_empty_directory`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryRemoval {
    Removed,
    Absent,
    NotEmpty,
    NotADirectory,
}

fn io_error(path: &Path, errno: rustix::io::Errno) -> Error {
    Error::io(path, std::io::Error::from(errno))
}

fn directory_flags() -> OFlags {
    OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC
}

fn is_regular(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

#[allow(clippy::unnecessary_cast)] // st_mtime's type differs between targets
fn modified(stat: &Stat) -> SystemTime {
    let seconds = u64::try_from(stat.st_mtime as i64).unwrap_or(0);
    let nanos = u32::try_from(stat.st_mtime_nsec as i64).unwrap_or(0);
    SystemTime::UNIX_EPOCH + std::time::Duration::new(seconds, nanos)
}

/// Resolves `path` (a system path such as `/etc/webshop/app.conf`) under
/// `root` as [`RootedPath`] describes. Missing directories are created
/// (0755) when `create`, else the answer is `None`.
pub fn resolve(root: &Path, path: &Path, create: bool) -> Result<Option<RootedPath>> {
    let shown = rooted(root, path);
    let name = match path.components().next_back() {
        Some(Component::Normal(name)) => name.to_os_string(),
        _ => {
            return Err(Error::UnsafePath {
                path: shown,
                reason: "not a file name".into(),
            });
        }
    };
    let root_dir = rustix::fs::openat(
        rustix::fs::CWD,
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_error(root, e))?;
    // Components still to walk, the next one last.
    let mut pending: Vec<OsString> = Vec::new();
    if let Some(parent) = path.parent() {
        push_components(&mut pending, parent);
    }
    let mut opened: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(component) = pending.pop() {
        if component == ".." {
            opened.pop();
            continue;
        }
        let current = opened.last().unwrap_or(&root_dir);
        let next = match rustix::fs::openat(current, &component, directory_flags(), Mode::empty()) {
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(current, &component, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io_error(&shown, e)),
                }
                rustix::fs::openat(current, &component, directory_flags(), Mode::empty())
            }
            other => other,
        };
        match next {
            Ok(dir) => opened.push(dir),
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => {
                // A symlink on the way is followed only when root (or
                // whoever runs confpack) owns it: one a service account
                // planted in its own directory could send a chown or a
                // write anywhere.
                if let Ok(link) = rustix::fs::statat(current, &component, AtFlags::SYMLINK_NOFOLLOW)
                    && FileType::from_raw_mode(link.st_mode) == FileType::Symlink
                    && link.st_uid != 0
                    && link.st_uid != rustix::process::geteuid().as_raw()
                {
                    return Err(Error::UnsafePath {
                        path: shown,
                        reason: format!(
                            "{} on the way is a symlink owned by uid {}, not root; confpack does \
                             not follow it (it could point anywhere)",
                            component.to_string_lossy(),
                            link.st_uid
                        ),
                    });
                }
                let target =
                    rustix::fs::readlinkat(current, &component, Vec::new()).map_err(|_| {
                        Error::UnsafePath {
                            path: shown.clone(),
                            reason: format!(
                                "{} on the way is not a directory",
                                component.to_string_lossy()
                            ),
                        }
                    })?;
                links += 1;
                if links > MAX_LINKS {
                    return Err(io_error(&shown, Errno::LOOP));
                }
                let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
                if target.is_absolute() {
                    opened.clear();
                }
                push_components(&mut pending, &target);
            }
            Err(e) => return Err(io_error(&shown, e)),
        }
    }
    let dir = match opened.pop() {
        Some(dir) => dir,
        None => root_dir,
    };
    Ok(Some(RootedPath { dir, name, shown }))
}

/// Adds `path`'s components to `pending` so they pop in order.
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => pending.push(name.to_os_string()),
            Component::ParentDir => pending.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// The mode of the regular file at `path` under `root`; `None` when there
/// is none (absent, or a symlink: its target's mode is never taken).
pub fn existing_mode(root: &Path, path: &Path) -> Option<u32> {
    let rooted = resolve(root, path, false).ok()??;
    let stat = rooted.stat().ok()??;
    is_regular(&stat).then_some(stat.st_mode & 0o7777)
}

impl RootedPath {
    /// `<root>/<path>`.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// What is at the path itself (a symlink is not followed).
    pub fn stat(&self) -> Result<Option<Stat>> {
        match rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(stat)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_error(&self.shown, e)),
        }
    }

    /// The mode of the regular file there; `None` when there is none.
    pub fn regular_mode(&self) -> Result<Option<u32>> {
        Ok(self
            .stat()?
            .filter(is_regular)
            .map(|stat| stat.st_mode & 0o7777))
    }

    /// Opens the regular file there; `None` when absent or not a regular
    /// file. Non-blocking, so a FIFO put there cannot hang the run.
    fn open_file(&self) -> Result<Option<File>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.dir, &self.name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::LOOP) => return Ok(None),
            Err(e) => return Err(io_error(&self.shown, e)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| io_error(&self.shown, e))?;
        Ok(is_regular(&stat).then(|| File::from(fd)))
    }

    /// Opens the regular file there for reading (never through a
    /// symlink); `None` when absent or not a regular file.
    pub fn open_regular(&self) -> Result<Option<File>> {
        self.open_file()
    }

    /// The sha256 of the regular file there, if any, read in chunks.
    pub fn sha256(&self) -> Result<Option<String>> {
        match self.open_file()? {
            Some(file) => hash_reader(file)
                .map(Some)
                .map_err(|e| Error::io(&self.shown, e)),
            None => Ok(None),
        }
    }

    /// The content of the regular file there, if any.
    pub fn read(&self) -> Result<Option<Vec<u8>>> {
        let Some(mut file) = self.open_file()? else {
            return Ok(None);
        };
        let mut content = Vec::new();
        file.read_to_end(&mut content)
            .map_err(|e| Error::io(&self.shown, e))?;
        Ok(Some(content))
    }

    /// Writes `content` with `mode` through a temp file in the same
    /// directory and a rename, keeping an existing file's owner. Anything
    /// but a regular file at the path is refused, not replaced.
    pub fn write(&self, content: &[u8], mode: u32) -> Result<()> {
        self.write_owned(content, mode, None)
    }

    /// [`RootedPath::write`], the new file owned by `owner` (uid, gid)
    /// instead of an existing file's owner (a person's edited file saved
    /// beside it keeps that file's owner).
    pub fn write_owned(&self, content: &[u8], mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
        self.write_from(|file| file.write_all(content), mode, owner)
    }

    /// [`RootedPath::write_owned`] with the content written by `fill`
    /// into the temp file (a large file streamed, not held in memory); an
    /// error from `fill` leaves the target untouched.
    pub fn write_from(
        &self,
        fill: impl FnOnce(&mut File) -> std::io::Result<()>,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        let existing = self.stat()?;
        if let Some(stat) = &existing
            && !is_regular(stat)
        {
            return Err(Error::UnsafePath {
                path: self.shown.clone(),
                reason: format!(
                    "is a {}, not a regular file; confpack neither writes through nor replaces it \
                     (remove it and run again)",
                    file_kind(stat)
                ),
            });
        }
        let (temp_name, file) = self.create_temp()?;
        let written = (|| {
            let mut file = file;
            fill(&mut file)?;
            file.sync_all()?;
            if let Some((uid, gid)) =
                owner.or(existing.as_ref().map(|stat| (stat.st_uid, stat.st_gid)))
            {
                // Only root may give a file away; elsewhere it is ours anyway.
                let _ = rustix::fs::fchown(
                    &file,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                );
            }
            rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
            rustix::fs::renameat(&self.dir, &temp_name, &self.dir, &self.name)?;
            Ok::<(), std::io::Error>(())
        })();
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&self.dir, &temp_name, AtFlags::empty());
            return Err(Error::io(&self.shown, e));
        }
        let _ = rustix::fs::fsync(&self.dir);
        Ok(())
    }

    /// A new `.confpack-XXXXXX` file beside the target, private (0600)
    /// until it is complete.
    fn create_temp(&self) -> Result<(OsString, File)> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut attempt = 0;
        loop {
            let name = OsString::from(temp_name(attempt));
            match rustix::fs::openat(&self.dir, &name, flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => return Ok((name, File::from(fd))),
                Err(Errno::EXIST) if attempt < 100 => attempt += 1,
                Err(e) => return Err(io_error(&self.shown, e)),
            }
        }
    }

    /// The path beside this one whose name has `suffix` appended
    /// (`app.conf` → `app.conf.confpack-old`), in the same opened directory.
    pub fn sibling(&self, suffix: &str) -> Result<RootedPath> {
        let dir = self
            .dir
            .try_clone()
            .map_err(|e| Error::io(&self.shown, e))?;
        let mut name = self.name.clone();
        name.push(suffix);
        let mut shown = self.shown.clone().into_os_string();
        shown.push(suffix);
        Ok(RootedPath {
            dir,
            name,
            shown: PathBuf::from(shown),
        })
    }

    /// Saves a person's version of this file as `<name>.confpack-old`
    /// beside it (same content, mode and owner, written atomically); the
    /// path of the copy. Nothing is saved when no regular file is there.
    pub fn save_old(&self) -> Result<Option<SavedOld>> {
        let Some(mut file) = self.open_file()? else {
            return Ok(None);
        };
        let stat = rustix::fs::fstat(&file).map_err(|e| io_error(&self.shown, e))?;
        let mut content = Vec::new();
        file.read_to_end(&mut content)
            .map_err(|e| Error::io(&self.shown, e))?;
        let old = self.sibling(OLD_SUFFIX)?;
        old.write_owned(
            &content,
            stat.st_mode & 0o7777,
            Some((stat.st_uid, stat.st_gid)),
        )?;
        Ok(Some(SavedOld {
            shown: old.shown,
            sha256: sha256_hex(&content),
        }))
    }

    /// Deletes the file there only when its sha256 is `sha256` (what
    /// confpack wrote).
    pub fn remove_if_written(&self, sha256: &str) -> Result<Removal> {
        match self.stat()? {
            None => return Ok(Removal::Absent),
            Some(stat) if !is_regular(&stat) => return Ok(Removal::NotAFile),
            Some(_) => {}
        }
        let Some(file) = self.open_file()? else {
            return Ok(Removal::NotAFile);
        };
        if hash_reader(file).map_err(|e| Error::io(&self.shown, e))? != sha256 {
            return Ok(Removal::Changed);
        }
        match rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty()) {
            Ok(()) => Ok(Removal::Removed),
            Err(Errno::NOENT) => Ok(Removal::Absent),
            Err(e) => Err(io_error(&self.shown, e)),
        }
    }

    /// Deletes what is there (a regular file: check before).
    pub fn remove(&self) -> Result<()> {
        match rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(io_error(&self.shown, e)),
        }
    }

    /// Makes a directory there with `mode` unless one is; `true` when it
    /// made it. Anything else there (a file, a symlink) is refused.
    pub fn make_directory(&self, mode: u32) -> Result<bool> {
        match rustix::fs::mkdirat(&self.dir, &self.name, Mode::from_raw_mode(mode)) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => match self.stat()? {
                Some(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
                    Ok(false)
                }
                Some(stat) => Err(Error::UnsafePath {
                    path: self.shown.clone(),
                    reason: format!(
                        "is a {}, not a directory; confpack does not replace it \
                         (move it away and run again)",
                        file_kind(&stat)
                    ),
                }),
                None => Err(io_error(&self.shown, Errno::NOENT)),
            },
            Err(e) => Err(io_error(&self.shown, e)),
        }
    }

    /// Opens the directory there without following a symlink; `None` when
    /// there is none (absent, or something else).
    pub fn open_directory(&self) -> Result<Option<OwnedFd>> {
        match rustix::fs::openat(&self.dir, &self.name, directory_flags(), Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => Ok(None),
            Err(e) => Err(io_error(&self.shown, e)),
        }
    }

    /// Removes the directory there if it is empty.
    pub fn remove_empty_directory(&self) -> Result<DirectoryRemoval> {
        match rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(DirectoryRemoval::Removed),
            Err(Errno::NOENT) => Ok(DirectoryRemoval::Absent),
            Err(Errno::NOTEMPTY | Errno::EXIST) => Ok(DirectoryRemoval::NotEmpty),
            Err(Errno::NOTDIR) => Ok(DirectoryRemoval::NotADirectory),
            Err(e) => Err(io_error(&self.shown, e)),
        }
    }

    /// Removes what a killed run left in this directory; see
    /// [`remove_stale_temp_files`].
    pub fn remove_stale_temp_files(&self, older_than: SystemTime) -> usize {
        remove_stale_in(&self.dir, older_than)
    }
}

/// What is there, for messages: `symlink`, `directory`, `FIFO`…
pub fn file_kind(stat: &Stat) -> &'static str {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Symlink => "symlink",
        FileType::Directory => "directory",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice | FileType::BlockDevice => "device",
        _ => "special file",
    }
}

/// A fresh temp file name: `.confpack-` and six letters or digits, the
/// shape tempfile gives [`write_atomic`]'s, so one pattern finds both.
fn temp_name(attempt: u32) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{now}-{}-{}-{attempt}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let digest = Sha256::digest(seed.as_bytes());
    let random: String = digest
        .iter()
        .take(TEMP_RANDOM_LEN)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{TEMP_PREFIX}{random}")
}

/// Whether `name` is one of confpack's temp files (`.confpack-XXXXXX`).
pub fn is_temp_name(name: &[u8]) -> bool {
    name.strip_prefix(TEMP_PREFIX.as_bytes())
        .is_some_and(|rest| {
            rest.len() == TEMP_RANDOM_LEN && rest.iter().all(u8::is_ascii_alphanumeric)
        })
}

/// When this run started, for telling a killed run's temp files from
/// those of this one: the first call fixes it (opening the store calls it
/// first).
pub fn run_started() -> SystemTime {
    static STARTED: std::sync::OnceLock<SystemTime> = std::sync::OnceLock::new();
    *STARTED.get_or_init(SystemTime::now)
}

/// Deletes the `.confpack-XXXXXX` regular files in `dir` last changed
/// before `older_than`: what a run killed between creating a temp file and
/// renaming it left. Never follows a symlink (neither `dir` nor an entry);
/// best effort. Returns how many went.
pub fn remove_stale_temp_files(dir: &Path, older_than: SystemTime) -> usize {
    match rustix::fs::openat(rustix::fs::CWD, dir, directory_flags(), Mode::empty()) {
        Ok(fd) => remove_stale_in(&fd, older_than),
        Err(_) => 0,
    }
}

fn remove_stale_in(dir: &OwnedFd, older_than: SystemTime) -> usize {
    let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !is_temp_name(name.to_bytes()) {
            continue;
        }
        let stale = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|stat| is_regular(&stat) && modified(&stat) < older_than);
        if stale && rustix::fs::unlinkat(dir, name, AtFlags::empty()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Refuses a directory that exists but is not owned by the user running
/// confpack: another user could read what confpack keeps there (answers,
/// secrets, keys) or change it. `what` names it ("answer database").
pub fn check_own_directory(path: &Path, what: &str) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let running = rustix::process::geteuid().as_raw();
    if metadata.uid() == running {
        return Ok(());
    }
    if metadata.uid() == 0 {
        // The node's own directory: this user may not touch it, and must
        // not be told to take it over.
        return Err(Error::UnsafePath {
            path: path.to_path_buf(),
            reason: format!(
                "the {what} directory is root's and confpack runs as {}; run the command as \
                 root (`sudo confpack …`), or give another place with --root or --db",
                user_name(running)
            ),
        });
    }
    Err(Error::UnsafePath {
        path: path.to_path_buf(),
        reason: format!(
            "the {what} directory is owned by {}, not by the user running confpack ({}); \
             that user could read or change what confpack keeps there. If it is confpack's, \
             run `chown -R {running} {}`; otherwise move it away and run again",
            user_name(metadata.uid()),
            user_name(running),
            path.display()
        ),
    })
}

/// `uid 65534 (nobody)`, or just the uid when /etc/passwd does not say.
fn user_name(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
            })
        });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}
