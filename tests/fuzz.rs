//! Fuzz harnesses: random and mutated input for every parser and engine
//! that sees data from outside — the environment document reader (native
//! and DataONE), control.yml/role/package.yml parsing, the merge engine,
//! the derived-expression evaluator and the shell answer format.
//!
//! Why proptest and not cargo-fuzz: these run on the stable toolchain in
//! the one test binary, so CI fuzzes every change; `scripts/fuzz-long.sh`
//! runs the same properties for longer (and cargo-fuzz where a nightly
//! toolchain exists). Each property says what must hold for *any* input:
//! a clear error with its file and line, or a correct result — never a
//! panic, a hang, a stack overflow or a value that turns into code.
//!
//! Budget: [`cases`] gives a short default per property so the module
//! stays well under 30 s; `CONFPACK_FUZZ_CASES=N` runs N cases each.
//! The seed is fixed (CI is reproducible) unless `CONFPACK_FUZZ_SEED` is
//! set to a number or to `random`. Every case runs under [`bounded`], a
//! watchdog that fails the case instead of letting a hang stall the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use confpack::derive::{self, Answers, KnownAnswer};
use confpack::env::model::{Document, Priority, QuestionType, Source, Template};
use confpack::env::{self, Validation, dataone};
use confpack::error::{Error, Problem};
use confpack::merge::{self, Settings};
use confpack::output::{self, Format};
use confpack::store::StoredAnswer;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestCaseError};

use crate::common::{fixture, repo, sample};

/// Cases per property: `CONFPACK_FUZZ_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("CONFPACK_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn config(default_cases: u32) -> Config {
    let rng_seed = match std::env::var("CONFPACK_FUZZ_SEED").as_deref() {
        Ok("random") => RngSeed::Random,
        Ok(seed) => RngSeed::Fixed(seed.parse().unwrap_or(0x00c0_f1ac)),
        Err(_) => RngSeed::Fixed(0x00c0_f1ac),
    };
    Config {
        cases: cases(default_cases),
        rng_seed,
        // A failure prints its shrunk input; no regression files in tests/.
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    }
}

/// With `CONFPACK_FUZZ_TRACE=DIR`, writes each case's input to
/// `DIR/<what>.last` before it runs: a crash that kills the whole process
/// (a stack overflow aborts; proptest cannot shrink or print it) leaves its
/// input behind.
fn trace(what: &str, input: &dyn std::fmt::Debug) {
    if let Some(dir) = std::env::var_os("CONFPACK_FUZZ_TRACE") {
        // libtest names each test's thread after the test.
        let test = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .replace("::", "-");
        let path = Path::new(&dir).join(format!("{test}-{what}.last"));
        let _ = std::fs::write(path, format!("{input:#?}\n"));
    }
}

/// Longest one case may take (debug build, busy CI machine).
const CASE_LIMIT: Duration = Duration::from_secs(20);

/// Runs `work` on its own thread with the binary's main-thread stack (8 MiB;
/// test threads get 2 MiB) and fails if it does not finish within
/// [`CASE_LIMIT`]. A panic inside is passed on as the case's failure.
fn bounded<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = sender.send(work());
        })
        .expect("spawn the case's thread");
    match receiver.recv_timeout(CASE_LIMIT) {
        Ok(value) => {
            let _ = thread.join();
            value
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {CASE_LIMIT:?} (a hang)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => panic!("{what} ended without a result"),
        },
    }
}

// ---------------------------------------------------------------------------
// Environment documents
// ---------------------------------------------------------------------------

/// Markup and bytes that break or bend XML in interesting ways.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#1;",
    b"&#xD800;",
    b"&#x10FFFF;",
    b"&nosuch;",
    b"<!DOCTYPE environments>",
    b"<!DOCTYPE e [<!ENTITY a \"aaaaaaaaaa\">]>",
    b"<!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>",
    b"&a;",
    b"<![CDATA[x<y]]>",
    b"]]>",
    b"<!-- c -->",
    b"<!--",
    b"<?pi x?>",
    b"<?xml version=\"1.0\"?>",
    b"<?xml version=\"1.1\" encoding=\"ISO-8859-1\"?>",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\0",
    b"\r",
    b"\n",
    b" ",
    b"\"",
    b"'",
    b"=",
    b"/>",
    b"</",
    b"</template>",
    b"</environment>",
    b"<template key=\"a/b\" type=\"string\"><description>d</description></template>",
    b"<template key=\"webshop/db.host\" type=\"string\"><description>d</description></template>",
    b"<question key=\"a/b\">v</question>",
    b"<question key=\"webshop/db.host\">again</question>",
    b"<machine ip=\"10.10.0.21\"/>",
    b"<machine ip=\"10.0.0.1\" hostname=\"db1.prod.example.com\"/>",
    b"<environment context=\"production\"></environment>",
    b" xmlns=\"urn:other\"",
    b" xmlns:xi=\"http://www.w3.org/2001/XInclude\"",
    b"<xi:include href=\"file:///etc/passwd\" parse=\"text\"/>",
    b" xsi:schemaLocation=\"urn:confpack:environment:1 http://127.0.0.1:9/x.xsd\"",
    b"<expression>answers[\"webshop/db.host\"]</expression>",
    b"<choices><choice>a</choice><choice>a</choice></choices>",
    b"<default>x</default>",
];

/// Values put in place of an attribute value or a text node.
fn interesting_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("10.0.0.300".to_string()),
        Just("10.10.0.21".to_string()),
        Just("::1".to_string()),
        Just("fe80::1%eth0".to_string()),
        Just("a/b".to_string()),
        Just("webshop/db.host".to_string()),
        Just("production".to_string()),
        Just("x".repeat(10_000)),
        Just("é\u{202e}\u{feff}".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("string".to_string()),
        Just("password".to_string()),
        Just("boolean".to_string()),
        Just("select".to_string()),
        Just("multiselect".to_string()),
        Just("note".to_string()),
        Just("low".to_string()),
        Just("critical".to_string()),
        Just("configured".to_string()),
        Just("derived".to_string()),
        Just("user".to_string()),
        Just("answers[\"webshop/db.host\"]".to_string()),
        Just("answers[\"no/such\"]".to_string()),
        Just("answers[\"webshop/cluster.size\"]".to_string()),
        Just(format!("{}1", "-".repeat(5000))),
        Just(format!("x{}", ".a".repeat(3000))),
        Just("range(100000) | join(\",\")".to_string()),
        Just("{{ 7*7 }}".to_string()),
        Just("$(touch pwned) `id`".to_string()),
        Just("a, b\\, c".to_string()),
        "\\PC{0,40}",
        any::<String>(),
    ]
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One change to a document's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Delete(Index, usize),
    Insert(Index, Index),
    Duplicate(Index, usize, Index),
    Truncate(Index),
    /// Replaces an attribute value or a text node; escaped or raw.
    Replace(Index, String, bool),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        (any::<Index>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Mutation::Insert(at, token)),
        (any::<Index>(), 1usize..2048, any::<Index>())
            .prop_map(|(from, len, to)| Mutation::Duplicate(from, len, to)),
        any::<Index>().prop_map(Mutation::Truncate),
        (
            any::<Index>(),
            interesting_value(),
            prop::bool::weighted(0.85)
        )
            .prop_map(|(which, value, escaped)| Mutation::Replace(which, value, escaped)),
        (
            any::<Index>(),
            interesting_value(),
            prop::bool::weighted(0.85)
        )
            .prop_map(|(which, value, escaped)| Mutation::Replace(which, value, escaped)),
    ]
}

/// Byte ranges of attribute values (`="…"`) and non-blank text nodes.
fn value_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"=\"") {
            let start = i + 2;
            if let Some(len) = bytes[start..].iter().position(|&b| b == b'"') {
                spans.push((start, start + len));
                i = start + len;
            }
        } else if bytes[i] == b'>' {
            let start = i + 1;
            if let Some(len) = bytes[start..].iter().position(|&b| b == b'<')
                && !bytes[start..start + len].trim_ascii().is_empty()
            {
                spans.push((start, start + len));
            }
        }
        i += 1;
    }
    spans
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for mutation in mutations {
        let at = |index: &Index, bytes: &Vec<u8>| index.index(bytes.len() + 1);
        match mutation {
            Mutation::Flip(index, byte) if !bytes.is_empty() => {
                let i = index.index(bytes.len());
                bytes[i] ^= byte | 1;
            }
            Mutation::Flip(..) => {}
            Mutation::Delete(index, len) => {
                let start = at(index, &bytes);
                let end = (start + len).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert(index, token) => {
                let start = at(index, &bytes);
                let token = TOKENS[token.index(TOKENS.len())];
                bytes.splice(start..start, token.iter().copied());
            }
            Mutation::Duplicate(from, len, to) => {
                let start = at(from, &bytes);
                let end = (start + len).min(bytes.len());
                let piece = bytes[start..end].to_vec();
                let to = at(to, &bytes);
                bytes.splice(to..to, piece);
            }
            Mutation::Truncate(index) => {
                let end = at(index, &bytes);
                bytes.truncate(end);
            }
            Mutation::Replace(which, value, escaped) => {
                let spans = value_spans(&bytes);
                if spans.is_empty() {
                    continue;
                }
                let (start, end) = spans[which.index(spans.len())];
                let value = if *escaped {
                    escape_xml(value)
                } else {
                    value.clone()
                };
                bytes.splice(start..end, value.into_bytes());
            }
        }
    }
    bytes
}

/// Where a harness writes the document it reads (the reader takes a path).
fn scratch_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write the document");
    (dir, path)
}

/// Problems about the whole document, which have no line to point at.
fn document_wide(problem: &Problem) -> bool {
    [
        "unknown document type",
        "the document has no root element",
        "no <environment>",
        "libxml2 could not",
    ]
    .iter()
    .any(|text| problem.message.contains(text))
}

/// What any read of a document must give: a document that is consistent
/// in itself, or `Error::Invalid` whose problems each name the file and
/// (but for document-wide ones) a line.
fn check_read(result: Result<Document, Error>, origin: &str) -> Result<(), TestCaseError> {
    check_read_as(result, origin, false)
}

/// [`check_read`]; `schema_checked`: the built-in XSD validated the
/// document, so its keys have the `owner/name` form too.
fn check_read_as(
    result: Result<Document, Error>,
    origin: &str,
    schema_checked: bool,
) -> Result<(), TestCaseError> {
    match result {
        Ok(document) => check_document(&document, origin, schema_checked),
        Err(Error::Invalid(problems)) => {
            prop_assert!(!problems.is_empty(), "Error::Invalid without a problem");
            for problem in &problems {
                prop_assert_eq!(&problem.file, origin);
                prop_assert!(
                    !problem.message.trim().is_empty(),
                    "empty message: {problem:?}"
                );
                prop_assert!(
                    problem.line.is_some_and(|line| line >= 1) || document_wide(problem),
                    "a problem without a line: {problem}"
                );
            }
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!(
            "expected Ok or Error::Invalid, got {other:#} ({other:?})"
        ))),
    }
}

/// An accepted document keeps its promises: every value belongs to a
/// template and is valid for its type, every machine has its address, and
/// (natively; DataONE rules are checked by configure) every derived
/// question has its expression.
fn check_document(
    document: &Document,
    origin: &str,
    schema_checked: bool,
) -> Result<(), TestCaseError> {
    let dataone = document.warnings.iter().any(|w| w.contains("DataONE"))
        || document
            .templates
            .iter()
            .any(|t| t.key.starts_with("acme-node/"))
        || origin.starts_with("acme");
    let mut keys = BTreeSet::new();
    for template in &document.templates {
        prop_assert!(keys.insert(&template.key), "{} twice", template.key);
        if schema_checked && !dataone {
            prop_assert!(template.key.contains('/'), "key {:?}", template.key);
        }
        if template.source == Source::Derived && !dataone {
            prop_assert!(
                template.expression.is_some(),
                "derived {} without an expression",
                template.key
            );
        }
    }
    for environment in &document.environments {
        let values = environment
            .values
            .iter()
            .chain(environment.machines.iter().flat_map(|m| &m.values));
        for value in values {
            let template = document.templates.get(value.template as usize);
            prop_assert!(template.is_some(), "value of a missing template");
            let template = template.expect("checked");
            if template.source != Source::Derived {
                let checked = template
                    .question_type
                    .check(&value.value, &template.choices);
                prop_assert!(
                    checked.is_ok(),
                    "{} = {:?} accepted: {:?}",
                    template.key,
                    value.value,
                    checked
                );
            }
        }
        for machine in &environment.machines {
            prop_assert!(
                machine.ip_text.is_empty() || machine.ip.is_some(),
                "machine {:?} without a parsed address",
                machine.ip_text
            );
        }
    }
    Ok(())
}

fn seed_bytes(path: &Path) -> &'static [u8] {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    static ACME: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = if path.ends_with("sample-env.xml") {
        &SAMPLE
    } else {
        &ACME
    };
    cell.get_or_init(|| std::fs::read(path).expect("seed document"))
}

fn acme_rules() -> BTreeMap<String, String> {
    let path = fixture("dataone/acme-rules.txt");
    let text = std::fs::read_to_string(&path).expect("rules");
    let origin = path.display().to_string();
    dataone::parse_rules(
        text.lines()
            .enumerate()
            .map(|(i, line)| (origin.clone(), Some(i as u64 + 1), line)),
    )
    .expect("the fixture's rules parse")
}

/// Reads `bytes` as a document in every way configure and validate do.
fn read_every_way(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    trace("document", &String::from_utf8_lossy(&bytes));
    bounded("reading a document", move || {
        let (_dir, path) = scratch_file("env.xml", &bytes);
        let origin = "env.xml";
        check_read_as(
            env::validate(&path, origin, Validation::Builtin),
            origin,
            true,
        )?;
        // configure: one environment retained, the DataONE rules given.
        let rules = acme_rules();
        let first = std::cell::Cell::new(true);
        let retain = |_: &env::model::Environment| first.replace(false);
        check_read(
            env::read_document(&path, origin, Validation::Builtin, &rules, &retain),
            origin,
        )?;
        // an unchanged cached copy: confpack's own checks only.
        check_read(
            env::read_document(&path, origin, Validation::AlreadyValidated, &rules, &|_| {
                true
            }),
            origin,
        )
    })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn arbitrary_bytes_are_a_document_or_problems_with_lines(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        read_every_way(bytes)?;
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_prolog_are_a_document_or_problems(
        body in "\\PC{0,300}",
    ) {
        let text = format!(
            "<?xml version=\"1.0\"?>\n<environments xmlns=\"urn:confpack:environment:1\" version=\"1\">\n{body}\n</environments>\n"
        );
        read_every_way(text.into_bytes())?;
    }

    #[test]
    fn mutations_of_the_sample_are_a_document_or_problems_with_lines(
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        read_every_way(mutate(seed_bytes(&sample()), &mutations))?;
    }

    #[test]
    fn mutations_of_a_dataone_document_are_a_document_or_problems_with_lines(
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let path = fixture("dataone/acme-v1.xml");
        let bytes = mutate(seed_bytes(&path), &mutations);
        trace("dataone", &String::from_utf8_lossy(&bytes));
        bounded("reading a DataONE document with its XSD", move || {
            let (_dir, file) = scratch_file("acme.xml", &bytes);
            let schema = fixture("dataone/acme-v1.xsd");
            check_read(
                env::read_document(&file, "acme.xml", Validation::File(&schema), &acme_rules(), &|_| true),
                "acme.xml",
            )
        })?;
        read_every_way(mutate(seed_bytes(&path), &mutations))?;
    }

    #[test]
    fn derive_rules_of_any_text_parse_or_name_their_line(
        lines in prop::collection::vec("\\PC{0,60}", 0..8),
    ) {
        let result = dataone::parse_rules(
            lines
                .iter()
                .enumerate()
                .map(|(i, line)| ("rules".to_string(), Some(i as u64 + 1), line.as_str())),
        );
        match result {
            Ok(rules) => {
                for (key, expression) in &rules {
                    prop_assert!(key.contains('/') && !expression.trim().is_empty());
                }
            }
            Err(Error::Invalid(problems)) => {
                prop_assert!(!problems.is_empty());
                prop_assert!(problems.iter().all(|p| p.line.is_some()));
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}

#[test]
fn the_seed_documents_are_valid_so_mutations_start_from_a_good_document() {
    let sample_doc = env::validate(&sample(), "sample", Validation::Builtin);
    assert!(sample_doc.is_ok(), "{:?}", sample_doc.err());
    let acme = fixture("dataone/acme-v1.xml");
    let read = env::read_document(
        &acme,
        "acme",
        Validation::File(&fixture("dataone/acme-v1.xsd")),
        &acme_rules(),
        &|_| true,
    );
    assert!(read.is_ok(), "{:?}", read.err());
}

// ---------------------------------------------------------------------------
// control.yml, roles, package.yml
// ---------------------------------------------------------------------------

fn yaml_seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let examples = repo().join("examples");
        let mut seeds: Vec<String> = [
            "confpack.yml",
            "roles/base.yml",
            "roles/webserver.yml",
            "packages/webshop-nginx/control/control.yml",
            "packages/webshop-app/control/control.yml",
            "packages/motd/control/control.yml",
        ]
        .iter()
        .map(|p| std::fs::read_to_string(examples.join(p)).expect("example yaml"))
        .collect();
        seeds.push(
            std::fs::read_to_string(fixture("packages/webshop/package.yml")).expect("package.yml"),
        );
        seeds
    })
}

const YAML_TOKENS: &[&str] = &[
    ":",
    "- ",
    "\n",
    "  ",
    "\t",
    "#",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "!tag ",
    "? ",
    "|",
    ">",
    "'",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    "~",
    "null",
    "1.10",
    "0o777",
    "0x1F",
    "1e999",
    "-.inf",
    ".nan",
    "yes",
    "version: 1.10\n",
    "depends: [a, b]\n",
    "modes:\n  /etc/x: \"0640\"\n",
    "hooks:\n  - name: h\n    run: []\n",
    "environment:\n  file: /etc/passwd\n",
    "environment:\n  file: ../../../../x\n",
    "<<: *a\n",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "\0",
];

/// A YAML alias bomb: each level doubles the one before.
fn yaml_bomb(levels: usize) -> String {
    let mut text = String::from("a0: &a0 [x, x]\n");
    for level in 1..levels {
        let previous = level - 1;
        text.push_str(&format!(
            "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"
        ));
    }
    text
}

fn check_yaml(text: &str) -> Result<(), TestCaseError> {
    use confpack::builder::manifest::{Located, Manifest, RepositoryConfig, parse};
    let file = "packages/x/control/control.yml";
    for result in [
        parse::<Manifest>(file, text).map(|_| ()),
        parse::<RepositoryConfig>(file, text).map(|_| ()),
    ] {
        if let Err(problem) = result {
            prop_assert_eq!(&problem.file, file);
            prop_assert!(!problem.message.is_empty());
        }
    }
    let _ = yaml_serde::from_str::<confpack::package::PackageConfig>(text);
    let located = Located {
        file: file.to_string(),
        text: text.to_string(),
    };
    for key in ["version", "depends", "modes", "hooks", "environment", ""] {
        if let Some(line) = located.key_line(key) {
            prop_assert!(line >= 1 && line as usize <= text.lines().count());
            let value_line = located.value_line(key, "x");
            prop_assert!(value_line.is_some_and(|v| v >= line));
        }
    }
    Ok(())
}

fn yaml_case() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        (
            any::<Index>(),
            prop::collection::vec((any::<Index>(), any::<Index>(), any::<bool>()), 1..6)
        )
            .prop_map(|(seed, edits)| {
                let seeds = yaml_seeds();
                let mut text = seeds[seed.index(seeds.len())].clone();
                for (at, token, delete) in edits {
                    let mut cut = at.index(text.len() + 1);
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    if delete {
                        let mut end = (cut + 8).min(text.len());
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        text.replace_range(cut..end, "");
                    } else {
                        text.insert_str(cut, YAML_TOKENS[token.index(YAML_TOKENS.len())]);
                    }
                }
                text
            }),
        (3usize..40).prop_map(yaml_bomb),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_yaml_is_a_manifest_or_a_problem_in_its_file(text in yaml_case()) {
        trace("yaml", &text);
        bounded("parsing YAML", move || check_yaml(&text))?;
    }

    #[test]
    fn package_names_versions_and_maintainers_are_checked_without_panics(text in "\\PC{0,40}") {
        use confpack::deb::control::{check_maintainer, check_package_name, check_version};
        let _ = check_package_name(&text);
        let _ = check_version(&text);
        let _ = check_maintainer(&text);
        if confpack::package::valid_package_name(&text) {
            // A package name becomes a directory: /usr/share/confpack/<name>.
            prop_assert!(text.len() >= 2 && !text.contains('/') && !text.starts_with('.'));
            prop_assert!(check_package_name(&text).is_ok());
        }
    }
}

#[test]
fn a_yaml_alias_bomb_is_refused_or_parsed_quickly() {
    let started = std::time::Instant::now();
    let text = yaml_bomb(40) + "version: \"1\"\n";
    let result = bounded("a YAML alias bomb", move || {
        confpack::builder::manifest::parse::<confpack::builder::manifest::Manifest>(
            "control.yml",
            &text,
        )
        .map(|_| ())
    });
    assert!(result.is_err(), "unknown keys a0… must be refused");
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------
// The merge engine
// ---------------------------------------------------------------------------

fn question_type() -> impl Strategy<Value = QuestionType> {
    prop::sample::select(QuestionType::ALL.to_vec())
}

fn source() -> impl Strategy<Value = Source> {
    prop::sample::select(vec![
        Source::Configured,
        Source::Derived,
        Source::User,
        Source::Default,
    ])
}

fn priority() -> impl Strategy<Value = Priority> {
    prop::sample::select(Priority::ALL.to_vec())
}

/// Few distinct values, so equal and different values both come up often.
fn small_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just(String::new()),
        Just("$(x) {{ y }}\n'".to_string()),
    ]
}

fn template() -> impl Strategy<Value = Template> {
    (
        question_type(),
        priority(),
        source(),
        prop::option::of(small_value()),
    )
        .prop_map(|(question_type, priority, source, default)| Template {
            key: "pkg/q".to_string(),
            question_type,
            priority,
            source,
            description: "Q".to_string(),
            extended: String::new(),
            choices: vec!["a".to_string(), "b".to_string()],
            default,
            expression: None,
            line: 1,
            vouched: false,
            translations: Default::default(),
        })
}

fn stored() -> impl Strategy<Value = StoredAnswer> {
    (
        prop::option::of(small_value()),
        source(),
        any::<bool>(),
        question_type(),
        any::<bool>(),
        prop::collection::btree_set(prop::sample::select(vec!["pkg", "other"]), 0..2),
    )
        .prop_map(
            |(value, source, seen, question_type, secret, owners)| StoredAnswer {
                value,
                source,
                seen,
                owners: owners.into_iter().map(str::to_string).collect(),
                question_type,
                secret,
            },
        )
}

fn settings() -> impl Strategy<Value = Settings> {
    (any::<bool>(), priority()).prop_map(|(force, priority)| Settings { force, priority })
}

/// The template with a type that carries a value (not a note).
fn valued(template: Template) -> Template {
    if template.question_type.is_display_only() {
        Template {
            question_type: QuestionType::String,
            ..template
        }
    } else {
        template
    }
}

/// The template with a source the document is the authority for.
fn not_user(template: Template) -> Template {
    if template.source == Source::User {
        Template {
            source: Source::Configured,
            ..template
        }
    } else {
        template
    }
}

/// The stored answer as a value a person entered.
fn user_value(stored: StoredAnswer) -> StoredAnswer {
    StoredAnswer {
        source: Source::User,
        value: Some(stored.value.unwrap_or_else(|| "u".to_string())),
        ..stored
    }
}

/// One run without a person: decide, then resolve with no answer. Returns
/// what is stored afterwards.
fn noninteractive(
    template: &Template,
    document: Option<&str>,
    stored: Option<&StoredAnswer>,
    settings: Settings,
) -> Option<StoredAnswer> {
    let planned = merge::decide(template, document, stored, settings);
    let next = merge::resolve(template, &planned, document, stored, None, Some("pkg"));
    next.or_else(|| stored.cloned())
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn a_configured_document_value_wins_over_a_stored_configured_or_default_value(
        template in template(),
        document in small_value(),
        stored in prop::option::of(stored()),
        settings in settings(),
    ) {
        let template = not_user(valued(template));
        let stored = stored.map(|mut s| {
            if s.source == Source::User {
                s.source = Source::Configured;
            }
            s
        });
        let after = noninteractive(&template, Some(&document), stored.as_ref(), settings);
        prop_assert_eq!(after.and_then(|a| a.value), Some(document));
    }

    #[test]
    fn a_run_without_a_person_never_loses_a_stored_user_value(
        template in template(),
        document in prop::option::of(small_value()),
        stored in stored(),
        settings in settings(),
    ) {
        let template = valued(template);
        let stored = user_value(stored);
        let after = noninteractive(&template, document.as_deref(), Some(&stored), settings);
        prop_assert_eq!(after.and_then(|a| a.value), stored.value);
    }

    #[test]
    fn the_user_flag_is_dropped_only_for_a_value_equal_to_the_documents(
        template in template(),
        document in prop::option::of(small_value()),
        stored in stored(),
        settings in settings(),
        answer in prop::option::of(small_value()),
    ) {
        let template = valued(template);
        let stored = user_value(stored);
        let planned = merge::decide(&template, document.as_deref(), Some(&stored), settings);
        let answer = answer.filter(|_| planned.shown());
        let after = merge::resolve(
            &template, &planned, document.as_deref(), Some(&stored), answer.as_deref(), Some("pkg"),
        )
        .unwrap_or_else(|| stored.clone());
        // Seed 003: without a document value the template default is the
        // authority an unchanged answer falls back to.
        if after.source != Source::User {
            prop_assert_eq!(
                after.value.as_deref(),
                document.as_deref().or(template.default.as_deref())
            );
        }
    }

    #[test]
    fn an_answer_given_to_an_asked_question_is_stored(
        template in template(),
        document in prop::option::of(small_value()),
        stored in prop::option::of(stored()),
        settings in settings(),
        answer in small_value(),
    ) {
        let template = valued(template);
        let planned = merge::decide(&template, document.as_deref(), stored.as_ref(), settings);
        if !planned.shown() {
            // A frontend only answers what it shows.
            return Ok(());
        }
        let after = merge::resolve(
            &template, &planned, document.as_deref(), stored.as_ref(), Some(&answer), Some("pkg"),
        )
        .or(stored.clone());
        let after = after.expect("something is stored");
        prop_assert_eq!(after.value.as_deref(), Some(answer.as_str()));
        prop_assert!(after.seen);
        // Only a value the person changed is a user answer: one equal to the
        // document's value (without one, the template default) is not.
        let by_document = match document.as_deref() {
            Some(document) => document == answer,
            None => template.default.as_deref() == Some(answer.as_str()),
        };
        prop_assert_eq!(after.source == Source::User, !by_document);
    }

    #[test]
    fn a_second_run_with_nothing_changed_changes_nothing(
        template in template(),
        document in prop::option::of(small_value()),
        stored in prop::option::of(stored()),
        settings in settings(),
    ) {
        let first = noninteractive(&template, document.as_deref(), stored.as_ref(), settings);
        let planned = merge::decide(&template, document.as_deref(), first.as_ref(), settings);
        let second =
            merge::resolve(&template, &planned, document.as_deref(), first.as_ref(), None, Some("pkg"));
        prop_assert_eq!(second, None, "first run stored {:?}", first);
    }

    #[test]
    fn a_secret_stays_secret(
        template in template(),
        document in prop::option::of(small_value()),
        stored in stored(),
        settings in settings(),
        answer in prop::option::of(small_value()),
    ) {
        let stored = StoredAnswer { secret: true, ..stored };
        let planned = merge::decide(&template, document.as_deref(), Some(&stored), settings);
        let answer = answer.filter(|_| planned.shown());
        let after = merge::resolve(
            &template, &planned, document.as_deref(), Some(&stored), answer.as_deref(), Some("pkg"),
        )
        .unwrap_or_else(|| stored.clone());
        prop_assert!(after.secret, "{:?} became visible: {:?}", stored, after);
    }

    #[test]
    fn the_owning_package_is_always_recorded(
        template in template(),
        document in prop::option::of(small_value()),
        stored in prop::option::of(stored()),
        settings in settings(),
    ) {
        let before = stored.as_ref().map(|s| s.owners.clone()).unwrap_or_default();
        if let Some(after) = noninteractive(&template, document.as_deref(), stored.as_ref(), settings) {
            prop_assert!(after.owners.contains("pkg"), "{:?}", after);
            prop_assert!(after.owners.is_superset(&before));
        }
    }
}

// ---------------------------------------------------------------------------
// Derived expressions
// ---------------------------------------------------------------------------

const DERIVED: [&str; 4] = ["d/0", "d/1", "d/2", "d/3"];

fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec![
            "1",
            "0",
            "-1",
            "1.5",
            "99999999999999999999999999999999999999999",
            "\"a\"",
            "'x, y'",
            "\"\"",
            "none",
            "true",
            "answers",
            "environment",
            "machine",
            "machine.ip",
            "environment.machines",
            "environment.context",
            "environment.machine_values[\"webshop/workers\"]",
            "answers[\"p/a\"]",
            "answers[\"p/code\"]",
            "answers[\"p/list\"]",
            "answers[\"p/flag\"]",
            "answers[\"p/secret\"]",
            "answers[\"d/0\"]",
            "answers[\"d/1\"]",
            "answers[\"d/2\"]",
            "answers[\"d/3\"]",
            "answers[\"no/such\"]",
            "range(100000)",
            "range(100000000)",
            "\"ab\" * 99999999999",
            "[1, 2] * 99999999",
            "undefined_name",
            "loop",
            "self",
        ])
        .prop_map(str::to_string),
        (0i64..100).prop_map(|n| n.to_string()),
        "[a-z]{1,3}",
        "\\PC{0,6}".prop_map(|s| format!("{s:?}")),
    ];
    let operator = prop::sample::select(vec![
        "+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">=", "in", "not in", "and",
        "or", "is", "is not",
    ]);
    let filter = prop::sample::select(vec![
        "upper",
        "lower",
        "length",
        "list",
        "join(\" \")",
        "join",
        "sort",
        "reverse",
        "unique",
        "first",
        "last",
        "string",
        "int",
        "float",
        "abs",
        "trim",
        "title",
        "replace(\"a\", \"bb\")",
        "map(attribute=\"ip\")",
        "map(\"string\")",
        "select",
        "reject",
        "batch(3)",
        "slice(2)",
        "default(\"x\")",
        "tojson",
        "items",
        "dictsort",
        "round",
        "sum",
        "min",
        "max",
        "indent(4)",
        "wordcount",
        "split",
        "split(\",\")",
        "attr(\"x\")",
        "safe",
        "escape",
        "urlencode",
        "pprint",
        "nosuchfilter",
    ]);
    leaf.prop_recursive(4, 48, 4, move |inner| {
        prop_oneof![
            (inner.clone(), operator.clone(), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("not {a}")),
            (inner.clone(), filter.clone()).prop_map(|(a, f)| format!("{a} | {f}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} if {b} else {c})")),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            (inner.clone(), "[a-z_]{1,6}").prop_map(|(a, name)| format!("{a}.{name}")),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{{k}: {v}}}")),
            inner.clone().prop_map(|a| format!("{a} is defined")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}({b})")),
        ]
    })
}

/// The sample's production environment as expressions see it.
fn sample_context_values() -> (minijinja::Value, minijinja::Value) {
    static VALUES: OnceLock<(minijinja::Value, minijinja::Value)> = OnceLock::new();
    VALUES
        .get_or_init(|| {
            let document =
                env::validate(&sample(), "sample", Validation::Builtin).expect("the sample");
            let environment = &document.environments[0];
            derive::environment_values(&document, environment, environment.machines.first())
        })
        .clone()
}

fn evaluate(expressions: Vec<String>) -> Result<BTreeMap<String, String>, Error> {
    let known: BTreeMap<String, KnownAnswer> = [
        ("p/a", QuestionType::String, "x"),
        (
            "p/code",
            QuestionType::String,
            "{{ 7*7 }} $(touch pwned) `id`",
        ),
        ("p/list", QuestionType::Multiselect, "a, b\\, c"),
        ("p/flag", QuestionType::Boolean, "true"),
        ("p/secret", QuestionType::Password, "hunter2"),
    ]
    .into_iter()
    .map(|(key, question_type, value)| {
        (
            key.to_string(),
            KnownAnswer {
                question_type,
                secret: question_type.is_secret(),
                value: value.to_string(),
            },
        )
    })
    .collect();
    let derived = DERIVED
        .iter()
        .zip(expressions)
        .enumerate()
        .map(|(i, (key, expression))| {
            let question_type = if i == 3 {
                QuestionType::Multiselect
            } else {
                QuestionType::String
            };
            (key.to_string(), question_type, expression)
        })
        .collect();
    let answers = Answers::new(known, derived);
    let (environment, machine) = sample_context_values();
    let context = derive::context(&answers, environment, machine);
    answers.compute_all(context)
}

fn check_derived(expressions: Vec<String>) -> Result<(), TestCaseError> {
    trace("expressions", &expressions);
    let count = expressions.len();
    let outcome = bounded("evaluating derived expressions", move || {
        evaluate(expressions)
    });
    match outcome {
        Ok(values) => {
            prop_assert_eq!(values.len(), count);
        }
        Err(Error::Derive(message)) => {
            prop_assert!(!message.trim().is_empty());
        }
        Err(other) => prop_assert!(false, "expected Error::Derive, got {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn derived_expressions_terminate_with_a_value_or_an_error(
        expressions in prop::collection::vec(expression(), 4),
    ) {
        check_derived(expressions)?;
    }

    #[test]
    fn arbitrary_text_as_an_expression_is_a_value_or_an_error(
        expressions in prop::collection::vec("\\PC{0,40}", 4),
    ) {
        check_derived(expressions)?;
    }

    #[test]
    fn template_tags_of_any_text_are_checked_without_panics(text in "\\PC{0,200}") {
        trace("template", &text);
        let _ = derive::check_template_tags(&text);
        let _ = derive::check_code_len(&text);
    }
}

/// The worst shapes of expression for minijinja's recursion, at the
/// longest length confpack lets through.
fn deepest_expressions() -> Vec<String> {
    let limit = derive::MAX_CODE_LEN;
    vec![
        format!("{}1", "-".repeat(limit - 1)),
        format!("{}1", "not ".repeat((limit - 1) / 3)),
        format!("1{}", "+1".repeat((limit - 1) / 2)),
        format!("1{}", "~1".repeat((limit - 1) / 2)),
        format!("x{}", ".a".repeat((limit - 1) / 2)),
        format!("x{}", "|e".repeat((limit - 1) / 2)),
        format!("x{}", "[0]".repeat((limit - 1) / 3)),
        format!("{}x", "-(".repeat(140)) + &")".repeat(140),
    ]
}

#[test]
fn the_longest_accepted_expressions_compile_on_a_small_stack() {
    // 2 MiB: a test thread's stack, a quarter of the main thread's.
    for expression in deepest_expressions() {
        assert!(derive::check_code_len(&expression).is_ok(), "{expression}");
        let shown = expression[..40].to_string();
        let thread = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let _ = derive::check_expression(&expression);
                let _ = evaluate(vec![expression.clone(); 4]);
                let template = format!("{{{{ {expression} }}}}");
                assert!(derive::check_template_tags(&template).is_ok());
                let _ = derive::jinja().render_str(&template, ());
            })
            .expect("spawn");
        assert!(thread.join().is_ok(), "{shown}…");
    }
}

#[test]
fn an_expression_or_tag_too_deep_for_minijinja_is_refused_before_it_compiles() {
    for expression in deepest_expressions() {
        let longer = format!("{expression}{}", "-".repeat(derive::MAX_CODE_LEN));
        let message = derive::check_expression(&longer).expect_err("too long");
        assert!(message.contains("characters of code"), "{message}");
        let template = format!("line 1\n{{{{ \"}}}}\" ~ {longer} }}}}\n");
        let (line, message) = derive::check_template_tags(&template).expect_err("too long");
        assert_eq!(line, 2, "{message}");
        // Long string literals, comments and raw blocks are not code.
        let text = "x".repeat(10 * derive::MAX_CODE_LEN);
        assert!(derive::check_code_len(&format!("\"{text}\" ~ 'a'")).is_ok());
        let harmless = format!(
            "{{# {longer} #}}{{% raw %}}{{{{ {longer} }}}}{{% endraw %}}{{{{ \"{text}\" }}}}"
        );
        assert_eq!(derive::check_template_tags(&harmless), Ok(()));
    }
}

// ---------------------------------------------------------------------------
// The shell answer format
// ---------------------------------------------------------------------------

fn shell_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,30}",
        prop::sample::select(vec![
            "$(touch pwned)",
            "`touch pwned`",
            "'; touch pwned; '",
            "\"; touch pwned; \"",
            "\\",
            "'\\''",
            "line\nbreak",
            "\n",
            "{{ 7*7 }}",
            "${IFS}",
            "-n",
            "%s%n",
            "*",
            "~",
            "é\u{202e}",
        ])
        .prop_map(str::to_string),
    ]
    .prop_map(|value| value.replace('\0', ""))
}

fn shell_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9+.-]{0,6}/[A-Za-z0-9_.+/-]{1,10}",
        "\\PC{0,6}/\\PC{0,8}",
        Just("x/a\ntouch pwned #".to_string()),
    ]
}

fn shells() -> Vec<&'static str> {
    ["sh", "bash", "dash"]
        .into_iter()
        .filter(|shell| {
            std::process::Command::new(shell)
                .args(["-c", "true"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect()
}

/// Sources `script` in `shell` (in an empty directory), then prints each
/// of `names`' values NUL-terminated, `-` for an unset variable.
fn run_shell(shell: &str, script: &str, names: &[String]) -> (Vec<Option<String>>, bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut program = format!("{script}\n");
    for name in names {
        program.push_str(&format!(
            "if [ \"${{{name}+set}}\" = set ]; then printf '+%s\\0' \"${name}\"; else printf -- '-\\0'; fi\n"
        ));
    }
    let out = std::process::Command::new(shell)
        .arg("-c")
        .arg(&program)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run the shell");
    let values = out
        .stdout
        .split(|&b| b == 0)
        .take(names.len())
        .map(|item| {
            let text = String::from_utf8_lossy(item).into_owned();
            text.strip_prefix('+').map(str::to_string)
        })
        .collect();
    let touched = std::fs::read_dir(dir.path())
        .expect("read dir")
        .next()
        .is_some();
    (values, touched)
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn the_shell_format_round_trips_any_value_through_a_real_shell(
        answers in prop::collection::btree_map(
            shell_key(),
            (prop::option::of(shell_value()), any::<bool>()),
            0..6,
        ),
        show_secrets in any::<bool>(),
    ) {
        let answers: BTreeMap<String, StoredAnswer> = answers
            .into_iter()
            .map(|(key, (value, secret))| {
                (key, StoredAnswer {
                    value,
                    source: Source::User,
                    seen: true,
                    owners: BTreeSet::new(),
                    question_type: QuestionType::String,
                    secret,
                })
            })
            .collect();
        let names: Vec<String> = answers.keys().map(|k| confpack::hooks::variable_name(k)).collect();
        for name in &names {
            prop_assert!(name.starts_with("CONFPACK_"));
            prop_assert!(name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'));
        }
        let script = match output::format_answers(&answers, &Default::default(), Format::Shell, show_secrets) {
            Ok(script) => script,
            Err(Error::Usage(message)) => {
                let distinct: BTreeSet<&String> = names.iter().collect();
                prop_assert!(distinct.len() < names.len(), "refused without a clash: {message}");
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        for shell in shells() {
            let (values, touched) = run_shell(shell, &script, &names);
            prop_assert!(!touched, "{shell} ran a value as code:\n{script}");
            for ((key, answer), value) in answers.iter().zip(&values) {
                let expected = match &answer.value {
                    Some(_) if answer.secret && !show_secrets => None,
                    other => other.clone(),
                };
                prop_assert_eq!(value, &expected, "{} of {:?} in {}:\n{}", key, answer, shell, script);
            }
        }
    }

    #[test]
    fn shell_quote_round_trips_any_value(value in shell_value()) {
        for shell in shells() {
            let script = format!("v={}", output::shell_quote(&value));
            let (values, touched) = run_shell(shell, &script, &["v".to_string()]);
            prop_assert!(!touched);
            prop_assert_eq!(&values[0], &Some(value.clone()), "{}", shell);
        }
    }
}

#[test]
fn an_expression_whose_value_holds_the_answers_is_a_cycle_not_a_stack_overflow() {
    // Found by the grammar harness: turning `[answers]` into text reads
    // every answer, the one being derived too.
    for expression in [
        "[answers]",
        "[1, [answers]]",
        "answers | list | map('string')",
    ] {
        let expressions = vec![expression.to_string(); 4];
        let result = bounded("a value holding answers", move || evaluate(expressions));
        match result {
            Err(Error::Derive(message)) => assert!(message.contains("cycle"), "{message}"),
            Ok(values) => assert_eq!(values.len(), 4, "{expression}"),
            Err(other) => panic!("{expression}: {other:?}"),
        }
    }
}
