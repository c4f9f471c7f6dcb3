//! `confpack convert --from-debconf-templates`: real packages' templates
//! become native documents that keep every template's type, default,
//! choices and translations. Checked against an independent reading of
//! the templates file: the fixtures offline, and packages fetched from the
//! Debian archive when it can be reached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use confpack::env::model::{Document, QuestionType, split_multiselect};
use confpack::env::{self, Validation};

use crate::common::{confpack, fixture, repo, run};

/// One template as the test reads it: field name (lower case) → the
/// field's own line and its continuation lines.
type Stanza = BTreeMap<String, (String, Vec<String>)>;

/// A plain reading of a templates file, independent of confpack's.
fn stanzas(text: &str) -> Vec<Stanza> {
    let mut all = Vec::new();
    let mut current = Stanza::new();
    let mut last = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
        } else if line.starts_with('#') {
        } else if let Some(continued) = line.strip_prefix(' ') {
            current
                .get_mut(&last)
                .expect("continuation of a field")
                .1
                .push(continued.to_string());
        } else {
            let (name, value) = line.split_once(':').expect("a field");
            last = name.trim_start_matches('_').to_lowercase();
            current.insert(last.clone(), (value.trim().to_string(), Vec::new()));
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

fn value<'a>(stanza: &'a Stanza, name: &str) -> Option<&'a str> {
    stanza.get(name).map(|(value, _)| value.as_str())
}

/// Converts `templates` with the real binary and reads the result back
/// (validating it against the built-in schema).
fn convert(templates: &Path, extra: &[&str]) -> (Document, String) {
    let root = tempfile::tempdir().expect("tempdir");
    let output = root.path().join("converted.xml");
    let (code, _, stderr) = run(confpack(root.path())
        .arg("convert")
        .arg("--from-debconf-templates")
        .arg(templates)
        .args(extra)
        .arg("-o")
        .arg(&output));
    assert_eq!(code, 0, "{}: {stderr}", templates.display());
    let document = env::validate(&output, "converted", Validation::Builtin)
        .unwrap_or_else(|e| panic!("{}: the result is invalid: {e:#}", templates.display()));
    (document, stderr)
}

/// Checks every template of `templates` against the converted document:
/// type, default, choices (values from Choices-C when present) and the
/// `languages`' descriptions and choice labels.
fn check_conversion(templates: &Path, languages: &[&str]) {
    let text = std::fs::read_to_string(templates).expect("templates");
    let (document, _) = convert(templates, &[]);
    let stanzas = stanzas(&text);
    assert_eq!(
        document.templates.len(),
        stanzas.len(),
        "{}",
        templates.display()
    );
    for stanza in &stanzas {
        let key = value(stanza, "template").expect("Template:");
        let converted = document
            .template(key)
            .unwrap_or_else(|| panic!("{key} is missing"));
        let values = value(stanza, "choices-c").or_else(|| value(stanza, "choices"));
        let choices: Vec<String> = values
            .map(split_multiselect)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.contains("${"))
            .collect();
        let declared: QuestionType = value(stanza, "type").expect("Type:").parse().expect("type");
        let expected_type = if declared.has_choices() && choices.is_empty() {
            QuestionType::String
        } else {
            declared
        };
        assert_eq!(converted.question_type, expected_type, "{key}");
        if expected_type.has_choices() {
            assert_eq!(converted.choices, choices, "{key}");
        }
        let default = value(stanza, "default")
            .filter(|_| !declared.is_display_only())
            .filter(|d| expected_type.check(d, &choices).is_ok());
        assert_eq!(converted.default.as_deref(), default, "{key}");
        assert_eq!(
            Some(converted.description.as_str()),
            value(stanza, "description"),
            "{key}"
        );
        for language in languages {
            let field = format!("description-{language}.utf-8");
            let Some(translated) = value(stanza, &field) else {
                continue;
            };
            let texts = converted
                .translations
                .get(*language)
                .unwrap_or_else(|| panic!("{key}: no {language} translation"));
            assert_eq!(
                texts.description.as_deref(),
                Some(translated),
                "{key} {language}"
            );
            let labels = value(stanza, &format!("choices-{language}.utf-8"))
                .map(split_multiselect)
                .unwrap_or_default();
            if expected_type.has_choices() && labels.len() == choices.len() {
                assert_eq!(texts.choices, labels, "{key} {language}");
            }
        }
    }
}

#[test]
fn convert_debconf_fixtures_keeps_types_defaults_choices_and_translations() {
    for name in [
        "slapd.templates",
        "tzdata.templates",
        "keyboard-configuration.templates",
    ] {
        check_conversion(&fixture("debconf").join(name), &["de", "fr"]);
    }
}

#[test]
fn convert_debconf_choices_c_are_the_values_and_choices_the_english_labels() {
    let (document, _) = convert(&fixture("debconf/keyboard-configuration.templates"), &[]);
    let keymap = document
        .template("keyboard-configuration/xkb-keymap")
        .expect("xkb-keymap");
    assert_eq!(keymap.choices[0], "us");
    assert_eq!(keymap.translations["en"].choices[0], "American English");
    let shown = keymap.shown(&["de".to_string()]);
    assert_eq!(shown.labels.len(), keymap.choices.len());
    assert_ne!(shown.labels[0], "us");
}

#[test]
fn convert_po_debconf_source_takes_translations_from_po_files() {
    let source = fixture("debconf/po-debconf");
    let (from_po, _) = convert(
        &source.join("templates"),
        &["--po", source.join("po").to_str().expect("utf-8")],
    );
    let (compiled, _) = convert(&fixture("debconf/tzdata.templates"), &[]);
    let (po, shipped) = (
        from_po.template("tzdata/Areas").expect("from po"),
        compiled.template("tzdata/Areas").expect("compiled"),
    );
    let words = |text: &Option<String>| {
        text.as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(po.choices, shipped.choices);
    assert_eq!(
        po.translations.keys().collect::<Vec<_>>(),
        ["de", "fr"],
        "the fuzzy entry and the missing languages add nothing"
    );
    for language in ["de", "fr"] {
        let (a, b) = (&po.translations[language], &shipped.translations[language]);
        assert_eq!(a.description, b.description, "{language}");
        assert_eq!(words(&a.extended), words(&b.extended), "{language}");
        assert_eq!(a.choices, b.choices, "{language}");
    }
}

#[test]
fn convert_debconf_templates_problems_are_errors_at_file_and_line() {
    let root = tempfile::tempdir().expect("tempdir");
    let templates = root.path().join("templates");
    std::fs::write(
        &templates,
        "Template: demo/a\nType: string\nDescription: A\n\nTemplate: demo/b\nType: slider\nDescription: B\n",
    )
    .expect("write");
    let (code, stdout, stderr) = run(confpack(root.path())
        .arg("convert")
        .arg("--from-debconf-templates")
        .arg(&templates));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "nothing is written: {stdout}");
    assert!(
        stderr.contains(&format!("{}:6: ", templates.display())) && stderr.contains("slider"),
        "{stderr}"
    );
}

#[test]
fn convert_po_and_owner_only_go_with_debconf_templates() {
    let root = tempfile::tempdir().expect("tempdir");
    for flag in ["--po", "--owner"] {
        let (code, _, stderr) = run(confpack(root.path())
            .args(["convert", flag, "x"])
            .arg(fixture("dataone/acme-v1.xml")));
        assert_eq!(code, 2, "{flag}: {stderr}");
    }
}

/// Packages whose templates have every type, Choices-C and many
/// translations between them.
const PACKAGES: &[&str] = &[
    "tzdata",
    "keyboard-configuration",
    "exim4-config",
    "postfix",
    "slapd",
    "openssh-server",
    "locales",
    "debconf",
];

/// `DEBIAN/templates` of each package, downloaded once into a cache under
/// target/ and reused; `Err` says why they cannot be had here.
fn real_templates() -> Result<Vec<PathBuf>, String> {
    let cache = repo().join("target/debconf-packages");
    std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    for package in PACKAGES {
        let templates = cache.join(package).join("templates");
        if !templates.exists() {
            let deb = match cached_deb(&cache, package) {
                Some(deb) => deb,
                None => download(&cache, package)?,
            };
            let control = cache.join(package);
            let status = Command::new("dpkg-deb")
                .arg("-e")
                .arg(&deb)
                .arg(&control)
                .status()
                .map_err(|e| format!("dpkg-deb: {e}"))?;
            if !status.success() {
                return Err(format!("dpkg-deb -e {} failed", deb.display()));
            }
        }
        found.push(templates);
    }
    Ok(found)
}

/// `apt-get download PACKAGE` into `cache`, failing fast when the archive
/// cannot be reached.
fn download(cache: &Path, package: &str) -> Result<PathBuf, String> {
    let output = Command::new("apt-get")
        .args([
            "download",
            "-q",
            "-o",
            "Acquire::Retries=0",
            "-o",
            "Acquire::http::Timeout=20",
            package,
        ])
        .current_dir(cache)
        .output()
        .map_err(|e| format!("apt-get cannot run ({e})"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .find(|l| l.starts_with("E:"))
        .unwrap_or("no .deb was written");
    match cached_deb(cache, package) {
        Some(deb) if output.status.success() => Ok(deb),
        _ => Err(format!(
            "apt-get download {package} failed (the Debian archive is unreachable?): {reason}"
        )),
    }
}

fn cached_deb(cache: &Path, package: &str) -> Option<PathBuf> {
    std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
        })
}

#[test]
fn convert_real_debian_packages_templates() {
    let templates = match real_templates() {
        Ok(templates) => templates,
        Err(reason) => {
            println!("skipped: {reason}");
            return;
        }
    };
    let mut types = std::collections::BTreeSet::new();
    for path in &templates {
        check_conversion(path, &["de", "fr"]);
        let text = std::fs::read_to_string(path).expect("templates");
        for stanza in stanzas(&text) {
            types.insert(value(&stanza, "type").expect("type").to_string());
        }
    }
    let all: Vec<&str> = QuestionType::ALL.iter().map(|t| t.as_str()).collect();
    let missing: Vec<&&str> = all.iter().filter(|t| !types.contains(**t)).collect();
    assert!(
        missing.is_empty(),
        "the packages should cover the types; missing {missing:?}"
    );
}
