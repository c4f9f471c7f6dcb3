//! The schema a dialect document names (`xsi:schemaLocation`, as DataONE
//! documents do), fetched from the configured online location together
//! with everything it includes or imports, and kept for offline runs.
//!
//! Why so careful: whoever serves the document serves the schema, and a
//! schema can `xs:include` anything. Left to libxml2, an include of
//! `file:///etc/shadow` printed the file to stderr, one of `/dev/stdin` or
//! a FIFO blocked past `--timeout`, and a redirect to another port was
//! followed. So every include and import is loaded by confpack (libxml2's
//! entity loader hands it to [`load_part`]): only over the schema's own
//! origin (scheme, host and port; redirects may not leave it), within the
//! one `--timeout` and `--max-size` of the whole schema, at most
//! [`MAX_PARTS`] files, never a local file. A schema is kept in the cache
//! (0600) only after it compiled, so a page that is not a schema never
//! replaces a good copy.

use std::fs;
use std::time::Instant;

use super::load::{
    DocumentSource, Redirects, create_dir, describe, fetch_bytes, name_hash, origin_of,
};
use super::xml::Schema;
use crate::error::Result;
use crate::files::write_atomic;

/// Files a schema may consist of, itself included.
pub const MAX_PARTS: usize = 32;

/// Why the schema could not be had online.
pub enum Unusable {
    /// Not fetched (unreachable, refused redirect, HTTP error, too slow).
    Unreachable(String),
    /// Fetched, but not a schema libxml2 compiles, or one that includes
    /// what may not be loaded.
    Invalid(String),
}

/// Fetches and compiles the schema at `url` with its parts; on success
/// keeps every part in the cache for offline runs.
pub fn online(source: &DocumentSource, url: &str) -> Result<Schema, Unusable> {
    let started = Instant::now();
    let origin = origin_of(url);
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let main = fetch_bytes(source, url, Redirects::SameOrigin).map_err(Unusable::Unreachable)?;
    let mut spent = main.len() as u64;
    let mut resolve = |location: &str| {
        check_part(&origin, location, parts.len() + 1)?;
        let mut limited = source.clone();
        limited.timeout = source.timeout.saturating_sub(started.elapsed());
        limited.max_bytes = source.max_bytes.saturating_sub(spent);
        if limited.timeout.is_zero() {
            return Err(format!(
                "the schema and its parts took longer than {} ms",
                source.timeout.as_millis()
            ));
        }
        let bytes = load_part(&limited, location)?;
        spent += bytes.len() as u64;
        parts.push((location.to_string(), bytes.clone()));
        Ok(bytes)
    };
    let schema = Schema::from_remote(&main, url, &mut resolve)
        .map_err(|e| Unusable::Invalid(describe(&e)))?;
    parts.push((url.to_string(), main));
    // Only a convenience for offline runs: the schema is usable now.
    let _ = keep(source, &parts);
    Ok(schema)
}

/// The copy of the schema at `url` (and its parts) kept by an earlier
/// run, compiled; `None` when there is none that compiles.
pub fn cached(source: &DocumentSource, url: &str) -> Option<Schema> {
    let origin = origin_of(url);
    let main = fs::read(cache_path(source, url)).ok()?;
    let mut count = 1;
    let mut resolve = |location: &str| {
        count += 1;
        check_part(&origin, location, count)?;
        fs::read(cache_path(source, location))
            .map_err(|_| "not in the cache of an earlier run".to_string())
    };
    Schema::from_remote(&main, url, &mut resolve).ok()
}

/// Whether a part may be loaded at all.
fn check_part(origin: &str, location: &str, count: usize) -> Result<(), String> {
    if origin_of(location) != origin {
        return Err(format!(
            "is not on the schema's origin {origin}; not loaded"
        ));
    }
    if count > MAX_PARTS {
        return Err(format!("more than {MAX_PARTS} schema files; not loaded"));
    }
    Ok(())
}

/// One include or import, fetched like the schema.
fn load_part(source: &DocumentSource, location: &str) -> Result<Vec<u8>, String> {
    fetch_bytes(source, location, Redirects::SameOrigin)
}

fn cache_path(source: &DocumentSource, url: &str) -> std::path::PathBuf {
    source
        .cache_dir
        .join(format!("schema-{}.xsd", name_hash(url.as_bytes())))
}

fn keep(source: &DocumentSource, parts: &[(String, Vec<u8>)]) -> Result<()> {
    create_dir(&source.cache_dir)?;
    for (url, bytes) in parts {
        write_atomic(&cache_path(source, url), bytes, 0o600)?;
    }
    Ok(())
}
