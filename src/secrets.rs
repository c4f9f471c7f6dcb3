//! Secrets: encrypted at build time to the nodes' public keys with age
//! (x25519), decrypted at configure time with the node key, written 0600.
//!
//! Why age: a small, audited format with one well-kept Rust crate, no
//! configuration and no key server; a node key is one line. What is
//! secret, and how it travels:
//!
//! - files under a package's `secrets/` part (`secrets/etc/app/key.pem`,
//!   encrypted by the build, or `secrets/etc/app/key.pem.age`, encrypted
//!   beforehand with `confpack encrypt` so no clear text is in git either)
//!   ship as `/usr/share/confpack/<pkg>/secrets/etc/app/key.pem.age` and
//!   are decrypted by `confpack configure` to `/etc/app/key.pem`, mode 0600
//!   (or the package's declared mode), tracked like rendered templates so
//!   removing the package removes them;
//! - values of password questions in an environment document are written
//!   `age:<base64 of the age file>` (`confpack encrypt` prints that form);
//!   configure decrypts them before merging, so the store holds the clear
//!   value (0700 database, masked in every output) and a re-encryption
//!   alone changes nothing. The build refuses a clear password value in a
//!   document it ships.
//!
//! The node key is `/etc/confpack/key` (0600, refused when others can read
//! it): age identities, one a line, newest first. `confpack keygen` writes
//! it and prints the public key; `--rotate` adds a new identity in front
//! and keeps the old ones, so packages encrypted to either key decrypt
//! while the fleet moves over; `--drop-old` removes all but the newest.
//! Clear text never goes to argv, logs or listener messages: errors name
//! the secret (a key or a path), never its value.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use base64::Engine;

use crate::env::model::Document;
use crate::error::{Error, Problem, Result};
use crate::package::rooted;
use crate::render::Rendered;

/// The node key, on the node.
pub const KEY_PATH: &str = "/etc/confpack/key";
/// The prefix of an encrypted value in an environment document.
pub const VALUE_PREFIX: &str = crate::env::cleartext::ENCRYPTED_PREFIX;
/// Where a package's encrypted files live, under its share directory.
pub const SECRETS_DIR: &str = "secrets";
/// The extension of an encrypted file.
pub const EXTENSION: &str = "age";

fn secret_error(what: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Secret {
        what: what.into(),
        message: message.into(),
    }
}

/// Parses an age recipients list: one `age1…` public key a line, `#`
/// comments and blank lines allowed.
pub fn parse_recipients(
    origin: &str,
    text: &str,
) -> std::result::Result<Vec<age::x25519::Recipient>, Problem> {
    let mut recipients = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match age::x25519::Recipient::from_str(line) {
            Ok(recipient) => recipients.push(recipient),
            Err(e) => {
                return Err(Problem {
                    file: origin.to_string(),
                    line: Some(index as u64 + 1),
                    message: format!(
                        "not an age public key (age1…; `confpack keygen` prints one): {e}"
                    ),
                });
            }
        }
    }
    if recipients.is_empty() {
        return Err(Problem {
            file: origin.to_string(),
            line: None,
            message: "no recipients: list the nodes' public keys (`confpack keygen` prints one), one a line".into(),
        });
    }
    Ok(recipients)
}

/// Reads a recipients file.
pub fn read_recipients(path: &Path) -> Result<Vec<age::x25519::Recipient>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_recipients(&path.display().to_string(), &text).map_err(|p| Error::Invalid(vec![p]))
}

/// Encrypts `plaintext` to every recipient (binary age format).
pub fn encrypt(recipients: &[age::x25519::Recipient], plaintext: &[u8]) -> Result<Vec<u8>> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| secret_error("encryption", e.to_string()))?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| secret_error("encryption", e.to_string()))?;
    writer
        .write_all(plaintext)
        .and_then(|()| writer.finish().map(drop))
        .map_err(|e| secret_error("encryption", e.to_string()))?;
    Ok(out)
}

/// `age:<base64>`: a value for an environment document.
pub fn encrypt_value(recipients: &[age::x25519::Recipient], plaintext: &str) -> Result<String> {
    let bytes = encrypt(recipients, plaintext.as_bytes())?;
    Ok(format!(
        "{VALUE_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Whether a document value is encrypted (one definition, shared with
/// the clear-password check).
pub fn is_encrypted_value(value: &str) -> bool {
    crate::env::cleartext::is_encrypted(value)
}

/// The node's age identities.
pub struct NodeKey {
    path: PathBuf,
    identities: Vec<age::x25519::Identity>,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("path", &self.path)
            .field("identities", &self.identities.len())
            .finish()
    }
}

fn parse_identities(path: &Path, text: &str) -> Result<Vec<age::x25519::Identity>> {
    let mut identities = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = age::x25519::Identity::from_str(line).map_err(|_| {
            Error::at(
                path.display().to_string(),
                Some(index as u64 + 1),
                "not an age secret key (AGE-SECRET-KEY-1…)",
            )
        })?;
        identities.push(identity);
    }
    Ok(identities)
}

impl NodeKey {
    /// `<root>/etc/confpack/key`; refused when others may read it.
    pub fn load(root: &Path) -> Result<NodeKey> {
        let path = rooted(root, Path::new(KEY_PATH));
        if let Some(dir) = path.parent() {
            crate::files::check_own_directory(dir, "node key")?;
        }
        let metadata = std::fs::metadata(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                secret_error(
                    path.display().to_string(),
                    "there is no node key; run `confpack keygen` on this node and add the public key \
                     it prints to the configuration repository's recipients, then rebuild",
                )
            } else {
                Error::io(&path, e)
            }
        })?;
        if metadata.permissions().mode() & 0o077 != 0 {
            return Err(secret_error(
                path.display().to_string(),
                format!(
                    "the node key is readable by others (mode {:o}); run chmod 600 {}",
                    metadata.permissions().mode() & 0o777,
                    path.display()
                ),
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let identities = parse_identities(&path, &text)?;
        if identities.is_empty() {
            return Err(secret_error(
                path.display().to_string(),
                "the key file holds no key",
            ));
        }
        Ok(NodeKey { path, identities })
    }

    /// The public keys, newest first.
    pub fn public_keys(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|i| i.to_public().to_string())
            .collect()
    }

    /// Decrypts `ciphertext`; `what` names it in errors.
    pub fn decrypt(&self, what: &str, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let decryptor = age::Decryptor::new_buffered(ciphertext)
            .map_err(|e| secret_error(what, format!("not an age file: {e}")))?;
        let mut reader = decryptor
            .decrypt(self.identities.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| {
                secret_error(
                    what,
                    format!(
                        "cannot decrypt with the node key {} ({e}); was it encrypted to this node's public key {}?",
                        self.path.display(),
                        self.public_keys().first().cloned().unwrap_or_default()
                    ),
                )
            })?;
        let mut plaintext = Vec::new();
        reader
            .read_to_end(&mut plaintext)
            .map_err(|e| secret_error(what, format!("damaged: {e}")))?;
        Ok(plaintext)
    }

    /// Decrypts an `age:<base64>` value.
    pub fn decrypt_value(&self, what: &str, value: &str) -> Result<String> {
        let encoded = value
            .trim()
            .strip_prefix(VALUE_PREFIX)
            .ok_or_else(|| secret_error(what, "not an age: value"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.split_whitespace().collect::<String>())
            .map_err(|e| secret_error(what, format!("the age: value is not base64: {e}")))?;
        let plaintext = self.decrypt(what, &bytes)?;
        String::from_utf8(plaintext)
            .map_err(|_| secret_error(what, "the decrypted value is not UTF-8 text"))
    }
}

/// What `confpack keygen` did.
#[derive(Debug, Clone)]
pub struct Generated {
    pub path: PathBuf,
    /// The new public key (the recipient to add to the repository).
    pub public_key: String,
    /// Older keys still in the file (after `--rotate`).
    pub older: usize,
}

fn key_file_text(identities: &[age::x25519::Identity]) -> String {
    let mut text =
        String::from("# The confpack node key (age identities, newest first). Keep it 0600.\n");
    for identity in identities {
        text.push_str(&format!(
            "# public key: {}\n{}\n",
            identity.to_public(),
            identity.to_string().expose_secret()
        ));
    }
    text
}

fn write_key(path: &Path, identities: &[age::x25519::Identity]) -> Result<()> {
    if let Some(parent) = path.parent() {
        crate::files::check_own_directory(parent, "node key")?;
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    crate::files::write_atomic(path, key_file_text(identities).as_bytes(), 0o600)
}

/// `confpack keygen`: a new node key. An existing key is kept unless
/// `rotate` (a new key goes in front of the old ones).
pub fn keygen(root: &Path, rotate: bool) -> Result<Generated> {
    let path = rooted(root, Path::new(KEY_PATH));
    let existing = if path.exists() {
        if !rotate {
            return Err(Error::Usage(format!(
                "{} exists; `confpack keygen --public` prints its public key, `--rotate` adds a new key",
                path.display()
            )));
        }
        NodeKey::load(root)?.identities
    } else {
        Vec::new()
    };
    let identity = age::x25519::Identity::generate();
    let public_key = identity.to_public().to_string();
    let older = existing.len();
    let mut identities = vec![identity];
    identities.extend(existing);
    write_key(&path, &identities)?;
    Ok(Generated {
        path,
        public_key,
        older,
    })
}

/// `confpack keygen --drop-old`: keeps only the newest key; returns how
/// many were dropped.
pub fn drop_old_keys(root: &Path) -> Result<usize> {
    let key = NodeKey::load(root)?;
    let dropped = key.identities.len() - 1;
    if dropped > 0 {
        let newest: Vec<_> = key.identities.into_iter().take(1).collect();
        write_key(&key.path, &newest)?;
    }
    Ok(dropped)
}

/// Decrypts the encrypted values of secret questions among a document's
/// configured values (the node key is read only when there is one).
pub fn decrypt_configured(
    document: &Document,
    mut values: BTreeMap<String, String>,
    root: &Path,
) -> Result<BTreeMap<String, String>> {
    let mut key: Option<NodeKey> = None;
    for (name, value) in values.iter_mut() {
        let secret = document
            .template(name)
            .is_some_and(|t| t.question_type.is_secret());
        if !secret || !is_encrypted_value(value) {
            continue;
        }
        if key.is_none() {
            key = Some(NodeKey::load(root)?);
        }
        if let Some(key) = &key {
            *value = key.decrypt_value(name, value)?;
        }
    }
    Ok(values)
}

/// A package's encrypted files: (path relative to its share directory,
/// target path on the system).
pub fn list_files(package_dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let dir = package_dir.join(SECRETS_DIR);
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in crate::files::walk(&dir)? {
        let path = entry.path;
        if path.extension().is_none_or(|e| e != EXTENSION) || !entry.file_type.is_file() {
            continue;
        }
        let inside = entry.relative.with_extension("");
        if inside
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(secret_error(
                path.display().to_string(),
                "the target path must not contain . or ..",
            ));
        }
        let relative = Path::new(SECRETS_DIR).join(&entry.relative);
        out.push((relative, Path::new("/").join(inside)));
    }
    out.sort();
    Ok(out)
}

/// Decrypts a package's secret files in memory, to be written like
/// rendered templates; the mode is the encrypted file's (0600 unless the
/// package declared another).
pub fn render_files(root: &Path, package_dir: &Path) -> Result<Vec<Rendered>> {
    let files = list_files(package_dir)?;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let key = NodeKey::load(root)?;
    let mut out = Vec::new();
    for (relative, target) in files {
        let source = package_dir.join(&relative);
        let ciphertext = std::fs::read(&source).map_err(|e| Error::io(&source, e))?;
        let content = key.decrypt(&target.display().to_string(), &ciphertext)?;
        let mode = std::fs::metadata(&source)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o600);
        out.push(Rendered::new(
            target,
            relative,
            content,
            mode,
            Default::default(),
        ));
    }
    Ok(out)
}

/// Adds a package's encrypted files (names, modes, ciphertext) to the
/// configure hot path's fingerprint, so a new secret is never skipped.
pub fn add_to_fingerprint(
    fingerprint: &mut crate::files::Fingerprint,
    package_dir: &Path,
) -> std::io::Result<()> {
    let files = list_files(package_dir).map_err(|e| std::io::Error::other(e.to_string()))?;
    for (relative, _) in files {
        let path = package_dir.join(&relative);
        let metadata = std::fs::metadata(&path)?;
        fingerprint
            .add_path(&relative)
            .add(&metadata.permissions().mode().to_le_bytes())
            .add(&std::fs::read(&path)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(root: &Path) -> String {
        keygen(root, false).expect("keygen").public_key
    }

    #[test]
    fn a_value_encrypted_to_the_node_key_decrypts_there_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let public = node(dir.path());
        let recipients = parse_recipients("r", &format!("# node\n{public}\n")).expect("parse");
        let value = encrypt_value(&recipients, "s3cret pass").expect("encrypt");
        assert!(is_encrypted_value(&value));
        assert!(!value.contains("s3cret"));
        let key = NodeKey::load(dir.path()).expect("load");
        assert_eq!(
            key.decrypt_value("k", &value).expect("decrypt"),
            "s3cret pass"
        );

        let other = tempfile::tempdir().expect("tempdir");
        node(other.path());
        let error = NodeKey::load(other.path())
            .expect("load")
            .decrypt_value("webshop/db.password", &value)
            .expect_err("another node cannot decrypt");
        let message = error.to_string();
        assert!(message.contains("webshop/db.password"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn the_key_file_is_private_and_rotation_keeps_the_old_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = node(dir.path());
        let path = dir.path().join("etc/confpack/key");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(keygen(dir.path(), false).is_err(), "never overwritten");
        let old = encrypt(&parse_recipients("r", &first).expect("r"), b"old").expect("enc");

        let rotated = keygen(dir.path(), true).expect("rotate");
        assert_eq!(rotated.older, 1);
        let key = NodeKey::load(dir.path()).expect("load");
        assert_eq!(key.public_keys(), [rotated.public_key.clone(), first]);
        assert_eq!(
            key.decrypt("old", &old).expect("old still decrypts"),
            b"old"
        );
        assert_eq!(drop_old_keys(dir.path()).expect("drop"), 1);
        assert!(
            NodeKey::load(dir.path())
                .expect("load")
                .decrypt("old", &old)
                .is_err()
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = NodeKey::load(dir.path()).expect_err("readable key refused");
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }

    #[test]
    fn recipients_must_be_age_public_keys() {
        let problem = parse_recipients("recipients", "# x\nnot-a-key\n").expect_err("refused");
        assert_eq!(problem.line, Some(2));
        assert!(parse_recipients("recipients", "# only comments\n").is_err());
    }
}
