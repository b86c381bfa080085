//! The dispatch worker: follows the event log for order events (creating and cancelling
//! deliveries), and sweeps the offers once a second or when woken.

use super::offers;
use super::rules::{Decision, Dispatcher, Nearest, decide, order_in, seen};
use crate::delivery::lifecycle::{status_event, take};
use crate::delivery::store::{self as deliveries, Created};
use crate::delivery::{DeliveryState, Step};
use crate::events::{OutboxEvent, Topic};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};
use patty_protocol::delivery::Place;
use patty_protocol::order::Order;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Events read from the log per round.
const BATCH: i64 = 500;
/// How many events before the shared cursor a starting worker reads again.
const REREAD_AT_START: i64 = 1_000;
/// How often offers are swept (deadlines, drivers come free) without a wake-up.
const SWEEP: Duration = Duration::from_secs(1);

/// Runs dispatch with the [`Nearest`] dispatcher until `shutdown`.
pub async fn run(state: DeliveryState, shutdown: watch::Receiver<bool>) {
    run_with(state, Box::new(Nearest), shutdown).await
}

/// Runs dispatch with `dispatcher` choosing drivers, until `shutdown`.
pub async fn run_with(state: DeliveryState, dispatcher: Box<dyn Dispatcher>, mut shutdown: watch::Receiver<bool>) {
    let mut relayed = state.relayed.subscribe();
    let mut cursor = None;
    let mut swept = Instant::now();
    let mut due = true;
    loop {
        // Where to read from: a little behind the shared cursor, once (then this replica's own
        // progress). Behind, because another replica may have moved it past an order this one
        // made a delivery for and then died before it read the order's withdrawal; reading
        // events again does no harm.
        if cursor.is_none() {
            match crate::events::store::cursor(&state.db, "orders").await {
                Ok(at) => cursor = Some((at - REREAD_AT_START).max(0)),
                Err(e) => tracing::warn!(error = %e, "dispatch: reading its cursor failed"),
            }
        }
        let mut created = false;
        if let Some(at) = cursor.as_mut() {
            match follow(&state, at).await {
                Ok(any) => created = any,
                Err(e) => tracing::warn!(error = %e, "dispatch: reading order events failed"),
            }
        }
        // Offers: when a delivery was created, when woken, and once a second; not on every
        // relayed round.
        if created || due || swept.elapsed() >= SWEEP {
            swept = Instant::now();
            due = false;
            if let Err(e) = offers::expire(&state).await {
                tracing::warn!(error = %e, "dispatch: expiring offers failed");
            }
            if let Err(e) = offers::offer_waiting(&state, dispatcher.as_ref()).await {
                tracing::warn!(error = %e, "dispatch: offering deliveries failed");
            }
        }
        tokio::select! {
            _ = relayed.changed() => {},
            _ = state.deliveries.wake.notified() => due = true,
            // Deadlines pass, drivers come free, and another replica may be the one relaying.
            _ = tokio::time::sleep_until((swept + SWEEP).into()) => {},
            _ = shutdown.changed() => return,
        }
    }
}

/// The order events that can create or cancel a delivery: an order ready (moved there, or first
/// heard of from an outlet already there) or withdrawn. The others (placed, accepted, out for
/// delivery, completed: that last two only once a delivery exists) are not read at all.
const KINDS: [&str; 4] = ["order.ready", "order.recorded", "order.cancelled", "order.voided"];

/// Handles the relayed events after `cursor` until it has caught up with the log's top, moving
/// `cursor` (and the shared one) with each round; returns whether a delivery was created. A round
/// whose store fails is read again next time (handling an event twice does no harm).
async fn follow(state: &DeliveryState, cursor: &mut i64) -> Result<bool> {
    let mut created = false;
    let top = crate::events::store::top(&state.db).await?;
    while *cursor < top {
        let events = crate::events::store::read_kinds(&state.db, *cursor, top, &KINDS, BATCH).await?;
        // A full batch ends at its last event; a short one has read everything up to the top.
        let last = if events.len() as i64 == BATCH { events.last().map_or(top, |e| e.position) } else { top };
        created |= handle(state, events).await?;
        crate::events::store::advance(&state.db, "orders", last).await?;
        *cursor = last;
    }
    Ok(created)
}

/// Creates and cancels what a round of events asks for; returns whether it created any.
async fn handle(state: &DeliveryState, mut events: Vec<OutboxEvent>) -> Result<bool> {
    let mut created = false;
    let orders = Topic::Order.name();
    let run: Vec<_> =
        events.iter().map(|e| if e.topic == orders { seen(&e.payload, e.created_ms) } else { None }).collect();
    for decision in decide(&run, now_ms()) {
        let done = match decision {
            Decision::Create(i) => create(state, &mut events[i].payload).await.map(|made| created |= made),
            Decision::Cancel(order) => match deliveries::open_of_order(&state.db, order).await {
                Ok(Some(d)) => {
                    take(state, &d, Step::Cancel { reason: "the order was withdrawn".into() }).await.map(drop)
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
        };
        match done {
            Ok(()) => {}
            // What will not heal (an outlet gone, a document that does not read) is skipped.
            Err(e @ (Error::NotFound(_) | Error::Decode(_))) => {
                tracing::warn!(error = %e, "dispatch: an order event was skipped")
            }
            // The database: the round is read again.
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

/// Creates the delivery of the ready delivery order in `payload` unless it has one; returns
/// whether it did.
async fn create(state: &DeliveryState, payload: &mut serde_json::Value) -> Result<bool> {
    state.vault.open(&state.db.pool, vec![&mut *payload]).await?;
    let order: Order = serde_json::from_value(order_in(payload).cloned().unwrap_or_default())?;
    if deliveries::of_order(&state.db, order.id).await?.is_some() {
        return Ok(false);
    }
    let outlet = crate::outlets::load(&state.db, order.outlet_id).await?;
    let pickup = Place { name: outlet.name.clone(), position: outlet.position };
    let Some(mut d) = crate::delivery::rules::create(&order, pickup, now_ms(), state.config.delivery.code_ttl_mins)
    else {
        return Ok(false);
    };
    let code = format!("{:04}", uuid::Uuid::new_v4().as_u128() % 10_000);
    // A job number another replica took meanwhile is drawn again.
    for _ in 0..5 {
        match deliveries::insert(&state.db, &mut d, &code, |d| {
            status_event(d, "delivery.created", serde_json::json!({}))
        })
        .await?
        {
            Created::Stored => {
                state.deliveries.remember(&d);
                tracing::info!(delivery = %d.id, job = d.job, order = %d.order_id, "delivery created");
                return Ok(true);
            }
            Created::OrderHasOne => return Ok(false),
            Created::JobTaken => continue,
        }
    }
    Err(Error::Internal("no free job number after five tries".into()))
}
