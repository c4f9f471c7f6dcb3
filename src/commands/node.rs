//! The node runtime's commands: `set-environment` chooses the node's
//! environment; `update`, `install` and `upgrade` run apt and dpkg on this
//! node (attached to the person's terminal when there is one) with apt's
//! output under a progress bar.

use std::path::Path;

use crate::Listener;
use crate::error::Result;
use crate::listener::ProgressListener;
use crate::runtime::UpgradeOptions;
use crate::runtime::apt::{Attach, System};
use crate::settings::{Env, GlobalSettings};

use super::configure::Reconfigurer;

/// apt and dpkg on this node.
fn node_apt(global: &GlobalSettings, env: &Env) -> Result<System> {
    let attach = Attach::detect(crate::settings::noninteractive(env));
    System::new(&global.paths.root, global.lock_timeout, attach)
}

/// apt's output with a progress bar on a terminal.
fn node_listener(quiet: bool) -> ProgressListener {
    ProgressListener::labelled(quiet, "apt")
}

/// Writes the confpack apt source for `environment` and stores it for
/// configure.
pub fn set_environment(
    global: &GlobalSettings,
    environment: &str,
    repo_url: Option<&str>,
    key: Option<&Path>,
    listener: &mut dyn Listener,
) -> Result<()> {
    let paths = &global.paths;
    crate::runtime::set_environment(
        paths,
        environment,
        repo_url,
        key,
        global.lock_timeout,
        listener,
    )
    .map(drop)
}

pub fn update(global: &GlobalSettings, env: &Env) -> Result<()> {
    let mut apt = node_apt(global, env)?;
    crate::runtime::update(&mut apt, &mut node_listener(global.quiet))
}

pub fn install(global: &GlobalSettings, env: &Env, names: &[String]) -> Result<()> {
    let mut apt = node_apt(global, env)?;
    crate::runtime::install(&mut apt, names, &mut node_listener(global.quiet)).map(drop)
}

/// Upgrades, then configures again each package that changed, with the
/// command line's defaults under `env`.
pub fn upgrade(global: &GlobalSettings, env: &Env, options: &UpgradeOptions) -> Result<()> {
    let mut apt = node_apt(global, env)?;
    let mut reconfigure = Reconfigurer { global, env };
    crate::runtime::upgrade(
        &mut apt,
        options,
        &mut reconfigure,
        &mut node_listener(global.quiet),
    )
    .map(drop)
}
