//! The ingest of one message: a device's fix, status or reply, judged and kept; an accepted fix
//! handed to delivery tracking; the [`Outcome`] telling the worker when to acknowledge it.

use super::owntracks::owntracks;
use super::store;
use crate::delivery::DeliveryState;
use crate::fleet::{DevicePosition, Reason, Verdict, judge};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};
use patty_protocol::telemetry::{Fix, TOPIC_PREFIX};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The driver behind an active device key, cached for 10 seconds.
pub(super) async fn driver_of(state: &DeliveryState, device: &str) -> Result<Option<String>> {
    if let Some((driver, at)) = state.fleet.devices.lock().unwrap_or_else(|e| e.into_inner()).get(device)
        && at.elapsed() < Duration::from_secs(10)
    {
        return Ok(driver.clone());
    }
    let driver = store::driver_of(&state.db, device).await?;
    state
        .fleet
        .devices
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(device.to_owned(), (driver.clone(), Instant::now()));
    Ok(driver)
}

/// Splits `patty/v1/devices/D/KIND` into (D, KIND).
pub(super) fn parse_topic(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(TOPIC_PREFIX)?.strip_prefix('/')?;
    let (device, kind) = rest.split_once('/')?;
    (!device.is_empty() && !kind.contains('/')).then_some((device, kind))
}

/// What one message asks of the ingest loop once it is judged.
pub(super) enum Outcome {
    /// Produce this record (key, JSON), then acknowledge.
    Produce(String, String),
    /// Acknowledge at once.
    Ack,
    /// Do not acknowledge: the broker sends it again on the next session (the database was
    /// unreachable).
    Hold,
}

/// The driver behind `device`, or the outcome for a message from an unknown one.
pub(super) async fn known(state: &DeliveryState, device: &str) -> std::result::Result<String, Outcome> {
    match driver_of(state, device).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => {
            state.fleet.reject(device, Reason::UnknownDevice, "no active device key with this id");
            Err(Outcome::Ack)
        }
        Err(e) => {
            tracing::error!(error = %e, "checking a device failed");
            Err(Outcome::Hold)
        }
    }
}

pub(super) async fn handle(state: &DeliveryState, topic: &str, payload: &[u8]) -> Outcome {
    if let Some(rest) = topic.strip_prefix("owntracks/") {
        return owntracks(state, rest, payload).await;
    }
    let Some((device, kind)) = parse_topic(topic) else {
        state.fleet.reject(topic, Reason::BadTopic, "not a device topic");
        return Outcome::Ack;
    };
    match kind {
        "status" => {
            let online = payload == b"online";
            state.fleet.online.lock().unwrap_or_else(|e| e.into_inner()).insert(device.to_owned(), online);
            Outcome::Ack
        }
        "fix" => {
            let driver = match known(state, device).await {
                Ok(d) => d,
                Err(outcome) => return outcome,
            };
            match Fix::decode(payload) {
                Ok(fix) => accept_fix(state, device, driver, fix).await,
                Err(e) => {
                    state.fleet.reject(device, Reason::Malformed, &e.to_string());
                    Outcome::Ack
                }
            }
        }
        "reply" => {
            reply(state, device, payload).await;
            Outcome::Ack
        }
        // The cloud's own commands.
        "cmd" => Outcome::Ack,
        _ => {
            state.fleet.reject(device, Reason::BadTopic, topic);
            Outcome::Ack
        }
    }
}

/// Judges a decoded fix from `device` (driven by `driver`) and, when accepted, keeps it, hands it
/// to delivery tracking, and asks for it to be produced.
pub(super) async fn accept_fix(state: &DeliveryState, device: &str, driver: String, fix: Fix) -> Outcome {
    let delivery = match fix.job {
        None => None,
        Some(job) => match crate::delivery::check_job(state, job, &driver).await {
            Ok(Ok(d)) => d,
            Ok(Err(())) => {
                state.fleet.reject(device, Reason::NotOnDelivery, &format!("job {job}"));
                return Outcome::Ack;
            }
            Err(e) => {
                tracing::error!(error = %e, "checking a fix's job failed");
                return Outcome::Hold;
            }
        },
    };
    let now_s = (now_ms() / 1000) as u64;
    let verdict = {
        let latest = state.fleet.latest.lock().unwrap_or_else(|e| e.into_inner());
        judge(latest.get(device).map(|(f, _)| f), &fix, now_s)
    };
    match verdict {
        Verdict::Reject(reason) => {
            state.fleet.reject(device, reason, &format!("{fix:?}"));
            Outcome::Ack
        }
        Verdict::Repeat => {
            state.fleet.repeats.fetch_add(1, Ordering::Relaxed);
            Outcome::Ack
        }
        Verdict::Accept { jump } => {
            state.fleet.accepted.fetch_add(1, Ordering::Relaxed);
            if jump {
                state.fleet.jumps.fetch_add(1, Ordering::Relaxed);
            }
            let position = DevicePosition {
                device_id: device.to_owned(),
                driver_id: driver,
                seq: fix.seq,
                lat: fix.lat(),
                lon: fix.lon(),
                accuracy_m: fix.accuracy_m,
                speed_mps: fix.speed_mps(),
                heading_deg: fix.heading_deg,
                time_s: fix.time_s,
                battery_pct: (fix.battery_pct <= 100).then_some(fix.battery_pct),
                job: fix.job,
                delivery_id: delivery.as_ref().map(|d| d.id),
                jump,
                received_ms: now_ms(),
                online: true,
            };
            let json = serde_json::to_string(&position).unwrap_or_default();
            // One ingest loop per replica judges a device's fixes in turn, so nothing
            // slipped in between the judgement and this insert.
            state
                .fleet
                .latest
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(device.to_owned(), (fix, position.clone()));
            // Each delivery's fixes stay in order in one partition; a driver between
            // deliveries is keyed by device.
            let key = position.delivery_id.map(|d| d.to_string()).unwrap_or_else(|| device.to_owned());
            // Geofences, milestones and ETAs run in delivery tracking, in this device's order.
            crate::delivery::track(state, position).await;
            Outcome::Produce(key, json)
        }
    }
}

/// A driver's answer from their device: accept, decline, picked up, a code.
async fn reply(state: &DeliveryState, device: &str, payload: &[u8]) {
    let driver = match driver_of(state, device).await {
        Ok(Some(d)) => d,
        Ok(None) => return state.fleet.reject(device, Reason::UnknownDevice, "no active device key with this id"),
        Err(e) => return tracing::error!(error = %e, "checking a device failed"),
    };
    let reply: patty_protocol::delivery::Reply = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(e) => return state.fleet.reject(device, Reason::BadReply, &e.to_string()),
    };
    use crate::delivery::Action;
    use patty_protocol::delivery::Reply;
    let job = reply.job();
    let (action, is_code) = match reply {
        Reply::Accept { .. } => (Action::Accept, false),
        Reply::Decline { .. } => (Action::Decline, false),
        Reply::PickedUp { .. } => (Action::PickedUp, false),
        Reply::Code { code, .. } => (Action::Code(code), true),
    };
    match crate::delivery::act(state, &driver, Some(device), job, action).await {
        Ok(_) => {}
        Err(Error::Validation(m)) if is_code => state.fleet.reject(device, Reason::WrongCode, &m),
        Err(e) => state.fleet.reject(device, Reason::BadReply, &e.to_string()),
    }
}
