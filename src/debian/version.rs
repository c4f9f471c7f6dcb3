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
    let date = parts.next()?;
    let time = parts.next()?;
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    let number = |text: &str| text.parse::<i64>().ok();
    let (year, month, day) = (
        number(&date[..4])?,
        number(&date[4..6])?,
        number(&date[6..])?,
    );
    let (hour, minute, second) = (
        number(&time[..2])?,
        number(&time[2..4])?,
        number(&time[4..])?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// The commit id a confpack version names (`…+git<date>.<time>.<sha>`).
pub fn commit_id(version: &str) -> Option<&str> {
    let (_, rest) = version.rsplit_once("+git")?;
    let id = rest.splitn(3, '.').nth(2)?;
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit())).then_some(id)
}

/// Seconds since the epoch of a `Release` date: `Mon, 23 Nov 2026
/// 15:30:12 +0000` (the weekday is optional; `UTC`/`GMT`/`Z` mean +0000).
pub fn parse_rfc2822(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let text = text.trim();
    let text = text.split_once(',').map_or(text, |(_, rest)| rest);
    let mut words = text.split_whitespace();
    let day: i64 = words.next()?.parse().ok()?;
    let month = words.next()?;
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let year: i64 = words.next()?.parse().ok()?;
    let mut time = words.next()?.split(':').map(|n| n.parse::<i64>().ok());
    let (hour, minute, second) = (
        time.next()??,
        time.next()??,
        time.next().flatten().unwrap_or(0),
    );
    let offset = match words.next().unwrap_or("+0000") {
        "UTC" | "GMT" | "Z" => 0,
        zone => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: i64 = zone.get(1..5)?.parse().ok()?;
            sign * ((digits / 100) * 3600 + (digits % 100) * 60)
        }
    };
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A `Release` date of `time` (seconds since the epoch), in UTC:
/// `Mon, 23 Nov 2026 15:30:12 +0000`; [`parse_rfc2822`] reads it back.
pub fn format_rfc2822(time: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = time.div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let seconds = time.rem_euclid(86_400);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The proleptic Gregorian date (year, month, day) of a day since
/// 1970-01-01; the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_dates_read_back_as_written() {
        for time in [0, 1_767_323_045, 1_780_000_000, 1_800_000_000] {
            assert_eq!(parse_rfc2822(&format_rfc2822(time)), Some(time));
        }
        assert_eq!(format_rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            format_rfc2822(1_767_323_045),
            "Fri, 02 Jan 2026 03:04:05 +0000"
        );
        assert_eq!(format_rfc2822(-86_400), "Wed, 31 Dec 1969 00:00:00 +0000");
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 01:00:00 +0100"), Some(0));
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_rfc2822("yesterday"), None);
    }

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
