//! What a bump or a recall does to a ticket, decided from the order alone: pure.

use patty_protocol::order::{Order, OrderStatus};

/// Why the kitchen refused.
#[derive(Debug, thiserror::Error)]
pub enum KitchenError {
    /// A bump of an order that is not on the kitchen screen.
    #[error("the order is {}, not on the kitchen screen", .0.as_str())]
    NotOnScreen(OrderStatus),
    /// A recall of a ticket that was not bumped.
    #[error("only a bumped ticket can be recalled")]
    NotBumped,
}

/// What a bump does.
#[derive(Debug, PartialEq, Eq)]
pub enum Bump {
    /// A recalled ticket leaves the screen again; the order's status stays.
    Dismiss,
    /// The order becomes ready (from `placed`, this takes it on, and its stock, as accepting does).
    Ready,
}

/// What bumping `order` (recalled or not) does.
pub fn bump(order: &Order, recalled: bool) -> Result<Bump, KitchenError> {
    if recalled {
        Ok(Bump::Dismiss)
    } else if order.status.in_kitchen() {
        Ok(Bump::Ready)
    } else {
        Err(KitchenError::NotOnScreen(order.status))
    }
}

/// Refuses to recall a ticket that is on screen, or an order the kitchen never finished.
pub fn check_recall(order: &Order, recalled: bool) -> Result<(), KitchenError> {
    if recalled || !matches!(order.status, OrderStatus::Ready | OrderStatus::OutForDelivery | OrderStatus::Completed) {
        return Err(KitchenError::NotBumped);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str) -> Order {
        serde_json::from_value(serde_json::json!({
            "id": patty_protocol::ids::OrderId::new(), "outlet_id": patty_protocol::ids::OutletId::new(),
            "number": 1, "channel": "counter", "fulfilment": "takeaway", "status": status,
            "lines": [], "notes": "", "currency": "EUR", "subtotal": 0, "discounts": [], "tax": 0,
            "total": 0, "tenders": [], "paid": 0, "staff_id": null, "created_ms": 0,
            "updated_ms": 0, "closed_reason": null, "closed_by": null
        }))
        .unwrap()
    }

    #[test]
    fn a_bump_readies_a_kitchen_order_and_dismisses_a_recalled_one() {
        assert_eq!(bump(&order("preparing"), false).unwrap(), Bump::Ready);
        assert_eq!(bump(&order("ready"), true).unwrap(), Bump::Dismiss);
        assert!(matches!(bump(&order("completed"), false), Err(KitchenError::NotOnScreen(OrderStatus::Completed))));
    }

    #[test]
    fn only_a_bumped_ticket_comes_back() {
        assert!(check_recall(&order("ready"), false).is_ok());
        assert!(check_recall(&order("ready"), true).is_err());
        assert!(check_recall(&order("preparing"), false).is_err());
    }
}
