//! Dispatch's pure decisions: which driver is offered a delivery ([`Dispatcher`]), and what a run
//! of order events asks of dispatch ([`decide`]).

use crate::delivery::Delivery;
use crate::fleet::distance_m;
use patty_protocol::ids::OrderId;
use patty_protocol::order::{Fulfilment, OrderStatus};
use serde_json::Value;

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

/// How far back a ready order still gets a delivery: older ones were dealt with by hand.
pub const LOOK_BACK_MS: i64 = 12 * 3600 * 1000;

/// The order an order event carries: `data.order` for a move (`order.ready`: `{order_id, from,
/// to, order}`), `data` itself for an order first recorded from an outlet (`order.recorded`).
pub fn order_in(payload: &Value) -> Option<&Value> {
    let data = payload.get("data")?;
    Some(data.get("order").unwrap_or(data))
}

/// What dispatch reads of one order event (none of it personal, so it is read sealed).
#[derive(Clone, Debug, PartialEq)]
pub struct OrderSeen {
    /// The order.
    pub order: OrderId,
    /// Its status after the event.
    pub status: OrderStatus,
    /// Whether a driver brings it.
    pub delivery: bool,
    /// When the event was written, Unix ms.
    pub at_ms: i64,
}

/// Reads an event of the orders topic; `None` for anything else.
pub fn seen(payload: &Value, at_ms: i64) -> Option<OrderSeen> {
    let order = order_in(payload)?;
    Some(OrderSeen {
        order: serde_json::from_value(order.get("id")?.clone()).ok()?,
        status: serde_json::from_value(order.get("status")?.clone()).ok()?,
        delivery: order.get("fulfilment").and_then(|f| serde_json::from_value::<Fulfilment>(f.clone()).ok())
            == Some(Fulfilment::Delivery),
        at_ms,
    })
}

/// What a run of events asks of dispatch.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Create the delivery of the order that the event at this index in the run carries.
    Create(usize),
    /// Cancel the order's delivery, if it has one.
    Cancel(OrderId),
}

/// The decisions for a run of order events (in log order, `None` where an event is not about an
/// order), at `now`: each order's latest event in the run decides, so an order that became ready
/// and was withdrawn within the run gets no delivery.
pub fn decide(run: &[Option<OrderSeen>], now: i64) -> Vec<Decision> {
    let mut out = vec![];
    for (i, s) in run.iter().enumerate() {
        let Some(s) = s else { continue };
        let later = run[i + 1..].iter().flatten().any(|l| l.order == s.order);
        if later {
            continue;
        }
        match s.status {
            OrderStatus::Ready if s.delivery && s.at_ms > now - LOOK_BACK_MS => out.push(Decision::Create(i)),
            OrderStatus::Cancelled | OrderStatus::Voided => out.push(Decision::Cancel(s.order)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
