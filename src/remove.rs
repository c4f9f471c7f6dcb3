//! What a configuration package's prerm and postrm call: delete the files
//! `confpack configure` rendered for it, and on purge forget the answers
//! only it used.
//!
//! dpkg removes the files it unpacked; the rendered ones it never knew
//! about, so without this a removed package would leave its configuration
//! behind — the very thing confpack exists to prevent (seed 000).

use std::path::PathBuf;
use std::time::Duration;

use crate::declared::Undo;
use crate::error::{Error, Result};
use crate::files::Removal;
use crate::package::{rooted, valid_package_name};
use crate::paths::Paths;
use crate::store::{Batch, SavedEdit, Store};
use crate::{Listener, unchanged};

/// What [`purge`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub files_removed: Vec<PathBuf>,
    /// Answers deleted: the package was their only owner.
    pub forgotten: Vec<String>,
    /// Answers kept for other packages, the package no longer an owner.
    pub released: Vec<String>,
}

fn check_name(package: &str) -> Result<()> {
    if valid_package_name(package) {
        Ok(())
    } else {
        Err(Error::Package {
            package: package.to_string(),
            message: "not a valid Debian package name".into(),
        })
    }
}

/// The store, or `None` when there has never been one (nothing rendered,
/// nothing answered): removing must not create it.
fn open(paths: &Paths, lock_timeout: Duration) -> Result<Option<Store>> {
    if !paths.db.exists() {
        return Ok(None);
    }
    paths.open_store(lock_timeout).map(Some)
}

/// Deletes the package's rendered files, then forgets them and its hook
/// stamps in one batch.
///
/// Only a file that is still what confpack wrote is deleted: resolved under
/// the root without following a link out of it, a regular file, its sha256
/// the recorded one. A file a person edited is saved beside it as
/// `<path>.confpack-old` (same content, mode and owner) and then removed,
/// with one warning naming both. Anything else (replaced by a symlink, a
/// directory) is kept with one warning naming it, and a diverted original
/// stays diverted so it cannot overwrite the kept file.
fn remove_files(
    paths: &Paths,
    store: &Store,
    package: &str,
    batch: &mut Batch,
    listener: &mut dyn Listener,
) -> Result<Removed> {
    let mut removed = Vec::new();
    let mut saved_edits = store.saved_edits(package)?;
    for file in store.files(package)? {
        let target = crate::files::resolve(&paths.root, &file.path, false)?;
        let removal = match &target {
            Some(target) => target.remove_if_written(&file.sha256)?,
            None => Removal::Absent,
        };
        match (removal, &target) {
            (Removal::Removed, _) => {
                listener.info(&format!("removed {}", file.path.display()));
                removed.push(file.path.clone());
            }
            (Removal::Absent, _) => {}
            (Removal::Changed, Some(target)) => {
                // A person's edit: saved beside it, never lost.
                let saved = target.save_old()?;
                target.remove()?;
                listener.warning(&format!(
                    "{} was edited since confpack wrote it: your version is saved as {}",
                    target.shown().display(),
                    saved
                        .as_ref()
                        .map_or(target.shown(), |s| &s.shown)
                        .display()
                ));
                if let Some(saved) = saved {
                    let saved = SavedEdit::of(&file.path, saved);
                    saved_edits.retain(|s| s.path != saved.path);
                    saved_edits.push(saved);
                }
                removed.push(file.path.clone());
            }
            (Removal::Changed | Removal::NotAFile, _) => {
                listener.warning(&format!(
                    "kept {}: it is no longer the regular file confpack wrote; \
                     delete it yourself if it is no longer needed",
                    rooted(&paths.root, &file.path).display()
                ));
                continue;
            }
        }
        if file.diverted {
            crate::divert::undivert(&paths.root, package, &file.path)?;
            listener.info(&format!(
                "restored {} of its own package",
                file.path.display()
            ));
        }
    }
    batch.set_files(package, &[])?;
    batch.set_saved_edits(package, &saved_edits)?;
    for hook in store.hook_stamps(package)?.keys() {
        batch.remove_hook_stamp(package, hook);
    }
    Ok(Removed {
        files: removed,
        saved_edits,
    })
}

/// What [`remove_files`] did.
struct Removed {
    /// Rendered files deleted (an edited one after saving it).
    files: Vec<PathBuf>,
    /// Every saved edit of the package now, this run's included.
    saved_edits: Vec<SavedEdit>,
}

/// Purge deletes the `<path>.confpack-old` copies confpack saved of a
/// person's edits, as dpkg deletes a conffile's `.dpkg-old`: each only
/// while it is still what was saved (a copy edited since is the person's
/// again, and kept with a warning).
fn remove_saved_edits(
    paths: &Paths,
    saved: &[SavedEdit],
    listener: &mut dyn Listener,
) -> Result<()> {
    for edit in saved {
        let removal = match crate::files::resolve(&paths.root, &edit.path, false)? {
            Some(target) => target.remove_if_written(&edit.sha256)?,
            None => Removal::Absent,
        };
        match removal {
            Removal::Removed => listener.info(&format!(
                "removed {} (your edit, saved by confpack; purged with the package)",
                edit.path.display()
            )),
            Removal::Absent => {}
            Removal::Changed | Removal::NotAFile => listener.warning(&format!(
                "kept {}: changed since confpack saved your edit there; delete it yourself \
                 if it is no longer needed",
                rooted(&paths.root, &edit.path).display()
            )),
        }
    }
    Ok(())
}

/// Commits what forgets the package, then its no-op stamps (with every
/// other: see [`unchanged::remove_all`]), still holding the database. A
/// stamp left behind is only a warning: the commit already made it stale.
fn commit(paths: &Paths, store: &Store, batch: Batch, listener: &mut dyn Listener) -> Result<()> {
    store.commit(batch)?;
    if let Err(e) = unchanged::remove_all(&paths.db) {
        listener.warning(&format!("cannot remove the no-op stamps: {e}"));
    }
    Ok(())
}

/// `confpack remove-rendered PKG` (prerm `remove`; postinst of a version
/// without templates).
pub fn remove_rendered(
    paths: &Paths,
    package: &str,
    lock_timeout: Duration,
    listener: &mut dyn Listener,
) -> Result<Vec<PathBuf>> {
    check_name(package)?;
    let Some(store) = open(paths, lock_timeout)? else {
        return Ok(Vec::new());
    };
    let mut batch = Batch::new();
    let removed = remove_files(paths, &store, package, &mut batch, listener)?;
    undo_declared(paths, &store, package, Undo::Remove, &mut batch, listener)?;
    commit(paths, &store, batch, listener)?;
    Ok(removed.files)
}

/// Undoes what the package declared (users, services, blocks, …).
fn undo_declared(
    paths: &Paths,
    store: &Store,
    package: &str,
    why: Undo,
    batch: &mut Batch,
    listener: &mut dyn Listener,
) -> Result<()> {
    let mut host = crate::declared::SystemHost::new(&paths.root);
    crate::converge::undo(store, package, why, &mut host, batch, listener).map(drop)
}

/// `apply` without the package's confpack files undoes everything it
/// declared: right in the postinst of a version that declares nothing,
/// wrong for a package that is not installed (a typo, or a removed
/// package whose user is kept until its purge). dpkg says which.
fn refuse_unless_being_configured(paths: &Paths, package: &str) -> Result<()> {
    let root = format!("--root={}", paths.root.display());
    let output = crate::process::command::query(std::process::Command::new("dpkg-query").args([
        root.as_str(),
        "--show",
        "--showformat=${db:Status-Status}",
        package,
    ]));
    let Some(output) = output else {
        // No dpkg to ask, or dpkg does not know the package at all.
        return Err(Error::Package {
            package: package.to_string(),
            message: "not installed (dpkg does not know it); `confpack apply` is what the \
                      package's postinst runs"
                .into(),
        });
    };
    match String::from_utf8_lossy(&output.stdout).trim() {
        "installed" | "half-configured" | "unpacked" | "half-installed" | "triggers-awaited"
        | "triggers-pending" => Ok(()),
        state => Err(Error::Package {
            package: package.to_string(),
            message: format!(
                "not installed (dpkg: {state}); `confpack apply` is what the package's postinst \
                 runs, and `confpack purge` undoes what a removed package declared"
            ),
        }),
    }
}

/// `confpack apply PKG` (postinst of a package without an environment
/// document): removes what an earlier version rendered, then applies
/// what this version declares, undoing what it no longer does.
pub fn apply(
    paths: &Paths,
    package: &str,
    lock_timeout: Duration,
    listener: &mut dyn Listener,
) -> Result<Vec<String>> {
    check_name(package)?;
    let installed = match crate::package::Package::load(&paths.root, package) {
        Ok(installed) => Some(installed),
        Err(Error::Package { .. }) => {
            refuse_unless_being_configured(paths, package)?;
            None
        }
        Err(other) => return Err(other),
    };
    // A package with a document is configure's: `apply` would delete
    // what configure rendered for it and apply its declarations without
    // its environment.
    if let Some(installed) = &installed
        && installed.local_document(&paths.root).exists()
    {
        return Err(Error::Package {
            package: package.to_string(),
            message: format!(
                "it has an environment document, so `confpack configure --package {package}` \
                 applies its declarations (and renders its templates); `apply` is for packages \
                 without one"
            ),
        });
    }
    let declares = installed
        .as_ref()
        .is_some_and(|p| !p.config.declared.is_empty());
    let store = match declares {
        true => paths.open_store(lock_timeout)?,
        false => match open(paths, lock_timeout)? {
            Some(store) => store,
            None => return Ok(Vec::new()),
        },
    };
    let mut batch = Batch::new();
    remove_files(paths, &store, package, &mut batch, listener)?;
    commit(paths, &store, batch, listener)?;
    let installed =
        installed.unwrap_or_else(|| crate::package::Package::empty(&paths.root, package));
    let known = crate::derive::values::known_answers(&store.answers()?);
    let scope = crate::derive::values::Bindings {
        environment: minijinja::Value::UNDEFINED,
        machine: minijinja::Value::UNDEFINED,
        max_value_bytes: crate::derive::DEFAULT_MAX_VALUE_BYTES,
    };
    let render = |name: &str, source: &str| {
        crate::render::render_text(
            name,
            source,
            &known,
            &scope,
            crate::render::DEFAULT_MAX_RENDER_BYTES,
        )
    };
    let secrets = crate::render::KnownSecrets(&known);
    let mut host = crate::declared::SystemHost::new(&paths.root);
    let converged = crate::converge::apply(
        &store,
        &installed,
        (&render, &secrets, &[]),
        &mut host,
        listener,
    )?;
    Ok(converged.applied.iter().map(|id| id.to_string()).collect())
}

/// `confpack purge PKG` (postrm `purge`): the rendered files (if any are
/// left), and the answers: deleted when the package was their only owner,
/// otherwise kept with the package removed from their owners.
pub fn purge(
    paths: &Paths,
    package: &str,
    lock_timeout: Duration,
    listener: &mut dyn Listener,
) -> Result<Purged> {
    check_name(package)?;
    let Some(store) = open(paths, lock_timeout)? else {
        return Ok(Purged::default());
    };
    let mut batch = Batch::new();
    let removed = remove_files(paths, &store, package, &mut batch, listener)?;
    let mut purged = Purged {
        files_removed: removed.files,
        ..Purged::default()
    };
    remove_saved_edits(paths, &removed.saved_edits, listener)?;
    batch.set_saved_edits(package, &[])?;
    undo_declared(paths, &store, package, Undo::Purge, &mut batch, listener)?;
    for (key, mut answer) in store.answers()? {
        if !answer.owners.remove(package) {
            continue;
        }
        if answer.owners.is_empty() {
            batch.remove_answer(&key);
            purged.forgotten.push(key);
        } else {
            batch.set_answer(&key, &answer)?;
            purged.released.push(key);
        }
    }
    commit(paths, &store, batch, listener)?;
    listener.info(&format!(
        "{package}: forgot {} answer(s), kept {} still used by other packages",
        purged.forgotten.len(),
        purged.released.len()
    ));
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::model::{QuestionType, Source};
    use crate::store::{RenderedFile, StoredAnswer};
    use std::collections::BTreeSet;

    fn answer(owners: &[&str]) -> StoredAnswer {
        StoredAnswer {
            value: Some("v".into()),
            source: Source::Configured,
            seen: false,
            owners: owners
                .iter()
                .map(|o| o.to_string())
                .collect::<BTreeSet<_>>(),
            question_type: QuestionType::String,
            secret: false,
        }
    }

    #[test]
    fn purge_forgets_only_answers_no_other_package_uses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path(), None);
        let rendered = dir.path().join("etc/demo.conf");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        std::fs::write(&rendered, "x").expect("write");
        {
            let store = paths.open_store(Duration::from_secs(1)).expect("open");
            let mut batch = Batch::new();
            batch.set_answer("demo/a", &answer(&["demo"])).expect("a");
            batch
                .set_answer("shared/b", &answer(&["demo", "other"]))
                .expect("b");
            batch.set_answer("other/c", &answer(&["other"])).expect("c");
            batch
                .set_files(
                    "demo",
                    &[RenderedFile {
                        path: "/etc/demo.conf".into(),
                        template: "etc/demo.conf.j2".into(),
                        sha256: crate::files::sha256_hex(b"x"),
                        diverted: false,
                    }],
                )
                .expect("files");
            store.commit(batch).expect("commit");
        }
        let mut listener = crate::RecordingListener::default();
        let purged = purge(&paths, "demo", Duration::from_secs(1), &mut listener).expect("purge");
        assert_eq!(purged.forgotten, ["demo/a"]);
        assert_eq!(purged.released, ["shared/b"]);
        assert!(!rendered.exists());
        let store = paths.open_store(Duration::from_secs(1)).expect("open");
        let answers = store.answers().expect("answers");
        assert!(!answers.contains_key("demo/a"));
        assert_eq!(
            answers["shared/b"].owners,
            BTreeSet::from(["other".to_string()])
        );
        assert!(answers.contains_key("other/c"));
        assert!(store.files("demo").expect("files").is_empty());
    }

    #[test]
    fn purge_forgets_the_hook_stamps_and_the_no_op_stamps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path(), None);
        {
            let store = paths.open_store(Duration::from_secs(1)).expect("open");
            let mut batch = Batch::new();
            batch.set_answer("demo/a", &answer(&["demo"])).expect("a");
            batch.set_hook_stamp("demo", "reload", "s").expect("hook");
            batch.set_hook_stamp("other", "reload", "s").expect("hook");
            store.commit(batch).expect("commit");
        }
        let stamp = unchanged::Stamp {
            fingerprint: "f".into(),
            generation: crate::store::generation(&paths.db).expect("generation"),
            stored_environment: None,
            files: Vec::new(),
        };
        unchanged::write(&paths.db, "demo-invocation", &stamp);
        assert_eq!(unchanged::read(&paths.db, "demo-invocation"), Some(stamp));
        let mut listener = crate::RecordingListener::default();
        purge(&paths, "demo", Duration::from_secs(1), &mut listener).expect("purge");
        let stamps = dir.path().join("var/lib/confpack/db.stamps");
        assert!(!stamps.exists(), "{} is left", stamps.display());
        let store = paths.open_store(Duration::from_secs(1)).expect("open");
        assert!(store.hook_stamps("demo").expect("hooks").is_empty());
        assert_eq!(store.hook_stamps("other").expect("hooks").len(), 1);
    }

    #[test]
    fn removing_without_a_database_creates_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path(), None);
        let mut listener = crate::RecordingListener::default();
        let removed =
            remove_rendered(&paths, "demo", Duration::from_secs(1), &mut listener).expect("remove");
        assert!(removed.is_empty());
        assert!(!paths.db.exists());
    }
}
