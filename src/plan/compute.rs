//! One package on one machine: the functions `configure` runs, in the
//! same order, in memory and noninteractive. The selection, the plan
//! ([`crate::merge::plan`]), the answers a noninteractive node would give
//! ([`crate::frontend::noninteractive`]), the derived values, the records
//! the run would store ([`crate::merge::outcome`]) and the rendered
//! templates ([`crate::render::render_package`]) and declarations.
//!
//! Secrets are never read: a secret question's value from the document
//! (encrypted for its machine) and a secret nobody could give here (a
//! password the node's person types) become `<secret KEY>`, so a
//! template reading one renders that placeholder. A question a node
//! could not answer noninteractively is an error, as it would be there.

use std::collections::{BTreeMap, BTreeSet};

use super::enumerate::{Staged, StagedEnvironment, StagedPackage, Unit};
use super::{Answer, File, Planned, Produced, Target, secret_placeholder};
use crate::declared::Intended;
use crate::derive::values::{self, Bindings};
use crate::env::model::{Document, Priority};
use crate::error::{Error, Result};
use crate::frontend::{Context, Frontend, Prompt};
use crate::merge::outcome::{self, Answered};
use crate::merge::plan::{self, Inputs};
use crate::merge::{Decisions, Settings};
use crate::select::Selection;
use crate::store::StoredAnswer;

/// The size limits configure would apply.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_value_bytes: usize,
    pub max_render_bytes: usize,
}

/// Plans `unit`: what it produces or its errors, each naming the file.
pub fn planned(
    staged: &Staged,
    (environment_scope, unit): (&StagedEnvironment, &Unit),
    stored: &BTreeMap<String, StoredAnswer>,
    limits: Limits,
) -> Planned {
    let package = &staged.packages[unit.package];
    let document = &staged.documents[package.document];
    let environment = &document.environments[unit.environment];
    let machine = unit.machine.map(|m| &environment.machines[m]);
    let target = Target {
        environment: environment.context.clone(),
        machine: machine.map(|m| m.hostname.clone().unwrap_or_else(|| m.ip_text.clone())),
        package: package.package.name.clone(),
    };
    let result = compute(staged, (environment_scope, unit), stored, limits)
        .map_err(|error| failures(&error, package));
    Planned { target, result }
}

/// What configure would store and render for `unit`.
fn compute(
    staged: &Staged,
    (environment, unit): (&StagedEnvironment, &Unit),
    stored: &BTreeMap<String, StoredAnswer>,
    limits: Limits,
) -> Result<Produced> {
    let package = &staged.packages[unit.package];
    let document = &staged.documents[package.document];
    let machine = unit
        .machine
        .map(|m| &document.environments[unit.environment].machines[m]);
    let selection = Selection {
        environment: environment.values.clone(),
        machine: machine.cloned(),
    };
    let configured = masked(document, selection.configured_values(document));
    values::check_sizes(&configured, limits.max_value_bytes)?;
    let scope = Bindings {
        environment: environment.scope.environment.clone(),
        machine: match unit.machine {
            Some(m) => environment.scope.machines[m].clone(),
            None => crate::derive::no_machine(),
        },
        max_value_bytes: limits.max_value_bytes,
    };
    let remembered = BTreeMap::new();
    let decisions = Decisions::default();
    let inputs = Inputs {
        document,
        owned: &package.owned,
        configured: &configured,
        stored,
        remembered: &remembered,
        settings: Settings {
            force: false,
            priority: Priority::High,
        },
        decisions: &decisions,
        scope: &scope,
    };
    let mut plan = plan::plan(&inputs)?;
    let answers = answer(&plan, document, &selection, package, limits)?;
    let derived = plan::settle_derived(&mut plan, &inputs, &answers)?;
    let meanwhile = BTreeSet::new();
    let answered =
        Answered::of(&inputs, &derived, (&answers, &meanwhile)).by(Some(&package.package.name), "");
    let records = outcome::outcome(&plan, &answered)?;
    let after = records.batch.answers_after(stored.clone());
    let known = values::known_answers(&after);
    let mut files = rendered(staged, package, &known, &scope, limits)?;
    let mut declarations = BTreeMap::new();
    for intended in declared(package, &known, &scope, limits)? {
        match intended {
            Intended::Text {
                name,
                content,
                mode,
            } => {
                files.insert(name, File { content, mode });
            }
            Intended::State { id, state } => {
                declarations.insert(id.to_string(), state);
            }
        }
    }
    let answers = plan
        .planned
        .iter()
        .filter_map(|p| Some((p.key.clone(), shown(&p.key, after.get(&p.key)?))))
        .collect();
    Ok(Produced {
        answers,
        files,
        declarations,
    })
}

/// The document's values with every secret question's replaced by its
/// placeholder (an encrypted value is never decrypted).
fn masked(document: &Document, mut values: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for (key, value) in values.iter_mut() {
        if document
            .template(key)
            .is_some_and(|t| t.question_type.is_secret())
        {
            *value = secret_placeholder(key);
        }
    }
    values
}

/// What a noninteractive node answers: defaults, and the placeholder for
/// a secret without one; any other question without a value is an error
/// (configure's noninteractive frontend decides).
fn answer(
    plan: &plan::Plan,
    document: &Document,
    selection: &Selection,
    package: &StagedPackage,
    limits: Limits,
) -> Result<BTreeMap<String, String>> {
    let prompts = crate::ask::prompts(plan, document);
    if prompts.is_empty() {
        return Ok(BTreeMap::new());
    }
    let (secrets, others): (Vec<Prompt>, Vec<Prompt>) = prompts
        .into_iter()
        .partition(|p| p.default.is_none() && (p.secret || p.template.question_type.is_secret()));
    let context = Context {
        package: Some(package.package.name.clone()),
        environment: selection.environment.context.clone(),
        machine: selection.machine.as_ref().map(|m| m.label()),
        back: false,
        title: None,
    };
    let mut answers = crate::frontend::noninteractive::Noninteractive
        .ask(&context, &others)
        .map_err(|error| match error {
            Error::Unanswered { .. } => unanswered(document, &others),
            other => other,
        })?;
    for prompt in secrets {
        let key = prompt.template.key.clone();
        answers.insert(key.clone(), secret_placeholder(&key));
    }
    crate::ask::check_answers(document, plan, &answers, limits.max_value_bytes)?;
    Ok(answers)
}

/// Each question a noninteractive node could not answer, at its line in
/// the document.
fn unanswered(document: &Document, prompts: &[Prompt]) -> Error {
    Error::Invalid(
        prompts
            .iter()
            .filter(|p| !p.template.question_type.is_display_only() && p.default.is_none())
            .map(|p| crate::error::Problem {
                file: document.origin.clone(),
                line: Some(p.template.line),
                message: format!(
                    "{}: no value and no default, and a node cannot ask for it noninteractively",
                    p.template.key
                ),
            })
            .collect(),
    )
}

/// The package's templates rendered, and its encrypted files as
/// placeholders.
fn rendered(
    staged: &Staged,
    package: &StagedPackage,
    known: &BTreeMap<String, crate::derive::KnownAnswer>,
    scope: &Bindings,
    limits: Limits,
) -> Result<BTreeMap<String, File>> {
    let rendered = crate::render::render_package(
        &staged.root,
        &package.package,
        known,
        scope,
        limits.max_render_bytes,
    )?;
    let mut files: BTreeMap<String, File> = rendered
        .into_iter()
        .map(|r| {
            let file = File {
                content: String::from_utf8_lossy(&r.content).into_owned(),
                mode: Some(r.mode),
            };
            (r.file.path.display().to_string(), file)
        })
        .collect();
    for (_, target) in crate::secrets::list_files(&package.package.dir)? {
        let path = target.display().to_string();
        let file = File {
            content: secret_placeholder(&path),
            mode: None,
        };
        files.insert(path, file);
    }
    Ok(files)
}

/// What the package's declarations would make of the node: the texts
/// they write (blocks, firewall tables) rendered with the render
/// function configure gives them, and the others' state.
fn declared(
    package: &StagedPackage,
    known: &BTreeMap<String, crate::derive::KnownAnswer>,
    scope: &Bindings,
    limits: Limits,
) -> Result<Vec<Intended>> {
    let render = |name: &str, source: &str| {
        crate::render::render_text(name, source, known, scope, limits.max_render_bytes)
    };
    let package = &package.package;
    package.config.declared.intended(&package.name, &render)
}

/// An answer as the plan shows it: a secret masked.
fn shown(key: &str, answer: &StoredAnswer) -> Answer {
    Answer {
        value: match answer.secret && answer.value.is_some() {
            true => Some(secret_placeholder(key)),
            false => answer.value.clone(),
        },
        source: answer.source,
        secret: answer.secret,
    }
}

/// An error as lines of `file:line: message`, the staged paths replaced
/// by the repository's.
fn failures(error: &Error, package: &StagedPackage) -> Vec<String> {
    let lines: Vec<String> = match error {
        Error::Template { path, message } => match message.strip_prefix("nothing was written:\n") {
            Some(rest) => rest.lines().map(str::to_string).collect(),
            None => vec![format!("{}: {message}", path.display())],
        },
        Error::Invalid(problems) => problems.iter().map(|p| p.to_string()).collect(),
        other => vec![format!("{other:#}")],
    };
    lines
        .into_iter()
        .map(|line| {
            package
                .sources
                .iter()
                .fold(line, |line, (staged, source)| line.replace(staged, source))
        })
        .collect()
}
