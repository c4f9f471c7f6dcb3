//! Runs a parsed command line: resolves the settings ([`crate::settings`])
//! and calls the subcommand's function ([`crate::commands`]). Nothing
//! else happens here, so the whole command line reads as one table.

use std::io::Write;

use crate::StderrListener;
use crate::cli::{Cli, Command};
use crate::commands;
use crate::env::model::Priority;
use crate::error::{Error, Result};
use crate::settings::{self, ConfigureSettings, Env, GlobalSettings};

/// Runs the command; output goes to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    run_in(cli, &Env::from_process(), out)
}

/// Runs the command under the environment variables `env`.
pub fn run_in(cli: Cli, env: &Env, out: &mut dyn Write) -> Result<()> {
    let global = GlobalSettings::resolve(&cli);
    let listener = &mut StderrListener { quiet: cli.quiet };
    match cli.command {
        Command::Configure(args) => {
            let settings = ConfigureSettings::resolve(args, None, &global, env)?;
            commands::configure::configure(&settings, listener, out)
        }
        Command::Reconfigure {
            package,
            unseen_only,
            args,
        } => {
            let how = Reconfigure { unseen_only, args };
            reconfigure(&global, env, package, how, out)
        }
        Command::Validate { schema, files } => {
            commands::validate::validate(&files, schema.as_deref(), out)
        }
        Command::Get { key, show_secrets } => {
            commands::get::get(&global, &key, show_secrets, listener, out)
        }
        Command::Set {
            key,
            value,
            source,
            seen,
            secret,
        } => {
            let args = commands::set::SetArgs {
                key,
                value,
                source,
                seen,
                secret,
            };
            commands::set::set(&global, args, listener)
        }
        Command::Convert {
            file,
            from_debconf_templates,
            po,
            owner,
            schema,
            output,
            derive,
        } => {
            let input = match (from_debconf_templates, file) {
                (Some(templates), _) => commands::convert::Input::DebconfTemplates {
                    templates,
                    po,
                    owner,
                },
                (None, Some(file)) => commands::convert::Input::Document { file, schema },
                (None, None) => {
                    return Err(Error::Usage(
                        "convert needs a FILE or --from-debconf-templates TEMPLATES".into(),
                    ));
                }
            };
            commands::convert::convert(&input, output.as_deref(), &derive, listener, out)
        }
        Command::ImportDebconf {
            file,
            include_passwords,
        } => commands::import_debconf::import_debconf(
            &global,
            file.as_deref(),
            include_passwords,
            listener,
        ),
        Command::Export {
            format,
            include_passwords,
        } => commands::export::export(&global, format, include_passwords, listener, out),
        Command::Answers {
            format,
            show_secrets,
        } => commands::answers::answers(&global, format, show_secrets, out),
        Command::Status { format } => commands::status::status(&global, format, out),
        Command::Build(args) => {
            let options = settings::build_options(args, env)?;
            commands::build::build(&options, global.quiet, out)
        }
        Command::Plan(args) => {
            let options = settings::plan_options(&args);
            commands::plan::plan(&options, args.format, listener, out)
        }
        Command::RemoveRendered { package } => {
            commands::remove::remove_rendered(&global, &package, listener)
        }
        Command::Purge { package } => commands::remove::purge(&global, &package, listener),
        Command::Apply { package } => commands::remove::apply(&global, &package, listener),
        Command::Publish(args) => {
            let now = commands::publish::now();
            let (options, sign_key) = settings::publish_options(args, global.lock_timeout, now)?;
            commands::publish::publish(&options, sign_key, listener)
        }
        Command::Upload {
            repo,
            target,
            via,
            delete,
        } => {
            let via = settings::upload_via(via, &target);
            commands::upload::upload(&repo, &target, via, delete, global.quiet)
        }
        Command::SetEnvironment {
            environment,
            repo_url,
            key,
            converge_every,
            no_converge,
        } => commands::node::set_environment(
            &global,
            &environment,
            repo_url.as_deref(),
            key.as_deref(),
            settings::converge(converge_every.as_deref(), no_converge)?,
            listener,
        ),
        Command::Update => commands::node::update(&global, env),
        Command::Install { names } => commands::node::install(&global, env, &names),
        Command::Apt { args } => commands::node::apt(&global, env, &args),
        Command::Upgrade {
            version,
            no_autoremove,
            roles,
        } => {
            let options = crate::runtime::UpgradeOptions {
                version,
                roles,
                autoremove: !no_autoremove,
            };
            commands::node::upgrade(&global, env, &options)
        }
        Command::Keygen {
            rotate,
            public,
            drop_old,
        } => {
            let action = commands::keygen::KeygenAction::from_flags(rotate, public, drop_old);
            commands::keygen::keygen(&global.paths.root, action, listener, out)
        }
        Command::Encrypt { recipients, output } => {
            commands::encrypt::encrypt(&recipients, output.as_deref(), out)
        }
    }
}

/// `reconfigure`'s own flags and configure's.
struct Reconfigure {
    unseen_only: bool,
    args: crate::cli::ConfigureArgs,
}

/// `reconfigure [PKG]`: a confpack package is configured again; any other
/// package is reconfigured by its debconf questions.
fn reconfigure(
    global: &GlobalSettings,
    env: &Env,
    package: Option<String>,
    how: Reconfigure,
    out: &mut dyn Write,
) -> Result<()> {
    let Reconfigure { unseen_only, args } = how;
    match package {
        Some(package) if !crate::package::is_confpacks(&global.paths.root, &package) => {
            let options = commands::node::DebconfReconfigure {
                package,
                unseen_only,
                priority: settings::priority(args.priority, Priority::Low, env),
                frontend: args.frontend,
            };
            commands::node::reconfigure_debconf(global, env, &options)
        }
        package => {
            let settings = ConfigureSettings::reconfigure(args, package, unseen_only, global, env)?;
            let listener = &mut StderrListener {
                quiet: global.quiet,
            };
            commands::configure::configure(&settings, listener, out)
        }
    }
}
