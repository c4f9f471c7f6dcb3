//! `confpack configure`: the whole pipeline, one way through, as
//! orchestration only; each stage lives in the module named after it.
//!
//! load ([`crate::env::load`], online first, local fallback) → select
//! ([`crate::select`]) → the package's questions ([`crate::questions`]) →
//! plan ([`crate::merge::plan`], with [`crate::derive::values`]) → ask
//! ([`crate::ask`], the frontend) → store ([`crate::merge::outcome`], one
//! batch) → render ([`crate::render::apply`]) → hooks
//! ([`crate::hooks::run_changed`]) → the no-op stamp
//! ([`crate::unchanged`]). Nothing is written before the frontend has
//! returned, so a failure or a cancel leaves the store and the files as
//! they were.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::ask::{self, Asked};
use crate::derive::values::{self, Bindings};
use crate::env::load::{DocumentSource, Loaded, load_unless_known};
use crate::env::model::{Document, Priority};
use crate::error::{Error, Result};
use crate::frontend::{Context, Frontend};
use crate::merge::outcome::{self, Answered, Records};
use crate::merge::plan::{self, Inputs, Plan};
use crate::merge::{self, Settings};
use crate::package::Package;
use crate::questions::Owned;
use crate::select::{Selection, Selector};
use crate::store::Store;
use crate::{Listener, hooks, render, unchanged};

pub use crate::merge::plan::PlanLine;
pub use crate::paths::Paths;

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
    /// Declarations applied or changed (`directory /srv/x`, …).
    pub declared: Vec<String>,
}

/// Runs configure.
pub fn configure(
    options: &Options,
    frontend: &mut dyn Frontend,
    listener: &mut dyn Listener,
) -> Result<Report> {
    let package = match &options.package {
        Some(name) => Some(Package::load(&options.paths.root, name)?),
        None => None,
    };
    let source = document_source(options, package.as_ref())?;
    let invocation = invocation(options, frontend.name());
    let Some(Running { store, loaded }) =
        start(options, &source, package.as_ref(), &invocation, listener)?
    else {
        listener.info("nothing changed since the last run");
        return Ok(Report {
            unchanged: true,
            ..Report::default()
        });
    };
    let document = &loaded.document;
    check_document(document, listener)?;
    let selection = selector(options, store.meta("environment")?).select(document)?;
    let mut report = Report {
        selection: selection.describe(),
        ..Report::default()
    };
    listener.info(&format!("{}: {}", document.origin, report.selection));

    let stored = store.answers()?;
    let remembered = store.conflicts()?;
    let configured = configured(options, document, &selection)?;
    let owned = owned(package.as_ref(), document, listener)?;
    let scope = Bindings::of(document, &selection, options.max_value_bytes);
    let settings = Settings {
        force: options.force,
        priority: options.priority,
    };
    let inputs = |stored| Inputs {
        document,
        owned: &owned,
        configured: &configured,
        stored,
        remembered: &remembered,
        settings,
        decisions: &options.decisions,
        scope: &scope,
    };
    let mut plan = plan::plan(&inputs(&stored))?;
    if options.dry_run {
        report.plan = plan::lines(&plan, &stored);
        return Ok(report);
    }

    let questions = (&plan, document, &selection);
    let asked = ask(options, (store, &stored), questions, frontend, listener)?;
    report.asked = asked.keys.clone();
    let asked = asked.asked;
    let stored = asked.stored_now.as_ref().unwrap_or(&stored);
    let inputs = inputs(stored);
    let derived = plan::settle_derived(&mut plan, &inputs, &asked.answers)?;
    let now = crate::store::utc_now();
    let answered = Answered::of(
        &inputs,
        &derived,
        (&asked.answers, &asked.changed_meanwhile),
    )
    .by(options.package.as_deref(), &now);
    let outcome = outcome::outcome(&plan, &answered)?;
    let store = asked.store;
    commit(
        options,
        &store,
        &plan,
        outcome,
        &selection,
        &mut report,
        listener,
    )?;

    if let Some(package) = &package {
        apply_package(
            options,
            package,
            &store,
            document,
            &scope,
            &mut report,
            frontend,
            listener,
        )?;
    }
    // A skipped hook must run at the next configure, and an open conflict
    // is warned about on every run: no no-op stamp for either.
    if eligible(options) && report.hooks_skipped.is_empty() && report.conflicts.is_empty() {
        stamp(options, &invocation, &store, &loaded, package.as_ref())?;
    }
    Ok(report)
}

/// Whether a run may take (and leave) the no-op stamp.
fn eligible(options: &Options) -> bool {
    !options.force && !options.dry_run && options.decisions.is_empty()
}

fn invocation<'a>(options: &'a Options, frontend: &'a str) -> unchanged::Invocation<'a> {
    unchanged::Invocation {
        frontend,
        root: &options.paths.root,
        package: options.package.as_deref(),
        env_url: options.env_url.as_deref(),
        env_file: options.env_file.as_deref(),
        schema: options.schema.as_deref(),
        machine: options.machine.as_deref(),
        environment: options.environment.as_deref(),
        priority: options.priority.as_str(),
        host_identities: &options.host_identities,
    }
}

/// A run that has work to do: the database open, the document loaded.
struct Running {
    store: Store,
    loaded: Loaded,
}

/// The hot path: a current stamp lets the run prove nothing changed
/// without opening the database, and without reading the document beyond
/// hashing it (`None`). Otherwise the database is opened and the
/// document loaded, and the old stamp is removed: it must not survive a
/// run that fails half-way.
fn start(
    options: &Options,
    source: &DocumentSource,
    package: Option<&Package>,
    invocation: &unchanged::Invocation<'_>,
    listener: &mut dyn Listener,
) -> Result<Option<Running>> {
    let paths = &options.paths;
    let key = invocation.key();
    let stamp = match eligible(options) {
        true => {
            unchanged::read(&paths.db, &key).filter(|s| unchanged::files_unchanged(&paths.root, s))
        }
        false => None,
    };
    let (store, stored_environment) = match &stamp {
        Some(stamp) => (None, stamp.stored_environment.clone()),
        None => {
            let store = paths.open_store(options.lock_timeout)?;
            let environment = store.meta("environment")?;
            (Some(store), environment)
        }
    };
    let known = |document_sha256: &str, schema_sha256: &str| {
        stamp.as_ref().is_some_and(|stamp| {
            invocation
                .fingerprint(
                    document_sha256,
                    schema_sha256,
                    package,
                    stored_environment.as_deref(),
                )
                .is_ok_and(|f| f == stamp.fingerprint)
        })
    };
    let mut loaded = load_document(
        options,
        source,
        stored_environment.clone(),
        &known,
        listener,
    )?;
    if loaded.known {
        return Ok(None);
    }
    let store = match store {
        Some(store) => store,
        None => {
            let store = paths.open_store(options.lock_timeout)?;
            if store.meta("environment")? != stored_environment {
                // Changed by another run in the meantime: select again.
                let quiet = &mut crate::RecordingListener::default();
                let environment = store.meta("environment")?;
                loaded = load_document(options, source, environment, &|_, _| false, quiet)?;
            }
            store
        }
    };
    // A dry run writes nothing, so it leaves the stamp alone.
    if !options.dry_run {
        unchanged::remove(&paths.db, &key);
    }
    Ok(Some(Running { store, loaded }))
}

/// The document's warnings, and derived questions without a rule.
fn check_document(document: &Document, listener: &mut dyn Listener) -> Result<()> {
    for warning in &document.warnings {
        listener.warning(warning);
    }
    let missing = crate::env::dataone::missing_rules(document);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(
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
    ))
}

/// The document's values for the selection, encrypted ones (`age:…`)
/// decrypted with the node key, each within the size limit.
fn configured(
    options: &Options,
    document: &Document,
    selection: &Selection,
) -> Result<BTreeMap<String, String>> {
    let configured = crate::secrets::decrypt_configured(
        document,
        selection.configured_values(document),
        &options.paths.root,
    )?;
    values::check_sizes(&configured, options.max_value_bytes)?;
    Ok(configured)
}

/// The package's own questions (all of them without a package).
fn owned(
    package: Option<&Package>,
    document: &Document,
    listener: &mut dyn Listener,
) -> Result<Owned> {
    let Some(package) = package else {
        return Ok(Owned::all());
    };
    let owned = crate::questions::of_package(package, document)?;
    for key in &owned.unknown {
        listener.warning(&format!(
            "{}: declares the question {key} (control.yml questions:), which {} does not have",
            package.name, document.origin
        ));
    }
    Ok(owned)
}

/// What [`ask`] did, and the keys it asked.
struct AskedKeys {
    asked: Asked,
    keys: Vec<String>,
}

/// Asks the plan's shown questions (nothing to ask: nothing happens) and
/// checks the answers.
fn ask(
    options: &Options,
    (store, stored): (Store, &BTreeMap<String, crate::store::StoredAnswer>),
    (plan, document, selection): (&Plan, &Document, &Selection),
    frontend: &mut dyn Frontend,
    listener: &mut dyn Listener,
) -> Result<AskedKeys> {
    let prompts = ask::prompts(plan, document);
    let keys = prompts.iter().map(|p| p.template.key.clone()).collect();
    if prompts.is_empty() {
        let asked = Asked::nothing(store);
        return Ok(AskedKeys { asked, keys });
    }
    let context = &Context {
        package: options.package.clone(),
        environment: selection.environment.context.clone(),
        machine: selection.machine.as_ref().map(|m| m.label()),
        back: false,
        title: None,
    };
    let paths = &options.paths;
    let asked = ask::ask_unlocked(
        (&paths.db, options.lock_timeout),
        store,
        stored,
        frontend,
        (context, &prompts),
        listener,
    )?;
    ask::check_answers(document, plan, &asked.answers, options.max_value_bytes)?;
    Ok(AskedKeys { asked, keys })
}

/// Says what the outcome keeps and what a flag could not decide, and
/// commits it with the selected environment, as one batch.
fn commit(
    options: &Options,
    store: &Store,
    plan: &Plan,
    outcome: Records,
    selection: &Selection,
    report: &mut Report,
    listener: &mut dyn Listener,
) -> Result<()> {
    let Records {
        mut batch,
        changed,
        kept,
    } = outcome;
    for conflict in &kept {
        listener.warning(&conflict.warning(plan.is_secret(&conflict.key)));
    }
    for key in outcome::undecidable(&options.decisions, plan) {
        listener.warning(&format!(
            "{key}: no conflict to decide (the stored value is not a user value that differs \
             from the document's)"
        ));
    }
    let context = &selection.environment.context;
    if store.meta("environment")?.as_deref() != Some(context.as_str()) {
        batch.set_meta("environment", context)?;
    }
    store.commit(batch)?;
    report.changed = changed;
    report.conflicts = kept.into_iter().map(|k| k.key).collect();
    Ok(())
}

/// Renders the package's files, then runs its hooks whose inputs changed.
#[allow(clippy::too_many_arguments)]
fn apply_package(
    options: &Options,
    package: &Package,
    store: &Store,
    document: &Document,
    scope: &Bindings,
    report: &mut Report,
    frontend: &mut dyn Frontend,
    listener: &mut dyn Listener,
) -> Result<()> {
    let root = &options.paths.root;
    let known = values::known_answers(&store.answers()?);
    let max = options.max_render_bytes;
    // The package's encrypted files, decrypted with the node key.
    let decrypted = crate::secrets::render_files(root, &package.dir)?
        .into_iter()
        .map(|mut item| {
            item.secret = true;
            item
        })
        .collect();
    let ask = &mut |edit: &render::LocalEdit| {
        frontend.local_edit(edit).map_err(|error| match error {
            Error::Cancelled => Error::CancelledAtEditedFile {
                path: edit.shown.clone(),
            },
            other => other,
        })
    };
    let files = (decrypted, ask as &mut render::EditQuestion<'_>);
    let applied = render::apply(root, package, store, &known, scope, max, files, listener)?;
    report.files_written = applied.written;
    report.files_removed = applied.removed;
    let changed: Vec<_> = report
        .files_written
        .iter()
        .chain(&report.files_removed)
        .cloned()
        .collect();
    let render = |name: &str, source: &str| render::render_text(name, source, &known, scope, max);
    let secrets = render::KnownSecrets(&known);
    let mut host = crate::declared::SystemHost::new(root);
    let declared = crate::converge::apply(
        store,
        package,
        (&render, &secrets, &changed),
        &mut host,
        listener,
    )?;
    report.declared = declared.applied.iter().map(|id| id.to_string()).collect();
    let ran = hooks::run_changed(
        root,
        package,
        store,
        document,
        &known,
        options.force,
        listener,
    )?;
    report.hooks_run = ran.run;
    report.hooks_skipped = ran.skipped;
    if ran.failures.is_empty() {
        return Ok(());
    }
    Err(Error::Package {
        package: package.name.clone(),
        message: ran.failures.join("\n"),
    })
}

/// Leaves the no-op stamp of a run that did everything it had to.
fn stamp(
    options: &Options,
    invocation: &unchanged::Invocation<'_>,
    store: &Store,
    loaded: &Loaded,
    package: Option<&Package>,
) -> Result<()> {
    let paths = &options.paths;
    let stored_environment = store.meta("environment")?;
    let files = match package {
        Some(package) => store.files(&package.name)?,
        None => Vec::new(),
    };
    let fingerprint = invocation
        .fingerprint(
            &loaded.sha256,
            &loaded.schema_sha256,
            package,
            stored_environment.as_deref(),
        )
        .map_err(|e| match package {
            Some(package) => Error::io(&package.dir, e),
            None => Error::io(&paths.db, e),
        })?;
    let key = invocation.key();
    unchanged::record(
        &paths.db,
        &paths.root,
        &key,
        fingerprint,
        stored_environment,
        &files,
    );
    Ok(())
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
    let schema = options
        .schema
        .clone()
        .or_else(|| package.and_then(|p| p.schema(root)));
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

/// The whole pipeline in-process: a scripted frontend and a recording
/// listener instead of a person and a terminal, a real sled database in a
/// temp dir, the repository's sample document.
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::RecordingListener;
    use crate::frontend::Prompt;

    /// Answers each round from a script (Enter on the rest), recording
    /// what it was asked;
    /// `cancel` makes it cancel like a person quitting.
    #[derive(Default)]
    struct Scripted {
        answers: BTreeMap<String, String>,
        cancel: bool,
        asked: Vec<Vec<String>>,
    }

    impl Frontend for Scripted {
        fn name(&self) -> &'static str {
            "text"
        }

        fn ask(&mut self, _: &Context, prompts: &[Prompt]) -> Result<BTreeMap<String, String>> {
            self.asked
                .push(prompts.iter().map(|p| p.template.key.clone()).collect());
            if self.cancel {
                return Err(Error::Cancelled);
            }
            // Like a person pressing Enter on everything not scripted: the
            // default, or an empty answer for a note.
            Ok(prompts
                .iter()
                .map(|p| {
                    let key = &p.template.key;
                    let answer = self.answers.get(key).or(p.default.as_ref());
                    (key.clone(), answer.cloned().unwrap_or_default())
                })
                .collect())
        }
    }

    fn options(root: &Path) -> Options {
        Options {
            paths: Paths::new(root, None),
            package: None,
            env_url: None,
            env_file: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-env.xml")),
            schema: None,
            machine: Some("10.10.0.21".into()),
            environment: None,
            force: false,
            priority: Priority::High,
            dry_run: false,
            lock_timeout: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(5),
            max_bytes: 16 << 20,
            max_value_bytes: crate::derive::DEFAULT_MAX_VALUE_BYTES,
            max_render_bytes: 16 << 20,
            derive_rules: BTreeMap::new(),
            host_identities: Vec::new(),
            decisions: merge::Decisions::default(),
        }
    }

    fn stored(root: &Path) -> BTreeMap<String, crate::store::StoredAnswer> {
        Paths::new(root, None)
            .open_store(Duration::from_secs(5))
            .and_then(|s| s.answers())
            .expect("answers")
    }

    fn script(answers: &[(&str, &str)]) -> Scripted {
        Scripted {
            answers: answers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Scripted::default()
        }
    }

    #[test]
    fn a_first_run_asks_once_stores_one_batch_and_the_next_run_is_a_no_op() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = options(dir.path());
        let mut frontend = script(&[("webshop/db.password", "hunter2")]);
        let mut listener = RecordingListener::default();
        let report = configure(&options, &mut frontend, &mut listener).expect("configured");
        assert_eq!(frontend.asked.len(), 1, "one round of questions");
        assert!(report.asked.contains(&"webshop/db.password".to_string()));
        assert_eq!(frontend.asked[0], report.asked);
        let answers = stored(dir.path());
        let password = &answers["webshop/db.password"];
        assert_eq!(password.value.as_deref(), Some("hunter2"));
        assert!(password.seen && password.secret);
        assert_eq!(
            answers["webshop/db.host"].value.as_deref(),
            Some("db1.prod.example.com")
        );
        assert!(
            listener
                .infos
                .iter()
                .any(|l| l.contains("machine 10.10.0.21")),
            "{:?}",
            listener.infos
        );
        assert!(
            listener.warnings.iter().all(|w| !w.contains("hunter2")),
            "{:?}",
            listener.warnings
        );

        // A dry run in between writes nothing, not even away the stamp.
        let dry = Options {
            dry_run: true,
            ..options.clone()
        };
        configure(
            &dry,
            &mut Scripted::default(),
            &mut RecordingListener::default(),
        )
        .expect("planned");
        let mut again = Scripted::default();
        let report = configure(&options, &mut again, &mut RecordingListener::default())
            .expect("configured again");
        assert!(report.unchanged, "{report:?}");
        assert!(again.asked.is_empty());
    }

    #[test]
    fn a_cancel_stores_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut frontend = Scripted {
            cancel: true,
            ..Scripted::default()
        };
        let result = configure(
            &options(dir.path()),
            &mut frontend,
            &mut RecordingListener::default(),
        );
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert_eq!(frontend.asked.len(), 1);
        assert!(stored(dir.path()).is_empty(), "nothing half-written");
    }

    #[test]
    fn a_dry_run_plans_and_writes_no_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = Options {
            dry_run: true,
            ..options(dir.path())
        };
        let mut frontend = Scripted::default();
        let report =
            configure(&options, &mut frontend, &mut RecordingListener::default()).expect("plan");
        assert!(frontend.asked.is_empty());
        let password = report
            .plan
            .iter()
            .find(|l| l.key == "webshop/db.password")
            .expect("planned");
        assert!(password.action.starts_with("ask"), "{password:?}");
        assert!(password.secret);
        assert!(stored(dir.path()).is_empty());
    }

    #[test]
    fn a_conflict_answered_with_the_documents_value_hands_authority_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = options(dir.path());
        let password = [("webshop/db.password", "x")];
        configure(
            &options,
            &mut script(&password),
            &mut RecordingListener::default(),
        )
        .expect("first");
        // A person's value that differs from the document's.
        let store = options
            .paths
            .open_store(Duration::from_secs(5))
            .expect("store");
        let mut batch = crate::store::Batch::new();
        let mut answer = store.answers().expect("answers")["webshop/db.host"].clone();
        answer.value = Some("mine".into());
        answer.source = crate::env::model::Source::User;
        batch.set_answer("webshop/db.host", &answer).expect("set");
        store.commit(batch).expect("commit");
        drop(store);

        let mut frontend = script(&[("webshop/db.host", "db1.prod.example.com")]);
        let mut listener = RecordingListener::default();
        let report = configure(&options, &mut frontend, &mut listener).expect("second");
        assert_eq!(frontend.asked, [vec!["webshop/db.host".to_string()]]);
        assert_eq!(report.changed, ["webshop/db.host"]);
        assert!(report.conflicts.is_empty() && listener.warnings.is_empty());
        let host = &stored(dir.path())["webshop/db.host"];
        assert_eq!(host.source, crate::env::model::Source::Configured);
    }
}
