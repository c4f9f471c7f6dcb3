//! Any text as a derived expression and as a package template: a value or
//! an error, within the fuel — never a panic or a stack overflow (the
//! target runs on the main thread, like the binary).

#![no_main]

use std::collections::BTreeMap;

use confpack::derive::{self, Answers, KnownAnswer};
use confpack::env::model::QuestionType;
use confpack::error::Error;
use libfuzzer_sys::fuzz_target;
use minijinja::Value;

fuzz_target!(|text: &str| {
    let _ = derive::check_expression(text);
    let known: BTreeMap<String, KnownAnswer> = [("p/a", "x"), ("p/b", "{{ 7*7 }}")]
        .into_iter()
        .map(|(key, value)| {
            (
                key.to_string(),
                KnownAnswer {
                    question_type: QuestionType::String,
                    secret: false,
                    value: value.to_string(),
                },
            )
        })
        .collect();
    let answers = Answers::new(
        known,
        vec![
            ("d/a".to_string(), QuestionType::String, text.to_string()),
            (
                "d/b".to_string(),
                QuestionType::Multiselect,
                "answers[\"d/a\"]".to_string(),
            ),
        ],
    );
    let context = derive::context(&answers, Value::from(()), Value::from(()));
    match answers.compute_all(context) {
        Ok(values) => assert_eq!(values.len(), 2),
        Err(Error::Derive(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("expected Error::Derive, got {other:?}"),
    }
    if derive::check_template_tags(text).is_ok() {
        let _ = derive::jinja().render_str(text, ());
    }
});
