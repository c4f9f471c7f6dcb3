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
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECONDS")]
    pub lock_timeout: f64,

    /// Print only warnings and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Merge the environment document with the stored answers, ask what
    /// needs asking, store the answers and render the package's templates.
    Configure(ConfigureArgs),
    /// Configure again, asking every question (like dpkg-reconfigure).
    Reconfigure {
        /// The package to reconfigure.
        #[arg(id = "reconfigure_package", value_name = "PKG")]
        package: Option<String>,
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
    /// Print the stored value of a question.
    Get { key: String },
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
    /// Print all stored answers.
    Answers {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        /// Print secret values instead of masking them.
        #[arg(long)]
        show_secrets: bool,
    },
}

#[derive(Debug, Clone, Args)]
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
    /// Hide questions below this priority when they have a usable value
    /// [default: $DEBIAN_PRIORITY or high; low with --force-questions].
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
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Largest online document accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    pub max_size: u64,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PriorityArg {
    Low,
    Medium,
    High,
    Critical,
}
