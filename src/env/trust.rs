//! Whether an online environment document may be used: one trust chain
//! with the packages.
//!
//! Why: the packages come from a signed apt repository, but a document
//! fetched as it is, over plain `http://` at that, lets whoever sits on the
//! path configure the fleet. So:
//!
//! - A **confpack-published document** — a URL of the form
//!   `<repository>/dists/<ENV>/documents/<NAME>.xml`, as `confpack publish
//!   --document NAME=FILE` writes it — is used only if the environment's
//!   `InRelease`, fetched beside it, verifies with `gpgv` against the key
//!   this node's apt source trusts (`signed-by` in
//!   `/etc/apt/sources.list.d/confpack.list`, the key `set-environment
//!   --key` installed), is the `Release` of that `<ENV>`, lists the
//!   document with exactly the bytes fetched, has not expired
//!   (`Valid-Until`), and is not older than the last `Release` accepted for
//!   this URL (its `Date`, kept in the cache as `trust-<hash>.json`; a
//!   publish always dates a new `Release` later than the previous one).
//!   That refuses a tampered document, one signed by another key, a missing
//!   or foreign signature, and an older signed pair replayed. The check runs
//!   on a 304 too, against the cached bytes.
//! - **Foreign documents** (DataONE's, any other URL) are used as fetched
//!   over `https://` (certificates verified, no downgrade on redirect).
//! - **Plain `http://`** to anything else is refused before any request,
//!   unless the node's administrator opts in for that exact URL (a line of
//!   `/etc/confpack/insecure-http`), which warns on every run. Loopback
//!   addresses never cross a network and are exempt, as browsers treat
//!   them as secure contexts.
//!
//! A refused online copy is like an invalid one: one warning line, and the
//! last good cached copy (which only a verified copy can have replaced) or
//! the packaged local file is used.
//!
//! Where the node's files are: `DocumentSource::node_root` (configure's
//! `--root`). Off a node, published documents cannot be verified and are
//! refused, and plain `http://` has no opt-in.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::load::DocumentSource;
use crate::debian::release::{DOCUMENTS_DIR, release_entries};
use crate::debian::{date, deb822};
use crate::files::{sha256_hex, write_atomic};

/// URLs the administrator allows over plain `http://` without a signature.
pub const INSECURE_HTTP: &str = "etc/confpack/insecure-http";
/// Largest `InRelease` fetched.
const MAX_RELEASE_BYTES: u64 = 16 * 1024 * 1024;

/// Before fetching `url`: `Err(reason)` when it may not be fetched at all,
/// else a warning to show (an opted-in plain `http://` URL).
pub fn admit(node_root: Option<&Path>, url: &str) -> Result<Option<String>, String> {
    if published(url).is_some() || !url.starts_with("http://") || loopback(url) {
        return Ok(None);
    }
    let allowed = node_root
        .and_then(|root| std::fs::read_to_string(root.join(INSECURE_HTTP)).ok())
        .is_some_and(|text| text.lines().map(str::trim).any(|line| line == url));
    if allowed {
        Ok(Some(format!(
            "warning: {url} is fetched over plain http:// without a signature \
             (allowed by /{INSECURE_HTTP}): anyone on the network path can change it"
        )))
    } else {
        Err(format!(
            "plain http:// without a signature is refused: use https://, publish the document \
             with `confpack publish --document` (verified with the repository's key), or allow \
             this URL in /{INSECURE_HTTP}"
        ))
    }
}

/// After fetching `url`: `Err(reason)` unless the document whose bytes have
/// `sha256` may be used (always `Ok` for a foreign document).
pub fn verify(source: &DocumentSource, url: &str, sha256: Option<&str>) -> Result<(), String> {
    let (Some(document), Some(sha256)) = (published(url), sha256) else {
        return Ok(());
    };
    let root = source
        .node_root
        .as_deref()
        .ok_or("a published document, but no node root around the cache to find its key")?;
    let key = trusted_key(root)?;
    let signed = fetch_bounded(&document.in_release, source.timeout)
        .map_err(|e| format!("{}: {e}", document.in_release))?;
    let release = gpgv(&key, &signed).map_err(|e| format!("{}: {e}", document.in_release))?;
    let state_path = source
        .cache_dir
        .join(format!("trust-{}.json", &sha256_hex(url.as_bytes())[..16]));
    let accepted = check_release(
        &release,
        &document,
        sha256,
        now(),
        State::read(&state_path, url).as_ref(),
    )
    .map_err(|e| format!("{}: {e}", document.in_release))?;
    // Only a speed-up for the attacker if lost: the next run checks again.
    let _ = std::fs::create_dir_all(&source.cache_dir).and_then(|()| {
        accepted
            .write(&state_path, url)
            .map_err(|e| std::io::Error::other(e.to_string()))
    });
    Ok(())
}

/// A URL that names a confpack-published document.
#[derive(Debug, PartialEq, Eq)]
struct Published {
    environment: String,
    /// `documents/<NAME>.xml`, as `Release` lists it.
    listed: String,
    in_release: String,
}

fn published(url: &str) -> Option<Published> {
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(['?', '#']) {
        return None;
    }
    let (base, rest) = url.rsplit_once("/dists/")?;
    let mut parts = rest.split('/');
    let (environment, directory, file) = (parts.next()?, parts.next()?, parts.next()?);
    let name = file.strip_suffix(".xml")?;
    let plain = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
    };
    if parts.next().is_some() || directory != DOCUMENTS_DIR || !plain(environment) || !plain(name) {
        return None;
    }
    Some(Published {
        environment: environment.to_string(),
        listed: format!("{DOCUMENTS_DIR}/{file}"),
        in_release: format!("{base}/dists/{environment}/InRelease"),
    })
}

fn loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The key of this node's confpack apt source, as bytes of a binary
/// keyring (gpgv reads no armor).
fn trusted_key(root: &Path) -> Result<Vec<u8>, String> {
    let list = crate::package::rooted(root, Path::new(crate::debian::sources::SOURCES_LIST));
    let text = std::fs::read_to_string(&list).map_err(|e| {
        format!(
            "a published document, but no trusted key: {} ({e}); run `confpack set-environment \
             ENV --repo-url URL --key FILE`",
            list.display()
        )
    })?;
    let source = crate::debian::sources::Source::parse(&text)
        .ok_or_else(|| format!("{}: no `deb [signed-by=…]` line", list.display()))?;
    let key = Path::new(&source.signed_by);
    let bytes = std::fs::read(key).map_err(|e| format!("{}: {e}", key.display()))?;
    dearmor(&bytes).ok_or_else(|| format!("{}: not an OpenPGP key", key.display()))
}

/// An armored key's binary form (a binary key as it is).
fn dearmor(bytes: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = match std::str::from_utf8(bytes) {
        Ok(text) if text.trim_start().starts_with("-----BEGIN PGP") => text,
        _ => return (!bytes.is_empty()).then(|| bytes.to_vec()),
    };
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if !line.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK") {
            continue;
        }
        // Armor headers end with an empty line; the body ends at `=CRC`.
        let body: String = lines
            .by_ref()
            .skip_while(|l| !l.is_empty())
            .skip(1)
            .take_while(|l| !l.starts_with('=') && !l.starts_with("-----"))
            .collect();
        out.extend(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()?,
        );
    }
    (!out.is_empty()).then_some(out)
}

/// Verifies a clear-signed `InRelease` with `gpgv`; the signed text.
fn gpgv(key: &[u8], signed: &[u8]) -> Result<String, String> {
    let temp = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let keyring = temp.path().join("trusted.gpg");
    let input = temp.path().join("InRelease");
    let output = temp.path().join("Release");
    std::fs::write(&keyring, key)
        .and_then(|()| std::fs::write(&input, signed))
        .map_err(|e| format!("{}: {e}", temp.path().display()))?;
    let result = Command::new("gpgv")
        .arg("--homedir")
        .arg(temp.path())
        .arg("--keyring")
        .arg(&keyring)
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("gpgv: {e} (install gpgv)"))?;
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let why = stderr
            .lines()
            .map(|l| l.trim_start_matches("gpgv: ").trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(format!(
            "the signature does not verify with the repository's key ({why})"
        ));
    }
    std::fs::read_to_string(&output).map_err(|e| format!("gpgv's output: {e}"))
}

/// The `Release` checks; the state to remember when they pass.
fn check_release(
    release: &str,
    document: &Published,
    sha256: &str,
    now: i64,
    last: Option<&State>,
) -> Result<State, String> {
    let paragraph = deb822::parse(release)
        .ok()
        .and_then(|p| p.into_iter().next())
        .ok_or("the signed Release is empty or malformed")?;
    let codename = paragraph.get("Codename").or(paragraph.get("Suite"));
    if codename.map(str::trim) != Some(document.environment.as_str()) {
        return Err(format!(
            "the signed Release is not the environment {}'s",
            document.environment
        ));
    }
    let date = paragraph
        .get("Date")
        .and_then(date::parse_rfc2822)
        .ok_or("the signed Release has no valid Date")?;
    if let Some(until) = paragraph.get("Valid-Until") {
        let until =
            date::parse_rfc2822(until).ok_or("the signed Release has an invalid Valid-Until")?;
        if now > until {
            return Err(format!(
                "the signed Release expired (Valid-Until: {})",
                date::format_rfc2822(until)
            ));
        }
    }
    let listed = release_entries(&paragraph)
        .into_iter()
        .find(|(_, _, path)| *path == document.listed)
        .map(|(sum, _, _)| sum.to_string())
        .ok_or_else(|| format!("the signed Release does not list {}", document.listed))?;
    if listed != sha256 {
        return Err(format!(
            "the document's bytes are not the ones the signed Release lists for {} (tampered?)",
            document.listed
        ));
    }
    if let Some(last) = last
        && (date < last.date || (date == last.date && sha256 != last.sha256))
    {
        return Err(format!(
            "the signed Release is dated {}, older than the one accepted before ({}): a replay",
            date::format_rfc2822(date),
            date::format_rfc2822(last.date)
        ));
    }
    Ok(State {
        url: String::new(),
        date,
        sha256: sha256.to_string(),
    })
}

/// The last `Release` accepted for a document URL.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    url: String,
    /// Its `Date`, seconds since the epoch.
    date: i64,
    /// The document's sha256 it listed.
    sha256: String,
}

impl State {
    fn read(path: &Path, url: &str) -> Option<State> {
        let state: State = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        (state.url == url).then_some(state)
    }

    fn write(mut self, path: &Path, url: &str) -> crate::error::Result<()> {
        self.url = url.to_string();
        let json = serde_json::to_vec_pretty(&self)
            .map_err(|e| crate::error::Error::io(path, std::io::Error::other(e)))?;
        write_atomic(path, &json, 0o600)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// GETs a small file over the same transport rules as the document.
fn fetch_bounded(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .https_only(url.starts_with("https://"))
        .tls_config(tls)
        .user_agent(concat!("confpack/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    if response.status() != ureq::http::StatusCode::OK {
        return Err(format!(
            "HTTP {} (no signature)",
            response.status().as_u16()
        ));
    }
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_RELEASE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_RELEASE_BYTES {
        return Err(format!("larger than {MAX_RELEASE_BYTES} bytes"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_documents_are_told_by_their_url() {
        assert_eq!(
            published("https://apt.example.com/confpack/dists/production/documents/webshop.xml"),
            Some(Published {
                environment: "production".into(),
                listed: "documents/webshop.xml".into(),
                in_release: "https://apt.example.com/confpack/dists/production/InRelease".into(),
            })
        );
        for foreign in [
            "https://config.example.com/webshop.xml",
            "https://x/dists/production/documents/a/b.xml",
            "https://x/dists/production/documents/webshop.xml?v=2",
            "https://x/dists/../documents/webshop.xml",
            "ftp://x/dists/p/documents/w.xml",
        ] {
            assert_eq!(published(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_published_or_allowed() {
        let temp = tempfile::tempdir().expect("tempdir");
        let cache = Some(temp.path());
        let url = "http://192.0.2.1/env.xml";
        assert!(admit(cache, url).expect_err("refused").contains("refused"));
        assert_eq!(admit(cache, "https://192.0.2.1/env.xml"), Ok(None));
        assert_eq!(admit(cache, "http://127.0.0.1:8080/env.xml"), Ok(None));
        assert_eq!(admit(cache, "http://[::1]:8080/env.xml"), Ok(None));
        assert_eq!(
            admit(cache, "http://192.0.2.1/dists/p/documents/env.xml"),
            Ok(None),
            "verified after the fetch"
        );
        let allow = temp.path().join(INSECURE_HTTP);
        std::fs::create_dir_all(allow.parent().expect("dir")).expect("mkdir");
        std::fs::write(&allow, format!("{url}\n")).expect("write");
        let warning = admit(cache, url).expect("allowed").expect("a warning");
        assert!(warning.contains("plain http://"), "{warning}");
        assert!(admit(cache, "http://192.0.2.1/other.xml").is_err());
        // Off a node there is no opt-in.
        assert!(admit(None, url).is_err());
    }

    fn document() -> Published {
        published("https://x/dists/production/documents/w.xml").expect("published")
    }

    fn release(date: i64, sum: &str, extra: &str) -> String {
        format!(
            "Codename: production\nDate: {}\n{extra}SHA256:\n {sum} 10 documents/w.xml\n",
            date::format_rfc2822(date)
        )
    }

    #[test]
    fn a_release_must_list_the_bytes_be_current_and_not_go_back() {
        let now = 1_800_000_000;
        let ok =
            check_release(&release(now, "aa", ""), &document(), "aa", now, None).expect("accepted");
        assert_eq!((ok.date, ok.sha256.as_str()), (now, "aa"));
        let tampered = check_release(&release(now, "aa", ""), &document(), "bb", now, None);
        assert!(tampered.expect_err("tampered").contains("tampered"));
        let replay = check_release(
            &release(now - 10, "cc", ""),
            &document(),
            "cc",
            now,
            Some(&ok),
        );
        assert!(replay.expect_err("replay").contains("replay"));
        let same = check_release(&release(now, "aa", ""), &document(), "aa", now, Some(&ok));
        assert!(same.is_ok(), "the same Release again");
        let expired = format!("Valid-Until: {}\n", date::format_rfc2822(now - 1));
        let old = check_release(
            &release(now - 100, "aa", &expired),
            &document(),
            "aa",
            now,
            None,
        );
        assert!(old.expect_err("expired").contains("expired"));
        let other = release(now, "aa", "").replace("production", "master");
        assert!(check_release(&other, &document(), "aa", now, None).is_err());
    }

    #[test]
    fn an_armored_key_is_read_as_binary() {
        let armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\nmQINBA==\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(
            dearmor(armored.as_bytes()),
            Some(vec![0x99, 0x02, 0x0d, 0x04])
        );
        assert_eq!(dearmor(&[0x99, 1]), Some(vec![0x99, 1]));
    }
}
