//! Deliveries: from a delivery order that is ready to the hand-over at the door.
//!
//! - **Creation.** The dispatcher loop finds delivery orders that reached `ready` and creates one
//!   delivery each, with a short job number (what the agent's fixes carry) and a one-time
//!   hand-over code for the customer.
//! - **Assignment.** A waiting delivery is offered to one driver at a time, chosen by a
//!   [`Dispatcher`] among available drivers (online, a fresh fix, not on a delivery, not holding
//!   another offer, not already passed on this one). The offer goes to the driver's device as a
//!   [`Command::Offer`] with a deadline; a decline or silence passes it to the next. When every
//!   driver has passed, a new round starts after a minute.
//! - **Milestones.** assigned (the driver accepts), at pickup (entering the outlet's pickup zone),
//!   picked up (the driver confirms), near drop-off (entering the customer's drop-off zone, which
//!   also asks the agent for the code), delivered (the right code). Each is a conditional update
//!   (so racing replicas move a delivery once) with its event in the outbox, on
//!   `delivery.status.events`. Picked up and delivered move the order too (out for delivery,
//!   completed), which the outlet hears of on its downward stream.
//! - **Geofences.** Every fix is tested against the outlets' pickup zones and HQ's restricted
//!   areas (an R-tree over thousands costs a few microseconds) and, on a delivery, its drop-off
//!   zone, with the hysteresis of [`crate::delivery::geofence`]; each crossing is an event on
//!   `delivery.geofence.alerts`.
//! - **ETAs** to pickup and to drop-off are recomputed with each fix and sent to the live streams;
//!   a change of a minute or more is also an event on `delivery.route.events`.
//! - **Hand-over.** The code is four digits, valid for `delivery.code_ttl_mins`, with
//!   `delivery.code_attempts` tries; every try is an event (the audit trail).
//! - **Replay.** With Kafka, a delivery's route comes from the event store ([`crate::delivery::history`], a
//!   consumer group on the delivery topics); without, from the fixes kept as accepted and the
//!   relayed event log.
//! - **Live streams** (Server-Sent Events): a customer sees only their own delivery, an outlet
//!   the drivers on its deliveries, a driver themselves, HQ the whole fleet.

pub mod geofence;
pub mod history;

use crate::delivery::geofence::{Presence, Shape, Transition, Zone, ZoneIndex, ZoneKind, eta_s};
use crate::events::{NewEvent, Topic};
use crate::fleet::{DevicePosition, distance_m};
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use axum::response::IntoResponse;
use patty_protocol::delivery::{Command, DeliveryStatus, Place};
use patty_protocol::ids::{DeliveryId, OrderId, OutletId};
use patty_protocol::order::{Fulfilment, Order, OrderStatus};
use patty_protocol::outlet::LatLon;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast, watch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A milestone reached, and when.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Milestone {
    /// The status reached.
    pub status: DeliveryStatus,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// One delivery, as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Its id.
    #[schema(value_type = String)]
    pub id: DeliveryId,
    /// The short number the agent's fixes carry.
    pub job: u32,
    /// The order.
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// The order's number at its outlet.
    pub order_number: u32,
    /// The outlet.
    #[schema(value_type = String)]
    pub outlet_id: OutletId,
    /// The customer with an account, for online orders; none for a delivery taken at the counter
    /// (its outlet gives the customer the code).
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// The driver on it.
    pub driver_id: Option<String>,
    /// The driver's device that accepted it.
    pub device_id: Option<String>,
    /// Where to collect.
    pub pickup: Place,
    /// Where to deliver.
    pub dropoff: Place,
    /// The driver the offer is out to.
    pub offered_to: Option<String>,
    /// When that offer lapses, Unix ms.
    pub offer_deadline_ms: Option<i64>,
    /// Drivers who declined or let the offer lapse in this round.
    pub passed: Vec<String>,
    /// When the current round of offers began, Unix ms.
    pub round_started_ms: i64,
    /// Milestones reached, in order.
    pub milestones: Vec<Milestone>,
    /// Seconds to pickup, from the latest fix (until picked up).
    pub eta_pickup_s: Option<u32>,
    /// Seconds to drop-off, from the latest fix.
    pub eta_dropoff_s: Option<u32>,
    /// When the hand-over code stops working, Unix ms.
    pub code_expires_ms: i64,
    /// Wrong codes entered so far.
    pub code_attempts: u32,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last changed, Unix ms.
    pub updated_ms: i64,
}

/// A delivery as its customer sees it: with the code to give the driver.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerDelivery {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The one-time code to tell the driver at the door.
    pub handover_code: String,
}

/// A driver who could take a delivery.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The driver.
    pub driver_id: String,
    /// Their device with the freshest fix.
    pub device_id: String,
    /// Where they are.
    pub position: (f64, f64),
}

/// Chooses who is offered a delivery. The default is [`Nearest`]; a batching, route-optimising
/// dispatcher implements the same trait.
pub trait Dispatcher: Send + Sync {
    /// The index in `candidates` (never empty) of the driver to offer `delivery` to, or `None`
    /// to wait.
    fn choose(&self, delivery: &Delivery, candidates: &[Candidate]) -> Option<usize>;
}

/// Offers to the driver nearest the pickup, in a straight line.
pub struct Nearest;

impl Dispatcher for Nearest {
    fn choose(&self, delivery: &Delivery, candidates: &[Candidate]) -> Option<usize> {
        let at = (delivery.pickup.position.lat, delivery.pickup.position.lon);
        candidates
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| distance_m(a.position, at).total_cmp(&distance_m(b.position, at)))
            .map(|(i, _)| i)
    }
}

/// Something a live stream may show, with who may see it.
#[derive(Clone, Debug)]
pub struct Live {
    /// The outlet whose delivery it is about.
    pub outlet: Option<OutletId>,
    /// The customer whose delivery it is about.
    pub customer: Option<String>,
    /// The delivery.
    pub delivery: Option<DeliveryId>,
    /// The driver.
    pub driver: Option<String>,
    /// `position`, `status`, `geofence`.
    pub kind: &'static str,
    /// The JSON sent.
    pub data: serde_json::Value,
}

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
    dispatcher: Box<dyn Dispatcher>,
    /// Pokes the dispatcher loop (an order became ready, a driver declined).
    pub wake: Notify,
    zones: RwLock<(Instant, Arc<ZoneIndex>)>,
    presence: Mutex<HashMap<String, Presence>>,
    by_job: Mutex<HashMap<u32, (Instant, Delivery)>>,
    route_eta: Mutex<HashMap<u32, u32>>,
    live: broadcast::Sender<Arc<Live>>,
}

impl Default for Deliveries {
    fn default() -> Self {
        Self::with_dispatcher(Box::new(Nearest))
    }
}

/// How long a delivery read by job number is trusted before it is read again (another replica
/// may have moved it).
const CACHE_FOR: Duration = Duration::from_secs(5);
/// How often the zone index is rebuilt from the outlets and restricted areas.
const ZONES_FOR: Duration = Duration::from_secs(30);
/// Fixes still naming a job this long after it ended are accepted (in flight at the end).
const AFTER_END_MS: i64 = 5 * 60 * 1000;

impl Deliveries {
    /// With `dispatcher` choosing drivers.
    pub fn with_dispatcher(dispatcher: Box<dyn Dispatcher>) -> Self {
        Self {
            dispatcher,
            wake: Notify::new(),
            zones: RwLock::new((Instant::now() - ZONES_FOR * 2, Arc::new(ZoneIndex::default()))),
            presence: Default::default(),
            by_job: Default::default(),
            route_eta: Default::default(),
            live: broadcast::channel(4096).0,
        }
    }

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
    fn remember(&self, d: &Delivery) {
        let mut by_job = self.by_job.lock().unwrap_or_else(|e| e.into_inner());
        if d.status.is_final() {
            by_job.remove(&d.job);
            self.route_eta.lock().unwrap_or_else(|e| e.into_inner()).remove(&d.job);
        } else {
            by_job.insert(d.job, (Instant::now(), d.clone()));
        }
    }
}

fn decode(doc: &str) -> Result<Delivery> {
    Ok(serde_json::from_str(doc)?)
}

/// The delivery with job number `job`, from the cache when recent.
pub async fn by_job(state: &DeliveryState, job: u32) -> Result<Option<Delivery>> {
    if let Some((at, d)) = state.deliveries.by_job.lock().unwrap_or_else(|e| e.into_inner()).get(&job)
        && at.elapsed() < CACHE_FOR
    {
        return Ok(Some(d.clone()));
    }
    let row = sqlx::query("SELECT doc FROM deliveries WHERE job = $1")
        .bind(i64::from(job))
        .fetch_optional(&state.db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let d = decode(&row.try_get::<String, _>("doc")?)?;
    state.deliveries.remember(&d);
    Ok(Some(d))
}

async fn by_id(state: &DeliveryState, id: DeliveryId) -> Result<Delivery> {
    let row = sqlx::query("SELECT doc FROM deliveries WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no delivery {id}")))?;
    decode(&row.try_get::<String, _>("doc")?)
}

/// Whether a fix naming `job` from `driver` is acceptable: the job is theirs and under way, or
/// ended moments ago. Returns the delivery when it is under way.
pub async fn check_job(
    state: &DeliveryState,
    job: u32,
    driver: &str,
) -> Result<std::result::Result<Option<Delivery>, ()>> {
    let Some(d) = by_job(state, job).await? else { return Ok(Err(())) };
    if d.driver_id.as_deref() != Some(driver) {
        return Ok(Err(()));
    }
    if d.status.is_driving() {
        return Ok(Ok(Some(d)));
    }
    if d.status.is_final() && now_ms() - d.updated_ms < AFTER_END_MS {
        return Ok(Ok(None));
    }
    Ok(Err(()))
}

/// The job of the delivery `driver` is on, if any (for fixes that cannot name one: OwnTracks').
pub async fn active_job_of(state: &DeliveryState, driver: &str) -> Result<Option<u32>> {
    let row = sqlx::query(
        "SELECT job FROM deliveries WHERE driver_id = $1 AND status IN ('assigned', 'at_pickup', 'picked_up', 'near_dropoff') \
         ORDER BY created_ms DESC LIMIT 1",
    )
    .bind(driver)
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(row.map(|r| r.try_get::<i64, _>("job")).transpose()?.and_then(|j| u32::try_from(j).ok()))
}

/// A region crossing the device itself reported (OwnTracks' own regions): passed on as an alert.
pub async fn device_reported_transition(
    state: &DeliveryState,
    device: &str,
    driver: &str,
    region: &str,
    entered: bool,
) {
    let kind = if entered { "geofence.device_entered" } else { "geofence.device_exited" };
    let data = serde_json::json!({ "device_id": device, "driver_id": driver, "region": region, "entered": entered });
    let event = NewEvent::new(Topic::GeofenceAlert, device, kind, &data);
    let recorded = async {
        let mut tx = state.db.begin().await?;
        event.insert(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, Error>(())
    };
    if let Err(e) = recorded.await {
        tracing::warn!(error = %e, "recording a device's region crossing failed");
        return;
    }
    state.deliveries.publish(Live {
        outlet: None,
        customer: None,
        delivery: None,
        driver: Some(driver.to_owned()),
        kind: "geofence",
        data,
    });
}

/// Writes `d` (moved from status `from`, or with its offer changed when `from == d.status`)
/// with `events`, if the row still has status `from` (and, for offers, the offer `offered`).
/// Returns whether this call won.
async fn save(
    state: &DeliveryState,
    d: &Delivery,
    from: DeliveryStatus,
    offered: Option<&str>,
    events: Vec<NewEvent>,
) -> Result<bool> {
    let mut tx = state.db.begin().await?;
    let moved = sqlx::query(
        "UPDATE deliveries SET status = $1, driver_id = $2, offered_to = $3, offer_deadline_ms = $4, doc = $5, updated_ms = $6 \
         WHERE id = $7 AND status = $8 AND COALESCE(offered_to, '') = $9",
    )
    .bind(d.status.as_str())
    .bind(d.driver_id.clone())
    .bind(d.offered_to.clone())
    .bind(d.offer_deadline_ms)
    .bind(serde_json::to_string(d)?)
    .bind(d.updated_ms)
    .bind(d.id.to_string())
    .bind(from.as_str())
    .bind(offered.unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    for e in events {
        e.insert(&mut tx).await?;
    }
    tx.commit().await?;
    state.deliveries.remember(d);
    Ok(true)
}

fn status_event(d: &Delivery, kind: &str, extra: serde_json::Value) -> NewEvent {
    NewEvent::new(
        Topic::DeliveryStatus,
        &d.id.to_string(),
        kind,
        &serde_json::json!({
            "delivery_id": d.id, "job": d.job, "order_id": d.order_id, "outlet_id": d.outlet_id,
            "status": d.status, "driver_id": d.driver_id, "detail": extra,
        }),
    )
}

fn live_of(d: &Delivery, kind: &'static str, data: serde_json::Value) -> Live {
    Live {
        outlet: Some(d.outlet_id),
        customer: d.customer_id.clone(),
        delivery: Some(d.id),
        driver: d.driver_id.clone(),
        kind,
        data,
    }
}

/// Moves `d` to milestone `to` with an event; returns the moved delivery, or `None` when the
/// move is not allowed or another replica made it first.
async fn advance(
    state: &DeliveryState,
    mut d: Delivery,
    to: DeliveryStatus,
    detail: serde_json::Value,
) -> Result<Option<Delivery>> {
    let from = d.status;
    if !from.may_move_to(to) {
        return Ok(None);
    }
    let offered = d.offered_to.clone();
    d.status = to;
    d.updated_ms = now_ms();
    d.milestones.push(Milestone { status: to, at_ms: d.updated_ms });
    if to != DeliveryStatus::Waiting {
        d.offered_to = None;
        d.offer_deadline_ms = None;
    }
    let event = status_event(&d, &format!("delivery.{}", to.as_str()), detail);
    if !save(state, &d, from, offered.as_deref(), vec![event]).await? {
        return Ok(None);
    }
    state.deliveries.publish(live_of(&d, "status", serde_json::to_value(&d)?));
    // The order follows: out for delivery once picked up, completed once handed over.
    let order_to = match to {
        DeliveryStatus::PickedUp => Some(OrderStatus::OutForDelivery),
        DeliveryStatus::Delivered => Some(OrderStatus::Completed),
        _ => None,
    };
    if let Some(order_to) = order_to {
        let outlet = d.outlet_id;
        let moved = crate::ordering::move_order(state, d.order_id, order_to, None, true, |o| {
            if o.outlet_id == outlet { Ok(()) } else { Err(Error::Conflict("another outlet's order".into())) }
        })
        .await;
        if let Err(e) = moved {
            tracing::warn!(order = %d.order_id, to = order_to.as_str(), error = %e, "the order did not follow its delivery");
        }
    }
    Ok(Some(d))
}

/// Blanks `customer`'s deliveries (erasure, in the caller's transaction; their orders are all
/// closed): no customer, and a drop-off that names no street and points at the outlet instead of
/// their door.
pub async fn erase_customer(conn: &mut sqlx::AnyConnection, customer: &str) -> Result<()> {
    let rows = sqlx::query("SELECT id, doc FROM deliveries WHERE customer_id = $1")
        .bind(customer)
        .fetch_all(&mut *conn)
        .await?;
    for r in rows {
        let mut d = decode(&r.try_get::<String, _>("doc")?)?;
        d.customer_id = None;
        d.dropoff = Place { name: String::new(), position: d.pickup.position };
        sqlx::query("UPDATE deliveries SET customer_id = '', doc = $1 WHERE id = $2")
            .bind(serde_json::to_string(&d)?)
            .bind(r.try_get::<String, _>("id")?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Sends `cmd` to `device` (when telemetry is on).
fn tell(state: &DeliveryState, device: Option<&str>, cmd: &Command) {
    if let Some(device) = device {
        state.fleet.command(device, cmd);
    }
}

fn random_code() -> String {
    format!("{:04}", uuid::Uuid::new_v4().as_u128() % 10_000)
}

/// Creates a delivery for every delivery order that is ready and has none.
async fn create_ready(state: &DeliveryState) -> Result<()> {
    let since = now_ms() - 12 * 3600 * 1000;
    let rows = sqlx::query(
        "SELECT o.doc FROM orders o WHERE o.status = 'ready' AND o.updated_ms > $1 AND o.doc LIKE '%\"fulfilment\":\"delivery\"%' \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = o.id)",
    )
    .bind(since)
    .fetch_all(&state.db.pool)
    .await?;
    for row in rows {
        let order: Order = serde_json::from_str(&row.try_get::<String, _>("doc")?)?;
        let (Fulfilment::Delivery, Some(address)) = (order.fulfilment, order.delivery_address.as_ref()) else {
            continue;
        };
        let outlet = crate::outlets::load(&state.db, order.outlet_id).await?;
        let now = now_ms();
        let mut d = Delivery {
            id: DeliveryId::new(),
            job: 0,
            order_id: order.id,
            order_number: order.number,
            outlet_id: order.outlet_id,
            customer_id: order.customer_id.clone(),
            status: DeliveryStatus::Waiting,
            driver_id: None,
            device_id: None,
            pickup: Place { name: outlet.name.clone(), position: outlet.position },
            dropoff: Place { name: format!("{}, {}", address.line1, address.city), position: address.position },
            offered_to: None,
            offer_deadline_ms: None,
            passed: vec![],
            round_started_ms: now,
            milestones: vec![Milestone { status: DeliveryStatus::Waiting, at_ms: now }],
            eta_pickup_s: None,
            eta_dropoff_s: None,
            code_expires_ms: now + state.config.delivery.code_ttl_mins as i64 * 60_000,
            code_attempts: 0,
            created_ms: now,
            updated_ms: now,
        };
        let mut tx = state.db.begin().await?;
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(job), 0) + 1 AS next FROM deliveries")
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
        d.job = u32::try_from(next).map_err(|_| Error::Internal("job numbers ran out".into()))?;
        let inserted = sqlx::query(
            "INSERT INTO deliveries (id, job, order_id, outlet_id, customer_id, status, code, doc, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(d.id.to_string())
        .bind(next)
        .bind(d.order_id.to_string())
        .bind(d.outlet_id.to_string())
        .bind(d.customer_id.clone().unwrap_or_default())
        .bind(d.status.as_str())
        .bind(random_code())
        .bind(serde_json::to_string(&d)?)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // Another replica created it (or took the job number) first: the next tick sees it.
            Err(e) if crate::infra::db::is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
        status_event(&d, "delivery.created", serde_json::json!({})).insert(&mut tx).await?;
        tx.commit().await?;
        state.deliveries.remember(&d);
        tracing::info!(delivery = %d.id, job = d.job, order = %d.order_id, "delivery created");
    }
    Ok(())
}

async fn load_where(state: &DeliveryState, filter: &str, bind: Option<i64>) -> Result<Vec<Delivery>> {
    let sql = format!("SELECT doc FROM deliveries WHERE {filter} ORDER BY created_ms");
    let mut q = sqlx::query(&sql);
    if let Some(b) = bind {
        q = q.bind(b);
    }
    q.fetch_all(&state.db.pool).await?.iter().map(|r| decode(&r.try_get::<String, _>("doc")?)).collect()
}

/// The device a driver was last seen on, if any.
fn device_of(state: &DeliveryState, driver: &str) -> Option<String> {
    state.fleet.positions().into_iter().find(|p| p.driver_id == driver).map(|p| p.device_id)
}

/// Offers that lapsed pass to the next driver.
async fn expire_offers(state: &DeliveryState) -> Result<()> {
    for mut d in
        load_where(state, "status = 'waiting' AND offered_to IS NOT NULL AND offer_deadline_ms < $1", Some(now_ms()))
            .await?
    {
        let Some(driver) = d.offered_to.take() else { continue };
        d.offer_deadline_ms = None;
        d.passed.push(driver.clone());
        d.updated_ms = now_ms();
        let event = status_event(&d, "delivery.offer_expired", serde_json::json!({ "driver_id": driver }));
        if save(state, &d, DeliveryStatus::Waiting, Some(&driver), vec![event]).await? {
            tell(state, device_of(state, &driver).as_deref(), &Command::Withdrawn { job: d.job });
        }
    }
    Ok(())
}

/// Offers every waiting delivery without an open offer to the dispatcher's choice.
async fn offer_waiting(state: &DeliveryState) -> Result<()> {
    let waiting = load_where(state, "status = 'waiting' AND offered_to IS NULL", None).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    // Busy: on a delivery, or holding an offer.
    let busy: std::collections::HashSet<String> = sqlx::query(
        "SELECT driver_id AS d FROM deliveries WHERE status IN ('assigned', 'at_pickup', 'picked_up', 'near_dropoff') \
         UNION SELECT offered_to AS d FROM deliveries WHERE status = 'waiting' AND offered_to IS NOT NULL",
    )
    .fetch_all(&state.db.pool)
    .await?
    .iter()
    .filter_map(|r| r.try_get::<Option<String>, _>("d").ok().flatten())
    .collect();
    let fresh_ms = state.config.delivery.fresh_fix_secs as i64 * 1000;
    let now = now_ms();
    let mut available: Vec<Candidate> = vec![];
    for p in state.fleet.positions() {
        if p.online
            && now - p.received_ms <= fresh_ms
            && !busy.contains(&p.driver_id)
            && !available.iter().any(|c| c.driver_id == p.driver_id)
        {
            available.push(Candidate { driver_id: p.driver_id, device_id: p.device_id, position: (p.lat, p.lon) });
        }
    }
    for mut d in waiting {
        let candidates: Vec<Candidate> =
            available.iter().filter(|c| !d.passed.contains(&c.driver_id)).cloned().collect();
        if candidates.is_empty() {
            // Everyone available has passed: start a new round after a minute.
            if !d.passed.is_empty() && now - d.round_started_ms > 60_000 {
                d.passed.clear();
                d.round_started_ms = now;
                d.updated_ms = now;
                save(state, &d, DeliveryStatus::Waiting, None, vec![]).await?;
            }
            continue;
        }
        let Some(i) = state.deliveries.dispatcher.choose(&d, &candidates) else { continue };
        let chosen = candidates[i].clone();
        let deadline_ms = now + state.config.delivery.offer_timeout_secs as i64 * 1000;
        d.offered_to = Some(chosen.driver_id.clone());
        d.offer_deadline_ms = Some(deadline_ms);
        d.updated_ms = now;
        let event = status_event(
            &d,
            "delivery.offered",
            serde_json::json!({ "driver_id": chosen.driver_id, "deadline_ms": deadline_ms }),
        );
        if save(state, &d, DeliveryStatus::Waiting, None, vec![event]).await? {
            available.retain(|c| c.driver_id != chosen.driver_id);
            tell(
                state,
                Some(&chosen.device_id),
                &Command::Offer {
                    job: d.job,
                    order_number: d.order_number,
                    pickup: d.pickup.clone(),
                    dropoff: d.dropoff.clone(),
                    deadline_s: (deadline_ms / 1000) as u64,
                },
            );
        }
    }
    Ok(())
}

/// Deliveries whose order was withdrawn are cancelled, and their driver told.
async fn cancel_withdrawn(state: &DeliveryState) -> Result<()> {
    let rows = sqlx::query(
        "SELECT d.doc FROM deliveries d JOIN orders o ON o.id = d.order_id \
         WHERE d.status NOT IN ('delivered', 'cancelled') AND o.status IN ('cancelled', 'voided')",
    )
    .fetch_all(&state.db.pool)
    .await?;
    for row in rows {
        let d = decode(&row.try_get::<String, _>("doc")?)?;
        let device = d.device_id.clone().or_else(|| d.offered_to.as_deref().and_then(|o| device_of(state, o)));
        if let Some(d) =
            advance(state, d, DeliveryStatus::Cancelled, serde_json::json!({ "reason": "the order was withdrawn" }))
                .await?
        {
            tell(state, device.as_deref(), &Command::Cancel { job: d.job, reason: "the order was withdrawn".into() });
        }
    }
    Ok(())
}

/// The dispatcher loop: creates, offers, expires and cancels, once a second or when woken.
pub async fn run(state: DeliveryState, mut shutdown: watch::Receiver<bool>) {
    loop {
        for (what, result) in [
            ("creating deliveries", create_ready(&state).await),
            ("expiring offers", expire_offers(&state).await),
            ("cancelling deliveries", cancel_withdrawn(&state).await),
            ("offering deliveries", offer_waiting(&state).await),
        ] {
            if let Err(e) = result {
                tracing::warn!(error = %e, "dispatch: {what} failed");
            }
        }
        tokio::select! {
            _ = state.deliveries.wake.notified() => {},
            _ = tokio::time::sleep(Duration::from_secs(1)) => {},
            _ = shutdown.changed() => return,
        }
    }
}

/// What a driver may do to a delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Take the offer.
    Accept,
    /// Turn the offer down.
    Decline,
    /// Confirm the food is on board.
    PickedUp,
    /// The customer's code.
    Code(String),
}

/// `driver` (on `device`, when known) does `action` to the delivery with job `job`.
pub async fn act(
    state: &DeliveryState,
    driver: &str,
    device: Option<&str>,
    job: u32,
    action: Action,
) -> Result<Delivery> {
    // Read fresh: a decision must not rest on another replica's stale copy.
    let d = load_where(state, "job = $1", Some(i64::from(job))).await?.into_iter().next();
    let mut d = d.ok_or_else(|| Error::NotFound(format!("no job {job}")))?;
    let device = device.map(str::to_owned).or_else(|| device_of(state, driver));
    match action {
        Action::Accept | Action::Decline => {
            let open = d.status == DeliveryStatus::Waiting
                && d.offered_to.as_deref() == Some(driver)
                && d.offer_deadline_ms.is_some_and(|t| t >= now_ms());
            if !open {
                return Err(Error::Conflict(format!("job {job} is not on offer to you")));
            }
            if action == Action::Accept {
                d.driver_id = Some(driver.to_owned());
                d.device_id = device.clone();
                let d = advance(state, d, DeliveryStatus::Assigned, serde_json::json!({ "device_id": device }))
                    .await?
                    .ok_or_else(|| Error::Conflict(format!("job {job} changed meanwhile")))?;
                tell(state, device.as_deref(), &Command::Assigned { job });
                Ok(d)
            } else {
                d.offered_to = None;
                d.offer_deadline_ms = None;
                d.passed.push(driver.to_owned());
                d.updated_ms = now_ms();
                let event = status_event(&d, "delivery.declined", serde_json::json!({ "driver_id": driver }));
                if !save(state, &d, DeliveryStatus::Waiting, Some(driver), vec![event]).await? {
                    return Err(Error::Conflict(format!("job {job} changed meanwhile")));
                }
                state.deliveries.wake.notify_one();
                Ok(d)
            }
        }
        Action::PickedUp => {
            if d.driver_id.as_deref() != Some(driver) {
                return Err(Error::Forbidden(format!("job {job} is not yours")));
            }
            if !matches!(d.status, DeliveryStatus::Assigned | DeliveryStatus::AtPickup) {
                return Err(Error::Conflict(format!("job {job} is {}", d.status.as_str())));
            }
            advance(state, d, DeliveryStatus::PickedUp, serde_json::json!({}))
                .await?
                .ok_or_else(|| Error::Conflict(format!("job {job} changed meanwhile")))
        }
        Action::Code(code) => handover(state, d, driver, device.as_deref(), &code).await,
    }
}

/// Checks the customer's code at the door.
async fn handover(
    state: &DeliveryState,
    mut d: Delivery,
    driver: &str,
    device: Option<&str>,
    code: &str,
) -> Result<Delivery> {
    let job = d.job;
    if d.driver_id.as_deref() != Some(driver) {
        return Err(Error::Forbidden(format!("job {job} is not yours")));
    }
    if !matches!(d.status, DeliveryStatus::PickedUp | DeliveryStatus::NearDropoff) {
        return Err(Error::Conflict(format!("job {job} is {}; a code is taken after pickup", d.status.as_str())));
    }
    let max = state.config.delivery.code_attempts;
    if d.code_attempts >= max {
        return Err(Error::Conflict(format!("job {job}: the code is locked after {max} wrong tries; call the outlet")));
    }
    if now_ms() > d.code_expires_ms {
        return Err(Error::Conflict(format!("job {job}: the code has expired; call the outlet")));
    }
    let code = code.trim();
    if code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Validation("a code is digits".into()));
    }
    let expected: String = sqlx::query("SELECT code FROM deliveries WHERE id = $1")
        .bind(d.id.to_string())
        .fetch_one(&state.db.pool)
        .await?
        .try_get("code")?;
    let right =
        code.len() == expected.len() && code.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if right {
        let d = advance(state, d, DeliveryStatus::Delivered, serde_json::json!({ "by": driver, "device_id": device }))
            .await?
            .ok_or_else(|| Error::Conflict(format!("job {job} changed meanwhile")))?;
        tell(state, device, &Command::CodeResult { job, ok: true, attempts_left: 0 });
        return Ok(d);
    }
    let from = d.status;
    d.code_attempts += 1;
    d.updated_ms = now_ms();
    let left = max - d.code_attempts;
    let event = status_event(
        &d,
        "delivery.handover_failed",
        serde_json::json!({ "by": driver, "device_id": device, "attempts_left": left }),
    );
    save(state, &d, from, None, vec![event]).await?;
    tell(state, device, &Command::CodeResult { job, ok: false, attempts_left: left });
    Err(Error::Validation(format!("wrong code for job {job}; {left} tries left")))
}

/// Rebuilds the zone index (outlets' pickup zones, restricted areas) when it is old.
async fn zones(state: &DeliveryState) -> Arc<ZoneIndex> {
    {
        let z = state.deliveries.zones.read().unwrap_or_else(|e| e.into_inner());
        if z.0.elapsed() < ZONES_FOR {
            return z.1.clone();
        }
    }
    let mut list = vec![];
    let radius_m = state.config.delivery.pickup_radius_m;
    match sqlx::query("SELECT doc FROM outlets").fetch_all(&state.db.pool).await {
        Ok(rows) => {
            for r in rows {
                if let Ok(o) = r
                    .try_get::<String, _>("doc")
                    .map_err(Error::from)
                    .and_then(|d| Ok(serde_json::from_str::<patty_protocol::outlet::Outlet>(&d)?))
                {
                    list.push(Zone {
                        id: format!("pickup:{}", o.id),
                        kind: ZoneKind::Pickup,
                        name: o.name.clone(),
                        shape: Shape::Circle { centre: (o.position.lat, o.position.lon), radius_m },
                    });
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading outlets for geofences failed"),
    }
    match sqlx::query("SELECT id, name, ring FROM restricted_areas").fetch_all(&state.db.pool).await {
        Ok(rows) => {
            for r in rows {
                let (Ok(id), Ok(name), Ok(ring)) =
                    (r.try_get::<String, _>("id"), r.try_get::<String, _>("name"), r.try_get::<String, _>("ring"))
                else {
                    continue;
                };
                if let Ok(ring) = serde_json::from_str::<Vec<[f64; 2]>>(&ring) {
                    list.push(Zone {
                        id: format!("restricted:{id}"),
                        kind: ZoneKind::Restricted,
                        name,
                        shape: Shape::Polygon(ring),
                    });
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading restricted areas failed"),
    }
    let index = Arc::new(ZoneIndex::new(list));
    *state.deliveries.zones.write().unwrap_or_else(|e| e.into_inner()) = (Instant::now(), index.clone());
    index
}

/// After a fix was accepted: geofences, milestones and ETAs, the live streams. `on` is the
/// delivery the fix is for, if it is under way. Returns the events to record (alerts, route).
pub async fn after_fix(state: &DeliveryState, position: &DevicePosition, on: Option<Delivery>) -> Result<()> {
    let p = (position.lat, position.lon);
    let accuracy = f64::from(position.accuracy_m);
    let index = zones(state).await;
    let mut crossings: Vec<Transition> = {
        let mut presence = state.deliveries.presence.lock().unwrap_or_else(|e| e.into_inner());
        if !presence.contains_key(&position.device_id) {
            presence.insert(position.device_id.clone(), Presence::default());
        }
        let mine = presence.get_mut(&position.device_id).expect("inserted above");
        let mut t = mine.judge_all(&index, p, accuracy);
        if let Some(d) = &on {
            let dropoff = Zone {
                id: format!("dropoff:{}", d.id),
                kind: ZoneKind::Dropoff,
                name: d.dropoff.name.clone(),
                shape: Shape::Circle {
                    centre: (d.dropoff.position.lat, d.dropoff.position.lon),
                    radius_m: state.config.delivery.dropoff_radius_m,
                },
            };
            t.extend(mine.judge(&dropoff, p, accuracy));
        }
        t
    };
    let mut events = vec![];
    let mut d = on;
    // ETAs from this fix.
    if let Some(d) = d.as_mut() {
        let to_pickup = distance_m(p, (d.pickup.position.lat, d.pickup.position.lon));
        let to_dropoff = distance_m(p, (d.dropoff.position.lat, d.dropoff.position.lon));
        let leg = distance_m(
            (d.pickup.position.lat, d.pickup.position.lon),
            (d.dropoff.position.lat, d.dropoff.position.lon),
        );
        if d.status < DeliveryStatus::PickedUp {
            let pickup = eta_s(to_pickup, position.speed_mps);
            d.eta_pickup_s = Some(pickup);
            d.eta_dropoff_s = Some(pickup + eta_s(leg, 0.0));
        } else {
            d.eta_pickup_s = None;
            d.eta_dropoff_s = Some(eta_s(to_dropoff, position.speed_mps));
        }
        state.deliveries.remember(d);
        let eta = d.eta_dropoff_s.unwrap_or(0);
        let mut published = state.deliveries.route_eta.lock().unwrap_or_else(|e| e.into_inner());
        let last = published.get(&d.job).copied();
        if last.is_none_or(|l| l.abs_diff(eta) >= 60) {
            published.insert(d.job, eta);
            events.push(NewEvent::new(
                Topic::DeliveryRoute,
                &d.id.to_string(),
                "delivery.eta",
                &serde_json::json!({ "delivery_id": d.id, "job": d.job, "eta_pickup_s": d.eta_pickup_s, "eta_dropoff_s": d.eta_dropoff_s, "at": p }),
            ));
        }
    }
    // A crossing names its zone, and a drop-off zone is named by the customer's street: sealed
    // with their key when they have an account.
    let mut alerts = vec![];
    for c in &crossings {
        let key = d.as_ref().map(|d| d.id.to_string()).unwrap_or_else(|| position.device_id.clone());
        alerts.push((
            key,
            if c.entered { "geofence.entered" } else { "geofence.exited" },
            serde_json::json!({
                "zone": c.zone, "zone_kind": c.kind, "zone_name": c.name, "device_id": position.device_id,
                "driver_id": position.driver_id, "delivery_id": d.as_ref().map(|d| d.id), "at": p, "accuracy_m": position.accuracy_m,
            }),
        ));
        state.deliveries.publish(Live {
            outlet: d.as_ref().map(|d| d.outlet_id),
            customer: None,
            delivery: d.as_ref().map(|d| d.id),
            driver: Some(position.driver_id.clone()),
            kind: "geofence",
            data: serde_json::json!({ "zone": c.zone, "zone_kind": c.kind, "zone_name": c.name, "entered": c.entered, "driver_id": position.driver_id }),
        });
    }
    if let Some(d) = &d {
        state.deliveries.publish(live_of(
            d,
            "position",
            serde_json::json!({ "position": position, "eta_pickup_s": d.eta_pickup_s, "eta_dropoff_s": d.eta_dropoff_s, "status": d.status }),
        ));
        // Without Kafka, the route is kept here (with Kafka, the store's consumer group keeps it).
        if state.kafka.is_none() {
            sqlx::query(
                "INSERT INTO delivery_fixes (delivery_id, seq, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(d.id.to_string())
            .bind(i64::from(position.seq))
            .bind(serde_json::to_string(position)?)
            .execute(&state.db.pool)
            .await?;
        }
    } else if state.deliveries.watched() {
        state.deliveries.publish(Live {
            outlet: None,
            customer: None,
            delivery: None,
            driver: Some(position.driver_id.clone()),
            kind: "position",
            data: serde_json::json!({ "position": position }),
        });
    }
    if !events.is_empty() || !alerts.is_empty() {
        let mut tx = state.db.begin().await?;
        for e in events {
            e.insert(&mut tx).await?;
        }
        let customer = d.as_ref().and_then(|d| d.customer_id.as_deref());
        for (key, kind, data) in alerts {
            NewEvent::about(&mut tx, &state.vault, customer, Topic::GeofenceAlert, &key, kind, data)
                .await?
                .insert(&mut tx)
                .await?;
        }
        tx.commit().await?;
    }
    // Milestones from crossings.
    let Some(d) = d else { return Ok(()) };
    crossings.retain(|c| c.entered);
    for c in crossings {
        let to = match c.kind {
            ZoneKind::Pickup if c.zone == format!("pickup:{}", d.outlet_id) && d.status == DeliveryStatus::Assigned => {
                DeliveryStatus::AtPickup
            }
            ZoneKind::Dropoff if d.status == DeliveryStatus::PickedUp => DeliveryStatus::NearDropoff,
            _ => continue,
        };
        if let Some(moved) = advance(state, d.clone(), to, serde_json::json!({ "zone": c.zone })).await?
            && to == DeliveryStatus::NearDropoff
        {
            let left = state.config.delivery.code_attempts.saturating_sub(moved.code_attempts);
            tell(state, moved.device_id.as_deref(), &Command::Handover { job: moved.job, attempts_left: left });
        }
        break;
    }
    Ok(())
}

/// Whether `who` may see delivery `d`.
fn may_see(who: &Principal, d: &Delivery) -> Result<()> {
    let ok = match who.role {
        Role::HqAdmin => true,
        Role::Customer => d.customer_id.as_deref() == Some(who.subject.as_str()),
        Role::OutletStaff | Role::OutletManager | Role::Edge => who.outlet_id == Some(d.outlet_id),
        Role::Driver => {
            d.driver_id.as_deref() == Some(who.subject.as_str())
                || d.offered_to.as_deref() == Some(who.subject.as_str())
        }
        Role::Device => false,
    };
    if ok { Ok(()) } else { Err(Error::NotFound(format!("no delivery {}", d.id))) }
}

/// Filter for the deliveries list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `active` (not final, the default) or `all`.
    #[param(pattern = "^(active|all)$")]
    pub scope: Option<String>,
    /// Most rows (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Deliveries: HQ sees all, an outlet its own, a driver theirs.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "delivery", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<Delivery>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn list(
    State(state): State<DeliveryState>,
    who: Principal,
    crate::infra::error::Query(q): crate::infra::error::Query<ListQuery>,
) -> Result<Json<Vec<Delivery>>> {
    who.require(&[Role::OutletStaff, Role::OutletManager, Role::Driver])?;
    let active = match q.scope.as_deref() {
        None | Some("active") => true,
        Some("all") => false,
        Some(other) => return Err(Error::Validation(format!("scope is active or all, not {other:?}"))),
    };
    let mut sql = String::from("SELECT doc FROM deliveries WHERE 1 = 1");
    if active {
        sql.push_str(" AND status NOT IN ('delivered', 'cancelled')");
    }
    let bind = match who.role {
        Role::HqAdmin => None,
        Role::Driver => {
            sql.push_str(" AND (driver_id = $1 OR offered_to = $1)");
            Some(who.subject.clone())
        }
        _ => {
            sql.push_str(" AND outlet_id = $1");
            Some(who.outlet_id.map(|o| o.to_string()).unwrap_or_default())
        }
    };
    sql.push_str(&format!(" ORDER BY created_ms DESC LIMIT {}", patty_service::http::page_limit(q.limit, 100, 1000)?));
    let mut query = sqlx::query(&sql);
    if let Some(b) = bind {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&state.db.pool).await?;
    Ok(Json(rows.iter().map(|r| decode(&r.try_get::<String, _>("doc")?)).collect::<Result<_>>()?))
}

/// One delivery (its customer, its outlet, its driver, HQ).
#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 404, body = patty_protocol::ErrorBody)))]
async fn get_one(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    let d = by_id(&state, id).await?;
    may_see(&who, &d)?;
    Ok(Json(d))
}

/// The delivery of an order, with the hand-over code: for the order's customer; for a delivery
/// taken at the counter (no customer account), for its outlet, which gives the customer the code.
#[utoipa::path(get, path = "/api/v1/orders/{id}/delivery", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = CustomerDelivery), (status = 403, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody)))]
async fn of_order(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<OrderId>,
) -> Result<Json<CustomerDelivery>> {
    who.require(&[Role::Customer, Role::Edge, Role::OutletStaff, Role::OutletManager])?;
    let row = sqlx::query("SELECT doc, code FROM deliveries WHERE order_id = $1")
        .bind(id.to_string())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no delivery for order {id} yet")))?;
    let delivery = decode(&row.try_get::<String, _>("doc")?)?;
    may_see(&who, &delivery)?;
    if who.role != Role::Customer && delivery.customer_id.is_some() {
        return Err(Error::Forbidden("an online order's code is for its customer alone".into()));
    }
    Ok(Json(CustomerDelivery { delivery, handover_code: row.try_get("code")? }))
}

/// A hand-over code, as the customer gave it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The digits.
    pub code: String,
}

async fn driver_act(state: &DeliveryState, who: &Principal, id: DeliveryId, action: Action) -> Result<Json<Delivery>> {
    if who.role != Role::Driver {
        return Err(Error::Forbidden("only a driver acts on a delivery".into()));
    }
    let job = by_id(state, id).await?.job;
    Ok(Json(act(state, &who.subject, None, job, action).await?))
}

/// Take the delivery on offer to me (driver).
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/accept", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody)))]
async fn accept(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::Accept).await
}

/// Turn down the delivery on offer to me (driver).
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/decline", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody)))]
async fn decline(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::Decline).await
}

/// I have the food (the delivery's driver).
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/pickup", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody)))]
async fn pickup(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::PickedUp).await
}

/// The customer's code at the door (the delivery's driver): delivered, or 422 with the tries left.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/handover", tag = "delivery", security(("bearer" = [])), request_body = CodeRequest,
    params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn handover_code(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
    Json(req): Json<CodeRequest>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::Code(req.code)).await
}

/// A delivery's route: its fixes in order and its events (status, geofence, ETA), for replay.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Route {
    /// The delivery.
    pub delivery: Delivery,
    /// Its fixes, by sequence.
    pub fixes: Vec<DevicePosition>,
    /// Its events, in the order they were relayed.
    pub events: Vec<serde_json::Value>,
}

/// Replays one delivery: its fixes and its events (its customer, outlet, driver, HQ).
#[utoipa::path(get, path = "/api/v1/deliveries/{id}/route", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Route), (status = 404, body = patty_protocol::ErrorBody)))]
async fn route(State(state): State<DeliveryState>, who: Principal, Path(id): Path<DeliveryId>) -> Result<Json<Route>> {
    let delivery = by_id(&state, id).await?;
    may_see(&who, &delivery)?;
    // With Kafka, from what the store's consumer group read off the delivery topics; without,
    // from the fixes kept as they were accepted and the relayed event log.
    if state.kafka.is_some() {
        let (fixes, events) = crate::delivery::history::route(&state, &id.to_string()).await?;
        let fixes = fixes.into_iter().map(serde_json::from_value).collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(Json(Route { delivery, fixes, events }));
    }
    let fixes = sqlx::query("SELECT doc FROM delivery_fixes WHERE delivery_id = $1 ORDER BY seq")
        .bind(id.to_string())
        .fetch_all(&state.db.pool)
        .await?
        .iter()
        .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?))
        .collect::<Result<Vec<DevicePosition>>>()?;
    let events = crate::events::read_after(&state.db, 0, Some(&id.to_string()), 10_000)
        .await?
        .into_iter()
        .map(|e| e.payload)
        .collect();
    Ok(Json(Route { delivery, fixes, events }))
}

/// A restricted area.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictedArea {
    /// Its id (ignored on create).
    #[serde(default)]
    pub id: String,
    /// Its name.
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: String,
    /// Its boundary: a ring of [lon, lat] points (GeoJSON order), at least three.
    #[schema(schema_with = area_schema)]
    pub ring: Vec<[f64; 2]>,
}

fn area_schema() -> utoipa::openapi::schema::Array {
    patty_protocol::outlet::ring_schema(3)
}

/// How the dashboard draws its map.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MapSettings {
    /// Tile URL template (`{z}/{x}/{y}`, Web Mercator), when tiles are configured.
    pub tiles: Option<String>,
    /// Their attribution.
    pub attribution: String,
    /// The radius of each outlet's pickup zone (a geofence), metres.
    pub pickup_radius_m: f64,
}

/// The map's settings (HQ and outlet staff): tiles are an optional layer under the cloud's own
/// geography.
#[utoipa::path(get, path = "/api/v1/map", tag = "delivery", security(("bearer" = [])),
    responses((status = 200, body = MapSettings), (status = 403, body = patty_protocol::ErrorBody)))]
async fn map_settings(State(state): State<DeliveryState>, who: Principal) -> Result<Json<MapSettings>> {
    who.require(&[Role::OutletStaff, Role::OutletManager])?;
    let hq = &state.config.hq;
    Ok(Json(MapSettings {
        tiles: (!hq.tiles.is_empty()).then(|| hq.tiles.clone()),
        attribution: hq.tiles_attribution.clone(),
        pickup_radius_m: state.config.delivery.pickup_radius_m,
    }))
}

/// Areas drivers should stay out of (HQ).
#[utoipa::path(get, path = "/api/v1/restricted-areas", tag = "delivery", security(("bearer" = [])),
    responses((status = 200, body = Vec<RestrictedArea>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn areas(State(state): State<DeliveryState>, who: Principal) -> Result<Json<Vec<RestrictedArea>>> {
    who.require(&[])?;
    let rows = sqlx::query("SELECT id, name, ring FROM restricted_areas ORDER BY created_ms")
        .fetch_all(&state.db.pool)
        .await?;
    Ok(Json(
        rows.iter()
            .map(|r| {
                Ok(RestrictedArea {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    ring: serde_json::from_str(&r.try_get::<String, _>("ring")?)?,
                })
            })
            .collect::<Result<_>>()?,
    ))
}

/// Adds a restricted area (HQ); in force on every replica within 30 seconds.
#[utoipa::path(post, path = "/api/v1/restricted-areas", tag = "delivery", security(("bearer" = [])), request_body = RestrictedArea,
    responses((status = 201, body = RestrictedArea), (status = 422, body = patty_protocol::ErrorBody)))]
async fn add_area(
    State(state): State<DeliveryState>,
    who: Principal,
    Json(mut area): Json<RestrictedArea>,
) -> Result<impl IntoResponse> {
    who.require(&[])?;
    let valid = area.ring.len() >= 3
        && area.ring.len() <= 10_000
        && area.ring.iter().all(|[lon, lat]| LatLon { lat: *lat, lon: *lon }.is_valid());
    if !valid || patty_protocol::blank(&area.name) || area.name.chars().count() > 100 {
        return Err(Error::Validation(
            "a restricted area needs a name and a ring of 3 to 10,000 [lon, lat] points in range".into(),
        ));
    }
    area.id = uuid::Uuid::now_v7().to_string();
    sqlx::query("INSERT INTO restricted_areas (id, name, ring, created_ms) VALUES ($1, $2, $3, $4)")
        .bind(area.id.clone())
        .bind(area.name.trim().to_owned())
        .bind(serde_json::to_string(&area.ring)?)
        .bind(now_ms())
        .execute(&state.db.pool)
        .await?;
    // This replica sees it at once.
    state.deliveries.zones.write().unwrap_or_else(|e| e.into_inner()).0 = Instant::now() - ZONES_FOR * 2;
    Ok((axum::http::StatusCode::CREATED, Json(area)))
}

/// A live stream of what `keep` lets through, as Server-Sent Events.
fn live_stream(
    state: DeliveryState,
    keep: impl Fn(&Live) -> bool + Send + 'static,
) -> axum::response::Sse<
    impl futures::Stream<Item = std::result::Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive};
    let mut rx = state.deliveries.live.subscribe();
    let mut closing = state.closing.subscribe();
    let stream = crate::events::async_stream(move |tx| async move {
        loop {
            let live = tokio::select! {
                l = rx.recv() => l,
                _ = closing.wait_for(|c| *c) => return,
            };
            match live {
                Ok(l) if keep(&l) => {
                    let ev = Event::default().event(l.kind).json_data(&l.data).unwrap_or_default();
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // A slow reader missed some: say so, and go on from the newest.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let _ = tx.send(Event::default().event("lagged").data(n.to_string())).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    axum::response::Sse::new(stream).keep_alive(KeepAlive::default())
}

/// One delivery live: positions with ETAs, milestones, geofence crossings (its customer, its
/// outlet, its driver, HQ).
#[utoipa::path(get, path = "/api/v1/deliveries/{id}/live", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 404, body = patty_protocol::ErrorBody)))]
async fn live_one(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<impl IntoResponse> {
    let d = by_id(&state, id).await?;
    may_see(&who, &d)?;
    Ok(live_stream(state, move |l| l.delivery == Some(id)))
}

/// The fleet live: HQ sees every driver; an outlet's staff the drivers on its deliveries; a
/// driver themselves.
#[utoipa::path(get, path = "/api/v1/fleet/live", tag = "fleet", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 403, body = patty_protocol::ErrorBody)))]
async fn live_fleet(State(state): State<DeliveryState>, who: Principal) -> Result<impl IntoResponse> {
    who.require(&[Role::OutletStaff, Role::OutletManager, Role::Driver])?;
    let keep: Box<dyn Fn(&Live) -> bool + Send> = match who.role {
        Role::HqAdmin => Box::new(|_| true),
        Role::Driver => {
            let me = who.subject.clone();
            Box::new(move |l| l.driver.as_deref() == Some(me.as_str()))
        }
        _ => {
            let outlet = who.outlet_id;
            Box::new(move |l| l.outlet.is_some() && l.outlet == outlet)
        }
    };
    Ok(live_stream(state, keep))
}

/// The delivery routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    DeliveryState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(of_order))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(pickup))
        .routes(routes!(handover_code))
        .routes(routes!(route))
        .routes(routes!(areas, add_area))
        .routes(routes!(map_settings))
        .routes(routes!(live_one))
        .routes(routes!(live_fleet))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(lat: f64, lon: f64) -> Place {
        Place { name: "x".into(), position: LatLon { lat, lon } }
    }

    #[test]
    fn the_nearest_driver_to_the_pickup_is_chosen() {
        let d = Delivery {
            id: DeliveryId::new(),
            job: 1,
            order_id: OrderId::new(),
            order_number: 1,
            outlet_id: OutletId::new(),
            customer_id: Some("c".into()),
            status: DeliveryStatus::Waiting,
            driver_id: None,
            device_id: None,
            pickup: place(52.3731, 4.8926),
            dropoff: place(52.3789, 4.9003),
            offered_to: None,
            offer_deadline_ms: None,
            passed: vec![],
            round_started_ms: 0,
            milestones: vec![],
            eta_pickup_s: None,
            eta_dropoff_s: None,
            code_expires_ms: 0,
            code_attempts: 0,
            created_ms: 0,
            updated_ms: 0,
        };
        let c = |id: &str, lat: f64| Candidate { driver_id: id.into(), device_id: id.into(), position: (lat, 4.8926) };
        let candidates = [c("far", 52.40), c("near", 52.374), c("middle", 52.38)];
        assert_eq!(Nearest.choose(&d, &candidates), Some(1));
        assert!(random_code().len() == 4 && random_code().bytes().all(|b| b.is_ascii_digit()));
    }
}
