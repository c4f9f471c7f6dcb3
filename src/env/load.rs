//! Loading the environment document: the online copy first, then the most
//! recent known-good cached copy, then the packaged local file.
//!
//! Why this order: the online copy is the truth operators edit, but a
//! package must still configure when the server is down, slow or serving
//! garbage, so every failure of the online copy becomes one warning line and
//! a fallback, never a crash or a hang. A downloaded copy replaces the cache
//! only after it validated, so the cache is always the last good document.
//!
//! Why the metadata next to the cache: `configure` runs in every postinst,
//! and most runs change nothing. A conditional request (ETag /
//! Last-Modified) turns an unchanged document into a 304, and the metadata
//! file records the sha256 of the cached bytes and of the schema text that
//! validated them, so an unchanged copy is read with
//! [`Validation::AlreadyValidated`] instead of being validated again. The
//! packaged local file gets the same treatment through a stamp in the cache
//! directory (`local-<hash of its path>.json`): it is validated the first
//! time and again whenever its bytes or the schema change. Anything missing,
//! corrupt or mismatched in the metadata just means "validate normally".
//!
//! Limits: the whole request (connect, headers, body) must finish within
//! [`DocumentSource::timeout`], the body may not exceed
//! [`DocumentSource::max_bytes`] (counted after decompression), at most
//! five redirects are followed, and an `https://` URL may not be redirected
//! to plain `http://`. Proxies come from the usual environment variables
//! (`http_proxy`, `https_proxy`, `NO_PROXY`), as ureq reads them.
//!
//! Known gaps, accepted: for a user schema only the schema file itself is
//! hashed, not files it includes; and a file is hashed, then read again by
//! path, so a local file swapped in between (by dpkg, say) is read once
//! without XSD validation — confpack's own checks still run. The cached copy
//! is only ever replaced by a rename of a validated download, so it cannot
//! be caught that way.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::model::{Document, Environment};
use super::remote_schema::{self, Unusable};
use super::xml::Schema;
use super::{Validation, cleartext, native, read_document};
use crate::error::{Error, Problem, Result};
use crate::files::{file_sha256, sha256_hex, write_atomic};
use crate::http::{CopyError, Failed, copy_bounded};
pub(super) use crate::http::{Redirects, join_url, origin_of};

/// Default for [`DocumentSource::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default for [`DocumentSource::max_bytes`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Hex digits of a sha256 used in cache file names.
const NAME_HASH_LEN: usize = 16;

/// Modes of the cache directory and of the files in it.
const CACHE_DIR_MODE: u32 = 0o700;
const CACHE_FILE_MODE: u32 = 0o600;

/// At most this many validation problems go into one warning or reason.
const PROBLEMS_SHOWN: usize = 3;

/// Where an environment document comes from.
#[derive(Debug, Clone)]
pub struct DocumentSource {
    /// The online copy, `http://` or `https://`.
    pub url: Option<String>,
    /// The packaged local copy (already rooted by the caller).
    pub local: Option<PathBuf>,
    /// Where the online copy is cached, e.g.
    /// `<root>/var/cache/confpack/environments`; created 0700 as needed
    /// (its files are 0600: a document may hold values only its nodes
    /// should read).
    pub cache_dir: PathBuf,
    /// The node whose apt key verifies published documents and whose
    /// `/etc/confpack/insecure-http` allows plain http (configure's root);
    /// `None` off a node.
    pub node_root: Option<PathBuf>,
    /// Budget for the whole request: connect, headers and body.
    pub timeout: Duration,
    /// Largest body accepted from the server.
    pub max_bytes: u64,
    /// A user schema (`--schema`); `None` uses the built-in one.
    pub schema: Option<PathBuf>,
    /// Expressions for derived questions of dialects that carry none
    /// (`--derive`, `--derive-file`).
    pub derive_rules: std::collections::BTreeMap<String, String>,
}

impl DocumentSource {
    /// A source with the default timeout and size limit and the built-in
    /// schema, on no node (published documents cannot be verified).
    pub fn new(url: Option<String>, local: Option<PathBuf>, cache_dir: PathBuf) -> Self {
        DocumentSource {
            url,
            local,
            cache_dir,
            node_root: None,
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            schema: None,
            derive_rules: std::collections::BTreeMap::new(),
        }
    }

    fn validation(&self) -> Validation<'_> {
        match &self.schema {
            Some(path) => Validation::File(path),
            None => Validation::Builtin,
        }
    }
}

/// Where the document that was used came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Downloaded now (HTTP 200) and validated; the cache was updated.
    Online,
    /// The server answered 304 Not Modified; the cached copy was used.
    NotModified,
    /// The online copy was unusable; the cached copy was used.
    Cache,
    /// The packaged local file was used.
    Local,
}

/// A loaded document and how it was obtained.
#[derive(Debug)]
pub struct Loaded {
    pub document: Document,
    pub origin: Origin,
    /// One line per copy that was skipped, each saying why and which copy
    /// was used instead (`warning: …`). Empty when nothing went wrong.
    pub warnings: Vec<String>,
    /// sha256 (hex) of the document bytes that were used.
    pub sha256: String,
    /// sha256 (hex) of the schema text documents are validated against.
    pub schema_sha256: String,
    /// The caller's `known` test ([`load_unless_known`]) accepted these
    /// bytes, so they were not read: `document` is empty.
    pub known: bool,
}

/// Loads the environment document from `source`, keeping the environments
/// `retain` wants. Fails with [`Error::NoDocument`] when no copy is usable,
/// and then has changed nothing; with [`Error::Io`] up front when the user
/// schema cannot be read, since no copy could be validated.
pub fn load(source: &DocumentSource, retain: &dyn Fn(&Environment) -> bool) -> Result<Loaded> {
    load_unless_known(source, retain, &|_, _| false)
}

/// [`load`], except that a cached or local copy is not read at all when
/// `known(document sha256, schema sha256)` says the caller already has
/// what it needs from exactly these bytes (the no-op configure path: a
/// large document costs a hash, not a parse). Such a result has
/// [`Loaded::known`] set and an empty document. A fresh download is always
/// read, since it must validate before it may replace the cache.
pub fn load_unless_known(
    source: &DocumentSource,
    retain: &dyn Fn(&Environment) -> bool,
    known: &dyn Fn(&str, &str) -> bool,
) -> Result<Loaded> {
    let schema_sha256 = schema_sha256(source)?;
    let mut loader = Loader {
        source,
        retain,
        known,
        schema_sha256,
        failures: Vec::new(),
        named_schema: None,
        schema_warnings: Vec::new(),
    };
    if let Some(url) = source.url.as_deref() {
        // Another user's cache could hold a planted "validated" copy.
        for dir in [Some(source.cache_dir.as_path()), source.cache_dir.parent()]
            .into_iter()
            .flatten()
        {
            crate::files::check_own_directory(dir, "environment cache")?;
        }
        let cache = CachedCopy::new(&source.cache_dir, url);
        // A failed download never touches the cache, so this stays true.
        let known = cache.known_good();
        match loader.online(url, &cache, known.as_ref()) {
            Ok(loaded) => return Ok(loaded),
            Err(Skip::CacheTried) => {}
            Err(Skip::Online) => {
                if let Some(loaded) = loader.cache(&cache, known.as_ref(), Origin::Cache) {
                    return Ok(loaded);
                }
            }
        }
    }
    if let Some(loaded) = loader.local() {
        return Ok(loaded);
    }
    let mut reasons: Vec<String> = loader.failures.into_iter().map(|f| f.reason).collect();
    match (&source.url, &source.local) {
        (None, None) => {
            reasons.push("neither an online URL nor a local file is configured".to_string());
        }
        (Some(_), None) => reasons.push("no local file is configured".to_string()),
        _ => {}
    }
    Err(Error::NoDocument { reasons })
}

/// A copy that could not be used, and why.
struct Failure {
    /// What it was: "online environment document", "cached …", "local …".
    what: &'static str,
    /// Why, starting with where (URL or path, with line where known).
    reason: String,
}

/// Why [`Loader::online`] did not return a document.
enum Skip {
    /// The online copy failed; the cache has not been looked at.
    Online,
    /// The server said 304, the cached copy was tried and failed.
    CacheTried,
}

struct Loader<'a> {
    source: &'a DocumentSource,
    retain: &'a dyn Fn(&Environment) -> bool,
    known: &'a dyn Fn(&str, &str) -> bool,
    schema_sha256: String,
    failures: Vec<Failure>,
    /// The schema a dialect document names (`xsi:schemaLocation`), fetched
    /// over the configured online location; `None` until looked for.
    named_schema: Option<Option<Rc<Schema>>>,
    /// Warnings about the named schema, for the result.
    schema_warnings: Vec<String>,
}

impl Loader<'_> {
    /// The schema to validate the document at `path` with: `--schema`, the
    /// built-in one for native documents, or, for a dialect document read
    /// while an online location is configured, the schema its
    /// `xsi:schemaLocation` names, fetched from there (and cached, so a
    /// later offline run still has it).
    fn schema_for(&mut self, path: &Path) -> Option<Rc<Schema>> {
        if self.source.schema.is_some() {
            return None;
        }
        if let Some(known) = &self.named_schema {
            return known.clone();
        }
        let named = self.fetch_named_schema(path).map(Rc::new);
        self.named_schema = Some(named.clone());
        named
    }

    fn fetch_named_schema(&mut self, path: &Path) -> Option<Schema> {
        let base = self.source.url.as_deref()?;
        let (namespace, location) =
            super::schema_location(path, &path.display().to_string()).ok()?;
        if namespace.as_deref() == Some(native::NAMESPACE) {
            return None;
        }
        let url = join_url(base, &location?);
        // Only from where the document itself comes: same scheme, host and
        // port (no https → http downgrade, no other servers).
        if origin_of(&url) != origin_of(base) {
            self.schema_warnings.push(format!(
                "warning: the schema {url} named by the document is not on the configured \
                 online location {}; not fetched",
                origin_of(base)
            ));
            return None;
        }
        let (what, reason) = match remote_schema::online(self.source, &url) {
            Ok(schema) => return Some(schema),
            Err(Unusable::Unreachable(reason)) => ("is unreachable", reason),
            Err(Unusable::Invalid(reason)) => ("is not a usable schema", reason),
        };
        let earlier = remote_schema::cached(self.source, &url);
        let fallback = if earlier.is_some() {
            "; using the copy fetched earlier"
        } else {
            ""
        };
        self.schema_warnings.push(format!(
            "warning: the schema {url} named by the document {what} ({reason}){fallback}"
        ));
        earlier
    }

    /// Fetches the online copy; on 304 reads the cache.
    fn online(
        &mut self,
        url: &str,
        cache: &CachedCopy,
        known: Option<&Metadata>,
    ) -> Result<Loaded, Skip> {
        // One trust chain with the packages: src/env/trust.rs.
        let fetched = super::trust::admit(self.source.node_root.as_deref(), url)
            .and_then(|warning| {
                self.schema_warnings.extend(warning);
                fetch(self.source, url, known)
            })
            .and_then(|fetched| {
                let sha256 = match &fetched {
                    Fetched::Changed(download) => Some(download.sha256.as_str()),
                    Fetched::NotModified => known.map(|k| k.sha256.as_str()),
                };
                super::trust::verify(self.source, url, sha256).map(|()| fetched)
            });
        match fetched {
            Ok(Fetched::Changed(download)) => match self.accept_download(url, cache, download) {
                Ok(loaded) => Ok(loaded),
                Err(reason) => {
                    self.fail("online environment document", reason);
                    Err(Skip::Online)
                }
            },
            Ok(Fetched::NotModified) if known.is_some() => self
                .cache(cache, known, Origin::NotModified)
                .ok_or(Skip::CacheTried),
            Ok(Fetched::NotModified) => {
                self.fail(
                    "online environment document",
                    format!(
                        "{url}: the server answered 304 Not Modified, \
                         but there is no matching cached copy"
                    ),
                );
                Err(Skip::Online)
            }
            Err(reason) => {
                self.fail("online environment document", format!("{url}: {reason}"));
                Err(Skip::Online)
            }
        }
    }

    /// Validates a download and, only if it is valid, makes it the cache.
    fn accept_download(
        &mut self,
        url: &str,
        cache: &CachedCopy,
        download: Download,
    ) -> Result<Loaded, String> {
        let named = self.schema_for(download.file.path());
        let validation = match &named {
            Some(schema) => Validation::Compiled(schema),
            None => self.source.validation(),
        };
        let started = Instant::now();
        let document = match self.read_online_copy(download.file.path(), url, validation) {
            Ok(document) => document,
            Err(e) => {
                let reason = describe(&e);
                if started.elapsed() >= Refusal::WORTH_REMEMBERING {
                    Refusal::remember(self.source, url, &download, &reason);
                }
                return Err(reason);
            }
        };
        let sha256 = download.sha256.clone();
        let metadata = Metadata {
            url: Some(url.to_string()),
            local: None,
            etag: download.etag,
            last_modified: download.last_modified,
            sha256: download.sha256,
            schema_sha256: self.schema_sha256.clone(),
        };
        let mut warnings: Vec<String> = self.schema_warnings.drain(..).collect();
        if let Err(e) = cache.store(download.file, &metadata) {
            warnings.push(format!(
                "warning: could not update the cached environment document: {e:#}; \
                 the next run downloads it again"
            ));
        }
        Ok(Loaded {
            document,
            origin: Origin::Online,
            warnings,
            sha256,
            schema_sha256: self.schema_sha256.clone(),
            known: false,
        })
    }

    /// Reads a copy of the online document (downloaded or cached): valid,
    /// and no password in clear, since whoever serves or reads the copy
    /// would have it (`build` refuses the same in a document it ships).
    fn read_online_copy(
        &self,
        path: &Path,
        origin: &str,
        validation: Validation<'_>,
    ) -> Result<Document> {
        let document = read_document(
            path,
            origin,
            validation,
            &self.source.derive_rules,
            self.retain,
        )?;
        let clear = cleartext::clear_values(&document);
        if clear.is_empty() {
            Ok(document)
        } else {
            Err(Error::Invalid(clear))
        }
    }

    /// Reads the cached online copy, if there is one; without schema
    /// validation when `known` says this schema validated these bytes.
    fn cache(
        &mut self,
        cache: &CachedCopy,
        known: Option<&Metadata>,
        origin: Origin,
    ) -> Option<Loaded> {
        if !cache.document.exists() {
            return None;
        }
        let description = format!("cached copy {}", cache.document.display());
        let origin_text = cache.document.display().to_string();
        let sha256 = match file_sha256(&cache.document) {
            Ok(sha256) => sha256,
            Err(e) => {
                self.fail("cached environment document", describe(&e));
                return None;
            }
        };
        if (self.known)(&sha256, &self.schema_sha256) {
            return Some(self.skipped(&origin_text, origin, &description, sha256));
        }
        let trusted = known.is_some_and(|k| k.schema_sha256 == self.schema_sha256);
        let named = if trusted {
            None
        } else {
            self.schema_for(&cache.document)
        };
        let validation = match (&named, trusted) {
            (_, true) => Validation::AlreadyValidated,
            (Some(schema), false) => Validation::Compiled(schema),
            (None, false) => self.source.validation(),
        };
        match self.read_online_copy(&cache.document, &origin_text, validation) {
            Ok(document) => Some(self.loaded(document, origin, &description, sha256)),
            Err(e) => {
                self.fail("cached environment document", describe(&e));
                None
            }
        }
    }

    /// Reads the packaged local file, validating it unless its stamp says
    /// these bytes passed this schema before.
    fn local(&mut self) -> Option<Loaded> {
        let path = self.source.local.as_deref()?;
        let origin_text = path.display().to_string();
        let stamp_path = self.source.cache_dir.join(format!(
            "local-{}.json",
            name_hash(path.as_os_str().as_encoded_bytes())
        ));
        let sha256 = match file_sha256(path) {
            Ok(sha256) => sha256,
            Err(e) => {
                self.fail("local environment document", describe(&e));
                return None;
            }
        };
        if (self.known)(&sha256, &self.schema_sha256) {
            let description = format!("local copy {origin_text}");
            return Some(self.skipped(&origin_text, Origin::Local, &description, sha256));
        }
        let trusted = Metadata::read(&stamp_path).is_some_and(|m| {
            m.local.as_deref() == Some(path)
                && m.sha256 == sha256
                && m.schema_sha256 == self.schema_sha256
        });
        let validation = if trusted {
            Validation::AlreadyValidated
        } else {
            self.source.validation()
        };
        match read_document(
            path,
            &origin_text,
            validation,
            &self.source.derive_rules,
            self.retain,
        ) {
            Ok(document) => {
                let used_sha256 = sha256.clone();
                if !trusted {
                    let stamp = Metadata {
                        url: None,
                        local: Some(path.to_path_buf()),
                        etag: None,
                        last_modified: None,
                        sha256,
                        schema_sha256: self.schema_sha256.clone(),
                    };
                    // Only a speed-up: without a stamp the next run validates again.
                    let _ =
                        create_dir(&self.source.cache_dir).and_then(|()| stamp.write(&stamp_path));
                }
                let description = format!("local copy {origin_text}");
                Some(self.loaded(document, Origin::Local, &description, used_sha256))
            }
            Err(e) => {
                self.fail("local environment document", describe(&e));
                None
            }
        }
    }

    fn fail(&mut self, what: &'static str, reason: String) {
        self.failures.push(Failure { what, reason });
    }

    /// The result of a fallback: one warning per copy skipped on the way.
    /// A copy the caller's `known` test accepted: not read.
    fn skipped(&mut self, origin_text: &str, origin: Origin, used: &str, sha256: String) -> Loaded {
        let mut loaded = self.loaded(Document::new(origin_text), origin, used, sha256);
        loaded.known = true;
        loaded
    }

    fn loaded(&mut self, document: Document, origin: Origin, used: &str, sha256: String) -> Loaded {
        let mut warnings: Vec<String> = self
            .failures
            .drain(..)
            .map(|f| format!("warning: {} {}; using the {used}", f.what, f.reason))
            .collect();
        warnings.append(&mut self.schema_warnings);
        Loaded {
            document,
            origin,
            warnings,
            sha256,
            schema_sha256: self.schema_sha256.clone(),
            known: false,
        }
    }
}

/// The cache of one URL: the document and its metadata.
struct CachedCopy {
    dir: PathBuf,
    document: PathBuf,
    metadata: PathBuf,
    url: String,
}

impl CachedCopy {
    fn new(dir: &Path, url: &str) -> Self {
        let name = name_hash(url.as_bytes());
        CachedCopy {
            dir: dir.to_path_buf(),
            document: dir.join(format!("{name}.xml")),
            metadata: dir.join(format!("{name}.json")),
            url: url.to_string(),
        }
    }

    /// The metadata, if it describes exactly the cached bytes of this URL.
    fn known_good(&self) -> Option<Metadata> {
        let metadata = Metadata::read(&self.metadata)?;
        if metadata.url.as_deref() != Some(self.url.as_str()) {
            return None;
        }
        let sha256 = file_sha256(&self.document).ok()?;
        (metadata.sha256 == sha256).then_some(metadata)
    }

    /// Atomically replaces the cached document, then its metadata.
    ///
    /// A crash in between leaves metadata whose hash does not match, which
    /// only costs one validation.
    fn store(&self, file: tempfile::NamedTempFile, metadata: &Metadata) -> Result<()> {
        file.persist(&self.document)
            .map_err(|e| Error::io(&self.document, e.error))?;
        metadata.write(&self.metadata)?;
        sync_dir(&self.dir)
    }
}

/// What is recorded next to a cached copy (or as a local file's stamp).
#[derive(Debug, Serialize, Deserialize)]
struct Metadata {
    /// The URL the cached copy came from.
    #[serde(default)]
    url: Option<String>,
    /// The local file a stamp is for.
    #[serde(default)]
    local: Option<PathBuf>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
    /// sha256 (hex) of the document's bytes.
    sha256: String,
    /// sha256 (hex) of the schema text that validated them.
    schema_sha256: String,
}

impl Metadata {
    /// `None` when missing or unreadable: the caller then validates.
    fn read(path: &Path) -> Option<Metadata> {
        let text = fs::read(path).ok()?;
        serde_json::from_slice(&text).ok()
    }

    fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(path, io::Error::new(io::ErrorKind::InvalidData, e)))?;
        write_atomic(path, &json, CACHE_FILE_MODE)
    }
}

/// What the server answered.
enum Fetched {
    Changed(Download),
    NotModified,
}

/// A complete body in a temp file in the cache directory.
struct Download {
    file: tempfile::NamedTempFile,
    sha256: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// GETs `url`, conditionally if `known` has validators. The error is a
/// one-line reason.
fn fetch(source: &DocumentSource, url: &str, known: Option<&Metadata>) -> Result<Fetched, String> {
    fetch_following(source, url, known, Redirects::AnyOrigin)
}

/// The body at `url` (unconditionally, following redirects as `redirects`
/// allows), within the source's timeout and size limit.
pub(super) fn fetch_bytes(
    source: &DocumentSource,
    url: &str,
    redirects: Redirects,
) -> Result<Vec<u8>, String> {
    match fetch_following(source, url, None, redirects)? {
        Fetched::Changed(download) => {
            fs::read(download.file.path()).map_err(|e| format!("cannot read the download: {e}"))
        }
        Fetched::NotModified => Err("HTTP 304 to an unconditional request".to_string()),
    }
}

/// [`fetch`], following redirects as `redirects` allows; the whole chain
/// shares the source's timeout.
fn fetch_following(
    source: &DocumentSource,
    url: &str,
    known: Option<&Metadata>,
    redirects: Redirects,
) -> Result<Fetched, String> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(known) = known {
        if let Some(etag) = &known.etag {
            headers.push(("If-None-Match", etag));
        }
        if let Some(last_modified) = &known.last_modified {
            headers.push(("If-Modified-Since", last_modified));
        }
    }
    let mut response =
        crate::http::get(url, &headers, source.timeout, redirects).map_err(|e| match e {
            Failed::Transport(e) => describe_transport(e, source),
            Failed::Refused(reason) => reason,
        })?;
    let status = response.status();
    if status == ureq::http::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if status != ureq::http::StatusCode::OK {
        return Err(format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string());
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    let refusal = Refusal::read(source, url);
    if let Some(refusal) = &refusal
        && refusal.has_validator(etag.as_deref(), last_modified.as_deref())
    {
        return Err(refusal.describe());
    }
    if let Some(length) = response.body().content_length()
        && length > source.max_bytes
    {
        return Err(too_large(source.max_bytes));
    }
    create_dir(&source.cache_dir).map_err(|e| format!("cannot store the download: {e:#}"))?;
    let mut file = new_temp_file(&source.cache_dir)
        .map_err(|e| format!("cannot store the download: {e:#}"))?;
    let reader = response.body_mut().as_reader();
    let sha256 =
        copy_bounded(reader, file.as_file_mut(), source.max_bytes).map_err(|e| match e {
            CopyError::TooLarge => too_large(source.max_bytes),
            CopyError::Read(e) => describe_transport(ureq::Error::from(e), source),
            CopyError::Write(e) => format!(
                "cannot store the download in {}: {e}",
                file.path().display()
            ),
        })?;
    if let Some(refusal) = &refusal
        && refusal.sha256 == sha256
    {
        return Err(refusal.describe());
    }
    Ok(Fetched::Changed(Download {
        file,
        sha256,
        etag,
        last_modified,
    }))
}

/// An online copy refused on an earlier run (invalid, a limit exceeded, a
/// password in clear), remembered next to the cache so that the same copy
/// (same ETag or Last-Modified, or for a server that sends neither the
/// same bytes) is skipped with one warning instead of being read again:
/// the cost of a hostile document is paid once, not on every configure.
/// The record holds for the schema and derive rules it was refused with.
/// A refusal that cost little (a limit of [`super::limits`] hit early, a
/// small invalid document) is not recorded: reading it again is cheaper
/// than keeping a record.
#[derive(Debug, Serialize, Deserialize)]
struct Refusal {
    url: String,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
    sha256: String,
    /// sha256 of what the verdict depended on besides the bytes.
    context: String,
    reason: String,
}

impl Refusal {
    /// Reading time from which a refusal is recorded.
    const WORTH_REMEMBERING: Duration = Duration::from_millis(100);

    fn path(source: &DocumentSource, url: &str) -> PathBuf {
        source
            .cache_dir
            .join(format!("{}.refused.json", name_hash(url.as_bytes())))
    }

    fn context(source: &DocumentSource) -> String {
        let rules = serde_json::to_string(&source.derive_rules).unwrap_or_default();
        let schema = schema_sha256(source).unwrap_or_default();
        sha256_hex(format!("{schema}\n{rules}").as_bytes())
    }

    /// The record for `url`, if it was made with the same schema and rules.
    fn read(source: &DocumentSource, url: &str) -> Option<Refusal> {
        let text = fs::read(Refusal::path(source, url)).ok()?;
        let refusal: Refusal = serde_json::from_slice(&text).ok()?;
        (refusal.url == url && refusal.context == Refusal::context(source)).then_some(refusal)
    }

    /// Records a refused download. Only a speed-up: failing to write it
    /// means the next run reads the copy again.
    fn remember(source: &DocumentSource, url: &str, download: &Download, reason: &str) {
        let refusal = Refusal {
            url: url.to_string(),
            etag: download.etag.clone(),
            last_modified: download.last_modified.clone(),
            sha256: download.sha256.clone(),
            context: Refusal::context(source),
            reason: reason.to_string(),
        };
        if let Ok(json) = serde_json::to_vec_pretty(&refusal) {
            let _ = write_atomic(&Refusal::path(source, url), &json, CACHE_FILE_MODE);
        }
    }

    fn has_validator(&self, etag: Option<&str>, last_modified: Option<&str>) -> bool {
        (etag.is_some() && etag == self.etag.as_deref())
            || (last_modified.is_some() && last_modified == self.last_modified.as_deref())
    }

    fn describe(&self) -> String {
        let validator = match (&self.etag, &self.last_modified) {
            (Some(etag), _) => format!("ETag {etag}"),
            (None, Some(date)) => format!("Last-Modified {date}"),
            (None, None) => format!(
                "sha256 {}",
                self.sha256.get(..NAME_HASH_LEN).unwrap_or(&self.sha256)
            ),
        };
        format!(
            "this copy ({validator}) was refused on an earlier run, not read again: {}",
            self.reason
        )
    }
}

fn too_large(max_bytes: u64) -> String {
    format!("the document is larger than the limit of {max_bytes} bytes")
}

/// A one-line reason for a failed request.
fn describe_transport(error: ureq::Error, source: &DocumentSource) -> String {
    match error {
        ureq::Error::BodyExceedsLimit(_) => too_large(source.max_bytes),
        other => crate::http::describe(other, source.timeout),
    }
}

/// The sha256 of the schema text that validates documents.
fn schema_sha256(source: &DocumentSource) -> Result<String> {
    match &source.schema {
        None => Ok(sha256_hex(native::SCHEMA.as_bytes())),
        Some(path) => file_sha256(path),
    }
}

/// The prefix of a sha256 used to name cache files.
pub(super) fn name_hash(bytes: &[u8]) -> String {
    let mut name = sha256_hex(bytes);
    name.truncate(NAME_HASH_LEN);
    name
}

/// Creates the cache directory 0700, and takes the others' access away
/// from one an earlier version created 0755.
pub(super) fn create_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(CACHE_DIR_MODE)
        .create(dir)
        .map_err(|e| Error::io(dir, e))?;
    let metadata = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(CACHE_DIR_MODE))
            .map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// A temp file in `dir`, private like the cache it will replace.
fn new_temp_file(dir: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".confpack-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(CACHE_FILE_MODE))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// A one-line reason for an unusable copy, starting with where it is.
pub(super) fn describe(error: &Error) -> String {
    match error {
        Error::Invalid(problems) => describe_problems(problems),
        other => one_line(&format!("{other:#}")),
    }
}

fn describe_problems(problems: &[Problem]) -> String {
    let mut text = problems
        .iter()
        .take(PROBLEMS_SHOWN)
        .map(|p| one_line(&p.to_string()))
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > PROBLEMS_SHOWN {
        text.push_str(&format!(
            " (and {} more problems)",
            problems.len() - PROBLEMS_SHOWN
        ));
    }
    text
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
