//! The dispatch worker: follows the event log for order events (creating and cancelling
//! deliveries), and sweeps the offers once a second or when woken.

use super::rules::{Decision, Dispatcher, Nearest, decide, order_in, seen};
use super::{offers, store};
use crate::delivery::lifecycle::{status_event, take};
use crate::delivery::store::{self as deliveries, Created};
use crate::delivery::{DeliveryState, Step};
use crate::events::{OutboxEvent, Topic};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};
use patty_protocol::delivery::Place;
use patty_protocol::order::Order;
use std::time::Duration;
use tokio::sync::watch;

/// Events read from the log per round.
const BATCH: i64 = 500;

/// Runs dispatch with the [`Nearest`] dispatcher until `shutdown`.
pub async fn run(state: DeliveryState, shutdown: watch::Receiver<bool>) {
    run_with(state, Box::new(Nearest), shutdown).await
}

/// Runs dispatch with `dispatcher` choosing drivers, until `shutdown`.
pub async fn run_with(state: DeliveryState, dispatcher: Box<dyn Dispatcher>, mut shutdown: watch::Receiver<bool>) {
    let mut relayed = state.relayed.subscribe();
    let mut cursor = None;
    loop {
        // Where to read from: the shared cursor, once (then this replica's own progress).
        if cursor.is_none() {
            cursor = store::cursor(&state.db).await.ok();
        }
        if let Some(at) = cursor {
            match follow(&state, at).await {
                Ok(to) => cursor = Some(to),
                Err(e) => tracing::warn!(error = %e, "dispatch: reading order events failed"),
            }
        }
        if let Err(e) = offers::expire(&state).await {
            tracing::warn!(error = %e, "dispatch: expiring offers failed");
        }
        if let Err(e) = offers::offer_waiting(&state, dispatcher.as_ref()).await {
            tracing::warn!(error = %e, "dispatch: offering deliveries failed");
        }
        tokio::select! {
            _ = relayed.changed() => {},
            _ = state.deliveries.wake.notified() => {},
            // Deadlines pass, drivers come free, and another replica may be the one relaying.
            _ = tokio::time::sleep(Duration::from_secs(1)) => {},
            _ = shutdown.changed() => return,
        }
    }
}

/// Handles the relayed events after `cursor` until it has caught up; returns the new cursor. A
/// round whose store fails is read again next time (handling an event twice does no harm).
async fn follow(state: &DeliveryState, mut cursor: i64) -> Result<i64> {
    loop {
        let events = crate::events::read_after(&state.db, cursor, None, BATCH).await?;
        let Some(last) = events.last().map(|e| e.position) else { return Ok(cursor) };
        handle(state, events).await?;
        store::advance(&state.db, last).await?;
        cursor = last;
    }
}

/// Creates and cancels what a round of events asks for.
async fn handle(state: &DeliveryState, mut events: Vec<OutboxEvent>) -> Result<()> {
    let orders = Topic::Order.name();
    let run: Vec<_> =
        events.iter().map(|e| if e.topic == orders { seen(&e.payload, e.created_ms) } else { None }).collect();
    for decision in decide(&run, now_ms()) {
        let done = match decision {
            Decision::Create(i) => create(state, &mut events[i].payload).await,
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
    Ok(())
}

/// Creates the delivery of the ready delivery order in `payload` unless it has one.
async fn create(state: &DeliveryState, payload: &mut serde_json::Value) -> Result<()> {
    state.vault.open(&state.db.pool, vec![&mut *payload]).await?;
    let order: Order = serde_json::from_value(order_in(payload).cloned().unwrap_or_default())?;
    if deliveries::of_order(&state.db, order.id).await?.is_some() {
        return Ok(());
    }
    let outlet = crate::outlets::load(&state.db, order.outlet_id).await?;
    let pickup = Place { name: outlet.name.clone(), position: outlet.position };
    let Some(mut d) = crate::delivery::rules::create(&order, pickup, now_ms(), state.config.delivery.code_ttl_mins)
    else {
        return Ok(());
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
                return Ok(());
            }
            Created::OrderHasOne => return Ok(()),
            Created::JobTaken => continue,
        }
    }
    Err(Error::Internal("no free job number after five tries".into()))
}
