//! The delivery lifecycle as a pure transition (like rumqttc's `state.rs`): [`apply`] takes a
//! delivery, a [`Step`] and the time, and returns the [`Transition`]: the next delivery, the
//! events to record and the commands to run, or the [`DeliveryError`] that refuses the step. No
//! SQL, no I/O: the shell ([`super::lifecycle`]) saves the transition with a conditional update,
//! records its events in the same transaction, and only then runs its commands.

use super::geofence::{Transition as Crossing, ZoneKind};
use patty_protocol::delivery::{Command, DeliveryStatus, Place};
use patty_protocol::ids::{DeliveryId, OrderId, OutletId};
use patty_protocol::order::{Fulfilment, Order, OrderStatus};
use serde::{Deserialize, Serialize};

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

/// Why the lifecycle refuses a step (or, for a wrong code, what the caller hears once the try is
/// counted). `http` maps each to the status and message the API has always answered with.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No delivery with this id (or not the caller's to see).
    #[error("no delivery {0}")]
    NotFound(DeliveryId),
    /// No delivery with this job number.
    #[error("no job {0}")]
    NoJob(u32),
    /// The order has no delivery (yet).
    #[error("no delivery for order {0} yet")]
    NoneForOrder(OrderId),
    /// An accept or decline of an offer that is not open to this driver.
    #[error("job {0} is not on offer to you")]
    NotOffered(u32),
    /// Another driver's delivery.
    #[error("job {0} is not yours")]
    NotYours(u32),
    /// A pickup in a status that does not allow it.
    #[error("job {job} is {}", status.as_str())]
    Status {
        /// The job.
        job: u32,
        /// Where it stands.
        status: DeliveryStatus,
    },
    /// A code before the pickup.
    #[error("job {job} is {}; a code is taken after pickup", status.as_str())]
    CodeBeforePickup {
        /// The job.
        job: u32,
        /// Where it stands.
        status: DeliveryStatus,
    },
    /// Too many wrong codes.
    #[error("job {job}: the code is locked after {max} wrong tries; call the outlet")]
    CodeLocked {
        /// The job.
        job: u32,
        /// The tries allowed.
        max: u32,
    },
    /// The code's time is up.
    #[error("job {0}: the code has expired; call the outlet")]
    CodeExpired(u32),
    /// What was entered is not a code.
    #[error("a code is digits")]
    NotDigits,
    /// A wrong code (counted).
    #[error("wrong code for job {job}; {left} tries left")]
    WrongCode {
        /// The job.
        job: u32,
        /// Tries left.
        left: u32,
    },
    /// The step does not apply to the delivery as it stands (a milestone out of order).
    #[error("delivery {0} cannot take this step now")]
    NotNow(DeliveryId),
    /// Another replica or request moved the delivery first.
    #[error("job {0} changed meanwhile")]
    Changed(u32),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::infra::error::Error),
}

/// Something that happens to a delivery: a driver's action, a crossing, the dispatcher's.
#[derive(Clone, Debug)]
pub enum Step {
    /// `driver` takes the offer, on `device` when known.
    Accept {
        /// The driver.
        driver: String,
        /// Their device.
        device: Option<String>,
    },
    /// `driver` turns the offer down.
    Decline {
        /// The driver.
        driver: String,
    },
    /// `driver` has the food.
    PickedUp {
        /// The driver.
        driver: String,
    },
    /// `driver` enters the customer's code.
    Code {
        /// The driver.
        driver: String,
        /// Their device.
        device: Option<String>,
        /// What the customer gave.
        given: String,
        /// The delivery's code.
        expected: String,
        /// How many wrong tries lock it.
        max_attempts: u32,
    },
    /// The driver entered the zone `zone`: at pickup, or near the drop-off.
    Reached {
        /// The milestone.
        to: DeliveryStatus,
        /// The zone entered.
        zone: String,
        /// How many wrong tries lock the code (told to the agent near the drop-off).
        max_attempts: u32,
    },
    /// The order was withdrawn.
    Cancel {
        /// Why.
        reason: String,
    },
    /// The dispatcher offers it to `driver` on `device` until `deadline_ms`.
    Offer {
        /// The driver.
        driver: String,
        /// Their device.
        device: String,
        /// When the offer lapses, Unix ms.
        deadline_ms: i64,
    },
    /// The open offer lapsed.
    Lapse,
    /// Everyone available passed a minute ago: they may be offered it again.
    NewRound,
}

/// An event to record with the transition, on `delivery.status.events`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `delivery.assigned`, `delivery.offered`…
    pub kind: String,
    /// What is particular to it.
    pub detail: serde_json::Value,
}

/// Who a device command goes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Recipient {
    /// This device.
    Device(String),
    /// Whatever device the driver was last seen on.
    DriverOf(String),
}

/// What to do once the transition is saved.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// The order follows the delivery (out for delivery, completed).
    MoveOrder(OrderStatus),
    /// A command to a driver's device.
    Tell(Recipient, Command),
    /// The dispatcher looks again (an offer was declined).
    WakeDispatch,
}

/// The outcome of a step.
#[derive(Debug)]
pub struct Transition {
    /// The delivery after the step.
    pub next: Delivery,
    /// To record with it.
    pub events: Vec<Event>,
    /// To run after it is saved, in order.
    pub commands: Vec<Effect>,
    /// What the caller hears once it is saved (a wrong code: the try counts, the answer is no).
    pub answer: Option<DeliveryError>,
}

impl Transition {
    fn new(next: Delivery) -> Self {
        Self { next, events: vec![], commands: vec![], answer: None }
    }

    fn event(mut self, kind: impl Into<String>, detail: serde_json::Value) -> Self {
        self.events.push(Event { kind: kind.into(), detail });
        self
    }

    fn then(mut self, effect: Effect) -> Self {
        self.commands.push(effect);
        self
    }
}

/// Moves `d` to milestone `to`, with its event; `None` when the move is not allowed.
fn reach(d: &Delivery, to: DeliveryStatus, detail: serde_json::Value, now: i64) -> Option<Transition> {
    if !d.status.may_move_to(to) {
        return None;
    }
    let mut next = d.clone();
    next.status = to;
    next.updated_ms = now;
    next.milestones.push(Milestone { status: to, at_ms: now });
    if to != DeliveryStatus::Waiting {
        next.offered_to = None;
        next.offer_deadline_ms = None;
    }
    let mut t = Transition::new(next).event(format!("delivery.{}", to.as_str()), detail);
    // The order follows: out for delivery once picked up, completed once handed over.
    match to {
        DeliveryStatus::PickedUp => t = t.then(Effect::MoveOrder(OrderStatus::OutForDelivery)),
        DeliveryStatus::Delivered => t = t.then(Effect::MoveOrder(OrderStatus::Completed)),
        _ => {}
    }
    Some(t)
}

/// Whether two codes are equal, in time that does not depend on where they differ.
fn same_code(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The next state of `d` after `step` at `now` (Unix ms), or why the step is refused.
pub fn apply(d: &Delivery, step: Step, now: i64) -> Result<Transition, DeliveryError> {
    let job = d.job;
    let not_now = || DeliveryError::NotNow(d.id);
    match step {
        Step::Accept { driver, device } => {
            open_offer(d, &driver, now)?;
            let mut on = d.clone();
            on.driver_id = Some(driver);
            on.device_id = device.clone();
            let mut t = reach(&on, DeliveryStatus::Assigned, serde_json::json!({ "device_id": device }), now)
                .ok_or(DeliveryError::Changed(job))?;
            if let Some(device) = device {
                t = t.then(Effect::Tell(Recipient::Device(device), Command::Assigned { job }));
            }
            Ok(t)
        }
        Step::Decline { driver } => {
            open_offer(d, &driver, now)?;
            let mut next = d.clone();
            next.offered_to = None;
            next.offer_deadline_ms = None;
            next.passed.push(driver.clone());
            next.updated_ms = now;
            Ok(Transition::new(next)
                .event("delivery.declined", serde_json::json!({ "driver_id": driver }))
                .then(Effect::WakeDispatch))
        }
        Step::PickedUp { driver } => {
            if d.driver_id.as_deref() != Some(driver.as_str()) {
                return Err(DeliveryError::NotYours(job));
            }
            if !matches!(d.status, DeliveryStatus::Assigned | DeliveryStatus::AtPickup) {
                return Err(DeliveryError::Status { job, status: d.status });
            }
            reach(d, DeliveryStatus::PickedUp, serde_json::json!({}), now).ok_or(DeliveryError::Changed(job))
        }
        Step::Code { driver, device, given, expected, max_attempts } => {
            if d.driver_id.as_deref() != Some(driver.as_str()) {
                return Err(DeliveryError::NotYours(job));
            }
            if !matches!(d.status, DeliveryStatus::PickedUp | DeliveryStatus::NearDropoff) {
                return Err(DeliveryError::CodeBeforePickup { job, status: d.status });
            }
            if d.code_attempts >= max_attempts {
                return Err(DeliveryError::CodeLocked { job, max: max_attempts });
            }
            if now > d.code_expires_ms {
                return Err(DeliveryError::CodeExpired(job));
            }
            let given = given.trim();
            if given.is_empty() || given.len() > 16 || !given.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DeliveryError::NotDigits);
            }
            let tell = |ok: bool, attempts_left: u32| {
                device
                    .clone()
                    .map(|dev| Effect::Tell(Recipient::Device(dev), Command::CodeResult { job, ok, attempts_left }))
            };
            if same_code(given, &expected) {
                let mut t =
                    reach(d, DeliveryStatus::Delivered, serde_json::json!({ "by": driver, "device_id": device }), now)
                        .ok_or(DeliveryError::Changed(job))?;
                t.commands.extend(tell(true, 0));
                return Ok(t);
            }
            let mut next = d.clone();
            next.code_attempts += 1;
            next.updated_ms = now;
            let left = max_attempts - next.code_attempts;
            let mut t = Transition::new(next).event(
                "delivery.handover_failed",
                serde_json::json!({ "by": driver, "device_id": device, "attempts_left": left }),
            );
            t.commands.extend(tell(false, left));
            t.answer = Some(DeliveryError::WrongCode { job, left });
            Ok(t)
        }
        Step::Reached { to, zone, max_attempts } => {
            let mut t = reach(d, to, serde_json::json!({ "zone": zone }), now).ok_or_else(not_now)?;
            if to == DeliveryStatus::NearDropoff
                && let Some(device) = t.next.device_id.clone()
            {
                let attempts_left = max_attempts.saturating_sub(t.next.code_attempts);
                t = t.then(Effect::Tell(Recipient::Device(device), Command::Handover { job, attempts_left }));
            }
            Ok(t)
        }
        Step::Cancel { reason } => {
            // Whoever holds it hears: the driver on it, or the one it is offered to.
            let holder =
                d.device_id.clone().map(Recipient::Device).or_else(|| d.offered_to.clone().map(Recipient::DriverOf));
            let mut t = reach(d, DeliveryStatus::Cancelled, serde_json::json!({ "reason": reason }), now)
                .ok_or_else(not_now)?;
            if let Some(to) = holder {
                t = t.then(Effect::Tell(to, Command::Cancel { job, reason }));
            }
            Ok(t)
        }
        Step::Offer { driver, device, deadline_ms } => {
            if d.status != DeliveryStatus::Waiting || d.offered_to.is_some() {
                return Err(not_now());
            }
            let mut next = d.clone();
            next.offered_to = Some(driver.clone());
            next.offer_deadline_ms = Some(deadline_ms);
            next.updated_ms = now;
            let offer = Command::Offer {
                job,
                order_number: d.order_number,
                pickup: d.pickup.clone(),
                dropoff: d.dropoff.clone(),
                deadline_s: (deadline_ms / 1000) as u64,
            };
            Ok(Transition::new(next)
                .event("delivery.offered", serde_json::json!({ "driver_id": driver, "deadline_ms": deadline_ms }))
                .then(Effect::Tell(Recipient::Device(device), offer)))
        }
        Step::Lapse => {
            let Some(driver) = d.offered_to.clone().filter(|_| d.status == DeliveryStatus::Waiting) else {
                return Err(not_now());
            };
            let mut next = d.clone();
            next.offered_to = None;
            next.offer_deadline_ms = None;
            next.passed.push(driver.clone());
            next.updated_ms = now;
            Ok(Transition::new(next)
                .event("delivery.offer_expired", serde_json::json!({ "driver_id": driver }))
                .then(Effect::Tell(Recipient::DriverOf(driver), Command::Withdrawn { job })))
        }
        Step::NewRound => {
            if d.status != DeliveryStatus::Waiting || d.offered_to.is_some() {
                return Err(not_now());
            }
            let mut next = d.clone();
            next.passed.clear();
            next.round_started_ms = now;
            next.updated_ms = now;
            Ok(Transition::new(next))
        }
    }
}

/// Refuses unless `d` is on offer to `driver` and the offer is still open at `now`.
fn open_offer(d: &Delivery, driver: &str, now: i64) -> Result<(), DeliveryError> {
    let open = d.status == DeliveryStatus::Waiting
        && d.offered_to.as_deref() == Some(driver)
        && d.offer_deadline_ms.is_some_and(|t| t >= now);
    if open { Ok(()) } else { Err(DeliveryError::NotOffered(d.job)) }
}

/// The milestone a zone entry reaches, if any: the outlet's own pickup zone while assigned, the
/// drop-off zone once picked up.
pub fn milestone_of(d: &Delivery, crossing: &Crossing) -> Option<DeliveryStatus> {
    if !crossing.entered {
        return None;
    }
    match crossing.kind {
        ZoneKind::Pickup
            if crossing.zone == format!("pickup:{}", d.outlet_id) && d.status == DeliveryStatus::Assigned =>
        {
            Some(DeliveryStatus::AtPickup)
        }
        ZoneKind::Dropoff if d.status == DeliveryStatus::PickedUp => Some(DeliveryStatus::NearDropoff),
        _ => None,
    }
}

/// A new delivery for a ready delivery order, waiting for a driver (its job number is drawn when
/// it is stored); `None` for an order that is not a delivery to an address.
pub fn create(order: &Order, pickup: Place, now: i64, code_ttl_mins: u64) -> Option<Delivery> {
    let (Fulfilment::Delivery, Some(address)) = (order.fulfilment, order.delivery_address.as_ref()) else {
        return None;
    };
    Some(Delivery {
        id: DeliveryId::new(),
        job: 0,
        order_id: order.id,
        order_number: order.number,
        outlet_id: order.outlet_id,
        customer_id: order.customer_id.clone(),
        status: DeliveryStatus::Waiting,
        driver_id: None,
        device_id: None,
        pickup,
        dropoff: Place { name: format!("{}, {}", address.line1, address.city), position: address.position },
        offered_to: None,
        offer_deadline_ms: None,
        passed: vec![],
        round_started_ms: now,
        milestones: vec![Milestone { status: DeliveryStatus::Waiting, at_ms: now }],
        eta_pickup_s: None,
        eta_dropoff_s: None,
        code_expires_ms: now + code_ttl_mins as i64 * 60_000,
        code_attempts: 0,
        created_ms: now,
        updated_ms: now,
    })
}

#[cfg(test)]
fn place(lat: f64, lon: f64) -> Place {
    Place { name: "x".into(), position: patty_protocol::outlet::LatLon { lat, lon } }
}

/// A waiting delivery from Dam Square to Amsterdam Centraal, for tests.
#[cfg(test)]
pub(crate) fn sample() -> Delivery {
    Delivery {
        id: DeliveryId::new(),
        job: 7,
        order_id: OrderId::new(),
        order_number: 12,
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
        code_expires_ms: 10_000,
        code_attempts: 0,
        created_ms: 0,
        updated_ms: 0,
    }
}

#[cfg(test)]
mod tests;
