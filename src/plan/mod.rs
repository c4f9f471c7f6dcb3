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

pub use compare::Summary;
use compare::{Comparison, Earlier};
use report::Printer;

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    /// Masked (`<secret KEY>`) for a secret.
    pub value: Option<String>,
    pub source: Source,
    pub secret: bool,
}

/// A rendered file (or a declaration's rendered text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct File {
    pub content: String,
    /// `None` for a block (a text in a file others own).
    pub mode: Option<u32>,
}

/// What configure would produce for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Produced {
    pub answers: BTreeMap<String, Answer>,
    /// By system path (`/etc/webshop/app.conf`, a firewall table's
    /// `/etc/nftables.d/webshop-app-webshop.nft`), or by the block a
    /// declaration writes (`/etc/hosts block cluster`).
    pub files: BTreeMap<String, File>,
    /// The other declarations' state, by what they declare:
    /// `directory /var/lib/webshop` → `0750 webshop:webshop`.
    pub declarations: BTreeMap<String, String>,
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

/// Plans the earlier revision to compare with, then the repository,
/// comparing each target as it is planned and printing what changes;
/// returns the summary. Only the earlier revision's results are held
/// (until their target is compared), never this revision's, and one
/// revision's document models at a time: both revisions are installed
/// (which reads each document's bytes whole) before either is loaded.
pub fn plan(
    options: &Options,
    listener: &mut dyn Listener,
    printer: &mut dyn Printer,
) -> Result<Summary> {
    let stored = stored_answers(options)?;
    let installed = enumerate::install(&options.repo, options.jobs)?;
    let mut unplanned = None;
    let (fingerprints, mut comparison) = match earlier(options, &stored)? {
        Some(Revision {
            name,
            inputs,
            results,
            error,
        }) => {
            unplanned = error.map(|error| (name.clone(), error));
            (
                Fingerprints::Compare(inputs),
                Comparison::new(Some((name, results))),
            )
        }
        None => (Fingerprints::Skip, Comparison::new(None)),
    };
    plan_tree(installed, options, &stored, &fingerprints, &mut |done| {
        match done {
            Done::Same { package, context } => comparison.unchanged(&package, &context),
            Done::Planned(planned) => {
                if let Some(entry) = comparison.add(planned)? {
                    printer.entry(&entry)?;
                }
            }
        }
        Ok(())
    })?;
    if let Some((revision, error)) = unplanned {
        listener.warning(&format!(
            "{revision} cannot be planned, so everything is shown as new: {error:#}"
        ));
    }
    let ending = comparison.finish();
    printer.finish(&ending)?;
    Ok(ending.summary)
}

/// The earlier revision planned.
struct Revision {
    /// As the output names it: `HEAD~1 (1a2b3c4)`.
    name: String,
    /// What each package's results on each environment depend on.
    inputs: Inputs,
    results: Earlier,
    /// Why it could not be planned (everything is new then), to warn
    /// once this revision is planned: its own error comes first.
    error: Option<Error>,
}

/// What each package's results on each environment depend on, by
/// (package, context): equal inputs, equal results.
type Inputs = BTreeMap<(String, String), String>;

/// The revision to compare with, planned (nothing of it when it cannot
/// be planned).
fn earlier(options: &Options, stored: &BTreeMap<String, StoredAnswer>) -> Result<Option<Revision>> {
    let Some(tree) = since::baseline(&options.repo, &options.since)? else {
        return Ok(None);
    };
    let mut results = Earlier::default();
    let planned = enumerate::install(&tree.dir, options.jobs).and_then(|installed| {
        plan_tree(
            installed,
            options,
            stored,
            &Fingerprints::Record,
            &mut |done| match done {
                Done::Planned(planned) => results.add(planned),
                Done::Same { .. } => Ok(()),
            },
        )
    });
    let (inputs, results, error) = match planned {
        Ok(inputs) => (inputs, results, None),
        Err(error) => (Inputs::new(), Earlier::default(), Some(error)),
    };
    Ok(Some(Revision {
        name: tree.revision,
        inputs,
        results,
        error,
    }))
}

/// Whether a revision's inputs are fingerprinted: to record them (the
/// earlier revision), to compare with the earlier revision's (its
/// packages whose inputs are the same are not planned again), or not
/// at all (the full result pays nothing).
enum Fingerprints {
    Skip,
    Record,
    Compare(Inputs),
}

/// What planning a tree reports, group by group.
enum Done {
    /// One target planned.
    Planned(Planned),
    /// `package`'s inputs on `context` are the earlier revision's: not
    /// planned again, its results are the same.
    Same { package: String, context: String },
}

/// Every target of the repository `installed`, planned on `options.jobs`
/// threads, one environment at a time, each handed to `each` as soon as
/// its environment is done; returns the inputs fingerprinted.
fn plan_tree(
    installed: enumerate::Installed,
    options: &Options,
    stored: &BTreeMap<String, StoredAnswer>,
    fingerprints: &Fingerprints,
    each: &mut dyn FnMut(Done) -> Result<()>,
) -> Result<Inputs> {
    let staged = installed.load()?;
    let groups = enumerate::groups(&staged, &options.environments, &options.machines)?;
    let limits = compute::Limits {
        max_value_bytes: options.max_value_bytes,
        max_render_bytes: options.max_render_bytes,
    };
    let package_inputs = match fingerprints {
        Fingerprints::Skip => Vec::new(),
        Fingerprints::Record | Fingerprints::Compare(_) => staged
            .packages
            .iter()
            .map(|p| enumerate::package_inputs(&staged, p))
            .collect::<Result<Vec<_>>>()?,
    };
    let mut inputs = Inputs::new();
    for group in groups {
        let document = &staged.documents[group.document];
        let environment = &document.environments[group.environment];
        let mut same = BTreeSet::new();
        if !package_inputs.is_empty() {
            for unit in &group.units {
                let name = &staged.packages[unit.package].package.name;
                let key = (name.clone(), environment.context.clone());
                if inputs.contains_key(&key) {
                    continue;
                }
                let these = enumerate::inputs(&package_inputs[unit.package], environment);
                if let Fingerprints::Compare(earlier) = fingerprints
                    && earlier.get(&key) == Some(&these)
                {
                    same.insert(unit.package);
                    each(Done::Same {
                        package: key.0.clone(),
                        context: key.1.clone(),
                    })?;
                }
                inputs.insert(key, these);
            }
        }
        let units: Vec<_> = group
            .units
            .iter()
            .filter(|u| !same.contains(&u.package))
            .copied()
            .collect();
        if units.is_empty() {
            continue;
        }
        let scope = enumerate::StagedEnvironment::of(document, environment);
        let work =
            |unit: &enumerate::Unit| compute::planned(&staged, (&scope, unit), stored, limits);
        let planned = crate::builder::parallel(&units, options.jobs.max(1), work, |_| {});
        for planned in planned {
            each(Done::Planned(planned))?;
        }
    }
    Ok(inputs)
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
