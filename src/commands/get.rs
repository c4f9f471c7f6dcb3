//! `confpack get`: print one stored value, a secret masked unless
//! `--show-secrets`.

use std::io::Write;

use super::stdout_error;
use crate::Listener;
use crate::error::{Error, Result};
use crate::output::MASK;
use crate::settings::GlobalSettings;

pub fn get(
    global: &GlobalSettings,
    key: &str,
    show_secrets: bool,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let store = global.paths.open_store_for_reading(global.lock_timeout)?;
    let answer = store.answer(key)?.ok_or(Error::NoAnswer {
        key: key.to_string(),
    })?;
    let value = if answer.secret && !show_secrets {
        listener.warning(&format!(
            "{key} is a secret: masked; use --show-secrets to print it"
        ));
        MASK.to_string()
    } else {
        answer.value.unwrap_or_default()
    };
    writeln!(out, "{value}").map_err(stdout_error)
}
