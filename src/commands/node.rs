//! The node runtime's commands: `set-environment` chooses the node's
//! environment; `update`, `install` and `upgrade` run apt and dpkg on this
//! node (attached to the person's terminal when there is one) with apt's
//! output under a progress bar.

use std::path::Path;

use crate::Listener;
use crate::error::Result;
use crate::listener::ProgressListener;
use crate::runtime::UpgradeOptions;
use crate::runtime::apt::{Attach, DebconfAgent, System};
use crate::settings::{Env, GlobalSettings};

use super::configure::Reconfigurer;

/// apt and dpkg on this node.
fn node_apt(global: &GlobalSettings, env: &Env) -> Result<System> {
    let attach = Attach::detect(crate::settings::noninteractive(env));
    System::new(&global.paths.root, global.lock_timeout, attach)
}

/// apt and dpkg changing packages with confpack as debconf's agent: every
/// other package's question is answered from the store and the documents
/// ([`crate::foreign`]) or asked in confpack's frontend (nobody is asked
/// when unattended).
fn agent_apt(global: &GlobalSettings, env: &Env, listener: &mut dyn Listener) -> Result<System> {
    let attach = Attach::detect(crate::settings::noninteractive(env));
    let apt = System::new(&global.paths.root, global.lock_timeout, attach)?;
    let paths = &global.paths;
    // The debconf that asks is this system's: under `--root`, dpkg runs
    // the maintainer scripts without a chroot.
    if let Some(missing) = crate::agent::missing_on(std::path::Path::new("/")) {
        listener.warning(&format!(
            "other packages' debconf questions are left to debconf itself: {missing}"
        ));
        return Ok(apt);
    }
    // Read now and closed again: a postinst's confpack needs the store
    // while apt runs.
    let (stored, environment) = match paths.db.exists() {
        true => {
            let store = paths.open_store_for_reading(global.lock_timeout)?;
            (store.answers()?, store.meta("environment")?)
        }
        false => Default::default(),
    };
    let selector = crate::select::Selector {
        stored_environment: environment.clone(),
        host_identities: crate::select::host_identities(),
        ..crate::select::Selector::default()
    };
    let documents = crate::foreign::document_values(paths, &selector, listener);
    let foreign = crate::foreign::Foreign::new(stored, documents, listener);
    let choice = match attach {
        Attach::Unattended => crate::frontend::Choice::noninteractive(),
        Attach::Terminal => crate::frontend::Choice {
            languages: crate::settings::languages(env),
            ..crate::frontend::Choice::resolve(None, crate::settings::frontend_name(env))?
        },
    };
    let frontend = crate::frontend::choose(&choice, listener);
    let context = crate::frontend::Context {
        environment: environment.unwrap_or_default(),
        ..crate::frontend::Context::default()
    };
    Ok(apt.with_agent(DebconfAgent::new(frontend, foreign, context)))
}

/// Keeps what the agent was told (in confpack's store, with its source),
/// then reports the questions nobody could answer (exit 3), unless the run
/// failed already (its error comes first; the answers are kept anyway).
fn finish_agent(global: &GlobalSettings, apt: &mut System, ran: Result<()>) -> Result<()> {
    let Some(agent) = apt.take_agent() else {
        return ran;
    };
    if !agent.answered.is_empty() {
        let store = global.paths.open_store(global.lock_timeout)?;
        let mut batch = crate::store::Batch::new();
        agent.foreign.record(&agent.answered, &mut batch)?;
        store.commit(batch)?;
    }
    ran?;
    match agent.unanswered.is_empty() {
        true => Ok(()),
        false => Err(crate::Error::Unanswered {
            keys: agent.unanswered.iter().map(|u| u.tag.clone()).collect(),
        }),
    }
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
    let mut listener = node_listener(global.quiet);
    let mut apt = agent_apt(global, env, &mut listener)?;
    let ran = crate::runtime::install(&mut apt, names, &mut listener).map(drop);
    finish_agent(global, &mut apt, ran)
}

/// Upgrades, then configures again each package that changed, with the
/// command line's defaults under `env`.
pub fn upgrade(global: &GlobalSettings, env: &Env, options: &UpgradeOptions) -> Result<()> {
    let mut listener = node_listener(global.quiet);
    let mut apt = agent_apt(global, env, &mut listener)?;
    let mut reconfigure = Reconfigurer { global, env };
    let ran = crate::runtime::upgrade(&mut apt, options, &mut reconfigure, &mut listener).map(drop);
    finish_agent(global, &mut apt, ran)
}
