//! Finding the person's terminal.
//!
//! A postinst runs under `dpkg -i` or apt with stdin and stdout that may be
//! pipes or log files, yet the person who typed the command sits at a
//! terminal. Like debconf, confpack then opens `/dev/tty` for both input and
//! drawing. Before it commits to a terminal it checks what would otherwise
//! hang or garble: no controlling terminal (ssh without `-t`, cron, CI), a
//! background job (reading the terminal would stop the process with
//! SIGTTIN), `TERM=dumb`, or a window too small to draw in.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, BorrowedFd};

/// The smallest window the TUI draws in; smaller ones get the text
/// frontend at startup and a message during a run.
pub const MIN_WIDTH: u16 = 50;
pub const MIN_HEIGHT: u16 = 14;

/// Where input comes from: stdin when it is the terminal, else `/dev/tty`.
#[derive(Debug)]
enum Side {
    Standard,
    Tty(File),
}

/// The terminal a frontend talks to.
#[derive(Debug)]
pub struct Device {
    input: Side,
    output: Side,
}

/// Why the TUI cannot run on a terminal, and where to go instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    /// The text frontend can still work (dumb or tiny terminal).
    ForText(String),
    /// No interactive frontend can (a background job).
    NotAtAll(String),
}

impl Device {
    /// Finds the terminal: stdin and stdout when they are one, `/dev/tty`
    /// for the side that is not (as under `dpkg -i`). The error says why
    /// there is none, in a phrase fit for "…; using X".
    pub fn find() -> Result<Device, String> {
        let stdin = io::stdin().is_terminal();
        let stdout = io::stdout().is_terminal();
        if stdin && stdout {
            return Ok(Device {
                input: Side::Standard,
                output: Side::Standard,
            });
        }
        let tty = open_tty().map_err(|e| format!("no terminal to ask on (/dev/tty: {e})"))?;
        let input = if stdin {
            Side::Standard
        } else {
            Side::Tty(tty.try_clone().map_err(|e| format!("/dev/tty: {e}"))?)
        };
        let output = if stdout {
            Side::Standard
        } else {
            Side::Tty(tty)
        };
        Ok(Device { input, output })
    }

    /// The input side, for terminal modes, size and job control.
    pub fn control(&self) -> BorrowedFd<'_> {
        match &self.input {
            Side::Standard => rustix::stdio::stdin(),
            Side::Tty(file) => file.as_fd(),
        }
    }

    /// Whether drawing goes to `/dev/tty` rather than stdout.
    pub fn draws_on_dev_tty(&self) -> bool {
        matches!(self.output, Side::Tty(_))
    }

    /// The window size (columns, rows), if the terminal reports one.
    pub fn size(&self) -> Option<(u16, u16)> {
        let size = rustix::termios::tcgetwinsize(self.control()).ok()?;
        (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
    }

    /// Whether this process may read the terminal without being stopped:
    /// it must be in the terminal's foreground process group.
    fn foreground(&self) -> Result<(), String> {
        let owner = rustix::termios::tcgetpgrp(self.control())
            .map_err(|e| format!("the terminal cannot be used ({e})"))?;
        if owner == rustix::process::getpgrp() {
            Ok(())
        } else {
            Err("confpack runs in the background of its terminal".to_string())
        }
    }

    /// Checks that the TUI can draw here.
    pub fn fit_for_tui(&self) -> Result<(), Unfit> {
        self.foreground().map_err(Unfit::NotAtAll)?;
        match std::env::var("TERM").ok().as_deref() {
            None | Some("") => {
                return Err(Unfit::ForText("TERM is not set".to_string()));
            }
            Some("dumb") => {
                return Err(Unfit::ForText(
                    "the terminal is dumb (TERM=dumb)".to_string(),
                ));
            }
            Some(_) => {}
        }
        match self.size() {
            None => Err(Unfit::ForText(
                "the terminal does not report its size".to_string(),
            )),
            Some((width, height)) if width < MIN_WIDTH || height < MIN_HEIGHT => {
                Err(Unfit::ForText(format!(
                    "the terminal is {width}x{height}, smaller than the {MIN_WIDTH}x{MIN_HEIGHT} \
                     the TUI needs"
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// Checks that line prompts can be read here.
    pub fn fit_for_text(&self) -> Result<(), String> {
        self.foreground()
    }

    /// A new handle to draw or print on.
    pub fn writer(&self) -> io::Result<Writer> {
        Ok(match &self.output {
            Side::Standard => Writer::Stdout(io::stdout()),
            Side::Tty(file) => Writer::Tty(file.try_clone()?),
        })
    }

    /// A new handle to read lines from.
    pub fn reader(&self) -> io::Result<Reader> {
        Ok(match &self.input {
            Side::Standard => Reader::Stdin(io::stdin()),
            Side::Tty(file) => Reader::Tty(file.try_clone()?),
        })
    }

    /// The width to wrap text at.
    pub fn width(&self) -> usize {
        self.size().map(|(w, _)| usize::from(w)).unwrap_or(80)
    }
}

fn open_tty() -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
}

/// Where a frontend writes: stdout or `/dev/tty`.
#[derive(Debug)]
pub enum Writer {
    Stdout(io::Stdout),
    Tty(File),
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Stdout(out) => out.write(buf),
            Writer::Tty(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Stdout(out) => out.flush(),
            Writer::Tty(file) => file.flush(),
        }
    }
}

/// Where a frontend reads: stdin or `/dev/tty`.
#[derive(Debug)]
pub enum Reader {
    Stdin(io::Stdin),
    Tty(File),
}

impl AsFd for Reader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Reader::Stdin(stdin) => stdin.as_fd(),
            Reader::Tty(file) => file.as_fd(),
        }
    }
}

impl Reader {
    /// Whether this reads from a terminal (so echo can be switched off).
    pub fn is_terminal(&self) -> bool {
        rustix::termios::isatty(self.as_fd())
    }
}

/// Reopens the terminal the TUI drew on, for the panic hook (which must
/// not share the frontend's handle).
pub fn reopen_writer(on_dev_tty: bool) -> Writer {
    if on_dev_tty && let Ok(file) = open_tty() {
        return Writer::Tty(file);
    }
    Writer::Stdout(io::stdout())
}
