//! The terminal face of `confpack build`: an indicatif progress bar while
//! many packages are written, messages printed above it. Hidden with
//! `--quiet` and when stderr is not a terminal (logs and CI stay clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{Listener, StderrListener};

/// Below this many packages a bar is more noise than help.
const BAR_FROM: u64 = 8;

/// A [`Listener`] with a progress bar.
pub struct ProgressListener {
    inner: StderrListener,
    bar: Option<ProgressBar>,
    label: &'static str,
}

impl ProgressListener {
    pub fn new(quiet: bool) -> ProgressListener {
        ProgressListener::labelled(quiet, "building")
    }

    /// A bar named `label` (`apt`, `uploading`).
    pub fn labelled(quiet: bool, label: &'static str) -> ProgressListener {
        ProgressListener {
            inner: StderrListener { quiet },
            bar: None,
            label,
        }
    }

    fn show(&self) -> bool {
        !self.inner.quiet && std::io::stderr().is_terminal()
    }
}

impl Listener for ProgressListener {
    fn info(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.inner.info(message)),
            None => self.inner.info(message),
        }
    }

    fn warning(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.inner.warning(message)),
            None => self.inner.warning(message),
        }
    }

    fn passthrough(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.inner.passthrough(line)),
            None => self.inner.passthrough(line),
        }
    }

    fn progress(&mut self, done: u64, total: u64) {
        if total < BAR_FROM || !self.show() {
            return;
        }
        let label = self.label;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {elapsed}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label);
            bar
        });
        bar.set_position(done);
        if done >= total {
            bar.finish_and_clear();
            self.bar = None;
        }
    }
}
