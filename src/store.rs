//! The answer store: one sled database holding every answer with its
//! source and seen flag, plus what configure needs to remember (the chosen
//! environment, the files it rendered per package, hook input stamps).
//!
//! Why a single tree with prefixed keys: sled applies a batch to one tree
//! atomically, so a configure run's changes land all together or not at
//! all, even under `kill -9`. The database directory is 0700 because it
//! holds secrets. A second process opening it gets `WouldBlock` from an OS
//! file lock, which becomes a bounded wait and then [`Error::Locked`]. sled
//! cannot open a database read-only, so readers of one on a read-only file
//! system read a private copy ([`Store::open_for_reading`]).
//!
//! Why the lock is a file of its own (`<db>/confpack.lock`) and sled opens
//! only when needed: opening sled 0.34 starts a pool of seven threads (which
//! spin until the pool is up), rewrites the tail of its log and syncs it,
//! even when nothing is written; profiled, that was most of a
//! `configure --dry-run` that changed nothing. Every commit therefore also
//! leaves a view of all records (`<db>/confpack-view.json`, tagged with the
//! [`generation`] it shows), and a store whose view matches the current
//! generation reads from it and opens sled only to commit. A view of any
//! other generation, or one that cannot be read, is ignored: sled is opened
//! as before and the view written anew.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::env::model::{QuestionType, Source};
use crate::error::{Error, Result};

const ANSWER: &str = "answer/";
const META: &str = "meta/";
const FILES: &str = "files/";
const HOOK: &str = "hook/";
const CONFLICT: &str = "conflict/";
const SAVED: &str = "saved/";
const DECLARED: &str = "declared/";

/// Checks a question key: `owner/name` as the environment document's
/// schema spells it (the owner a package name; the name letters, digits and
/// `_ . + - /`), with no empty, `.` or `..` part. The rule `set`,
/// `import-debconf` and documents share: a key ends up in shell comments,
/// debconf lines and environment variable names.
pub fn check_key(key: &str) -> std::result::Result<(), String> {
    let explain = |why: &str| {
        format!(
            "{}: {why}; a question key is owner/name without spaces or control characters \
             (the owner a package name, the name letters, digits and _ . + - /), \
             e.g. webshop/db.host",
            key.escape_debug()
        )
    };
    let Some((owner, name)) = key.split_once('/') else {
        return Err(explain("there is no /"));
    };
    let owner_ok = owner
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && owner
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
    if !owner_ok {
        return Err(explain("the owner is not a package name"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.+-/".contains(&b))
    {
        return Err(explain("the name has other characters"));
    }
    if name.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Err(explain("the name has an empty, . or .. part"));
    }
    Ok(())
}

/// One stored answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// `None` for display-only questions (notes), which carry no value.
    pub value: Option<String>,
    pub source: Source,
    /// Whether a person has seen (or an external tool has confirmed) it.
    pub seen: bool,
    /// Packages that use this question; purge forgets it when none is left.
    #[serde(default)]
    pub owners: BTreeSet<String>,
    #[serde(rename = "type")]
    pub question_type: QuestionType,
    #[serde(default)]
    pub secret: bool,
}

/// What `confpack set` was given for a key, beside the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueToSet {
    pub value: String,
    pub source: Source,
    pub seen: bool,
    /// `--secret`: masked from now on.
    pub secret: bool,
}

impl StoredAnswer {
    /// The answer `confpack set` stores for `key` (already checked with
    /// [`check_key`]), `existing` the one stored before: the value is
    /// checked against the question's type (the stored one, else a
    /// password for a secret and a string otherwise; a choice question's
    /// choices are not known here, so any choice passes), its owners are
    /// kept, and a secret once stays a secret.
    pub fn set_by_hand(
        key: &str,
        given: ValueToSet,
        existing: Option<&StoredAnswer>,
    ) -> Result<StoredAnswer> {
        let question_type = existing
            .map(|a| a.question_type)
            .unwrap_or(if given.secret {
                QuestionType::Password
            } else {
                QuestionType::String
            });
        question_type
            .check(&given.value, &[])
            .or_else(|m| {
                if question_type.has_choices() {
                    Ok(())
                } else {
                    Err(m)
                }
            })
            .map_err(|message| Error::Question {
                key: key.to_string(),
                message,
            })?;
        Ok(StoredAnswer {
            value: Some(given.value),
            source: given.source,
            seen: given.seen,
            owners: existing.map(|a| a.owners.clone()).unwrap_or_default(),
            question_type,
            secret: given.secret || question_type.is_secret() || existing.is_some_and(|a| a.secret),
        })
    }
}

/// A stored user value that differs from the document's value, kept by a
/// run nobody answered (open) or decided by a person (`--keep-mine`, or an
/// answer in a frontend). Remembered under `conflict/KEY`; the values are
/// stored as they are (secrets included, like the answers) and masked on
/// output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The document's value when the conflict was kept or decided.
    pub document: String,
    /// The stored (user) value that was kept.
    pub stored: String,
    /// When it was first kept (or decided), UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub since: String,
    /// A person decided to keep their value: not warned about again while
    /// the document's value (and theirs) stay the same.
    #[serde(default)]
    pub decided: bool,
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn utc_now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    utc_time(seconds)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_time(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A file rendered by configure, remembered so remove can delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedFile {
    /// Target path, absolute as seen on the installed system (without root).
    pub path: PathBuf,
    /// Template it was rendered from, relative to the package's templates dir.
    pub template: PathBuf,
    /// sha256 of the content written.
    pub sha256: String,
    /// Another package's file was diverted aside for it (see `divert`).
    #[serde(default)]
    pub diverted: bool,
}

/// A person's edit of a rendered file that confpack saved as
/// `<path>.confpack-old`: theirs after removal, deleted on purge (as dpkg
/// deletes a conffile's `.dpkg-old`) when it is still what was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedEdit {
    /// The saved copy's system path (`/etc/x.conf.confpack-old`).
    pub path: PathBuf,
    pub sha256: String,
}

impl SavedEdit {
    /// The record of `saved`, the copy of the rendered file at `target`.
    pub fn of(target: &Path, saved: crate::files::SavedOld) -> SavedEdit {
        SavedEdit {
            path: crate::files::old_path(target),
            sha256: saved.sha256,
        }
    }
}

/// Changes to apply together.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(String, Option<Vec<u8>>)>,
    /// The answer operations as records, for [`Batch::answers_after`].
    answers: Vec<(String, Option<StoredAnswer>)>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// `set KEY` or `remove KEY` per operation, for tests.
    #[cfg(test)]
    pub(crate) fn describe(&self) -> Vec<String> {
        self.ops
            .iter()
            .map(|(key, value)| match value {
                Some(_) => format!("set {key}"),
                None => format!("remove {key}"),
            })
            .collect()
    }

    fn put<T: Serialize>(&mut self, key: String, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Store {
            path: PathBuf::new(),
            reason: format!("cannot encode {key}: {e}"),
        })?;
        self.ops.push((key, Some(bytes)));
        Ok(())
    }

    pub fn set_answer(&mut self, key: &str, answer: &StoredAnswer) -> Result<()> {
        self.answers.push((key.to_string(), Some(answer.clone())));
        self.put(format!("{ANSWER}{key}"), answer)
    }

    pub fn remove_answer(&mut self, key: &str) {
        self.answers.push((key.to_string(), None));
        self.ops.push((format!("{ANSWER}{key}"), None));
    }

    /// The answers `stored` would hold once this batch is committed, in
    /// memory: `confpack plan` sees what a run stores without a database.
    pub fn answers_after(
        &self,
        mut stored: BTreeMap<String, StoredAnswer>,
    ) -> BTreeMap<String, StoredAnswer> {
        for (key, answer) in &self.answers {
            match answer {
                Some(answer) => stored.insert(key.clone(), answer.clone()),
                None => stored.remove(key),
            };
        }
        stored
    }

    pub fn set_conflict(&mut self, key: &str, conflict: &Conflict) -> Result<()> {
        self.put(format!("{CONFLICT}{key}"), conflict)
    }

    pub fn remove_conflict(&mut self, key: &str) {
        self.ops.push((format!("{CONFLICT}{key}"), None));
    }

    pub fn set_meta(&mut self, name: &str, value: &str) -> Result<()> {
        self.put(format!("{META}{name}"), &value)
    }

    pub fn set_files(&mut self, package: &str, files: &[RenderedFile]) -> Result<()> {
        if files.is_empty() {
            self.ops.push((format!("{FILES}{package}"), None));
            Ok(())
        } else {
            self.put(format!("{FILES}{package}"), &files)
        }
    }

    /// The edits saved for `package` (empty: forget them).
    pub fn set_saved_edits(&mut self, package: &str, saved: &[SavedEdit]) -> Result<()> {
        if saved.is_empty() {
            self.ops.push((format!("{SAVED}{package}"), None));
            Ok(())
        } else {
            self.put(format!("{SAVED}{package}"), &saved)
        }
    }

    /// What was applied of the package's declarations (empty: forget
    /// them); see [`crate::declared`].
    pub fn set_declared<T: Serialize>(&mut self, package: &str, records: &[T]) -> Result<()> {
        if records.is_empty() {
            self.ops.push((format!("{DECLARED}{package}"), None));
            Ok(())
        } else {
            self.put(format!("{DECLARED}{package}"), &records)
        }
    }

    pub fn set_hook_stamp(&mut self, package: &str, hook: &str, stamp: &str) -> Result<()> {
        self.put(format!("{HOOK}{package}/{hook}"), &stamp)
    }

    pub fn remove_hook_stamp(&mut self, package: &str, hook: &str) {
        self.ops.push((format!("{HOOK}{package}/{hook}"), None));
    }
}

/// An open answer database.
pub struct Store {
    // Declared first: sled closes its files before the lock is released
    // and before the copy goes.
    db: OnceLock<sled::Db>,
    /// The records as of the last commit, read while sled is not open.
    view: Option<View>,
    /// Held while the store is open (see the module doc).
    _lock: File,
    lock_timeout: Duration,
    /// The database the user named (errors name it).
    tree_path: PathBuf,
    /// Where sled's files are: `tree_path`, or the copy.
    sled_path: PathBuf,
    /// The private copy being read when the database itself could not be
    /// opened (see [`Store::open_for_reading`]); removed on drop.
    copy: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.tree_path)
            .finish()
    }
}

/// Every record of the database as of one [`generation`], so a run that
/// only reads needs no sled (see the module doc).
#[derive(Debug, Serialize, Deserialize)]
struct View {
    generation: String,
    /// Key to the record's JSON text.
    records: BTreeMap<String, String>,
}

impl View {
    fn path(db: &Path) -> PathBuf {
        db.join("confpack-view.json")
    }

    /// The view of `db` if it shows the current generation.
    fn current(db: &Path) -> Option<View> {
        let generation = generation(db)?;
        let view: View = serde_json::from_slice(&std::fs::read(View::path(db)).ok()?).ok()?;
        (view.generation == generation).then_some(view)
    }

    /// Every record in sled, or `None` if one is not text (never written
    /// by confpack; such a database is simply read from sled).
    fn of(db: &sled::Db, generation: String) -> Option<View> {
        let mut records = BTreeMap::new();
        for item in db.iter() {
            let (key, value) = item.ok()?;
            records.insert(
                String::from_utf8(key.to_vec()).ok()?,
                String::from_utf8(value.to_vec()).ok()?,
            );
        }
        Some(View {
            generation,
            records,
        })
    }

    /// Best effort: without a view the next run opens sled.
    fn write(&self, db: &Path) {
        if let Ok(text) = serde_json::to_vec(self) {
            let _ = crate::files::write_atomic(&View::path(db), &text, 0o600);
        }
    }
}

fn is_lock_error(error: &sled::Error) -> bool {
    match error {
        // sled wraps the flock failure in a new io::Error whose message
        // carries the original WouldBlock.
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

/// Waits up to `lock_timeout` for `attempt` to stop failing with a lock
/// error, pausing a little longer each time.
fn waiting_for_lock<T>(
    path: &Path,
    lock_timeout: Duration,
    mut attempt: impl FnMut() -> std::result::Result<T, sled::Error>,
) -> Result<T> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    let mut cleaned = false;
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(error) if is_lock_error(&error) => {
                let waited = started.elapsed();
                if waited >= lock_timeout {
                    return Err(Error::Locked {
                        path: path.to_path_buf(),
                        waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    });
                }
                std::thread::sleep(pause.min(lock_timeout.saturating_sub(waited)));
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(sled::Error::Corruption { .. }) if !cleaned && remove_partial_snapshots(path) => {
                cleaned = true;
            }
            Err(error) => {
                return Err(Error::Store {
                    path: path.to_path_buf(),
                    reason: store_reason(&error),
                });
            }
        }
    }
}

/// Takes the database's lock (`<db>/confpack.lock`) without waiting.
fn try_lock(path: &Path) -> std::result::Result<File, sled::Error> {
    use rustix::fs::{FlockOperation, flock};
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path.join("confpack.lock"))?;
    flock(&file, FlockOperation::NonBlockingLockExclusive)
        .map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error()))?;
    Ok(file)
}

impl Store {
    /// Opens (creating) the database at `path`, waiting up to `lock_timeout`
    /// for another confpack process to release it.
    pub fn open(path: &Path, lock_timeout: Duration) -> Result<Store> {
        let run_started = crate::files::run_started();
        create_private_dir(path)?;
        let lock = waiting_for_lock(path, lock_timeout, || try_lock(path))?;
        // Holding the lock now: every writer of these is gone.
        if let Some(parent) = path.parent() {
            crate::files::remove_stale_temp_files(parent, run_started);
        }
        crate::files::remove_stale_temp_files(path, run_started);
        crate::files::remove_stale_temp_files(&stamps_dir(path), run_started);
        let store = Store {
            db: OnceLock::new(),
            view: View::current(path),
            _lock: lock,
            lock_timeout,
            tree_path: path.to_path_buf(),
            sled_path: path.to_path_buf(),
            copy: None,
        };
        if store.view.is_none() {
            let db = store.sled()?;
            if let Some(view) = generation(path).and_then(|g| View::of(db, g)) {
                view.write(path);
            }
        }
        Ok(store)
    }

    /// The view to read, unless sled is open (it is after a commit).
    fn view(&self) -> Option<&View> {
        self.view.as_ref().filter(|_| self.db.get().is_none())
    }

    /// sled, opened on first use (see the module doc).
    fn sled(&self) -> Result<&sled::Db> {
        if let Some(db) = self.db.get() {
            return Ok(db);
        }
        let path = &self.sled_path;
        let db = waiting_for_lock(path, self.lock_timeout, || open_private(path))?;
        make_files_private(path);
        Ok(self.db.get_or_init(|| db))
    }

    /// Opens the database for reading only (`answers`, `get`, `export`).
    ///
    /// Why a copy: sled 0.34 has no read-only open (it locks and writes
    /// its files), so a database on a read-only file system, or in a
    /// directory this user may not write, cannot be opened at all. Then
    /// the database is copied into a private (0700) temporary directory,
    /// removed when the store is dropped, and the copy is read. Only for
    /// those causes: a database another user owns is still refused, a
    /// held lock still waited for.
    pub fn open_for_reading(path: &Path, lock_timeout: Duration) -> Result<Store> {
        match Store::open(path, lock_timeout) {
            Err(error @ (Error::Store { .. } | Error::Io { .. }))
                if path.is_dir() && !writable(path) =>
            {
                Store::open_copy(path, lock_timeout).map_err(|copy_error| match error {
                    Error::Store { path, reason } => Error::Store {
                        path,
                        reason: format!("{reason}; reading a copy failed too: {copy_error:#}"),
                    },
                    other => other,
                })
            }
            other => other,
        }
    }

    fn open_copy(path: &Path, lock_timeout: Duration) -> Result<Store> {
        let copy = private_temp_dir()?;
        let db = copy.path().join("db");
        copy_dir(path, &db)?;
        let store = Store::open(&db, lock_timeout)?;
        Ok(Store {
            // Errors name the database, not the copy.
            tree_path: path.to_path_buf(),
            copy: Some(copy),
            ..store
        })
    }

    pub fn path(&self) -> &Path {
        &self.tree_path
    }

    fn error(&self, error: impl std::fmt::Display) -> Error {
        Error::Store {
            path: self.tree_path.clone(),
            reason: error.to_string(),
        }
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>> {
        let bytes = match self.view() {
            Some(view) => view.records.get(key).map(|text| text.as_bytes().to_vec()),
            None => self
                .sled()?
                .get(key.as_bytes())
                .map_err(|e| self.error(e))?
                .map(|bytes| bytes.to_vec()),
        };
        match bytes {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.error(format!("record {key} is corrupt: {e}"))),
            None => Ok(None),
        }
    }

    /// The records whose keys start with `prefix`, in key order, the
    /// prefix taken off their keys.
    fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        match self.view() {
            Some(view) => Ok(view
                .records
                .range::<str, _>((
                    std::ops::Bound::Included(prefix),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(key, _)| key.starts_with(prefix))
                .map(|(key, text)| (key[prefix.len()..].to_string(), text.as_bytes().to_vec()))
                .collect()),
            None => self
                .sled()?
                .scan_prefix(prefix.as_bytes())
                .map(|item| {
                    let (key, bytes) = item.map_err(|e| self.error(e))?;
                    let key = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                    Ok((key, bytes.to_vec()))
                })
                .collect(),
        }
    }

    pub fn answer(&self, key: &str) -> Result<Option<StoredAnswer>> {
        self.get(&format!("{ANSWER}{key}"))
    }

    /// Every stored answer, by key.
    pub fn answers(&self) -> Result<BTreeMap<String, StoredAnswer>> {
        let mut out = BTreeMap::new();
        for (key, bytes) in self.scan(ANSWER)? {
            let answer: StoredAnswer = serde_json::from_slice(&bytes)
                .map_err(|e| self.error(format!("record {ANSWER}{key} is corrupt: {e}")))?;
            out.insert(key, answer);
        }
        Ok(out)
    }

    /// Every remembered conflict (open and decided), by key.
    pub fn conflicts(&self) -> Result<BTreeMap<String, Conflict>> {
        let mut out = BTreeMap::new();
        for (key, bytes) in self.scan(CONFLICT)? {
            let conflict: Conflict = serde_json::from_slice(&bytes)
                .map_err(|e| self.error(format!("record {CONFLICT}{key} is corrupt: {e}")))?;
            out.insert(key, conflict);
        }
        Ok(out)
    }

    /// The conflicts no person has decided yet: a stored user value kept
    /// over a different document value by a run nobody answered.
    pub fn open_conflicts(&self) -> Result<BTreeMap<String, Conflict>> {
        let mut conflicts = self.conflicts()?;
        conflicts.retain(|_, c| !c.decided);
        Ok(conflicts)
    }

    pub fn meta(&self, name: &str) -> Result<Option<String>> {
        self.get(&format!("{META}{name}"))
    }

    pub fn files(&self, package: &str) -> Result<Vec<RenderedFile>> {
        Ok(self.get(&format!("{FILES}{package}"))?.unwrap_or_default())
    }

    pub fn saved_edits(&self, package: &str) -> Result<Vec<SavedEdit>> {
        Ok(self.get(&format!("{SAVED}{package}"))?.unwrap_or_default())
    }

    /// What was applied of the package's declarations.
    pub fn declared<T: serde::de::DeserializeOwned>(&self, package: &str) -> Result<Vec<T>> {
        Ok(self
            .get(&format!("{DECLARED}{package}"))?
            .unwrap_or_default())
    }

    /// Every package's declarations records, by package.
    pub fn declared_by_package<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<BTreeMap<String, Vec<T>>> {
        let mut out = BTreeMap::new();
        for (package, bytes) in self.scan(DECLARED)? {
            let records: Vec<T> = serde_json::from_slice(&bytes)
                .map_err(|e| self.error(format!("declarations of {package} are corrupt: {e}")))?;
            out.insert(package, records);
        }
        Ok(out)
    }

    pub fn hook_stamp(&self, package: &str, hook: &str) -> Result<Option<String>> {
        self.get(&format!("{HOOK}{package}/{hook}"))
    }

    /// Hook stamps of a package, by hook name.
    pub fn hook_stamps(&self, package: &str) -> Result<BTreeMap<String, String>> {
        let prefix = format!("{HOOK}{package}/");
        let mut out = BTreeMap::new();
        for (name, bytes) in self.scan(&prefix)? {
            let stamp: String = serde_json::from_slice(&bytes)
                .map_err(|e| self.error(format!("hook stamp {name} is corrupt: {e}")))?;
            out.insert(name, stamp);
        }
        Ok(out)
    }

    /// Applies a batch atomically and makes it durable before returning.
    ///
    /// The generation file changes first (see [`generation`]): a crash
    /// between the two leaves a new generation over old data, which only
    /// costs the next run its fast path, never the other way round.
    pub fn commit(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.copy.is_some() {
            return Err(self.error("opened for reading only (a copy of a read-only database)"));
        }
        let db = self.sled()?;
        let generation = bump_generation(&self.tree_path)?;
        let mut sled_batch = sled::Batch::default();
        for (key, value) in batch.ops {
            match value {
                Some(bytes) => sled_batch.insert(key.as_bytes(), bytes),
                None => sled_batch.remove(key.as_bytes()),
            }
        }
        db.apply_batch(sled_batch).map_err(|e| self.error(e))?;
        db.flush().map_err(|e| self.error(e))?;
        // Reads go to sled from now on (see `view`); the view is for the
        // next run.
        if let Some(view) = View::of(db, generation) {
            view.write(&self.sled_path);
        }
        Ok(())
    }
}

fn generation_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".generation");
    db.with_file_name(name)
}

/// The database's generation: a token that changes with every commit, kept
/// in a small file beside the database (`<db>.generation`) so a run can
/// tell that nothing changed without opening sled (which costs more than
/// the rest of a no-op configure together). `None` when unknown.
pub fn generation(db: &Path) -> Option<String> {
    std::fs::read_to_string(generation_path(db))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Gives the database a new generation; returns it.
fn bump_generation(db: &Path) -> Result<String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = generation_path(db);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let token = format!(
        "{now:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    crate::files::write_atomic(&path, format!("{token}\n").as_bytes(), 0o600)?;
    Ok(token)
}

fn store_reason(error: &sled::Error) -> String {
    match error {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            format!("{io}; run as root (postinsts do) or point --db at a writable directory")
        }
        sled::Error::Io(io) if io.raw_os_error() == Some(28) => {
            format!("{io}; free some disk space and run again (nothing was changed)")
        }
        sled::Error::Io(io) if io.raw_os_error() == Some(30) => {
            format!("{io}; the file system is read-only (nothing was changed)")
        }
        other => other.to_string(),
    }
}

/// Removes the `snap.<lsn>.generating` files of `path`; whether there were
/// any.
///
/// Why: sled 0.34 writes a snapshot to `snap.<lsn>.generating`, then
/// renames it, but on opening takes the last `snap.*` file by name, that
/// one included. A process that ran out of disk space (or was killed)
/// while writing a snapshot leaves it behind, and every later open fails
/// with "Read corrupted data" although the database is intact without it
/// (found by tests/faults.rs, disk full). Only called after such an open
/// failed, which means that no process held the database's lock, so none
/// was writing a snapshot.
fn remove_partial_snapshots(path: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    let mut removed = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.")
            && name.ends_with(".generating")
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed = true;
        }
    }
    removed
}

/// Opens sled with umask 077, so the files it creates (`conf`, `db`,
/// `blobs/`, snapshots) are the owner's only.
fn open_private(path: &Path) -> sled::Result<sled::Db> {
    let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let opened = sled::Config::new().path(path).open();
    rustix::process::umask(previous);
    opened
}

/// Takes the group's and others' bits from the files of a database made
/// before they were created private (or by a snapshot since). Best effort:
/// the directory itself is 0700 anyway.
fn make_files_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let mode = metadata.permissions().mode();
        if !metadata.is_symlink() && mode & 0o077 != 0 {
            let _ = std::fs::set_permissions(
                entry.path(),
                std::fs::Permissions::from_mode(mode & 0o7700),
            );
        }
    }
}

/// Whether this process may write the database directory and its files:
/// not on a read-only file system (EROFS), nor without permission
/// (EACCES, or EPERM for an immutable file).
fn writable(path: &Path) -> bool {
    use rustix::fs::{Access, access};
    let may_write = |p: &Path| access(p, Access::WRITE_OK).is_ok();
    may_write(path)
        && std::fs::read_dir(path).is_ok_and(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .all(|e| may_write(&e.path()))
        })
}

/// A 0700 temporary directory for a copy of the database: in `$TMPDIR`
/// (or /tmp), else in /dev/shm or /run (a read-only root often has /tmp
/// read-only too).
fn private_temp_dir() -> Result<tempfile::TempDir> {
    let mut first_error = None;
    for dir in [std::env::temp_dir(), "/dev/shm".into(), "/run".into()] {
        match tempfile::Builder::new()
            .prefix(".confpack-db-copy-")
            .tempdir_in(&dir)
        {
            Ok(copy) => return Ok(copy),
            Err(e) => {
                first_error.get_or_insert(Error::io(&dir, e));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| Error::Store {
        path: std::env::temp_dir(),
        reason: "no writable temporary directory".into(),
    }))
}

/// Copies a database directory (regular files and directories; anything
/// else is not sled's and is left out), the copies private to the owner.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(to)
        .map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| Error::io(&source, e))?;
        if kind.is_dir() {
            copy_dir(&source, &target)?;
        } else if kind.is_file() {
            let mut input = std::fs::File::open(&source).map_err(|e| Error::io(&source, e))?;
            let mut output = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&target)
                .map_err(|e| Error::io(&target, e))?;
            std::io::copy(&mut input, &mut output).map_err(|e| Error::io(&target, e))?;
        }
    }
    Ok(())
}

/// Where the no-op stamps of a database live (see [`crate::unchanged`]).
fn stamps_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".stamps");
    db.with_file_name(name)
}

/// Creates `path` (and parents) with the database directory itself 0700;
/// refuses an existing one another user owns.
fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            // create_dir_all says "File exists" when a file is in the way.
            match parent
                .ancestors()
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .find(|p| std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))
            {
                Some(file) => Error::Store {
                    path: path.to_path_buf(),
                    reason: format!("{} is not a directory", file.display()),
                },
                None => Error::io(parent, e),
            }
        })?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::files::check_own_directory(path, "answer database")?;
            let metadata = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
            if metadata.permissions().mode() & 0o077 != 0 {
                // Tighten a directory created by something else; failing to
                // is not fatal for reading (e.g. a read-only root).
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
            }
            Ok(())
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(value: &str, source: Source) -> StoredAnswer {
        StoredAnswer {
            value: Some(value.to_string()),
            source,
            seen: true,
            owners: BTreeSet::from(["pkg".to_string()]),
            question_type: QuestionType::String,
            secret: false,
        }
    }

    #[test]
    fn a_committed_batch_is_read_back_after_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        {
            let store = Store::open(&path, Duration::from_secs(1)).expect("open");
            let mut batch = Batch::new();
            batch
                .set_answer("pkg/a", &answer("1", Source::User))
                .expect("set");
            batch.set_meta("environment", "production").expect("meta");
            store.commit(batch).expect("commit");
        }
        let store = Store::open(&path, Duration::from_secs(1)).expect("reopen");
        assert_eq!(
            store.answer("pkg/a").expect("get"),
            Some(answer("1", Source::User))
        );
        assert_eq!(
            store.meta("environment").expect("meta").as_deref(),
            Some("production")
        );
        assert_eq!(store.answers().expect("all").len(), 1);
    }

    /// A database with one committed answer `pkg/a` = `value`.
    fn committed(path: &Path, value: &str) {
        let store = Store::open(path, Duration::from_secs(1)).expect("open");
        let mut batch = Batch::new();
        batch
            .set_answer("pkg/a", &answer(value, Source::User))
            .expect("set");
        store.commit(batch).expect("commit");
    }

    #[test]
    fn after_a_commit_the_next_store_reads_the_view_without_opening_sled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        committed(&path, "1");
        let store = Store::open(&path, Duration::from_secs(1)).expect("reopen");
        assert!(store.db.get().is_none(), "sled was opened");
        assert_eq!(
            store.answers().expect("all"),
            BTreeMap::from([("pkg/a".to_string(), answer("1", Source::User))])
        );
        assert_eq!(
            store.answer("pkg/a").expect("get"),
            Some(answer("1", Source::User))
        );
        assert!(store.db.get().is_none(), "sled was opened to read");
    }

    #[test]
    fn a_store_reading_the_view_commits_to_sled_and_reads_its_own_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        committed(&path, "1");
        let store = Store::open(&path, Duration::from_secs(1)).expect("reopen");
        let mut batch = Batch::new();
        batch
            .set_answer("pkg/b", &answer("2", Source::User))
            .expect("set");
        store.commit(batch).expect("commit");
        assert_eq!(store.answers().expect("all").len(), 2);
        drop(store);
        let store = Store::open(&path, Duration::from_secs(1)).expect("reopen");
        assert!(store.db.get().is_none(), "the commit left no current view");
        assert_eq!(store.answers().expect("all").len(), 2);
    }

    #[test]
    fn a_view_of_another_generation_is_ignored_and_written_anew() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        committed(&path, "1");
        let stale = View {
            generation: "another".into(),
            records: BTreeMap::from([(
                format!("{ANSWER}pkg/a"),
                serde_json::to_string(&answer("stale", Source::User)).expect("json"),
            )]),
        };
        std::fs::write(View::path(&path), serde_json::to_vec(&stale).expect("json"))
            .expect("write");
        let store = Store::open(&path, Duration::from_secs(1)).expect("reopen");
        assert!(store.db.get().is_some(), "sled was not opened");
        assert_eq!(
            store.answer("pkg/a").expect("get"),
            Some(answer("1", Source::User))
        );
        drop(store);
        let view = View::current(&path).expect("a current view again");
        assert_eq!(
            view.records.get(&format!("{ANSWER}pkg/a")),
            Some(&serde_json::to_string(&answer("1", Source::User)).expect("json"))
        );
    }

    #[test]
    fn a_store_reading_the_view_still_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        committed(&path, "1");
        let _first = Store::open(&path, Duration::from_secs(1)).expect("open");
        assert!(matches!(
            Store::open(&path, Duration::from_millis(50)),
            Err(Error::Locked { .. })
        ));
    }

    #[test]
    fn utc_times_are_civil_dates() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_time(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn open_conflicts_leave_out_decided_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db"), Duration::from_secs(1)).expect("open");
        let conflict = |decided| Conflict {
            document: "doc".into(),
            stored: "mine".into(),
            since: utc_now(),
            decided,
        };
        let mut batch = Batch::new();
        batch.set_conflict("a/open", &conflict(false)).expect("set");
        batch
            .set_conflict("a/decided", &conflict(true))
            .expect("set");
        store.commit(batch).expect("commit");
        assert_eq!(store.conflicts().expect("read").len(), 2);
        let open = store.open_conflicts().expect("read");
        assert_eq!(open.keys().collect::<Vec<_>>(), ["a/open"]);
        let mut batch = Batch::new();
        batch.remove_conflict("a/open");
        store.commit(batch).expect("commit");
        assert!(store.open_conflicts().expect("read").is_empty());
    }

    #[test]
    fn every_commit_changes_the_generation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let store = Store::open(&path, Duration::from_secs(1)).expect("open");
        assert_eq!(generation(&path), None);
        let mut batch = Batch::new();
        batch.set_meta("a", "1").expect("meta");
        store.commit(batch).expect("commit");
        let first = generation(&path).expect("generation");
        store.commit(Batch::new()).expect("empty commit");
        assert_eq!(
            generation(&path).as_deref(),
            Some(first.as_str()),
            "an empty batch changes nothing"
        );
        let mut batch = Batch::new();
        batch.set_meta("a", "2").expect("meta");
        store.commit(batch).expect("commit");
        assert_ne!(generation(&path).expect("generation"), first);
    }

    fn given(value: &str, secret: bool) -> ValueToSet {
        ValueToSet {
            value: value.to_string(),
            source: Source::User,
            seen: true,
            secret,
        }
    }

    #[test]
    fn a_value_set_by_hand_for_a_new_key_is_a_string_or_a_password() {
        let plain = StoredAnswer::set_by_hand("web/host", given("db1", false), None).expect("ok");
        assert_eq!(plain.question_type, QuestionType::String);
        assert!(!plain.secret);
        assert!(plain.owners.is_empty());
        let secret = StoredAnswer::set_by_hand("web/pw", given("s3", true), None).expect("ok");
        assert_eq!(secret.question_type, QuestionType::Password);
        assert!(secret.secret);
    }

    #[test]
    fn a_value_set_by_hand_keeps_the_stored_type_owners_and_secrecy() {
        let mut stored = answer("true", Source::Configured);
        stored.question_type = QuestionType::Boolean;
        stored.secret = true;
        let set = StoredAnswer::set_by_hand("pkg/flag", given("false", false), Some(&stored))
            .expect("a boolean");
        assert_eq!(set.value.as_deref(), Some("false"));
        assert_eq!(set.source, Source::User);
        assert_eq!(set.owners, stored.owners);
        assert_eq!(set.question_type, QuestionType::Boolean);
        assert!(set.secret, "a secret once stays a secret");
    }

    #[test]
    fn a_value_set_by_hand_must_fit_the_stored_type_except_unknown_choices() {
        let mut stored = answer("true", Source::Configured);
        stored.question_type = QuestionType::Boolean;
        assert!(matches!(
            StoredAnswer::set_by_hand("pkg/flag", given("maybe", false), Some(&stored)),
            Err(Error::Question { key, .. }) if key == "pkg/flag"
        ));
        stored.question_type = QuestionType::Select;
        let set = StoredAnswer::set_by_hand("pkg/mode", given("anything", false), Some(&stored));
        assert!(
            set.is_ok(),
            "the choices are not stored, so any choice passes"
        );
    }

    #[test]
    fn a_key_is_owner_slash_name_without_path_tricks() {
        for good in ["webshop/db.host", "acme-node/node.id", "p2/a/b", "g++/X_1"] {
            assert_eq!(check_key(good), Ok(()), "{good}");
        }
        for bad in [
            "../../etc",
            "webshop",
            "webshop/",
            "/x",
            "web shop/a",
            "Web/a",
            "p/a/../b",
            "p/a//b",
            "p/a\nb",
            "p/$(x)",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_database_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let _store = Store::open(&path, Duration::from_secs(1)).expect("open");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_second_opener_waits_then_reports_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let _first = Store::open(&path, Duration::from_secs(1)).expect("open");
        // The lock is per open file; the cross-process case is covered by
        // the integration tests. Within one process a second open of the
        // same path also gets WouldBlock.
        match Store::open(&path, Duration::from_millis(100)) {
            Err(Error::Locked { waited_ms, .. }) => assert!(waited_ms >= 100),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("second open succeeded"),
        }
    }
}
