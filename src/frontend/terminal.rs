//! Finding the person's terminal.
//!
//! A postinst runs under `dpkg -i` or apt with stdin and stdout that may be
//! pipes or log files, yet the person who typed the command sits at a
//! terminal. Like debconf, confpack then opens `/dev/tty` for both input and
//! drawing. Before it commits to a terminal it checks what would otherwise
//! hang or garble: no controlling terminal (ssh without `-t`, cron, CI), a
//! background job (reading the terminal would stop the process with
//! SIGTTIN), `TERM=dumb`, a window too small to draw in, or a terminal
//! nobody sits at: apt runs dpkg on a pseudo-terminal of its own
//! (`Dpkg::Use-Pty`) that it never gives a size, and nobody types into it.
//! Every terminal emulator, ssh and tmux set a size, so a pseudo-terminal
//! of 0x0 means noninteractive; a serial console of 0x0 is normal (the
//! text frontend works there).

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

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
        self.reported_size()
            .filter(|&(width, height)| width > 0 && height > 0)
    }

    /// The size the terminal reports, 0x0 included.
    fn reported_size(&self) -> Option<(u16, u16)> {
        let size = rustix::termios::tcgetwinsize(self.control()).ok()?;
        Some((size.ws_col, size.ws_row))
    }

    /// The terminal's device name (`/dev/pts/3`, `/dev/ttyS0`), if found.
    fn name(&self) -> Option<String> {
        let fd = self.control().as_raw_fd();
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
        if link == Path::new("/dev/tty") {
            controlling_terminal_name()
        } else {
            Some(link.display().to_string())
        }
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
        let term = std::env::var("TERM").ok();
        fit_for_tui_by(
            self.name().as_deref(),
            self.reported_size(),
            term.as_deref(),
        )
    }

    /// Checks that line prompts can be read here.
    pub fn fit_for_text(&self) -> Result<(), String> {
        self.foreground()?;
        match fit_by_size(self.name().as_deref(), self.reported_size()) {
            Err(Unfit::NotAtAll(reason)) => Err(reason),
            _ => Ok(()),
        }
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

/// What a terminal's size allows, given its `name` and the size it
/// reports (columns, rows): the TUI, only the text frontend, or nothing,
/// when it is a pseudo-terminal nobody gave a size and so nobody sits at.
pub fn fit_by_size(name: Option<&str>, reported: Option<(u16, u16)>) -> Result<(), Unfit> {
    match reported {
        Some((0, 0)) if name.is_some_and(is_pseudo_terminal) => Err(Unfit::NotAtAll(
            "the terminal is a pseudo-terminal without a size (apt's Dpkg::Use-Pty?); \
             nobody can answer there"
                .to_string(),
        )),
        Some((width, height)) if width > 0 && height > 0 => {
            if width < MIN_WIDTH || height < MIN_HEIGHT {
                Err(Unfit::ForText(format!(
                    "the terminal is {width}x{height}, smaller than the {MIN_WIDTH}x{MIN_HEIGHT} \
                     the TUI needs"
                )))
            } else {
                Ok(())
            }
        }
        _ => Err(Unfit::ForText(
            "the terminal does not report its size".to_string(),
        )),
    }
}

/// What the TUI needs of a terminal in the foreground, given its `name`,
/// the size it reports and `TERM`: a size ([`fit_by_size`]) and a `TERM`
/// that can draw (none, empty or `dumb` leaves the text frontend).
pub fn fit_for_tui_by(
    name: Option<&str>,
    reported: Option<(u16, u16)>,
    term: Option<&str>,
) -> Result<(), Unfit> {
    let sized = fit_by_size(name, reported);
    if let Err(Unfit::NotAtAll(reason)) = sized {
        return Err(Unfit::NotAtAll(reason));
    }
    match term {
        None | Some("") => Err(Unfit::ForText("TERM is not set".to_string())),
        Some("dumb") => Err(Unfit::ForText(
            "the terminal is dumb (TERM=dumb)".to_string(),
        )),
        Some(_) => sized,
    }
}

/// Whether `name` is a pseudo-terminal's (the slave side: what a terminal
/// emulator, ssh, tmux or apt gives the programs it runs).
fn is_pseudo_terminal(name: &str) -> bool {
    name.starts_with("/dev/pts/")
}

/// The name of this process's controlling terminal, which `/dev/tty`
/// stands for without naming it: its device number is `tty_nr` in
/// `/proc/self/stat` (proc(5)).
fn controlling_terminal_name() -> Option<String> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After "pid (comm) ": state ppid pgrp session tty_nr …
    let fields = &stat[stat.rfind(')')? + 2..];
    let number: u32 = fields.split(' ').nth(4)?.parse().ok()?;
    let major = (number >> 8) & 0xfff;
    let minor = (number & 0xff) | ((number >> 12) & 0xf_ff00);
    device_name(major, minor)
}

/// A terminal's name from its device number.
fn device_name(major: u32, minor: u32) -> Option<String> {
    // Pseudo-terminal slaves (majors 136-143, devices.txt) are not in sysfs.
    if (136..=143).contains(&major) {
        return Some(format!("/dev/pts/{}", (major - 136) * 256 + minor));
    }
    let uevent = std::fs::read_to_string(format!("/sys/dev/char/{major}:{minor}/uevent")).ok()?;
    uevent
        .lines()
        .find_map(|line| line.strip_prefix("DEVNAME="))
        .map(|name| format!("/dev/{name}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn nobody(result: Result<(), Unfit>) -> bool {
        matches!(result, Err(Unfit::NotAtAll(reason)) if reason.contains("pseudo-terminal without a size"))
    }

    #[test]
    fn a_pseudo_terminal_of_0x0_is_one_nobody_sits_at() {
        assert!(nobody(fit_by_size(Some("/dev/pts/7"), Some((0, 0)))));
    }

    #[test]
    fn a_serial_console_of_0x0_still_gets_the_text_frontend() {
        for name in [
            Some("/dev/ttyS0"),
            Some("/dev/console"),
            Some("/dev/ttyAMA0"),
            None,
        ] {
            assert_eq!(
                fit_by_size(name, Some((0, 0))),
                Err(Unfit::ForText(
                    "the terminal does not report its size".to_string()
                )),
                "{name:?}"
            );
        }
    }

    #[test]
    fn a_sized_pseudo_terminal_gets_the_tui_or_text_when_small() {
        assert_eq!(fit_by_size(Some("/dev/pts/0"), Some((80, 24))), Ok(()));
        assert!(matches!(
            fit_by_size(Some("/dev/pts/0"), Some((40, 12))),
            Err(Unfit::ForText(reason)) if reason.contains("40x12")
        ));
        // Half a size is not "nobody set one up": text, as before.
        assert!(matches!(
            fit_by_size(Some("/dev/pts/0"), Some((80, 0))),
            Err(Unfit::ForText(_))
        ));
        assert!(matches!(
            fit_by_size(Some("/dev/pts/0"), None),
            Err(Unfit::ForText(_))
        ));
    }

    #[test]
    fn a_dumb_or_unset_term_leaves_text_unless_nobody_sits_there() {
        let pts = Some("/dev/pts/0");
        assert_eq!(fit_for_tui_by(pts, Some((80, 24)), Some("xterm")), Ok(()));
        for term in [None, Some(""), Some("dumb")] {
            assert!(
                matches!(
                    fit_for_tui_by(pts, Some((80, 24)), term),
                    Err(Unfit::ForText(_))
                ),
                "{term:?}"
            );
            assert!(nobody(fit_for_tui_by(pts, Some((0, 0)), term)), "{term:?}");
        }
    }

    #[test]
    fn pseudo_terminal_numbers_name_their_slave() {
        assert_eq!(device_name(136, 5).as_deref(), Some("/dev/pts/5"));
        assert_eq!(device_name(137, 2).as_deref(), Some("/dev/pts/258"));
    }
}
