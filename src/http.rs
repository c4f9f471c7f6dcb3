//! HTTP GETs as confpack makes them, shared by the environment document
//! ([`crate::env::load`]) and declared downloads
//! ([`crate::declared::downloads`]), so both have the same limits.
//!
//! Limits: the whole request (connect, every redirect, headers and the
//! body read from the response) must finish within one timeout, at most
//! [`MAX_REDIRECTS`] redirects are followed, each checked before it is
//! requested (only to `http(s)://`, never from `https://` down to
//! `http://`, and for [`Redirects::SameOrigin`] never to another server),
//! and a body is copied with a byte limit ([`copy_bounded`]). Proxies come
//! from the usual environment variables, as ureq reads them.

use std::fs::File;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::files::hex;

/// Redirects followed before the request counts as failed.
pub const MAX_REDIRECTS: u32 = 5;

/// Which redirects [`get`] follows (at most five, only to http(s), never
/// from https to http).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// The resource may move to another server.
    AnyOrigin,
    /// A schema and its includes stay on their origin.
    SameOrigin,
}

/// Why [`get`] returned no response.
#[derive(Debug)]
pub enum Failed {
    /// The request itself failed (timeout, refused, reset, TLS, …).
    Transport(ureq::Error),
    /// A redirect was refused; the reason in one line.
    Refused(String),
}

/// Whether `url` is `http://` or `https://` (any case).
pub fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// A redirect's `Location` (or an include's location) made absolute
/// against the URL it came from.
pub fn join_url(base: &str, location: &str) -> String {
    let has_scheme = location.split_once(':').is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        return location.to_string();
    }
    let scheme = base.split_once("://").map(|(s, _)| s).unwrap_or("http");
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{}{location}", origin_of(base));
    }
    let path_end = base.find(['?', '#']).unwrap_or(base.len());
    let directory = base[..path_end]
        .rsplit_once('/')
        .map(|(d, _)| d)
        .unwrap_or(base);
    format!("{directory}/{}", location.trim_start_matches("./"))
}

/// `scheme://host[:port]` of a URL, lower-cased.
pub fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    )
}

/// GETs `url` with `headers`, following redirects as `redirects` allows;
/// the whole chain and the reading of the returned body share `timeout`.
/// Any status other than a redirect is returned (a 304 too), for the
/// caller to judge.
pub fn get(
    url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
    redirects: Redirects,
) -> Result<ureq::http::Response<ureq::Body>, Failed> {
    if !is_http(url) {
        return Err(Failed::Refused(
            "only http:// and https:// URLs are supported".to_string(),
        ));
    }
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    // Redirects are followed here, each checked before it is requested.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(tls)
        .user_agent(concat!("confpack/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let deadline = Instant::now() + timeout;
    let mut current = url.to_string();
    let mut hops = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Failed::Transport(ureq::Error::Timeout(
                ureq::Timeout::Global,
            )));
        }
        let mut request = agent.get(&current);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .config()
            .timeout_global(Some(remaining))
            .build()
            .call()
            .map_err(Failed::Transport)?;
        if !response.status().is_redirection()
            || response.status() == ureq::http::StatusCode::NOT_MODIFIED
        {
            return Ok(response);
        }
        hops += 1;
        if hops > MAX_REDIRECTS {
            return Err(Failed::Refused(format!(
                "more than {MAX_REDIRECTS} redirects"
            )));
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Failed::Refused(format!(
                    "HTTP {} without a Location",
                    response.status().as_u16()
                ))
            })?;
        let next = join_url(&current, location);
        if !is_http(&next) {
            return Err(Failed::Refused(format!(
                "redirected to {next}, which is not an http(s) URL; refusing"
            )));
        }
        if current.starts_with("https://") && !next.starts_with("https://") {
            return Err(Failed::Refused(format!(
                "redirected to {next}, which is not https; refusing the downgrade"
            )));
        }
        if redirects == Redirects::SameOrigin && origin_of(&next) != origin_of(url) {
            return Err(Failed::Refused(format!(
                "redirected to {next}, another origin than {}; refusing",
                origin_of(url)
            )));
        }
        current = next;
    }
}

/// A one-line reason for a failed request (a body over a ureq limit is
/// the caller's to word).
pub fn describe(error: ureq::Error, timeout: Duration) -> String {
    match error {
        ureq::Error::Timeout(_) => format!(
            "no complete answer within {} ms (timed out)",
            timeout.as_millis()
        ),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            format!("the server closed the connection early ({e})")
        }
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            "connection refused".to_string()
        }
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::RequireHttpsOnly(to) => {
            format!("redirected to {to}, which is not https; refusing the downgrade")
        }
        ureq::Error::TooManyRedirects => format!("more than {MAX_REDIRECTS} redirects"),
        other => one_line(&other.to_string()),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why [`copy_bounded`] stopped.
#[derive(Debug)]
pub enum CopyError {
    TooLarge,
    Read(io::Error),
    Write(io::Error),
}

/// Copies at most `max_bytes` into `file` (at its current position) and
/// syncs it; returns the sha256 of what was copied. What was read before
/// a failure is in the file.
pub fn copy_bounded(
    reader: impl Read,
    file: &mut File,
    max_bytes: u64,
) -> Result<String, CopyError> {
    // One byte more than allowed tells "exactly the limit" from "too large".
    let mut reader = reader.take(max_bytes.saturating_add(1));
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        total = total.saturating_add(n as u64);
        if total > max_bytes {
            return Err(CopyError::TooLarge);
        }
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n]).map_err(CopyError::Write)?;
    }
    file.sync_all().map_err(CopyError::Write)?;
    Ok(hex(&hasher.finalize()))
}
