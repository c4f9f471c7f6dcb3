//! The declarations stage ([`crate::declared`]) as configure, `confpack
//! apply`, removal, purge and status run it: the package's records read
//! from the store, the declarations converged or undone, the records
//! written back after every step (also when it failed part of the way, or
//! is killed: nothing applied is ever forgotten), and what other packages
//! declare refused (one package's removal would undo it).
//!
//! Apart from `declared` because it reads the store and the installed
//! package, which `declared` (below them: `package.yml` carries its
//! types) may not import.

use std::path::{Path, PathBuf};

use crate::Listener;
use crate::declared::{self, Context, Converged, Host, Id, Record, Render, Secrets, Undo};
use crate::error::Result;
use crate::package::Package;
use crate::store::{Batch, Store};

/// Applies `package`'s declarations (undoing what an earlier version
/// declared and this one does not) and records them. Returns what was
/// applied and undone; the first failure after recording.
pub fn apply(
    store: &Store,
    package: &Package,
    (render, secrets, changed): (&Render<'_>, &dyn Secrets, &[PathBuf]),
    host: &mut dyn Host,
    listener: &mut dyn Listener,
) -> Result<Converged> {
    let mut all: std::collections::BTreeMap<String, Vec<Record>> = store.declared_by_package()?;
    let previous = all.remove(&package.name).unwrap_or_default();
    let others: std::collections::BTreeMap<Id, String> = all
        .into_iter()
        .flat_map(|(owner, records)| records.into_iter().map(move |r| (r.id(), owner.clone())))
        .collect();
    let root = host.root().to_path_buf();
    let mut cx = Context {
        root: &root,
        package: &package.name,
        host,
        listener,
        render,
        changed,
        secrets,
    };
    // Saved after every step that changed the records: a run killed
    // half-way forgets nothing it did.
    let mut saved = previous.clone();
    let mut save = |records: &[Record]| {
        if records == saved.as_slice() {
            return Ok(());
        }
        let mut batch = Batch::new();
        batch.set_declared(&package.name, records)?;
        store.commit(batch)?;
        saved = records.to_vec();
        Ok(())
    };
    let owner = |id: &Id| others.get(id).cloned();
    let mut books = declared::Bookkeeping {
        save: &mut save,
        owner: &owner,
    };
    let mut converged =
        declared::converge_recording(&package.config.declared, previous, &mut cx, &mut books);
    (books.save)(&converged.records)?;
    match converged.failure.take() {
        Some(error) => Err(error),
        None => Ok(converged),
    }
}

/// Undoes every declaration recorded for `package` (`why`: removal or
/// purge), adding what is kept to `batch`. Each failure is a warning: a
/// removal never stops half-way on one of them (dpkg would leave the
/// package half-removed); what failed stays recorded for the next try.
pub fn undo(
    store: &Store,
    package: &str,
    why: Undo,
    host: &mut dyn Host,
    batch: &mut Batch,
    listener: &mut dyn Listener,
) -> Result<Vec<Id>> {
    let records: Vec<Record> = store.declared(package)?;
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let root = host.root().to_path_buf();
    let ids: Vec<Id> = records.iter().map(Record::id).collect();
    let mut cx = Context {
        root: &root,
        package,
        host,
        listener,
        render: &declared::no_render,
        changed: &[],
        secrets: &crate::declared::NoSecrets,
    };
    let (mut kept, errors) = declared::undo_all(records, why, &mut cx);
    for error in &errors {
        cx.listener.warning(&format!(
            "{error}; kept in confpack's records, undone at the next remove or purge"
        ));
    }
    if why == Undo::Purge && !kept.is_empty() && errors.is_empty() {
        kept.clear();
    }
    batch.set_declared(package, &kept)?;
    let kept_ids: Vec<Id> = kept.iter().map(Record::id).collect();
    Ok(ids
        .into_iter()
        .filter(|id| !kept_ids.contains(id))
        .collect())
}

/// A declaration the node no longer matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drifted {
    pub package: String,
    /// `directory /var/lib/webshop`, `service webshop.service`, …
    pub declaration: String,
    pub what: Vec<String>,
}

/// Every recorded declaration of `packages` checked against the node.
pub fn drift(
    store: &Store,
    root: &Path,
    packages: &[&str],
    host: &mut dyn Host,
) -> Result<Vec<Drifted>> {
    let mut out = Vec::new();
    let mut listener = crate::SilentListener;
    for package in packages {
        let records: Vec<Record> = store.declared(package)?;
        let mut cx = Context {
            root,
            package,
            host: &mut *host,
            listener: &mut listener,
            render: &declared::no_render,
            changed: &[],
            secrets: &crate::declared::NoSecrets,
        };
        for record in records {
            let what = record.drift(&mut cx);
            if !what.is_empty() {
                out.push(Drifted {
                    package: package.to_string(),
                    declaration: record.id().to_string(),
                    what,
                });
            }
        }
    }
    Ok(out)
}

/// Declarations recorded for packages that are not among `installed`
/// (removed and not yet purged, or an undo that failed at the purge):
/// still on the node, and nothing will undo them unless someone runs
/// `confpack purge`.
pub fn left_behind(store: &Store, installed: &[&str]) -> Result<Vec<Drifted>> {
    let all: std::collections::BTreeMap<String, Vec<Record>> = store.declared_by_package()?;
    Ok(all
        .into_iter()
        .filter(|(package, _)| !installed.contains(&package.as_str()))
        .flat_map(|(package, records)| {
            records.into_iter().map(move |record| Drifted {
                package: package.clone(),
                declaration: record.id().to_string(),
                what: vec![format!(
                    "left by {package}, which is not installed; `confpack purge {package}` undoes it"
                )],
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_a_package_that_is_gone_are_named_with_the_way_to_undo_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = crate::paths::Paths::new(dir.path(), None);
        let store = paths
            .open_store(std::time::Duration::from_secs(1))
            .expect("store");
        let record = |path: &str| {
            Record::Directory(crate::declared::directories::Record {
                path: path.into(),
                applied: crate::declared::directories::Ownership {
                    uid: 0,
                    gid: 0,
                    mode: 0o755,
                },
                before: None,
            })
        };
        let mut batch = Batch::new();
        batch
            .set_declared("here", &[record("/srv/here")])
            .expect("here");
        batch
            .set_declared("gone", &[record("/srv/gone")])
            .expect("gone");
        store.commit(batch).expect("commit");
        let left = left_behind(&store, &["here"]).expect("left");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].declaration, "directory /srv/gone");
        assert!(
            left[0].what[0].contains("confpack purge gone"),
            "{:?}",
            left[0]
        );
    }
}
