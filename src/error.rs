//! Errors of the confpack library.
//!
//! Every variant carries where the problem is (a file and line, a question
//! key, a package, a URL) and, where it helps, what to do about it, so the
//! binary can print `{:#}` and the user knows the next step. Each error also
//! maps to a documented process exit code (see [`ExitCode`]).

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem found in a document, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File (or URL) the problem is in.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// What is wrong, and where useful what to do.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Exit codes of the `confpack` binary; part of the public interface
/// (postinst scripts test them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything worked.
    Success = 0,
    /// A general error: bad input, I/O, a failing hook.
    Failure = 1,
    /// The command line was wrong (clap's own code).
    Usage = 2,
    /// Noninteractive run, but some questions have no usable value.
    Unanswered = 3,
    /// Another confpack process holds the answer database.
    Locked = 4,
    /// The user cancelled an interactive run; nothing was saved.
    Cancelled = 5,
    /// The environment document is unusable (online and local copy).
    NoDocument = 6,
    /// apt-get, apt-mark or dpkg failed while changing packages.
    PackageManager = 7,
    /// The apt repository could not be used: unreachable, not signed by
    /// the expected key, or an index that does not match its signature.
    Repository = 8,
    /// `confpack status`: the node does not match its environment.
    Drift = 9,
}

impl ExitCode {
    /// Every code, in order: the table docs/configure.md and the manual pages
    /// print (a test keeps all three the same).
    pub const ALL: [ExitCode; 10] = [
        ExitCode::Success,
        ExitCode::Failure,
        ExitCode::Usage,
        ExitCode::Unanswered,
        ExitCode::Locked,
        ExitCode::Cancelled,
        ExitCode::NoDocument,
        ExitCode::PackageManager,
        ExitCode::Repository,
        ExitCode::Drift,
    ];

    /// What the code means to whoever runs confpack, as the table of
    /// docs/configure.md says it (`code` spans as in Markdown).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "success",
            ExitCode::Failure => {
                "error (bad input, I/O, template or hook failure), with file:line, key or package; \
                 `confpack plan`: a machine has an error (listed)"
            }
            ExitCode::Usage => "bad command line",
            ExitCode::Unanswered => "noninteractive run with questions that need an answer",
            ExitCode::Locked => {
                "another confpack holds the answer database (or the repository being published)"
            }
            ExitCode::Cancelled => {
                "cancelled by the user, or an `install`/`upgrade` ended by Ctrl-C, SIGTERM or SIGHUP \
                 (apt, dpkg and the maintainer scripts stopped); nothing saved"
            }
            ExitCode::NoDocument => "no usable environment document (online and local)",
            ExitCode::PackageManager => {
                "apt or dpkg failed (the command and its stderr are printed)"
            }
            ExitCode::Repository => {
                "the apt repository is unusable: unreachable, wrong key, tampered index"
            }
            ExitCode::Drift => {
                "`confpack status`: the node does not match its environment (what differs is printed)"
            }
        }
    }
}

/// Everything that can go wrong in confpack.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}", format_problems(.0))]
    Invalid(Vec<Problem>),

    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },

    #[error(
        "no usable environment document: {}\nfix the local copy or the server, then run again; nothing was changed",
        .reasons.join("; ")
    )]
    NoDocument { reasons: Vec<String> },

    #[error("{0}")]
    Selection(String),

    #[error(
        "another confpack process holds the answer database {path} (waited {waited_ms} ms); \
         run again when it has finished, or raise --lock-timeout"
    )]
    Locked { path: PathBuf, waited_ms: u64 },

    #[error("answer database {path}: {reason}")]
    Store { path: PathBuf, reason: String },

    #[error("question {key}: {message}")]
    Question { key: String, message: String },

    #[error("derived values: {0}")]
    Derive(String),

    #[error(
        "{} question(s) need an answer but the frontend is noninteractive:\n{}\n\
         hint: preseed them with `confpack set KEY VALUE` (or `confpack set KEY -` to read a secret \
         from stdin), or run `confpack configure` on a terminal",
        .keys.len(),
        .keys.iter().map(|k| format!("  {k}")).collect::<Vec<_>>().join("\n")
    )]
    Unanswered { keys: Vec<String> },

    #[error("cancelled by the user; nothing was saved")]
    Cancelled,

    /// The person went back from the first question, and the caller
    /// ([`crate::frontend::Context::back`]) has a step to go back to
    /// (debconf's `CAPB backup`).
    #[error("the user went back from the first question; nothing was saved")]
    Back,

    /// The person quit at the question about a rendered file they edited:
    /// the answers were already saved, no file was written.
    #[error(
        "cancelled by the user at the question about {}: the answers are saved, no file was \
         written; run configure again to decide",
        .path.display()
    )]
    CancelledAtEditedFile { path: std::path::PathBuf },

    /// The questions were ended by a signal or by the end of the confpack
    /// that started apt, not by the person.
    #[error("ended by {by}; nothing was saved")]
    Ended { by: String },

    /// A signal (Ctrl-C, SIGTERM, SIGHUP, or a person quitting a
    /// maintainer script's question) ended an apt run with everything it
    /// had started.
    #[error(
        "interrupted by {signal}: stopped `{command}`, dpkg and the maintainer scripts; \
         nothing is half-saved and no lock is held.\n\
         run the same confpack command again to finish: it first completes what dpkg left \
         (`dpkg --configure -a`)"
    )]
    Interrupted { signal: String, command: String },

    #[error("template {path}: {message}")]
    Template { path: PathBuf, message: String },

    #[error("package {package}: {message}")]
    Package { package: String, message: String },

    #[error("hook {hook} of package {package}: {message}")]
    Hook {
        package: String,
        hook: String,
        message: String,
    },

    #[error("no answer stored for {key}")]
    NoAnswer { key: String },

    #[error("{0}")]
    Usage(String),

    /// An external command (git, dpkg) failed; `message` is its stderr.
    #[error("{command}: {message}")]
    Command { command: String, message: String },

    /// Another process holds a lock confpack needs (not the answer database).
    #[error("{what}{}; run again when it has finished", where_busy(.path))]
    Busy { what: String, path: PathBuf },

    /// apt-get/apt-mark/dpkg failed; `stderr` is what it said.
    #[error("`{command}` failed ({status}):\n{stderr}{hint}")]
    PackageManager {
        command: String,
        status: String,
        stderr: String,
        hint: String,
    },

    /// The confpack apt source could not be fetched or verified.
    #[error("`{command}` could not use the repository:\n{stderr}{hint}")]
    Repository {
        command: String,
        stderr: String,
        hint: String,
    },

    /// A path confpack refuses to use: a symlink or special file where it
    /// writes, a directory another user owns.
    #[error("{}: {reason}", .path.display())]
    UnsafePath { path: PathBuf, reason: String },

    /// `confpack status` found differences (listed on stdout).
    #[error("the node does not match its environment: {summary}")]
    Mismatch { summary: String },

    /// `confpack plan` found errors on some machines (listed on stdout).
    #[error("the plan has {errors} error(s); see the output")]
    Planned { errors: usize },

    /// A secret could not be encrypted or decrypted; never carries the value.
    #[error("secret {what}: {message}")]
    Secret { what: String, message: String },
}

/// Where a lock is held, unless it is the whole system (`/`).
fn where_busy(path: &std::path::Path) -> String {
    if path == std::path::Path::new("/") {
        String::new()
    } else {
        format!(" ({})", path.display())
    }
}

fn format_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A single problem at a file and line.
    pub fn at(file: impl Into<String>, line: Option<u64>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![Problem {
            file: file.into(),
            line,
            message: message.into(),
        }])
    }

    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Unanswered { .. } => ExitCode::Unanswered,
            Error::Locked { .. } => ExitCode::Locked,
            Error::Cancelled
            | Error::Back
            | Error::CancelledAtEditedFile { .. }
            | Error::Ended { .. }
            | Error::Interrupted { .. } => ExitCode::Cancelled,
            Error::NoDocument { .. } => ExitCode::NoDocument,
            Error::Usage(_) => ExitCode::Usage,
            Error::Busy { .. } => ExitCode::Locked,
            Error::PackageManager { .. } => ExitCode::PackageManager,
            Error::Repository { .. } => ExitCode::Repository,
            Error::Mismatch { .. } => ExitCode::Drift,
            _ => ExitCode::Failure,
        }
    }
}
