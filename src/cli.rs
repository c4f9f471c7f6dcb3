//! Command-line definitions (clap); no logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "confpack",
    version,
    about = "Configuration management with Debian packages"
)]
pub struct Cli {
    /// Operate on another root directory (like dpkg --root); every path is
    /// taken relative to it.
    #[arg(long, global = true, default_value = "/", value_name = "DIR")]
    pub root: PathBuf,

    /// The answer database (default: <root>/var/lib/confpack/db).
    #[arg(long, global = true, value_name = "DIR")]
    pub db: Option<PathBuf>,

    /// Seconds to wait for another confpack holding the database.
    // Defaults as text: clap formats a `default_value_t` float at every
    // start, which a no-op run measurably pays for.
    #[arg(long, global = true, default_value = "10", value_name = "SECONDS")]
    pub lock_timeout: f64,

    /// Print only warnings and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Deferred: only the subcommand that runs is built (building all of
/// them was a tenth of a no-op `configure`).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Merge the environment document with the stored answers, ask what
    /// needs asking, store the answers and render the package's templates.
    Configure(ConfigureArgs),
    /// Configure again, asking every question (like dpkg-reconfigure). A
    /// package confpack does not configure is reconfigured by its own
    /// debconf questions, asked in confpack's frontend.
    Reconfigure {
        /// The package to reconfigure: a confpack package, or any installed
        /// package that asks through debconf.
        #[arg(id = "reconfigure_package", value_name = "PKG")]
        package: Option<String>,
        /// Ask only the questions not seen yet (conflicts with the
        /// document are asked anyway), like dpkg-reconfigure --unseen-only.
        #[arg(long, conflicts_with = "force_questions")]
        unseen_only: bool,
        #[command(flatten)]
        args: ConfigureArgs,
    },
    /// Validate environment documents; print `FILE: valid` or every problem.
    Validate {
        /// A schema to validate against instead of the built-in one.
        #[arg(long, value_name = "XSD")]
        schema: Option<PathBuf>,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the stored value of a question (a secret masked, unless
    /// --show-secrets).
    Get {
        key: String,
        /// Print a secret value instead of masking it.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Store a value for a question. VALUE `-` reads it from stdin (for
    /// secrets: never put them on the command line).
    Set {
        key: String,
        value: String,
        /// Where the value comes from.
        #[arg(long, value_enum, default_value_t = SetSource::User)]
        source: SetSource,
        /// Mark the question seen (an external tool vouches for the value;
        /// it will not be asked).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        seen: bool,
        /// Treat the value as a secret (masked in output).
        #[arg(long)]
        secret: bool,
    },
    /// Convert a DataONE v1 document, or a package's debconf templates, to
    /// confpack's native format (validated against the built-in schema)
    /// and print it or write it to --output.
    Convert {
        #[arg(required_unless_present = "from_debconf_templates")]
        file: Option<PathBuf>,
        /// Convert a debconf `templates` file (a package's
        /// DEBIAN/templates or po-debconf's debian/templates) instead: its
        /// templates only, no environments.
        #[arg(long, value_name = "TEMPLATES", conflicts_with_all = ["file", "schema", "rules", "derive_file"])]
        from_debconf_templates: Option<PathBuf>,
        /// With --from-debconf-templates: read translations from the gettext
        /// catalogues DIR/*.po (po-debconf's debian/po).
        #[arg(
            long,
            value_name = "DIR",
            requires = "from_debconf_templates",
            conflicts_with = "file"
        )]
        po: Option<PathBuf>,
        /// With --from-debconf-templates: the owner of templates whose name
        /// has none (`name` becomes `NAME/name`).
        #[arg(
            long,
            value_name = "NAME",
            requires = "from_debconf_templates",
            conflicts_with = "file"
        )]
        owner: Option<String>,
        /// Validate the input against this XSD first.
        #[arg(long, value_name = "XSD")]
        schema: Option<PathBuf>,
        /// Write here (atomically) instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        derive: DeriveArgs,
    },
    /// Import debconf answers (`debconf-get-selections` output or a preseed
    /// file; `-` or nothing reads stdin) as configured answers.
    ImportDebconf {
        file: Option<PathBuf>,
        /// Also import password answers.
        #[arg(long)]
        include_passwords: bool,
    },
    /// Export the stored answers for another tool.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Debconf)]
        format: ExportFormat,
        /// Also export password answers (in clear: handle the output as a secret).
        #[arg(long)]
        include_passwords: bool,
    },
    /// Print all stored answers.
    Answers {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Print secret values instead of masking them.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Does this node match its environment? Versions, open conflicts,
    /// drifted files, originals to give back, unanswered questions; changes
    /// nothing. Exit 0 when it matches, 9 when it does not.
    Status {
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Build .deb packages (one per package and per role) from a
    /// configuration repository; prints the paths written.
    Build(BuildArgs),
    /// What configure would produce on every machine of a configuration
    /// repository (answers, rendered files), offline; against an earlier
    /// revision, what changes. Exit 1 when any machine has an error.
    Plan(PlanArgs),
    /// Delete the files `configure` rendered for a package and undo what it
    /// declared (services stopped and disabled, blocks removed, users
    /// locked, …) (the package's prerm runs this on remove).
    RemoveRendered {
        /// The package.
        package: String,
    },
    /// Apply what a package declares (users, groups, directories, managed
    /// blocks, services), undo what an earlier version declared and this
    /// one does not, and delete what an earlier version rendered (the
    /// postinst of a package without an environment document runs this;
    /// `configure --package` does the same for the others).
    Apply {
        /// The package.
        package: String,
    },
    /// Forget a package: its rendered files, what it declared (users are
    /// deleted only when they own no files), and the answers no other
    /// package uses (the package's postrm runs this on purge).
    Purge {
        /// The package.
        package: String,
    },
    /// Publish .deb files into an apt repository as an environment (an
    /// apt distribution); older versions stay for rollback unless pruned.
    Publish(PublishArgs),
    /// Copy a published repository to where the nodes fetch it: a
    /// directory, or host:path (rsync over ssh).
    Upload {
        /// The published repository.
        #[arg(long, value_name = "DIR")]
        repo: PathBuf,
        /// A directory, or [user@]host:path / rsync://… for rsync.
        #[arg(value_name = "TARGET")]
        target: String,
        /// How to copy [default: rsync for a remote target, else copy].
        #[arg(long, value_enum)]
        via: Option<ViaArg>,
        /// Also delete files the repository no longer has (after the
        /// indexes are in place).
        #[arg(long)]
        delete: bool,
    },
    /// Choose this node's environment: writes the confpack apt source,
    /// stores the environment for configure and enables converging on a
    /// timer.
    SetEnvironment {
        /// The environment (the repository's distribution).
        #[arg(value_name = "NAME")]
        environment: String,
        /// The repository's URL [default: the current source's].
        #[arg(long, value_name = "URL")]
        repo_url: Option<String>,
        /// The repository's public signing key (armored or binary)
        /// [default: the current source's].
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Converge (update, then upgrade) on confpack-converge.timer every
        /// INTERVAL: a divisor of an hour or a day (15min, 1h, 6h, 1d), each
        /// node at its own fixed offset within it [default: 30min].
        #[arg(long, value_name = "INTERVAL", conflicts_with = "no_converge")]
        converge_every: Option<String>,
        /// Disable confpack-converge.timer (later set-environments keep it
        /// disabled until --converge-every).
        #[arg(long)]
        no_converge: bool,
    },
    /// Fetch the environment's index (apt-get update of the confpack
    /// source only).
    Update,
    /// Install roles or packages from the environment, marked as manually
    /// installed.
    Install {
        #[arg(required = true, value_name = "ROLE|PACKAGE")]
        names: Vec<String>,
    },
    /// Run apt-get with these arguments, confpack answering or asking
    /// every package's debconf questions: `confpack apt -- install ntp`.
    Apt {
        /// apt-get's arguments, after `--`.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "APT_GET_ARGS"
        )]
        args: Vec<String>,
    },
    /// Converge to the environment: every installed confpack package to
    /// the environment's newest version (or with --version, the roles to
    /// that version), then apt-get autoremove and configure again.
    Upgrade {
        /// Roll the roles to this version (a version, a manifest version or
        /// a commit id) with the dependencies that were current with it.
        #[arg(long, value_name = "V")]
        version: Option<String>,
        /// Do not run apt-get autoremove.
        #[arg(long)]
        no_autoremove: bool,
        /// The roles --version applies to [default: the installed ones].
        #[arg(value_name = "ROLE", requires = "version")]
        roles: Vec<String>,
    },
    /// Create the node key (/etc/confpack/key, 0600) and print its public
    /// key, the recipient to add to the configuration repository.
    Keygen {
        /// Add a new key in front of the existing ones (rotation).
        #[arg(long, conflicts_with_all = ["public", "drop_old"])]
        rotate: bool,
        /// Print the public key(s) of the existing key.
        #[arg(long, conflicts_with = "drop_old")]
        public: bool,
        /// Keep only the newest key (after a rotation has reached every package).
        #[arg(long)]
        drop_old: bool,
    },
    /// Encrypt a secret read from stdin to the recipients: prints an
    /// `age:…` value for an environment document, or writes an age file.
    Encrypt {
        /// A recipients file: age public keys, one a line.
        #[arg(long, value_name = "FILE", required = true)]
        recipients: PathBuf,
        /// Write an age file (for a package's secrets/ part) instead of
        /// printing a value.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The repository's directory (created when missing).
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,
    /// The environment to publish to (dists/<NAME>).
    #[arg(long, value_name = "NAME")]
    pub environment: String,
    /// Sign Release with this gpg key (InRelease, Release.gpg).
    #[arg(long, value_name = "KEYID")]
    pub sign_key: Option<String>,
    /// Index this architecture too (repeatable) [default: the packages'
    /// and the index's, else this machine's].
    #[arg(long = "architecture", value_name = "ARCH")]
    pub architectures: Vec<String>,
    /// Keep only the newest N versions of each package.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Take NAME (every version) or NAME=VERSION out of the environment
    /// (repeatable).
    #[arg(long, value_name = "NAME[=VERSION]")]
    pub remove: Vec<String>,
    /// Release expires after DAYS (Valid-Until): stale nodes notice.
    #[arg(long, value_name = "DAYS")]
    pub valid_for: Option<u64>,
    /// Publish an environment document as dists/<ENV>/documents/NAME.xml,
    /// listed in the signed Release, for nodes to verify (repeatable).
    #[arg(long = "document", value_name = "NAME=FILE")]
    pub documents: Vec<String>,
    /// .deb files or directories of them.
    #[arg(value_name = "DEBS")]
    pub debs: Vec<PathBuf>,
}

/// How `confpack upload` copies.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ViaArg {
    Copy,
    Rsync,
}

#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// The configuration repository (packages/, roles/, confpack.yml).
    #[arg(default_value = ".", value_name = "REPO")]
    pub repo: PathBuf,
    /// Where to write the .deb files.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Also build confpack-runtime, the package of the confpack binary
    /// that every configuration package depends on.
    #[arg(long)]
    pub runtime: bool,
    /// The binary confpack-runtime ships [default: this confpack].
    #[arg(long, value_name = "PATH", requires = "runtime")]
    pub runtime_binary: Option<PathBuf>,
    /// Package names that exist outside the repository, one a line
    /// [default: the local apt cache].
    #[arg(long, value_name = "FILE")]
    pub known_packages: Option<PathBuf>,
    /// Do not check that dependencies exist.
    #[arg(long, conflicts_with = "known_packages")]
    pub no_dependency_check: bool,
    /// Use <version>+SUFFIX instead of <version>+git<date>.<time>.<commit>
    /// (required when the repository is not in git).
    #[arg(long, value_name = "SUFFIX")]
    pub version_suffix: Option<String>,
    /// Build even with uncommitted changes under packages/ or roles/.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Packages built at once [default: the number of CPUs].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct PlanArgs {
    /// The configuration repository.
    #[arg(default_value = ".", value_name = "REPO")]
    pub repo: PathBuf,
    /// Only this environment (context); repeatable.
    #[arg(long, value_name = "CONTEXT")]
    pub environment: Vec<String>,
    /// Only this machine (IP or host name); repeatable.
    #[arg(long, value_name = "IP|HOSTNAME")]
    pub machine: Vec<String>,
    /// Compare with this git revision of the repository [default: the
    /// previous commit, HEAD with uncommitted changes].
    #[arg(long, value_name = "REF", conflicts_with = "full")]
    pub since: Option<String>,
    /// Show the full result, compared with nothing.
    #[arg(long)]
    pub full: bool,
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
    /// A node's answers (`confpack answers --format json`), as if stored.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Machines planned at once [default: the number of CPUs].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,
    /// Largest value of one question, in bytes.
    #[arg(long, default_value_t = crate::derive::DEFAULT_MAX_VALUE_BYTES, value_name = "BYTES")]
    pub max_value_size: usize,
    /// Largest file a template may render, in bytes.
    #[arg(long, default_value_t = crate::render::DEFAULT_MAX_RENDER_BYTES, value_name = "BYTES")]
    pub max_render_size: usize,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct ConfigureArgs {
    /// The installed package whose document, templates and hooks to use.
    #[arg(long, short, value_name = "PKG")]
    pub package: Option<String>,
    /// The online copy of the environment document (fetched first).
    #[arg(long, value_name = "URL")]
    pub env_url: Option<String>,
    /// The local copy of the environment document.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Validate against this XSD instead of the built-in schema.
    #[arg(long, value_name = "XSD")]
    pub schema: Option<PathBuf>,
    /// This machine's IP or host name in the document (default: detected).
    #[arg(long, value_name = "IP|HOSTNAME")]
    pub machine: Option<String>,
    /// The environment (context label) to use.
    #[arg(long, value_name = "CONTEXT")]
    pub environment: Option<String>,
    /// Ask every question, with the current values as defaults.
    #[arg(long)]
    pub force_questions: bool,
    /// Decide these conflicts for the document: its value replaces yours.
    #[arg(long, value_name = "KEY", num_args = 1..)]
    pub take_document: Vec<String>,
    /// Decide every conflict of this run for the document.
    #[arg(long, conflicts_with = "keep_mine_all")]
    pub take_document_all: bool,
    /// Decide these conflicts for your value: kept, and not warned about
    /// again until the document's value changes.
    #[arg(long, value_name = "KEY", num_args = 1..)]
    pub keep_mine: Vec<String>,
    /// Decide every conflict of this run for your values.
    #[arg(long)]
    pub keep_mine_all: bool,
    /// Hide questions below this priority when they have a usable value
    /// [default: $DEBIAN_PRIORITY or high; low with --force-questions and
    /// reconfigure].
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    /// How to ask [default: $DEBIAN_FRONTEND, else tui on a terminal,
    /// else noninteractive].
    #[arg(long, value_name = "FRONTEND")]
    pub frontend: Option<String>,
    /// Print the plan (what is set, what would be asked and why) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds allowed for fetching the online copy.
    #[arg(long, default_value = DEFAULT_FETCH_TIMEOUT_TEXT, value_name = "SECONDS")]
    pub timeout: f64,
    /// Largest online document accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_DOCUMENT_BYTES, value_name = "BYTES")]
    pub max_size: u64,
    /// Largest value of one question (configured, answered or derived), in bytes.
    #[arg(long, default_value_t = crate::derive::DEFAULT_MAX_VALUE_BYTES, value_name = "BYTES")]
    pub max_value_size: usize,
    /// Largest file a template may render, in bytes.
    #[arg(long, default_value_t = crate::render::DEFAULT_MAX_RENDER_BYTES, value_name = "BYTES")]
    pub max_render_size: usize,
    #[command(flatten)]
    pub derive: DeriveArgs,
}

/// Seconds `configure` allows for fetching the online document.
pub const DEFAULT_FETCH_TIMEOUT: f64 = 5.0;
/// [`DEFAULT_FETCH_TIMEOUT`] as clap's default (a test keeps them equal).
const DEFAULT_FETCH_TIMEOUT_TEXT: &str = "5";

/// The largest online document `configure` accepts, in bytes.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

/// `confpack configure` without flags: what `confpack upgrade` runs for
/// each package it changed (the same defaults as the flags above).
impl Default for ConfigureArgs {
    fn default() -> ConfigureArgs {
        ConfigureArgs {
            package: None,
            env_url: None,
            env_file: None,
            schema: None,
            machine: None,
            environment: None,
            force_questions: false,
            take_document: Vec::new(),
            take_document_all: false,
            keep_mine: Vec::new(),
            keep_mine_all: false,
            priority: None,
            frontend: None,
            dry_run: false,
            timeout: DEFAULT_FETCH_TIMEOUT,
            max_size: DEFAULT_MAX_DOCUMENT_BYTES,
            max_value_size: crate::derive::DEFAULT_MAX_VALUE_BYTES,
            max_render_size: crate::render::DEFAULT_MAX_RENDER_BYTES,
            derive: DeriveArgs::default(),
        }
    }
}

// Rules for derived questions of documents that carry none (DataONE v1).
// Not a doc comment: a flattened struct's doc becomes the about of the
// subcommand that flattens it, and with `defer` it replaced configure's,
// reconfigure's and convert's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct DeriveArgs {
    /// A derived question's expression, KEY=EXPR (repeatable).
    #[arg(long = "derive", value_name = "KEY=EXPR")]
    pub rules: Vec<String>,
    /// A file of KEY=EXPR lines (# comments allowed).
    #[arg(long, value_name = "FILE")]
    pub derive_file: Option<PathBuf>,
}

/// Formats of `confpack export`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// Lines for `debconf-set-selections`.
    Debconf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SetSource {
    User,
    Configured,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Shell,
}

/// Formats of `confpack status` and `confpack plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PriorityArg {
    Low,
    Medium,
    High,
    Critical,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn text_defaults_parse_to_the_documented_numbers() {
        let cli = Cli::try_parse_from(["confpack", "configure"]).expect("parses");
        assert_eq!(cli.lock_timeout, 10.0);
        let Command::Configure(args) = cli.command else {
            panic!("configure");
        };
        assert_eq!(args.timeout, DEFAULT_FETCH_TIMEOUT);
    }

    #[test]
    fn global_flags_reach_a_deferred_subcommand() {
        let cli = Cli::try_parse_from(["confpack", "status", "--root", "/srv/node", "-q"])
            .expect("parses");
        assert_eq!(cli.root, PathBuf::from("/srv/node"));
        assert!(cli.quiet);
        let help = Cli::command()
            .try_get_matches_from(["confpack", "configure", "--help"])
            .expect_err("help");
        assert!(help.to_string().contains("--timeout"), "{help}");
    }

    #[test]
    fn a_subcommand_that_flattens_arguments_keeps_its_own_description() {
        for (name, about) in [
            ("configure", "Merge the environment document"),
            ("reconfigure", "Configure again"),
            ("convert", "Convert a DataONE v1 document"),
        ] {
            let help = Cli::command()
                .try_get_matches_from(["confpack", name, "--help"])
                .expect_err("help");
            assert!(help.to_string().starts_with(about), "{help}");
        }
    }
}
