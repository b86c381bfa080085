//! OwnTracks: the app's JSON on `owntracks/USER/DEVICE`, read as the fixes of the device key
//! linked to that user and device.

use super::ingest::{Outcome, accept_fix, known};
use super::store;
use crate::delivery::DeliveryState;
use crate::fleet::Reason;
use crate::infra::error::Result;
use patty_protocol::telemetry::Fix;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// OwnTracks' JSON on `owntracks/USER/DEVICE` (and `…/event`): a location becomes a fix of the
/// device key linked to that user and device; a transition (the app's own regions) is passed on
/// as an alert; `lwt` marks the device offline. Other message types are ignored.
pub(super) async fn owntracks(state: &DeliveryState, rest: &str, payload: &[u8]) -> Outcome {
    let parts: Vec<&str> = rest.split('/').collect();
    let (user, device_name) = match parts.as_slice() {
        [u, d] | [u, d, "event"] if !u.is_empty() && !d.is_empty() => (*u, *d),
        _ => {
            state.fleet.reject(rest, Reason::BadTopic, "not an OwnTracks location topic");
            return Outcome::Ack;
        }
    };
    let who = format!("owntracks/{user}/{device_name}");
    let device = match owntracks_device(state, user, device_name).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            state.fleet.reject(&who, Reason::UnknownDevice, "no device linked to this OwnTracks user and device");
            return Outcome::Ack;
        }
        Err(e) => {
            tracing::error!(error = %e, "checking an OwnTracks link failed");
            return Outcome::Hold;
        }
    };
    let driver = match known(state, &device).await {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    let msg: OwnTracks = match serde_json::from_slice(payload) {
        Ok(m) => m,
        Err(e) => {
            state.fleet.reject(&device, Reason::Malformed, &e.to_string());
            return Outcome::Ack;
        }
    };
    match msg.kind.as_str() {
        "location" => {
            let (Some(lat), Some(lon), Some(tst)) = (msg.lat, msg.lon, msg.tst) else {
                state.fleet.reject(&device, Reason::Malformed, "a location needs lat, lon and tst");
                return Outcome::Ack;
            };
            if !(lat.is_finite() && lon.is_finite()) {
                state.fleet.reject(&device, Reason::OutOfRange, "coordinates are not numbers");
                return Outcome::Ack;
            }
            state.fleet.online.lock().unwrap_or_else(|e| e.into_inner()).insert(device.clone(), true);
            // The app knows nothing of jobs: a driver on a delivery is on it.
            let job = match crate::delivery::active_job_of(state, &driver).await {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!(error = %e, "finding a driver's delivery failed");
                    return Outcome::Hold;
                }
            };
            let tst = u32::try_from(tst).unwrap_or(u32::MAX);
            let fix = Fix {
                // The app has no counter; its timestamps order its fixes.
                seq: tst,
                time_s: tst,
                lat_u: patty_protocol::telemetry::micro(lat),
                lon_u: patty_protocol::telemetry::micro(lon),
                accuracy_m: msg.acc.unwrap_or(0.0).clamp(0.0, 65_535.0) as u16,
                // km/h to decimetres per second.
                speed_dms: (msg.vel.unwrap_or(0.0) / 0.36).round().clamp(0.0, 65_535.0) as u16,
                heading_deg: msg.cog.map_or(0, |c| (c.round() as i64).rem_euclid(360) as u16),
                battery_pct: msg.batt.filter(|b| (0.0..=100.0).contains(b)).map_or(255, |b| b as u8),
                job,
            };
            accept_fix(state, &device, driver, fix).await
        }
        "transition" => {
            let event = msg.event.unwrap_or_default();
            let region = msg.desc.unwrap_or_default();
            crate::delivery::device_reported_transition(state, &device, &driver, &region, event == "enter").await;
            Outcome::Ack
        }
        "lwt" => {
            state.fleet.online.lock().unwrap_or_else(|e| e.into_inner()).insert(device, false);
            Outcome::Ack
        }
        _ => Outcome::Ack,
    }
}

/// The fields of an OwnTracks message the cloud reads.
#[derive(Deserialize)]
struct OwnTracks {
    #[serde(rename = "_type")]
    kind: String,
    lat: Option<f64>,
    lon: Option<f64>,
    tst: Option<i64>,
    acc: Option<f64>,
    vel: Option<f64>,
    cog: Option<f64>,
    batt: Option<f64>,
    event: Option<String>,
    desc: Option<String>,
}

/// The device key linked to an OwnTracks user and device, cached for 10 seconds.
async fn owntracks_device(state: &DeliveryState, user: &str, device: &str) -> Result<Option<String>> {
    let key = format!("{user}/{device}");
    if let Some((linked, at)) = state.fleet.owntracks.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        && at.elapsed() < Duration::from_secs(10)
    {
        return Ok(linked.clone());
    }
    let linked = store::owntracks_device(&state.db, user, device).await?;
    state.fleet.owntracks.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (linked.clone(), Instant::now()));
    Ok(linked)
}
