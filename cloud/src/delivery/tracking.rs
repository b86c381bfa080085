//! Tracking: what an accepted fix means for deliveries. Geofences (the outlets' pickup zones,
//! HQ's restricted areas and, on a delivery, its drop-off zone, with the hysteresis of
//! [`super::geofence`]), ETAs, milestones reached by entering a zone, the live streams; and the
//! checks the ingest makes before it accepts a fix (its job is the driver's).

use super::geofence::{Shape, Transition, Zone, ZoneIndex, ZoneKind, eta_s};
use super::lifecycle::{live_of, take};
use super::live::Live;
use super::rules::{Delivery, Step, milestone_of};
use super::{AFTER_END_MS, CACHE_FOR, DeliveryState, ZONES_FOR, store};
use crate::events::NewEvent;
use crate::fleet::{DevicePosition, distance_m};
use crate::infra::db::now_ms;
use crate::infra::error::Result;
use patty_protocol::delivery::DeliveryStatus;
use patty_protocol::events::{DeliveryEta, DeviceCrossed, GeofenceCrossed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Hands an accepted fix to tracking ([`run`], which runs [`after_fix`] in each device's order),
/// waiting only while tracking is a full queue behind. Tracking's outcome never held back the
/// fix's acknowledgement to the broker (its failures are logged), so handing it over changes no
/// acknowledgement.
pub async fn track(state: &DeliveryState, position: DevicePosition) {
    if state.deliveries.fixes.send(position).await.is_err() {
        tracing::debug!("tracking has stopped; a fix goes untracked");
    }
}

/// Tracks the fixes handed over with [`track`] until `shutdown`: each device's in order, the
/// fleet's over several lanes (a device always in the same one).
pub async fn run(state: DeliveryState, mut shutdown: watch::Receiver<bool>) {
    let Some(mut fixes) = state.deliveries.fixes_rx.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let lanes: Vec<mpsc::Sender<DevicePosition>> = (0..n)
        .map(|_| {
            let (tx, mut rx) = mpsc::channel::<DevicePosition>(1024);
            let state = state.clone();
            tokio::spawn(async move {
                while let Some(position) = rx.recv().await {
                    track_one(&state, position).await;
                }
            });
            tx
        })
        .collect();
    loop {
        let position = tokio::select! {
            p = fixes.recv() => match p {
                Some(p) => p,
                None => return,
            },
            _ = shutdown.changed() => return,
        };
        let lane = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            position.device_id.hash(&mut h);
            (h.finish() % n as u64) as usize
        };
        if lanes[lane].send(position).await.is_err() {
            return;
        }
    }
}

/// Tracks one fix, on its delivery as it stands now (a fix just before may have moved it).
async fn track_one(state: &DeliveryState, position: DevicePosition) {
    let on = match (position.delivery_id, position.job) {
        (Some(id), Some(job)) => match by_job(state, job).await {
            Ok(d) => d.filter(|d| {
                d.id == id && d.status.is_driving() && d.driver_id.as_deref() == Some(position.driver_id.as_str())
            }),
            Err(e) => {
                tracing::warn!(error = %e, device = %position.device_id, "reading a fix's delivery failed");
                return;
            }
        },
        _ => None,
    };
    if let Err(e) = after_fix(state, &position, on).await {
        tracing::warn!(error = %e, device = %position.device_id, "geofences and milestones for a fix failed");
    }
}

/// The delivery with job number `job`, from the cache when recent.
pub async fn by_job(state: &DeliveryState, job: u32) -> Result<Option<Delivery>> {
    if let Some((at, d)) = state.deliveries.by_job.lock().unwrap_or_else(|e| e.into_inner()).get(&job)
        && at.elapsed() < CACHE_FOR
    {
        return Ok(Some(d.clone()));
    }
    let Some(d) = store::by_job(&state.db, job).await? else { return Ok(None) };
    state.deliveries.remember(&d);
    Ok(Some(d))
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
    store::active_job_of(&state.db, driver).await
}

/// A region crossing the device itself reported (OwnTracks' own regions): passed on as an alert.
pub async fn device_reported_transition(
    state: &DeliveryState,
    device: &str,
    driver: &str,
    region: &str,
    entered: bool,
) {
    let crossed = DeviceCrossed {
        device_id: device.to_owned(),
        driver_id: driver.to_owned(),
        region: region.to_owned(),
        entered,
    };
    let recorded = async { store::record(&state.db, vec![NewEvent::of(&crossed)?]).await };
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
        data: serde_json::to_value(&crossed).unwrap_or_default(),
    });
}

/// Marks the zone index old, so the next fix rebuilds it (a restricted area was added here).
pub(super) fn zones_changed(state: &DeliveryState) {
    state.deliveries.zones.write().unwrap_or_else(|e| e.into_inner()).0 = Instant::now() - ZONES_FOR * 2;
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
    match crate::outlets::all(&state.db).await {
        Ok(outlets) => list.extend(outlets.into_iter().map(|o| Zone {
            id: format!("pickup:{}", o.id),
            kind: ZoneKind::Pickup,
            name: o.name.clone(),
            shape: Shape::Circle { centre: (o.position.lat, o.position.lon), radius_m },
        })),
        Err(e) => tracing::warn!(error = %e, "reading outlets for geofences failed"),
    }
    match store::areas(&state.db).await {
        Ok(areas) => {
            for a in areas {
                if let Ok(ring) = serde_json::from_str::<Vec<[f64; 2]>>(&a.ring) {
                    list.push(Zone {
                        id: format!("restricted:{}", a.id),
                        kind: ZoneKind::Restricted,
                        name: a.name,
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
/// delivery the fix is for, if it is under way. Records the events (alerts, route).
#[tracing::instrument(skip_all, fields(device = %position.device_id, job = ?position.job))]
pub async fn after_fix(state: &DeliveryState, position: &DevicePosition, on: Option<Delivery>) -> Result<()> {
    let p = (position.lat, position.lon);
    let accuracy = f64::from(position.accuracy_m);
    let index = zones(state).await;
    let crossings: Vec<Transition> = {
        let mut presence = state.deliveries.presence.lock().unwrap_or_else(|e| e.into_inner());
        let mine = presence.entry(position.device_id.clone()).or_default();
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
            events.push(NewEvent::of(&DeliveryEta {
                delivery_id: d.id,
                job: d.job,
                eta_pickup_s: d.eta_pickup_s,
                eta_dropoff_s: d.eta_dropoff_s,
                at: p,
            })?);
        }
    }
    // A crossing names its zone, and a drop-off zone is named by the customer's street: sealed
    // with their key when they have an account.
    let mut alerts = vec![];
    for c in &crossings {
        let key = d.as_ref().map(|d| d.id.to_string()).unwrap_or_else(|| position.device_id.clone());
        alerts.push(GeofenceCrossed {
            key,
            entered: c.entered,
            zone: c.zone.clone(),
            zone_kind: c.kind,
            zone_name: c.name.clone(),
            device_id: position.device_id.clone(),
            driver_id: position.driver_id.clone(),
            delivery_id: d.as_ref().map(|d| d.id),
            at: p,
            accuracy_m: position.accuracy_m,
        });
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
            store::keep_fix(&state.db, d.id, position).await?;
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
        let customer = d.as_ref().and_then(|d| d.customer_id.as_deref());
        let mut tx = state.db.begin().await?;
        for alert in &alerts {
            events.push(NewEvent::sealed(&mut tx, &state.vault, customer, alert).await?);
        }
        crate::events::record_all(&mut tx, events).await?;
        tx.commit().await?;
    }
    // Milestones from crossings: the first entry that reaches one.
    let Some(d) = d else { return Ok(()) };
    if let Some((to, zone)) = crossings.iter().find_map(|c| milestone_of(&d, c).map(|to| (to, c.zone.clone()))) {
        let max_attempts = state.config.delivery.code_attempts;
        take(state, &d, Step::Reached { to, zone, max_attempts }).await?;
    }
    Ok(())
}
