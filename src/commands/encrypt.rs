//! `confpack encrypt`: a secret read from stdin encrypted to the
//! recipients, printed as an `age:…` value or written as an age file.

use std::io::Write;
use std::path::Path;

use super::stdout_error;
use crate::error::{Error, Result};

pub fn encrypt(recipients: &Path, output: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let recipients = crate::secrets::read_recipients(recipients)?;
    let secret = super::read_stdin_bytes()?;
    match output {
        Some(path) => {
            let bytes = crate::secrets::encrypt(&recipients, &secret)?;
            crate::files::write_atomic(path, &bytes, 0o644)
        }
        None => {
            let text = String::from_utf8(secret).map_err(|_| {
                Error::Usage("a value must be UTF-8 text; use --output for a file".into())
            })?;
            let value =
                crate::secrets::encrypt_value(&recipients, super::without_echos_newline(&text))?;
            writeln!(out, "{value}").map_err(stdout_error)
        }
    }
}
