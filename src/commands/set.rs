//! `confpack set`: store a value given by hand (or on stdin with `-`);
//! the checks of the key and value live with the store
//! ([`crate::store::check_key`], [`StoredAnswer::set_by_hand`]).

use crate::Listener;
use crate::cli::SetSource;
use crate::env::model::Source;
use crate::error::{Error, Result};
use crate::settings::GlobalSettings;
use crate::store::{Batch, StoredAnswer, ValueToSet};

/// `confpack set KEY VALUE` with its flags.
#[derive(Debug, Clone)]
pub struct SetArgs {
    pub key: String,
    /// `-` reads the value from stdin.
    pub value: String,
    pub source: SetSource,
    pub seen: bool,
    pub secret: bool,
}

pub fn set(global: &GlobalSettings, args: SetArgs, listener: &mut dyn Listener) -> Result<()> {
    if args.secret && args.value != "-" {
        listener.warning(
            "the secret is on the command line, visible in `ps` and the shell history; \
             pass `-` to read it from stdin",
        );
    }
    crate::store::check_key(&args.key).map_err(Error::Usage)?;
    let value = if args.value == "-" {
        super::without_echos_newline(&super::read_stdin()?).to_string()
    } else {
        args.value
    };
    let store = global.paths.open_store(global.lock_timeout)?;
    let existing = store.answer(&args.key)?;
    let given = ValueToSet {
        value,
        source: match args.source {
            SetSource::User => Source::User,
            SetSource::Configured => Source::Configured,
        },
        seen: args.seen,
        secret: args.secret,
    };
    let answer = StoredAnswer::set_by_hand(&args.key, given, existing.as_ref())?;
    let mut batch = Batch::new();
    batch.set_answer(&args.key, &answer)?;
    store.commit(batch)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::RecordingListener;
    use crate::commands::get::get;
    use crate::output::MASK;
    use crate::paths::Paths;

    fn global(root: &std::path::Path) -> GlobalSettings {
        GlobalSettings {
            paths: Paths::new(root, None),
            lock_timeout: Duration::from_secs(5),
            quiet: true,
        }
    }

    fn args(key: &str, value: &str, secret: bool) -> SetArgs {
        SetArgs {
            key: key.to_string(),
            value: value.to_string(),
            source: SetSource::User,
            seen: true,
            secret,
        }
    }

    fn got(global: &GlobalSettings, key: &str, show_secrets: bool) -> (String, Vec<String>) {
        let mut listener = RecordingListener::default();
        let mut out = Vec::new();
        get(global, key, show_secrets, &mut listener, &mut out).expect("stored");
        (
            String::from_utf8_lossy(&out).into_owned(),
            listener.warnings,
        )
    }

    #[test]
    fn a_secret_set_on_the_command_line_is_warned_about_and_get_masks_it() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let global = global(root.path());
        let mut listener = RecordingListener::default();
        set(&global, args("web/password", "s3cret", true), &mut listener).expect("stored");
        assert_eq!(listener.warnings.len(), 1);
        assert!(listener.warnings[0].contains("visible in `ps`"));
        let (masked, warnings) = got(&global, "web/password", false);
        assert_eq!(masked, format!("{MASK}\n"));
        assert!(warnings[0].contains("use --show-secrets"));
        assert_eq!(got(&global, "web/password", true).0, "s3cret\n");
    }

    #[test]
    fn a_bad_key_is_a_usage_error_and_nothing_is_stored() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let global = global(root.path());
        let mut listener = RecordingListener::default();
        let result = set(&global, args("../../etc", "x", false), &mut listener);
        assert!(matches!(result, Err(Error::Usage(_))));
        assert!(!global.paths.db.exists(), "the store is not even opened");
    }
}
