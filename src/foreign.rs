//! Answers for other packages' debconf questions ("foreign" questions: a
//! mail server's mailer type, a time zone): what confpack, as debconf's
//! agent, answers without asking, and what it keeps afterwards.
//!
//! The sources, as for confpack's own questions:
//! - a person's answer (stored with source `user`: `confpack set
//!   postfix/mailname …`, or answered in confpack's frontend earlier) wins:
//!   when the document says otherwise, that is a conflict, kept with one
//!   warning (the person's value stays);
//! - else the environment document's `<debconf>` value for this node
//!   (source `configured`), from the documents of the installed confpack
//!   packages, with the machine's value over its environment's;
//! - else a value stored as configured (`import-debconf`, `set --source
//!   configured`).
//!
//! Without any of them the package's own default stands, and the question
//! is asked when debconf's priority says so (or listed as unanswered when
//! nobody can be asked).

use std::collections::BTreeMap;
use std::path::Path;

use crate::Listener;
use crate::env::load::{DocumentSource, load};
use crate::env::model::{QuestionType, Source};
use crate::error::Result;
use crate::package::Package;
use crate::paths::Paths;
use crate::select::Selector;
use crate::store::{Batch, StoredAnswer};

/// A value the agent gives without asking, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    pub value: String,
    pub source: Source,
    /// For messages: `confpack set`, a document's file and line.
    pub origin: String,
}

/// The answers for foreign questions on this node.
#[derive(Debug, Default, Clone)]
pub struct Foreign {
    presets: BTreeMap<String, Preset>,
    stored: BTreeMap<String, StoredAnswer>,
}

/// A value for `key` from the documents: the value and where it is.
pub type DocumentValues = BTreeMap<String, (String, String)>;

impl Foreign {
    /// Merges the stored answers with the documents' values (see the
    /// module header); a conflict is one warning naming both.
    pub fn new(
        stored: BTreeMap<String, StoredAnswer>,
        documents: DocumentValues,
        listener: &mut dyn Listener,
    ) -> Foreign {
        let mut presets = BTreeMap::new();
        for (key, (value, origin)) in documents {
            match stored.get(&key) {
                Some(answer) if answer.source == Source::User => {
                    if answer.value.as_deref() != Some(value.as_str()) {
                        let shown = |v: &str| match answer.secret {
                            true => crate::output::MASK.to_string(),
                            false => format!("{v:?}"),
                        };
                        listener.warning(&format!(
                            "{key}: kept your value {} (the document {origin} says {}); \
                             `confpack set {key} VALUE` changes it",
                            shown(answer.value.as_deref().unwrap_or_default()),
                            shown(&value)
                        ));
                    }
                }
                _ => {
                    presets.insert(
                        key,
                        Preset {
                            value,
                            source: Source::Configured,
                            origin,
                        },
                    );
                }
            }
        }
        for (key, answer) in &stored {
            let Some(value) = &answer.value else { continue };
            if answer.source == Source::User || !presets.contains_key(key) {
                presets.insert(
                    key.clone(),
                    Preset {
                        value: value.clone(),
                        source: answer.source,
                        origin: "confpack's answers".into(),
                    },
                );
            }
        }
        Foreign { presets, stored }
    }

    /// The value to answer `tag` with, if any.
    pub fn preset(&self, tag: &str) -> Option<&Preset> {
        self.presets.get(tag)
    }

    /// What a session answered, as confpack's records: each foreign
    /// question once answered keeps its value (source `user` when a person
    /// gave it, else where it came from), owned by its package.
    pub fn record(
        &self,
        answered: &BTreeMap<String, Answered>,
        batch: &mut Batch,
    ) -> Result<usize> {
        let mut changed = 0;
        for (tag, answer) in answered {
            let source = match (answer.by_person, self.presets.get(tag)) {
                (true, _) => Source::User,
                (false, Some(preset)) => preset.source,
                (false, None) => continue,
            };
            let owner = tag.split('/').next().unwrap_or_default().to_string();
            let mut owners = self
                .stored
                .get(tag)
                .map(|a| a.owners.clone())
                .unwrap_or_default();
            owners.insert(owner);
            let record = StoredAnswer {
                value: Some(answer.value.clone()),
                source,
                seen: true,
                owners,
                question_type: answer.question_type,
                secret: answer.question_type.is_secret(),
            };
            if self.stored.get(tag) != Some(&record) {
                batch.set_answer(tag, &record)?;
                changed += 1;
            }
        }
        Ok(changed)
    }
}

/// One foreign question's answer at the end of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub value: String,
    pub question_type: QuestionType,
    /// A person gave it (not a preset, not the package's default).
    pub by_person: bool,
}

/// The `<debconf>` values for this node in the documents of the installed
/// confpack packages (each document read once). Two documents that
/// disagree: the first package's (by name) wins, with a warning.
pub fn document_values(
    paths: &Paths,
    selector: &Selector,
    listener: &mut dyn Listener,
) -> DocumentValues {
    let mut values: DocumentValues = BTreeMap::new();
    let mut read = std::collections::BTreeSet::new();
    for package in installed_packages(&paths.root) {
        let Ok(installed) = Package::load(&paths.root, &package) else {
            continue;
        };
        let local = installed.local_document(&paths.root);
        let sum = crate::files::file_sha256(&local).unwrap_or_default();
        if sum.is_empty() || !read.insert(sum) {
            continue;
        }
        let source = DocumentSource::new(None, Some(local.clone()), paths.cache.clone());
        let document = match load(&source, &|e| selector.retains(e)) {
            Ok(loaded) => loaded.document,
            Err(error) => {
                listener.warning(&format!(
                    "{package}: its document is not used for other packages' questions: {error}"
                ));
                continue;
            }
        };
        let Ok(selection) = selector.select(&document) else {
            continue;
        };
        let lines = selection
            .environment
            .debconf
            .iter()
            .chain(selection.machine.iter().flat_map(|m| m.debconf.iter()))
            .map(|v| (v.key.clone(), v.line))
            .collect::<BTreeMap<_, _>>();
        for (key, value) in selection.debconf_values() {
            let origin = format!("{}:{}", local.display(), lines.get(&key).unwrap_or(&0));
            match values.get(&key) {
                Some((earlier, first)) if *earlier != value => listener.warning(&format!(
                    "{key}: {first} and {origin} give different values; {first}'s is used"
                )),
                Some(_) => {}
                None => {
                    values.insert(key, (value, origin));
                }
            }
        }
    }
    values
}

/// The packages with confpack files under `<root>/usr/share/confpack`.
fn installed_packages(root: &Path) -> Vec<String> {
    let dir = crate::files::rooted(root, Path::new("/usr/share/confpack"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordingListener;
    use std::collections::BTreeSet;

    fn stored(value: &str, source: Source) -> StoredAnswer {
        StoredAnswer {
            value: Some(value.into()),
            source,
            seen: true,
            owners: BTreeSet::from(["postfix".to_string()]),
            question_type: QuestionType::String,
            secret: false,
        }
    }

    fn documents(pairs: &[(&str, &str)]) -> DocumentValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), (v.to_string(), "env.xml:7".to_string())))
            .collect()
    }

    #[test]
    fn a_persons_answer_wins_over_the_document_with_one_warning() {
        let mut listener = RecordingListener::default();
        let foreign = Foreign::new(
            BTreeMap::from([(
                "postfix/mailname".to_string(),
                stored("mine.example.com", Source::User),
            )]),
            documents(&[
                ("postfix/mailname", "example.com"),
                ("postfix/main_mailer_type", "Internet Site"),
            ]),
            &mut listener,
        );
        assert_eq!(
            foreign.preset("postfix/mailname").map(|p| p.value.as_str()),
            Some("mine.example.com")
        );
        let mailer = foreign.preset("postfix/main_mailer_type").expect("preset");
        assert_eq!(
            (mailer.value.as_str(), mailer.source),
            ("Internet Site", Source::Configured)
        );
        assert_eq!(listener.warnings.len(), 1, "{:?}", listener.warnings);
        assert!(listener.warnings[0].contains("kept your value \"mine.example.com\""));
    }

    #[test]
    fn the_document_wins_over_a_configured_stored_value_and_none_means_the_default() {
        let mut listener = RecordingListener::default();
        let foreign = Foreign::new(
            BTreeMap::from([
                (
                    "tzdata/Areas".to_string(),
                    stored("America", Source::Configured),
                ),
                (
                    "tzdata/Zones/Europe".to_string(),
                    stored("Berlin", Source::Configured),
                ),
            ]),
            documents(&[("tzdata/Areas", "Europe")]),
            &mut listener,
        );
        assert_eq!(
            foreign.preset("tzdata/Areas").map(|p| p.value.as_str()),
            Some("Europe")
        );
        assert_eq!(
            foreign
                .preset("tzdata/Zones/Europe")
                .map(|p| p.value.as_str()),
            Some("Berlin")
        );
        assert!(foreign.preset("keyboard-configuration/layout").is_none());
        assert!(listener.warnings.is_empty());
    }

    #[test]
    fn answers_are_recorded_with_their_source_and_owner_and_secrets_marked() {
        let mut listener = RecordingListener::default();
        let foreign = Foreign::new(
            BTreeMap::new(),
            documents(&[("postfix/mailname", "example.com")]),
            &mut listener,
        );
        let answered = BTreeMap::from([
            (
                "postfix/mailname".to_string(),
                Answered {
                    value: "example.com".into(),
                    question_type: QuestionType::String,
                    by_person: false,
                },
            ),
            (
                "slapd/password1".to_string(),
                Answered {
                    value: "s3cret".into(),
                    question_type: QuestionType::Password,
                    by_person: true,
                },
            ),
            (
                "tzdata/Areas".to_string(),
                Answered {
                    value: "Etc".into(),
                    question_type: QuestionType::Select,
                    by_person: false,
                },
            ),
        ]);
        let mut batch = Batch::new();
        let changed = foreign.record(&answered, &mut batch).expect("record");
        assert_eq!(changed, 2, "the package's own default is not recorded");
        assert_eq!(
            batch.describe(),
            ["set answer/postfix/mailname", "set answer/slapd/password1"]
        );
    }
}
