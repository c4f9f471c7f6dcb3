//! Running apt-get or dpkg with confpack as debconf's agent.
//!
//! The socket lives in a private directory (0700, this user's), so no
//! other user can connect and answer, or read, the questions. Every
//! maintainer script's debconf connects anew (one after the other); all
//! are served by one [`Session`] until the command exits. Nobody waits for
//! ever: a connection may stay silent while the command lives (apt may be
//! downloading), but when the command has exited the run is over; a
//! debconf that dies closes its end, which ends its connection; a reply
//! that cannot be written (debconf went away during GO) ends it too. If
//! confpack itself dies, debconf reads end-of-file: Passthrough.pm then
//! takes no answer and keeps its current values. A question on screen
//! is given up as soon as nobody can use its answer: when the command
//! has died (a killed apt-get leaves its dpkg and the maintainer script
//! waiting) or debconf has closed its connection; the caller then judges
//! the run by the command's end. SIGINT, SIGTERM and
//! SIGHUP end the command with everything below it, as for any apt run
//! ([`crate::process::tree`]). The directory is removed at the end.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use super::session::Session;
use crate::error::{Error, Result};
use crate::frontend::Abandoned;
use crate::process::command::shown;
use crate::process::signals::{Catching, Caught};
use crate::process::tree;

/// The socket's name in the private directory.
pub const SOCKET_NAME: &str = "debconf.socket";

/// How often signals and the command are checked while nothing comes.
const POLL: Duration = Duration::from_millis(50);

/// Runs `command` with `DEBIAN_FRONTEND=passthrough` and `DEBCONF_PIPE`
/// set, serving debconf's connections through `session` until the
/// command exits; returns its exit status. An error of the frontend (the
/// person cancelled) or a signal ends the command and all below it.
pub fn run_with_agent(command: &mut Command, session: &mut Session<'_>) -> Result<ExitStatus> {
    let socket = Socket::open()?;
    socket.prepare(command);
    let (listener, path) = (&socket.listener, socket.path.as_path());
    let given_up = &socket.given_up;
    let line = shown(command);
    let catching = Catching::start();
    tree::become_subreaper();
    let mut child = command.spawn().map_err(|e| Error::Command {
        command: line.clone(),
        message: format!("cannot start: {e}"),
    })?;
    let served = serve((listener, path, given_up), &mut child, &catching, session);
    let ended = match served {
        Ok(Ended::Exited(status)) => return Ok(status),
        Ok(Ended::Caught(caught)) => Error::Interrupted {
            signal: caught.name().to_string(),
            command: line,
        },
        Err(e) => e,
    };
    tree::end(child.id() as i32);
    let _ = child.wait();
    Err(ended)
}

/// The agent's socket in its private directory, for a caller that runs
/// the command its own way (apt's progress, its output) and serves the
/// connections between its own steps ([`Socket::serve_waiting`]).
pub struct Socket {
    listener: UnixListener,
    path: std::path::PathBuf,
    /// Connections whose questions were given up because the command
    /// died: held open (debconf waits quietly instead of reading
    /// end-of-file) until the run's leftovers are ended, closed when the
    /// socket is dropped.
    given_up: RefCell<Vec<UnixStream>>,
    /// Removed when dropped, with the socket in it.
    _directory: tempfile::TempDir,
}

impl Socket {
    /// A listening socket in a new private directory (0700).
    pub fn open() -> Result<Socket> {
        let directory = private_directory()?;
        let path = directory.path().join(SOCKET_NAME);
        let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Socket {
            listener,
            path,
            given_up: RefCell::new(Vec::new()),
            _directory: directory,
        })
    }

    /// Makes `command`'s debconf talk to this socket.
    pub fn prepare(&self, command: &mut Command) {
        command
            .env("DEBIAN_FRONTEND", "passthrough")
            .env("DEBCONF_PIPE", &self.path);
    }

    /// Serves the connections waiting now, each to its end (or the
    /// command's); returns at once when none waits. A caught signal is
    /// returned for the caller to end the command.
    pub fn serve_waiting(
        &self,
        child: &mut Child,
        catching: &Catching,
        session: &mut Session<'_>,
    ) -> Result<Option<Caught>> {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    session.begin_connection();
                    let connection = (stream, &self.given_up);
                    if let Some(caught) = converse(connection, child, catching, session)? {
                        return Ok(Some(caught));
                    }
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
    }
}

/// How serving ended.
enum Ended {
    Exited(ExitStatus),
    Caught(Caught),
}

/// A directory only this user can enter, removed when dropped.
fn private_directory() -> Result<tempfile::TempDir> {
    let directory = tempfile::Builder::new()
        .prefix("confpack-agent-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    std::fs::set_permissions(directory.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(directory.path(), e))?;
    Ok(directory)
}

fn serve(
    (listener, path, given_up): (&UnixListener, &std::path::Path, &RefCell<Vec<UnixStream>>),
    child: &mut Child,
    catching: &Catching,
    session: &mut Session<'_>,
) -> Result<Ended> {
    loop {
        if let Some(ended) = check(child, catching)? {
            return Ok(ended);
        }
        match listener.accept() {
            Ok((stream, _)) => {
                session.begin_connection();
                if let Some(caught) = converse((stream, given_up), child, catching, session)? {
                    return Ok(Ended::Caught(caught));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                std::thread::sleep(POLL);
            }
            Err(e) => {
                return Err(Error::io(path, e));
            }
        }
    }
}

/// A signal, or the command's end.
fn check(child: &mut Child, catching: &Catching) -> Result<Option<Ended>> {
    if let Some(caught) = catching.take() {
        return Ok(Some(Ended::Caught(caught)));
    }
    match child.try_wait() {
        Ok(Some(status)) => Ok(Some(Ended::Exited(status))),
        Ok(None) => Ok(None),
        Err(e) => Err(Error::Command {
            command: format!("process {}", child.id()),
            message: e.to_string(),
        }),
    }
}

/// One debconf connection, line by line, until it closes or the command
/// exits; a caught signal is returned.
fn converse(
    (stream, given_up): (UnixStream, &RefCell<Vec<UnixStream>>),
    child: &mut Child,
    catching: &Catching,
    session: &mut Session<'_>,
) -> Result<Option<Caught>> {
    // Accepted sockets do not inherit the listener's non-blocking mode on
    // Linux, but say so: reads wait at most one poll.
    let configured = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        .and_then(|()| stream.try_clone());
    let Ok(mut writer) = configured else {
        return Ok(None);
    };
    let watch = abandoned(&writer, child.id());
    if let Some(watch) = &watch {
        session.watch(watch.clone());
    }
    let mut reader = BufReader::new(stream);
    let mut pending = Vec::new();
    loop {
        match reader.read_until(b'\n', &mut pending) {
            // Closed by debconf.
            Ok(0) => return Ok(None),
            Ok(_) => {
                let line = String::from_utf8_lossy(&pending).into_owned();
                pending.clear();
                let reply = match session.reply_to(&line) {
                    Ok(reply) => reply,
                    // Nobody wants the answers any more: as if debconf
                    // had closed the connection; the command's end says
                    // how the run went.
                    Err(_) if watch.as_ref().is_some_and(|w| w.reason().is_some()) => {
                        if !tree::is_running(child.id() as i32) {
                            given_up.borrow_mut().push(writer);
                        }
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                };
                if writer
                    .write_all(format!("{reply}\n").as_bytes())
                    .and_then(|()| writer.flush())
                    .is_err()
                {
                    return Ok(None);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                match check(child, catching)? {
                    Some(Ended::Caught(caught)) => return Ok(Some(caught)),
                    Some(Ended::Exited(_)) => return Ok(None),
                    None => {}
                }
            }
            Err(_) => return Ok(None),
        }
    }
}

/// The watch on one connection's questions: they are no longer wanted
/// once the command has ended (a killed apt-get leaves its dpkg and the
/// maintainer script waiting, re-parented to us) or once debconf has
/// closed its end (killed while the person reads the question).
fn abandoned(stream: &UnixStream, command: u32) -> Option<Abandoned> {
    let peer = stream.try_clone().ok()?;
    let command = i32::try_from(command).ok()?;
    Some(Abandoned::new(move || {
        if !tree::is_running(command) {
            Some(format!("the end of process {command}, which asked"))
        } else if hung_up(&peer) {
            Some("debconf closing its connection".to_string())
        } else {
            None
        }
    }))
}

/// Whether the other end of `stream` has closed, without waiting.
fn hung_up(stream: &UnixStream) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(stream, PollFlags::RDHUP)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let closed = PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR;
    rustix::event::poll(&mut fds, Some(&now)).is_ok_and(|ready| ready > 0)
        && fds[0].revents().intersects(closed)
}
