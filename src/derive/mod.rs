//! Derived values and the data minijinja sees.
//!
//! A derived template carries a minijinja *expression* over `answers` (every
//! question's value, typed), `environment` (context label, machines and
//! environment-level values) and `machine` (the selected one). Derived
//! values are computed lazily in dependency order: reading a derived answer
//! inside an expression computes it first, so the order follows from what
//! each expression actually reads, and a cycle or a reference to an unknown
//! question is reported with the keys involved.
//!
//! The same [`Answers`] object is what package templates are rendered with;
//! it records which answers a template read, so a file that uses a secret is
//! written 0600 and a hook knows its inputs.
//!
//! `machine` is always defined: on a host that is none of the document's
//! machines its fields are none, so `machine.hostname | default("x")` and
//! `{% if machine.ip %}` work, while printing such a field, like any
//! undefined name, is an error that names it ([`explain`]).

pub mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use std::sync::{Arc, Mutex, PoisonError};

use minijinja::Environment as Jinja;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

use crate::env::model::{Document, Environment, Machine, QuestionType, split_multiselect};
use crate::error::{Error, Result};

/// The default limit on the size of one value (derived, configured or
/// answered): 1 MiB. A value larger than that is no configuration value
/// but an attack (doubling derived values exhaust memory); `configure
/// --max-value-size` raises it.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1024 * 1024;

pub use crate::jinja::{
    MAX_CODE_LEN, OUTPUT_LIMIT, check_code_len, check_expression, check_template_tags, explain,
    jinja, jinja_with_output,
};

/// The typed form of a stored value: booleans as booleans, multiselect as a
/// list, everything else as a string.
pub fn typed_value(question_type: QuestionType, value: &str) -> Value {
    match question_type {
        QuestionType::Boolean => Value::from(value == "true"),
        QuestionType::Multiselect => Value::from(split_multiselect(value)),
        _ => Value::from(value),
    }
}

/// Converts an expression's result into a stored value (the caller checks it
/// against the template's type and choices).
fn stored_value(key: &str, value: &Value) -> Result<String> {
    use minijinja::value::ValueKind;
    let text = match value.kind() {
        ValueKind::Undefined | ValueKind::None => {
            return Err(Error::Derive(format!(
                "{key}: the expression evaluated to nothing"
            )));
        }
        ValueKind::Bool => (value.is_true()).to_string(),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<String> = value
                .try_iter()
                .map_err(|e| Error::Derive(format!("{key}: {e}")))?
                .map(|item| item.to_string())
                .collect();
            crate::env::model::join_multiselect(&items)
        }
        ValueKind::Map => {
            return Err(Error::Derive(format!(
                "{key}: the expression evaluated to a map; derive a string, boolean or list"
            )));
        }
        _ => value.to_string(),
    };
    Ok(text)
}

/// A question known to the answers object: its type and how to get its value.
#[derive(Debug, Clone)]
struct Entry {
    question_type: QuestionType,
    secret: bool,
    value: EntryValue,
}

#[derive(Debug, Clone)]
enum EntryValue {
    Known(String),
    Derived(String),
}

#[derive(Debug, Default)]
struct Evaluation {
    computed: HashMap<String, String>,
    in_progress: Vec<String>,
    /// The first error found while evaluating (cycles, unknown keys), kept
    /// because minijinja only sees an undefined value.
    error: Option<String>,
    /// The derived question whose expression failed first.
    failed: Option<String>,
    reads: BTreeSet<String>,
    /// The last key read that is not a known question.
    missing: Option<String>,
    /// Derived questions whose expression read a secret (directly or
    /// through another derived value): their values are secrets too.
    secret: BTreeSet<String>,
    /// Derived questions that read a question without an answer yet
    /// (directly or through another derived value), with that question:
    /// they are computed after asking.
    pending: BTreeMap<String, String>,
}

/// The `answers` mapping seen by expressions and templates.
pub struct Answers {
    entries: BTreeMap<String, Entry>,
    limits: Limits,
    jinja: Jinja<'static>,
    context: Mutex<Option<Value>>,
    state: Mutex<Evaluation>,
}

impl fmt::Debug for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answers")
            .field("keys", &self.entries.len())
            .finish()
    }
}

/// A value of a question, as handed to [`Answers::new`].
#[derive(Debug, Clone)]
pub struct KnownAnswer {
    pub question_type: QuestionType,
    pub secret: bool,
    pub value: String,
}

/// What a derivation may read and produce.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Questions of the document that have no answer yet: a derived value
    /// reading one is not an error but waits ([`Answers::pending`]).
    pub unanswered: BTreeSet<String>,
    /// Most bytes a derived value may have.
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            unanswered: BTreeSet::new(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

/// Why a value is refused as too large, naming the limit and the way to
/// raise it.
pub fn too_large(bytes: usize, limit: usize) -> String {
    format!(
        "the value has {bytes} bytes, more than the limit of {limit} bytes; \
         raise it with `configure --max-value-size BYTES` if it is meant"
    )
}

impl Answers {
    /// Answers with known values plus derived questions (`key` →
    /// expression, type) still to compute, with the default [`Limits`].
    pub fn new(
        known: BTreeMap<String, KnownAnswer>,
        derived: Vec<(String, QuestionType, String)>,
    ) -> Arc<Answers> {
        Answers::with_limits(known, derived, Limits::default())
    }

    /// Like [`new`](Self::new), with `limits`.
    pub fn with_limits(
        known: BTreeMap<String, KnownAnswer>,
        derived: Vec<(String, QuestionType, String)>,
        limits: Limits,
    ) -> Arc<Answers> {
        let mut entries: BTreeMap<String, Entry> = known
            .into_iter()
            .map(|(key, answer)| {
                (
                    key,
                    Entry {
                        question_type: answer.question_type,
                        secret: answer.secret,
                        value: EntryValue::Known(answer.value),
                    },
                )
            })
            .collect();
        for (key, question_type, expression) in derived {
            entries.insert(
                key,
                Entry {
                    question_type,
                    secret: false,
                    value: EntryValue::Derived(expression),
                },
            );
        }
        Arc::new(Answers {
            entries,
            limits,
            jinja: jinja(),
            context: Mutex::new(None),
            state: Mutex::new(Evaluation::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Evaluation> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys read so far (by expressions or a template).
    pub fn take_reads(&self) -> BTreeSet<String> {
        std::mem::take(&mut self.state().reads)
    }

    /// The last key read (since the previous call) that is not a known
    /// question: names an undefined `answers[…]` whose key minijinja cannot
    /// show (a variable, a computed key).
    pub fn take_missing(&self) -> Option<String> {
        self.state().missing.take()
    }

    /// The derived question whose expression failed, after
    /// [`compute_all`](Self::compute_all) returned an error.
    pub fn failed_key(&self) -> Option<String> {
        self.state().failed.clone()
    }

    /// Whether any of `keys` is a secret.
    pub fn any_secret<'a>(&self, keys: impl IntoIterator<Item = &'a String>) -> bool {
        keys.into_iter().any(|k| self.is_secret(k))
    }

    /// Whether the value of `key` is a secret: a secret question's, or a
    /// derived one computed from a secret.
    pub fn is_secret(&self, key: &str) -> bool {
        self.entries.get(key).is_some_and(|e| e.secret) || self.state().secret.contains(key)
    }

    /// The derived questions computed from a secret.
    pub fn secret_derived(&self) -> BTreeSet<String> {
        self.state().secret.clone()
    }

    /// The derived questions that wait for an answer to a question (the
    /// value), after [`compute_all`](Self::compute_all).
    pub fn pending(&self) -> BTreeMap<String, String> {
        self.state().pending.clone()
    }

    /// `message` with every secret value this object knows (and its
    /// escaped forms, as `{:?}` prints them) replaced by the mask: an
    /// error about an expression must never show a password
    /// (`answers[answers["p/password"]]` names the password as a key).
    pub fn mask_secrets(&self, message: &str) -> String {
        let state = self.state();
        let mut secrets: Vec<&str> = self
            .entries
            .iter()
            .filter_map(|(key, entry)| match &entry.value {
                EntryValue::Known(value) if entry.secret => Some(value.as_str()),
                _ if state.secret.contains(key) => state.computed.get(key).map(String::as_str),
                _ => None,
            })
            .filter(|value| !value.is_empty())
            .collect();
        // The longest first: a secret containing another is masked whole.
        secrets.sort_by_key(|value| std::cmp::Reverse(value.len()));
        let mut masked = message.to_string();
        for secret in secrets {
            for form in [
                secret.to_string(),
                secret.escape_debug().to_string(),
                secret.escape_default().to_string(),
            ] {
                masked = masked.replace(&form, crate::output::MASK);
            }
        }
        masked
    }

    /// Computes every derived value, in dependency order. `context` is the
    /// full template context (it holds this object as `answers`).
    pub fn compute_all(self: &Arc<Self>, context: Value) -> Result<BTreeMap<String, String>> {
        *self.context.lock().unwrap_or_else(PoisonError::into_inner) = Some(context);
        let keys: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.value, EntryValue::Derived(_)))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = BTreeMap::new();
        let result = keys.into_iter().try_for_each(|key| {
            match self.derive(&key) {
                Ok(value) => {
                    out.insert(key, value);
                }
                // Computed after asking; not an error yet.
                Err(_) if self.state().pending.contains_key(&key) => {
                    let mut state = self.state();
                    state.error = None;
                    state.failed = None;
                }
                Err(error) => return Err(error),
            }
            Ok(())
        });
        // Break the Arc cycle context → answers → context, on errors too
        // (else both leak; found by the libFuzzer target).
        *self.context.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.take_reads();
        result.map(|()| out).map_err(|error| match error {
            Error::Derive(message) => Error::Derive(self.mask_secrets(&message)),
            other => other,
        })
    }

    fn derive(self: &Arc<Self>, key: &str) -> Result<String> {
        if let Some(value) = self.state().computed.get(key) {
            return Ok(value.clone());
        }
        let Some(Entry {
            value: EntryValue::Derived(expression),
            ..
        }) = self.entries.get(key).cloned()
        else {
            return Err(Error::Derive(format!("{key} is not a derived question")));
        };
        {
            let mut state = self.state();
            if let Some(start) = state.in_progress.iter().position(|k| k == key) {
                let mut cycle = state.in_progress[start..].to_vec();
                cycle.push(key.to_string());
                let message = format!("cycle between derived questions: {}", cycle.join(" → "));
                state.error.get_or_insert(message.clone());
                state.failed.get_or_insert(key.to_string());
                return Err(Error::Derive(message));
            }
            state.in_progress.push(key.to_string());
        }
        let context = self
            .context
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default();
        self.state().missing = None;
        let result = match check_code_len(&expression) {
            Err(message) => Err(minijinja::Error::new(
                minijinja::ErrorKind::SyntaxError,
                message,
            )),
            Ok(()) => self
                .jinja
                .compile_expression(&expression)
                .and_then(|compiled| compiled.eval(context)),
        };
        // Turned into text while this key is still in progress: the value
        // may hold `answers` itself, whose text reads every answer, this one
        // too; that must be reported as a cycle, not recursed into until the
        // stack overflows (found by tests/fuzz.rs).
        let text = result.as_ref().ok().map(|value| stored_value(key, value));
        let mut state = self.state();
        state.in_progress.pop();
        if let Some(question) = state.pending.get(key).cloned() {
            // Read a question that has no answer yet: whatever the
            // expression made of that (an error, a default), the value is
            // computed after asking.
            return Err(Error::Derive(format!(
                "{key} reads answers[{question:?}], which has no answer yet"
            )));
        }
        match result {
            Ok(_) if state.error.is_some() => {
                let message = state.error.clone().unwrap_or_default();
                return Err(Error::Derive(message));
            }
            Ok(_) => {}
            Err(error) => {
                let message = match state.error.take() {
                    Some(inner) => inner,
                    None => {
                        let missing = state.missing.take();
                        state.failed.get_or_insert(key.to_string());
                        format!(
                            "{key}: {}",
                            explain(&error, &expression, missing.as_deref())
                        )
                    }
                };
                // Keep the innermost explanation for the outer frames.
                state.error = Some(message.clone());
                return Err(Error::Derive(message));
            }
        }
        drop(state);
        let text = text
            .unwrap_or_else(|| Err(Error::Derive(format!("{key}: no value"))))
            .inspect_err(|_| {
                self.state().failed.get_or_insert(key.to_string());
            })?;
        let limit = self.limits.max_value_bytes;
        if text.len() > limit {
            // Kept for the expressions reading this one, which would
            // otherwise only see an undefined value.
            let message = format!("{key}: {}", too_large(text.len(), limit));
            let mut state = self.state();
            state.failed.get_or_insert(key.to_string());
            state.error.get_or_insert(message.clone());
            return Err(Error::Derive(message));
        }
        self.state().computed.insert(key.to_string(), text.clone());
        Ok(text)
    }
}

impl Object for Answers {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if self.limits.unanswered.contains(key) && !self.entries.contains_key(key) {
            // Every expression being computed waits for this answer.
            let mut state = self.state();
            state.reads.insert(key.to_string());
            for reader in state.in_progress.clone() {
                state
                    .pending
                    .entry(reader)
                    .or_insert_with(|| key.to_string());
            }
            return None;
        }
        let Some(entry) = self.entries.get(key) else {
            let mut state = self.state();
            state.missing = Some(key.to_string());
            if let Some(reader) = state.in_progress.last().cloned() {
                state.failed.get_or_insert(reader.clone());
                state.error.get_or_insert(format!(
                    "{reader} reads answers[\"{key}\"], which is not a known question"
                ));
            }
            return None;
        };
        self.state().reads.insert(key.to_string());
        let value = match &entry.value {
            EntryValue::Known(value) => value.clone(),
            EntryValue::Derived(_) => self.derive(key).ok()?,
        };
        // A value computed from a secret is a secret: the expression
        // reading it (the innermost one being computed) becomes one.
        if self.is_secret(key) {
            let mut state = self.state();
            if let Some(reader) = state.in_progress.last().cloned() {
                state.secret.insert(reader);
            }
        }
        Some(typed_value(entry.question_type, &value))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.entries
                .keys()
                .map(|k| Value::from(k.as_str()))
                .collect(),
        )
    }
}

/// The `environment` and `machine` values for expressions and templates.
pub fn environment_values(
    document: &Document,
    environment: &Environment,
    machine: Option<&Machine>,
) -> (Value, Value) {
    let scope = EnvironmentScope::of(document, environment);
    let machine = machine
        .map(|m| scope.machine_value(document, m))
        .unwrap_or_else(no_machine);
    (scope.environment, machine)
}

/// `machine` on a host that is none of the document's machines.
pub fn no_machine() -> Value {
    Value::from_object(NoMachine)
}

/// An environment as expressions and templates see it, computed once: a
/// caller that goes through all its machines (`confpack plan`) takes
/// each machine's value from `machines` instead of building the
/// environment again for each.
#[derive(Debug, Clone)]
pub struct EnvironmentScope {
    pub environment: Value,
    /// The value of each of the environment's machines, in its order.
    pub machines: Vec<Value>,
    env_values: BTreeMap<String, Value>,
}

impl EnvironmentScope {
    pub fn of(document: &Document, environment: &Environment) -> EnvironmentScope {
        let env_values: BTreeMap<String, Value> = environment
            .values
            .iter()
            .filter_map(|v| configured_pair(document, v.template, &v.value))
            .collect();
        let mut scope = EnvironmentScope {
            environment: Value::UNDEFINED,
            machines: Vec::new(),
            env_values,
        };
        // Every machine's value of each question, for lists such as "the node
        // ids of all machines" (`map(attribute=…)` cannot take keys with dots).
        let mut machine_values: BTreeMap<String, Vec<Value>> = document
            .templates
            .iter()
            .map(|t| (t.key.clone(), Vec::new()))
            .collect();
        for m in &environment.machines {
            let own = scope.machine_answers(document, m);
            // Values are shared, not copied, between the two views.
            for (key, value) in &own {
                machine_values
                    .entry(key.clone())
                    .or_default()
                    .push(value.clone());
            }
            scope.machines.push(machine_map(m, own));
        }
        let mut env_map = BTreeMap::new();
        env_map.insert("machine_values".to_string(), Value::from(machine_values));
        env_map.insert(
            "context".to_string(),
            Value::from(environment.context.as_str()),
        );
        env_map.insert("machines".to_string(), Value::from(scope.machines.clone()));
        env_map.insert("answers".to_string(), Value::from(scope.env_values.clone()));
        scope.environment = Value::from(env_map);
        scope
    }

    /// `machine` for one machine of the environment.
    pub fn machine_value(&self, document: &Document, m: &Machine) -> Value {
        machine_map(m, self.machine_answers(document, m))
    }

    /// A machine's answers: the environment's, then its own.
    fn machine_answers(&self, document: &Document, m: &Machine) -> BTreeMap<String, Value> {
        let mut answers = self.env_values.clone();
        answers.extend(
            m.values
                .iter()
                .filter_map(|v| configured_pair(document, v.template, &v.value)),
        );
        answers
    }
}

fn machine_map(m: &Machine, answers: BTreeMap<String, Value>) -> Value {
    let mut map = BTreeMap::new();
    map.insert("ip".to_string(), Value::from(m.ip_text.as_str()));
    map.insert(
        "hostname".to_string(),
        Value::from(m.hostname.clone().unwrap_or_default()),
    );
    map.insert("answers".to_string(), Value::from(answers));
    Value::from(map)
}

/// `machine` on a host that is none of the document's machines: the fields
/// a machine has are none (false in `if`, replaced by `default`), any other
/// name stays a strict undefined (a typo is an error), and `machine` itself
/// is false.
#[derive(Debug)]
struct NoMachine;

impl NoMachine {
    const FIELDS: [&str; 3] = ["answers", "hostname", "ip"];
}

impl Object for NoMachine {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Self::FIELDS
            .contains(&key.as_str()?)
            .then(|| Value::from(()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&Self::FIELDS)
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }
}

/// A document value as expressions see it in `environment`; secrets are
/// left out (they are encrypted for their own machine, and one machine's
/// password is no other machine's business): this machine's own is in
/// `answers`.
fn configured_pair(document: &Document, template: u32, value: &str) -> Option<(String, Value)> {
    let template = &document.templates[template as usize];
    (!template.question_type.is_secret()).then(|| {
        (
            template.key.clone(),
            typed_value(template.question_type, value),
        )
    })
}

/// The full context: `answers`, `environment`, `machine`.
pub fn context(answers: &Arc<Answers>, environment: Value, machine: Value) -> Value {
    let mut map = BTreeMap::new();
    map.insert(
        "answers".to_string(),
        Value::from_dyn_object(answers.clone()),
    );
    map.insert("environment".to_string(), environment);
    map.insert("machine".to_string(), machine);
    Value::from(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(pairs: &[(&str, &str)]) -> BTreeMap<String, KnownAnswer> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    KnownAnswer {
                        question_type: QuestionType::String,
                        secret: false,
                        value: v.to_string(),
                    },
                )
            })
            .collect()
    }

    fn derive(
        pairs: &[(&str, &str)],
        derived: &[(&str, QuestionType, &str)],
    ) -> Result<BTreeMap<String, String>> {
        let answers = Answers::new(
            known(pairs),
            derived
                .iter()
                .map(|(k, t, e)| (k.to_string(), *t, e.to_string()))
                .collect(),
        );
        let ctx = context(&answers, Value::from(()), Value::from(()));
        answers.compute_all(ctx)
    }

    #[test]
    fn derived_values_follow_what_they_read_in_any_order() {
        let out = derive(
            &[("p/dir", "/etc/ssl"), ("p/file", "a.pem")],
            &[
                (
                    "p/b.upper",
                    QuestionType::String,
                    "answers[\"p/a.path\"] | upper",
                ),
                (
                    "p/a.path",
                    QuestionType::String,
                    "answers[\"p/dir\"] ~ \"/\" ~ answers[\"p/file\"]",
                ),
            ],
        )
        .expect("derive");
        assert_eq!(out["p/a.path"], "/etc/ssl/a.pem");
        assert_eq!(out["p/b.upper"], "/ETC/SSL/A.PEM");
    }

    #[test]
    fn a_cycle_is_an_error_naming_the_keys() {
        let error = derive(
            &[],
            &[
                ("p/a", QuestionType::String, "answers[\"p/b\"]"),
                ("p/b", QuestionType::String, "answers[\"p/a\"]"),
            ],
        )
        .expect_err("cycle");
        let message = error.to_string();
        assert!(message.contains("cycle"), "{message}");
        assert!(
            message.contains("p/a") && message.contains("p/b"),
            "{message}"
        );
    }

    #[test]
    fn an_unknown_reference_is_an_error_naming_both_keys() {
        let error = derive(
            &[],
            &[("p/a", QuestionType::String, "answers[\"p/missing\"]")],
        )
        .expect_err("unknown");
        let message = error.to_string();
        assert!(
            message.contains("p/a") && message.contains("p/missing"),
            "{message}"
        );
    }

    #[test]
    fn lists_are_stored_as_debconf_multiselect_values() {
        let out = derive(
            &[],
            &[("p/l", QuestionType::Multiselect, "[\"a\", \"b,c\"]")],
        )
        .expect("derive");
        assert_eq!(out["p/l"], "a, b\\,c");
    }

    /// Renders `source` with `answers` (plain values) and no machine; the
    /// error is what render.rs reports after the file and line.
    fn render_without_machine(
        pairs: &[(&str, &str)],
        source: &str,
    ) -> std::result::Result<String, String> {
        let answers = Answers::new(known(pairs), Vec::new());
        let ctx = context(&answers, Value::from(()), Value::from_object(NoMachine));
        answers.take_missing();
        jinja()
            .render_str(source, ctx)
            .map_err(|e| explain(&e, source, answers.take_missing().as_deref()))
    }

    #[test]
    fn without_a_machine_its_fields_are_none_so_default_and_if_work() {
        let out = render_without_machine(
            &[],
            "{{ machine.hostname | default(\"this machine\") }} \
             {% if machine.ip %}ip{% else %}no ip{% endif %} \
             {% if machine %}machine{% else %}no machine{% endif %} \
             {{ machine.answers[\"p/x\"] | default(\"-\") }}",
        )
        .expect("render");
        assert_eq!(out, "this machine no ip no machine -");
    }

    #[test]
    fn printing_a_field_of_the_missing_machine_is_an_error_naming_it() {
        let message = render_without_machine(&[], "{{ machine.hostname }}").expect_err("none");
        assert!(message.starts_with("machine.hostname is none"), "{message}");
        assert!(message.contains("default"), "{message}");
    }

    #[test]
    fn a_typo_stays_an_error_naming_the_undefined_name() {
        for (source, name) in [
            ("{{ machine.hostnme }}", "undefined value machine.hostnme "),
            ("{{ machin.ip }}", "undefined value machin "),
            (
                "{{ answers[\"p/typo\"] }}",
                "undefined value answers[\"p/typo\"] ",
            ),
            (
                "{% set k = \"p/\" ~ \"ty\" ~ \"po\" %}{{ answers[k] | upper }}",
                "undefined value answers[\"p/typo\"] ",
            ),
            (
                "{% if answers[\"p/typo\"] == \"x\" %}{% endif %}",
                "undefined value answers[\"p/typo\"] ",
            ),
            (
                "{% for x in environment.nope %}{% endfor %}",
                "undefined value environment.nope ",
            ),
        ] {
            let message = render_without_machine(&[("p/v", "1")], source).expect_err(source);
            assert!(message.starts_with(name), "{source}: {message}");
        }
    }

    #[test]
    fn a_derived_expression_without_a_machine_reads_its_fields_as_none() {
        let answers = Answers::new(
            BTreeMap::new(),
            vec![
                (
                    "p/host".to_string(),
                    QuestionType::String,
                    "machine.hostname | default(\"localhost\")".to_string(),
                ),
                (
                    "p/typo".to_string(),
                    QuestionType::String,
                    "machine.hostnme | upper".to_string(),
                ),
            ],
        );
        let ctx = context(&answers, Value::from(()), Value::from_object(NoMachine));
        let message = answers.compute_all(ctx).expect_err("typo").to_string();
        assert!(
            message.contains("p/typo: undefined value machine.hostnme "),
            "{message}"
        );
        assert_eq!(answers.failed_key().as_deref(), Some("p/typo"));
        assert_eq!(
            answers.derive("p/host").expect("p/host"),
            "localhost",
            "computed before the typo"
        );
    }

    /// Answers with `p/secret` (a secret) and `p/plain` known, and
    /// `derived` to compute under `limits`.
    fn with_secret(derived: &[(&str, &str)], limits: Limits) -> Arc<Answers> {
        let mut known = known(&[("p/plain", "plain")]);
        known.insert(
            "p/secret".to_string(),
            KnownAnswer {
                question_type: QuestionType::Password,
                secret: true,
                value: "hunter2".to_string(),
            },
        );
        Answers::with_limits(
            known,
            derived
                .iter()
                .map(|(k, e)| (k.to_string(), QuestionType::String, e.to_string()))
                .collect(),
            limits,
        )
    }

    fn compute(answers: &Arc<Answers>) -> Result<BTreeMap<String, String>> {
        let ctx = context(answers, Value::from(()), Value::from(()));
        answers.compute_all(ctx)
    }

    #[test]
    fn a_value_computed_from_a_secret_is_a_secret_transitively() {
        // (expression of p/a, of p/b reading p/a) → (p/a secret, p/b secret)
        for (a, b, expected) in [
            (
                "answers[\"p/secret\"] ~ \"\"",
                "answers[\"p/a\"]",
                (true, true),
            ),
            ("answers[\"p/secret\"] | length", "\"x\"", (true, false)),
            (
                "answers[\"p/plain\"]",
                "answers[\"p/a\"] ~ \"!\"",
                (false, false),
            ),
            (
                "answers[\"p/plain\"]",
                "answers[\"p/a\"] ~ answers[\"p/secret\"]",
                (false, true),
            ),
            ("answers | length", "answers[\"p/a\"]", (false, false)),
            (
                "answers[\"p/\" ~ \"secret\"] | upper",
                "answers[\"p/a\"]",
                (true, true),
            ),
            // minijinja's `in` reads the value: secret, on the safe side.
            ("\"p/secret\" in answers", "answers[\"p/a\"]", (true, true)),
        ] {
            let answers = with_secret(&[("p/a", a), ("p/b", b)], Limits::default());
            compute(&answers).unwrap_or_else(|e| panic!("{a} / {b}: {e}"));
            assert_eq!(
                (answers.is_secret("p/a"), answers.is_secret("p/b")),
                expected,
                "{a} / {b}"
            );
        }
    }

    #[test]
    fn an_error_never_shows_a_secret_value() {
        for expression in [
            "answers[answers[\"p/secret\"]]",
            "answers[answers[\"p/secret\"] ~ \"\"] | upper",
            "answers[answers[\"p/a\"]]",
            "answers[\"p/secret\"] + 1",
            "answers[\"p/secret\"] | int + [1]",
        ] {
            let answers = with_secret(
                &[("p/a", "answers[\"p/secret\"]"), ("p/b", expression)],
                Limits::default(),
            );
            let message = compute(&answers).expect_err(expression).to_string();
            assert!(!message.contains("hunter2"), "{expression}: {message}");
            assert!(message.contains("p/b"), "{expression}: {message}");
        }
    }

    #[test]
    fn mask_secrets_masks_every_form_of_a_secret() {
        let answers = with_secret(&[], Limits::default());
        assert_eq!(
            answers.mask_secrets("answers[\"hunter2\"] and hunter2"),
            "answers[\"********\"] and ********"
        );
        assert_eq!(answers.mask_secrets("plain"), "plain");
    }

    #[test]
    fn a_derived_value_reading_an_unanswered_question_waits_for_it() {
        let limits = Limits {
            unanswered: ["p/user".to_string()].into(),
            ..Limits::default()
        };
        let answers = with_secret(
            &[
                ("p/a", "answers[\"p/user\"] ~ \".a\""),
                ("p/b", "answers[\"p/a\"] | default(\"b\")"),
                ("p/c", "answers[\"p/plain\"]"),
                ("p/d", "answers[\"p/user\"] is defined"),
            ],
            limits,
        );
        let values = compute(&answers).expect("no error");
        assert_eq!(values.keys().collect::<Vec<_>>(), ["p/c"]);
        let pending = answers.pending();
        for key in ["p/a", "p/b", "p/d"] {
            assert_eq!(
                pending.get(key).map(String::as_str),
                Some("p/user"),
                "{key}"
            );
        }
        // A question nobody knows stays an error.
        let answers = with_secret(&[("p/a", "answers[\"p/nope\"]")], Limits::default());
        let message = compute(&answers).expect_err("unknown").to_string();
        assert!(message.contains("not a known question"), "{message}");
    }

    #[test]
    fn a_derived_value_past_the_limit_is_an_error_naming_its_key() {
        let limits = Limits {
            max_value_bytes: 100,
            ..Limits::default()
        };
        for (derived, key) in [
            (vec![("p/a", "\"x\" * 101")], "p/a"),
            (
                vec![
                    ("p/a", "\"x\" * 60"),
                    ("p/b", "answers[\"p/a\"] ~ answers[\"p/a\"]"),
                ],
                "p/b",
            ),
            (
                vec![
                    ("p/a", "\"x\" * 101"),
                    ("p/b", "answers[\"p/a\"] | default(\"\")"),
                ],
                "p/a",
            ),
        ] {
            let answers = with_secret(&derived, limits.clone());
            let message = compute(&answers).expect_err(key).to_string();
            assert!(
                message.contains(&format!("{key}: the value has")),
                "{message}"
            );
            assert!(message.contains("limit of 100 bytes"), "{message}");
        }
        let answers = with_secret(&[("p/a", "\"x\" * 100")], limits);
        assert_eq!(compute(&answers).expect("at the limit")["p/a"].len(), 100);
    }

    #[test]
    fn values_are_data_not_code() {
        let out = derive(
            &[("p/v", "{{ 7*7 }} $(rm -rf /) `id` \"'")],
            &[("p/copy", QuestionType::String, "answers[\"p/v\"]")],
        )
        .expect("derive");
        assert_eq!(out["p/copy"], "{{ 7*7 }} $(rm -rf /) `id` \"'");
    }
}
