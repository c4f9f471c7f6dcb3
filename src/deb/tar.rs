//! Deterministic tar archives for the two members of a `.deb`.
//!
//! dpkg reads GNU tar; `dpkg-deb` writes paths as `./etc/x` and directories
//! with a trailing `/`, and lintian checks for both, so names are written
//! into the header by hand (the `tar` crate's `set_path` drops the `./`).
//! Every entry gets the same mtime, uid/gid 0 and owner `root`; the caller
//! supplies entries in sorted order, so the same input gives the same bytes.

use std::io::{self, Write};

use tar::{EntryType, Header};

/// A tar stream being written to `W`.
pub struct Tarball<W: Write> {
    builder: tar::Builder<W>,
    mtime: u64,
}

impl<W: Write> Tarball<W> {
    pub fn new(out: W, mtime: u64) -> Tarball<W> {
        Tarball {
            builder: tar::Builder::new(out),
            mtime,
        }
    }

    fn header(&self, entry_type: EntryType, mode: u32, size: u64) -> io::Result<Header> {
        let mut header = Header::new_gnu();
        header.set_entry_type(entry_type);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(self.mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        Ok(header)
    }

    /// `path` is relative and without `./` (`etc/x`); empty is the root.
    pub fn directory(&mut self, path: &str) -> io::Result<()> {
        let mut header = self.header(EntryType::Directory, 0o755, 0)?;
        let name = if path.is_empty() {
            "./".to_string()
        } else {
            format!("./{path}/")
        };
        self.append(&mut header, &name, &[])
    }

    pub fn file(&mut self, path: &str, data: &[u8], mode: u32) -> io::Result<()> {
        let mut header = self.header(EntryType::Regular, mode, data.len() as u64)?;
        self.append(&mut header, &format!("./{path}"), data)
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let mut header = self.header(EntryType::Symlink, 0o777, 0)?;
        let target = target.as_bytes();
        let slot_len = header.as_old().linkname.len();
        if target.len() > slot_len {
            self.long_name(b'K', target)?;
        }
        let used = target.len().min(slot_len);
        header.as_old_mut().linkname[..used].copy_from_slice(&target[..used]);
        self.append(&mut header, &format!("./{path}"), &[])
    }

    /// Writes the name into the header (a GNU long-name record first when it
    /// does not fit), then the entry.
    fn append(&mut self, header: &mut Header, name: &str, data: &[u8]) -> io::Result<()> {
        let bytes = name.as_bytes();
        let slot_len = header.as_old().name.len();
        if bytes.len() > slot_len {
            self.long_name(b'L', bytes)?;
        }
        let used = bytes.len().min(slot_len);
        let slot = &mut header.as_old_mut().name;
        slot[..used].copy_from_slice(&bytes[..used]);
        header.set_cksum();
        self.builder.append(header, data)
    }

    /// A `././@LongLink` record carrying a long path (`L`) or link target (`K`).
    fn long_name(&mut self, kind: u8, value: &[u8]) -> io::Result<()> {
        let mut header = self.header(EntryType::new(kind), 0o644, value.len() as u64 + 1)?;
        let marker = b"././@LongLink";
        header.as_old_mut().name[..marker.len()].copy_from_slice(marker);
        header.set_cksum();
        let mut data = value.to_vec();
        data.push(0);
        self.builder.append(&header, data.as_slice())
    }

    /// Writes the end-of-archive marker and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(bytes: &[u8]) -> Vec<(String, Option<String>)> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.path().expect("path").display().to_string(),
                    e.link_name()
                        .expect("link")
                        .map(|l| l.display().to_string()),
                )
            })
            .collect()
    }

    #[test]
    fn paths_keep_the_dot_slash_and_long_names_survive() {
        let long = format!("etc/{}", "d/".repeat(80) + "file");
        let target = "../".repeat(60) + "x";
        let mut tar = Tarball::new(Vec::new(), 7);
        tar.directory("").expect("root");
        tar.directory("etc").expect("dir");
        tar.file("etc/x", b"hi\n", 0o644).expect("file");
        tar.file(&long, b"", 0o644).expect("long");
        tar.symlink("etc/link", &target).expect("link");
        let bytes = tar.finish().expect("finish");
        let found = names(&bytes);
        assert_eq!(found[0].0, "./");
        assert_eq!(found[1].0, "./etc/");
        assert_eq!(found[2].0, "./etc/x");
        assert_eq!(found[3].0, format!("./{long}"));
        assert_eq!(found[4], ("./etc/link".to_string(), Some(target)));
    }
}
