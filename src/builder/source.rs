//! Reading a file of the configuration repository, and nothing else.
//!
//! Whoever can commit to the repository controls its symlinks. A symlink
//! followed while building (`secrets/etc/a -> /etc/shadow`,
//! `recipients -> /proc/self/environ`) would put a file of the build
//! machine (its CI tokens) into a package, or into the build's messages.
//! So every file the builder reads goes through [`read`]: the path is
//! resolved, must stay inside the repository (or contain no symlink at
//! all), must be a regular file (reading a FIFO would block the build),
//! and must still be that file once opened. A path a manifest names (an
//! environment document, a schema, a recipients file) is first resolved by
//! [`resolve`], the same way for all of them.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Largest file a package may ship: packages are assembled in memory (about
/// three times the file's size at the peak), so a stray huge file must be
/// a clear error, not the build killed for lack of memory.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// What a symlink on the way to a file may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// No symlink anywhere on the path below the repository root (secrets,
    /// shipped files, templates, script parts: a symlink there is shipped
    /// as a symlink or refused, never read through).
    Refused,
    /// Symlinks are followed as long as the file they lead to is inside
    /// the repository (manifests, environment documents, schemas,
    /// recipients: a shared file may be linked).
    InsideRepository,
}

/// Why a repository file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "{link} is a symlink; a file here is never read through a symlink (it could pull a file \
         of the build machine into the package): commit the file itself"
    )]
    Symlink { link: String },
    #[error(
        "it resolves to {}, outside the repository; a file the build reads must be inside it",
        .resolved.display()
    )]
    Outside { resolved: PathBuf },
    #[error("not a regular file (a FIFO, a device or a directory?)")]
    NotRegular,
    #[error("the file has {size} bytes, more than the {limit} allowed here")]
    TooLarge { size: u64, limit: u64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ReadError {
    /// The file does not exist (an optional file, or one deleted in the
    /// work tree).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads `repo/relative` (a plain relative path: no `.`, `..` or leading
/// `/`), at most `limit` bytes.
pub fn read(repo: &Path, relative: &str, links: Links, limit: u64) -> Result<Vec<u8>, ReadError> {
    let root = repo.canonicalize()?;
    let real = repo.join(relative).canonicalize()?;
    match links {
        Links::Refused => {
            if real != root.join(relative) {
                return Err(ReadError::Symlink {
                    link: first_symlink(repo, relative),
                });
            }
        }
        Links::InsideRepository => {
            if !real.starts_with(&root) {
                return Err(ReadError::Outside { resolved: real });
            }
        }
    }
    // Checked before opening: opening a FIFO waits for a writer.
    let checked = std::fs::symlink_metadata(&real)?;
    if !checked.is_file() {
        return Err(ReadError::NotRegular);
    }
    let file = std::fs::File::open(&real)?;
    let metadata = file.metadata()?;
    // Replaced between the check and the open: not the file checked.
    if (metadata.dev(), metadata.ino()) != (checked.dev(), checked.ino()) {
        return Err(ReadError::NotRegular);
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    let mut data = Vec::with_capacity(metadata.len() as usize);
    file.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: data.len() as u64,
            limit,
        });
    }
    Ok(data)
}

/// [`read`] as UTF-8 text.
pub fn read_text(
    repo: &Path,
    relative: &str,
    links: Links,
    limit: u64,
) -> Result<String, ReadError> {
    let data = read(repo, relative, links, limit)?;
    String::from_utf8(data).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        ))
    })
}

/// A file the package ships or renders: read as it is in the package
/// tree, never through a symlink, at most [`MAX_FILE_BYTES`].
pub fn read_shipped(repo: &Path, relative: &str) -> Result<Vec<u8>, String> {
    read(repo, relative, Links::Refused, MAX_FILE_BYTES).map_err(|e| match e {
        ReadError::TooLarge { size, limit } => format!(
            "the file has {size} bytes, more than the {limit} a confpack package \
             may ship per file; ship it in an ordinary Debian package"
        ),
        other => other.to_string(),
    })
}

/// A file a manifest names (environment document, schema): a symlink may
/// lead to it, but not out of the repository.
pub fn read_in_repo(repo: &Path, relative: &str) -> Result<Vec<u8>, String> {
    read(repo, relative, Links::InsideRepository, MAX_FILE_BYTES).map_err(|e| e.to_string())
}

/// Why a path a manifest names cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// `/etc/x`: the path must be relative.
    Absolute,
    /// `../../..` climbs out of the repository.
    Leaves,
    /// A symlink on the way leads out of the repository.
    Outside { resolved: PathBuf },
}

impl PathError {
    /// The message for `given`, a path written relative to `relative_to`
    /// (as the user knows it: "the control/ directory").
    pub fn message(&self, given: &str, relative_to: &str) -> String {
        match self {
            PathError::Absolute => format!("{given:?}: give the path relative to {relative_to}"),
            PathError::Leaves => format!("{given:?} leaves the repository"),
            PathError::Outside { resolved } => format!(
                "{given:?} resolves to {}, outside the repository",
                resolved.display()
            ),
        }
    }
}

/// Resolves `given`, a path relative to `base` (a repository-relative
/// directory, `""` for the root), to a repository-relative path. Refused:
/// an absolute path, one whose `..` leaves the repository, and one that
/// exists but leads out of the repository through a symlink. A path that
/// does not exist resolves (whether it must exist is the caller's call).
pub fn resolve(repo: &Path, base: &str, given: &str) -> Result<String, PathError> {
    let path = Path::new(given);
    if path.is_absolute() {
        return Err(PathError::Absolute);
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            // The guard pops: `..` that finds nothing to climb out of escapes.
            Component::ParentDir if parts.pop().is_none() => return Err(PathError::Leaves),
            _ => {}
        }
    }
    let relative = parts.join("/");
    if let (Ok(real), Ok(root)) = (repo.join(&relative).canonicalize(), repo.canonicalize())
        && !real.starts_with(&root)
    {
        return Err(PathError::Outside { resolved: real });
    }
    Ok(relative)
}

/// The first path on the way to `relative` that is a symlink
/// (repository-relative), for the message.
fn first_symlink(repo: &Path, relative: &str) -> String {
    let mut prefix = PathBuf::new();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        prefix.push(part);
        if std::fs::symlink_metadata(repo.join(&prefix)).is_ok_and(|m| m.file_type().is_symlink()) {
            return prefix.display().to_string();
        }
    }
    relative.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn repository() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("repo/a")).expect("mkdir");
        std::fs::write(dir.path().join("repo/a/file"), "inside").expect("write");
        std::fs::write(dir.path().join("outside"), "outside").expect("write");
        dir
    }

    #[test]
    fn a_link_inside_the_repository_is_followed_only_where_allowed() {
        let dir = repository();
        let repo = dir.path().join("repo");
        symlink("a/file", repo.join("link")).expect("symlink");
        let read = |links| read(&repo, "link", links, 100);
        assert_eq!(
            read(Links::InsideRepository).expect("inside"),
            b"inside".to_vec()
        );
        let error = read(Links::Refused).expect_err("refused");
        assert!(matches!(&error, ReadError::Symlink { link } if link == "link"));
    }

    #[test]
    fn a_link_out_of_the_repository_is_never_followed() {
        let dir = repository();
        let repo = dir.path().join("repo");
        symlink("../outside", repo.join("up")).expect("symlink");
        symlink(dir.path(), repo.join("a/dir")).expect("symlink");
        for relative in ["up", "a/dir/outside"] {
            assert!(matches!(
                read(&repo, relative, Links::InsideRepository, 100),
                Err(ReadError::Outside { .. })
            ));
            assert!(matches!(
                read(&repo, relative, Links::Refused, 100),
                Err(ReadError::Symlink { .. })
            ));
        }
    }

    #[test]
    fn manifest_paths_resolve_inside_the_repository_only() {
        let dir = repository();
        let repo = dir.path().join("repo");
        symlink("../../outside", repo.join("a/up")).expect("symlink");
        symlink("file", repo.join("a/same")).expect("symlink");
        let outside = dir.path().canonicalize().expect("real").join("outside");
        let table: [(&str, &str, Result<&str, PathError>); 9] = [
            ("a", "file", Ok("a/file")),
            ("a", "./file", Ok("a/file")),
            ("a", "../a/file", Ok("a/file")),
            ("", "a/file", Ok("a/file")),
            ("a", "missing.xml", Ok("a/missing.xml")),
            ("a", "same", Ok("a/same")),
            ("a", "/etc/passwd", Err(PathError::Absolute)),
            ("a", "../../file", Err(PathError::Leaves)),
            ("a", "up", Err(PathError::Outside { resolved: outside })),
        ];
        for (base, given, expected) in table {
            assert_eq!(
                resolve(&repo, base, given),
                expected.map(str::to_string),
                "{given} from {base:?}"
            );
        }
        assert_eq!(resolve(&repo, "", ".."), Err(PathError::Leaves));
    }

    #[test]
    fn path_errors_name_the_path_as_written() {
        let table = [
            (
                PathError::Absolute,
                "\"/x\": give the path relative to the control/ directory",
            ),
            (PathError::Leaves, "\"/x\" leaves the repository"),
            (
                PathError::Outside {
                    resolved: "/y".into(),
                },
                "\"/x\" resolves to /y, outside the repository",
            ),
        ];
        for (error, message) in table {
            assert_eq!(error.message("/x", "the control/ directory"), message);
        }
    }

    #[test]
    fn a_fifo_and_a_large_file_are_refused() {
        let dir = repository();
        let repo = dir.path().join("repo");
        let status = std::process::Command::new("mkfifo")
            .arg(repo.join("fifo"))
            .status()
            .expect("mkfifo");
        assert!(status.success());
        assert!(matches!(
            read(&repo, "fifo", Links::Refused, 100),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read(&repo, "a/file", Links::Refused, 3),
            Err(ReadError::TooLarge { size: 6, limit: 3 })
        ));
    }
}
