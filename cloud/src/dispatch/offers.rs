//! Offers: lapsed offers pass to the next driver; waiting deliveries are offered to the
//! dispatcher's choice among the drivers available.

use super::rules::{Candidate, Dispatcher};
use crate::delivery::{DeliveryState, Step, lifecycle::take, store};
use crate::infra::db::now_ms;
use crate::infra::error::Result;

/// Offers that lapsed pass to the next driver (who held it is told it is withdrawn).
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn expire(state: &DeliveryState) -> Result<()> {
    for d in store::lapsed(&state.db, now_ms()).await? {
        take(state, &d, Step::Lapse).await?;
    }
    Ok(())
}

/// Offers every waiting delivery without an open offer to `dispatcher`'s choice.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn offer_waiting(state: &DeliveryState, dispatcher: &dyn Dispatcher) -> Result<()> {
    let waiting = store::waiting(&state.db).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    let busy = store::busy_drivers(&state.db).await?;
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
    for d in waiting {
        let candidates: Vec<Candidate> =
            available.iter().filter(|c| !d.passed.contains(&c.driver_id)).cloned().collect();
        if candidates.is_empty() {
            // Everyone available has passed: start a new round after a minute.
            if !d.passed.is_empty() && now - d.round_started_ms > 60_000 {
                take(state, &d, Step::NewRound).await?;
            }
            continue;
        }
        let Some(i) = dispatcher.choose(&d, &candidates) else { continue };
        let chosen = candidates[i].clone();
        let deadline_ms = now + state.config.delivery.offer_timeout_secs as i64 * 1000;
        let step = Step::Offer { driver: chosen.driver_id.clone(), device: chosen.device_id.clone(), deadline_ms };
        if take(state, &d, step).await?.is_some() {
            available.retain(|c| c.driver_id != chosen.driver_id);
        }
    }
    Ok(())
}
