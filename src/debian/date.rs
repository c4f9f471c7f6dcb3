//! Dates as Debian writes them: RFC 2822 in `Release` files and
//! changelogs (`Mon, 23 Nov 2026 15:30:12 +0000`), and the compact UTC
//! stamp in confpack's versions (`20261123.153012`). The calendar is the
//! `time` crate's; only what Debian writes beside RFC 2822 is handled
//! here (the zone `UTC` of Debian's own `Release` files).

use time::format_description::well_known::Rfc2822;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Seconds since the epoch of a `Release` date: `Mon, 23 Nov 2026
/// 15:30:12 +0000` (the weekday is optional; `UTC`, `GMT`, `UT` and `Z`
/// mean +0000).
pub fn parse_rfc2822(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = ["UTC", "GMT", "UT", "Z"]
        .iter()
        .find_map(|zone| text.strip_suffix(zone).filter(|t| t.ends_with(' ')))
        .map_or_else(|| text.to_string(), |rest| format!("{rest}+0000"));
    OffsetDateTime::parse(&text, &Rfc2822)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// A `Release` date of `time` (seconds since the epoch), in UTC:
/// `Mon, 23 Nov 2026 15:30:12 +0000`; [`parse_rfc2822`] reads it back.
/// A time RFC 2822 cannot write (before 1900) is written as the epoch.
pub fn format_rfc2822(time: i64) -> String {
    OffsetDateTime::from_unix_timestamp(time)
        .ok()
        .and_then(|date| date.format(&Rfc2822).ok())
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".to_string())
}

/// `20261123.153012` (UTC) of `time`: sorts like the time it names.
pub fn compact_utc(time: i64) -> String {
    OffsetDateTime::from_unix_timestamp(time)
        .ok()
        .zip(compact().ok())
        .and_then(|(date, format)| date.format(&format).ok())
        .unwrap_or_else(|| "19700101.000000".to_string())
}

/// `2026-12-03`: the UTC day of `time` (a man page's date).
pub fn iso_date(time: i64) -> String {
    OffsetDateTime::from_unix_timestamp(time)
        .map(|moment| moment.date().to_string())
        .unwrap_or_else(|_| "1970-01-01".to_string())
}

/// The format of [`compact_utc`].
fn compact() -> Result<
    Vec<time::format_description::BorrowedFormatItem<'static>>,
    time::error::InvalidFormatDescription,
> {
    time::format_description::parse_borrowed::<2>("[year][month][day].[hour][minute][second]")
}

/// The UTC time (seconds) of a [`compact_utc`] stamp.
pub fn parse_compact_utc(date: &str, time: &str) -> Option<i64> {
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    PrimitiveDateTime::parse(&format!("{date}.{time}"), &compact().ok()?)
        .ok()
        .map(|moment| moment.assume_utc().unix_timestamp())
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
        assert_eq!(parse_rfc2822("01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_rfc2822("yesterday"), None);
        assert_eq!(parse_rfc2822("Thu, 32 Jan 1970 00:00:00 +0000"), None);
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 00:00:00 XUTC"), None);
    }

    #[test]
    fn debians_own_release_date_is_read() {
        // bookworm's Release, as Debian writes it.
        assert_eq!(
            parse_rfc2822("Sat, 08 Nov 2025 09:13:30 UTC"),
            Some(1_762_593_210)
        );
    }

    #[test]
    fn compact_stamps_round_trip_and_sort_like_time() {
        assert_eq!(compact_utc(1_767_323_045), "20260102.030405");
        assert_eq!(parse_compact_utc("20260102", "030405"), Some(1_767_323_045));
        assert_eq!(parse_compact_utc("20261302", "030405"), None);
        assert_eq!(parse_compact_utc("2026010", "030405"), None);
        assert!(compact_utc(1_767_323_045) < compact_utc(1_767_323_046));
        assert_eq!(iso_date(1_767_323_045), "2026-01-02");
        assert_eq!(iso_date(-1), "1969-12-31");
    }
}
