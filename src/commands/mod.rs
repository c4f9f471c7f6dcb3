//! One module per subcommand (uv's `commands/`): each takes settings
//! already resolved by [`crate::settings`], runs the library stages, prints
//! its result to `out` and its progress through a [`crate::Listener`].
//! [`crate::app`] only dispatches to them.

pub mod answers;
pub mod build;
pub mod configure;
pub mod convert;
pub mod encrypt;
pub mod export;
pub mod get;
pub mod import_debconf;
pub mod keygen;
pub mod node;
pub mod plan;
pub mod publish;
pub mod remove;
pub mod set;
pub mod status;
pub mod upload;
pub mod validate;

use std::io::Read;

use crate::error::{Error, Result};

/// An error writing the command's output.
pub(crate) fn stdout_error(error: std::io::Error) -> Error {
    Error::io("<stdout>", error)
}

/// All of stdin, as text.
pub(crate) fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Error::io("<stdin>", e))?;
    Ok(text)
}

/// All of stdin, as bytes.
pub(crate) fn read_stdin_bytes() -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("<stdin>", e))?;
    Ok(bytes)
}

/// One trailing newline is the terminator of `echo`, not the value.
pub(crate) fn without_echos_newline(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_trailing_newline_is_echos() {
        assert_eq!(without_echos_newline("s3cret\n"), "s3cret");
        assert_eq!(without_echos_newline("two\n\n"), "two\n");
        assert_eq!(without_echos_newline("none"), "none");
    }
}
