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
