//! Runs a parsed command line: the glue between [`crate::cli`] and the
//! library stages. Prints results to stdout, progress to stderr.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use crate::cli::{Cli, Command, ConfigureArgs, OutputFormat, PriorityArg, SetSource};
use crate::configure::{self, Options, Paths};
use crate::env::model::{Priority, QuestionType, Source};
use crate::env::{self, Validation};
use crate::error::{Error, Result};
use crate::frontend::{self, Frontend, noninteractive::Noninteractive};
use crate::output::{self, MASK};
use crate::store::{Batch, StoredAnswer};
use crate::{Listener, StderrListener};

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value.clamp(0.0, 86_400.0))
}

/// Runs the command; output goes to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    let mut listener = StderrListener { quiet: cli.quiet };
    let paths = Paths::new(&cli.root, cli.db.as_deref());
    let lock_timeout = seconds(cli.lock_timeout);
    match cli.command {
        Command::Configure(args) => {
            run_configure(&paths, lock_timeout, args, None, &mut listener, out)
                .map_err(name_what_ended)
                .inspect_err(tell_the_run)
        }
        Command::Reconfigure { package, mut args } => {
            args.force_questions = true;
            run_configure(&paths, lock_timeout, args, package, &mut listener, out)
                .map_err(name_what_ended)
                .inspect_err(tell_the_run)
        }
        Command::Validate { schema, files } => validate(&files, schema.as_deref(), out),
        Command::Get { key, show_secrets } => {
            let store = paths.open_store_for_reading(lock_timeout)?;
            let answer = store
                .answer(&key)?
                .ok_or(Error::NoAnswer { key: key.clone() })?;
            let value = if answer.secret && !show_secrets {
                listener.warning(&format!(
                    "{key} is a secret: masked; use --show-secrets to print it"
                ));
                MASK.to_string()
            } else {
                answer.value.unwrap_or_default()
            };
            writeln!(out, "{value}").map_err(stdout_error)
        }
        Command::Set {
            key,
            value,
            source,
            seen,
            secret,
        } => {
            if secret && value != "-" {
                listener.warning(
                    "the secret is on the command line, visible in `ps` and the shell history; \
                     pass `-` to read it from stdin",
                );
            }
            set(&paths, lock_timeout, &key, &value, source, seen, secret)
        }
        Command::Convert {
            file,
            schema,
            output,
            derive,
        } => {
            let rules = derive_rules(&derive)?;
            let text = crate::convert::convert(&file, schema.as_deref(), &rules, &mut listener)?;
            match output {
                Some(path) => crate::files::write_atomic(&path, text.as_bytes(), 0o644),
                None => out.write_all(text.as_bytes()).map_err(stdout_error),
            }
        }
        Command::ImportDebconf {
            file,
            include_passwords,
        } => {
            let (origin, text) = match file.as_deref() {
                None => ("<stdin>".to_string(), read_stdin()?),
                Some(path) if path == Path::new("-") => ("<stdin>".to_string(), read_stdin()?),
                Some(path) => (
                    path.display().to_string(),
                    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?,
                ),
            };
            let store = paths.open_store(lock_timeout)?;
            let report = crate::debconf::import(&store, &origin, &text, include_passwords)?;
            listener.info(&format!(
                "imported {} answer(s){}",
                report.imported,
                if report.skipped_passwords > 0 {
                    format!(
                        ", skipped {} password(s) (use --include-passwords)",
                        report.skipped_passwords
                    )
                } else {
                    String::new()
                }
            ));
            Ok(())
        }
        Command::Export {
            format: crate::cli::ExportFormat::Debconf,
            include_passwords,
        } => {
            let store = paths.open_store_for_reading(lock_timeout)?;
            let (text, skipped) = crate::debconf::export(&store.answers()?, include_passwords);
            for warning in skipped {
                listener.warning(&warning);
            }
            out.write_all(text.as_bytes()).map_err(stdout_error)
        }
        Command::Answers {
            format,
            show_secrets,
        } => {
            let store = paths.open_store_for_reading(lock_timeout)?;
            let format = match format {
                OutputFormat::Table => output::Format::Table,
                OutputFormat::Json => output::Format::Json,
                OutputFormat::Shell => output::Format::Shell,
            };
            let text = output::format_answers(
                &store.answers()?,
                &store.open_conflicts()?,
                format,
                show_secrets,
            )?;
            out.write_all(text.as_bytes()).map_err(stdout_error)
        }
        Command::Status { format } => {
            let mut apt = crate::runtime::apt::System::new(
                &paths.root,
                lock_timeout,
                crate::runtime::apt::Attach::Unattended,
            )?;
            let report = crate::status::status(
                &paths,
                lock_timeout,
                crate::select::host_identities(),
                &mut apt,
            )?;
            let text = match format {
                crate::cli::StatusFormat::Text => report.text(),
                crate::cli::StatusFormat::Json => report.json()?,
            };
            out.write_all(text.as_bytes()).map_err(stdout_error)?;
            if report.matches() {
                Ok(())
            } else {
                Err(Error::Mismatch {
                    summary: report.summary(),
                })
            }
        }
        Command::Build(args) => build(args, cli.quiet, out),
        Command::RemoveRendered { package } => {
            crate::remove::remove_rendered(&paths, &package, lock_timeout, &mut listener).map(drop)
        }
        Command::Purge { package } => {
            crate::remove::purge(&paths, &package, lock_timeout, &mut listener).map(drop)
        }
        Command::Publish(args) => publish(args, lock_timeout, &mut listener),
        Command::Upload {
            repo,
            target,
            via,
            delete,
        } => upload(&repo, &target, via, delete, cli.quiet),
        Command::SetEnvironment {
            environment,
            repo_url,
            key,
        } => crate::runtime::set_environment(
            &paths,
            &environment,
            repo_url.as_deref(),
            key.as_deref(),
            lock_timeout,
            &mut listener,
        )
        .map(drop),
        Command::Update => {
            let mut apt = node_apt(&paths, lock_timeout)?;
            crate::runtime::update(&mut apt, &mut node_listener(cli.quiet))
        }
        Command::Install { names } => {
            let mut apt = node_apt(&paths, lock_timeout)?;
            crate::runtime::install(&mut apt, &names, &mut node_listener(cli.quiet)).map(drop)
        }
        Command::Upgrade {
            version,
            no_autoremove,
            roles,
        } => {
            let mut apt = node_apt(&paths, lock_timeout)?;
            let options = crate::runtime::UpgradeOptions {
                version,
                roles,
                autoremove: !no_autoremove,
            };
            let mut reconfigure = Reconfigurer {
                paths: &paths,
                lock_timeout,
            };
            crate::runtime::upgrade(
                &mut apt,
                &options,
                &mut reconfigure,
                &mut node_listener(cli.quiet),
            )
            .map(drop)
        }
        Command::Keygen {
            rotate,
            public,
            drop_old,
        } => keygen(&paths.root, rotate, public, drop_old, &mut listener, out),
        Command::Encrypt { recipients, output } => encrypt(&recipients, output.as_deref(), out),
    }
}

/// A cancel that no person chose (SIGTERM, SIGHUP, the starting confpack
/// gone) says what ended it.
fn name_what_ended(error: Error) -> Error {
    use crate::frontend::signals::{Caught, ended_by};
    match (&error, ended_by()) {
        (Error::Cancelled, Some(caught)) => Error::Ended {
            by: match caught {
                Caught::Terminate => "SIGTERM",
                Caught::HangUp => "SIGHUP (the terminal went away)",
                Caught::Abandoned => "the end of the confpack install/upgrade that started it",
                Caught::Interrupt => "SIGINT",
            }
            .to_string(),
        },
        _ => error,
    }
}

/// Under `confpack install`/`upgrade`: a person who quits a question
/// quits the whole run, not only this package; questions nobody could
/// answer are named by the starting confpack too (exit 3).
fn tell_the_run(error: &Error) {
    match error {
        Error::Cancelled | Error::CancelledAtEditedFile { .. } => crate::run::end(),
        Error::Unanswered { keys } => crate::run::report_unanswered(keys),
        _ => {}
    }
}

/// apt and dpkg on this node, attached to the person's terminal when
/// there is one.
fn node_apt(paths: &Paths, lock_timeout: Duration) -> Result<crate::runtime::apt::System> {
    use crate::runtime::apt::{Attach, System};
    System::new(&paths.root, lock_timeout, Attach::detect())
}

/// apt's output with a progress bar on a terminal.
fn node_listener(quiet: bool) -> crate::builder::progress::ProgressListener {
    crate::builder::progress::ProgressListener::labelled(quiet, "apt")
}

fn publish(
    args: crate::cli::PublishArgs,
    lock_timeout: Duration,
    listener: &mut dyn Listener,
) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let options = crate::publish::Options {
        repo: args.repo,
        environment: args.environment,
        debs: args.debs,
        architectures: args.architectures,
        keep: args.keep,
        remove: args.remove,
        valid_for_days: args.valid_for,
        now,
        lock_timeout,
        documents: args
            .documents
            .iter()
            .map(|spec| crate::publish::document_spec(spec))
            .collect::<Result<_>>()?,
    };
    let mut gpg = args
        .sign_key
        .map(|key| crate::publish::sign::Gpg { key, homedir: None });
    let signer = gpg
        .as_mut()
        .map(|g| g as &mut dyn crate::publish::sign::Signer);
    crate::publish::publish(&options, signer, listener).map(drop)
}

fn upload(
    repo: &Path,
    target: &str,
    via: Option<crate::cli::ViaArg>,
    delete: bool,
    quiet: bool,
) -> Result<()> {
    use crate::publish::upload::{self, Via};
    let via = match via {
        Some(crate::cli::ViaArg::Copy) => Via::Copy,
        Some(crate::cli::ViaArg::Rsync) => Via::Rsync,
        None if upload::is_remote(target) => Via::Rsync,
        None => Via::Copy,
    };
    let mut listener = crate::builder::progress::ProgressListener::labelled(quiet, "uploading");
    upload::upload(
        repo,
        target,
        via,
        delete,
        &mut upload::SystemRunner,
        &mut listener,
    )
    .map(drop)
}

/// Runs `configure --package PKG` with the defaults of the command line;
/// a change of the database generation tells that something changed.
struct Reconfigurer<'a> {
    paths: &'a Paths,
    lock_timeout: Duration,
}

impl crate::runtime::Reconfigure for Reconfigurer<'_> {
    fn reconfigure(&mut self, package: &str, listener: &mut dyn Listener) -> Result<bool> {
        use clap::Parser;
        let parsed = Cli::try_parse_from(["confpack", "configure", "--package", package])
            .map_err(|e| Error::Usage(e.to_string()))?;
        let Command::Configure(args) = parsed.command else {
            return Err(Error::Usage("configure arguments".into()));
        };
        let before = crate::store::generation(&self.paths.db);
        run_configure(
            self.paths,
            self.lock_timeout,
            args,
            None,
            listener,
            &mut std::io::sink(),
        )?;
        Ok(crate::store::generation(&self.paths.db) != before)
    }
}

fn keygen(
    root: &Path,
    rotate: bool,
    public: bool,
    drop_old: bool,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    if public {
        for key in crate::secrets::NodeKey::load(root)?.public_keys() {
            writeln!(out, "{key}").map_err(stdout_error)?;
        }
        return Ok(());
    }
    if drop_old {
        let dropped = crate::secrets::drop_old_keys(root)?;
        listener.info(&format!("dropped {dropped} older key(s)"));
        return Ok(());
    }
    let generated = crate::secrets::keygen(root, rotate)?;
    listener.info(&format!(
        "wrote {} (0600){}; add the public key to the configuration repository's recipients",
        generated.path.display(),
        if generated.older > 0 {
            format!(", {} older key(s) kept until --drop-old", generated.older)
        } else {
            String::new()
        }
    ));
    writeln!(out, "{}", generated.public_key).map_err(stdout_error)
}

fn encrypt(recipients: &Path, output: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let recipients = crate::secrets::read_recipients(recipients)?;
    let mut secret = Vec::new();
    std::io::stdin()
        .read_to_end(&mut secret)
        .map_err(|e| Error::io("<stdin>", e))?;
    match output {
        Some(path) => {
            let bytes = crate::secrets::encrypt(&recipients, &secret)?;
            crate::files::write_atomic(path, &bytes, 0o644)
        }
        None => {
            let text = String::from_utf8(secret).map_err(|_| {
                Error::Usage("a value must be UTF-8 text; use --output for a file".into())
            })?;
            // One trailing newline is the terminator of `echo`, not the value.
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let value = crate::secrets::encrypt_value(&recipients, text)?;
            writeln!(out, "{value}").map_err(stdout_error)
        }
    }
}

fn build(args: crate::cli::BuildArgs, quiet: bool, out: &mut dyn Write) -> Result<()> {
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) if !value.trim().is_empty() => {
            Some(value.trim().parse::<i64>().map_err(|_| {
                Error::Usage(format!(
                    "SOURCE_DATE_EPOCH={value} is not a number of seconds"
                ))
            })?)
        }
        _ => None,
    };
    let options = crate::builder::Options {
        repo: args.repo,
        out: args.out,
        runtime: args.runtime,
        runtime_binary: args.runtime_binary,
        known_packages: args.known_packages,
        check_dependencies: !args.no_dependency_check,
        version_suffix: args.version_suffix,
        allow_dirty: args.allow_dirty,
        source_date_epoch,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let mut listener = crate::builder::progress::ProgressListener::new(quiet);
    let report = crate::builder::build(&options, &mut listener)?;
    for path in &report.written {
        writeln!(out, "{}", path.display()).map_err(stdout_error)?;
    }
    Ok(())
}

/// Collects `--derive KEY=EXPR` and `--derive-file` rules.
fn derive_rules(
    args: &crate::cli::DeriveArgs,
) -> Result<std::collections::BTreeMap<String, String>> {
    let file_text = match &args.derive_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?),
        None => None,
    };
    let mut lines: Vec<(String, Option<u64>, &str)> = args
        .rules
        .iter()
        .map(|rule| ("--derive".to_string(), None, rule.as_str()))
        .collect();
    if let (Some(path), Some(text)) = (&args.derive_file, &file_text) {
        lines.extend(
            text.lines()
                .enumerate()
                .map(|(i, line)| (path.display().to_string(), Some(i as u64 + 1), line)),
        );
    }
    crate::env::dataone::parse_rules(lines)
}

fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Error::io("<stdin>", e))?;
    Ok(text)
}

fn stdout_error(error: std::io::Error) -> Error {
    Error::io("<stdout>", error)
}

fn priority(arg: Option<PriorityArg>, force: bool) -> Priority {
    match arg {
        Some(PriorityArg::Low) => Priority::Low,
        Some(PriorityArg::Medium) => Priority::Medium,
        Some(PriorityArg::High) => Priority::High,
        Some(PriorityArg::Critical) => Priority::Critical,
        None => match std::env::var("DEBIAN_PRIORITY")
            .ok()
            .and_then(|p| p.parse().ok())
        {
            Some(priority) => priority,
            None if force => Priority::Low,
            None => Priority::High,
        },
    }
}

/// Chooses the frontend: `--frontend`, else `DEBIAN_FRONTEND`, else a
/// terminal decides.
fn choose_frontend(
    requested: Option<&str>,
    listener: &mut dyn Listener,
) -> Result<Box<dyn Frontend>> {
    let from_env = std::env::var("DEBIAN_FRONTEND")
        .ok()
        .filter(|v| !v.is_empty());
    let (name, explicit) = match (requested, from_env.as_deref()) {
        (Some(name), _) => (Some(name.to_string()), true),
        (None, Some(name)) => (Some(name.to_string()), false),
        (None, None) => (None, false),
    };
    let kind = match name.as_deref() {
        Some(name) => match frontend::Kind::parse(name) {
            Some(kind) => kind,
            None if explicit => {
                return Err(Error::Usage(format!(
                    "unknown frontend {name}; use noninteractive, text or tui"
                )));
            }
            None => {
                listener.warning(&format!(
                    "DEBIAN_FRONTEND={name} is not known to confpack; using noninteractive"
                ));
                frontend::Kind::Noninteractive
            }
        },
        // Without a terminal, noninteractive is the default, not a fallback.
        None if frontend::terminal::Device::find().is_ok() => frontend::Kind::Tui,
        None => frontend::Kind::Noninteractive,
    };
    let chosen = match (explicit, name.is_some()) {
        (true, _) => frontend::Chosen::Flag,
        (false, true) => frontend::Chosen::Environment,
        (false, false) => frontend::Chosen::Default,
    };
    Ok(frontend::open(kind, chosen, listener))
}

fn run_configure(
    paths: &Paths,
    lock_timeout: Duration,
    args: ConfigureArgs,
    package: Option<String>,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let package = package.or(args.package);
    if let Some(key) = args
        .take_document
        .iter()
        .find(|k| args.keep_mine.contains(k))
    {
        return Err(Error::Usage(format!(
            "{key} is given to both --take-document and --keep-mine"
        )));
    }
    let decisions = crate::merge::Decisions {
        take_document: args.take_document.iter().cloned().collect(),
        take_document_all: args.take_document_all,
        keep_mine: args.keep_mine.iter().cloned().collect(),
        keep_mine_all: args.keep_mine_all,
    };
    let options = Options {
        decisions,
        paths: paths.clone(),
        package,
        env_url: args.env_url,
        env_file: args.env_file,
        schema: args.schema,
        machine: args.machine.clone(),
        environment: args.environment,
        force: args.force_questions,
        priority: priority(args.priority, args.force_questions),
        dry_run: args.dry_run,
        lock_timeout,
        fetch_timeout: seconds(args.timeout),
        max_bytes: args.max_size,
        max_value_bytes: args.max_value_size,
        max_render_bytes: args.max_render_size,
        derive_rules: derive_rules(&args.derive)?,
        host_identities: if args.machine.is_some() {
            Vec::new()
        } else {
            crate::select::host_identities()
        },
    };
    let mut frontend: Box<dyn Frontend> = if args.dry_run {
        Box::new(Noninteractive)
    } else {
        choose_frontend(args.frontend.as_deref(), listener)?
    };
    let report = configure::configure(&options, frontend.as_mut(), listener)?;
    if options.dry_run {
        writeln!(out, "plan for {}:", report.selection).map_err(stdout_error)?;
        let width = report.plan.iter().map(|l| l.key.len()).max().unwrap_or(0);
        for line in &report.plan {
            let value = match (&line.value, line.secret) {
                (Some(_), true) => MASK.to_string(),
                (Some(value), false) if value.chars().count() > 120 => {
                    let head: String = value.chars().take(100).collect();
                    format!("{head:?}… ({} characters)", value.chars().count())
                }
                (Some(value), false) => format!("{value:?}"),
                (None, _) => "-".to_string(),
            };
            writeln!(out, "  {:width$}  {}  {}", line.key, line.action, value)
                .map_err(stdout_error)?;
        }
        return Ok(());
    }
    if report.unchanged {
        return Ok(());
    }
    let asked = if !frontend.is_interactive() {
        format!(
            "{} question(s) took their defaults (noninteractive)",
            report.asked.len()
        )
    } else {
        format!("{} question(s) asked", report.asked.len())
    };
    listener.info(&format!(
        "{asked}, {} answer(s) changed, {} file(s) written, {} removed, {} hook(s) run",
        report.changed.len(),
        report.files_written.len(),
        report.files_removed.len(),
        report.hooks_run.len()
    ));
    Ok(())
}

fn validate(
    files: &[std::path::PathBuf],
    schema: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut problems = Vec::new();
    for file in files {
        let origin = file.display().to_string();
        let validation = match schema {
            Some(schema) => Validation::File(schema),
            None => Validation::Builtin,
        };
        match env::validate(file, &origin, validation) {
            Ok(document) => {
                for warning in &document.warnings {
                    crate::say(format_args!("confpack: warning: {warning}"));
                }
                writeln!(out, "{origin}: valid").map_err(stdout_error)?
            }
            Err(Error::Invalid(found)) => problems.extend(found),
            Err(other) => problems.push(crate::error::Problem {
                file: origin,
                line: None,
                message: other.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

fn set(
    paths: &Paths,
    lock_timeout: Duration,
    key: &str,
    value: &str,
    source: SetSource,
    seen: bool,
    secret: bool,
) -> Result<()> {
    crate::store::check_key(key).map_err(Error::Usage)?;
    let value = if value == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("<stdin>", e))?;
        // One trailing newline is the terminator of `echo`, not the value.
        text.strip_suffix('\n').map(str::to_string).unwrap_or(text)
    } else {
        value.to_string()
    };
    let store = paths.open_store(lock_timeout)?;
    let existing = store.answer(key)?;
    let question_type = existing
        .as_ref()
        .map(|a| a.question_type)
        .unwrap_or(if secret {
            QuestionType::Password
        } else {
            QuestionType::String
        });
    question_type
        .check(&value, &[])
        .or_else(|m| {
            if question_type.has_choices() {
                Ok(())
            } else {
                Err(m)
            }
        })
        .map_err(|message| Error::Question {
            key: key.to_string(),
            message,
        })?;
    let answer = StoredAnswer {
        value: Some(value),
        source: match source {
            SetSource::User => Source::User,
            SetSource::Configured => Source::Configured,
        },
        seen,
        owners: existing
            .as_ref()
            .map(|a| a.owners.clone())
            .unwrap_or_default(),
        question_type,
        secret: secret || question_type.is_secret() || existing.as_ref().is_some_and(|a| a.secret),
    };
    let mut batch = Batch::new();
    batch.set_answer(key, &answer)?;
    store.commit(batch)
}
