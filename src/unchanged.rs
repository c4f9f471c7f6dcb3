//! The postinst hot path: proving that nothing changed since the last
//! successful configure, without opening the answer database.
//!
//! Why: most configure runs (every package upgrade runs the postinst)
//! change nothing, and opening sled costs more than everything else in such
//! a run. After a successful run, a stamp records a fingerprint of every
//! input — the command's options, the document's bytes, the schema, the
//! package's `package.yml` and templates, this host's identities — together
//! with the database generation (which every commit changes first, see
//! [`crate::store::generation`]) and the state of the files it rendered.
//! When all of these are still the same, running again would change
//! nothing, so it is skipped. Anything unknown or different means "run".

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::package::{Package, rooted};

/// What a successful run leaves behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub fingerprint: String,
    pub generation: String,
    /// The environment stored in the database at the end of the run.
    pub stored_environment: Option<String>,
    /// The rendered files as they were after the run.
    pub files: Vec<FileState>,
}

/// Enough of a file's metadata to notice any change to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    pub path: PathBuf,
    pub len: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
    pub mode: u32,
}

impl FileState {
    /// The state of `path` (a system path) under `root`; `None` if absent.
    pub fn of(root: &Path, path: &Path) -> Option<FileState> {
        let metadata = std::fs::symlink_metadata(rooted(root, path)).ok()?;
        Some(FileState {
            path: path.to_path_buf(),
            len: metadata.len(),
            mtime_ns: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
            ctime_ns: metadata.ctime() * 1_000_000_000 + metadata.ctime_nsec(),
            inode: metadata.ino(),
            mode: metadata.mode(),
        })
    }
}

/// Where the stamps of a database live: `<db>.stamps/`.
fn stamps_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".stamps");
    db.with_file_name(name)
}

/// One stamp: `<db>.stamps/<key>.json`.
fn stamp_path(db: &Path, key: &str) -> PathBuf {
    stamps_dir(db).join(format!("{key}.json"))
}

pub use crate::files::Fingerprint;

/// Adds a package's own files (package.yml and templates, with modes) to
/// a fingerprint.
pub fn add_package(fingerprint: &mut Fingerprint, package: &Package) -> std::io::Result<()> {
    fingerprint.add_str(&package.name);
    match std::fs::read(package.dir.join("package.yml")) {
        Ok(bytes) => fingerprint.add(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fingerprint.add(b"-"),
        Err(e) => return Err(e),
    };
    let templates = package.templates_dir();
    let listed = crate::package::list_templates(&templates)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    for (relative, _) in listed {
        let path = templates.join(&relative);
        let metadata = std::fs::metadata(&path)?;
        fingerprint
            .add_path(&relative)
            .add(&metadata.mode().to_le_bytes())
            .add(&std::fs::read(&path)?);
    }
    crate::secrets::add_to_fingerprint(fingerprint, &package.dir)
}

/// What identifies a configure invocation, and what else its result
/// depends on besides the database, the document and the files.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub frontend: &'a str,
    pub root: &'a Path,
    pub package: Option<&'a str>,
    pub env_url: Option<&'a str>,
    pub env_file: Option<&'a Path>,
    pub schema: Option<&'a Path>,
    pub machine: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub priority: &'a str,
    pub host_identities: &'a [String],
}

impl Invocation<'_> {
    /// One stamp per kind of invocation: this names it.
    pub fn key(&self) -> String {
        let none = Path::new("-");
        let mut key = Fingerprint::new("confpack-invocation-1");
        key.add_str(self.frontend)
            .add_path(self.root)
            .add_str(self.package.unwrap_or("-"))
            .add_str(self.env_url.unwrap_or("-"))
            .add_path(self.env_file.unwrap_or(none))
            .add_path(self.schema.unwrap_or(none))
            .add_str(self.machine.unwrap_or("-"))
            .add_str(self.environment.unwrap_or("-"))
            .add_str(self.priority);
        let mut text = key.finish();
        text.truncate(32);
        text
    }

    /// Everything a no-op run depends on besides the database and the
    /// rendered files.
    pub fn fingerprint(
        &self,
        document_sha256: &str,
        schema_sha256: &str,
        package: Option<&Package>,
        stored_environment: Option<&str>,
    ) -> std::io::Result<String> {
        let mut fingerprint = Fingerprint::new("confpack-configure-1");
        fingerprint
            .add_str(&self.key())
            .add_str(env!("CARGO_PKG_VERSION"))
            .add_str(document_sha256)
            .add_str(schema_sha256)
            .add_str(stored_environment.unwrap_or("-"));
        for identity in self.host_identities {
            fingerprint.add_str(identity);
        }
        if let Some(package) = package {
            add_package(&mut fingerprint, package)?;
        }
        Ok(fingerprint.finish())
    }
}

/// After a run that changed what it had to: a stamp so that the next run
/// with nothing changed can prove it (best effort, like [`write`]).
pub fn record(
    db: &Path,
    root: &Path,
    key: &str,
    fingerprint: String,
    stored_environment: Option<String>,
    files: &[crate::store::RenderedFile],
) {
    let Some(generation) = crate::store::generation(db) else {
        return;
    };
    let stamp = Stamp {
        fingerprint,
        generation,
        stored_environment,
        files: files
            .iter()
            .filter_map(|f| FileState::of(root, &f.path))
            .collect(),
    };
    write(db, key, &stamp);
}

/// Reads the stamp for `key` if it is still current for the database.
pub fn read(db: &Path, key: &str) -> Option<Stamp> {
    let text = std::fs::read(stamp_path(db, key)).ok()?;
    let stamp: Stamp = serde_json::from_slice(&text).ok()?;
    (crate::store::generation(db).as_deref() == Some(stamp.generation.as_str())).then_some(stamp)
}

/// Whether the rendered files are exactly as the stamp left them.
pub fn files_unchanged(root: &Path, stamp: &Stamp) -> bool {
    stamp
        .files
        .iter()
        .all(|state| FileState::of(root, &state.path).as_ref() == Some(state))
}

/// Records a stamp. Best effort: without it the next run just does the work.
pub fn write(db: &Path, key: &str, stamp: &Stamp) {
    let path = stamp_path(db, key);
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    if let Ok(bytes) = serde_json::to_vec(stamp) {
        let _ = crate::files::write_atomic(&path, &bytes, 0o600);
    }
}

/// Forgets a stamp (after a run that did not finish cleanly).
pub fn remove(db: &Path, key: &str) {
    let _ = std::fs::remove_file(stamp_path(db, key));
}

/// Forgets every stamp, for removing or purging a package.
///
/// Why all of them: a stamp is named by a hash of its invocation, so the
/// package's own cannot be told apart, and the commit that forgot the
/// package changed the generation, which makes every stamp stale anyway.
/// Call it holding the database, as configure holds it to write a stamp.
pub fn remove_all(db: &Path) -> crate::error::Result<()> {
    let dir = stamps_dir(db);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(crate::error::Error::io(&dir, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_run_into_each_other() {
        let mut a = Fingerprint::new("t");
        a.add_str("ab").add_str("c");
        let mut b = Fingerprint::new("t");
        b.add_str("a").add_str("bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn a_stamp_is_stale_once_the_generation_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db");
        let store =
            crate::store::Store::open(&db, std::time::Duration::from_secs(1)).expect("open");
        let mut batch = crate::store::Batch::new();
        batch.set_meta("x", "1").expect("meta");
        store.commit(batch).expect("commit");
        let stamp = Stamp {
            fingerprint: "f".into(),
            generation: crate::store::generation(&db).expect("generation"),
            stored_environment: None,
            files: vec![],
        };
        write(&db, "k", &stamp);
        assert_eq!(read(&db, "k"), Some(stamp));
        let mut batch = crate::store::Batch::new();
        batch.set_meta("x", "2").expect("meta");
        store.commit(batch).expect("commit");
        assert_eq!(read(&db, "k"), None);
    }
}
