//! Drivers' fleet state on this replica: each device's latest accepted position and session
//! state, the judgement of a new fix against the last (range, time, order, plausibility), the
//! ingest's counters, and the command channel back to a device. HQ reads positions here.
//!
//! May use `infra`; the telemetry ingest feeds it and delivery reads it.

use crate::infra::access::Principal;
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use patty_protocol::telemetry::Fix;
use rumqttc::{AsyncClient, QoS};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Faster than this between two fixes is not a car: the later fix is flagged.
const MAX_PLAUSIBLE_MPS: f64 = 70.0;
/// A fix stamped further ahead than this is refused.
const MAX_AHEAD_S: u64 = 120;

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not a device topic this cloud knows.
    BadTopic,
    /// The topic's device is not an active device key.
    UnknownDevice,
    /// The payload is not a fix.
    Malformed,
    /// Coordinates or heading out of range.
    OutOfRange,
    /// Stamped too far in the future.
    FromTheFuture,
    /// The fix names a job that is not the driver's.
    NotOnDelivery,
    /// A reply that does not parse, or that the delivery's state refuses.
    BadReply,
    /// A wrong hand-over code.
    WrongCode,
}

impl Reason {
    const ALL: [Reason; 8] = [
        Reason::BadTopic,
        Reason::UnknownDevice,
        Reason::Malformed,
        Reason::OutOfRange,
        Reason::FromTheFuture,
        Reason::NotOnDelivery,
        Reason::BadReply,
        Reason::WrongCode,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::BadTopic => "bad_topic",
            Self::UnknownDevice => "unknown_device",
            Self::Malformed => "malformed",
            Self::OutOfRange => "out_of_range",
            Self::FromTheFuture => "from_the_future",
            Self::NotOnDelivery => "not_on_delivery",
            Self::BadReply => "bad_reply",
            Self::WrongCode => "wrong_code",
        }
    }
}

/// What to do with a fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it; `jump` when it is implausibly far from the last one.
    Accept {
        /// Implied speed over [`MAX_PLAUSIBLE_MPS`].
        jump: bool,
    },
    /// Seen before (sequence not above the last accepted).
    Repeat,
    /// Refuse it.
    Reject(Reason),
}

/// Judges `fix` against the device's last accepted one.
pub fn judge(last: Option<&Fix>, fix: &Fix, now_s: u64) -> Verdict {
    if !fix.in_range() {
        return Verdict::Reject(Reason::OutOfRange);
    }
    if u64::from(fix.time_s) > now_s + MAX_AHEAD_S {
        return Verdict::Reject(Reason::FromTheFuture);
    }
    let Some(last) = last else { return Verdict::Accept { jump: false } };
    if fix.seq <= last.seq {
        return Verdict::Repeat;
    }
    let metres = distance_m((last.lat(), last.lon()), (fix.lat(), fix.lon()));
    let seconds = f64::from(fix.time_s.saturating_sub(last.time_s).max(1));
    Verdict::Accept { jump: metres / seconds > MAX_PLAUSIBLE_MPS }
}

pub use patty_protocol::geo::distance_m;

/// A device's latest accepted position.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DevicePosition {
    /// The device (its API key's id).
    pub device_id: String,
    /// The driver the device belongs to.
    pub driver_id: String,
    /// The fix's sequence number.
    pub seq: u32,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Accuracy, metres.
    pub accuracy_m: u16,
    /// Speed, metres per second.
    pub speed_mps: f64,
    /// Heading, degrees.
    pub heading_deg: u16,
    /// When measured, Unix seconds.
    pub time_s: u32,
    /// Battery percent, when known.
    pub battery_pct: Option<u8>,
    /// The job number the fix names.
    pub job: Option<u32>,
    /// The delivery that job is, while it is under way.
    #[schema(value_type = Option<String>)]
    pub delivery_id: Option<patty_protocol::ids::DeliveryId>,
    /// Implausibly far from the previous fix.
    pub jump: bool,
    /// When the cloud received it, Unix ms.
    pub received_ms: i64,
    /// Whether the device's session is up (its last status was `online`).
    pub online: bool,
}

/// What the fleet's handlers use.
#[derive(Clone)]
pub struct FleetState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The fleet on this replica.
    pub fleet: Arc<Fleet>,
}
crate::shared_state!(FleetState);

/// Fleet state on this replica.
#[derive(Default)]
pub struct Fleet {
    pub(crate) latest: Mutex<HashMap<String, (Fix, DevicePosition)>>,
    pub(crate) online: Mutex<HashMap<String, bool>>,
    pub(crate) devices: Mutex<HashMap<String, (Option<String>, Instant)>>,
    pub(crate) owntracks: Mutex<HashMap<String, (Option<String>, Instant)>>,
    pub(crate) quiet: Mutex<HashMap<String, Instant>>,
    /// Fixes accepted.
    pub accepted: AtomicU64,
    /// Accepted but flagged as an impossible jump.
    pub jumps: AtomicU64,
    /// Repeats dropped.
    pub repeats: AtomicU64,
    /// Accepted fixes Kafka acknowledged.
    pub produced: AtomicU64,
    /// Sessions the ingest opened with the broker (one while the link holds).
    pub sessions: AtomicU64,
    pub(crate) rejected: [AtomicU64; 8],
    pub(crate) client: Mutex<Option<AsyncClient>>,
}

impl Fleet {
    /// Rejections so far, by reason.
    pub fn rejected(&self) -> Vec<(&'static str, u64)> {
        Reason::ALL.iter().zip(&self.rejected).map(|(r, n)| (r.as_str(), n.load(Ordering::Relaxed))).collect()
    }

    /// Publishes `cmd` to `device`'s command topic (QoS 1), from a task; a no-op while the ingest
    /// has no broker session.
    pub fn command(&self, device: &str, cmd: &patty_protocol::delivery::Command) {
        let Some(client) = self.client.lock().unwrap_or_else(|e| e.into_inner()).clone() else { return };
        let topic = patty_protocol::telemetry::topic(device, "cmd");
        let payload = serde_json::to_vec(cmd).unwrap_or_default();
        tokio::spawn(async move {
            if let Err(e) = client.publish(topic, payload, rumqttc::PublishOptions::new(QoS::AtLeastOnce)).await {
                tracing::warn!(error = %e, "sending a command to a device failed");
            }
        });
    }

    pub(crate) fn reject(&self, device: &str, reason: Reason, detail: &str) {
        self.rejected[Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0)].fetch_add(1, Ordering::Relaxed);
        let mut quiet = self.quiet.lock().unwrap_or_else(|e| e.into_inner());
        let due = quiet.get(device).is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
        if due {
            quiet.insert(device.to_owned(), Instant::now());
            tracing::warn!(
                device,
                reason = reason.as_str(),
                detail,
                "a device message was refused (logged once a minute per device)"
            );
        }
    }

    /// Appends the ingest's counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        for (name, help, n) in [
            ("patty_cloud_fixes_accepted_total", "Fixes accepted.", &self.accepted),
            ("patty_cloud_fixes_jumps_total", "Fixes accepted but flagged as an impossible jump.", &self.jumps),
            ("patty_cloud_fixes_repeats_total", "Repeated fixes dropped.", &self.repeats),
            ("patty_cloud_fixes_produced_total", "Accepted fixes Kafka acknowledged.", &self.produced),
            (
                "patty_cloud_mqtt_sessions_total",
                "Sessions the telemetry ingest opened with the broker.",
                &self.sessions,
            ),
        ] {
            patty_service::metrics::series(out, name, "counter", help, n.load(Ordering::Relaxed));
        }
        out.push_str("# HELP patty_cloud_device_messages_rejected_total Device messages refused, by reason.\n");
        out.push_str("# TYPE patty_cloud_device_messages_rejected_total counter\n");
        for (reason, n) in self.rejected() {
            out.push_str(&format!("patty_cloud_device_messages_rejected_total{{reason=\"{reason}\"}} {n}\n"));
        }
    }

    /// The latest positions, newest first.
    pub fn positions(&self) -> Vec<DevicePosition> {
        let online = self.online.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out: Vec<DevicePosition> = self
            .latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|(_, p)| DevicePosition { online: online.get(&p.device_id).copied().unwrap_or(false), ..p.clone() })
            .collect();
        out.sort_by_key(|p| std::cmp::Reverse(p.received_ms));
        out
    }
}

/// Every device's latest position (HQ).
#[utoipa::path(get, path = "/api/v1/fleet/positions", tag = "fleet", security(("bearer" = [])),
    responses((status = 200, body = Vec<DevicePosition>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn positions(State(state): State<FleetState>, who: Principal) -> Result<Json<Vec<DevicePosition>>> {
    who.require(&[])?;
    Ok(Json(state.fleet.positions()))
}

/// One device's latest position (HQ).
#[utoipa::path(get, path = "/api/v1/fleet/devices/{id}/position", tag = "fleet", security(("bearer" = [])),
    params(("id" = String, Path, description = "device id")),
    responses((status = 200, body = DevicePosition), (status = 404, body = patty_protocol::ErrorBody)))]
async fn device_position(
    State(state): State<FleetState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<DevicePosition>> {
    who.require(&[])?;
    state
        .fleet
        .positions()
        .into_iter()
        .find(|p| p.device_id == id)
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no position from device {id} yet")))
}

/// The fleet routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    FleetState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(positions)).routes(routes!(device_position))
}

#[cfg(test)]
mod tests {
    use super::*;
    use patty_protocol::telemetry::micro;

    fn fix(seq: u32, t: u32, lat: f64, lon: f64) -> Fix {
        Fix {
            seq,
            time_s: t,
            lat_u: micro(lat),
            lon_u: micro(lon),
            accuracy_m: 5,
            speed_dms: 100,
            heading_deg: 90,
            battery_pct: 80,
            job: None,
        }
    }

    #[test]
    fn fixes_are_judged_by_range_time_order_and_plausibility() {
        let now = 1_800_000_000;
        let a = fix(1, 1_799_999_990, 52.37, 4.89);
        assert_eq!(judge(None, &a, now), Verdict::Accept { jump: false });
        assert_eq!(judge(Some(&a), &fix(2, 1_800_000_000, 52.3709, 4.89), now), Verdict::Accept { jump: false });
        // 100 km in 10 s.
        assert_eq!(judge(Some(&a), &fix(2, 1_800_000_000, 53.27, 4.89), now), Verdict::Accept { jump: true });
        assert_eq!(judge(Some(&a), &fix(1, 1_800_000_000, 52.37, 4.89), now), Verdict::Repeat);
        assert_eq!(judge(None, &fix(1, now as u32 + 600, 52.37, 4.89), now), Verdict::Reject(Reason::FromTheFuture));
        assert_eq!(judge(None, &Fix { lat_u: 95_000_000, ..a }, now), Verdict::Reject(Reason::OutOfRange));
    }
}
