//! `confpack remove-rendered` and `purge`: what a package's prerm and
//! postrm run to forget its rendered files (and, on purge, its answers).

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
