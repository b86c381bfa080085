//! The notifier's loop: the event log followed from the shared cursor (or Kafka, see `kafka`) (each event's messages
//! written, then the cursor moved), outlets not heard from for too long reported, and the due
//! messages sent. Woken by the relay (new events) and by queued messages; a tick covers messages
//! held back by quiet hours or a retry's backoff, and events relayed by another replica.

use super::plan::{self, Notice};
use super::rules::Kind;
use super::{NotifyState, flow};
use crate::infra::db::now_ms;
use crate::infra::error::Result;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The cursor's name in `dispatch_cursor`.
pub const CURSOR: &str = "notify";
/// Events read per round.
const BATCH: i64 = 500;
/// Messages claimed per round.
const SENDS: i64 = 256;
/// The longest sleep between rounds.
const TICK: Duration = Duration::from_millis(500);
/// How often outlets are checked for being offline (at most; a quarter of the silence allowed
/// when that is shorter).
const OFFLINE_EVERY: Duration = Duration::from_secs(30);

/// Runs until `shutdown`.
pub async fn run(state: NotifyState, mut shutdown: watch::Receiver<bool>) {
    let mut relayed = state.relayed.subscribe();
    let every = OFFLINE_EVERY.min(Duration::from_millis(state.config.notify.offline_after_secs * 250).max(TICK));
    let mut checked = Instant::now() - every;
    let from_kafka = state.config.notify.source == "kafka";
    if from_kafka {
        tokio::spawn(super::kafka::run(state.clone(), shutdown.clone()));
    }
    tracing::info!(
        email = state.channels.has(super::rules::Via::Email),
        push = state.channels.has(super::rules::Via::Push),
        sms = state.channels.has(super::rules::Via::Sms),
        "notifier running"
    );
    loop {
        if !from_kafka && let Err(e) = follow(&state).await {
            tracing::warn!(error = %e, "notify: reading the event log failed");
        }
        if checked.elapsed() >= every {
            checked = Instant::now();
            if let Err(e) = offline_outlets(&state).await {
                tracing::warn!(error = %e, "notify: checking for offline outlets failed");
            }
        }
        loop {
            match flow::send_due(&state, SENDS).await {
                Ok(n) if n as i64 == SENDS => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "notify: sending failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = relayed.changed() => {},
            _ = state.wake.notified() => {},
            _ = tokio::time::sleep(TICK) => {},
            _ = shutdown.changed() => return,
        }
    }
}

/// Writes the messages of the events after the shared cursor, then moves it; an event whose
/// messages cannot be written stops the round there (it is read again next time: its messages'
/// idempotency keys make the second reading harmless).
pub async fn follow(state: &NotifyState) -> Result<usize> {
    let mut cursor = crate::events::store::cursor(&state.db, CURSOR).await?;
    let top = crate::events::store::top(&state.db).await?;
    let mut written = 0;
    while cursor < top {
        let events = crate::events::store::read_kinds(&state.db, cursor, top, &plan::KINDS, BATCH).await?;
        let last = if events.len() as i64 == BATCH { events.last().map_or(top, |e| e.position) } else { top };
        for e in &events {
            match handle(state, e).await {
                Ok(n) => written += n,
                Err(err) => {
                    crate::events::store::advance(&state.db, CURSOR, e.position - 1).await?;
                    return Err(err);
                }
            }
        }
        crate::events::store::advance(&state.db, CURSOR, last).await?;
        cursor = last;
    }
    Ok(written)
}

/// Writes the messages of one event (from the log or from Kafka); how many were new.
pub async fn handle(state: &NotifyState, e: &crate::events::store::OutboxEvent) -> Result<usize> {
    let mut written = 0;
    match plan::notices(state, e).await {
        Ok(notices) => {
            for n in &notices {
                written += flow::enqueue(state, &e.event_id, n).await?;
            }
        }
        // An event about something that is gone (an erased order) has no one to tell.
        Err(crate::infra::error::Error::NotFound(why)) => {
            tracing::info!(event = e.event_id, kind = e.kind, why, "notify: nothing to say")
        }
        Err(err) => return Err(err),
    }
    Ok(written)
}

/// Reports each outlet last seen more than `notify.offline_after_secs` ago, once per silence
/// (the silence's start is in the idempotency key), to its managers and HQ.
pub async fn offline_outlets(state: &NotifyState) -> Result<usize> {
    let now = now_ms();
    let after = state.config.notify.offline_after_secs as i64 * 1000;
    let mut written = 0;
    for p in crate::sync::store::progress(&state.db).await? {
        if now - p.seen_ms <= after {
            continue;
        }
        let since = chrono::DateTime::from_timestamp_millis(p.seen_ms).unwrap_or_default();
        let tz: chrono_tz::Tz = state.config.notify.default_time_zone.parse().unwrap_or(chrono_tz::UTC);
        let vars = [
            ("outlet".to_owned(), plan::outlet_name(state, p.outlet_id).await),
            ("since".to_owned(), since.with_timezone(&tz).format("%H:%M").to_string()),
            ("minutes".to_owned(), ((now - p.seen_ms) / 60_000).to_string()),
            (
                "link".to_owned(),
                format!("{}/hq/outlets/{}", state.config.notify.public_url.trim_end_matches('/'), p.outlet_id),
            ),
        ]
        .into();
        let key = format!("outlet.offline:{}:{}", p.outlet_id, p.seen_ms);
        let notices: Vec<Notice> = plan::managers(state, p.outlet_id, true, Kind::OutletOffline, vars).await?;
        for n in &notices {
            written += flow::enqueue(state, &key, n).await?;
        }
    }
    Ok(written)
}
