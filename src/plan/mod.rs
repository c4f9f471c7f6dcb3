//! `confpack plan`: what `configure` would produce on every machine of a
//! configuration repository, computed offline, before anything is
//! published; against an earlier revision, what would change.
//!
//! One stage per module: [`enumerate`] (the repository's packages staged
//! as a node installs them, their documents, every environment × machine
//! and each environment's "no machine matched" case), [`compute`] (one
//! machine: the merge, derive and render functions configure runs, in
//! memory, noninteractive, secrets masked), [`since`] (the repository at
//! an earlier revision), [`compare`] (what changed) and [`report`] (text
//! and JSON). This module only runs them in order.

pub mod compare;
pub mod compute;
pub mod enumerate;
pub mod report;
pub mod since;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::Listener;
use crate::env::model::Source;
use crate::error::{Error, Result};
use crate::store::StoredAnswer;

pub use compare::Report;

/// Everything `plan` can be told.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configuration repository (its work tree as it is).
    pub repo: PathBuf,
    /// Only these environments (contexts); all when empty.
    pub environments: Vec<String>,
    /// Only these machines (IP or host name); all, and each environment's
    /// no-machine case, when empty.
    pub machines: Vec<String>,
    pub since: Since,
    /// A node's answers (`confpack answers --format json`), as if stored.
    pub answers: Option<PathBuf>,
    pub jobs: usize,
    pub max_value_bytes: usize,
    pub max_render_bytes: usize,
}

/// What the plan is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// The previous commit (HEAD when the work tree has changes); no
    /// comparison outside git or before a second commit.
    Previous,
    /// A git revision of the repository.
    Revision(String),
    /// No comparison: the full result.
    Nothing,
}

/// Where one result belongs: a package on a machine of an environment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub environment: String,
    /// The machine's host name (its IP without one); `None`: the
    /// environment's "no machine matched" case.
    pub machine: Option<String>,
    pub package: String,
}

impl Target {
    /// `context/machine`.
    pub fn machine_name(&self) -> String {
        format!(
            "{}/{}",
            self.environment,
            self.machine.as_deref().unwrap_or(NO_MACHINE)
        )
    }

    /// `context/machine: package`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.machine_name(), self.package)
    }
}

/// How the "no machine matched" case is named in the output.
pub const NO_MACHINE: &str = "(no machine)";

/// An answer as configure would store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Masked (`<secret KEY>`) for a secret.
    pub value: Option<String>,
    pub source: Source,
    pub secret: bool,
}

/// A rendered file (or a declaration's rendered text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub content: String,
    /// `None` for a declaration's text (a block, a firewall table).
    pub mode: Option<u32>,
}

/// What configure would produce for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produced {
    pub answers: BTreeMap<String, Answer>,
    /// By system path (`/etc/webshop/app.conf`), or by what a declaration
    /// renders (`/etc/hosts block cluster`).
    pub files: BTreeMap<String, File>,
}

/// One target's result: what it produces, or every error, each
/// `file:line: message`.
#[derive(Debug, Clone)]
pub struct Planned {
    pub target: Target,
    pub result: std::result::Result<Produced, Vec<String>>,
}

/// The placeholder a secret renders as: its value is never read.
pub fn secret_placeholder(key: &str) -> String {
    format!("<secret {key}>")
}

/// Plans the repository, and the earlier revision to compare with.
pub fn plan(options: &Options, listener: &mut dyn Listener) -> Result<Report> {
    let stored = stored_answers(options)?;
    let baseline = since::baseline(&options.repo, &options.since)?;
    let now = plan_tree(
        &options.repo,
        options,
        &stored,
        Reuse::Record(baseline.is_some()),
    )?;
    let before = match &baseline {
        Some(tree) => match plan_tree(&tree.dir, options, &stored, Reuse::From(&now)) {
            Ok(before) => Some((tree.revision.clone(), before.planned)),
            Err(error) => {
                listener.warning(&format!(
                    "{} cannot be planned, so everything is shown as new: {error:#}",
                    tree.revision
                ));
                Some((tree.revision.clone(), Vec::new()))
            }
        },
        None => None,
    };
    Ok(compare::compare(now.planned, before))
}

/// A revision planned.
struct Tree {
    planned: Vec<Planned>,
    /// What each package's results on each environment depend on, by
    /// (package, context).
    inputs: BTreeMap<(String, String), String>,
}

impl Tree {
    /// Records the inputs of the group's packages, and takes the results
    /// of those whose inputs are the same in `same`; returns them.
    fn record(
        &mut self,
        staged: &enumerate::Staged,
        group: &enumerate::Group,
        package_inputs: &[String],
        same: Option<&Tree>,
    ) -> BTreeSet<usize> {
        let environment = &staged.documents[group.document].environments[group.environment];
        let mut reused = BTreeSet::new();
        for unit in &group.units {
            let package = &staged.packages[unit.package];
            let key = (package.package.name.clone(), environment.context.clone());
            if self.inputs.contains_key(&key) {
                continue;
            }
            let inputs = enumerate::inputs(&package_inputs[unit.package], environment);
            if let Some(same) = same
                && same.inputs.get(&key) == Some(&inputs)
            {
                let theirs = same
                    .planned
                    .iter()
                    .filter(|p| p.target.package == key.0 && p.target.environment == key.1);
                self.planned.extend(theirs.cloned());
                reused.insert(unit.package);
            }
            self.inputs.insert(key, inputs);
        }
        reused
    }
}

/// Whether a revision's inputs are recorded (another revision will be
/// planned), or the results of the other revision reused.
#[derive(Clone, Copy)]
enum Reuse<'a> {
    Record(bool),
    From(&'a Tree),
}

/// Every target of the repository at `repo`, planned on `options.jobs`
/// threads. A package whose inputs on an environment are those it had
/// in the other revision ([`Reuse::From`]) is not planned again: its
/// results are the same.
fn plan_tree(
    repo: &std::path::Path,
    options: &Options,
    stored: &BTreeMap<String, StoredAnswer>,
    reuse: Reuse<'_>,
) -> Result<Tree> {
    let (record, same) = match reuse {
        Reuse::Record(record) => (record, None),
        Reuse::From(tree) => (true, Some(tree)),
    };
    let staged = enumerate::stage(repo, options.jobs)?;
    let groups = enumerate::groups(&staged, &options.environments, &options.machines)?;
    let limits = compute::Limits {
        max_value_bytes: options.max_value_bytes,
        max_render_bytes: options.max_render_bytes,
    };
    let mut tree = Tree {
        planned: Vec::new(),
        inputs: BTreeMap::new(),
    };
    let package_inputs = match record {
        true => staged
            .packages
            .iter()
            .map(|p| enumerate::package_inputs(&staged, p))
            .collect::<Result<Vec<_>>>()?,
        false => Vec::new(),
    };
    for group in groups {
        let document = &staged.documents[group.document];
        let environment = &document.environments[group.environment];
        let reused = match record {
            true => tree.record(&staged, &group, &package_inputs, same),
            false => BTreeSet::new(),
        };
        let units: Vec<_> = group
            .units
            .iter()
            .filter(|u| !reused.contains(&u.package))
            .copied()
            .collect();
        if units.is_empty() {
            continue;
        }
        let scope = enumerate::StagedEnvironment::of(document, environment);
        let work =
            |unit: &enumerate::Unit| compute::planned(&staged, (&scope, unit), stored, limits);
        tree.planned.extend(crate::builder::parallel(
            &units,
            options.jobs.max(1),
            work,
            |_| {},
        ));
    }
    Ok(tree)
}

/// The answers of `--answers FILE` (an `answers --format json` export),
/// secrets masked.
fn stored_answers(options: &Options) -> Result<BTreeMap<String, StoredAnswer>> {
    let Some(path) = &options.answers else {
        return Ok(BTreeMap::new());
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut answers: BTreeMap<String, StoredAnswer> = serde_json::from_str(&text).map_err(|e| {
        Error::at(
            path.display().to_string(),
            Some(e.line() as u64),
            format!("not an `answers --format json` export: {e}"),
        )
    })?;
    for (key, answer) in answers.iter_mut() {
        if answer.secret && answer.value.is_some() {
            answer.value = Some(secret_placeholder(key));
        }
    }
    Ok(answers)
}
