//! Any bytes as an environment document, native or DataONE (the first
//! byte picks how it is read): an accepted document or `Error::Invalid`
//! with problems naming the file — never a panic, a hang or a crash in
//! libxml2.

#![no_main]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::OnceLock;

use confpack::env::{self, Validation};
use confpack::error::Error;
use libfuzzer_sys::fuzz_target;

/// The reader takes a path: one scratch file per process, rewritten.
fn scratch() -> &'static tempfile::NamedTempFile {
    static FILE: OnceLock<tempfile::NamedTempFile> = OnceLock::new();
    FILE.get_or_init(|| tempfile::NamedTempFile::new().expect("scratch file"))
}

fn rules() -> BTreeMap<String, String> {
    [
        ("acme-node/context.label", "environment.context"),
        (
            "acme-node/iplist",
            "environment.machines | map(attribute=\"ip\") | join(\" \")",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let path = scratch().path();
    let mut file = std::fs::File::create(path).expect("rewrite the scratch file");
    file.write_all(bytes).expect("write");
    drop(file);
    let validation = if mode & 1 == 0 {
        Validation::Builtin
    } else {
        Validation::AlreadyValidated
    };
    let first = std::cell::Cell::new(true);
    let retain = |_: &env::model::Environment| mode & 2 == 0 || first.replace(false);
    match env::read_document(path, "fuzz.xml", validation, &rules(), &retain) {
        Ok(document) => {
            for environment in &document.environments {
                for value in &environment.values {
                    assert!((value.template as usize) < document.templates.len());
                }
            }
        }
        Err(Error::Invalid(problems)) => {
            assert!(!problems.is_empty());
            assert!(problems.iter().all(|p| p.file == "fuzz.xml"));
        }
        Err(other) => panic!("expected Ok or Error::Invalid, got {other:?}"),
    }
});
