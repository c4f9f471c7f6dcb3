//! What changed between the plan of an earlier revision and now: per
//! target, the answers that differ and unified diffs of the rendered
//! files; unchanged targets are only counted. Without an earlier plan,
//! everything is new and shown whole.
//!
//! Targets are compared one at a time as they are planned
//! ([`Comparison::add`]) and what changes goes straight to the output:
//! this revision's results are never all held, and the earlier
//! revision's only until their target is seen.

use std::collections::{BTreeMap, BTreeSet};

use super::{Answer, File, Planned, Produced, Target};
use crate::error::{Error, Result};

/// A result held in memory that cannot be serialized or read back: a
/// bug, said as one.
fn held_error(error: serde_json::Error) -> Error {
    Error::Usage(format!("an earlier result could not be held: {error}"))
}

/// The plan's end: what is printed after the changes.
#[derive(Debug, Clone)]
pub struct Ending {
    /// The revision compared with (`None`: the full result).
    pub since: Option<String>,
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
        declarations: Vec<DeclarationChange>,
    },
}

/// A value that differs between the revisions, by its key (`None`: not
/// there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference<V> {
    pub key: String,
    pub before: Option<V>,
    pub after: Option<V>,
}

/// An answer that changes.
pub type AnswerChange = Difference<Answer>;

/// A declaration whose state changes (by its id: `directory /var/lib/x`).
pub type DeclarationChange = Difference<String>;

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

/// An earlier revision's results, by (package, context) and machine:
/// what this revision's targets are compared with. Held as compact JSON
/// until their target is compared (a result's maps and strings take
/// several times its text), so holding a whole revision costs little
/// beside the document of the one being planned.
#[derive(Debug, Default)]
pub struct Earlier {
    results: BTreeMap<(String, String), BTreeMap<Option<String>, Held>>,
}

/// What a target produced, serialized, or its errors.
type Held = std::result::Result<Box<[u8]>, Vec<String>>;

/// An earlier target's result.
type EarlierResult = std::result::Result<Produced, Vec<String>>;

impl Earlier {
    pub fn add(&mut self, planned: Planned) -> Result<()> {
        let Target {
            environment,
            machine,
            package,
        } = planned.target;
        let held = match planned.result {
            Ok(produced) => Ok(serde_json::to_vec(&produced)
                .map_err(held_error)?
                .into_boxed_slice()),
            Err(lines) => Err(lines),
        };
        self.results
            .entry((package, environment))
            .or_default()
            .insert(machine, held);
        Ok(())
    }

    /// Takes the earlier result of `target` (`None`: it had none).
    fn take(&mut self, target: &Target) -> Result<Option<EarlierResult>> {
        let key = (target.package.clone(), target.environment.clone());
        let Some(group) = self.results.get_mut(&key) else {
            return Ok(None);
        };
        let held = group.remove(&target.machine);
        if group.is_empty() {
            self.results.remove(&key);
        }
        match held {
            None => Ok(None),
            Some(Err(lines)) => Ok(Some(Err(lines))),
            Some(Ok(bytes)) => Ok(Some(
                Ok(serde_json::from_slice(&bytes).map_err(held_error)?),
            )),
        }
    }

    /// Takes every earlier target of `package` on `context`, and the
    /// errors of those that had some.
    fn take_all(&mut self, package: &str, context: &str) -> Vec<(Target, Vec<String>)> {
        let key = (package.to_string(), context.to_string());
        let group = self.results.remove(&key).unwrap_or_default();
        group
            .into_iter()
            .map(|(machine, held)| {
                let target = Target {
                    environment: key.1.clone(),
                    machine,
                    package: key.0.clone(),
                };
                (target, held.err().unwrap_or_default())
            })
            .collect()
    }

    /// What is left: targets this revision no longer has.
    fn into_targets(self) -> Vec<Target> {
        let mut targets: Vec<Target> = self
            .results
            .into_iter()
            .flat_map(|((package, environment), group)| {
                group.into_keys().map(move |machine| Target {
                    environment: environment.clone(),
                    machine,
                    package: package.clone(),
                })
            })
            .collect();
        targets.sort();
        targets
    }
}

/// The comparison as it goes: this revision's targets are added one at a
/// time, in the order they are planned.
#[derive(Debug)]
pub struct Comparison {
    /// The revision's name and what is left of its results.
    earlier: Option<(String, Earlier)>,
    errors: Vec<(Target, String)>,
    summary: Summary,
    /// Every machine (`context/machine`) seen, once however many
    /// packages it has.
    machines: BTreeMap<String, Seen>,
}

/// What a machine had, over its packages.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    changed: bool,
    failed: bool,
}

impl Comparison {
    /// Against `earlier` (the revision's name and results), or the full
    /// result.
    pub fn new(earlier: Option<(String, Earlier)>) -> Comparison {
        Comparison {
            earlier,
            errors: Vec::new(),
            summary: Summary::default(),
            machines: BTreeMap::new(),
        }
    }

    /// Adds one target's result; the change to show, if any.
    pub fn add(&mut self, planned: Planned) -> Result<Option<Entry>> {
        let name = planned.target.machine_name();
        self.machines.entry(name.clone()).or_default();
        let old = match &mut self.earlier {
            Some((_, earlier)) => Some(earlier.take(&planned.target)?),
            None => None,
        };
        let produced = match planned.result {
            Ok(produced) => produced,
            Err(lines) => {
                self.failed(planned.target, lines);
                return Ok(None);
            }
        };
        let change = match old {
            None => {
                self.summary.files_changed += produced.files.len();
                Change::Full(produced)
            }
            Some(old) => {
                let old = old.and_then(|r| r.ok()).unwrap_or_default();
                let answers = differences(&old.answers, &produced.answers);
                let files = file_changes(&old, &produced);
                let declarations = differences(&old.declarations, &produced.declarations);
                if answers.is_empty() && files.is_empty() && declarations.is_empty() {
                    return Ok(None);
                }
                self.summary.files_changed += files.len();
                Change::Changed {
                    answers,
                    files,
                    declarations,
                }
            }
        };
        self.machines.entry(name).or_default().changed = true;
        Ok(Some(Entry {
            target: planned.target,
            change,
        }))
    }

    /// `package` on `context` has the earlier revision's results (its
    /// inputs are the same): nothing changes, its errors are still errors.
    pub fn unchanged(&mut self, package: &str, context: &str) {
        let Some((_, earlier)) = &mut self.earlier else {
            return;
        };
        for (target, errors) in earlier.take_all(package, context) {
            self.machines.entry(target.machine_name()).or_default();
            if !errors.is_empty() {
                self.failed(target, errors);
            }
        }
    }

    fn failed(&mut self, target: Target, lines: Vec<String>) {
        self.machines
            .entry(target.machine_name())
            .or_default()
            .failed = true;
        self.summary.errors += lines.len();
        self.errors
            .extend(lines.into_iter().map(|line| (target.clone(), line)));
    }

    pub fn finish(self) -> Ending {
        let mut summary = self.summary;
        let seen = self.machines.values();
        summary.machines = self.machines.len();
        summary.changed = seen.clone().filter(|m| m.changed).count();
        summary.unchanged = seen.filter(|m| !m.changed && !m.failed).count();
        let (since, removed) = match self.earlier {
            Some((revision, earlier)) => (Some(revision), earlier.into_targets()),
            None => (None, Vec::new()),
        };
        Ending {
            since,
            removed,
            errors: self.errors,
            summary,
        }
    }
}

/// The keys of `before` and `after` whose values differ (`None`: not
/// there), in order.
fn differing<'a, V: PartialEq>(
    before: &'a BTreeMap<String, V>,
    after: &'a BTreeMap<String, V>,
) -> impl Iterator<Item = (&'a String, Option<&'a V>, Option<&'a V>)> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter().filter_map(|key| {
        let (old, new) = (before.get(key), after.get(key));
        (old != new).then_some((key, old, new))
    })
}

fn differences<V: PartialEq + Clone>(
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
) -> Vec<Difference<V>> {
    differing(before, after)
        .map(|(key, old, new)| Difference {
            key: key.clone(),
            before: old.cloned(),
            after: new.cloned(),
        })
        .collect()
}

fn file_changes(before: &Produced, after: &Produced) -> Vec<FileChange> {
    differing(&before.files, &after.files)
        .map(|(path, old, new)| file_change(path, old, new))
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
            declarations: [("directory /var/lib/app".to_string(), "0750 app:app".into())].into(),
        }
    }

    fn planned(machine: &str, result: std::result::Result<Produced, Vec<String>>) -> Planned {
        Planned {
            target: target(machine),
            result,
        }
    }

    /// `now` compared with `before` (the revision's name and its plan):
    /// the changes and the ending.
    fn compare(now: Vec<Planned>, before: Option<(&str, Vec<Planned>)>) -> (Vec<Entry>, Ending) {
        let earlier = before.map(|(revision, planned)| {
            let mut earlier = Earlier::default();
            planned
                .into_iter()
                .try_for_each(|p| earlier.add(p))
                .expect("held");
            (revision.to_string(), earlier)
        });
        let mut comparison = Comparison::new(earlier);
        let entries = now
            .into_iter()
            .filter_map(|p| comparison.add(p).expect("compared"))
            .collect();
        (entries, comparison.finish())
    }

    /// The comparison's text output.
    fn text(entries: &[Entry], ending: &Ending) -> String {
        let mut out = Vec::new();
        let mut printer = super::super::report::Text::new(&mut out);
        use super::super::report::Printer;
        entries
            .iter()
            .try_for_each(|e| printer.entry(e))
            .and_then(|()| printer.finish(ending))
            .expect("printed");
        String::from_utf8(out).expect("UTF-8")
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
        let (entries, ending) = compare(now, Some(("HEAD~1", before)));
        assert_eq!(
            ending.summary,
            Summary {
                machines: 2,
                changed: 1,
                unchanged: 1,
                files_changed: 1,
                errors: 0
            }
        );
        let [entry] = entries.as_slice() else {
            panic!("{entries:?}")
        };
        assert_eq!(entry.target, target("b"));
        let Change::Changed { answers, files, .. } = &entry.change else {
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
        let (entries, ending) = compare(now, Some(("HEAD~1", before)));
        assert_eq!(ending.errors, [(target("a"), "t.j2:3: undefined".into())]);
        assert_eq!(ending.removed, [target("gone")]);
        // b is new: everything it produces is a change.
        assert_eq!(ending.summary.changed, 1);
        assert_eq!(ending.summary.unchanged, 0);
        assert_eq!(ending.summary.errors, 1);
        let text = text(&entries, &ending);
        assert!(text.contains("prod/a: app: t.j2:3: undefined\n"), "{text}");
        assert!(text.ends_with("1 changed, 0 unchanged, 1 file(s) changed, 1 error(s)\n"));
    }

    #[test]
    fn a_package_planned_the_same_as_before_is_unchanged_but_keeps_its_errors() {
        let mut earlier = Earlier::default();
        earlier
            .add(planned("a", Ok(produced("info"))))
            .expect("held");
        earlier
            .add(planned("b", Err(vec!["t.j2:3: undefined".into()])))
            .expect("held");
        let mut comparison = Comparison::new(Some(("HEAD~1".into(), earlier)));
        comparison.unchanged("app", "prod");
        let ending = comparison.finish();
        assert_eq!(ending.errors, [(target("b"), "t.j2:3: undefined".into())]);
        assert!(ending.removed.is_empty());
        assert_eq!((ending.summary.machines, ending.summary.unchanged), (2, 1));
    }

    #[test]
    fn without_an_earlier_revision_everything_is_shown_whole() {
        let (entries, ending) = compare(vec![planned("a", Ok(produced("info")))], None);
        assert!(matches!(entries[0].change, Change::Full(_)));
        let text = text(&entries, &ending);
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
