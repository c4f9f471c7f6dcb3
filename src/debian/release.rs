//! An apt repository as confpack publishes it and nodes read it: the
//! component every environment has, where its environment documents are,
//! which names may be an environment (an apt distribution), and the
//! `SHA256` list of a `Release`.

use super::deb822::Paragraph;
use crate::error::{Error, Result};

/// The component every environment has.
pub const COMPONENT: &str = "main";
/// Where an environment's documents are, relative to `dists/<environment>`.
pub const DOCUMENTS_DIR: &str = "documents";

/// A plain name: letters, digits, `. _ - +`, starting with a letter or
/// digit (an apt distribution, a file name; never `..` or a path).
pub fn is_plain_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// An environment name must be a plain apt distribution name.
pub fn check_environment_name(name: &str) -> Result<()> {
    if is_plain_name(name) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{name:?} is not a valid environment name: letters, digits, . _ - +, starting with a letter or digit"
        )))
    }
}

/// The `SHA256` lines of a `Release`: (sum, size, path relative to the
/// distribution).
pub fn release_entries(release: &Paragraph) -> Vec<(&str, u64, &str)> {
    release
        .get("SHA256")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let sum = words.next()?;
            let size = words.next()?.parse().ok()?;
            Some((sum, size, words.next()?))
        })
        .collect()
}
