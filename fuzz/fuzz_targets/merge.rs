//! The merge engine's promises for any template, document value, stored
//! answer and settings: a configured document value wins over a stored
//! configured/default one; a run without a person never loses a stored
//! user value; a second run changes nothing; a secret stays secret.

#![no_main]

use std::collections::BTreeSet;

use confpack::env::model::{Priority, QuestionType, Source, Template};
use confpack::merge::{self, Settings};
use confpack::store::StoredAnswer;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const SOURCES: [Source; 4] = [
    Source::Configured,
    Source::Derived,
    Source::User,
    Source::Default,
];

fn value(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(u.choose(&["a", "b", "", "$(x)\n"])?.to_string())
}

fn optional(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(if u.arbitrary()? {
        Some(value(u)?)
    } else {
        None
    })
}

fn input(
    u: &mut Unstructured<'_>,
) -> Result<(Template, Option<String>, Option<StoredAnswer>, Settings)> {
    let template = Template {
        key: "pkg/q".into(),
        question_type: *u.choose(&QuestionType::ALL)?,
        priority: *u.choose(&Priority::ALL)?,
        source: *u.choose(&SOURCES)?,
        description: "Q".into(),
        extended: String::new(),
        choices: vec!["a".into(), "b".into()],
        default: optional(u)?,
        expression: None,
        line: 1,
        vouched: false,
        translations: Default::default(),
    };
    let document = optional(u)?;
    let stored = if u.arbitrary()? {
        Some(StoredAnswer {
            value: optional(u)?,
            source: *u.choose(&SOURCES)?,
            seen: u.arbitrary()?,
            owners: BTreeSet::new(),
            question_type: *u.choose(&QuestionType::ALL)?,
            secret: u.arbitrary()?,
        })
    } else {
        None
    };
    let settings = Settings {
        force: u.arbitrary()?,
        priority: *u.choose(&Priority::ALL)?,
    };
    Ok((template, document, stored, settings))
}

fn noninteractive(
    template: &Template,
    document: Option<&str>,
    stored: Option<&StoredAnswer>,
    settings: Settings,
) -> Option<StoredAnswer> {
    let planned = merge::decide(template, document, stored, settings);
    merge::resolve(template, &planned, document, stored, None, Some("pkg")).or(stored.cloned())
}

fuzz_target!(|data: &[u8]| {
    let Ok((template, document, stored, settings)) = input(&mut Unstructured::new(data)) else {
        return;
    };
    let after = noninteractive(&template, document.as_deref(), stored.as_ref(), settings);
    let valued = !template.question_type.is_display_only();
    if valued
        && template.source != Source::User
        && document.is_some()
        && stored.as_ref().is_none_or(|s| s.source != Source::User)
    {
        assert_eq!(after.as_ref().and_then(|a| a.value.clone()), document);
    }
    if let Some(stored) = &stored {
        if valued && stored.source == Source::User && stored.value.is_some() {
            assert_eq!(after.as_ref().and_then(|a| a.value.clone()), stored.value);
        }
        if stored.secret {
            assert!(after.as_ref().is_some_and(|a| a.secret));
        }
    }
    let planned = merge::decide(&template, document.as_deref(), after.as_ref(), settings);
    let second = merge::resolve(
        &template,
        &planned,
        document.as_deref(),
        after.as_ref(),
        None,
        Some("pkg"),
    );
    assert_eq!(second, None, "a second run changed {after:?}");
});
