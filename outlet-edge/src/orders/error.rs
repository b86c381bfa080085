//! What can go wrong with an order, in the order's own terms; only `http` turns it into a status.

use crate::infra::error::Error;
use patty_protocol::ids::OrderId;
use patty_protocol::order::{OrderStatus, TransitionError};
use patty_protocol::pricing::PricingError;

/// An order refused, or the store under it failing.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No order with this id.
    #[error("no order {0}")]
    NotFound(OrderId),
    /// The state machine does not allow this move.
    #[error(transparent)]
    Move(#[from] TransitionError),
    /// Lines can only change before preparation starts.
    #[error("an order that is {} can no longer be edited", .0.as_str())]
    NotEditable(OrderStatus),
    /// Lines cannot change once something was paid.
    #[error("an order with payments cannot be edited; refund first")]
    EditPaid,
    /// A cashier's cancel of an order with payments.
    #[error("this order has payments: refund them first, or ask a manager to void it")]
    CancelPaid,
    /// Money on a cancelled or voided order.
    #[error("the order is {}", .0.as_str())]
    Withdrawn(OrderStatus),
    /// A tender on an order with nothing left to pay.
    #[error("the order is already paid")]
    AlreadyPaid,
    /// A discount on a closed or paid order.
    #[error("discounts go on open, unpaid orders")]
    NotDiscountable,
    /// A retry whose Idempotency-Key belongs to a different order.
    #[error("this Idempotency-Key was used for a different order")]
    KeyReused,
    /// An amount out of range (tender, refund, discount).
    #[error("{0}")]
    Invalid(String),
    /// Pricing refused the lines (unknown, sold out, out of window, not allowed).
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// The store, or another room, failed or refused.
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<rusqlite::Error> for OrderError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Other(e.into())
    }
}

impl From<serde_json::Error> for OrderError {
    fn from(e: serde_json::Error) -> Self {
        Self::Other(e.into())
    }
}
