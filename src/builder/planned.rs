//! What reading a package or role produces, and the vocabulary every
//! reading step shares: [`Planned`] (a `.deb` but for its version), where
//! confpack's own files of a package live, and [`Problems`], the list a
//! step adds to instead of stopping at the first thing to fix.
//!
//! It sits below `package`, `secrets` and `checks` so that they all use it
//! without importing each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::deb::{Deb, Entry};
use crate::error::Problem;

use super::manifest::Located;
use super::scripts::Part;

/// Where confpack's own files of a package live on the node.
pub fn share_dir(package: &str) -> String {
    format!("/usr/share/confpack/{package}")
}

/// A package or role, ready but for its version.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub is_role: bool,
    /// The manifest, for messages (`packages/x/control/control.yml`).
    pub manifest: Located,
    pub deb: Deb,
    /// Where each shipped path and each rendered target comes from.
    pub sources: BTreeMap<String, String>,
    /// Targets configure will render (`/etc/x` from `etc/x.j2`).
    pub rendered: BTreeSet<String>,
    /// Script parts, put together once the package is complete.
    pub parts: BTreeMap<String, Part>,
    /// The environment document: (file, how to show it, custom schema).
    pub environment: Option<(PathBuf, String, Option<PathBuf>)>,
    /// Repository-relative paths (or directory prefixes ending in `/`)
    /// whose commits give this package its version.
    pub history: Vec<String>,
    /// `questions:` of control.yml with their lines, checked against the
    /// environment document.
    pub questions: Vec<(String, Option<u64>)>,
    /// Declarations with a "down" (users, directories, services, …).
    pub declared: crate::declared::Declarations,
}

impl Planned {
    /// A package or role with its control fields and nothing else yet.
    pub fn new(name: &str, is_role: bool, manifest: Located, deb: Deb) -> Self {
        Planned {
            name: name.to_string(),
            is_role,
            manifest,
            deb,
            sources: BTreeMap::new(),
            rendered: BTreeSet::new(),
            parts: BTreeMap::new(),
            environment: None,
            history: Vec::new(),
            questions: Vec::new(),
            declared: Default::default(),
        }
    }

    /// Whether configure runs for this package.
    pub fn configured(&self) -> bool {
        self.environment.is_some()
    }

    /// Adds an entry, refusing a second one at the same path.
    pub fn add(&mut self, target: String, entry: Entry, source: String) -> Result<(), Problem> {
        if let Some(other) = self.sources.get(&target) {
            return Err(problem_at(
                source,
                format!("{target} is already provided by {other}"),
            ));
        }
        self.sources.insert(target.clone(), source);
        self.deb.entries.insert(target, entry);
        Ok(())
    }

    /// Creates directory `path` (absolute) unless something is there.
    pub fn add_directory(&mut self, path: String) {
        self.deb.entries.entry(path).or_insert(Entry::Directory);
    }
}

/// A problem with a file as a whole (no line).
pub fn problem_at(file: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        file: file.into(),
        line: None,
        message: message.into(),
    }
}

/// The problems found so far: every step adds to them and goes on, so one
/// build run lists all there is to fix.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    /// A problem with `file` as a whole.
    pub fn at(&mut self, file: impl Into<String>, message: impl Into<String>) {
        self.push(problem_at(file, message));
    }

    /// Keeps the problem of a step that may fail.
    pub fn note(&mut self, result: Result<(), Problem>) {
        if let Err(problem) = result {
            self.push(problem);
        }
    }

    pub fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.0.extend(problems);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value` when nothing was found, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

impl From<Problems> for Vec<Problem> {
    fn from(problems: Problems) -> Self {
        problems.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deb::Control;

    fn planned() -> Planned {
        let manifest = Located {
            file: "packages/p/control/control.yml".into(),
            text: String::new(),
        };
        Planned::new("p", false, manifest, Deb::new(Control::default()))
    }

    #[test]
    fn a_second_entry_at_the_same_path_is_refused_naming_the_first() {
        let mut planned = planned();
        let file = || Entry::File {
            data: Vec::new(),
            mode: 0o644,
        };
        assert!(planned.add("/etc/a".into(), file(), "one".into()).is_ok());
        let problem = planned
            .add("/etc/a".into(), file(), "two".into())
            .expect_err("a second /etc/a");
        assert_eq!(problem.file, "two");
        assert_eq!(problem.message, "/etc/a is already provided by one");
        assert_eq!(planned.sources["/etc/a"], "one");
    }

    #[test]
    fn a_directory_never_replaces_an_entry() {
        let mut planned = planned();
        let link = Entry::Symlink {
            target: "/x".into(),
        };
        planned.deb.entries.insert("/etc/a".into(), link.clone());
        planned.add_directory("/etc/a".into());
        planned.add_directory("/etc/b".into());
        assert_eq!(planned.deb.entries["/etc/a"], link);
        assert_eq!(planned.deb.entries["/etc/b"], Entry::Directory);
    }

    #[test]
    fn problems_finish_as_the_value_only_when_there_are_none() {
        assert_eq!(Problems::default().finish(1), Ok(1));
        let mut problems = Problems::default();
        problems.note(Ok(()));
        problems.note(Err(problem_at("f", "broken")));
        problems.at("g", "also broken");
        let found = problems.finish(1).expect_err("two problems");
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["f: broken", "g: also broken"]
        );
    }
}
