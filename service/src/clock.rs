//! The one source of "now". Postgres keeps microseconds, so the service never holds a
//! finer time than it can read back: cursors and equality checks stay exact on both
//! backends, and SQLite's text timestamps keep sorting in time order.

use chrono::{DateTime, Datelike, SubsecRound, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Now, or `earliest` if this clock is behind it: what happens to a row is stamped no
/// earlier than what it follows, whichever instance's clock stamped that.
pub fn not_before(earliest: DateTime<Utc>) -> DateTime<Utc> {
    Ord::max(now(), earliest)
}

pub fn to_micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// A time both backends store and order as a time: Postgres's `timestamptz` ends at
/// 4713 BC, and SQLite's text timestamps sort as times only with four-digit years.
pub fn storable(t: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&t.year())
}
