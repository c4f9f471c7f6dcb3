//! Writing `.deb` files: an `ar` archive of `debian-binary`,
//! `control.tar.gz` and `data.tar.gz`.
//!
//! Why our own writer instead of `dpkg-deb --build`: it runs in-process
//! (no tree to stage on disk, no fork per package, so a repository of
//! hundreds of packages builds in a fraction of the time) and it is
//! deterministic by construction: entries sorted, one mtime, uid/gid 0,
//! gzip headers without a timestamp. The same [`Deb`] gives the same bytes,
//! which is what makes `confpack build` reproducible. Writers are generic
//! over `W: Write`, so tests build a package in memory and read it back.

pub mod control;
pub mod tar;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use flate2::{Compression, GzBuilder};
use md5::{Digest, Md5};

pub use control::Control;

/// What a path in the package is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Directory,
    File { data: Vec<u8>, mode: u32 },
    Symlink { target: String },
}

/// A binary package, ready to be written.
#[derive(Debug, Clone)]
pub struct Deb {
    pub control: Control,
    /// Maintainer scripts by name (`postinst`, …), written 0755.
    pub scripts: BTreeMap<String, String>,
    /// Contents by absolute path (`/etc/x`); parent directories are added
    /// when written.
    pub entries: BTreeMap<String, Entry>,
}

impl Deb {
    pub fn new(control: Control) -> Deb {
        Deb {
            control,
            scripts: BTreeMap::new(),
            entries: BTreeMap::new(),
        }
    }

    /// Every path with its parent directories, relative (`etc/x`), sorted
    /// so that a directory comes before what it holds.
    fn tree(&self) -> BTreeMap<Vec<&str>, &Entry> {
        let mut tree: BTreeMap<Vec<&str>, &Entry> = BTreeMap::new();
        for (path, entry) in &self.entries {
            let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            for depth in 0..parts.len() {
                tree.entry(parts[..depth].to_vec())
                    .or_insert(&Entry::Directory);
            }
            tree.insert(parts, entry);
        }
        tree.entry(Vec::new()).or_insert(&Entry::Directory);
        tree
    }

    /// `Installed-Size` the way dpkg-gencontrol counts it: each file's size
    /// rounded up to KiB, plus one per directory and symlink.
    pub fn installed_size(&self) -> u64 {
        self.tree()
            .values()
            .map(|entry| match entry {
                Entry::File { data, .. } => (data.len() as u64).div_ceil(1024),
                Entry::Directory | Entry::Symlink { .. } => 1,
            })
            .sum()
    }

    /// The `md5sums` control file: regular files only, sorted by path.
    pub fn md5sums(&self) -> String {
        let mut out = String::new();
        for (path, entry) in &self.entries {
            if let Entry::File { data, .. } = entry {
                let hex = crate::files::hex(&Md5::digest(data));
                out.push_str(&format!("{hex}  {}\n", path.trim_start_matches('/')));
            }
        }
        out
    }

    /// The file name Debian gives this package (the epoch is not part of it).
    pub fn file_name(&self) -> String {
        let version = match self.control.version.split_once(':') {
            Some((_, rest)) => rest,
            None => self.control.version.as_str(),
        };
        format!(
            "{}_{}_{}.deb",
            self.control.package, version, self.control.architecture
        )
    }

    /// Writes the package to `out`; every timestamp is `mtime`.
    pub fn write<W: Write>(&self, out: W, mtime: u64) -> io::Result<W> {
        let control_tar = self.control_tar(mtime)?;
        let data_tar = self.data_tar(mtime)?;
        let mut ar = ::ar::Builder::new(out);
        for (name, data) in [
            ("debian-binary", b"2.0\n".as_slice()),
            ("control.tar.gz", control_tar.as_slice()),
            ("data.tar.gz", data_tar.as_slice()),
        ] {
            let mut header = ::ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
            header.set_mtime(mtime);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mode(0o100644);
            ar.append(&header, data)?;
        }
        ar.into_inner()
    }

    fn control_tar(&self, mtime: u64) -> io::Result<Vec<u8>> {
        let mut tar = tar::Tarball::new(gzip(Vec::new(), Compression::best()), mtime);
        tar.directory("")?;
        let mut files: BTreeMap<&str, (Vec<u8>, u32)> = BTreeMap::new();
        let control = self
            .control
            .render(self.installed_size())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        files.insert("control", (control.into_bytes(), 0o644));
        let md5sums = self.md5sums();
        if !md5sums.is_empty() {
            files.insert("md5sums", (md5sums.into_bytes(), 0o644));
        }
        for (name, script) in &self.scripts {
            files.insert(name, (script.clone().into_bytes(), 0o755));
        }
        for (name, (data, mode)) in &files {
            tar.file(name, data, *mode)?;
        }
        tar.finish()?.finish()
    }

    fn data_tar(&self, mtime: u64) -> io::Result<Vec<u8>> {
        let mut tar = tar::Tarball::new(gzip(Vec::new(), Compression::default()), mtime);
        for (parts, entry) in self.tree() {
            let path = parts.join("/");
            match entry {
                Entry::Directory => tar.directory(&path)?,
                Entry::File { data, mode } => tar.file(&path, data, *mode)?,
                Entry::Symlink { target } => tar.symlink(&path, target)?,
            }
        }
        tar.finish()?.finish()
    }

    /// Directories the package holds (with parents), absolute.
    pub fn directories(&self) -> BTreeSet<String> {
        self.tree()
            .into_iter()
            .filter(|(_, e)| matches!(e, Entry::Directory))
            .map(|(parts, _)| format!("/{}", parts.join("/")))
            .collect()
    }
}

/// A gzip stream without a file name or timestamp, so its bytes depend on
/// the content alone.
pub fn gzip<W: Write>(out: W, level: Compression) -> flate2::write::GzEncoder<W> {
    GzBuilder::new().mtime(0).write(out, level)
}

/// Compresses `data` the way Debian wants documentation compressed
/// (`gzip -9n`).
pub fn gzip_best(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = gzip(Vec::new(), Compression::best());
    encoder.write_all(data)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Deb {
        let mut deb = Deb::new(Control {
            package: "demo".into(),
            version: "1.0+git20260101.120000.abcdef1".into(),
            architecture: "all".into(),
            maintainer: "Ops <ops@example.com>".into(),
            description: "demo package\n a longer text".into(),
            ..Control::default()
        });
        deb.entries.insert(
            "/etc/demo/a.conf".into(),
            Entry::File {
                data: b"a=1\n".to_vec(),
                mode: 0o644,
            },
        );
        deb.entries.insert(
            "/etc/demo/link".into(),
            Entry::Symlink {
                target: "a.conf".into(),
            },
        );
        deb.scripts
            .insert("postinst".into(), "#!/bin/sh\nset -e\n".into());
        deb
    }

    fn members(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut archive = ::ar::Archive::new(bytes);
        let mut out = BTreeMap::new();
        let mut order = Vec::new();
        while let Some(entry) = archive.next_entry() {
            let mut entry = entry.expect("member");
            let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            order.push(name.clone());
            out.insert(name, data);
        }
        assert_eq!(order, ["debian-binary", "control.tar.gz", "data.tar.gz"]);
        out
    }

    fn untar(gz: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut archive = ::tar::Archive::new(flate2::read::GzDecoder::new(gz));
        archive
            .entries()
            .expect("entries")
            .map(|e| {
                let mut e = e.expect("entry");
                let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).expect("read");
                (path, data)
            })
            .collect()
    }

    #[test]
    fn the_same_package_gives_the_same_bytes() {
        let first = sample().write(Vec::new(), 1_700_000_000).expect("write");
        let second = sample().write(Vec::new(), 1_700_000_000).expect("write");
        assert_eq!(first, second);
    }

    #[test]
    fn members_hold_control_md5sums_scripts_and_parent_directories() {
        let bytes = sample().write(Vec::new(), 0).expect("write");
        let members = members(&bytes);
        assert_eq!(members["debian-binary"], b"2.0\n");
        let control = untar(&members["control.tar.gz"]);
        let names: Vec<&str> = control.keys().map(String::as_str).collect();
        assert_eq!(names, ["./", "./control", "./md5sums", "./postinst"]);
        assert_eq!(
            String::from_utf8_lossy(&control["./md5sums"]),
            format!(
                "{}  etc/demo/a.conf\n",
                crate::files::hex(&Md5::digest(b"a=1\n"))
            )
        );
        let text = String::from_utf8_lossy(&control["./control"]).into_owned();
        assert!(text.contains("Installed-Size: 5\n"), "{text}");
        let data = untar(&members["data.tar.gz"]);
        let names: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "./",
                "./etc/",
                "./etc/demo/",
                "./etc/demo/a.conf",
                "./etc/demo/link"
            ]
        );
    }

    #[test]
    fn file_names_leave_out_the_epoch() {
        let mut deb = sample();
        deb.control.version = "2:1.0".into();
        assert_eq!(deb.file_name(), "demo_1.0_all.deb");
    }
}
