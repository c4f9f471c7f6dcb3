//! The TUI frontend: a full-screen configurator on the person's terminal
//! (stdin/stdout, or `/dev/tty` under `dpkg -i`), replacing debconf's
//! dialog/whiptail prompts.
//!
//! [`app`] holds the state and reacts to keys, [`ui`] draws it,
//! [`keys`] is the one table of key bindings, [`widgets`] has one input
//! widget per question type. This module only runs the loop: set the
//! terminal up (raw mode, alternate screen, bracketed paste), draw, wait
//! for a key or a signal, and put the terminal back however the run ends —
//! including a panic (hook) and a signal: SIGTERM, SIGHUP and SIGINT
//! (which no key sends in raw mode) cancel at once, without asking.

pub mod app;
pub mod keys;
pub mod theme;
pub mod ui;
pub mod widgets;

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::panic::PanicHookInfo;
use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::{cursor, execute, terminal};

use self::app::{App, Input, Outcome};
use self::theme::Theme;
use super::terminal::{Device, Writer, reopen_writer};
use super::text::Text;
use super::{Abandoned, Context, Frontend, Prompt};
use crate::error::{Error, Result};
use crate::process::signals::Catching;
use crate::render::{EditChoice, LocalEdit};

/// How often the loop looks for a caught signal while no key comes.
const SIGNAL_CHECK: Duration = Duration::from_millis(200);

/// The TUI frontend on a terminal.
#[derive(Debug)]
pub struct Tui {
    device: Device,
    theme: Theme,
    /// The languages descriptions and choices are shown in, most wanted
    /// first (see [`crate::settings::languages`]).
    languages: Vec<String>,
}

impl Tui {
    pub fn new(device: Device) -> Tui {
        Tui {
            device,
            theme: Theme::from_environment(),
            languages: Vec::new(),
        }
    }

    /// Shows translations for `languages` (most wanted first).
    pub fn in_languages(mut self, languages: &[String]) -> Tui {
        self.languages = languages.to_vec();
        self
    }
}

impl Frontend for Tui {
    fn name(&self) -> &'static str {
        "tui"
    }

    fn ask(&mut self, context: &Context, prompts: &[Prompt]) -> Result<BTreeMap<String, String>> {
        self.ask_watching(context, prompts, None)
    }

    fn ask_unless(
        &mut self,
        context: &Context,
        prompts: &[Prompt],
        abandoned: &Abandoned,
    ) -> Result<BTreeMap<String, String>> {
        self.ask_watching(context, prompts, Some(abandoned))
    }

    /// One question on the terminal, between the screens: asked the text
    /// frontend's way (see [`Text::ask_local_edit`]).
    fn local_edit(&mut self, edit: &LocalEdit) -> Result<Option<EditChoice>> {
        let mut text = Text::on_terminal(&self.device)
            .map_err(terminal_error)?
            .in_languages(&self.languages);
        text.ask_local_edit(edit).map(Some)
    }
}

impl Tui {
    fn ask_watching(
        &mut self,
        context: &Context,
        prompts: &[Prompt],
        abandoned: Option<&Abandoned>,
    ) -> Result<BTreeMap<String, String>> {
        let prompts: Vec<Prompt> = prompts
            .iter()
            .map(|p| p.in_languages(&self.languages))
            .collect();
        let mut app = App::new(context.clone(), prompts.clone(), self.theme);
        let outcome = {
            let catching = Catching::start();
            wait_until_stderr_is_read();
            let mut session = Session::start(&self.device).map_err(terminal_error)?;
            let watch = Watch {
                catching: &catching,
                abandoned,
            };
            run(&mut session.terminal, &mut app, &self.device, &watch)?
        };
        match outcome {
            Outcome::Save(answers) => Ok(answers),
            Outcome::Cancel => Err(Error::Cancelled),
            Outcome::Back => Err(Error::Back),
            Outcome::TextMode => {
                let mut text = Text::on_terminal(&self.device)
                    .map_err(terminal_error)?
                    .in_languages(&self.languages);
                text.watching(abandoned.cloned());
                text.ask_from(context, &prompts, app.values(), app.current)
            }
        }
    }
}

/// What ends the questions without a key: a caught signal, or whoever
/// asked having gone.
struct Watch<'a> {
    catching: &'a Catching,
    abandoned: Option<&'a Abandoned>,
}

/// Under `confpack install`, stderr is a pipe that confpack reads and
/// shows on the same terminal the TUI draws on. A line this process wrote
/// just before would otherwise land on the TUI's first frame; so wait
/// (briefly, bounded) until the reader has taken it.
fn wait_until_stderr_is_read() {
    let stderr = rustix::stdio::stderr();
    if rustix::fs::fstat(stderr)
        .is_ok_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::Fifo)
    {
        let deadline = std::time::Instant::now() + Duration::from_millis(250);
        while rustix::io::ioctl_fionread(stderr).is_ok_and(|unread| unread > 0)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        // Read is not yet shown: the reader writes it right after.
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn terminal_error(error: io::Error) -> Error {
    Error::io("<terminal>", error)
}

/// Draws and handles input until the app has an outcome. A caught signal
/// or a terminal that hung up cancels; nobody is asked (Ctrl-C is a key
/// here, and the app asks about that one). Questions nobody wants any
/// more end with [`Error::Ended`].
fn run(
    terminal: &mut Terminal<Backend>,
    app: &mut App,
    device: &Device,
    watch: &Watch<'_>,
) -> Result<Outcome> {
    let size = terminal.size().map_err(terminal_error)?;
    app.handle(Input::Resize(size.width, size.height));
    loop {
        terminal
            .draw(|frame| ui::draw(frame, app))
            .map_err(terminal_error)?;
        // Wait on the terminal ourselves: crossterm spins on a terminal
        // that reads end-of-file (hung up), and could not see our signals.
        loop {
            if watch.catching.take().is_some() {
                return Ok(Outcome::Cancel);
            }
            if let Some(by) = watch.abandoned.and_then(Abandoned::reason) {
                return Err(Error::Ended { by });
            }
            match wait_readable(device)? {
                Readiness::Gone => return Ok(Outcome::Cancel),
                Readiness::Input => break,
                // Resizes arrive through crossterm's own signal pipe.
                Readiness::Idle if event::poll(Duration::ZERO).map_err(terminal_error)? => break,
                Readiness::Idle => {}
            }
        }
        while event::poll(Duration::ZERO).map_err(terminal_error)? {
            match event::read().map_err(terminal_error)? {
                Event::Key(key) if key.kind == KeyEventKind::Press => {
                    app.handle(Input::Key(key));
                }
                Event::Paste(text) => app.handle(Input::Paste(text)),
                Event::Resize(width, height) => app.handle(Input::Resize(width, height)),
                _ => {}
            }
            if let Some(outcome) = app.take_outcome() {
                return Ok(outcome);
            }
        }
    }
}

enum Readiness {
    Input,
    Idle,
    Gone,
}

fn wait_readable(device: &Device) -> Result<Readiness> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let fd = device.control();
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: i64::try_from(SIGNAL_CHECK.as_nanos()).unwrap_or(200_000_000),
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(0) | Err(rustix::io::Errno::INTR) => Ok(Readiness::Idle),
        Ok(_) => {
            let events = fds[0].revents();
            if events.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                Ok(Readiness::Gone)
            } else {
                Ok(Readiness::Input)
            }
        }
        Err(error) => Err(terminal_error(error.into())),
    }
}

type Backend = CrosstermBackend<BufWriter<Writer>>;

/// The terminal in TUI mode; dropping it puts the terminal back.
struct Session {
    terminal: Terminal<Backend>,
    previous_hook: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync + 'static>,
}

impl Session {
    fn start(device: &Device) -> io::Result<Session> {
        let previous_hook: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> =
            Arc::from(std::panic::take_hook());
        let on_dev_tty = device.draws_on_dev_tty();
        let chained = Arc::clone(&previous_hook);
        std::panic::set_hook(Box::new(move |info| {
            restore(&mut reopen_writer(on_dev_tty));
            chained(info);
        }));
        let mut writer = BufWriter::new(device.writer()?);
        let started = terminal::enable_raw_mode().and_then(|()| {
            execute!(
                writer,
                terminal::EnterAlternateScreen,
                event::EnableBracketedPaste,
                cursor::Hide
            )
        });
        if let Err(error) = started {
            restore(&mut writer);
            reset_hook(&previous_hook);
            return Err(error);
        }
        match Terminal::new(CrosstermBackend::new(writer)) {
            Ok(terminal) => Ok(Session {
                terminal,
                previous_hook,
            }),
            Err(error) => {
                restore(&mut reopen_writer(on_dev_tty));
                reset_hook(&previous_hook);
                Err(error)
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore(self.terminal.backend_mut());
        reset_hook(&self.previous_hook);
    }
}

fn reset_hook(previous: &Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync + 'static>) {
    let previous = Arc::clone(previous);
    std::panic::set_hook(Box::new(move |info| previous(info)));
}

/// Puts the terminal back as it was; errors are ignored (the terminal may
/// be gone).
fn restore(writer: &mut impl Write) {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        writer,
        event::DisableBracketedPaste,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = writer.flush();
}
