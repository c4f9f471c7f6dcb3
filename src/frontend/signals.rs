//! Catching SIGINT, SIGTERM and SIGHUP while a person is being asked.
//!
//! Killed in the middle of a TUI, a process leaves the terminal in raw mode
//! on the alternate screen (the user has to type `reset` blind); killed
//! while a password prompt has echo off, it leaves echo off. So while a
//! frontend runs these signals only raise a flag that the event loop reads
//! and answers by restoring the terminal and cancelling (nothing is saved
//! before the frontend returns). Afterwards they act as before: the
//! handlers are registered once per process and fall back to the default
//! action (terminate) when no frontend is running.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

struct Flags {
    /// A signal arrived while a frontend ran.
    raised: Arc<AtomicBool>,
    /// No frontend runs: signals terminate as usual.
    default_action: Arc<AtomicBool>,
}

static FLAGS: OnceLock<Option<Flags>> = OnceLock::new();

fn flags() -> Option<&'static Flags> {
    FLAGS
        .get_or_init(|| {
            let flags = Flags {
                raised: Arc::new(AtomicBool::new(false)),
                default_action: Arc::new(AtomicBool::new(true)),
            };
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                // The flag first, then the conditional default: while a
                // frontend runs only the flag is raised.
                signal_hook::flag::register(signal, Arc::clone(&flags.raised)).ok()?;
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

/// While alive, the three signals raise [`Catching::raised`] instead of
/// terminating.
#[derive(Debug)]
pub struct Catching {
    active: bool,
}

impl Catching {
    pub fn start() -> Catching {
        match flags() {
            Some(flags) => {
                flags.raised.store(false, Ordering::SeqCst);
                flags.default_action.store(false, Ordering::SeqCst);
                Catching { active: true }
            }
            None => Catching { active: false },
        }
    }

    /// Whether a signal arrived since the last call (and clears it).
    pub fn raised(&self) -> bool {
        self.active && flags().is_some_and(|f| f.raised.swap(false, Ordering::SeqCst))
    }
}

impl Drop for Catching {
    fn drop(&mut self) {
        if self.active
            && let Some(flags) = flags()
        {
            flags.default_action.store(true, Ordering::SeqCst);
        }
    }
}
