//! The checkout worker: follows the order events (an order taken on is captured, one withdrawn is
//! released or refunded), makes the provider calls owed and not yet made, and reconciles: a
//! payment left created or open (the provider timed out, or its webhook never came) is settled
//! from the provider's own state, and a card refund the provider never answered is sent again.

use super::flow;
use crate::infra::db::now_ms;
use crate::infra::error::Result;
use crate::payments::flow as pay;
use crate::payments::rules::{OrderStep, Report};
use crate::payments::{PaymentsState, store};
use patty_protocol::ids::OrderId;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Events read from the log per round.
const BATCH: i64 = 500;
/// Owed calls and payments looked at per round.
const ROUND: i64 = 100;
/// How often owed calls are looked for without a wake-up.
const TICK: Duration = Duration::from_secs(1);

/// The order events that move a payment: taken on (the first of accepted, preparing, ready) and
/// withdrawn.
const KINDS: [&str; 5] = ["order.accepted", "order.preparing", "order.ready", "order.cancelled", "order.voided"];

/// Runs until `shutdown`.
pub async fn run(state: PaymentsState, mut shutdown: watch::Receiver<bool>) {
    let mut relayed = state.relayed.subscribe();
    let mut cursor = None;
    let every = Duration::from_secs(state.config.payments.reconcile_secs);
    let mut reconciled = Instant::now() - every;
    loop {
        if cursor.is_none() {
            match crate::events::store::cursor(&state.db, "payments").await {
                Ok(at) => cursor = Some(at),
                Err(e) => tracing::warn!(error = %e, "checkout: reading its cursor failed"),
            }
        }
        if let Some(at) = cursor.as_mut()
            && let Err(e) = follow(&state, at).await
        {
            tracing::warn!(error = %e, "checkout: reading order events failed");
        }
        if let Err(e) = owed(&state).await {
            tracing::warn!(error = %e, "checkout: owed provider calls failed");
        }
        if reconciled.elapsed() >= every {
            reconciled = Instant::now();
            if let Err(e) = reconcile(&state).await {
                tracing::warn!(error = %e, "checkout: reconciling failed");
            }
        }
        tokio::select! {
            _ = relayed.changed() => {},
            _ = tokio::time::sleep(TICK) => {},
            _ = shutdown.changed() => return,
        }
    }
}

/// Applies the order events after `cursor` up to the log's top, moving the shared cursor.
async fn follow(state: &PaymentsState, cursor: &mut i64) -> Result<()> {
    let top = crate::events::store::top(&state.db).await?;
    while *cursor < top {
        let events = crate::events::store::read_kinds(&state.db, *cursor, top, &KINDS, BATCH).await?;
        let last = if events.len() as i64 == BATCH { events.last().map_or(top, |e| e.position) } else { top };
        for e in events {
            let step = if e.kind == "order.cancelled" || e.kind == "order.voided" {
                OrderStep::Withdrawn
            } else {
                OrderStep::TakenOn
            };
            let Ok(order) = e.key.parse::<OrderId>() else { continue };
            if let Err(err) = flow::order_step(state, order, step).await {
                tracing::warn!(error = %err, %order, "checkout: an order event could not move its payment");
            }
        }
        crate::events::store::advance(&state.db, "payments", last).await?;
        *cursor = last;
    }
    Ok(())
}

/// Makes the provider calls that are owed and due.
async fn owed(state: &PaymentsState) -> Result<()> {
    for p in store::due(&state.db, now_ms(), ROUND).await? {
        pay::settle_due(state, &p.id).await?;
    }
    Ok(())
}

/// Settles payments left pending from the provider's state, and sends stuck refunds again.
pub async fn reconcile(state: &PaymentsState) -> Result<usize> {
    let before = now_ms() - state.config.payments.pending_secs as i64 * 1000;
    let mut settled = 0;
    for p in store::unsettled(&state.db, before, ROUND).await? {
        let Some(provider) = state.providers.named(&p.provider).cloned() else { continue };
        let request = pay::create_request_again(state, &p).await?;
        let remote = match p.reference.as_deref() {
            Some(reference) => provider.fetch(reference).await.map(Some),
            None => provider.find(&p.key("create"), &request).await,
        };
        match remote {
            Ok(Some(remote)) => {
                pay::set_reference(state, &p, &remote.reference, remote.charge.as_deref()).await?;
                flow::apply(state, &p.id, &Report::of_remote(&remote), None).await?;
                settled += 1;
            }
            // The provider never made it: make it now, under the same key.
            Ok(None) => match provider.create(&request).await {
                Ok(remote) => {
                    pay::set_reference(state, &p, &remote.reference, remote.charge.as_deref()).await?;
                    flow::apply(state, &p.id, &Report::of_remote(&remote), None).await?;
                }
                Err(e) => tracing::warn!(payment = %p.id, error = %e, "checkout: making a payment again failed"),
            },
            Err(e) => {
                tracing::warn!(payment = %p.id, error = %e, "checkout: asking the provider about a payment failed")
            }
        }
        store::touch(&state.db, &p.id).await?;
    }
    for r in store::stuck_refunds(&state.db, before, ROUND).await? {
        let p = store::load(&state.db, &r.payment_id).await?;
        pay::send_refund(state, &p, &r).await?;
        store::touch_refund(&state.db, &r.id).await?;
    }
    Ok(settled)
}
