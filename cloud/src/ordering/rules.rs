//! Ordering's pure decisions: whether a basket can be ordered (outlet open, address in the zone),
//! the order it makes (priced from the menu), who may see an order, and a status move (through
//! [`patty_protocol::order::transition`], the state machine). No SQL, no I/O.

use super::OrderError;
use crate::infra::access::{Principal, Role};
use chrono::{DateTime, Utc};
use geo::Contains;
use patty_protocol::ids::OrderId;
use patty_protocol::menu::Menu;
use patty_protocol::order::{Channel, DeliveryAddress, Fulfilment, NewLine, Order, OrderStatus, transition};
use patty_protocol::outlet::{Outlet, OutletStatus};
use patty_protocol::pricing::{PricingCtx, price};
use std::collections::HashMap;

/// Most lines an online order may have.
const MAX_LINES: usize = 50;
/// Most portions of one line.
const MAX_QUANTITY: u32 = 20;

/// What a customer asks for: a basket as the rules see it.
pub struct Ask<'a> {
    /// The customer.
    pub customer: &'a str,
    /// Delivery or takeaway.
    pub fulfilment: Fulfilment,
    /// The lines.
    pub lines: &'a [NewLine],
    /// Note for the outlet.
    pub notes: &'a str,
}

/// Refuses what no online order may be: eaten in, or with a note over 500 characters.
pub fn check_ask(ask: &Ask) -> Result<(), OrderError> {
    if ask.fulfilment == Fulfilment::DineIn {
        return Err(OrderError::Invalid("online orders are delivered or collected"));
    }
    if ask.notes.chars().count() > 500 {
        return Err(OrderError::Invalid("notes are at most 500 characters"));
    }
    Ok(())
}

/// Refuses unless `outlet` takes orders at `now`.
pub fn check_open(outlet: &Outlet, now: DateTime<Utc>) -> Result<(), OrderError> {
    if outlet.status != OutletStatus::Active || !outlet.is_open_at(now) {
        return Err(OrderError::Closed(outlet.name.clone()));
    }
    Ok(())
}

/// The saved address an order needs: for a delivery, the one given (else refused); for a
/// collection, none (and giving one is refused).
pub fn address_needed(fulfilment: Fulfilment, address_id: Option<&str>) -> Result<Option<&str>, OrderError> {
    match (fulfilment, address_id) {
        (Fulfilment::Delivery, None) => Err(OrderError::Invalid("a delivery needs an address_id")),
        (Fulfilment::Delivery, Some(id)) => Ok(Some(id)),
        (_, Some(_)) => Err(OrderError::Invalid("an address is only for delivery")),
        (_, None) => Ok(None),
    }
}

/// Refuses an address outside `outlet`'s delivery zone.
pub fn check_zone(outlet: &Outlet, address: &DeliveryAddress) -> Result<(), OrderError> {
    let zone = geo::Polygon::new(
        geo::LineString::from(outlet.delivery_zone.iter().map(|[x, y]| (*x, *y)).collect::<Vec<_>>()),
        vec![],
    );
    if !zone.contains(&geo::Point::new(address.position.lon, address.position.lat)) {
        return Err(OrderError::OutsideZone { outlet: outlet.name.clone(), line1: address.line1.clone() });
    }
    Ok(())
}

/// The order `ask` makes at `outlet` from catalog `version`'s `menu` at `now`: priced, taxed, with
/// the delivery fee (not stored). Customers cannot set prices.
pub fn order_from(
    ask: &Ask,
    outlet: &Outlet,
    version: i64,
    menu: &Menu,
    delivery_address: Option<DeliveryAddress>,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    let states = HashMap::new();
    let cx = PricingCtx {
        menu,
        states: &states,
        by: Default::default(),
        manager: false,
        now,
        zone: outlet.timezone,
        max_lines: MAX_LINES,
        max_quantity: MAX_QUANTITY,
    };
    if ask.lines.iter().any(|l| l.price_override.is_some()) {
        return Err(OrderError::CustomerPrice);
    }
    let priced = price(&cx, ask.lines)?;
    let mut order = Order {
        id: OrderId::new(),
        outlet_id: outlet.id,
        number: 0,
        channel: Channel::Online,
        fulfilment: ask.fulfilment,
        status: OrderStatus::Placed,
        lines: priced.lines,
        notes: ask.notes.trim().to_owned(),
        currency: menu.currency,
        subtotal: 0,
        discounts: vec![],
        delivery_fee: if ask.fulfilment == Fulfilment::Delivery { outlet.delivery_fee } else { 0 },
        tax: 0,
        total: 0,
        tenders: vec![],
        paid: 0,
        staff_id: None,
        created_ms: now.timestamp_millis(),
        updated_ms: now.timestamp_millis(),
        closed_reason: None,
        closed_by: None,
        customer_id: Some(ask.customer.to_owned()),
        delivery_address,
        catalog_version: Some(version as u64),
    };
    order.recompute_totals(outlet.tax_rate_bp, outlet.prices_include_tax);
    Ok(order)
}

/// Refuses unless `who` may see `order`: its customer, its outlet's staff, or HQ.
pub fn may_see(who: &Principal, order: &Order) -> Result<(), OrderError> {
    let mine = who.role == Role::Customer && order.customer_id.as_deref() == Some(who.subject.as_str());
    let outlet = matches!(who.role, Role::OutletStaff | Role::OutletManager | Role::Edge)
        && who.outlet_id == Some(order.outlet_id);
    if mine || outlet || who.role == Role::HqAdmin {
        Ok(())
    } else {
        // Not 403: whether someone else's order exists is not the caller's business.
        Err(OrderError::NotFound(order.id))
    }
}

/// `order` moved to `to` at `now_ms` (a cancel or void keeps `reason`), if the state machine
/// allows it from where it is.
pub fn moved(order: &Order, to: OrderStatus, reason: Option<String>, now_ms: i64) -> Result<Order, OrderError> {
    transition(order.status, to, order.fulfilment).map_err(|e| OrderError::Transition(e.to_string()))?;
    let mut next = order.clone();
    next.status = to;
    next.updated_ms = now_ms;
    if matches!(to, OrderStatus::Cancelled | OrderStatus::Voided) {
        next.closed_reason = reason;
    }
    Ok(next)
}

/// Refuses a customer's cancel of an order that is not theirs (as if it did not exist) or that
/// the outlet has accepted.
pub fn check_customer_cancel(customer: &str, order: &Order) -> Result<(), OrderError> {
    if order.customer_id.as_deref() != Some(customer) {
        return Err(OrderError::NotFound(order.id));
    }
    if !matches!(order.status, OrderStatus::Placed | OrderStatus::PaymentPending) {
        return Err(OrderError::AlreadyAccepted);
    }
    Ok(())
}

/// Refuses an outlet's move without a reason for a cancel or void, or a void by plain staff.
pub fn check_outlet_move(role: Role, to: OrderStatus, reason: Option<&str>) -> Result<(), OrderError> {
    if matches!(to, OrderStatus::Cancelled | OrderStatus::Voided) && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(OrderError::Invalid("a cancel or void needs a reason"));
    }
    if to == OrderStatus::Voided && role == Role::OutletStaff {
        return Err(OrderError::OnlyManagerVoids);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_needs_an_address_and_only_a_delivery_has_one() {
        assert_eq!(address_needed(Fulfilment::Delivery, Some("a")).unwrap(), Some("a"));
        assert_eq!(address_needed(Fulfilment::Takeaway, None).unwrap(), None);
        assert!(matches!(address_needed(Fulfilment::Delivery, None), Err(OrderError::Invalid(_))));
        assert!(matches!(address_needed(Fulfilment::Takeaway, Some("a")), Err(OrderError::Invalid(_))));
    }

    #[test]
    fn online_orders_are_not_eaten_in_and_notes_are_short() {
        let ask = |fulfilment, notes| Ask { customer: "c", fulfilment, lines: &[], notes };
        assert!(check_ask(&ask(Fulfilment::Takeaway, "no onions")).is_ok());
        assert!(matches!(check_ask(&ask(Fulfilment::DineIn, "")), Err(OrderError::Invalid(_))));
        let long = "x".repeat(501);
        assert!(matches!(check_ask(&ask(Fulfilment::Delivery, &long)), Err(OrderError::Invalid(_))));
    }

    #[test]
    fn a_cancel_or_void_needs_a_reason_and_only_managers_void() {
        assert!(check_outlet_move(Role::OutletStaff, OrderStatus::Accepted, None).is_ok());
        assert!(matches!(
            check_outlet_move(Role::OutletManager, OrderStatus::Cancelled, Some(" ")),
            Err(OrderError::Invalid(_))
        ));
        assert!(matches!(
            check_outlet_move(Role::OutletStaff, OrderStatus::Voided, Some("spilt")),
            Err(OrderError::OnlyManagerVoids)
        ));
        assert!(check_outlet_move(Role::OutletManager, OrderStatus::Voided, Some("spilt")).is_ok());
    }
}
