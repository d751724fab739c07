//! Timestamps as async-graphql writes them (`DateTime<Utc>::to_rfc3339`), byte for byte,
//! without chrono's formatting machinery: its `write!`s for the fraction and the offset
//! were 2.7% of a thread page's instructions. Years outside 0–9999 and leap seconds,
//! which no row holds, are left to chrono.

use async_graphql::Value;
use chrono::{DateTime, Datelike, Timelike, Utc};

pub fn value(t: &DateTime<Utc>) -> Value {
    Value::String(rfc3339(t))
}

pub fn optional(t: Option<&DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, value)
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    let year = t.year();
    let nano = t.nanosecond();
    let (Ok(year @ 0..=9999), 0..=999_999_999) = (u32::try_from(year), nano) else {
        return t.to_rfc3339();
    };
    // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+00:00"
    let mut out = String::with_capacity(35);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, t.month(), 2);
    out.push('-');
    push_digits(&mut out, t.day(), 2);
    out.push('T');
    push_digits(&mut out, t.hour(), 2);
    out.push(':');
    push_digits(&mut out, t.minute(), 2);
    out.push(':');
    push_digits(&mut out, t.second(), 2);
    // chrono's `SecondsFormat::AutoSi`: none, milli-, micro- or nanoseconds, the shortest exact.
    match nano {
        0 => {}
        n if n % 1_000_000 == 0 => fraction(&mut out, n / 1_000_000, 3),
        n if n % 1_000 == 0 => fraction(&mut out, n / 1_000, 6),
        n => fraction(&mut out, n, 9),
    }
    out.push_str("+00:00");
    out
}

fn fraction(out: &mut String, value: u32, digits: u32) {
    out.push('.');
    push_digits(out, value, digits);
}

/// `value` in exactly `digits` decimal digits (it has no more).
fn push_digits(out: &mut String, value: u32, digits: u32) {
    for place in (0..digits).rev() {
        let digit = value / 10u32.pow(place) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn chrono(t: &DateTime<Utc>) -> String {
        t.to_rfc3339()
    }

    proptest! {
        /// Any instant of years 0–9999 (and beyond, where chrono writes it), with a
        /// fraction of any shape, is written as chrono writes it.
        #[test]
        fn written_as_chrono_writes_it(
            secs in -70_000_000_000i64..260_000_000_000,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|n| n * 1_000_000),
                (0u32..1_000_000).prop_map(|n| n * 1000),
                0u32..1_000_000_000,
            ],
        ) {
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            prop_assert_eq!(rfc3339(&t), chrono(&t));
        }
    }

    #[test]
    fn edges_are_written_as_chrono_writes_them() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .unwrap();
        let instants = [
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap(),
            Utc.from_utc_datetime(&leap),
            DateTime::from_timestamp(1_790_000_000, 7).unwrap(),
        ];
        for t in instants {
            assert_eq!(rfc3339(&t), chrono(&t), "{t:?}");
        }
        let t = DateTime::from_timestamp(1_790_000_000, 120_000_000).unwrap();
        assert_eq!(rfc3339(&t), "2026-09-21T14:13:20.120+00:00");
    }
}
