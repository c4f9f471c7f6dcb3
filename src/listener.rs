//! Where the library reports progress and warnings (cargo-deb's
//! `listener.rs`): the [`Listener`] trait and every implementation of it,
//! so a reader finds in one place what a run can print and how.
//!
//! Library code never prints: the binary passes a [`StderrListener`] (or a
//! [`ProgressListener`] with a bar, for builds, uploads and apt), tests a
//! [`RecordingListener`] or a [`SilentListener`].

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where the library reports progress and warnings (never `println!` in
/// library code): the binary prints to stderr, tests record.
pub trait Listener {
    fn info(&mut self, message: &str);
    fn warning(&mut self, message: &str);
    /// A long run's progress, `done` of `total` (a progress bar); ignored
    /// unless a listener shows it.
    fn progress(&mut self, _done: u64, _total: u64) {}
    /// A line another program printed (apt, dpkg), shown as it is: it
    /// carries its own prefix, if any.
    fn passthrough(&mut self, line: &str) {
        self.info(line);
    }
}

/// Prints one line to stderr. A closed stderr (the terminal went away:
/// SIGHUP) is not worth a panic; the exit code still tells.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Prints to stderr; `quiet` keeps only warnings.
#[derive(Debug, Default)]
pub struct StderrListener {
    pub quiet: bool,
}

impl Listener for StderrListener {
    fn info(&mut self, message: &str) {
        if !self.quiet {
            say(format_args!("confpack: {message}"));
        }
    }

    fn warning(&mut self, message: &str) {
        if message.starts_with("warning:") {
            say(format_args!("confpack: {message}"));
        } else {
            say(format_args!("confpack: warning: {message}"));
        }
    }

    fn passthrough(&mut self, line: &str) {
        if !self.quiet {
            say(format_args!("{line}"));
        }
    }
}

/// Keeps messages, for tests.
#[derive(Debug, Default)]
pub struct RecordingListener {
    pub infos: Vec<String>,
    pub warnings: Vec<String>,
}

impl Listener for RecordingListener {
    fn info(&mut self, message: &str) {
        self.infos.push(message.to_string());
    }

    fn warning(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
}

/// Drops every message: for a caller that has nobody to tell (and tests
/// that check only the outcome).
#[derive(Debug, Default, Clone, Copy)]
pub struct SilentListener;

impl Listener for SilentListener {
    fn info(&mut self, _message: &str) {}

    fn warning(&mut self, _message: &str) {}

    fn passthrough(&mut self, _line: &str) {}
}

/// Below this many steps a bar is more noise than help.
const BAR_FROM: u64 = 8;

/// A [`StderrListener`] with an indicatif progress bar while many steps
/// run (packages built, files uploaded, apt's work), messages printed
/// above it. Hidden with `--quiet` and when stderr is not a terminal (logs
/// and CI stay clean).
pub struct ProgressListener {
    inner: StderrListener,
    bar: Option<ProgressBar>,
    label: &'static str,
}

impl ProgressListener {
    /// The bar of `confpack build`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_listener_keeps_infos_and_warnings_apart() {
        let mut listener = RecordingListener::default();
        listener.info("one");
        listener.warning("two");
        listener.passthrough("three");
        assert_eq!(listener.infos, ["one", "three"]);
        assert_eq!(listener.warnings, ["two"]);
    }

    #[test]
    fn a_quiet_progress_listener_never_draws_a_bar() {
        let mut listener = ProgressListener::labelled(true, "apt");
        listener.progress(1, 100);
        assert!(listener.bar.is_none());
    }

    #[test]
    fn a_short_run_gets_no_bar() {
        let mut listener = ProgressListener::new(false);
        listener.progress(1, BAR_FROM - 1);
        assert!(listener.bar.is_none());
    }
}
