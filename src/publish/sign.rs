//! Signing a repository's `Release` with gpg, behind a small trait so the
//! publishing logic is tested without keys.
//!
//! apt verifies `InRelease` (the clear-signed `Release`) or `Release` with
//! its detached `Release.gpg`; confpack writes both, so old and new apt
//! versions and mirrors that only copy some files all work.

use std::process::Command;

use crate::error::{Error, Result};

/// Makes `InRelease` and `Release.gpg` from the text of `Release`.
pub trait Signer {
    /// The clear-signed text (`InRelease`).
    fn clearsign(&mut self, release: &[u8]) -> Result<Vec<u8>>;
    /// The ASCII-armored detached signature (`Release.gpg`).
    fn detach_sign(&mut self, release: &[u8]) -> Result<Vec<u8>>;
}

/// `gpg --local-user KEY`, with `GNUPGHOME` from the environment (or
/// `homedir`). The key must be usable without a passphrase prompt (a
/// signing subkey without passphrase, or gpg-agent with a preset one).
#[derive(Debug, Clone)]
pub struct Gpg {
    pub key: String,
    pub homedir: Option<std::path::PathBuf>,
}

impl Gpg {
    fn run(&self, mode: &str, input: &[u8]) -> Result<Vec<u8>> {
        let mut command = Command::new("gpg");
        if let Some(homedir) = &self.homedir {
            command.arg("--homedir").arg(homedir);
        }
        command
            .args(["--batch", "--yes", "--no-tty", "--quiet", "--armor"])
            .args(["--digest-algo", "SHA512", "--local-user", &self.key])
            .arg(mode)
            .args(["--output", "-"]);
        crate::process::command::output_with_input(&mut command, input)
            .map(|output| output.stdout)
            .map_err(|error| match error {
                Error::Command { command, message } if message.contains("not installed") => {
                    Error::Command {
                        command,
                        message: format!("{message} (install gnupg)"),
                    }
                }
                other => other,
            })
    }
}

impl Signer for Gpg {
    fn clearsign(&mut self, release: &[u8]) -> Result<Vec<u8>> {
        self.run("--clearsign", release)
    }

    fn detach_sign(&mut self, release: &[u8]) -> Result<Vec<u8>> {
        self.run("--detach-sign", release)
    }
}
