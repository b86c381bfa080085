//! The notification rules, pure: which kinds of message exist and what each is for, what a
//! person's preferences allow (channels per category, quiet hours in their own time zone), when a
//! failed send is tried again and when it becomes a dead letter. No store, no clock, no I/O: the
//! time comes in as an argument.

use chrono::{NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A channel a message goes out by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Email through SMTP.
    Email,
    /// Web push to the person's browsers.
    Push,
    /// SMS through the gateway.
    Sms,
    /// The in-app inbox (and its live stream).
    InApp,
}

impl Via {
    /// Every channel, in a stable order.
    pub const ALL: [Via; 4] = [Via::Email, Via::Push, Via::Sms, Via::InApp];

    /// The snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Email => "email",
            Via::Push => "push",
            Via::Sms => "sms",
            Via::InApp => "in_app",
        }
    }

    /// The channel named `s`.
    pub fn parse(s: &str) -> Option<Via> {
        Via::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What a kind of message is about; preferences are set per category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Verification, reset, new sign-in: always sent by email, quiet hours or not.
    Security,
    /// A customer's own orders, deliveries and refunds.
    Orders,
    /// Points earned or about to expire.
    Loyalty,
    /// Campaigns and coupons: every email carries a one-click unsubscribe link.
    Marketing,
    /// An outlet's running: low stock, sync conflicts, an outlet offline.
    Operations,
    /// A driver's jobs: new offers, cancelled jobs.
    Jobs,
}

impl Category {
    /// The categories a person may set (security is not theirs to turn off).
    pub const SETTABLE: [Category; 5] =
        [Category::Orders, Category::Loyalty, Category::Marketing, Category::Operations, Category::Jobs];

    /// The channels a person who never said otherwise gets this category on.
    pub fn default_channels(self) -> Vec<Via> {
        match self {
            Category::Security => vec![Via::Email],
            Category::Orders => vec![Via::Email, Via::Push, Via::InApp],
            Category::Loyalty | Category::Marketing => vec![Via::Email, Via::InApp],
            Category::Operations => vec![Via::Email, Via::InApp],
            Category::Jobs => vec![Via::Push, Via::InApp],
        }
    }
}

/// Every kind of message, one template each (per language).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Confirm an email address (carries the one-time token).
    EmailVerification,
    /// Set a new password (carries the one-time token).
    PasswordReset,
    /// Signed in to from somewhere new.
    NewSignIn,
    /// The outlet took the order on.
    OrderAccepted,
    /// The order was cancelled before it was made.
    OrderRefused,
    /// A driver has the order: the tracking link and the hand-over code.
    OutForDelivery,
    /// Delivered: a review request.
    Delivered,
    /// Money went back.
    RefundMade,
    /// Points were earned.
    PointsEarned,
    /// Points are about to expire.
    PointsExpiring,
    /// A campaign's coupon.
    Coupon,
    /// An ingredient fell below its reorder level.
    LowStock,
    /// A sync conflict waits to be settled.
    SyncConflict,
    /// An outlet has not been heard from for more than ten minutes.
    OutletOffline,
    /// A driver has a new offer.
    NewOffer,
    /// A driver's job was cancelled.
    JobCancelled,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 16] = [
        Kind::EmailVerification,
        Kind::PasswordReset,
        Kind::NewSignIn,
        Kind::OrderAccepted,
        Kind::OrderRefused,
        Kind::OutForDelivery,
        Kind::Delivered,
        Kind::RefundMade,
        Kind::PointsEarned,
        Kind::PointsExpiring,
        Kind::Coupon,
        Kind::LowStock,
        Kind::SyncConflict,
        Kind::OutletOffline,
        Kind::NewOffer,
        Kind::JobCancelled,
    ];

    /// The template's name, as stored with each message.
    pub fn template(self) -> &'static str {
        match self {
            Kind::EmailVerification => "security.email_verification",
            Kind::PasswordReset => "security.password_reset",
            Kind::NewSignIn => "security.new_sign_in",
            Kind::OrderAccepted => "order.accepted",
            Kind::OrderRefused => "order.refused",
            Kind::OutForDelivery => "order.out_for_delivery",
            Kind::Delivered => "order.delivered",
            Kind::RefundMade => "payment.refunded",
            Kind::PointsEarned => "loyalty.points_earned",
            Kind::PointsExpiring => "loyalty.points_expiring",
            Kind::Coupon => "marketing.coupon",
            Kind::LowStock => "outlet.low_stock",
            Kind::SyncConflict => "outlet.sync_conflict",
            Kind::OutletOffline => "outlet.offline",
            Kind::NewOffer => "driver.new_offer",
            Kind::JobCancelled => "driver.job_cancelled",
        }
    }

    /// The kind whose template is `name`.
    pub fn of_template(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.template() == name)
    }

    /// Its category.
    pub fn category(self) -> Category {
        match self {
            Kind::EmailVerification | Kind::PasswordReset | Kind::NewSignIn => Category::Security,
            Kind::OrderAccepted | Kind::OrderRefused | Kind::OutForDelivery | Kind::Delivered | Kind::RefundMade => {
                Category::Orders
            }
            Kind::PointsEarned | Kind::PointsExpiring => Category::Loyalty,
            Kind::Coupon => Category::Marketing,
            Kind::LowStock | Kind::SyncConflict | Kind::OutletOffline => Category::Operations,
            Kind::NewOffer | Kind::JobCancelled => Category::Jobs,
        }
    }

    /// Worth nothing once late (an offer expires in a minute): held back by quiet hours it is
    /// dropped, not sent in the morning.
    pub fn perishable(self) -> bool {
        matches!(self, Kind::NewOffer)
    }
}

/// Quiet hours: a span of the day, in the person's time zone, when nothing buzzes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quiet {
    /// From, `HH:MM`.
    pub from: String,
    /// To, `HH:MM` (before `from`: the span crosses midnight).
    pub to: String,
}

/// A person's preferences. What is missing takes its default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Prefs {
    /// The language of their messages: `en` or `nl` (unset: the cloud's default).
    pub lang: Option<String>,
    /// Their IANA time zone (`Europe/Amsterdam`; unset: the cloud's default).
    pub time_zone: Option<String>,
    /// Their quiet hours, if any.
    pub quiet_hours: Option<Quiet>,
    /// The channels per category; a category left out keeps its defaults, an empty list turns it
    /// off.
    pub channels: BTreeMap<Category, Vec<Via>>,
}

/// The languages there are templates for.
pub const LANGS: [&str; 2] = ["en", "nl"];

/// Why preferences are refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrefsError {
    /// A field breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
}

impl Prefs {
    /// Checks every field: a known language, a real time zone, `HH:MM` quiet hours, no security
    /// category (it is not a preference).
    pub fn check(&self) -> Result<(), PrefsError> {
        let bad = |m: String| Err(PrefsError::Invalid(m));
        if let Some(l) = &self.lang
            && !LANGS.contains(&l.as_str())
        {
            return bad(format!("lang must be one of {LANGS:?}, not {l:?}"));
        }
        if let Some(tz) = &self.time_zone
            && tz.parse::<Tz>().is_err()
        {
            return bad(format!("time_zone {tz:?} is not an IANA time zone"));
        }
        if let Some(q) = &self.quiet_hours {
            for t in [&q.from, &q.to] {
                if hhmm(t).is_none() {
                    return bad(format!("quiet hours are HH:MM, not {t:?}"));
                }
            }
        }
        if self.channels.contains_key(&Category::Security) {
            return bad("security messages cannot be turned off".into());
        }
        Ok(())
    }

    /// The channels `category` goes out on for this person.
    pub fn channels_of(&self, category: Category) -> Vec<Via> {
        if category == Category::Security {
            return Category::Security.default_channels();
        }
        self.channels.get(&category).cloned().unwrap_or_else(|| category.default_channels())
    }
}

fn hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// What to do with a message for one person on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it at this time (Unix ms): now, or when their quiet hours end.
    SendAt(i64),
    /// Do not send it; the reason is recorded.
    Suppressed(String),
}

/// Decides a message of `kind` on `via` for a person with `prefs`, at `now_ms`, in `tz` (theirs,
/// else the default): their channels first, then their quiet hours (security messages and the
/// inbox ignore them; a perishable one is dropped rather than held).
pub fn decide(kind: Kind, via: Via, prefs: &Prefs, tz: Tz, now_ms: i64) -> Decision {
    if !prefs.channels_of(kind.category()).contains(&via) {
        return Decision::Suppressed(format!("{} is off for {:?} messages", via.as_str(), kind.category()));
    }
    if kind.category() == Category::Security || via == Via::InApp {
        return Decision::SendAt(now_ms);
    }
    match prefs.quiet_hours.as_ref().and_then(|q| quiet_until(q, tz, now_ms)) {
        Some(_) if kind.perishable() => Decision::Suppressed("quiet hours".into()),
        Some(until) => Decision::SendAt(until),
        None => Decision::SendAt(now_ms),
    }
}

/// When the quiet span holding `now_ms` ends (Unix ms), or `None` outside it.
pub fn quiet_until(q: &Quiet, tz: Tz, now_ms: i64) -> Option<i64> {
    let (from, to) = (hhmm(&q.from)?, hhmm(&q.to)?);
    if from == to {
        return None;
    }
    let now = tz.timestamp_millis_opt(now_ms).single()?;
    let t = now.time().with_nanosecond(0)?;
    let inside = if from < to { t >= from && t < to } else { t >= from || t < to };
    if !inside {
        return None;
    }
    // The end is today's `to`, or tomorrow's when the span crossed midnight and we are before it.
    let day = if from > to && t >= from { now.date_naive().succ_opt()? } else { now.date_naive() };
    let end = day.and_time(to);
    // A `to` that falls in a daylight-saving gap ends at the first instant after it.
    let end = tz
        .from_local_datetime(&end)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(end + chrono::Duration::hours(1))).earliest())?;
    Some(end.timestamp_millis())
}

/// Sends tried before a message is a dead letter by default (`notify.max_attempts`).
pub const MAX_ATTEMPTS: u32 = 8;

/// What a failed send makes of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time (Unix ms).
    RetryAt(i64),
    /// Give up: a dead letter, for HQ to see and retry.
    Dead,
}

/// After the `attempts`-th failed send at `now_ms`: again after 2, 4, 8… seconds (at most five
/// minutes), with `jitter` (0..1) spreading replicas' retries, until `max` sends were tried.
pub fn after_failure(attempts: u32, max: u32, now_ms: i64, jitter: f64) -> AfterFailure {
    if attempts >= max {
        return AfterFailure::Dead;
    }
    let base = (1000_i64 << attempts.min(20)).min(300_000);
    AfterFailure::RetryAt(now_ms + base + (base as f64 * 0.25 * jitter.clamp(0.0, 1.0)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMS: Tz = chrono_tz::Europe::Amsterdam;

    fn at(local: &str) -> i64 {
        let t = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
        AMS.from_local_datetime(&t).single().unwrap().timestamp_millis()
    }

    fn quiet(from: &str, to: &str) -> Prefs {
        Prefs { quiet_hours: Some(Quiet { from: from.into(), to: to.into() }), ..Prefs::default() }
    }

    #[test]
    fn quiet_hours_across_midnight_hold_a_message_until_they_end_in_the_persons_zone() {
        let p = quiet("22:00", "07:30");
        assert_eq!(
            decide(Kind::OrderAccepted, Via::Email, &p, AMS, at("2026-12-01 23:10")),
            Decision::SendAt(at("2026-12-02 07:30"))
        );
        assert_eq!(
            decide(Kind::OrderAccepted, Via::Push, &p, AMS, at("2026-12-02 06:59")),
            Decision::SendAt(at("2026-12-02 07:30"))
        );
        assert_eq!(
            decide(Kind::OrderAccepted, Via::Push, &p, AMS, at("2026-12-02 07:30")),
            Decision::SendAt(at("2026-12-02 07:30"))
        );
        assert_eq!(
            decide(Kind::OrderAccepted, Via::Push, &p, AMS, at("2026-12-02 12:00")),
            Decision::SendAt(at("2026-12-02 12:00"))
        );
        // The same instant is 22:10 in London: outside quiet hours there only from 22:00... inside too.
        let london = chrono_tz::Europe::London;
        assert_eq!(
            decide(Kind::OrderAccepted, Via::Push, &p, london, at("2026-12-01 22:30")),
            Decision::SendAt(at("2026-12-01 22:30")),
            "21:30 in London"
        );
    }

    #[test]
    fn security_messages_and_the_inbox_ignore_quiet_hours_and_an_offer_is_dropped() {
        let p = quiet("00:00", "23:59");
        let now = at("2026-12-01 03:00");
        assert_eq!(decide(Kind::PasswordReset, Via::Email, &p, AMS, now), Decision::SendAt(now));
        assert_eq!(decide(Kind::OrderAccepted, Via::InApp, &p, AMS, now), Decision::SendAt(now));
        assert!(matches!(decide(Kind::NewOffer, Via::Push, &p, AMS, now), Decision::Suppressed(_)));
        assert!(matches!(decide(Kind::JobCancelled, Via::Push, &p, AMS, now), Decision::SendAt(t) if t > now));
    }

    #[test]
    fn a_channel_turned_off_suppresses_and_security_cannot_be_turned_off() {
        let mut p = Prefs::default();
        p.channels.insert(Category::Orders, vec![Via::InApp]);
        let now = at("2026-12-01 12:00");
        assert!(
            matches!(decide(Kind::OrderAccepted, Via::Email, &p, AMS, now), Decision::Suppressed(r) if r.contains("email"))
        );
        assert_eq!(decide(Kind::OrderAccepted, Via::InApp, &p, AMS, now), Decision::SendAt(now));
        assert!(matches!(decide(Kind::Coupon, Via::Sms, &p, AMS, now), Decision::Suppressed(_)), "SMS is opt-in");
        p.channels.insert(Category::Security, vec![]);
        assert!(p.check().is_err());
        assert_eq!(p.channels_of(Category::Security), vec![Via::Email]);
    }

    #[test]
    fn preferences_are_checked() {
        assert!(Prefs { lang: Some("fr".into()), ..Prefs::default() }.check().is_err());
        assert!(Prefs { time_zone: Some("Mars/Olympus".into()), ..Prefs::default() }.check().is_err());
        assert!(quiet("25:00", "07:00").check().is_err());
        assert!(
            Prefs { lang: Some("nl".into()), time_zone: Some("Europe/Amsterdam".into()), ..quiet("22:00", "07:00") }
                .check()
                .is_ok()
        );
    }

    #[test]
    fn failures_back_off_and_end_as_a_dead_letter() {
        let mut last = 0;
        for attempt in 1..MAX_ATTEMPTS {
            match after_failure(attempt, MAX_ATTEMPTS, 0, 0.0) {
                AfterFailure::RetryAt(t) => {
                    assert!(t > last, "each wait is longer");
                    assert!(t <= 300_000);
                    last = t;
                }
                AfterFailure::Dead => panic!("gave up after {attempt}"),
            }
        }
        assert_eq!(after_failure(MAX_ATTEMPTS, MAX_ATTEMPTS, 0, 0.5), AfterFailure::Dead);
        assert!(matches!(after_failure(1, MAX_ATTEMPTS, 0, 1.0), AfterFailure::RetryAt(2500)));
    }

    #[test]
    fn every_kind_has_its_own_template_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::of_template(k.template()), Some(k));
        }
    }
}
