//! Any text as control.yml, a role, confpack.yml or package.yml: parsed or
//! refused with a problem in its file — never a panic or a hang (alias
//! bombs included).

#![no_main]

use confpack::builder::manifest::{Located, Manifest, RepositoryConfig, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for result in [
        parse::<Manifest>("control.yml", text).map(|_| ()),
        parse::<RepositoryConfig>("control.yml", text).map(|_| ()),
    ] {
        if let Err(problem) = result {
            assert_eq!(problem.file, "control.yml");
        }
    }
    let _ = serde_yaml::from_str::<confpack::package::PackageConfig>(text);
    let located = Located {
        file: "control.yml".to_string(),
        text: text.to_string(),
    };
    for key in ["version", "depends", "modes", "hooks"] {
        if let Some(line) = located.key_line(key) {
            assert!(located.value_line(key, "x").is_some_and(|v| v >= line));
        }
    }
});
