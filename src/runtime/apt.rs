//! apt and dpkg, behind a small trait: the node runtime decides what to
//! do, [`PackageManager`] does it. [`System`] runs the real tools; tests
//! of the decisions use a recording fake (`runtime/fake.rs`).
//!
//! Under `--root DIR` (not `/`), apt and dpkg are sandboxed into DIR: an
//! `APT_CONFIG` file (so the host's `/etc/apt/apt.conf.d` is not read)
//! sets `Dir` to DIR and its own status file, runs dpkg with
//! `--root=DIR --force-script-chrootless` (the maintainer scripts see
//! `DPKG_ROOT`) with this process's `PATH` (apt would reset it, and the
//! scripts must find the confpack that runs them) and downloads as root
//! (the `_apt` user could not write into a private sandbox). That is how
//! the tests run the real apt.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Listener;
use crate::error::{Error, Result};

use crate::process::tree;

/// What kind of command, for how its failure is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reads state; changes nothing.
    Query,
    /// Fetches the repository's indexes (`apt-get update`).
    Update,
    /// Installs, upgrades or removes packages.
    Change,
}

/// Runs apt-get, apt-mark and dpkg-query.
pub trait PackageManager {
    /// Runs `program args` and returns its stdout; `Query` commands only
    /// print, others stream their output and progress to `listener`.
    fn run(
        &mut self,
        kind: Purpose,
        program: &str,
        args: &[String],
        listener: &mut dyn Listener,
    ) -> Result<String>;

    /// The root the package manager works on.
    fn root(&self) -> &Path;
}

/// The real apt and dpkg.
pub struct System {
    root: PathBuf,
    lock_timeout: Duration,
    attach: Attach,
    /// `APT_CONFIG` of a sandboxed root.
    config: Option<tempfile::NamedTempFile>,
    /// confpack as debconf's agent while apt and dpkg change packages.
    agent: Option<DebconfAgent>,
}

/// confpack as debconf's agent ([`crate::agent`]) during the runs that
/// change packages: every other package's debconf question reaches
/// `frontend`, unless `foreign` answers it. What was answered and what
/// nobody could answer is collected over all runs.
pub struct DebconfAgent {
    pub frontend: Box<dyn crate::frontend::Frontend>,
    pub foreign: crate::foreign::Foreign,
    pub context: crate::frontend::Context,
    pub answered: std::collections::BTreeMap<String, crate::foreign::Answered>,
    pub unanswered: Vec<crate::agent::Unanswered>,
    /// A question confpack has an answer for is shown anyway, that answer
    /// its default (a reconfigure).
    pub reshow: bool,
    /// Questions left at debconf's value, unattended, without an answer
    /// from confpack ([`crate::agent::Session::defaulted`]).
    pub defaulted: std::collections::BTreeMap<String, Option<String>>,
}

impl DebconfAgent {
    pub fn new(
        frontend: Box<dyn crate::frontend::Frontend>,
        foreign: crate::foreign::Foreign,
        context: crate::frontend::Context,
    ) -> DebconfAgent {
        DebconfAgent {
            frontend,
            foreign,
            context,
            answered: Default::default(),
            unanswered: Vec::new(),
            reshow: false,
            defaulted: Default::default(),
        }
    }
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System").field("root", &self.root).finish()
    }
}

/// Directories apt needs under a sandboxed root.
const SANDBOX_DIRS: [&str; 8] = [
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/sources.list.d",
    "etc/apt/trusted.gpg.d",
    "etc/apt/keyrings",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/log/apt",
];

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl System {
    pub fn new(root: &Path, lock_timeout: Duration, attach: Attach) -> Result<System> {
        let sandboxed = root != Path::new("/");
        let config = if sandboxed {
            for dir in SANDBOX_DIRS {
                let path = root.join(dir);
                std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            }
            // With `Dir` set, apt finds dpkg's status file under it, and
            // `dpkg-query --root` its database: confpack never names it.
            let root_text = root.display().to_string();
            let text = format!(
                "// Written by confpack for one run: apt and dpkg on the root {root_text}.\n\
                 Dir {};\n\
                 Dir::Log {};\n\
                 DPkg::Options {{ {}; \"--force-script-chrootless\"; }};\n\
                 APT::Sandbox::User \"root\";\n\
                 DPkg::Path {};\n\
                 Acquire::Languages \"none\";\n",
                quote(&format!("{root_text}/")),
                quote(&root.join("var/log/apt").display().to_string()),
                quote(&format!("--root={root_text}")),
                // The maintainer scripts call the confpack on this PATH.
                quote(&std::env::var("PATH").unwrap_or_default()),
            );
            let mut file = tempfile::Builder::new()
                .prefix("confpack-apt-")
                .suffix(".conf")
                .tempfile()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            std::io::Write::write_all(&mut file, text.as_bytes())
                .map_err(|e| Error::io(file.path(), e))?;
            Some(file)
        } else {
            None
        };
        Ok(System {
            root: root.to_path_buf(),
            lock_timeout,
            attach,
            config,
            agent: None,
        })
    }

    /// Runs apt and dpkg with confpack as debconf's agent.
    pub fn with_agent(mut self, agent: DebconfAgent) -> System {
        self.agent = Some(agent);
        self
    }

    /// Another agent for the next runs.
    pub fn set_agent(&mut self, agent: DebconfAgent) {
        self.agent = Some(agent);
    }

    /// The agent, with what it collected.
    pub fn take_agent(&mut self) -> Option<DebconfAgent> {
        self.agent.take()
    }

    fn command(&self, program: &str, args: &[String]) -> (Command, String) {
        let mut command = Command::new(program);
        let mut shown = vec![program.to_string()];
        let sandboxed = self.config.is_some();
        if program == "dpkg-query" || (matches!(program, "dpkg" | "dpkg-divert") && sandboxed) {
            let root = format!("--root={}", self.root.display());
            command.arg(&root);
            shown.push(root);
            if program == "dpkg" {
                command.arg("--force-script-chrootless");
            }
        } else if program == "apt-get" {
            let timeout = format!("DPkg::Lock::Timeout={}", self.lock_timeout.as_secs());
            command.args(["-o", &timeout]);
        }
        command.args(args);
        shown.extend(args.iter().cloned());
        if let Some(config) = &self.config {
            command.env("APT_CONFIG", config.path());
        }
        command.stdin(Stdio::null());
        let mut shown = shown.join(" ");
        if self.config.is_some() {
            shown.push_str(&format!(" (sandboxed in {})", self.root.display()));
        }
        (command, shown)
    }
}

/// Whether apt's stderr says another process holds the dpkg/apt lock.
fn is_lock_message(stderr: &str) -> bool {
    stderr.contains("Could not get lock")
        || stderr.contains("Unable to acquire the dpkg")
        || stderr.contains("Unable to lock")
        // dpkg itself: "dpkg frontend lock was locked by another process"
        || stderr.contains("lock was locked by another process")
}

/// `pmstatus:pkg:42.5:message` / `dlstatus:…` → (percent, message).
pub fn parse_status(line: &str) -> Option<(f64, &str)> {
    let rest = line
        .strip_prefix("pmstatus:")
        .or_else(|| line.strip_prefix("dlstatus:"))?;
    let mut parts = rest.splitn(3, ':');
    let _package = parts.next()?;
    let percent = parts.next()?.parse::<f64>().ok()?;
    Some((percent, parts.next().unwrap_or_default()))
}

/// How a command that changes nothing but failed ended.
struct Failed {
    /// `exit 100`, `killed by SIGKILL (9)`.
    status: String,
    stderr: String,
    /// Killed, or dpkg said a package was left unconfigured: the next
    /// run must finish what dpkg left.
    unfinished: bool,
}

fn failure(root: &Path, kind: Purpose, shown: String, failed: Failed) -> Error {
    let Failed {
        status,
        stderr,
        unfinished,
    } = failed;
    let stderr = stderr.trim().to_string();
    if is_lock_message(&stderr) {
        return Error::Busy {
            what: format!("another apt or dpkg holds the package manager lock: {stderr}"),
            path: root.to_path_buf(),
        };
    }
    match kind {
        Purpose::Update => Error::Repository {
            hint: if stderr.contains("certificate") {
                "\nhint: an https repository needs the CA certificates: \
                 apt-get install ca-certificates (and a certificate the node trusts)"
                    .into()
            } else {
                "\nhint: check the repository URL and that the key given to \
                 `confpack set-environment --key` is the one the repository is signed with"
                    .into()
            },
            command: shown,
            stderr,
        },
        Purpose::Query | Purpose::Change => Error::PackageManager {
            command: shown,
            status,
            stderr,
            hint: match unfinished && kind == Purpose::Change {
                true => UNFINISHED_HINT.to_string(),
                false => String::new(),
            },
        },
    }
}

/// How apt's output and the maintainer scripts' questions reach the
/// person, decided once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Someone is at the terminal: apt, dpkg and the maintainer scripts
    /// get it as when `apt-get` is run by hand, but without dpkg's own
    /// pseudo-terminal (`Dpkg::Use-Pty=0`), which would hide the person's
    /// terminal from a postinst's question. confpack draws nothing while
    /// apt runs (no progress bar over a question).
    Terminal,
    /// Nobody: stdin is `/dev/null`, `DEBIAN_FRONTEND=noninteractive`
    /// (unless set), progress comes from `APT::Status-Fd`; apt keeps its
    /// own pseudo-terminal, so its `term.log` records the run.
    Unattended,
}

impl Attach {
    /// [`Attach::Terminal`] when stdin and stdout or stderr are a terminal
    /// and the settings do not say `noninteractive` (`DEBIAN_FRONTEND`,
    /// resolved by [`crate::settings`]).
    pub fn detect(noninteractive: bool) -> Attach {
        use std::io::IsTerminal;
        let terminal = std::io::stdin().is_terminal()
            && (std::io::stdout().is_terminal() || std::io::stderr().is_terminal());
        if terminal && !noninteractive {
            Attach::Terminal
        } else {
            Attach::Unattended
        }
    }
}

/// What became of a child: its exit status, or the signal that made us
/// end it.
enum Ended {
    Exited(std::process::ExitStatus),
    Interrupted(&'static str),
}

/// Waits for `child`; on SIGINT, SIGTERM or SIGHUP ends it and all below
/// it. `each` runs between checks (reading output).
fn wait(
    child: &mut std::process::Child,
    shown: &str,
    catching: &crate::process::signals::Catching,
    mut each: impl FnMut(&mut std::process::Child) -> Result<()>,
) -> Result<Ended> {
    // Short commands (apt-mark) end within milliseconds: start polling
    // fast, then settle at 20 ms.
    let mut pause = Duration::from_millis(1);
    loop {
        if let Err(e) = each(child) {
            // The person cancelled a question, or a signal came while
            // serving debconf: the whole run ends.
            tree::end(child.id() as i32);
            let _ = child.wait();
            return Err(e);
        }
        if let Some(caught) = catching.take() {
            tree::end(child.id() as i32);
            let _ = child.wait();
            return Ok(Ended::Interrupted(caught.name()));
        }
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Ended::Exited(status)),
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(Error::Command {
                    command: shown.to_string(),
                    message: e.to_string(),
                });
            }
        }
    }
}

impl PackageManager for System {
    fn root(&self) -> &Path {
        &self.root
    }

    fn run(
        &mut self,
        kind: Purpose,
        program: &str,
        args: &[String],
        listener: &mut dyn Listener,
    ) -> Result<String> {
        if kind == Purpose::Query {
            return self.query(program, args);
        }
        // apt-get waits for dpkg's lock itself (DPkg::Lock::Timeout); the
        // others do not — dpkg, apt-mark, and apt-get update for the lists'
        // lock (another update: an operator's, apt-daily's, the converge
        // timer's) — so they are tried again until the same timeout. A
        // lock failure comes before any change.
        let waits_itself = program == "apt-get" && kind != Purpose::Update;
        let deadline = std::time::Instant::now() + self.lock_timeout;
        let mut told = false;
        loop {
            match self.run_once(kind, program, args, listener) {
                Err(Error::Busy { .. })
                    if !waits_itself && std::time::Instant::now() < deadline =>
                {
                    if !told {
                        listener.info("waiting for another apt or dpkg to release its lock");
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }
}

impl System {
    /// Runs a query to its end and returns its stdout. Why not through
    /// [`System::run_once`]: a query shows nothing, asks nothing and ends
    /// within milliseconds, so it needs no signal watch, progress or
    /// reader threads, which would cost a short query more than the query
    /// itself (`status` asks dpkg-query once per package).
    fn query(&self, program: &str, args: &[String]) -> Result<String> {
        let (mut command, shown) = self.command(program, args);
        if std::env::var_os("DEBIAN_FRONTEND").is_none() {
            command.env("DEBIAN_FRONTEND", "noninteractive");
        }
        let output = command.output().map_err(|e| Error::Command {
            command: shown.clone(),
            message: format!("{e}; is apt installed?"),
        })?;
        let ran = Ran {
            kind: Purpose::Query,
            shown,
            echo: false,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.check(&ran, output.status, None)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn run_once(
        &mut self,
        kind: Purpose,
        program: &str,
        args: &[String],
        listener: &mut dyn Listener,
    ) -> Result<String> {
        let (mut command, shown) = self.command(program, args);
        let attach = self.attach;
        let run =
            crate::process::run::Run::start().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        // The maintainer scripts' confpack finds this run by it.
        command.envs(run.environment());
        attach_output(&mut command, program, attach);
        let socket = match (&self.agent, kind, program) {
            (Some(_), Purpose::Change, "apt-get" | "dpkg" | "dpkg-reconfigure") => {
                Some(crate::agent::serve::Socket::open()?)
            }
            _ => None,
        };
        if let Some(socket) = &socket {
            socket.prepare(&mut command);
            // A postinst's own confpack asks on the terminal it has, or
            // nobody (debconf's DEBIAN_FRONTEND is passthrough now).
            if attach == Attach::Unattended {
                command.env("CONFPACK_FRONTEND", "noninteractive");
            }
        }
        let mut agent = self.agent.take();
        let catching = crate::process::signals::Catching::start();
        tree::become_subreaper();
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Command {
                command: shown.clone(),
                message: format!("{e}; is apt installed?"),
            })?;
        // On a terminal apt's stderr is shown as it comes, and kept for
        // the error message.
        let echo = attach == Attach::Terminal;
        let stderr = read_stderr(&mut child, echo);
        let serving = socket.as_ref().zip(agent.as_mut());
        let followed = follow(&mut child, &shown, &catching, serving, listener);
        self.agent = agent;
        if !matches!(&followed, Ok((Ended::Exited(status), _)) if status.signal().is_none()) {
            // apt-get killed under its dpkg: what it started goes with
            // it instead of holding dpkg's lock (and waiting for debconf).
            tree::end_orphans(&run.marker());
        }
        let (ended, stdout) = followed?;
        let stderr = stderr.join().unwrap_or_default();
        if program == "apt-get" {
            // Only apt-get reports progress (APT::Status-Fd): its bar ends.
            listener.progress(1000, 1000);
        }
        let status = match ended {
            Ended::Exited(status) => status,
            Ended::Interrupted(signal) => {
                return Err(Error::Interrupted {
                    signal: signal.to_string(),
                    command: shown,
                });
            }
        };
        let ran = Ran {
            kind,
            shown,
            echo,
            stderr,
        };
        self.check(&ran, status, Some(&run))?;
        if !echo {
            pass_on(&ran.stderr, listener);
        }
        Ok(stdout)
    }

    /// The error a finished command's exit status and stderr mean, if any.
    fn check(
        &self,
        ran: &Ran,
        status: std::process::ExitStatus,
        run: Option<&crate::process::run::Run>,
    ) -> Result<()> {
        let Ran {
            kind,
            shown,
            echo,
            stderr,
        } = ran;
        // apt-get update exits 0 after some failures; `--error-on=any`
        // makes it fail, and an `E:` line is never a success.
        let failed_update = *kind == Purpose::Update && stderr.lines().any(|l| l.starts_with("E:"));
        if status.success() && !failed_update {
            return Ok(());
        }
        let code = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("killed by {}", signal_name(signal)),
            (None, None) => "killed by a signal".to_string(),
        };
        // Shown already: the error keeps apt's summary lines only
        // (a lock message is told apart on all of it).
        let stderr = if *echo && !is_lock_message(stderr) {
            let summary: Vec<&str> = stderr.lines().filter(|l| l.starts_with("E:")).collect();
            format!(
                "{}\n(apt's and dpkg's messages are above)",
                summary.join("\n")
            )
        } else {
            stderr.clone()
        };
        // A noninteractive configure that lacked answers says so
        // better than apt's "dpkg returned an error" (exit 3, keys).
        let unanswered = run.map(crate::process::run::Run::unanswered);
        if let Some(keys) = unanswered.filter(|k| !k.is_empty()) {
            return Err(Error::Unanswered { keys });
        }
        // Judged on everything apt and dpkg said, before it is shortened.
        let failed = Failed {
            status: code,
            stderr,
            unfinished: status.signal().is_some() || left_unfinished(&ran.stderr),
        };
        Err(failure(&self.root, *kind, shown.clone(), failed))
    }
}

/// Whether dpkg said it left a package unconfigured: a maintainer script
/// failed or was killed (dpkg's own words, its `dpkg:` often in colour,
/// and apt's about dpkg).
fn left_unfinished(stderr: &str) -> bool {
    stderr.contains("error processing package") || stderr.contains("dpkg returned an error code")
}

/// What to run after apt-get or dpkg was killed, or a maintainer script
/// failed, half-way.
const UNFINISHED_HINT: &str = "\nhint: packages may be left unpacked or half-configured; run the same \
     confpack command again: it first finishes what dpkg left (`dpkg --configure -a`)";

/// `SIGKILL (9)` for 9.
fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => "signal",
    };
    format!("{name} ({signal})")
}

/// Waits for `child`, taking its stdout line by line as it comes (see
/// [`take_line`]); returns how it ended and the stdout kept. With the
/// agent, debconf's progress bars are said through the same listener.
fn follow(
    child: &mut std::process::Child,
    shown: &str,
    catching: &crate::process::signals::Catching,
    agent: Option<(&crate::agent::serve::Socket, &mut DebconfAgent)>,
    listener: &mut dyn Listener,
) -> Result<(Ended, String)> {
    let lines = read_stdout(child);
    let mut stdout = String::new();
    let shared = std::cell::RefCell::new(listener);
    let take_lines = |stdout: &mut String| {
        while let Ok(line) = lines.try_recv() {
            take_line(&line, stdout, &mut Shared(&shared));
        }
    };
    let ended = match agent {
        None => wait(child, shown, catching, |_| {
            take_lines(&mut stdout);
            Ok(())
        })?,
        Some((socket, agent)) => {
            let foreign = agent.foreign.clone();
            let preset = |tag: &str| foreign.preset(tag).map(|p| p.value.clone());
            let mut progress_listener = Shared(&shared);
            let mut progress = crate::agent::ListenerProgress::new(&mut progress_listener);
            let mut session = crate::agent::Session::new(
                agent.frontend.as_mut(),
                &mut progress,
                &preset,
                agent.context.clone(),
            )
            .reshowing(agent.reshow);
            let ended = wait(child, shown, catching, |child| {
                take_lines(&mut stdout);
                match socket.serve_waiting(child, catching, &mut session)? {
                    Some(caught) => Err(Error::Interrupted {
                        signal: caught.name().to_string(),
                        command: shown.to_string(),
                    }),
                    None => Ok(()),
                }
            });
            agent.answered.extend(session.answered().clone());
            agent
                .unanswered
                .extend(session.unanswered().iter().cloned());
            agent.defaulted.extend(session.defaulted().clone());
            ended?
        }
    };
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
        take_line(&line, &mut stdout, &mut Shared(&shared));
    }
    Ok((ended, stdout))
}

/// One listener told by apt's output and by debconf's progress, in turns
/// (both are handled between the same waits, never at once).
struct Shared<'a, 'b>(&'a std::cell::RefCell<&'b mut dyn Listener>);

impl Listener for Shared<'_, '_> {
    fn info(&mut self, message: &str) {
        self.0.borrow_mut().info(message);
    }

    fn warning(&mut self, message: &str) {
        self.0.borrow_mut().warning(message);
    }

    fn progress(&mut self, done: u64, total: u64) {
        self.0.borrow_mut().progress(done, total);
    }

    fn passthrough(&mut self, line: &str) {
        self.0.borrow_mut().passthrough(line);
    }
}

/// A command that ended by itself: what is needed to judge it.
struct Ran {
    kind: Purpose,
    shown: String,
    /// Its stderr was shown as it came (a terminal).
    echo: bool,
    stderr: String,
}

/// Where the child's stdin and stdout go, and the apt options that go
/// with it.
fn attach_output(command: &mut Command, program: &str, attach: Attach) {
    match attach {
        Attach::Terminal => {
            if program == "apt-get" {
                // dpkg on apt's own pty would be a terminal nobody
                // types into: a postinst's question must reach the
                // person. (apt then writes no term.log.)
                command.args(["-o", "Dpkg::Use-Pty=0", "-o", "Dpkg::Progress-Fancy=0"]);
            }
            command.stdin(Stdio::inherit()).stdout(Stdio::inherit());
        }
        Attach::Unattended => {
            if program == "apt-get" {
                // Progress lines on stdout, told apart by their prefix.
                command.args(["-o", "APT::Status-Fd=1"]);
            }
            if std::env::var_os("DEBIAN_FRONTEND").is_none() {
                command.env("DEBIAN_FRONTEND", "noninteractive");
            }
            command.stdout(Stdio::piped());
        }
    }
}

/// Collects the child's stderr on a thread, echoing each line when `echo`.
fn read_stderr(child: &mut std::process::Child, echo: bool) -> std::thread::JoinHandle<String> {
    let mut pipe = child.stderr.take();
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = pipe.as_mut() {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if echo {
                    crate::say(format_args!("{line}"));
                }
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    })
}

/// The child's stdout, line by line, from a thread (none when it is not
/// piped).
fn read_stdout(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    if let Some(pipe) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    lines
}

/// apt's stderr after a success: warnings as warnings, the rest as it is.
fn pass_on(stderr: &str, listener: &mut dyn Listener) {
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(warning) = line.strip_prefix("W: ") {
            listener.warning(warning);
        } else {
            listener.passthrough(line);
        }
    }
}

/// One line of apt's stdout: a progress step, or shown (and kept).
fn take_line(line: &str, stdout: &mut String, listener: &mut dyn Listener) {
    if let Some((percent, _)) = parse_status(line) {
        listener.progress((percent * 10.0).clamp(0.0, 1000.0) as u64, 1000);
    } else if line.starts_with("pmerror:") || line.starts_with("pmconffile:") {
        // dpkg's error is on stderr too: shown once, in the error.
    } else if !line.trim().is_empty() {
        listener.passthrough(line);
        stdout.push_str(line);
        stdout.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_recognised() {
        assert_eq!(
            parse_status("pmstatus:demo:40.0000:Installing demo (amd64)"),
            Some((40.0, "Installing demo (amd64)"))
        );
        assert_eq!(
            parse_status("dlstatus:1:20.5:Retrieving file 1 of 4"),
            Some((20.5, "Retrieving file 1 of 4"))
        );
        assert_eq!(parse_status("Setting up demo (1.0) ..."), None);
    }

    #[test]
    fn update_waits_for_another_update_holding_the_lists_lock() {
        let apt_get = crate::process::command::query(Command::new("apt-get").arg("--version"));
        if apt_get.is_none() || !rustix::process::geteuid().is_root() {
            eprintln!("skipped: apt-get in a sandbox needs apt-get and root");
            return;
        }
        let root = tempfile::tempdir().expect("tempdir");
        let mut apt =
            System::new(root.path(), Duration::from_secs(20), Attach::Unattended).expect("sandbox");
        let status = root.path().join("var/lib/dpkg/status");
        std::fs::create_dir_all(status.parent().expect("parent")).expect("mkdir");
        std::fs::write(&status, "").expect("status");
        // apt locks with fcntl (per process): this process holds it from
        // apt-get's point of view, for a second and a half.
        let lock = std::fs::File::create(root.path().join("var/lib/apt/lists/lock")).expect("lock");
        rustix::fs::fcntl_lock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .expect("fcntl lock");
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            drop(lock);
        });
        let mut listener = crate::listener::RecordingListener::default();
        let ran = apt.run(
            Purpose::Update,
            "apt-get",
            &["update".to_string()],
            &mut listener,
        );
        holder.join().expect("holder");
        assert!(ran.is_ok(), "{ran:?}");
        assert!(
            listener
                .infos
                .iter()
                .any(|i| i.contains("waiting for another apt")),
            "{:?}",
            listener.infos
        );
    }

    #[test]
    fn a_lock_failure_is_busy_not_a_package_failure() {
        let error = failure(
            Path::new("/"),
            Purpose::Change,
            "apt-get install".into(),
            failed(
                "exit 100",
                "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7",
            ),
        );
        assert_eq!(error.exit_code(), crate::ExitCode::Locked);
        let error = failure(
            Path::new("/"),
            Purpose::Update,
            "apt-get update".into(),
            failed("exit 100", "E: The repository is not signed."),
        );
        assert_eq!(error.exit_code(), crate::ExitCode::Repository);
        let error = failure(
            Path::new("/"),
            Purpose::Update,
            "apt-get update".into(),
            failed(
                "exit 100",
                "W: No system certificates available. Try installing ca-certificates.",
            ),
        );
        assert!(
            error
                .to_string()
                .contains("apt-get install ca-certificates")
        );
    }

    fn failed(status: &str, stderr: &str) -> Failed {
        Failed {
            status: status.into(),
            stderr: stderr.into(),
            unfinished: left_unfinished(stderr),
        }
    }

    #[test]
    fn a_killed_apt_or_a_failed_maintainer_script_says_to_run_the_command_again() {
        let killed = Failed {
            status: format!("killed by {}", signal_name(9)),
            stderr: String::new(),
            unfinished: true,
        };
        let error = failure(
            Path::new("/"),
            Purpose::Change,
            "apt-get install".into(),
            killed,
        );
        let message = error.to_string();
        assert!(message.contains("(killed by SIGKILL (9))"), "{message}");
        assert!(message.contains("dpkg --configure -a"), "{message}");
        assert_eq!(error.exit_code(), crate::ExitCode::PackageManager);
        let script = failed(
            "exit 100",
            "dpkg: error processing package demo (--configure):\n \
             installed demo package post-installation script subprocess returned error exit status 1\n\
             E: Sub-process /usr/bin/dpkg returned an error code (1)",
        );
        let message = failure(
            Path::new("/"),
            Purpose::Change,
            "apt-get install".into(),
            script,
        )
        .to_string();
        assert!(message.contains("dpkg --configure -a"), "{message}");
        // dpkg itself (finishing an earlier run), its `dpkg:` in bold.
        let killed_script = failed(
            "exit 1",
            "\x1b[1mdpkg:\x1b[0m error processing package demo (--configure):\n \
             installed demo package post-installation script subprocess was killed by signal (Killed)",
        );
        let message = failure(
            Path::new("/"),
            Purpose::Change,
            "dpkg --configure -a".into(),
            killed_script,
        )
        .to_string();
        assert!(message.contains("hint: "), "{message}");
        let other = failed("exit 100", "E: Unable to locate package nothere");
        let message = failure(
            Path::new("/"),
            Purpose::Change,
            "apt-get install".into(),
            other,
        )
        .to_string();
        assert!(!message.contains("hint"), "{message}");
    }
}
