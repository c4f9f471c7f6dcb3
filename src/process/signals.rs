//! Catching SIGINT, SIGTERM and SIGHUP while a person is being asked.
//!
//! Killed in the middle of a TUI, a process leaves the terminal in raw mode
//! on the alternate screen (the user has to type `reset` blind); killed
//! while a password prompt has echo off, it leaves echo off. So while a
//! frontend runs these signals only raise a flag, one per signal, that the
//! event loop reads and answers by restoring the terminal and cancelling
//! (nothing is saved before the frontend returns). Which signal it was
//! matters: SIGTERM and SIGHUP mean nobody is there to answer (a shutdown,
//! a closed window), so they cancel at once; only SIGINT, which Ctrl-C sends
//! in a line prompt, may ask whether to quit. Afterwards they act as
//! before: the handlers are registered once per process and fall back to
//! the default action (terminate) when no [`Catching`] is alive, so a run
//! waiting for a lock, a download or a hook still ends at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// A signal that arrived while a frontend ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caught {
    /// SIGINT: Ctrl-C at a line prompt, or `kill -INT`.
    Interrupt,
    /// SIGTERM: `kill`, a shutdown.
    Terminate,
    /// SIGHUP: the terminal went away.
    HangUp,
    /// Not a signal: the confpack that started this apt run is gone
    /// (killed with SIGKILL), so nobody reads what is asked.
    Abandoned,
}

impl Caught {
    /// Whether a person may be asked about it instead of stopping at once.
    pub fn may_ask(self) -> bool {
        self == Caught::Interrupt
    }

    /// How it is named in a message. SIGINT is also what a maintainer
    /// script's confpack sends when the person quit its question
    /// ([`super::run::end`]).
    pub fn name(self) -> &'static str {
        match self {
            Caught::Interrupt => "Ctrl-C or a quit question (SIGINT)",
            Caught::Terminate => "SIGTERM",
            Caught::HangUp => "SIGHUP (the terminal went away)",
            Caught::Abandoned => "the end of the confpack that started it",
        }
    }
}

struct Flags {
    /// One flag per signal, in the order [`Catching::take`] reports them.
    raised: [(Caught, Arc<AtomicBool>); 3],
    /// No frontend runs: signals terminate as usual.
    default_action: Arc<AtomicBool>,
    /// How many [`Catching`] are alive (a frontend's, and one per read).
    depth: Mutex<usize>,
}

static FLAGS: OnceLock<Option<Flags>> = OnceLock::new();

/// The first signal a frontend answered by cancelling, for the message.
static LAST: OnceLock<Caught> = OnceLock::new();

/// What ended a cancelled frontend, when it was not the person: the
/// message then names it instead of "cancelled by the user".
pub fn ended_by() -> Option<Caught> {
    LAST.get().copied().filter(|caught| !caught.may_ask())
}

fn flags() -> Option<&'static Flags> {
    FLAGS
        .get_or_init(|| {
            let flags = Flags {
                raised: [
                    (Caught::Terminate, Arc::new(AtomicBool::new(false))),
                    (Caught::HangUp, Arc::new(AtomicBool::new(false))),
                    (Caught::Interrupt, Arc::new(AtomicBool::new(false))),
                ],
                default_action: Arc::new(AtomicBool::new(true)),
                depth: Mutex::new(0),
            };
            for (signal, caught) in [
                (SIGINT, Caught::Interrupt),
                (SIGTERM, Caught::Terminate),
                (SIGHUP, Caught::HangUp),
            ] {
                let flag = flags.raised.iter().find(|(c, _)| *c == caught)?;
                // The flag first, then the conditional default: while a
                // frontend runs only the flag is raised.
                signal_hook::flag::register(signal, Arc::clone(&flag.1)).ok()?;
                signal_hook::flag::register_conditional_default(
                    signal,
                    Arc::clone(&flags.default_action),
                )
                .ok()?;
            }
            Some(flags)
        })
        .as_ref()
}

/// While alive, the three signals raise a flag ([`Catching::take`]) instead
/// of terminating. Nests: the signals terminate again once the last one is
/// dropped, and only the first one forgets signals caught earlier.
#[derive(Debug)]
pub struct Catching {
    active: bool,
}

impl Catching {
    pub fn start() -> Catching {
        let Some(flags) = flags() else {
            return Catching { active: false };
        };
        let mut depth = flags.depth.lock().unwrap_or_else(|e| e.into_inner());
        if *depth == 0 {
            for (_, flag) in &flags.raised {
                flag.store(false, Ordering::SeqCst);
            }
            flags.default_action.store(false, Ordering::SeqCst);
        }
        *depth += 1;
        Catching { active: true }
    }

    /// The signal that arrived since the last call, if any (and clears
    /// it). SIGTERM and SIGHUP come before SIGINT: when both arrived, the
    /// one that must not ask wins.
    pub fn take(&self) -> Option<Caught> {
        if !self.active {
            return None;
        }
        let flags = flags()?;
        let caught = flags
            .raised
            .iter()
            .find(|(_, flag)| flag.swap(false, Ordering::SeqCst))
            .map(|(caught, _)| *caught)
            .or_else(|| super::run::abandoned().then_some(Caught::Abandoned));
        if let Some(caught) = caught {
            let _ = LAST.set(caught);
        }
        caught
    }
}

impl Drop for Catching {
    fn drop(&mut self) {
        if self.active
            && let Some(flags) = flags()
        {
            let mut depth = flags.depth.lock().unwrap_or_else(|e| e.into_inner());
            *depth = depth.saturating_sub(1);
            if *depth == 0 {
                flags.default_action.store(true, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raise(signal: i32) {
        signal_hook::low_level::raise(signal).expect("raise");
    }

    // One test: the flags are process-wide, and test threads run at once.
    #[test]
    fn each_signal_is_told_apart_and_terminate_wins_over_interrupt() {
        let outer = Catching::start();
        raise(SIGINT);
        assert_eq!(outer.take(), Some(Caught::Interrupt));
        assert_eq!(outer.take(), None, "taking clears it");
        raise(SIGHUP);
        assert_eq!(outer.take(), Some(Caught::HangUp));
        raise(SIGINT);
        raise(SIGTERM);
        assert_eq!(outer.take(), Some(Caught::Terminate));
        assert_eq!(outer.take(), Some(Caught::Interrupt), "both were kept");
        assert!(!Caught::Terminate.may_ask() && !Caught::HangUp.may_ask());
        assert!(Caught::Interrupt.may_ask());
        // A read's own Catching inside the frontend's sees what arrived
        // between reads instead of forgetting it.
        raise(SIGTERM);
        {
            let inner = Catching::start();
            assert_eq!(inner.take(), Some(Caught::Terminate));
            raise(SIGHUP);
        }
        assert_eq!(
            outer.take(),
            Some(Caught::HangUp),
            "still caught after the inner one ended"
        );
    }
}
