//! Resolves the command line and the process environment into plain
//! settings (uv's `settings.rs`), so the commands only run.
//!
//! Every environment variable a run reads on behalf of its flags
//! (`DEBIAN_FRONTEND`, `DEBIAN_PRIORITY`, `SOURCE_DATE_EPOCH`, and the
//! locale: `LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG`) is read once,
//! into an [`Env`], and every function here takes that [`Env`] as a
//! parameter: tests build settings from a table of flags and variables
//! instead of changing the test process's environment.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::cli::{
    BuildArgs, Cli, ConfigureArgs, DeriveArgs, PlanArgs, PriorityArg, PublishArgs, ViaArg,
};
use crate::configure::Options;
use crate::env::model::Priority;
use crate::error::{Error, Result};
use crate::frontend::Choice;
use crate::paths::Paths;
use crate::publish::upload::{self, Via};
use crate::runtime::timer::{Converge, Interval};

/// The environment variables that decide settings, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The variables settings read; no other is looked at.
    pub const NAMES: [&'static str; 8] = [
        "CONFPACK_FRONTEND",
        "DEBIAN_FRONTEND",
        "DEBIAN_PRIORITY",
        "SOURCE_DATE_EPOCH",
        "LANGUAGE",
        "LC_ALL",
        "LC_MESSAGES",
        "LANG",
    ];

    /// This process's values of [`Env::NAMES`] (one that is not UTF-8
    /// counts as unset).
    pub fn from_process() -> Env {
        Env {
            vars: Env::NAMES
                .iter()
                .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
                .collect(),
        }
    }

    /// An environment of exactly these variables (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// The global flags, resolved: they hold for every command.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    pub paths: Paths,
    pub lock_timeout: Duration,
    pub quiet: bool,
}

impl GlobalSettings {
    pub fn resolve(cli: &Cli) -> GlobalSettings {
        GlobalSettings {
            paths: Paths::new(&cli.root, cli.db.as_deref()),
            lock_timeout: seconds(cli.lock_timeout),
            quiet: cli.quiet,
        }
    }
}

/// A number of seconds from the command line, kept between none and a day.
pub fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value.clamp(0.0, 86_400.0))
}

/// What `configure` (and `reconfigure`) run with.
#[derive(Debug)]
pub struct ConfigureSettings {
    pub options: Options,
    pub frontend: Choice,
}

impl ConfigureSettings {
    /// `configure`'s flags; `package` is `reconfigure`'s positional one,
    /// which wins over `--package`.
    pub fn resolve(
        args: ConfigureArgs,
        package: Option<String>,
        global: &GlobalSettings,
        env: &Env,
    ) -> Result<ConfigureSettings> {
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
        let derive_rules = derive_rules(&args.derive)?;
        let options = Options {
            decisions,
            paths: global.paths.clone(),
            package: package.or(args.package),
            env_url: args.env_url,
            env_file: args.env_file,
            schema: args.schema,
            host_identities: if args.machine.is_some() {
                Vec::new()
            } else {
                crate::select::host_identities()
            },
            machine: args.machine,
            environment: args.environment,
            force: args.force_questions,
            priority: priority(
                args.priority,
                match args.force_questions {
                    true => Priority::Low,
                    false => Priority::High,
                },
                env,
            ),
            dry_run: args.dry_run,
            lock_timeout: global.lock_timeout,
            fetch_timeout: seconds(args.timeout),
            max_bytes: args.max_size,
            max_value_bytes: args.max_value_size,
            max_render_bytes: args.max_render_size,
            derive_rules,
        };
        // A dry run asks nobody, so its frontend flags are not even read.
        let frontend = if args.dry_run {
            Choice::noninteractive()
        } else {
            Choice {
                languages: languages(env),
                ..Choice::resolve(args.frontend.as_deref(), frontend_name(env))?
            }
        };
        Ok(ConfigureSettings { options, frontend })
    }

    /// `reconfigure [PKG]`: every question asked (or with `unseen_only`
    /// the ones not seen yet), below priority high too unless `--priority`
    /// or `DEBIAN_PRIORITY` says otherwise.
    pub fn reconfigure(
        mut args: ConfigureArgs,
        package: Option<String>,
        unseen_only: bool,
        global: &GlobalSettings,
        env: &Env,
    ) -> Result<ConfigureSettings> {
        args.force_questions = !unseen_only;
        let flag = args.priority;
        let mut settings = ConfigureSettings::resolve(args, package, global, env)?;
        settings.options.priority = priority(flag, Priority::Low, env);
        Ok(settings)
    }

    /// `configure --package PACKAGE` with every other flag at its default:
    /// what `upgrade` runs for a package it changed.
    pub fn for_package(
        package: &str,
        global: &GlobalSettings,
        env: &Env,
    ) -> Result<ConfigureSettings> {
        let args = ConfigureArgs {
            package: Some(package.to_string()),
            ..ConfigureArgs::default()
        };
        ConfigureSettings::resolve(args, None, global, env)
    }
}

/// Which questions are shown: `--priority`, else `DEBIAN_PRIORITY` (when
/// it names a priority), else low with `--force-questions` and high
/// without.
/// The languages to show questions in, most wanted first, the way
/// debconf picks a template's translation: each entry of `LANGUAGE` (a
/// colon list), then the locale (`LC_ALL`, else `LC_MESSAGES`, else
/// `LANG`). A locale name loses its codeset (`.UTF-8`); `de_AT` is tried
/// before `de`, `sr_RS@latin` as `sr_RS@latin`, `sr@latin`, `sr_RS`, `sr`.
/// `C` and `POSIX` name no language. Last comes `en`: debconf's
/// untranslated texts are English, and a template whose choices are codes
/// keeps their English labels as its `en` translation.
pub fn languages(env: &Env) -> Vec<String> {
    let set = |name: &str| env.get(name).filter(|v| !v.is_empty());
    let locale = set("LC_ALL")
        .or_else(|| set("LC_MESSAGES"))
        .or_else(|| set("LANG"));
    let mut languages: Vec<String> = Vec::new();
    let names = set("LANGUAGE")
        .into_iter()
        .flat_map(|list| list.split(':'))
        .chain(locale);
    for name in names {
        for candidate in locale_candidates(name) {
            if !languages.contains(&candidate) {
                languages.push(candidate);
            }
        }
    }
    if !languages.iter().any(|l| l == "en") {
        languages.push("en".to_string());
    }
    languages
}

/// The language tags a locale name stands for, most specific first.
fn locale_candidates(name: &str) -> Vec<String> {
    let (name, modifier) = match name.split_once('@') {
        Some((name, modifier)) => (name, Some(modifier)),
        None => (name, None),
    };
    let name = name.split('.').next().unwrap_or_default();
    if name.is_empty() || name == "C" || name == "POSIX" {
        return Vec::new();
    }
    let language = name.split('_').next().unwrap_or(name);
    let mut bases = vec![name];
    if language != name {
        bases.push(language);
    }
    let mut candidates = Vec::new();
    if let Some(modifier) = modifier.filter(|m| !m.is_empty()) {
        candidates.extend(bases.iter().map(|base| format!("{base}@{modifier}")));
    }
    candidates.extend(bases.iter().map(|base| base.to_string()));
    candidates
}

/// The priority below which questions with a usable value are not asked:
/// the flag, else `DEBIAN_PRIORITY`, else `by_default`.
pub fn priority(flag: Option<PriorityArg>, by_default: Priority, env: &Env) -> Priority {
    match flag {
        Some(PriorityArg::Low) => Priority::Low,
        Some(PriorityArg::Medium) => Priority::Medium,
        Some(PriorityArg::High) => Priority::High,
        Some(PriorityArg::Critical) => Priority::Critical,
        None => match env.get("DEBIAN_PRIORITY").and_then(|p| p.parse().ok()) {
            Some(priority) => priority,
            None => by_default,
        },
    }
}

/// Collects `--derive KEY=EXPR` and `--derive-file` rules.
pub fn derive_rules(args: &DeriveArgs) -> Result<BTreeMap<String, String>> {
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

/// What `build` runs with: `SOURCE_DATE_EPOCH` pins the dates (an empty
/// one counts as unset); `--jobs` defaults to the number of CPUs.
pub fn build_options(args: BuildArgs, env: &Env) -> Result<crate::builder::Options> {
    let source_date_epoch = match env.get("SOURCE_DATE_EPOCH") {
        Some(value) if !value.trim().is_empty() => {
            Some(value.trim().parse::<i64>().map_err(|_| {
                Error::Usage(format!(
                    "SOURCE_DATE_EPOCH={value} is not a number of seconds"
                ))
            })?)
        }
        _ => None,
    };
    Ok(crate::builder::Options {
        repo: args.repo,
        out: args.out,
        runtime: args.runtime,
        runtime_binary: args.runtime_binary,
        known_packages: args.known_packages,
        check_dependencies: !args.no_dependency_check,
        version_suffix: args.version_suffix,
        allow_dirty: args.allow_dirty,
        source_date_epoch,
        jobs: jobs(args.jobs),
    })
}

/// `--jobs`, else the number of CPUs.
fn jobs(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// What `plan` runs with; `--jobs` defaults to the number of CPUs.
pub fn plan_options(args: &PlanArgs) -> crate::plan::Options {
    let since = match (&args.since, args.full) {
        (_, true) => crate::plan::Since::Nothing,
        (Some(revision), false) => crate::plan::Since::Revision(revision.clone()),
        (None, false) => crate::plan::Since::Previous,
    };
    crate::plan::Options {
        repo: args.repo.clone(),
        environments: args.environment.clone(),
        machines: args.machine.clone(),
        since,
        answers: args.answers.clone(),
        jobs: jobs(args.jobs),
        max_value_bytes: args.max_value_size,
        max_render_bytes: args.max_render_size,
    }
}

/// What `publish` runs with, at `now` (seconds since the epoch), and the
/// gpg key to sign with.
pub fn publish_options(
    args: PublishArgs,
    lock_timeout: Duration,
    now: i64,
) -> Result<(crate::publish::Options, Option<String>)> {
    let options = crate::publish::Options {
        documents: args
            .documents
            .iter()
            .map(|spec| crate::publish::document_spec(spec))
            .collect::<Result<_>>()?,
        repo: args.repo,
        environment: args.environment,
        debs: args.debs,
        architectures: args.architectures,
        keep: args.keep,
        remove: args.remove,
        valid_for_days: args.valid_for,
        now,
        lock_timeout,
    };
    Ok((options, args.sign_key))
}

/// How `upload` copies: `--via`, else rsync for a remote target and a
/// plain copy for a directory.
pub fn upload_via(flag: Option<ViaArg>, target: &str) -> Via {
    match flag {
        Some(ViaArg::Copy) => Via::Copy,
        Some(ViaArg::Rsync) => Via::Rsync,
        None if upload::is_remote(target) => Via::Rsync,
        None => Via::Copy,
    }
}

/// Where `import-debconf` reads: `None` or `-` is stdin.
pub fn reads_stdin(file: Option<&Path>) -> bool {
    file.is_none_or(|path| path == Path::new("-"))
}

/// The frontend the environment asks confpack's own questions with:
/// `CONFPACK_FRONTEND`, else `DEBIAN_FRONTEND` — unless that is
/// `passthrough`, which names debconf's link to an agent (confpack itself,
/// when it runs apt), not a way for confpack to ask: then nobody chose.
pub fn frontend_name(env: &Env) -> Option<&str> {
    env.get("CONFPACK_FRONTEND").or_else(|| {
        env.get("DEBIAN_FRONTEND")
            .filter(|name| !name.trim().eq_ignore_ascii_case("passthrough"))
    })
}

/// `set-environment`'s converge flags (clap keeps them apart).
pub fn converge(every: Option<&str>, off: bool) -> Result<Converge> {
    Ok(match (every, off) {
        (_, true) => Converge::Off,
        (Some(every), false) => Converge::Every(Interval::parse(every)?),
        (None, false) => Converge::AsChosen,
    })
}

/// Whether the environment says nobody is there to ask ([`frontend_name`]
/// is noninteractive): apt and dpkg then run unattended even on a
/// terminal.
pub fn noninteractive(env: &Env) -> bool {
    frontend_name(env).and_then(crate::frontend::Kind::parse)
        == Some(crate::frontend::Kind::Noninteractive)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[test]
    fn set_environment_converges_as_chosen_unless_told_an_interval_or_off() {
        use crate::runtime::timer::{Converge, Interval};
        let every = Interval::parse("15min").expect("interval");
        assert_eq!(super::converge(None, false).ok(), Some(Converge::AsChosen));
        assert_eq!(
            super::converge(Some("15min"), false).ok(),
            Some(Converge::Every(every))
        );
        assert_eq!(super::converge(None, true).ok(), Some(Converge::Off));
        assert!(super::converge(Some("45min"), false).is_err());
        let cli = crate::cli::Cli::try_parse_from([
            "confpack",
            "set-environment",
            "production",
            "--converge-every",
            "15min",
            "--no-converge",
        ]);
        assert!(cli.is_err(), "the two flags exclude each other");
    }

    #[test]
    fn confpack_frontend_wins_and_passthrough_is_nobodys_choice() {
        use super::{Env, frontend_name};
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let table: [(Pairs<'_>, Option<&str>); 5] = [
            (&[("DEBIAN_FRONTEND", "text")], Some("text")),
            (&[("DEBIAN_FRONTEND", "passthrough")], None),
            (&[("DEBIAN_FRONTEND", "Passthrough")], None),
            (
                &[
                    ("DEBIAN_FRONTEND", "passthrough"),
                    ("CONFPACK_FRONTEND", "noninteractive"),
                ],
                Some("noninteractive"),
            ),
            (
                &[("DEBIAN_FRONTEND", "tui"), ("CONFPACK_FRONTEND", "text")],
                Some("text"),
            ),
        ];
        for (pairs, expected) in table {
            let env = Env::from_pairs(pairs.iter().copied());
            assert_eq!(frontend_name(&env), expected, "{pairs:?}");
        }
        let unattended = Env::from_pairs([
            ("DEBIAN_FRONTEND", "passthrough"),
            ("CONFPACK_FRONTEND", "noninteractive"),
        ]);
        assert!(super::noninteractive(&unattended));
    }

    #[test]
    fn debian_frontend_noninteractive_makes_apt_run_unattended() {
        for (value, expected) in [
            (None, false),
            (Some("noninteractive"), true),
            (Some("Noninteractive"), true),
            (Some("dialog"), false),
            (Some(""), false),
        ] {
            let env = Env::from_pairs(value.map(|v| ("DEBIAN_FRONTEND", v)));
            assert_eq!(noninteractive(&env), expected, "{value:?}");
        }
    }

    use super::*;
    use crate::cli::Command;
    use crate::frontend::{Chosen, Kind};

    /// Flags and environment variables of a table's row.
    type Flags = &'static [&'static str];
    type Vars = &'static [(&'static str, &'static str)];

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("confpack").chain(args.iter().copied()))
            .expect("valid arguments")
    }

    /// `confpack ARGS…` (a configure or reconfigure) under `env`.
    fn configure(args: &[&str], env: &[(&str, &str)]) -> Result<ConfigureSettings> {
        let cli = parse(args);
        let global = GlobalSettings::resolve(&cli);
        let env = Env::from_pairs(env.iter().copied());
        match cli.command {
            Command::Configure(args) => ConfigureSettings::resolve(args, None, &global, &env),
            Command::Reconfigure {
                package,
                unseen_only,
                args,
            } => ConfigureSettings::reconfigure(args, package, unseen_only, &global, &env),
            other => panic!("not a configure: {other:?}"),
        }
    }

    #[test]
    fn frontend_from_flag_environment_or_nobody() {
        let cases: &[(Flags, Vars, Option<Kind>, Chosen)] = &[
            (
                &[],
                &[("DEBIAN_FRONTEND", "noninteractive")],
                Some(Kind::Noninteractive),
                Chosen::Environment,
            ),
            (
                &["--frontend", "tui"],
                &[("DEBIAN_FRONTEND", "noninteractive")],
                Some(Kind::Tui),
                Chosen::Flag,
            ),
            (&["--frontend", "text"], &[], Some(Kind::Text), Chosen::Flag),
            (&[], &[("DEBIAN_FRONTEND", "")], None, Chosen::Default),
            (&[], &[], None, Chosen::Default),
            (
                &["--dry-run", "--frontend", "tui"],
                &[],
                Some(Kind::Noninteractive),
                Chosen::Flag,
            ),
        ];
        for &(flags, env, kind, chosen) in cases {
            let args = [&["configure", "--machine", "m"], flags].concat();
            let settings = configure(&args, env).expect("valid");
            assert_eq!(
                (settings.frontend.kind, settings.frontend.chosen),
                (kind, chosen),
                "{flags:?} {env:?}"
            );
        }
    }

    #[test]
    fn an_unknown_frontend_flag_is_a_usage_error_unless_the_run_is_dry() {
        let args = ["configure", "--machine", "m", "--frontend", "gtk3"];
        assert!(matches!(configure(&args, &[]), Err(Error::Usage(_))));
        let dry = [&args[..], &["--dry-run"]].concat();
        assert!(configure(&dry, &[]).is_ok());
    }

    #[test]
    fn priority_from_flag_environment_or_force_questions() {
        let cases: &[(Flags, Vars, Priority)] = &[
            (&["configure"], &[], Priority::High),
            (
                &["configure"],
                &[("DEBIAN_PRIORITY", "medium")],
                Priority::Medium,
            ),
            (
                &["configure", "--priority", "critical"],
                &[("DEBIAN_PRIORITY", "low")],
                Priority::Critical,
            ),
            (&["configure", "--force-questions"], &[], Priority::Low),
            (
                &["configure", "--force-questions"],
                &[("DEBIAN_PRIORITY", "high")],
                Priority::High,
            ),
            (
                &["configure"],
                &[("DEBIAN_PRIORITY", "urgent")],
                Priority::High,
            ),
            (&["reconfigure", "pkg"], &[], Priority::Low),
            (&["reconfigure", "pkg", "--unseen-only"], &[], Priority::Low),
            (
                &["reconfigure", "pkg", "--unseen-only"],
                &[("DEBIAN_PRIORITY", "critical")],
                Priority::Critical,
            ),
            (
                &["reconfigure", "pkg", "--priority", "medium"],
                &[],
                Priority::Medium,
            ),
        ];
        for &(args, env, expected) in cases {
            let args = [args, &["--machine", "m"]].concat();
            let settings = configure(&args, env).expect("valid");
            assert_eq!(settings.options.priority, expected, "{args:?} {env:?}");
        }
    }

    #[test]
    fn reconfigure_forces_questions_and_its_package_wins() {
        let settings = configure(
            &["reconfigure", "web", "--package", "db", "--machine", "m"],
            &[],
        )
        .expect("valid");
        assert!(settings.options.force);
        assert_eq!(settings.options.package.as_deref(), Some("web"));
    }

    #[test]
    fn a_key_both_taken_and_kept_is_a_usage_error() {
        let args = ["configure", "--take-document", "a/b", "--keep-mine", "a/b"];
        assert!(matches!(
            configure(&args, &[]),
            Err(Error::Usage(message)) if message.contains("a/b is given to both")
        ));
    }

    #[test]
    fn the_configure_upgrade_runs_is_the_command_lines_default() {
        let Command::Configure(parsed) = parse(&["configure", "--package", "web"]).command else {
            panic!("a configure");
        };
        let direct = ConfigureArgs {
            package: Some("web".to_string()),
            ..ConfigureArgs::default()
        };
        assert_eq!(direct, parsed);
        let global = GlobalSettings::resolve(&parse(&["--root", "/r", "update"]));
        let env = Env::from_pairs([("DEBIAN_FRONTEND", "text"), ("DEBIAN_PRIORITY", "low")]);
        let settings = ConfigureSettings::for_package("web", &global, &env).expect("valid");
        assert_eq!(settings.options.package.as_deref(), Some("web"));
        assert_eq!(settings.options.paths.root, Path::new("/r"));
        assert_eq!(settings.options.priority, Priority::Low);
        assert_eq!(settings.frontend.kind, Some(Kind::Text));
        assert!(!settings.options.force && !settings.options.dry_run);
    }

    #[test]
    fn global_flags_resolve_paths_and_clamp_the_lock_timeout() {
        let global =
            GlobalSettings::resolve(&parse(&["--root", "/r", "--lock-timeout=-3", "update"]));
        assert_eq!(global.paths.db, Path::new("/r/var/lib/confpack/db"));
        assert_eq!(global.lock_timeout, Duration::ZERO);
        let global = GlobalSettings::resolve(&parse(&["--db", "/d", "-q", "update"]));
        assert_eq!(global.paths.db, Path::new("/d"));
        assert!(global.quiet);
    }

    #[test]
    fn plan_flags_choose_what_to_compare_with_and_what_to_plan() {
        let options = |args: &[&str]| {
            let mut all = vec!["plan"];
            all.extend_from_slice(args);
            let Command::Plan(args) = parse(&all).command else {
                panic!("a plan");
            };
            plan_options(&args)
        };
        let default = options(&[]);
        assert_eq!(default.repo, std::path::Path::new("."));
        assert_eq!(default.since, crate::plan::Since::Previous);
        assert!(default.jobs >= 1);
        assert_eq!(options(&["--full"]).since, crate::plan::Since::Nothing);
        let chosen = options(&[
            "repo",
            "--since",
            "v1",
            "--environment",
            "a",
            "--environment",
            "b",
            "--machine",
            "10.0.0.1",
            "--jobs",
            "3",
        ]);
        assert_eq!(chosen.since, crate::plan::Since::Revision("v1".into()));
        assert_eq!(chosen.environments, ["a", "b"]);
        assert_eq!(chosen.machines, ["10.0.0.1"]);
        assert_eq!(chosen.jobs, 3);
        let both = Cli::try_parse_from(["confpack", "plan", "--full", "--since", "v1"]);
        assert!(both.is_err(), "--full and --since exclude each other");
    }

    fn build_args() -> BuildArgs {
        let Command::Build(args) = parse(&["build", "--out", "o", "--jobs", "2"]).command else {
            panic!("a build");
        };
        args
    }

    #[test]
    fn source_date_epoch_pins_the_build_unless_empty_and_must_be_a_number() {
        let cases: &[(Vars, Option<i64>)] = &[
            (&[], None),
            (&[("SOURCE_DATE_EPOCH", "")], None),
            (
                &[("SOURCE_DATE_EPOCH", " 1700000000 ")],
                Some(1_700_000_000),
            ),
        ];
        for &(env, expected) in cases {
            let options =
                build_options(build_args(), &Env::from_pairs(env.iter().copied())).expect("valid");
            assert_eq!(options.source_date_epoch, expected, "{env:?}");
            assert_eq!(options.jobs, 2);
        }
        let env = Env::from_pairs([("SOURCE_DATE_EPOCH", "yesterday")]);
        assert!(matches!(
            build_options(build_args(), &env),
            Err(Error::Usage(message)) if message.contains("SOURCE_DATE_EPOCH=yesterday")
        ));
    }

    #[test]
    fn upload_copies_to_a_directory_and_rsyncs_to_a_host() {
        assert_eq!(upload_via(None, "/srv/repo"), Via::Copy);
        assert_eq!(upload_via(None, "repo.example.org:/srv/repo"), Via::Rsync);
        assert_eq!(upload_via(Some(ViaArg::Copy), "host:/srv"), Via::Copy);
        assert_eq!(upload_via(Some(ViaArg::Rsync), "/srv/repo"), Via::Rsync);
    }

    #[test]
    fn the_process_environment_is_read_only_for_the_known_names() {
        let env = Env::from_process();
        assert!(
            env.vars
                .keys()
                .all(|name| Env::NAMES.contains(&name.as_str()))
        );
    }

    #[test]
    fn languages_follow_language_then_the_locale_then_english() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let table: &[Case] = &[
            (&[], &["en"]),
            (&[("LANG", "C.UTF-8")], &["en"]),
            (&[("LANG", "POSIX")], &["en"]),
            (&[("LANG", "de_AT.UTF-8")], &["de_AT", "de", "en"]),
            (
                &[("LANG", "de_DE.UTF-8"), ("LC_MESSAGES", "fr_FR.UTF-8")],
                &["fr_FR", "fr", "en"],
            ),
            (
                &[
                    ("LANG", "de_DE"),
                    ("LC_MESSAGES", "fr_FR"),
                    ("LC_ALL", "pt_BR.UTF-8"),
                ],
                &["pt_BR", "pt", "en"],
            ),
            (
                &[("LANGUAGE", "de_CH:fr"), ("LANG", "it_IT.UTF-8")],
                &["de_CH", "de", "fr", "it_IT", "it", "en"],
            ),
            (
                &[("LANGUAGE", ""), ("LC_ALL", ""), ("LANG", "nl_BE")],
                &["nl_BE", "nl", "en"],
            ),
            (
                &[("LANG", "sr_RS.UTF-8@latin")],
                &["sr_RS@latin", "sr@latin", "sr_RS", "sr", "en"],
            ),
            (
                &[("LANGUAGE", "en_GB:de"), ("LANG", "de_DE.UTF-8")],
                &["en_GB", "en", "de", "de_DE"],
            ),
        ];
        for (env, expected) in table {
            let env = Env::from_pairs(env.iter().copied());
            assert_eq!(languages(&env), *expected, "{env:?}");
        }
    }
}
