//! `confpack publish`: .deb files into an apt repository's environment,
//! signed with gpg when a key is given.

use crate::Listener;
use crate::error::Result;
use crate::publish::sign::{Gpg, Signer};

pub fn publish(
    options: &crate::publish::Options,
    sign_key: Option<String>,
    listener: &mut dyn Listener,
) -> Result<()> {
    let mut gpg = sign_key.map(|key| Gpg { key, homedir: None });
    let signer = gpg.as_mut().map(|g| g as &mut dyn Signer);
    crate::publish::publish(options, signer, listener).map(drop)
}

/// Seconds since the epoch (0 on a clock before it): `publish`'s dates.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
