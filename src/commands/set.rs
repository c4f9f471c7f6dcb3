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
