//! File primitives every stage shares: atomic writes and content hashes.
//!
//! One place, so that "a reader sees the old or the new file, never half of
//! one" and "the sha256 of these bytes" mean the same thing for rendered
//! files, caches, stamps, the database generation and packages.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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

/// The sha256 of a file's content, in hex, read in chunks.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Writes `content` to `path` through a temporary file in the same
/// directory and a rename, so a reader sees the old or the new file, never
/// a half-written one. Keeps the owner of an existing file.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let owner = std::fs::metadata(path).ok().map(|m| (m.uid(), m.gid()));
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
