//! The shell around [`super::rules::apply`]: reads the delivery, applies the step, saves the
//! transition with its events in one transaction (a conditional update, so racing replicas move a
//! delivery once), and only then runs its commands: the live streams, the order following, the
//! devices told.

use super::live::Live;
use super::rules::{Action, Delivery, DeliveryError, Effect, Recipient, Step, Transition, apply};
use super::{DeliveryState, store};
use crate::events::NewEvent;
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};
use patty_protocol::delivery::Command;
use patty_protocol::events::DeliveryChanged;

/// The `delivery.status.events` event of kind `kind` (`delivery.offered`) about `d`.
pub fn status_event(d: &Delivery, kind: &str, detail: serde_json::Value) -> Result<NewEvent> {
    NewEvent::of(&DeliveryChanged {
        what: kind.strip_prefix("delivery.").unwrap_or(kind).to_owned(),
        delivery_id: d.id,
        job: d.job,
        order_id: d.order_id,
        outlet_id: d.outlet_id,
        status: d.status,
        driver_id: d.driver_id.clone(),
        detail,
    })
}

/// What the live streams show of `d`.
pub(super) fn live_of(d: &Delivery, kind: &'static str, data: serde_json::Value) -> Live {
    Live {
        outlet: Some(d.outlet_id),
        customer: d.customer_id.clone(),
        delivery: Some(d.id),
        driver: d.driver_id.clone(),
        kind,
        data,
    }
}

/// The device a driver was last seen on, if any.
pub fn device_of(state: &DeliveryState, driver: &str) -> Option<String> {
    state.fleet.positions().into_iter().find(|p| p.driver_id == driver).map(|p| p.device_id)
}

/// Sends `cmd` to `to` (when telemetry is on and the device is known).
fn tell(state: &DeliveryState, to: &Recipient, cmd: &Command) {
    let device = match to {
        Recipient::Device(d) => Some(d.clone()),
        Recipient::DriverOf(driver) => device_of(state, driver),
    };
    if let Some(device) = device {
        state.fleet.command(&device, cmd);
    }
}

/// Saves `t` (the step taken on `old`) and runs its commands. Returns the saved delivery, or
/// `None` when another replica or request moved it first.
#[tracing::instrument(skip_all, fields(delivery = %old.id, job = old.job), err(level = "warn"))]
pub async fn commit(state: &DeliveryState, old: &Delivery, t: Transition) -> Result<Option<Delivery>> {
    let Transition { next, events, commands, .. } = t;
    let events = events.into_iter().map(|e| status_event(&next, &e.kind, e.detail)).collect::<Result<_>>()?;
    if !store::save(&state.db, old, &next, events).await? {
        return Ok(None);
    }
    state.deliveries.remember(&next);
    if next.status != old.status {
        state.deliveries.publish(live_of(&next, "status", serde_json::to_value(&next)?));
    }
    for effect in commands {
        match effect {
            Effect::MoveOrder(order_to) => {
                let outlet = next.outlet_id;
                let moved = crate::ordering::move_order(state, next.order_id, order_to, None, true, |o| {
                    if o.outlet_id == outlet { Ok(()) } else { Err(Error::Conflict("another outlet's order".into())) }
                })
                .await;
                if let Err(e) = moved {
                    tracing::warn!(order = %next.order_id, to = order_to.as_str(), error = %e, "the order did not follow its delivery");
                }
            }
            Effect::Tell(to, cmd) => tell(state, &to, &cmd),
            Effect::WakeDispatch => state.deliveries.wake.notify_one(),
        }
    }
    Ok(Some(next))
}

/// Takes `step` on `d`: `Ok(None)` when the step does not apply now or another replica moved
/// the delivery first (milestones, the dispatcher's steps: nobody is waiting for an answer).
pub async fn take(state: &DeliveryState, d: &Delivery, step: Step) -> Result<Option<Delivery>> {
    match apply(d, step, now_ms()) {
        Ok(t) => commit(state, d, t).await,
        Err(DeliveryError::Store(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// `driver` (on `device`, when known) does `action` to the delivery with job `job`.
#[tracing::instrument(skip_all, fields(job, driver), err(level = "warn"))]
pub async fn act_on(
    state: &DeliveryState,
    driver: &str,
    device: Option<&str>,
    job: u32,
    action: Action,
) -> std::result::Result<Delivery, DeliveryError> {
    // Read fresh: a decision must not rest on another replica's stale copy.
    let d = store::by_job(&state.db, job).await?.ok_or(DeliveryError::NoJob(job))?;
    let device = device.map(str::to_owned).or_else(|| device_of(state, driver));
    let driver = driver.to_owned();
    let step = match action {
        Action::Accept => Step::Accept { driver, device },
        Action::Decline => Step::Decline { driver },
        Action::PickedUp => Step::PickedUp { driver },
        Action::Code(given) => {
            let expected =
                if is_code_time(&d, &driver) { store::code_of(&state.db, d.id).await? } else { String::new() };
            Step::Code { driver, device, given, expected, max_attempts: state.config.delivery.code_attempts }
        }
    };
    let mut t = apply(&d, step, now_ms())?;
    let answer = t.answer.take();
    let saved = commit(state, &d, t).await?;
    match (answer, saved) {
        (Some(answer), _) => Err(answer),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(DeliveryError::Changed(job)),
    }
}

/// Whether a code from `driver` would be checked against the stored one (the delivery is theirs
/// and past pickup): only then is the code read.
fn is_code_time(d: &Delivery, driver: &str) -> bool {
    d.driver_id.as_deref() == Some(driver)
        && matches!(
            d.status,
            patty_protocol::delivery::DeliveryStatus::PickedUp | patty_protocol::delivery::DeliveryStatus::NearDropoff
        )
}

/// `driver` (on `device`, when known) does `action` to the delivery with job `job`.
pub async fn act(
    state: &DeliveryState,
    driver: &str,
    device: Option<&str>,
    job: u32,
    action: Action,
) -> Result<Delivery> {
    Ok(act_on(state, driver, device, job, action).await?)
}
