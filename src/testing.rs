//! Builders for unit tests: documents, templates and stored answers made
//! in a line each, so a table test says only what differs between rows.

use std::collections::{BTreeMap, BTreeSet};

use crate::derive::values::Bindings;
use crate::env::model::{Document, Priority, QuestionType, Source, Template};
use crate::store::StoredAnswer;

/// A string question of `source`, priority high, without a default.
pub fn template(key: &str, source: Source) -> Template {
    Template {
        key: key.into(),
        question_type: QuestionType::String,
        priority: Priority::High,
        source,
        description: key.into(),
        extended: String::new(),
        choices: vec![],
        default: None,
        expression: None,
        line: 1,
        vouched: false,
        translations: Default::default(),
    }
}

/// A derived string question computed by `expression`.
pub fn derived(key: &str, expression: &str) -> Template {
    Template {
        expression: Some(expression.into()),
        ..template(key, Source::Derived)
    }
}

/// A document of `templates`, in that order; its lines are 1, 2, 3…
pub fn document(templates: Vec<Template>) -> Document {
    let mut document = Document::new("test.xml");
    for (i, mut template) in templates.into_iter().enumerate() {
        template.line = i as u64 + 1;
        assert!(document.add_template(template), "keys are unique");
    }
    document
}

/// A stored string answer.
pub fn stored(value: &str, source: Source, seen: bool) -> StoredAnswer {
    StoredAnswer {
        value: Some(value.into()),
        source,
        seen,
        owners: BTreeSet::new(),
        question_type: QuestionType::String,
        secret: false,
    }
}

/// Key/value pairs as a map.
pub fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect()
}

/// No environment or machine values; 64 KiB per value.
pub fn scope() -> Bindings {
    Bindings {
        environment: minijinja::Value::from(BTreeMap::<String, String>::new()),
        machine: minijinja::Value::from(BTreeMap::<String, String>::new()),
        max_value_bytes: 65536,
    }
}
