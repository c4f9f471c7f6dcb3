//! `confpack upload`: a published repository copied to where the nodes
//! fetch it, with a progress bar.

use std::path::Path;

use crate::error::Result;
use crate::listener::ProgressListener;
use crate::publish::upload::{self, SystemRunner, Via};

pub fn upload(repo: &Path, target: &str, via: Via, delete: bool, quiet: bool) -> Result<()> {
    let mut listener = ProgressListener::labelled(quiet, "uploading");
    upload::upload(repo, target, via, delete, &mut SystemRunner, &mut listener).map(drop)
}
