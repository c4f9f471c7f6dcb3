//! Which published versions an environment drops: `--remove NAME[=VERSION]`
//! and `--keep N`.
//!
//! Why apart from the publishing: deciding what goes is pure (index keys
//! in, keys out), so it is tested as a table without a repository; the
//! caller takes the dropped entries out of the index and reports them.

use std::collections::{BTreeMap, BTreeSet};

use super::Key;
use super::version;

/// What `--remove` and `--keep` take out of an environment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruning {
    /// The entries to drop, in the order they were decided: each
    /// `--remove` in turn (by package, version, architecture), then the
    /// older versions `--keep` does not keep.
    pub dropped: Vec<Key>,
    /// `--remove` arguments that named nothing left in the environment.
    pub unmatched: Vec<String>,
}

/// Decides what to drop from an environment holding `keys`. `--keep`
/// counts per package and architecture, newest first (dpkg's order), and
/// keeps at least one.
pub fn prune<'a>(
    keys: impl IntoIterator<Item = &'a Key>,
    remove: &[String],
    keep: Option<usize>,
) -> Pruning {
    let mut left: BTreeSet<Key> = keys.into_iter().cloned().collect();
    let mut pruning = Pruning::default();
    for wanted in remove {
        let (name, version) = match wanted.split_once('=') {
            Some((name, version)) => (name, Some(version)),
            None => (wanted.as_str(), None),
        };
        let matching: Vec<Key> = left
            .iter()
            .filter(|(package, v, _)| package == name && version.is_none_or(|wanted| wanted == v))
            .cloned()
            .collect();
        if matching.is_empty() {
            pruning.unmatched.push(wanted.clone());
        }
        for key in matching {
            left.remove(&key);
            pruning.dropped.push(key);
        }
    }
    if let Some(keep) = keep {
        let mut by_package: BTreeMap<(String, String), Vec<Key>> = BTreeMap::new();
        for key in left {
            by_package
                .entry((key.0.clone(), key.2.clone()))
                .or_default()
                .push(key);
        }
        for (_, mut keys) in by_package {
            keys.sort_by(|a, b| version::compare(&b.1, &a.1));
            pruning.dropped.extend(keys.into_iter().skip(keep.max(1)));
        }
    }
    pruning
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `"alpha 1.0 all, beta 2 amd64"` → keys.
    fn keys(list: &str) -> Vec<Key> {
        list.split(", ")
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let words: Vec<&str> = entry.split(' ').collect();
                (words[0].into(), words[1].into(), words[2].into())
            })
            .collect()
    }

    fn words(list: &str) -> Vec<String> {
        list.split_whitespace().map(str::to_string).collect()
    }

    const PUBLISHED: &str = "alpha 1.0 all, alpha 1.10 all, alpha 1.9 all, beta 2 amd64, \
                             beta 1 amd64, beta 1 arm64, gamma 1~rc1 all, gamma 1 all";

    #[test]
    fn remove_and_keep_drop_what_they_name() {
        // (case, --remove…, --keep, dropped in order, unmatched --remove)
        let table: &[(&str, &str, Option<usize>, &str, &str)] = &[
            ("nothing asked, nothing dropped", "", None, "", ""),
            (
                "a name drops every version and architecture",
                "beta",
                None,
                "beta 1 amd64, beta 1 arm64, beta 2 amd64",
                "",
            ),
            (
                "a name=version drops that version only",
                "alpha=1.9",
                None,
                "alpha 1.9 all",
                "",
            ),
            (
                "a name nothing matches is reported",
                "delta alpha=7",
                None,
                "",
                "delta alpha=7",
            ),
            (
                "removing twice finds nothing the second time",
                "gamma gamma",
                None,
                "gamma 1 all, gamma 1~rc1 all",
                "gamma",
            ),
            (
                "keep 1 keeps the newest in dpkg's order, per architecture",
                "",
                Some(1),
                "alpha 1.9 all, alpha 1.0 all, beta 1 amd64, gamma 1~rc1 all",
                "",
            ),
            (
                "keep 0 still keeps one",
                "",
                Some(0),
                "alpha 1.9 all, alpha 1.0 all, beta 1 amd64, gamma 1~rc1 all",
                "",
            ),
            (
                "keep 2 drops only the third",
                "",
                Some(2),
                "alpha 1.0 all",
                "",
            ),
            (
                "keep counts what remove left",
                "alpha=1.10",
                Some(1),
                "alpha 1.10 all, alpha 1.0 all, beta 1 amd64, gamma 1~rc1 all",
                "",
            ),
        ];
        let published = keys(PUBLISHED);
        for (case, remove, keep, dropped, unmatched) in table {
            let pruning = prune(&published, &words(remove), *keep);
            assert_eq!(pruning.dropped, keys(dropped), "{case}");
            assert_eq!(pruning.unmatched, words(unmatched), "{case}");
        }
    }
}
