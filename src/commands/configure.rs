//! `confpack configure` and `reconfigure`: run the configurator with a
//! frontend, then print the plan (`--dry-run`) or a one-line summary.
//! Also the configure `upgrade` runs for each package it changed.

use std::io::Write;

use super::stdout_error;
use crate::Listener;
use crate::configure::Report;
use crate::error::{Error, Result};
use crate::frontend::{self, Frontend};
use crate::output::MASK;
use crate::settings::{ConfigureSettings, Env, GlobalSettings};

/// Runs configure; a cancel or unanswered questions are also told to the
/// `confpack install`/`upgrade` that started this one, if any.
pub fn configure(
    settings: &ConfigureSettings,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    run(settings, listener, out)
        .map_err(name_what_ended)
        .inspect_err(tell_the_run)
}

fn run(
    settings: &ConfigureSettings,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let mut frontend = frontend::choose(&settings.frontend, listener);
    let report = crate::configure::configure(&settings.options, frontend.as_mut(), listener)?;
    if settings.options.dry_run {
        print_plan(&report, out)
    } else if report.unchanged {
        Ok(())
    } else {
        listener.info(&summary(&report, frontend.as_ref()));
        Ok(())
    }
}

/// `--dry-run`'s output: every key, what happens to it, its value (a
/// secret masked, a long value cut).
fn print_plan(report: &Report, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "plan for {}:", report.selection).map_err(stdout_error)?;
    let width = report.plan.iter().map(|l| l.key.len()).max().unwrap_or(0);
    for line in &report.plan {
        let value = match (&line.value, line.secret) {
            (Some(_), true) => MASK.to_string(),
            (Some(value), false) if value.chars().count() > 120 => {
                let head: String = value.chars().take(100).collect();
                format!("{head:?}… ({} characters)", value.chars().count())
            }
            (Some(value), false) => format!("{value:?}"),
            (None, _) => "-".to_string(),
        };
        writeln!(out, "  {:width$}  {}  {}", line.key, line.action, value).map_err(stdout_error)?;
    }
    Ok(())
}

/// What a run that changed something did, in one line.
fn summary(report: &Report, frontend: &dyn Frontend) -> String {
    let asked = if frontend.is_interactive() || report.asked.is_empty() {
        format!("{} question(s) asked", report.asked.len())
    } else {
        // Named, so a person knows what to `confpack set` instead.
        const NAMED: usize = 5;
        let mut keys = report.asked[..report.asked.len().min(NAMED)].join(", ");
        if report.asked.len() > NAMED {
            keys.push_str(&format!(", … {} more", report.asked.len() - NAMED));
        }
        format!(
            "{} question(s) took their defaults (noninteractive: {keys})",
            report.asked.len()
        )
    };
    format!(
        "{asked}, {} answer(s) changed, {} file(s) written, {} removed, {} hook(s) run",
        report.changed.len(),
        report.files_written.len(),
        report.files_removed.len(),
        report.hooks_run.len()
    )
}

/// A cancel that no person chose (SIGTERM, SIGHUP, the starting confpack
/// gone) says what ended it.
fn name_what_ended(error: Error) -> Error {
    use crate::frontend::signals::{Caught, ended_by};
    match (&error, ended_by()) {
        (Error::Cancelled, Some(caught)) => Error::Ended {
            by: match caught {
                Caught::Terminate => "SIGTERM",
                Caught::HangUp => "SIGHUP (the terminal went away)",
                Caught::Abandoned => "the end of the confpack install/upgrade that started it",
                Caught::Interrupt => "SIGINT",
            }
            .to_string(),
        },
        _ => error,
    }
}

/// Under `confpack install`/`upgrade`: a person who quits a question
/// quits the whole run, not only this package; questions nobody could
/// answer are named by the starting confpack too (exit 3).
fn tell_the_run(error: &Error) {
    match error {
        Error::Cancelled | Error::CancelledAtEditedFile { .. } => crate::run::end(),
        Error::Unanswered { keys } => crate::run::report_unanswered(keys),
        _ => {}
    }
}

/// Runs `configure --package PKG` with the defaults of the command line
/// (built directly, see [`ConfigureSettings::for_package`]); a change of
/// the database generation tells that something changed.
pub struct Reconfigurer<'a> {
    pub global: &'a GlobalSettings,
    pub env: &'a Env,
}

impl crate::runtime::Reconfigure for Reconfigurer<'_> {
    fn reconfigure(&mut self, package: &str, listener: &mut dyn Listener) -> Result<bool> {
        let settings = ConfigureSettings::for_package(package, self.global, self.env)?;
        let db = &self.global.paths.db;
        let before = crate::store::generation(db);
        run(&settings, listener, &mut std::io::sink())?;
        Ok(crate::store::generation(db) != before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::noninteractive::Noninteractive;

    fn report() -> Report {
        Report {
            asked: vec!["a/b".to_string(), "a/c".to_string()],
            changed: vec!["a/b".to_string()],
            hooks_run: vec!["restart".to_string()],
            ..Report::default()
        }
    }

    #[test]
    fn the_summary_says_when_nobody_was_asked() {
        assert_eq!(
            summary(&report(), &Noninteractive),
            "2 question(s) took their defaults (noninteractive: a/b, a/c), 1 answer(s) changed, \
             0 file(s) written, 0 removed, 1 hook(s) run"
        );
        let text = crate::frontend::text::Text::on_stdio();
        assert!(summary(&report(), &text).starts_with("2 question(s) asked, "));
        let many = Report {
            asked: (1..=7).map(|n| format!("a/{n}")).collect(),
            ..Report::default()
        };
        assert!(
            summary(&many, &Noninteractive).starts_with(
                "7 question(s) took their defaults (noninteractive: a/1, a/2, a/3, a/4, a/5, … 2 more), "
            ),
            "{}",
            summary(&many, &Noninteractive)
        );
        assert!(summary(&Report::default(), &Noninteractive).starts_with("0 question(s) asked, "));
    }
}
