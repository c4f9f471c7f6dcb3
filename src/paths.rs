//! Where a node keeps confpack's state, all under `--root`: the answer
//! database and the cache of environment documents. Every command that
//! touches the node (configure, remove, status, the runtime) starts here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Result;
use crate::package::rooted;
use crate::store::Store;

/// Where things live, all under `root`.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub db: PathBuf,
    pub cache: PathBuf,
}

impl Paths {
    pub fn new(root: &Path, db: Option<&Path>) -> Paths {
        Paths {
            root: root.to_path_buf(),
            db: db
                .map(Path::to_path_buf)
                .unwrap_or_else(|| rooted(root, Path::new("/var/lib/confpack/db"))),
            cache: rooted(root, Path::new("/var/cache/confpack/environments")),
        }
    }

    pub fn open_store(&self, lock_timeout: Duration) -> Result<Store> {
        Store::open(&self.db, lock_timeout)
    }

    /// For commands that only read: works on a read-only database too
    /// (see [`Store::open_for_reading`]).
    pub fn open_store_for_reading(&self, lock_timeout: Duration) -> Result<Store> {
        Store::open_for_reading(&self.db, lock_timeout)
    }
}
