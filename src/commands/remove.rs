//! `confpack remove-rendered`, `purge` and `apply`: what a package's prerm
//! and postrm run to forget its rendered files and undo its declarations
//! (and, on purge, its answers), and what the postinst of a package
//! without a document runs.

use crate::Listener;
use crate::error::Result;
use crate::settings::GlobalSettings;

pub fn remove_rendered(
    global: &GlobalSettings,
    package: &str,
    listener: &mut dyn Listener,
) -> Result<()> {
    crate::remove::remove_rendered(&global.paths, package, global.lock_timeout, listener).map(drop)
}

pub fn purge(global: &GlobalSettings, package: &str, listener: &mut dyn Listener) -> Result<()> {
    crate::remove::purge(&global.paths, package, global.lock_timeout, listener).map(drop)
}

pub fn apply(global: &GlobalSettings, package: &str, listener: &mut dyn Listener) -> Result<()> {
    crate::remove::apply(&global.paths, package, global.lock_timeout, listener).map(drop)
}
