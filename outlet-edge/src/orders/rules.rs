//! The order's rules, pure: each takes an order as it is and what someone wants done, and says
//! what the order becomes (or why not). No store, no SQL, no clock, no randomness: the caller
//! passes the time and new ids. The store runs them inside a write and keeps what they decide.

use super::error::OrderError;
use patty_protocol::ids::{StaffId, TenderId};
use patty_protocol::money::apply_basis_points;
use patty_protocol::order::{
    Discount, NewLine, NewLineModifier, Order, OrderStatus, StockEffect, Tender, TenderKind, stock_effect, transition,
};
use patty_protocol::pricing::{PricingCtx, price};
use serde::Deserialize;

/// Who moves an order out of `placed`, which decides what its stock may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taking {
    /// Staff at the outlet: stock that cannot cover the order refuses the move (409 `unavailable`).
    Checked,
    /// The cloud reports the order further along (out for delivery, completed): the food was made,
    /// so its stock is taken even if that leaves a level below zero, which the stock screen shows.
    Reported,
}

/// A status move: where to, by whom (none: the cloud reported it), why (a cancel or void), and
/// whether stock was checked when it was taken on.
pub struct StatusChange {
    /// The new status.
    pub to: OrderStatus,
    /// The staff member who made it.
    pub by: Option<StaffId>,
    /// Why, for a cancel or void.
    pub reason: Option<String>,
    /// How stock is taken.
    pub taking: Taking,
}

impl StatusChange {
    /// A move made by `by` at this outlet, stock checked.
    pub fn by_staff(to: OrderStatus, by: StaffId, reason: Option<String>) -> Self {
        Self { to, by: Some(by), reason, taking: Taking::Checked }
    }

    /// A move the cloud reported, stock taken as it is.
    pub fn reported(to: OrderStatus, reason: Option<String>) -> Self {
        Self { to, by: None, reason, taking: Taking::Reported }
    }
}

/// Refuses a move the state machine does not allow.
pub fn check_move(order: &Order, to: OrderStatus) -> Result<(), OrderError> {
    transition(order.status, to, order.fulfilment)?;
    Ok(())
}

/// Sets the order's status (and, for a cancel or void, who and why) with no state-machine check;
/// what the move does to its stock, as [`stock_effect`] says.
pub fn set_status(order: &mut Order, m: &StatusChange) -> StockEffect {
    let effect = stock_effect(order.status, m.to);
    order.status = m.to;
    if matches!(m.to, OrderStatus::Cancelled | OrderStatus::Voided) {
        order.closed_reason = m.reason.clone();
        order.closed_by = m.by;
    }
    effect
}

/// Refuses to edit an order's lines once preparation started or something was paid.
pub fn check_editable(order: &Order) -> Result<(), OrderError> {
    if !order.status.is_editable() {
        return Err(OrderError::NotEditable(order.status));
    }
    if !order.tenders.is_empty() {
        return Err(OrderError::EditPaid);
    }
    Ok(())
}

/// Refuses a cashier's cancel of an order with payments.
pub fn check_cancellable(order: &Order) -> Result<(), OrderError> {
    if order.paid != 0 {
        return Err(OrderError::CancelPaid);
    }
    Ok(())
}

/// Refuses to take an online order on (any move out of `placed` by staff) when one of its items
/// cannot be sold now: sold out here, out of stock, or outside its window; the same check as
/// when it was priced.
pub fn check_can_take_on(cx: &PricingCtx<'_>, order: &Order) -> Result<(), OrderError> {
    if order.status != OrderStatus::Placed {
        return Ok(());
    }
    let lines: Vec<NewLine> = order
        .lines
        .iter()
        .map(|l| NewLine {
            item_id: l.item_id,
            variant_id: l.variant_id,
            quantity: l.quantity,
            modifiers: l
                .modifiers
                .iter()
                .map(|m| NewLineModifier { modifier_id: m.modifier_id, quantity: m.quantity })
                .collect(),
            notes: l.notes.clone(),
            price_override: None,
        })
        .collect();
    price(cx, &lines)?;
    Ok(())
}

/// A payment to apply.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewTender {
    /// Cash handed over; change is computed.
    Cash {
        /// Cash handed over, minor units.
        tendered: i64,
    },
    /// A card payment the external terminal approved.
    Card {
        /// Amount approved, minor units (at most the balance).
        amount: i64,
        /// The terminal's reference.
        reference: String,
        /// Card brand, if reported.
        #[serde(default)]
        brand: Option<String>,
        /// Last four digits, if reported.
        #[serde(default)]
        last4: Option<String>,
    },
}

/// The tender `id` that `req` makes on `order`, taken by `by` at `at_ms`: cash up to the balance
/// with change due, or a card payment of at most the balance.
pub fn tender(order: &Order, req: NewTender, id: TenderId, by: StaffId, at_ms: i64) -> Result<Tender, OrderError> {
    if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Voided) {
        return Err(OrderError::Withdrawn(order.status));
    }
    let due = order.balance_due();
    if due <= 0 {
        return Err(OrderError::AlreadyPaid);
    }
    let (amount, kind) = match req {
        NewTender::Cash { tendered } if (1..=100_000_000).contains(&tendered) => {
            let amount = tendered.min(due);
            (amount, TenderKind::Cash { tendered, change: tendered - amount })
        }
        NewTender::Cash { .. } => {
            return Err(OrderError::Invalid("cash tendered must be positive".into()));
        }
        NewTender::Card { amount, .. } if amount <= 0 || amount > due => {
            return Err(OrderError::Invalid(format!("a card amount must be 1 to the balance due ({due})")));
        }
        NewTender::Card { reference, .. } if reference.trim().is_empty() || reference.len() > 100 => {
            return Err(OrderError::Invalid(
                "a card payment needs the terminal's reference (1 to 100 characters)".into(),
            ));
        }
        NewTender::Card { last4: Some(l), .. } if l.len() != 4 || !l.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(OrderError::Invalid("last4 is four digits".into()));
        }
        NewTender::Card { amount, reference, brand, last4 } => {
            (amount, TenderKind::Card { reference: reference.trim().to_owned(), brand, last4 })
        }
    };
    Ok(Tender { id, amount, kind, staff_id: Some(by), at_ms })
}

/// A manager's reason (a cancel, void, refund or discount) trimmed, 1 to 200 characters.
pub fn check_reason(r: &str) -> Result<String, OrderError> {
    let r = r.trim();
    if r.is_empty() || r.chars().count() > 200 {
        return Err(OrderError::Invalid("a reason of 1 to 200 characters is required".into()));
    }
    Ok(r.to_owned())
}

/// The refund `id` of `amount` (at most what was paid) for `why`, given by `by` at `at_ms`.
pub fn refund(
    order: &Order,
    amount: i64,
    why: &str,
    id: TenderId,
    by: StaffId,
    at_ms: i64,
) -> Result<Tender, OrderError> {
    if amount <= 0 || amount > order.paid {
        return Err(OrderError::Invalid(format!("a refund must be 1 to what was paid ({})", order.paid)));
    }
    Ok(Tender { id, amount: -amount, kind: TenderKind::Refund { reason: why.to_owned() }, staff_id: Some(by), at_ms })
}

/// The discount granted by `by` for `why`: a fixed `amount` or `percent_bp` of the subtotal, on an
/// open, unpaid order, at most what is left of the subtotal.
pub fn discount(
    order: &Order,
    amount: Option<i64>,
    percent_bp: Option<u32>,
    why: &str,
    by: StaffId,
) -> Result<Discount, OrderError> {
    if order.status.is_final() || order.paid != 0 {
        return Err(OrderError::NotDiscountable);
    }
    let already: i64 = order.discounts.iter().map(|d| d.amount).sum();
    let room = order.subtotal - already;
    let amount = match (amount, percent_bp) {
        (Some(a), None) => a,
        (None, Some(bp)) if bp <= 10_000 => apply_basis_points(order.subtotal, bp),
        _ => {
            return Err(OrderError::Invalid("give either amount or percent_bp (at most 10000)".into()));
        }
    };
    if amount <= 0 || amount > room {
        return Err(OrderError::Invalid(format!("a discount must be 1 to what is left of the subtotal ({room})")));
    }
    Ok(Discount { amount, reason: why.to_owned(), by })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, total: i64, paid: i64) -> Order {
        serde_json::from_value(serde_json::json!({
            "id": patty_protocol::ids::OrderId::new(), "outlet_id": patty_protocol::ids::OutletId::new(),
            "number": 1, "channel": "counter", "fulfilment": "takeaway", "status": status,
            "lines": [], "notes": "", "currency": "EUR", "subtotal": total, "discounts": [], "tax": 0,
            "total": total, "tenders": [], "paid": paid, "staff_id": null, "created_ms": 0,
            "updated_ms": 0, "closed_reason": null, "closed_by": null
        }))
        .unwrap()
    }

    #[test]
    fn cash_pays_up_to_the_balance_and_gives_change() {
        let t =
            tender(&order("accepted", 1000, 0), NewTender::Cash { tendered: 2000 }, TenderId::new(), StaffId::new(), 5)
                .unwrap();
        assert_eq!(t.amount, 1000);
        assert!(matches!(t.kind, TenderKind::Cash { tendered: 2000, change: 1000 }));
        let paid = order("accepted", 1000, 1000);
        assert!(matches!(
            tender(&paid, NewTender::Cash { tendered: 1 }, TenderId::new(), StaffId::new(), 5),
            Err(OrderError::AlreadyPaid)
        ));
    }

    #[test]
    fn refunds_and_discounts_stay_within_what_there_is() {
        let o = order("completed", 1000, 1000);
        assert!(refund(&o, 1001, "x", TenderId::new(), StaffId::new(), 0).is_err());
        assert_eq!(refund(&o, 400, "x", TenderId::new(), StaffId::new(), 0).unwrap().amount, -400);
        assert!(matches!(discount(&o, Some(1), None, "x", StaffId::new()), Err(OrderError::NotDiscountable)));
        let open = order("accepted", 1000, 0);
        assert_eq!(discount(&open, None, Some(1000), "x", StaffId::new()).unwrap().amount, 100);
        assert!(discount(&open, Some(1001), None, "x", StaffId::new()).is_err());
    }

    #[test]
    fn a_cancel_records_who_and_why_and_gives_stock_back() {
        let mut o = order("accepted", 1000, 0);
        let by = StaffId::new();
        check_move(&o, OrderStatus::Cancelled).unwrap();
        let effect = set_status(&mut o, &StatusChange::by_staff(OrderStatus::Cancelled, by, Some("wrong".into())));
        assert_eq!(effect, StockEffect::GiveBack);
        assert_eq!((o.closed_by, o.closed_reason.as_deref()), (Some(by), Some("wrong")));
        assert!(check_move(&o, OrderStatus::Accepted).is_err());
    }
}
