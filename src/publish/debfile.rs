//! Reading a `.deb` for publishing: its control paragraph and checksums.
//!
//! The control archive is read in-process when it is gzip-compressed or
//! plain (what `confpack build` writes); for other compressions (dpkg-deb's
//! default xz, zstd) `dpkg-deb --field` is asked, so any Debian package
//! can be published.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use md5::{Digest as _, Md5};

use super::deb822::{self, Paragraph};
use crate::error::{Error, Result};
use crate::files::hex;

/// A package file about to be published.
#[derive(Debug, Clone)]
pub struct DebFile {
    pub path: PathBuf,
    pub control: Paragraph,
    pub package: String,
    pub version: String,
    pub architecture: String,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
}

fn invalid(path: &Path, message: impl Into<String>) -> Error {
    Error::at(path.display().to_string(), None, message)
}

/// Reads `path`.
pub fn read(path: &Path) -> Result<DebFile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = control_text(path, &bytes)?;
    let mut paragraphs = deb822::parse(&text)
        .map_err(|(line, message)| invalid(path, format!("control file line {line}: {message}")))?;
    if paragraphs.len() != 1 {
        return Err(invalid(path, "the control file must hold one paragraph"));
    }
    let control = paragraphs.remove(0);
    let field = |name: &str| -> Result<String> {
        control
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && !v.contains('\n'))
            .ok_or_else(|| invalid(path, format!("the control file has no {name} field")))
    };
    let package = field("Package")?;
    let version = field("Version")?;
    let architecture = field("Architecture")?;
    if !crate::package::valid_package_name(&package) {
        return Err(invalid(
            path,
            format!("{package:?} is not a valid package name"),
        ));
    }
    if version.contains('/') || version.contains(char::is_whitespace) {
        return Err(invalid(path, format!("{version:?} is not a valid version")));
    }
    if !architecture
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid(
            path,
            format!("{architecture:?} is not a Debian architecture"),
        ));
    }
    Ok(DebFile {
        path: path.to_path_buf(),
        control,
        package,
        version,
        architecture,
        size: bytes.len() as u64,
        md5: hex(&Md5::digest(&bytes)),
        sha256: crate::files::sha256_hex(&bytes),
    })
}

/// The text of the `control` file inside the package.
fn control_text(path: &Path, bytes: &[u8]) -> Result<String> {
    let mut archive = ar::Archive::new(bytes);
    let mut first = true;
    while let Some(entry) = archive.next_entry() {
        let mut entry =
            entry.map_err(|e| invalid(path, format!("not a .deb (ar archive): {e}")))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        if first && name != "debian-binary" {
            return Err(invalid(
                path,
                "not a .deb: debian-binary is not the first member",
            ));
        }
        first = false;
        let reader: Box<dyn Read + '_> = match name.as_str() {
            "control.tar.gz" => Box::new(flate2::read::GzDecoder::new(&mut entry)),
            "control.tar" => Box::new(&mut entry),
            other if other.starts_with("control.tar") => return dpkg_deb_fields(path),
            _ => continue,
        };
        let mut tar = tar::Archive::new(reader);
        let entries = tar
            .entries()
            .map_err(|e| invalid(path, format!("{name}: {e}")))?;
        for file in entries {
            let mut file = file.map_err(|e| invalid(path, format!("{name}: {e}")))?;
            let file_path = file
                .path()
                .map_err(|e| invalid(path, format!("{name}: {e}")))?
                .into_owned();
            if file_path == Path::new("./control") || file_path == Path::new("control") {
                let mut text = String::new();
                file.read_to_string(&mut text)
                    .map_err(|e| invalid(path, format!("{name}: control: {e}")))?;
                return Ok(text);
            }
        }
        return Err(invalid(path, format!("{name} has no control file")));
    }
    Err(invalid(path, "not a .deb: no control archive"))
}

/// `dpkg-deb --field FILE`: the control paragraph of a package whose
/// control archive is compressed with something other than gzip.
fn dpkg_deb_fields(path: &Path) -> Result<String> {
    let mut dpkg_deb = Command::new("dpkg-deb");
    dpkg_deb.arg("--field").arg(path);
    let output = crate::process::command::output(&mut dpkg_deb).map_err(|error| match error {
        Error::Command { command, message } if message.contains("not installed") => {
            Error::Command {
                command,
                message: format!(
                    "{message}; the control archive is not gzip-compressed, and reading it \
                     needs dpkg-deb"
                ),
            }
        }
        other => other,
    })?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The `.deb` files named: files as they are, directories' `*.deb` (not
/// recursive), sorted.
pub fn collect(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let metadata = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if metadata.is_dir() {
            let mut found = Vec::new();
            for entry in std::fs::read_dir(input).map_err(|e| Error::io(input, e))? {
                let entry = entry.map_err(|e| Error::io(input, e))?;
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "deb") && path.is_file() {
                    found.push(path);
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}
