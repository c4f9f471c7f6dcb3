//! Debian version comparison (dpkg's algorithm, Debian policy 5.6.12).
//!
//! Why here: publishing keeps the newest N versions of a package and the
//! node runtime picks the newest version an environment publishes, and
//! both must order versions exactly as apt and dpkg do (`1.10` > `1.9`,
//! `1~rc1` < `1`, epochs first), or a node would be told to "upgrade" to
//! what apt considers older.

use std::cmp::Ordering;

/// A version split into epoch, upstream version and revision.
fn split(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) if epoch.chars().all(|c| c.is_ascii_digit()) => {
            (epoch.parse().unwrap_or(0), rest)
        }
        _ => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The sort weight of a character in the non-digit parts: `~` sorts
/// before everything, even the end of the string; letters before the rest.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit prefix, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let wa = weight(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let wb = weight(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // The digits, as numbers (without leading zeros, then by length).
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let start_a = i;
        let start_b = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[start_a..i], &b[start_b..j]);
        let order = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// Compares two Debian versions as dpkg does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (epoch_a, upstream_a, revision_a) = split(a);
    let (epoch_b, upstream_b, revision_b) = split(b);
    epoch_a
        .cmp(&epoch_b)
        .then_with(|| compare_part(upstream_a, upstream_b))
        .then_with(|| compare_part(revision_a, revision_b))
}

/// Whether `version` satisfies `operator wanted` (`>=`, `<=`, `=`, `>>`, `<<`).
pub fn satisfies(version: &str, operator: &str, wanted: &str) -> bool {
    let order = compare(version, wanted);
    match operator {
        ">=" | ">" => order != Ordering::Less,
        "<=" | "<" => order != Ordering::Greater,
        ">>" => order == Ordering::Greater,
        "<<" => order == Ordering::Less,
        _ => order == Ordering::Equal,
    }
}

/// The UTC time (seconds) a confpack version names:
/// `<version>+git<YYYYMMDD>.<HHMMSS>.<sha>`; `None` for other versions.
pub fn commit_time(version: &str) -> Option<i64> {
    let (_, rest) = version.rsplit_once("+git")?;
    let mut parts = rest.split('.');
    super::date::parse_compact_utc(parts.next()?, parts.next()?)
}

/// The commit id a confpack version names (`…+git<date>.<time>.<sha>`).
pub fn commit_id(version: &str) -> Option<&str> {
    let (_, rest) = version.rsplit_once("+git")?;
    let id = rest.splitn(3, '.').nth(2)?;
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_dpkg_sorts_them() {
        let ascending = [
            "0.9",
            "1~rc1",
            "1",
            "1-1",
            "1.0",
            "1.0a",
            "1.0+git20260102.030405.abc",
            "1.9",
            "1.10",
            "2+git20250101.000000.aaa",
            "2+git20260101.000000.bbb",
            "1:0.1",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(compare("1.0", "1.00"), Ordering::Equal);
        assert!(satisfies("1.2", ">=", "1.2"));
        assert!(!satisfies("1.2", "<<", "1.2"));
    }

    /// A valid Debian version: an optional epoch, an upstream part
    /// starting with a digit, an optional revision.
    fn a_version() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (
            proptest::option::of(0u8..3),
            "[0-9][0-9a-z.+~]{0,6}",
            proptest::option::of("[0-9a-z+.~]{1,4}"),
        )
            .prop_map(|(epoch, upstream, revision)| {
                let epoch = epoch.map(|e| format!("{e}:")).unwrap_or_default();
                let revision = revision.map(|r| format!("-{r}")).unwrap_or_default();
                format!("{epoch}{upstream}{revision}")
            })
    }

    /// What dpkg itself says of `a` against `b`.
    fn dpkgs_order(a: &str, b: &str) -> Ordering {
        let says = |operator: &str| {
            std::process::Command::new("dpkg")
                .args(["--compare-versions", a, operator, b])
                .status()
                .expect("dpkg runs")
                .success()
        };
        match (says("lt"), says("gt")) {
            (true, _) => Ordering::Less,
            (_, true) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// The hand-written comparison is kept (no crate, no process per
        /// comparison: publish and upgrade compare thousands) because it
        /// orders exactly as `dpkg --compare-versions`, checked here.
        #[test]
        fn the_order_is_dpkgs(a in a_version(), b in a_version()) {
            static DPKG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            let has_dpkg = *DPKG.get_or_init(|| {
                let found = std::process::Command::new("dpkg").arg("--version").output().is_ok();
                if !found {
                    eprintln!("skipped: no dpkg to compare with");
                }
                found
            });
            if !has_dpkg {
                return Ok(());
            }
            proptest::prop_assert_eq!(compare(&a, &b), dpkgs_order(&a, &b), "{} vs {}", a, b);
        }
    }

    #[test]
    fn the_commit_time_and_id_are_read_from_a_confpack_version() {
        assert_eq!(
            commit_time("1.0+git19700101.000001.abc"),
            Some(1),
            "the epoch"
        );
        assert_eq!(
            commit_time("2+git20261123.175657.d4bb01a"),
            Some(1_795_456_617)
        );
        assert_eq!(commit_id("2+git20261123.175657.d4bb01a"), Some("d4bb01a"));
        assert_eq!(commit_time("2+ci42"), None);
        assert_eq!(commit_id("2+ci42"), None);
    }
}
