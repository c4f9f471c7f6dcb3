//! The node runtime's commands: `set-environment` chooses the node's
//! environment; `update`, `install` and `upgrade` run apt and dpkg on this
//! node (attached to the person's terminal when there is one) with apt's
//! output under a progress bar.

use std::path::Path;

use crate::Listener;
use crate::env::model::Priority;
use crate::error::{Error, Result};
use crate::listener::ProgressListener;
use crate::runtime::UpgradeOptions;
use crate::runtime::apt::{Attach, DebconfAgent, PackageManager, Purpose, System};
use crate::runtime::timer::{self, Converge, SystemSystemd};
use crate::settings::{Env, GlobalSettings};

use super::configure::Reconfigurer;

/// apt and dpkg on this node.
fn node_apt(global: &GlobalSettings, env: &Env) -> Result<System> {
    let attach = Attach::detect(crate::settings::noninteractive(env));
    System::new(&global.paths.root, global.lock_timeout, attach)
}

/// How the agent asks: the frontend flag (`--frontend`), and whether a
/// question confpack has an answer for is shown anyway, with that answer
/// as its default (a reconfigure), instead of answered silently.
#[derive(Debug, Default)]
struct Asking<'a> {
    frontend: Option<&'a str>,
    reshow: bool,
}

/// apt and dpkg changing packages with confpack as debconf's agent: every
/// other package's question is answered from the store and the documents
/// ([`crate::foreign`]) or asked in confpack's frontend (nobody is asked
/// when unattended).
fn agent_apt(
    global: &GlobalSettings,
    env: &Env,
    asking: &Asking<'_>,
    listener: &mut dyn Listener,
) -> Result<System> {
    let attach = Attach::detect(crate::settings::noninteractive(env));
    let apt = System::new(&global.paths.root, global.lock_timeout, attach)?;
    // The debconf that asks is this system's: under `--root`, dpkg runs
    // the maintainer scripts without a chroot.
    if let Some(missing) = crate::agent::missing_on(std::path::Path::new("/")) {
        listener.warning(&format!(
            "other packages' debconf questions are left to debconf itself: {missing}"
        ));
        return Ok(apt);
    }
    let (foreign, environment) = foreign_answers(global, listener)?;
    let choice = match attach {
        Attach::Unattended => crate::frontend::Choice::noninteractive(),
        Attach::Terminal => crate::frontend::Choice {
            languages: crate::settings::languages(env),
            ..crate::frontend::Choice::resolve(
                asking.frontend,
                crate::settings::frontend_name(env),
            )?
        },
    };
    let frontend = crate::frontend::choose(&choice, listener);
    let context = crate::frontend::Context {
        environment: environment.unwrap_or_default(),
        ..crate::frontend::Context::default()
    };
    let agent = DebconfAgent::new(frontend, foreign, context);
    Ok(apt.with_agent(DebconfAgent {
        reshow: asking.reshow,
        ..agent
    }))
}

/// The answers confpack has for other packages' questions: the store's
/// and the installed documents' ([`crate::foreign`]), with the node's
/// stored environment. Read and closed again: a postinst's confpack needs
/// the store while apt runs.
fn foreign_answers(
    global: &GlobalSettings,
    listener: &mut dyn Listener,
) -> Result<(crate::foreign::Foreign, Option<String>)> {
    let paths = &global.paths;
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
    Ok((foreign, environment))
}

/// A question answered by a document that the same run installs may be
/// asked before that document is on the node: apt configures packages in
/// its own order, and with apt-utils asks every package's questions before
/// it unpacks any (`dpkg-preconfigure`). Unattended, it was left at
/// debconf's value and is now seen, so the package's postinst did not ask
/// again. Each package with such a question is reconfigured
/// now, unattended, confpack answering from the documents installed.
fn settle_defaulted(
    global: &GlobalSettings,
    apt: &mut System,
    agent: &mut DebconfAgent,
    listener: &mut dyn Listener,
) -> Result<()> {
    if agent.defaulted.is_empty() {
        return Ok(());
    }
    let (foreign, _) = foreign_answers(global, listener)?;
    let installed = crate::runtime::installed(apt)?;
    let packages: std::collections::BTreeSet<&str> = agent
        .defaulted
        .iter()
        .filter_map(|(tag, debconfs)| {
            let preset = foreign.preset(tag)?;
            let package = tag.split('/').next()?;
            (debconfs.as_deref() != Some(preset.value.as_str()) && installed.contains_key(package))
                .then_some(package)
        })
        .collect();
    if packages.is_empty() {
        return Ok(());
    }
    let packages: Vec<String> = packages.into_iter().map(str::to_string).collect();
    if global.paths.root != Path::new("/") {
        listener.warning(&format!(
            "{} asked before their document was installed; run `confpack reconfigure PKG` \
             on the node to apply its answers",
            packages.join(", ")
        ));
        return Ok(());
    }
    let nobody = Box::new(crate::frontend::noninteractive::Noninteractive);
    apt.set_agent(DebconfAgent::new(
        nobody,
        foreign.clone(),
        agent.context.clone(),
    ));
    let mut ran = Ok(());
    for package in &packages {
        listener.info(&format!(
            "{package}: its questions were asked before this run installed the document \
             that answers them; applying the document's answers (dpkg-reconfigure)"
        ));
        let args = ["--priority=low".to_string(), package.clone()];
        ran = apt
            .run(Purpose::Change, "dpkg-reconfigure", &args, listener)
            .map(drop);
        if ran.is_err() {
            break;
        }
    }
    // What was answered is kept even when a reconfigure failed.
    if let Some(again) = apt.take_agent() {
        agent
            .unanswered
            .retain(|u| !again.answered.contains_key(&u.tag));
        agent.answered.extend(again.answered);
    }
    agent.foreign = foreign;
    ran
}

/// Keeps what the agent was told (in confpack's store, with its source),
/// then reports the questions nobody could answer (exit 3), unless the run
/// failed already (its error comes first; the answers are kept anyway).
fn finish_agent(
    global: &GlobalSettings,
    apt: &mut System,
    ran: Result<()>,
    listener: &mut dyn Listener,
) -> Result<()> {
    let Some(mut agent) = apt.take_agent() else {
        return ran;
    };
    let ran = ran.and_then(|()| settle_defaulted(global, apt, &mut agent, listener));
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

/// Writes the confpack apt source for `environment`, stores it for
/// configure, then enables or disables converging on the timer.
pub fn set_environment(
    global: &GlobalSettings,
    environment: &str,
    repo_url: Option<&str>,
    key: Option<&Path>,
    converge: Converge,
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
    )?;
    let mut systemd = SystemSystemd;
    timer::choose(paths, converge, global.lock_timeout, &mut systemd, listener)
}

pub fn update(global: &GlobalSettings, env: &Env) -> Result<()> {
    let mut apt = node_apt(global, env)?;
    crate::runtime::update(&mut apt, &mut node_listener(global.quiet))
}

pub fn install(global: &GlobalSettings, env: &Env, names: &[String]) -> Result<()> {
    let mut listener = node_listener(global.quiet);
    let mut apt = agent_apt(global, env, &Asking::default(), &mut listener)?;
    let ran = crate::runtime::install(&mut apt, names, &mut listener).map(drop);
    finish_agent(global, &mut apt, ran, &mut listener)
}

/// Upgrades, then configures again each package that changed, with the
/// command line's defaults under `env`.
pub fn upgrade(global: &GlobalSettings, env: &Env, options: &UpgradeOptions) -> Result<()> {
    let mut listener = node_listener(global.quiet);
    let mut apt = agent_apt(global, env, &Asking::default(), &mut listener)?;
    let mut reconfigure = Reconfigurer { global, env };
    let ran = crate::runtime::upgrade(&mut apt, options, &mut reconfigure, &mut listener).map(drop);
    finish_agent(global, &mut apt, ran, &mut listener)
}

/// `confpack apt -- ARGS`: apt-get with confpack as debconf's agent, as
/// for install and upgrade. Its output is apt-get's own.
pub fn apt(global: &GlobalSettings, env: &Env, args: &[String]) -> Result<()> {
    let mut listener = node_listener(global.quiet);
    let purpose = match apt_get_command(args) {
        Some("update") => Purpose::Update,
        _ => Purpose::Change,
    };
    let mut apt = agent_apt(global, env, &Asking::default(), &mut listener)?;
    let ran = apt.run(purpose, "apt-get", args, &mut listener).map(drop);
    finish_agent(global, &mut apt, ran, &mut listener)
}

/// apt-get's command among its arguments: the first that is neither an
/// option nor an option's value.
fn apt_get_command(args: &[String]) -> Option<&str> {
    const TAKING_A_VALUE: [&str; 10] = [
        "-o",
        "--option",
        "-c",
        "--config-file",
        "-t",
        "--target-release",
        "--default-release",
        "-a",
        "--host-architecture",
        "--host-arch",
    ];
    let mut args = args.iter().map(String::as_str);
    while let Some(arg) = args.next() {
        if TAKING_A_VALUE.contains(&arg) {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

/// `confpack reconfigure PKG` of a package confpack does not configure.
#[derive(Debug)]
pub struct DebconfReconfigure {
    pub package: String,
    /// Only the questions debconf has not shown yet.
    pub unseen_only: bool,
    /// The lowest priority debconf asks at (dpkg-reconfigure's `low` unless
    /// told otherwise).
    pub priority: Priority,
    /// `--frontend`.
    pub frontend: Option<String>,
}

/// Reconfigures a package by its debconf questions: `dpkg-reconfigure`
/// with confpack as the agent, every question shown with the current
/// answer (the store's, the document's, else debconf's) as its default;
/// the answers reach debconf's database and confpack's store. Unattended,
/// the document's and the store's answers are applied again.
pub fn reconfigure_debconf(
    global: &GlobalSettings,
    env: &Env,
    options: &DebconfReconfigure,
) -> Result<()> {
    let package = &options.package;
    if !crate::package::valid_package_name(package) {
        return Err(Error::Usage(format!(
            "{package:?} is not a package name (lower case letters, digits, + - .)"
        )));
    }
    if global.paths.root != Path::new("/") {
        return Err(Error::Usage(format!(
            "{package} has no confpack files under {}: a package is reconfigured by its \
             debconf questions with dpkg-reconfigure, which works on the running system \
             only, not under --root",
            global.paths.root.display()
        )));
    }
    let mut listener = node_listener(global.quiet);
    let asking = Asking {
        frontend: options.frontend.as_deref(),
        reshow: !options.unseen_only,
    };
    let mut apt = agent_apt(global, env, &asking, &mut listener)?;
    let mut args = vec![format!("--priority={}", options.priority)];
    if options.unseen_only {
        args.push("--unseen-only".to_string());
    }
    args.push(package.clone());
    let ran = apt
        .run(Purpose::Change, "dpkg-reconfigure", &args, &mut listener)
        .map(drop);
    finish_agent(global, &mut apt, ran, &mut listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_gets_command_is_found_past_options_and_their_values() {
        let command = |line: &str| {
            let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            apt_get_command(&args).map(str::to_string)
        };
        assert_eq!(command("update").as_deref(), Some("update"));
        assert_eq!(
            command("-o Debug::X=1 -y -t bookworm-backports install ntp").as_deref(),
            Some("install")
        );
        assert_eq!(
            command("--option update=1 -q upgrade").as_deref(),
            Some("upgrade")
        );
        assert_eq!(command("-y -q").as_deref(), None);
    }
}
