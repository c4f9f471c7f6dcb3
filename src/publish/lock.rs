//! The repository's publish lock: one publisher at a time.
//!
//! Why the directory itself: a lock file inside the repository is served
//! with it, and one beside it needs a writable parent and is another file
//! for each spelling of the path (a symlink). `flock(2)` on the directory's
//! descriptor needs no file, follows the directory whatever its name, and
//! ends with the process, however it ends. File systems that cannot lock a
//! directory (NFS emulates `flock` with write locks) are a clear error.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

use super::LEGACY_LOCK_FILE;

/// Holds the repository's publish lock while alive.
pub struct Lock {
    _directory: std::fs::File,
    _legacy: Option<std::fs::File>,
}

/// Locks `repo`, waiting up to `timeout` for another publisher.
pub fn lock(repo: &Path, timeout: Duration) -> Result<Lock> {
    let directory = std::fs::File::open(repo).map_err(|e| Error::io(repo, e))?;
    let deadline = Instant::now() + timeout;
    wait_for_lock(&directory, deadline).map_err(|e| match e {
        LockError::Busy => Error::Busy {
            what: "another confpack publish is writing this repository".into(),
            path: repo.to_path_buf(),
        },
        LockError::Unsupported(e) => Error::io(
            repo,
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot lock the repository directory ({e}); publish on a local file system"
                ),
            ),
        ),
    })?;
    Ok(Lock {
        _directory: directory,
        _legacy: take_legacy_lock(repo, deadline)?,
    })
}

enum LockError {
    Busy,
    Unsupported(std::io::Error),
}

/// `flock`s `file` exclusively, retrying until `deadline`.
fn wait_for_lock(file: &std::fs::File, deadline: Instant) -> std::result::Result<(), LockError> {
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Busy),
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Unsupported(e)),
        }
    }
}

/// An older confpack may be publishing with the lock file inside the
/// repository: wait for it like for any publisher, then remove the file,
/// which the web server would otherwise serve.
fn take_legacy_lock(repo: &Path, deadline: Instant) -> Result<Option<std::fs::File>> {
    let path = repo.join(LEGACY_LOCK_FILE);
    let file = match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    match wait_for_lock(&file, deadline) {
        Ok(()) => {}
        Err(LockError::Busy) => {
            return Err(Error::Busy {
                what: "an older confpack publish is writing this repository".into(),
                path,
            });
        }
        Err(LockError::Unsupported(e)) => return Err(Error::io(&path, e)),
    }
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Some(file))
}
