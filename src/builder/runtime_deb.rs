//! The `confpack-runtime` package: the `confpack` binary that every
//! configuration package's maintainer scripts call.
//!
//! Built from the running binary (or `--runtime-binary`), so the runtime
//! on the nodes is the confpack that built their packages. Its `Depends`
//! are found the way dpkg-shlibdeps would in spirit: the ELF `DT_NEEDED`
//! libraries plus the ones confpack loads on first use
//! ([`crate::env::LOADED_LATER`]: libxml2), each looked up with
//! `dpkg-query --search` to the package that ships it (lintian rejects a
//! binary without its libc dependency; a node without libxml2 could not
//! read its environment document).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use object::Object;

use crate::Listener;
use crate::deb::{Control, Deb, Entry};
use crate::error::{Error, Result};
use crate::runtime::timer;

/// What confpack's debconf agent needs on the node besides libraries.
pub const AGENT_NEEDS: &str = "libtext-iconv-perl";

/// The name every configuration package depends on.
pub const PACKAGE: &str = crate::package::RUNTIME_PACKAGE;

/// The Debian architecture of this machine: dpkg's answer, else the one
/// Rust was built for.
pub fn host_architecture() -> String {
    if let Ok(output) = Command::new("dpkg").arg("--print-architecture").output()
        && output.status.success()
    {
        let arch = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !arch.is_empty() {
            return arch;
        }
    }
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        other => other,
    }
    .to_string()
}

/// Packages that ship the shared libraries `binary` needs: those it links
/// and those confpack loads later. A binary that is not ELF (a script)
/// needs none.
pub fn library_packages(binary: &[u8], listener: &mut dyn Listener) -> Vec<String> {
    let Ok(file) = object::File::parse(binary) else {
        return Vec::new();
    };
    let Ok(libraries) = file.import_libraries() else {
        return Vec::new();
    };
    let linked = libraries
        .flatten()
        .map(|library| String::from_utf8_lossy(library.name()).into_owned());
    let later = crate::env::LOADED_LATER.iter().map(|name| name.to_string());
    let mut packages = BTreeSet::new();
    for name in linked.chain(later).collect::<BTreeSet<_>>() {
        match owner_of(&name) {
            Some(package) => {
                packages.insert(package);
            }
            None => listener.warning(&format!(
                "{PACKAGE}: no installed package ships {name}; add its package to Depends by hand"
            )),
        }
    }
    packages.into_iter().collect()
}

/// `dpkg-query --search '*/libxml2.so.2'` → `libxml2`.
fn owner_of(library: &str) -> Option<String> {
    let output = crate::process::command::query(
        Command::new("dpkg-query").args(["--search", &format!("*/{library}")]),
    )?;
    let mut owners: Vec<String> =
        crate::debian::dpkg::parse_search(&String::from_utf8_lossy(&output.stdout))
            .into_iter()
            .flat_map(|shipped| shipped.packages)
            .collect();
    owners.sort();
    owners.dedup();
    // The same soname in several packages (e.g. libc6 and libc6-dev's
    // links): the one with the shortest name is the runtime library.
    owners.into_iter().min_by_key(|p| (p.len(), p.clone()))
}

/// The runtime package; `time` dates its manual pages.
pub fn package(
    binary_path: &Path,
    version: &str,
    maintainer: &str,
    copyright: &str,
    time: u64,
    listener: &mut dyn Listener,
) -> Result<Deb> {
    let binary = std::fs::read(binary_path).map_err(|e| Error::io(binary_path, e))?;
    let binary = stripped(binary, listener)?;
    let mut relations = library_packages(&binary, listener);
    // debconf's passthrough frontend, which confpack's agent talks to,
    // needs Text::Iconv (debconf only recommends it). Not for a stand-in
    // that is no program (a script, as tests use).
    if object::File::parse(&*binary).is_ok() {
        relations.push(AGENT_NEEDS.to_string());
    }
    relations.sort();
    let mut deb = Deb::new(Control {
        package: PACKAGE.to_string(),
        version: version.to_string(),
        architecture: host_architecture(),
        maintainer: maintainer.to_string(),
        section: "admin".into(),
        priority: "optional".into(),
        homepage: None,
        relations: vec![
            ("Depends".to_string(), relations),
            // An https repository needs the CA certificates, which a
            // minimal Debian does not have.
            (
                "Recommends".to_string(),
                vec!["ca-certificates".to_string()],
            ),
        ],
        description: "configuration management with Debian packages (runtime)\n\
            The confpack command: configure, the answer store and the\n\
            helpers that configuration packages built by `confpack build` call\n\
            from their maintainer scripts."
            .into(),
    });
    deb.entries.insert(
        "/usr/bin/confpack".into(),
        Entry::File {
            data: binary,
            mode: 0o755,
        },
    );
    // Purging the runtime forgets everything confpack kept and wrote:
    // answers, caches, the node key, the timer's link and drop-in, the apt
    // source, its key, the pin.
    deb.scripts.insert(
        "postrm".into(),
        format!(
            "#!/bin/sh\n# postrm of {PACKAGE}, generated by `confpack build`.\nset -e\n\n\
             if [ \"$1\" = remove ] && [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n    systemctl --system daemon-reload >/dev/null || true\nfi\n\n\
             case \"$1\" in\n    purge)\n        rm -rf \"${{DPKG_ROOT}}/var/lib/confpack\" \"${{DPKG_ROOT}}/var/cache/confpack\" \\\n            \"${{DPKG_ROOT}}/etc/confpack\" \\\n            \"${{DPKG_ROOT}}{wants}\" \"${{DPKG_ROOT}}{drop_in}\" \\\n            \"${{DPKG_ROOT}}{sources}\" \"${{DPKG_ROOT}}{pin}\" \\\n            \"${{DPKG_ROOT}}{keyrings}/confpack.asc\" \"${{DPKG_ROOT}}{keyrings}/confpack.gpg\"\n        ;;\nesac\n\nexit 0\n",
            sources = crate::debian::sources::SOURCES_LIST,
            pin = crate::runtime::ROLLBACK_PIN,
            keyrings = crate::runtime::KEYRING_DIR,
            wants = timer::wants_link(),
            drop_in = timer::drop_in_dir(),
        ),
    );
    // A new version's converge units count at once where systemd runs
    // (what dh_installsystemd's postinst does; no other systemctl call).
    deb.scripts.insert(
        "postinst".into(),
        format!(
            "#!/bin/sh\n# postinst of {PACKAGE}, generated by `confpack build`.\nset -e\n\n\
             if [ \"$1\" = configure ] && [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n    \
             systemctl --system daemon-reload >/dev/null || true\nfi\n\nexit 0\n"
        ),
    );
    // Shipped disabled: `confpack set-environment` enables the timer.
    for (unit, text) in [
        (timer::SERVICE, timer::service_unit()),
        (timer::TIMER, timer::timer_unit()),
    ] {
        deb.entries.insert(
            format!("{}/{unit}", timer::UNIT_DIR),
            Entry::File {
                data: text.into_bytes(),
                mode: 0o644,
            },
        );
    }
    deb.entries.insert(
        format!("/usr/share/lintian/overrides/{PACKAGE}"),
        Entry::File {
            data: format!(
                "# yaml_serde's libyaml-rs is a Rust translation of libyaml, not a\n\
                 # copy of the C library; there is no shared library to link instead.\n\
                 {PACKAGE}: embedded-library libyaml [usr/bin/confpack]\n"
            )
            .into_bytes(),
            mode: 0o644,
        },
    );
    super::add_documentation(&mut deb, copyright, "confpack", 0)?;
    super::manual::add_to(&mut deb, time as i64)?;
    Ok(deb)
}

/// The binary without symbols and debug information, as dh_strip would
/// ship it (`strip --remove-section=.comment --remove-section=.note`).
/// Unchanged when it has none, is not ELF, or `strip` is missing.
fn stripped(binary: Vec<u8>, listener: &mut dyn Listener) -> Result<Vec<u8>> {
    use object::ObjectSection;
    let needs_strip = match object::File::parse(binary.as_slice()) {
        Ok(file) => file.sections().any(|s| {
            s.name()
                .is_ok_and(|n| n == ".symtab" || n.starts_with(".debug_"))
        }),
        Err(_) => false,
    };
    if !needs_strip {
        return Ok(binary);
    }
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let path = dir.path().join("confpack");
    std::fs::write(&path, &binary).map_err(|e| Error::io(&path, e))?;
    let mut strip = Command::new("strip");
    strip
        .args(["--remove-section=.comment", "--remove-section=.note"])
        .arg(&path);
    match crate::process::command::output(&mut strip) {
        Ok(_) => std::fs::read(&path).map_err(|e| Error::io(&path, e)),
        Err(e) => {
            listener.warning(&format!("{PACKAGE}: {e}; shipping the binary unstripped"));
            Ok(binary)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_depends_on_libxml2_which_it_loads_on_first_use() {
        if crate::process::command::query(
            Command::new("dpkg-query").args(["--search", "*/libxml2.so.2"]),
        )
        .is_none()
        {
            eprintln!("skipped: dpkg-query does not know libxml2.so.2 (not a Debian system?)");
            return;
        }
        let binary = std::fs::read(std::env::current_exe().expect("exe")).expect("read");
        let object = object::File::parse(&*binary).expect("ELF");
        let linked: Vec<String> = object
            .import_libraries()
            .expect("imports")
            .flatten()
            .map(|l| String::from_utf8_lossy(l.name()).into_owned())
            .collect();
        assert!(
            !linked.iter().any(|l| l.starts_with("libxml2")),
            "libxml2 must be loaded on first use, not linked: {linked:?}"
        );
        let mut listener = crate::listener::RecordingListener::default();
        let packages = library_packages(&binary, &mut listener);
        assert!(packages.iter().any(|p| p == "libc6"), "{packages:?}");
        assert!(
            packages.iter().any(|p| p.starts_with("libxml2")),
            "{packages:?}"
        );
    }

    #[test]
    fn a_script_needs_no_library() {
        let mut listener = crate::listener::RecordingListener::default();
        assert!(library_packages(b"#!/bin/sh\nexit 0\n", &mut listener).is_empty());
    }
}
