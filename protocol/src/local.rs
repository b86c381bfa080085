//! Local time: what an instant is on an outlet's clock, and which instants make up one of its
//! local days, from the outlet's IANA time zone (summer time included). Opening hours,
//! availability windows, order numbers and day reports all read local time through here.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
pub use chrono_tz::Tz;

/// Where `at` falls in the local week: (ISO weekday 1 = Monday … 7 = Sunday, minute after local
/// midnight).
pub fn weekday_minute(at: DateTime<Utc>, zone: Tz) -> (u8, u16) {
    let local = at.with_timezone(&zone);
    (local.weekday().number_from_monday() as u8, (local.hour() * 60 + local.minute()) as u16)
}

/// Whether a weekly span (`days` as ISO weekdays, empty for every day; `start..end` in minutes
/// after local midnight, `end` past 1440 for after midnight) holds local (`day`, `minute`). A span
/// past midnight belongs to the day it started on.
pub fn in_weekly_span(day: u8, minute: u16, on: impl Fn(u8) -> bool, start: u16, end: u16) -> bool {
    let prev = if day == 1 { 7 } else { day - 1 };
    (on(day) && minute >= start && minute < end) || (end > 1440 && on(prev) && minute + 1440 < end)
}

/// The local date at `at`.
pub fn date_at(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// The local hour (0 to 23) at `at`.
pub fn hour_at(at: DateTime<Utc>, zone: Tz) -> u32 {
    at.with_timezone(&zone).hour()
}

/// The first instant of local day `date`: local midnight, or, where the clocks skip midnight, the
/// first quarter hour that exists.
pub fn day_start(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut local = date.and_time(NaiveTime::MIN);
    // Every offset in the time zone database is a whole number of quarter hours; a day skipped
    // whole (Samoa, 30 December 2011) ends the search at the next day's midnight.
    for _ in 0..=4 * 24 {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(15),
        }
    }
    local.and_utc()
}

/// Local day `date` as instants, Unix ms: its first, and the first of the next day. A day is 23,
/// 24 or 25 hours long.
pub fn day_range_ms(date: NaiveDate, zone: Tz) -> (i64, i64) {
    let next = date.succ_opt().unwrap_or(date);
    (day_start(date, zone).timestamp_millis(), day_start(next, zone).timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(m: u32, d: u32, h: u32, min: u32) -> i64 {
        Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap().timestamp_millis()
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn an_amsterdam_day_starts_at_local_midnight_through_the_clock_changes() {
        let ams = Tz::Europe__Amsterdam;
        // Winter time (UTC+1): the day starts at 23:00 UTC the evening before.
        assert_eq!(day_range_ms(day(3, 28), ams), (ms(3, 27, 23, 0), ms(3, 28, 23, 0)));
        // Sunday 29 March has 23 hours.
        assert_eq!(day_range_ms(day(3, 29), ams), (ms(3, 28, 23, 0), ms(3, 29, 22, 0)));
        // Summer time (UTC+2): 22:00 UTC the evening before.
        assert_eq!(day_range_ms(day(3, 30), ams), (ms(3, 29, 22, 0), ms(3, 30, 22, 0)));
        // Sunday 25 October has 25 hours.
        assert_eq!(day_range_ms(day(10, 25), ams), (ms(10, 24, 22, 0), ms(10, 25, 23, 0)));
        assert_eq!(day_range_ms(day(10, 26), ams), (ms(10, 25, 23, 0), ms(10, 26, 23, 0)));
        let at = |t: i64| DateTime::from_timestamp_millis(t).unwrap();
        assert_eq!(date_at(at(ms(3, 29, 22, 0)), ams), day(3, 30));
        assert_eq!(date_at(at(ms(3, 29, 21, 59)), ams), day(3, 29));
    }

    #[test]
    fn kolkata_is_half_an_hour_off_the_hour() {
        let k = Tz::Asia__Kolkata;
        assert_eq!(day_range_ms(day(7, 1), k), (ms(6, 30, 18, 30), ms(7, 1, 18, 30)));
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 12, 15, 0).unwrap();
        assert_eq!(weekday_minute(at, k), (3, 17 * 60 + 45));
        assert_eq!(hour_at(at, k), 17);
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clocks_do() {
        // Santiago moved its clocks from 00:00 to 01:00 on 6 September 2026.
        let s = Tz::America__Santiago;
        let (start, end) = day_range_ms(day(9, 6), s);
        assert_eq!(start, ms(9, 6, 4, 0), "01:00 at UTC-3");
        assert_eq!(end - start, 23 * 3_600_000);
    }
}
