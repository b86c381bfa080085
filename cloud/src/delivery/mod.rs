//! Deliveries: from a delivery order that is ready to the hand-over at the door.
//!
//! - **Creation and offers** are the dispatcher's (`crate::dispatch`, which uses this room): it
//!   creates one delivery per ready delivery order, with a short job number (what the agent's
//!   fixes carry) and a one-time hand-over code, and offers it to one driver at a time.
//! - **Lifecycle** ([`rules`]): a pure transition `apply(&Delivery, Step, now)` returning the next
//!   delivery, its events and its commands; [`lifecycle`] is the shell that saves it with a
//!   conditional update (so racing replicas move a delivery once) and its events in the outbox, on
//!   `delivery.status.events`, then runs the commands. Milestones: assigned (the driver accepts),
//!   at pickup (entering the outlet's pickup zone), picked up (the driver confirms), near drop-off
//!   (entering the customer's drop-off zone, which also asks the agent for the code), delivered
//!   (the right code). Picked up and delivered move the order too (out for delivery, completed),
//!   which the outlet hears of on its downward stream.
//! - **Tracking** ([`tracking`], a worker fed by the telemetry ingest over a channel, each
//!   device's fixes in order): every fix is tested against the outlets' pickup zones and HQ's
//!   restricted areas (an R-tree over thousands costs a few microseconds) and, on a delivery, its
//!   drop-off zone, with the hysteresis of [`geofence`]; each crossing is an event on
//!   `delivery.geofence.alerts`. ETAs to pickup and to drop-off are recomputed with each fix and
//!   sent to the live streams; a change of a minute or more is also an event on
//!   `delivery.route.events`.
//! - **Hand-over.** The code is four digits, valid for `delivery.code_ttl_mins`, with
//!   `delivery.code_attempts` tries; every try is an event (the audit trail).
//! - **Replay.** With Kafka, a delivery's route comes from the event store ([`history`], a
//!   consumer group on the delivery topics); without, from the fixes kept as accepted and the
//!   relayed event log.
//! - **Live streams** ([`live`], Server-Sent Events): a customer sees only their own delivery, an
//!   outlet the drivers on its deliveries, a driver themselves, HQ the whole fleet.
//!
//! # Layout
//! [`rules`] (the lifecycle, pure), [`lifecycle`] (its shell), [`store`] (all the SQL),
//! [`tracking`] (after a fix), [`live`] (the streams), [`http`] (handlers; errors to statuses),
//! [`geofence`] (zones and presence), [`history`] (the Kafka-fed event store).
//!
//! May use `fleet`, `ordering` (an order follows its delivery), `events` and `infra`; used by
//! `dispatch`, `telemetry` and `privacy`.

pub mod geofence;
pub mod history;
pub mod http;
pub mod lifecycle;
pub mod live;
pub mod rules;
pub mod store;
pub mod tracking;

pub use http::{CustomerDelivery, Route};
pub use lifecycle::act;
pub use live::Live;
pub use rules::{Action, Delivery, DeliveryError, Milestone, Step, Transition, apply};
pub use store::erase_customer;
pub use tracking::{active_job_of, after_fix, by_job, check_job, device_reported_transition, track};

use crate::fleet::DevicePosition;
use crate::infra::state::Shared;
use geofence::{Presence, ZoneIndex};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast, mpsc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What delivery's handlers and workers use.
#[derive(Clone)]
pub struct DeliveryState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// Drivers' latest positions, and the command channel to their devices.
    pub fleet: Arc<crate::fleet::Fleet>,
    /// Deliveries on this replica.
    pub deliveries: Arc<Deliveries>,
}
crate::shared_state!(DeliveryState);

/// The deliveries' shared state on this replica.
pub struct Deliveries {
    /// Pokes the dispatcher (a driver declined).
    pub wake: Notify,
    zones: RwLock<(Instant, Arc<ZoneIndex>)>,
    presence: Mutex<HashMap<String, Presence>>,
    by_job: Mutex<HashMap<u32, (Instant, Delivery)>>,
    route_eta: Mutex<HashMap<u32, u32>>,
    live: broadcast::Sender<Arc<Live>>,
    /// Accepted fixes on their way from the ingest to tracking ([`tracking::track`]).
    fixes: mpsc::Sender<DevicePosition>,
    /// Tracking's end of that channel, until [`tracking::run`] takes it.
    fixes_rx: Mutex<Option<mpsc::Receiver<DevicePosition>>>,
}

impl Default for Deliveries {
    fn default() -> Self {
        let (fixes, fixes_rx) = mpsc::channel(FIXES_QUEUED);
        Self {
            wake: Notify::new(),
            zones: RwLock::new((Instant::now() - ZONES_FOR * 2, Arc::new(ZoneIndex::default()))),
            presence: Default::default(),
            by_job: Default::default(),
            route_eta: Default::default(),
            live: broadcast::channel(4096).0,
            fixes,
            fixes_rx: Mutex::new(Some(fixes_rx)),
        }
    }
}

/// How long a delivery read by job number is trusted before it is read again (another replica
/// may have moved it).
const CACHE_FOR: Duration = Duration::from_secs(5);
/// How often the zone index is rebuilt from the outlets and restricted areas.
const ZONES_FOR: Duration = Duration::from_secs(30);
/// Fixes still naming a job this long after it ended are accepted (in flight at the end).
const AFTER_END_MS: i64 = 5 * 60 * 1000;
/// Accepted fixes that may wait for tracking before the ingest waits for it.
const FIXES_QUEUED: usize = 10_000;

impl Deliveries {
    /// Sends `live` to every open stream that may see it.
    pub fn publish(&self, live: Live) {
        let _ = self.live.send(Arc::new(live));
    }

    /// Whether any live stream is open (else there is no one to build a message for).
    pub fn watched(&self) -> bool {
        self.live.receiver_count() > 0
    }

    /// Caches a delivery under way; an ended one leaves the caches (a late fix naming it reads it
    /// again), so they hold only what is under way.
    pub fn remember(&self, d: &Delivery) {
        let mut by_job = self.by_job.lock().unwrap_or_else(|e| e.into_inner());
        if d.status.is_final() {
            by_job.remove(&d.job);
            self.route_eta.lock().unwrap_or_else(|e| e.into_inner()).remove(&d.job);
        } else {
            by_job.insert(d.job, (Instant::now(), d.clone()));
        }
    }
}

/// The delivery routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    DeliveryState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::list))
        .routes(routes!(http::get_one))
        .routes(routes!(http::of_order))
        .routes(routes!(http::accept))
        .routes(routes!(http::decline))
        .routes(routes!(http::pickup))
        .routes(routes!(http::handover_code))
        .routes(routes!(http::route))
        .routes(routes!(http::areas, http::add_area))
        .routes(routes!(http::map_settings))
        .routes(routes!(http::live_one))
        .routes(routes!(http::live_fleet))
}
