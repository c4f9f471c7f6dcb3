//! `confpack keygen`: create, rotate, print or trim the node key that
//! decrypts the secrets packages carry.

use std::io::Write;
use std::path::Path;

use super::stdout_error;
use crate::Listener;
use crate::error::Result;

/// What `keygen` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeygenAction {
    /// Create the key; with `rotate`, a new one in front of the others.
    Generate { rotate: bool },
    /// Print the public key(s).
    Public,
    /// Keep only the newest key.
    DropOld,
}

impl KeygenAction {
    /// From the flags (clap keeps them exclusive).
    pub fn from_flags(rotate: bool, public: bool, drop_old: bool) -> KeygenAction {
        match (public, drop_old) {
            (true, _) => KeygenAction::Public,
            (false, true) => KeygenAction::DropOld,
            (false, false) => KeygenAction::Generate { rotate },
        }
    }
}

pub fn keygen(
    root: &Path,
    action: KeygenAction,
    listener: &mut dyn Listener,
    out: &mut dyn Write,
) -> Result<()> {
    let rotate = match action {
        KeygenAction::Public => {
            for key in crate::secrets::NodeKey::load(root)?.public_keys() {
                writeln!(out, "{key}").map_err(stdout_error)?;
            }
            return Ok(());
        }
        KeygenAction::DropOld => {
            let dropped = crate::secrets::drop_old_keys(root)?;
            listener.info(&format!("dropped {dropped} older key(s)"));
            return Ok(());
        }
        KeygenAction::Generate { rotate } => rotate,
    };
    let generated = crate::secrets::keygen(root, rotate)?;
    let kept = if generated.older > 0 {
        format!(", {} older key(s) kept until --drop-old", generated.older)
    } else {
        String::new()
    };
    listener.info(&format!(
        "wrote {} (0600){kept}; add the public key to the configuration repository's recipients",
        generated.path.display(),
    ));
    writeln!(out, "{}", generated.public_key).map_err(stdout_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_wins_then_drop_old_then_generate() {
        assert_eq!(
            KeygenAction::from_flags(false, true, false),
            KeygenAction::Public
        );
        assert_eq!(
            KeygenAction::from_flags(false, false, true),
            KeygenAction::DropOld
        );
        assert_eq!(
            KeygenAction::from_flags(true, false, false),
            KeygenAction::Generate { rotate: true }
        );
    }
}
