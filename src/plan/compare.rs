//! What changed between the plan of an earlier revision and now: per
//! target, the answers that differ and unified diffs of the rendered
//! files; unchanged targets are only counted. Without an earlier plan,
//! everything is new and shown whole.

use std::collections::{BTreeMap, BTreeSet};

use super::{Answer, File, Planned, Produced, Target};

/// The plan as the output shows it.
#[derive(Debug, Clone)]
pub struct Report {
    /// The revision compared with (`None`: the full result).
    pub since: Option<String>,
    /// Targets that change (all of them without a revision), in order.
    pub entries: Vec<Entry>,
    /// Targets the earlier revision had and this one has not.
    pub removed: Vec<Target>,
    /// Every error: the target and `file:line: message`.
    pub errors: Vec<(Target, String)>,
    pub summary: Summary,
}

/// One target that changes.
#[derive(Debug, Clone)]
pub struct Entry {
    pub target: Target,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub enum Change {
    /// No earlier plan: everything it produces.
    Full(Produced),
    /// Against the earlier plan.
    Changed {
        answers: Vec<AnswerChange>,
        files: Vec<FileChange>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerChange {
    pub key: String,
    pub before: Option<Answer>,
    pub after: Option<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// (before, after) when the mode changes.
    pub mode: Option<(Option<u32>, Option<u32>)>,
    /// Unified diff (empty when only the mode changes).
    pub diff: String,
}

/// The counts of the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Machines (`context/machine`, the no-machine cases included).
    pub machines: usize,
    /// Machines with a change (all without an earlier revision).
    pub changed: usize,
    /// Machines with neither a change nor an error.
    pub unchanged: usize,
    pub files_changed: usize,
    pub errors: usize,
}

/// Compares `now` with `before` (the revision's name and its plan).
pub fn compare(now: Vec<Planned>, before: Option<(String, Vec<Planned>)>) -> Report {
    let (since, before) = match before {
        Some((since, before)) => (Some(since), Some(before)),
        None => (None, None),
    };
    let mut earlier: BTreeMap<Target, Produced> = BTreeMap::new();
    let mut earlier_targets: BTreeSet<Target> = BTreeSet::new();
    for planned in before.into_iter().flatten() {
        earlier_targets.insert(planned.target.clone());
        if let Ok(produced) = planned.result {
            earlier.insert(planned.target, produced);
        }
    }
    let mut report = Report {
        since,
        entries: Vec::new(),
        removed: Vec::new(),
        errors: Vec::new(),
        summary: Summary::default(),
    };
    let mut machines = BTreeSet::new();
    let mut changed = BTreeSet::new();
    let mut failed = BTreeSet::new();
    for planned in now {
        machines.insert(planned.target.machine_name());
        earlier_targets.remove(&planned.target);
        let produced = match planned.result {
            Ok(produced) => produced,
            Err(lines) => {
                failed.insert(planned.target.machine_name());
                report.summary.errors += lines.len();
                let target = &planned.target;
                report
                    .errors
                    .extend(lines.into_iter().map(|l| (target.clone(), l)));
                continue;
            }
        };
        let change = match &report.since {
            None => {
                report.summary.files_changed += produced.files.len();
                Change::Full(produced)
            }
            Some(_) => {
                let empty = Produced::default();
                let old = earlier.get(&planned.target).unwrap_or(&empty);
                let answers = answer_changes(old, &produced);
                let files = file_changes(old, &produced);
                if answers.is_empty() && files.is_empty() {
                    continue;
                }
                report.summary.files_changed += files.len();
                Change::Changed { answers, files }
            }
        };
        changed.insert(planned.target.machine_name());
        report.entries.push(Entry {
            target: planned.target,
            change,
        });
    }
    report.removed = earlier_targets.into_iter().collect();
    report.summary.machines = machines.len();
    report.summary.changed = changed.len();
    report.summary.unchanged = machines
        .iter()
        .filter(|m| !changed.contains(*m) && !failed.contains(*m))
        .count();
    report
}

fn answer_changes(before: &Produced, after: &Produced) -> Vec<AnswerChange> {
    let keys: BTreeSet<&String> = before.answers.keys().chain(after.answers.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (old, new) = (before.answers.get(key), after.answers.get(key));
            (old != new).then(|| AnswerChange {
                key: key.clone(),
                before: old.cloned(),
                after: new.cloned(),
            })
        })
        .collect()
}

fn file_changes(before: &Produced, after: &Produced) -> Vec<FileChange> {
    let paths: BTreeSet<&String> = before.files.keys().chain(after.files.keys()).collect();
    paths
        .into_iter()
        .filter_map(|path| {
            let (old, new) = (before.files.get(path), after.files.get(path));
            (old != new).then(|| file_change(path, old, new))
        })
        .collect()
}

fn file_change(path: &str, old: Option<&File>, new: Option<&File>) -> FileChange {
    fn text(file: Option<&File>) -> &str {
        file.map(|f| f.content.as_str()).unwrap_or_default()
    }
    let mode = |f: Option<&File>| f.and_then(|f| f.mode);
    let diff = match text(old) == text(new) && old.is_some() == new.is_some() {
        true => String::new(),
        false => similar::TextDiff::from_lines(text(old), text(new))
            .unified_diff()
            .context_radius(3)
            .header(
                &named("a", old.is_some(), path),
                &named("b", new.is_some(), path),
            )
            .to_string(),
    };
    FileChange {
        path: path.to_string(),
        mode: (mode(old) != mode(new)).then(|| (mode(old), mode(new))),
        diff,
    }
}

/// `a/etc/x` (`/dev/null` when there is no such file).
fn named(side: &str, exists: bool, path: &str) -> String {
    match exists {
        true => format!("{side}/{}", path.trim_start_matches('/')),
        false => "/dev/null".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::model::Source;

    fn target(machine: &str) -> Target {
        Target {
            environment: "prod".into(),
            machine: Some(machine.into()),
            package: "app".into(),
        }
    }

    fn produced(level: &str) -> Produced {
        let answer = Answer {
            value: Some(level.into()),
            source: Source::Configured,
            secret: false,
        };
        let file = File {
            content: format!("name = shop\nlevel = {level}\n"),
            mode: Some(0o644),
        };
        Produced {
            answers: [("x/level".to_string(), answer)].into(),
            files: [("/etc/app.conf".to_string(), file)].into(),
        }
    }

    fn planned(machine: &str, result: std::result::Result<Produced, Vec<String>>) -> Planned {
        Planned {
            target: target(machine),
            result,
        }
    }

    #[test]
    fn unchanged_machines_are_counted_and_a_change_shows_its_answer_and_diff() {
        let before = vec![
            planned("a", Ok(produced("info"))),
            planned("b", Ok(produced("info"))),
        ];
        let now = vec![
            planned("a", Ok(produced("info"))),
            planned("b", Ok(produced("debug"))),
        ];
        let report = compare(now, Some(("HEAD~1".into(), before)));
        assert_eq!(
            report.summary,
            Summary {
                machines: 2,
                changed: 1,
                unchanged: 1,
                files_changed: 1,
                errors: 0
            }
        );
        let [entry] = report.entries.as_slice() else {
            panic!("{report:?}")
        };
        assert_eq!(entry.target, target("b"));
        let Change::Changed { answers, files } = &entry.change else {
            panic!("{entry:?}")
        };
        assert_eq!(answers[0].key, "x/level");
        assert_eq!(files[0].mode, None);
        assert!(
            files[0]
                .diff
                .contains("--- a/etc/app.conf\n+++ b/etc/app.conf\n"),
            "{}",
            files[0].diff
        );
        assert!(files[0].diff.contains("-level = info\n+level = debug\n"));
    }

    #[test]
    fn errors_are_listed_apart_and_a_machine_gone_is_named() {
        let before = vec![planned("gone", Ok(produced("info")))];
        let now = vec![
            planned("a", Err(vec!["t.j2:3: undefined".into()])),
            planned("b", Ok(produced("info"))),
        ];
        let report = compare(now, Some(("HEAD~1".into(), before)));
        assert_eq!(report.errors, [(target("a"), "t.j2:3: undefined".into())]);
        assert_eq!(report.removed, [target("gone")]);
        // b is new: everything it produces is a change.
        assert_eq!(report.summary.changed, 1);
        assert_eq!(report.summary.unchanged, 0);
        assert_eq!(report.summary.errors, 1);
        let text = super::super::report::text(&report);
        assert!(text.contains("prod/a: app: t.j2:3: undefined\n"), "{text}");
        assert!(text.ends_with("1 changed, 0 unchanged, 1 file(s) changed, 1 error(s)\n"));
    }

    #[test]
    fn without_an_earlier_revision_everything_is_shown_whole() {
        let report = compare(vec![planned("a", Ok(produced("info")))], None);
        assert!(matches!(report.entries[0].change, Change::Full(_)));
        let text = super::super::report::text(&report);
        assert!(
            text.contains("  x/level = \"info\" (configured)\n"),
            "{text}"
        );
        assert!(
            text.contains("  /etc/app.conf (0644):\n    | name = shop\n    | level = info\n"),
            "{text}"
        );
        assert!(text.contains("(no earlier revision: the full result)"));
    }
}
