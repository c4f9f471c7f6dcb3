//! `confpack configure`: the whole pipeline, one way through.
//!
//! load (online first, local fallback) → select environment and machine →
//! merge with the stored answers → derive → ask (frontend) → commit all
//! answers as one batch → render templates → run hooks whose inputs
//! changed. Nothing is written before the frontend has returned, so a
//! failure or a cancel leaves the store and the files as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::derive::{self, Answers, KnownAnswer};
use crate::env::load::{DocumentSource, load_unless_known};
use crate::env::model::{Document, Priority, QuestionType, Source, Template};
use crate::error::{Error, Result};
use crate::frontend::{Context, Frontend, Prompt};
use crate::merge::{self, Action, Planned, Settings};
use crate::package::{Package, rooted};
use crate::select::{Selection, Selector};
use crate::store::{Batch, Store, StoredAnswer};
use crate::{Listener, hooks, render, unchanged};

/// Where things live, all under `root`.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub db: PathBuf,
    pub cache: PathBuf,
}

impl Paths {
    pub fn new(root: &Path, db: Option<&Path>) -> Paths {
        Paths {
            root: root.to_path_buf(),
            db: db
                .map(Path::to_path_buf)
                .unwrap_or_else(|| rooted(root, Path::new("/var/lib/confpack/db"))),
            cache: rooted(root, Path::new("/var/cache/confpack/environments")),
        }
    }

    pub fn open_store(&self, lock_timeout: Duration) -> Result<Store> {
        Store::open(&self.db, lock_timeout)
    }

    /// For commands that only read: works on a read-only database too
    /// (see [`Store::open_for_reading`]).
    pub fn open_store_for_reading(&self, lock_timeout: Duration) -> Result<Store> {
        Store::open_for_reading(&self.db, lock_timeout)
    }
}

/// Everything `configure` can be told.
#[derive(Debug, Clone)]
pub struct Options {
    pub paths: Paths,
    pub package: Option<String>,
    pub env_url: Option<String>,
    pub env_file: Option<PathBuf>,
    pub schema: Option<PathBuf>,
    pub machine: Option<String>,
    pub environment: Option<String>,
    pub force: bool,
    pub priority: Priority,
    pub dry_run: bool,
    pub lock_timeout: Duration,
    pub fetch_timeout: Duration,
    pub max_bytes: u64,
    /// Most bytes one value (configured, answered or derived) may have.
    pub max_value_bytes: usize,
    /// Most bytes one rendered file may have.
    pub max_render_bytes: usize,
    /// Rules for derived questions of documents that carry none (DataONE).
    pub derive_rules: BTreeMap<String, String>,
    /// Detect this host's addresses/names (off in tests that pin them).
    pub host_identities: Vec<String>,
    /// `--take-document`/`--keep-mine`: conflicts decided without a terminal.
    pub decisions: merge::Decisions,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// The hot path proved nothing changed; nothing was done.
    pub unchanged: bool,
    pub selection: String,
    pub asked: Vec<String>,
    pub changed: Vec<String>,
    pub files_written: Vec<PathBuf>,
    pub files_removed: Vec<PathBuf>,
    pub hooks_run: Vec<String>,
    /// Service hooks that must wait for a booted system (or for
    /// policy-rc.d); not recorded as done.
    pub hooks_skipped: Vec<String>,
    pub plan: Vec<PlanLine>,
    /// Conflicts kept without anybody deciding (one warning line each).
    pub conflicts: Vec<String>,
}

/// One line of `--dry-run` output.
#[derive(Debug, Clone)]
pub struct PlanLine {
    pub key: String,
    pub action: String,
    pub value: Option<String>,
    pub secret: bool,
}

/// Runs configure.
pub fn configure(
    options: &Options,
    frontend: &mut dyn Frontend,
    listener: &mut dyn Listener,
) -> Result<Report> {
    let paths = &options.paths;
    let package = match &options.package {
        Some(name) => Some(Package::load(&paths.root, name)?),
        None => None,
    };
    let source = document_source(options, package.as_ref())?;

    // The hot path: a current stamp lets the run prove nothing changed
    // without opening the database, and without reading the document
    // beyond hashing it.
    let frontend_name = frontend.name();
    let eligible = !options.force && !options.dry_run && options.decisions.is_empty();
    let key = invocation_key(options, frontend_name);
    let stamp = if eligible {
        unchanged::read(&paths.db, &key).filter(|s| unchanged::files_unchanged(&paths.root, s))
    } else {
        None
    };
    let (mut store, stored_environment) = match &stamp {
        Some(stamp) => (None, stamp.stored_environment.clone()),
        None => {
            let store = paths.open_store(options.lock_timeout)?;
            let environment = store.meta("environment")?;
            (Some(store), environment)
        }
    };
    let known = |document_sha256: &str, schema_sha256: &str| {
        stamp.as_ref().is_some_and(|stamp| {
            fingerprint(
                options,
                frontend_name,
                document_sha256,
                schema_sha256,
                package.as_ref(),
                &stored_environment,
            )
            .is_ok_and(|f| f == stamp.fingerprint)
        })
    };
    let mut loaded = load_document(
        options,
        &source,
        stored_environment.clone(),
        &known,
        listener,
    )?;
    if loaded.known {
        listener.info("nothing changed since the last run");
        return Ok(Report {
            unchanged: true,
            ..Report::default()
        });
    }
    let store = match store.take() {
        Some(store) => store,
        None => {
            let store = paths.open_store(options.lock_timeout)?;
            if store.meta("environment")? != stored_environment {
                // Changed by another run in the meantime: select again.
                loaded = load_document(
                    options,
                    &source,
                    store.meta("environment")?,
                    &|_, _| false,
                    &mut crate::RecordingListener::default(),
                )?;
            }
            store
        }
    };
    // From here on the run may change things: an old stamp must not
    // survive a run that fails half-way.
    unchanged::remove(&paths.db, &key);
    let selector = selector(options, store.meta("environment")?);
    let crate::env::load::Loaded {
        document,
        sha256: document_sha256,
        schema_sha256,
        ..
    } = loaded;
    for warning in &document.warnings {
        listener.warning(warning);
    }
    let missing = crate::env::dataone::missing_rules(&document);
    if !missing.is_empty() {
        return Err(Error::Invalid(
            missing
                .iter()
                .map(|t| crate::error::Problem {
                    file: document.origin.clone(),
                    line: Some(t.line),
                    message: format!(
                        "derived question {} has no rule; pass --derive {}=EXPR or add it to a --derive-file",
                        t.key, t.key
                    ),
                })
                .collect(),
        ));
    }
    let selection = selector.select(&document)?;
    let mut report = Report {
        selection: selection.describe(),
        ..Report::default()
    };
    listener.info(&format!("{}: {}", document.origin, report.selection));

    let stored = store.answers()?;
    let remembered = store.conflicts()?;
    // Encrypted password values (age:…) are decrypted with the node key.
    let configured = crate::secrets::decrypt_configured(
        &document,
        configured_values(&document, &selection),
        &paths.root,
    )?;
    check_sizes(&configured, options.max_value_bytes)?;
    let settings = Settings {
        force: options.force,
        priority: options.priority,
    };
    let (environment_value, machine_value) = derive::environment_values(
        &document,
        &selection.environment,
        selection.machine.as_ref(),
    );

    // The package's own questions (all of them without a package).
    let owned = match &package {
        Some(package) => crate::questions::of_package(package, &document)?,
        None => crate::questions::Owned::all(),
    };
    for key in &owned.unknown {
        listener.warning(&format!(
            "{}: reads or declares {key}, which {} does not have",
            options.package.as_deref().unwrap_or_default(),
            document.origin
        ));
    }

    // Plan the questions with values from the document or the store.
    let mut plan: Vec<Planned> = document
        .templates
        .iter()
        .filter(|t| t.source != Source::Derived && owned.contains(&t.key))
        .map(|t| {
            merge::decide(
                t,
                configured.get(&t.key).map(String::as_str),
                stored.get(&t.key),
                settings,
            )
        })
        .collect();

    // Derived values from what the others will be if nobody answers; one
    // that reads a question without an answer yet is computed after asking
    // (kept as stored until then).
    let provisional = values_after(&document, &plan, &stored, &BTreeMap::new());
    let derived = compute_derived(
        &document,
        &owned,
        &provisional,
        &environment_value,
        &machine_value,
        options.max_value_bytes,
    )?;
    for template in document
        .templates
        .iter()
        .filter(|t| t.source == Source::Derived && owned.contains(&t.key))
    {
        plan.push(if derived.pending.contains_key(&template.key) {
            Planned {
                key: template.key.clone(),
                action: Action::Keep,
                hidden: false,
            }
        } else {
            merge::decide(
                template,
                derived.values.get(&template.key).map(String::as_str),
                stored.get(&template.key),
                settings,
            )
        });
    }
    // Conflicts decided by a flag, or by a person earlier for the same two
    // values; the plan before that is kept to remember what happened.
    let mut conflicts: BTreeMap<String, Planned> = BTreeMap::new();
    for planned in plan.iter_mut() {
        settle_conflict(options, &document, &remembered, planned, &mut conflicts);
    }
    // Secret: a secret question's value, one stored as a secret, or one
    // computed from a secret.
    let secret_keys: BTreeSet<String> = plan
        .iter()
        .map(|p| &p.key)
        .filter(|key| {
            document
                .template(key)
                .is_some_and(|t| t.question_type.is_secret())
                || stored.get(*key).is_some_and(|s| s.secret)
                || derived.secret.contains(*key)
        })
        .cloned()
        .collect();
    let secret = |key: &str| secret_keys.contains(key);
    let order: BTreeMap<&str, usize> = document
        .templates
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    plan.sort_by_key(|p| order.get(p.key.as_str()).copied().unwrap_or(usize::MAX));

    if options.dry_run {
        report.plan = plan_lines(&plan, &stored, &secret, &derived.pending);
        return Ok(report);
    }

    // Ask.
    let prompts: Vec<Prompt> = plan
        .iter()
        .filter(|p| p.shown())
        .filter_map(|p| {
            let mut template = document.template(&p.key)?.clone();
            // A secret string (set with --secret, or computed from a
            // secret) is asked like a password: never shown, typed
            // hidden, empty keeps it.
            if secret(&p.key) && template.question_type == QuestionType::String {
                template.question_type = QuestionType::Password;
            }
            match &p.action {
                Action::Ask { reason, default } => Some(Prompt {
                    template,
                    default: default.clone(),
                    reason: reason.clone(),
                    secret: secret(&p.key),
                }),
                _ => None,
            }
        })
        .collect();
    report.asked = prompts.iter().map(|p| p.template.key.clone()).collect();
    let context = Context {
        package: options.package.clone(),
        environment: selection.environment.context.clone(),
        machine: selection.machine.as_ref().map(|m| m.label()),
    };
    let mut stored = stored;
    let (store, answers, changed_meanwhile) = if prompts.is_empty() {
        (store, BTreeMap::new(), BTreeSet::new())
    } else {
        ask_unlocked(
            options,
            store,
            &mut stored,
            frontend,
            &context,
            &prompts,
            listener,
        )?
    };
    for (key, value) in &answers {
        let template = document.template(key).ok_or_else(|| Error::Question {
            key: key.clone(),
            message: "answered by the frontend but not part of the document".into(),
        })?;
        if !template.question_type.is_display_only() {
            template
                .question_type
                .check(value, &template.choices)
                .map_err(|message| Error::Question {
                    key: key.clone(),
                    message: if secret(key) {
                        "the answer does not fit the question (a secret: not shown)".into()
                    } else {
                        message
                    },
                })?;
        }
    }
    check_sizes(&answers, options.max_value_bytes)?;

    // Derived values again, now from the final answers; a derived question
    // the user answered keeps the answer.
    let final_values = values_after(&document, &plan, &stored, &answers);
    let derived = compute_derived(
        &document,
        &owned,
        &final_values,
        &environment_value,
        &machine_value,
        options.max_value_bytes,
    )?;
    if let Some((key, question)) = derived.pending.iter().next() {
        return Err(Error::Derive(format!(
            "{}: {key} reads answers[{question:?}], which has no answer",
            document.origin
        )));
    }
    for planned in plan.iter_mut() {
        let Some(template) = document.template(&planned.key) else {
            continue;
        };
        if template.source == Source::Derived && !answers.contains_key(&planned.key) {
            let redecided = merge::decide(
                template,
                derived.values.get(&planned.key).map(String::as_str),
                stored.get(&planned.key),
                settings,
            );
            // A conflict that only appears now cannot be asked any more:
            // keep what is stored (never lose an answer).
            if !redecided.shown() || planned.shown() {
                *planned = redecided;
                conflicts.remove(&planned.key);
                settle_conflict(options, &document, &remembered, planned, &mut conflicts);
            }
        }
    }

    // One batch for all answers.
    let mut batch = Batch::new();
    let now = crate::store::utc_now();
    for planned in &plan {
        let Some(template) = document.template(&planned.key) else {
            continue;
        };
        // Another run stored it while the person answered other questions.
        if changed_meanwhile.contains(&planned.key) && !answers.contains_key(&planned.key) {
            continue;
        }
        let document_value = if template.source == Source::Derived {
            derived.values.get(&planned.key)
        } else {
            configured.get(&planned.key)
        };
        let next = merge::resolve(
            template,
            planned,
            document_value.map(String::as_str),
            stored.get(&planned.key),
            answers.get(&planned.key).map(String::as_str),
            options.package.as_deref(),
        );
        let next = if derived.secret.contains(&planned.key) {
            merge::as_secret(next, stored.get(&planned.key))
        } else {
            next
        };
        if let Some(next) = next {
            // Stored (a record only seen now, or with a new owner, is
            // written) but reported only when its value or source changed.
            if merge::is_change(stored.get(&planned.key), &next) {
                report.changed.push(planned.key.clone());
            }
            batch.set_answer(&planned.key, &next)?;
        }
        let key = planned.key.as_str();
        let outcome = match conflicts.get(key) {
            Some(original) => merge::conflict_outcome(
                original,
                answers.get(key).map(String::as_str),
                options.decisions.for_key(key),
                remembered.get(key),
                &now,
            ),
            None => merge::ConflictOutcome {
                record: None,
                warn: false,
            },
        };
        if outcome.record.as_ref() != remembered.get(key) {
            match &outcome.record {
                Some(record) => batch.set_conflict(key, record)?,
                None => batch.remove_conflict(key),
            }
        }
        if outcome.warn
            && let Some(record) = &outcome.record
        {
            let shown = |value: &str| {
                if secret(key) {
                    crate::output::MASK.to_string()
                } else {
                    format!("{value:?}")
                }
            };
            listener.warning(&format!(
                "{key}: kept your value {} although the document says {} (an open conflict; \
                 decide with `confpack configure --take-document {key}` or `--keep-mine {key}`)",
                shown(&record.stored),
                shown(&record.document),
            ));
            report.conflicts.push(key.to_string());
        }
    }
    for key in options
        .decisions
        .take_document
        .iter()
        .chain(&options.decisions.keep_mine)
        .filter(|key| !conflicts.contains_key(*key))
    {
        listener.warning(&format!(
            "{key}: no conflict to decide (the stored value is not a user value that differs \
             from the document's)"
        ));
    }
    let context_label = selection.environment.context.clone();
    if store.meta("environment")?.as_deref() != Some(context_label.as_str()) {
        batch.set_meta("environment", &context_label)?;
    }
    store.commit(batch)?;

    if let Some(package) = &package {
        apply_package(
            options,
            package,
            &store,
            &document,
            &environment_value,
            &machine_value,
            &mut report,
            frontend,
            listener,
        )?;
    }

    // A skipped hook must run at the next configure: no no-op stamp.
    // An open conflict is warned about on every run: no no-op stamp either.
    if eligible && report.hooks_skipped.is_empty() && report.conflicts.is_empty() {
        let stored_environment = store.meta("environment")?;
        let files = match &package {
            Some(package) => store.files(&package.name)?,
            None => Vec::new(),
        };
        let fingerprint = fingerprint(
            options,
            frontend_name,
            &document_sha256,
            &schema_sha256,
            package.as_ref(),
            &stored_environment,
        )?;
        if let Some(generation) = crate::store::generation(&paths.db) {
            let stamp = unchanged::Stamp {
                fingerprint,
                generation,
                stored_environment,
                files: files
                    .iter()
                    .filter_map(|f| unchanged::FileState::of(&paths.root, &f.path))
                    .collect(),
            };
            unchanged::write(&paths.db, &key, &stamp);
        }
    }
    Ok(report)
}

/// Applies `--take-document`/`--keep-mine` (or a person's earlier
/// decision) to a planned conflict, remembering the plan before it in
/// `conflicts`.
fn settle_conflict(
    options: &Options,
    document: &Document,
    remembered: &BTreeMap<String, crate::store::Conflict>,
    planned: &mut Planned,
    conflicts: &mut BTreeMap<String, Planned>,
) {
    let Some(template) = document.template(&planned.key) else {
        return;
    };
    if merge::conflict_of(planned).is_none() {
        return;
    }
    conflicts.insert(planned.key.clone(), planned.clone());
    *planned = merge::settle(
        template,
        planned.clone(),
        options.decisions.for_key(&planned.key),
        remembered.get(&planned.key),
        options.force,
    );
}

/// Asks with the database closed: a person may take minutes, and every
/// other confpack (another package's postinst, `answers`, a timer's
/// upgrade) needs the lock meanwhile. Reopens it afterwards (waiting up to
/// `--lock-timeout`) and, when another run committed in between, replaces
/// `stored` with what is stored now. Returns the store, the answers, and
/// the keys whose stored answers changed meanwhile: those keep the other
/// run's value unless the person answered them.
/// How long a run whose questions were answered waits for the database.
const ANSWERED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn ask_unlocked(
    options: &Options,
    store: Store,
    stored: &mut BTreeMap<String, StoredAnswer>,
    frontend: &mut dyn Frontend,
    context: &Context,
    prompts: &[Prompt],
    listener: &mut dyn Listener,
) -> Result<(Store, BTreeMap<String, String>, BTreeSet<String>)> {
    let db = &options.paths.db;
    let generation = crate::store::generation(db);
    drop(store);
    let answers = frontend.ask(context, prompts)?;
    // The person's answers are not thrown away lightly: another confpack
    // holds the database only while it reads or commits, so wait for it
    // at least a minute here, whatever --lock-timeout says.
    let store = options
        .paths
        .open_store(options.lock_timeout.max(ANSWERED_LOCK_WAIT))?;
    if crate::store::generation(db) == generation {
        return Ok((store, answers, BTreeSet::new()));
    }
    let now = store.answers()?;
    let changed = stored
        .keys()
        .chain(now.keys())
        .filter(|key| stored.get(*key) != now.get(*key))
        .cloned()
        .collect::<BTreeSet<String>>();
    if !changed.is_empty() {
        listener.info(&format!(
            "another confpack changed {} stored answer(s) meanwhile; merged: your answers \
             win, the other values are kept",
            changed.len()
        ));
    }
    *stored = now;
    Ok((store, answers, changed))
}

fn selector(options: &Options, stored_environment: Option<String>) -> Selector {
    Selector {
        machine: options.machine.clone(),
        environment: options.environment.clone(),
        stored_environment,
        host_identities: options.host_identities.clone(),
    }
}

fn load_document(
    options: &Options,
    source: &DocumentSource,
    stored_environment: Option<String>,
    known: &dyn Fn(&str, &str) -> bool,
    listener: &mut dyn Listener,
) -> Result<crate::env::load::Loaded> {
    let selector = selector(options, stored_environment);
    let loaded = load_unless_known(source, &|e| selector.retains(e), known)?;
    // Each skipped copy's warning already names the copy used instead.
    for warning in &loaded.warnings {
        listener.warning(warning);
    }
    Ok(loaded)
}

/// Identifies a kind of configure invocation: one stamp per kind.
fn invocation_key(options: &Options, frontend: &str) -> String {
    let mut key = unchanged::Fingerprint::new("confpack-invocation-1");
    key.add_str(frontend)
        .add_path(&options.paths.root)
        .add_str(options.package.as_deref().unwrap_or("-"))
        .add_str(options.env_url.as_deref().unwrap_or("-"))
        .add_path(options.env_file.as_deref().unwrap_or(Path::new("-")))
        .add_path(options.schema.as_deref().unwrap_or(Path::new("-")))
        .add_str(options.machine.as_deref().unwrap_or("-"))
        .add_str(options.environment.as_deref().unwrap_or("-"))
        .add_str(options.priority.as_str());
    let mut text = key.finish();
    text.truncate(32);
    text
}

/// Everything a no-op run depends on besides the database and the files.
fn fingerprint(
    options: &Options,
    frontend: &str,
    document_sha256: &str,
    schema_sha256: &str,
    package: Option<&Package>,
    stored_environment: &Option<String>,
) -> Result<String> {
    let mut fingerprint = unchanged::Fingerprint::new("confpack-configure-1");
    fingerprint
        .add_str(&invocation_key(options, frontend))
        .add_str(env!("CARGO_PKG_VERSION"))
        .add_str(document_sha256)
        .add_str(schema_sha256)
        .add_str(stored_environment.as_deref().unwrap_or("-"));
    for identity in &options.host_identities {
        fingerprint.add_str(identity);
    }
    if let Some(package) = package {
        unchanged::add_package(&mut fingerprint, package)
            .map_err(|e| Error::io(&package.dir, e))?;
    }
    Ok(fingerprint.finish())
}

fn document_source(options: &Options, package: Option<&Package>) -> Result<DocumentSource> {
    let root = &options.paths.root;
    let url = options
        .env_url
        .clone()
        .or_else(|| package.and_then(|p| p.config.environment.url.clone()));
    let local = match (&options.env_file, package) {
        (Some(file), _) => Some(file.clone()),
        (None, Some(package)) => Some(package.local_document(root)),
        (None, None) => None,
    };
    if url.is_none() && local.is_none() {
        return Err(Error::Usage(
            "no environment document: pass --env-file PATH and/or --env-url URL, or --package PKG"
                .into(),
        ));
    }
    let schema = options.schema.clone().or_else(|| {
        package
            .and_then(|p| p.config.environment.schema.clone())
            .map(|s| {
                if s.is_absolute() {
                    rooted(root, &s)
                } else {
                    package.map(|p| p.dir.join(&s)).unwrap_or(s)
                }
            })
    });
    Ok(DocumentSource {
        url,
        local,
        cache_dir: options.paths.cache.clone(),
        node_root: Some(root.clone()),
        timeout: options.fetch_timeout,
        max_bytes: options.max_bytes,
        schema,
        derive_rules: options.derive_rules.clone(),
    })
}

/// The document's values for the selection: environment level, overridden
/// by the machine's own.
pub fn configured_values(document: &Document, selection: &Selection) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let machine_values = selection.machine.iter().flat_map(|m| m.values.iter());
    for value in selection.environment.values.iter().chain(machine_values) {
        let key = document.templates[value.template as usize].key.clone();
        values.insert(key, value.value.clone());
    }
    values
}

/// The stored answers that have a value, as expressions and templates see them.
fn known_answers(stored: &BTreeMap<String, StoredAnswer>) -> BTreeMap<String, KnownAnswer> {
    stored
        .iter()
        .filter_map(|(key, answer)| {
            Some((
                key.clone(),
                KnownAnswer {
                    question_type: answer.question_type,
                    secret: answer.secret,
                    value: answer.value.clone()?,
                },
            ))
        })
        .collect()
}

/// The value of every question after the run, given the frontend's
/// answers: stored answers of other documents, then this plan.
fn values_after(
    document: &Document,
    plan: &[Planned],
    stored: &BTreeMap<String, StoredAnswer>,
    answers: &BTreeMap<String, String>,
) -> BTreeMap<String, KnownAnswer> {
    let mut known = known_answers(stored);
    for planned in plan {
        let Some(template) = document.template(&planned.key) else {
            continue;
        };
        if template.source == Source::Derived || template.question_type.is_display_only() {
            known.remove(&planned.key);
            continue;
        }
        let value = answers
            .get(&planned.key)
            .cloned()
            .or_else(|| merge::provisional_value(planned, stored.get(&planned.key)));
        match value {
            Some(value) => {
                known.insert(
                    planned.key.clone(),
                    KnownAnswer {
                        question_type: template.question_type,
                        secret: template.question_type.is_secret(),
                        value,
                    },
                );
            }
            None => {
                known.remove(&planned.key);
            }
        }
    }
    known
}

/// Refuses a value larger than `limit` bytes, naming its question.
fn check_sizes(values: &BTreeMap<String, String>, limit: usize) -> Result<()> {
    match values.iter().find(|(_, value)| value.len() > limit) {
        Some((key, value)) => Err(Error::Question {
            key: key.clone(),
            message: derive::too_large(value.len(), limit),
        }),
        None => Ok(()),
    }
}

/// The derived values of a run.
#[derive(Debug, Default)]
struct Derived {
    values: BTreeMap<String, String>,
    /// Computed from a secret: secrets too.
    secret: BTreeSet<String>,
    /// Waiting for an answer to the question named (computed after asking).
    pending: BTreeMap<String, String>,
}

fn compute_derived(
    document: &Document,
    owned: &crate::questions::Owned,
    known: &BTreeMap<String, KnownAnswer>,
    environment: &minijinja::Value,
    machine: &minijinja::Value,
    max_value_bytes: usize,
) -> Result<Derived> {
    let derived_templates: Vec<&Template> = document
        .templates
        .iter()
        .filter(|t| t.source == Source::Derived && owned.contains(&t.key))
        .collect();
    if derived_templates.is_empty() {
        return Ok(Derived::default());
    }
    // Questions of the document without a value (yet): reading one makes
    // a derived value wait, instead of an unknown question.
    let unanswered = document
        .templates
        .iter()
        .filter(|t| {
            t.source != Source::Derived
                && !t.question_type.is_display_only()
                && !known.contains_key(&t.key)
        })
        .map(|t| t.key.clone())
        .collect();
    let mut known = known.clone();
    // A derived question the user overrode is still computed from its
    // expression; the store keeps the override.
    for template in &derived_templates {
        known.remove(&template.key);
    }
    let answers = Answers::with_limits(
        known,
        derived_templates
            .iter()
            .map(|t| {
                (
                    t.key.clone(),
                    t.question_type,
                    t.expression.clone().unwrap_or_default(),
                )
            })
            .collect(),
        derive::Limits {
            unanswered,
            max_value_bytes,
        },
    );
    let context = derive::context(&answers, environment.clone(), machine.clone());
    let values = answers.compute_all(context).map_err(|e| match e {
        Error::Derive(message) => {
            // The line of the derived question whose expression failed.
            let line = answers
                .failed_key()
                .and_then(|key| document.template(&key).map(|t| format!(":{}", t.line)))
                .unwrap_or_default();
            Error::Derive(format!("{}{line}: {message}", document.origin))
        }
        other => other,
    })?;
    for (key, value) in &values {
        if let Some(template) = document.template(key) {
            template
                .question_type
                .check(value, &template.choices)
                .map_err(|message| {
                    Error::Derive(answers.mask_secrets(&format!(
                        "{}:{}: {key}: the expression's value does not fit the question: {message}",
                        document.origin, template.line
                    )))
                })?;
        }
    }
    Ok(Derived {
        values,
        secret: answers.secret_derived(),
        pending: answers.pending(),
    })
}

fn plan_lines(
    plan: &[Planned],
    stored: &BTreeMap<String, StoredAnswer>,
    is_secret: &dyn Fn(&str) -> bool,
    pending: &BTreeMap<String, String>,
) -> Vec<PlanLine> {
    plan.iter()
        .map(|planned| {
            let secret = is_secret(&planned.key);
            if let Some(question) = pending.get(&planned.key) {
                return PlanLine {
                    key: planned.key.clone(),
                    action: format!("computed after asking (reads {question})"),
                    value: None,
                    secret,
                };
            }
            let (action, value) = match &planned.action {
                Action::Keep => (
                    "keep".to_string(),
                    stored.get(&planned.key).and_then(|s| s.value.clone()),
                ),
                Action::Set { value, source } => (format!("set ({source})"), value.clone()),
                Action::Ask { reason, default } if planned.hidden => (
                    format!(
                        "take default silently (priority below threshold; {})",
                        reason.describe()
                    ),
                    default.clone(),
                ),
                Action::Ask { reason, default } => (
                    format!("ask: {}", describe_reason(reason, secret)),
                    default.clone(),
                ),
            };
            PlanLine {
                key: planned.key.clone(),
                action,
                value,
                secret,
            }
        })
        .collect()
}

fn describe_reason(reason: &merge::Reason, secret: bool) -> String {
    match reason {
        merge::Reason::Conflict { document, user } if !secret => {
            format!("conflict: the document says {document:?}, you entered {user:?}")
        }
        other => other.describe(),
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_package(
    options: &Options,
    package: &Package,
    store: &Store,
    document: &Document,
    environment: &minijinja::Value,
    machine: &minijinja::Value,
    report: &mut Report,
    frontend: &mut dyn Frontend,
    listener: &mut dyn Listener,
) -> Result<()> {
    let root = &options.paths.root;
    let stored = store.answers()?;
    let known = known_answers(&stored);
    let answers = Answers::new(known.clone(), Vec::new());
    let context = derive::context(&answers, environment.clone(), machine.clone());
    let mut rendered = render::render_all(
        root,
        &package.templates_dir(),
        &package.config.modes,
        &answers,
        &context,
        options.max_render_bytes,
    )?;
    // The package's encrypted files, decrypted with the node key.
    rendered.extend(
        crate::secrets::render_files(root, &package.dir)?
            .into_iter()
            .map(|mut item| {
                item.secret = true;
                item
            }),
    );
    let previous = store.files(&package.name)?;
    // A file another package owns is diverted aside before the first write.
    for item in rendered.iter_mut() {
        item.file.diverted = match previous.iter().find(|p| p.path == item.file.path) {
            Some(earlier) => earlier.diverted,
            None => crate::divert::divert_if_foreign(root, &package.name, &item.file.path)?,
        };
    }
    let written = render::write_changed(
        root,
        &rendered,
        &previous,
        &mut render::EditPolicy {
            keep: &package.config.keep_local_edits,
            ask: &mut |edit| {
                frontend.local_edit(edit).map_err(|error| match error {
                    Error::Cancelled => Error::CancelledAtEditedFile {
                        path: edit.shown.clone(),
                    },
                    other => other,
                })
            },
        },
        listener,
    )?;
    report.files_written = written.written;
    report.files_removed = render::remove_dropped(root, &package.name, &previous, &rendered)?;
    for path in &report.files_written {
        listener.info(&format!("wrote {}", path.display()));
    }
    for path in &report.files_removed {
        listener.info(&format!(
            "removed {} (its template is gone)",
            path.display()
        ));
    }
    // A kept local edit stays recorded as what confpack last wrote, so
    // it is still known as an edit at the next run and at removal.
    let files: Vec<_> = rendered
        .iter()
        .map(|r| match previous.iter().find(|p| p.path == r.file.path) {
            Some(earlier) if written.kept.contains(&r.file.path) => earlier.clone(),
            _ => r.file.clone(),
        })
        .collect();
    let mut batch = Batch::new();
    if previous != files {
        batch.set_files(&package.name, &files)?;
    }
    if !written.saved.is_empty() {
        let mut saved = store.saved_edits(&package.name)?;
        saved.retain(|s| !written.saved.iter().any(|new| new.path == s.path));
        saved.extend(written.saved);
        batch.set_saved_edits(&package.name, &saved)?;
    }
    store.commit(batch)?;

    // Hooks: run those whose inputs changed; remember each success at once
    // so a later failure does not make them run again.
    let stamps = store.hook_stamps(&package.name)?;
    let inputs: BTreeMap<String, hooks::Input> = known
        .iter()
        .map(|(key, answer)| {
            (
                key.clone(),
                hooks::Input {
                    value: answer.value.clone(),
                    secret: answer.secret,
                },
            )
        })
        .collect();
    let mut failures = Vec::new();
    for hook in &package.config.hooks {
        let unknown: Vec<&String> = hook
            .reads
            .iter()
            .filter(|k| !inputs.contains_key(*k) && document.template(k).is_none())
            .collect();
        if !unknown.is_empty() {
            failures.push(format!(
                "hook {} reads unknown question(s) {}",
                hook.name,
                unknown
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        let stamp = hooks::stamp(hook, &inputs);
        if !options.force && stamps.get(&hook.name) == Some(&stamp) {
            continue;
        }
        if let Some(call) = hook.service_call() {
            match hooks::service_gate(root, call) {
                Ok(None) => {}
                Ok(Some(reason)) => {
                    listener.info(&format!(
                        "{}: hook {} skipped: {reason}",
                        package.name, hook.name
                    ));
                    report.hooks_skipped.push(hook.name.clone());
                    continue;
                }
                Err(error) => {
                    failures.push(format!("hook {}: {error}", hook.name));
                    continue;
                }
            }
        }
        listener.info(&format!(
            "running hook {} ({})",
            hook.name,
            hook.command().join(" ")
        ));
        match hooks::run(&package.name, hook, &inputs, root) {
            Ok(()) => {
                let mut batch = Batch::new();
                batch.set_hook_stamp(&package.name, &hook.name, &stamp)?;
                store.commit(batch)?;
                report.hooks_run.push(hook.name.clone());
            }
            Err(error) => failures.push(error.to_string()),
        }
    }
    let declared: BTreeSet<&str> = package
        .config
        .hooks
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    let mut batch = Batch::new();
    for name in stamps.keys().filter(|n| !declared.contains(n.as_str())) {
        batch.remove_hook_stamp(&package.name, name);
    }
    store.commit(batch)?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Package {
            package: package.name.clone(),
            message: failures.join("\n"),
        })
    }
}
