//! What a refund at the till can be refused for, in the room's own terms; only `http` turns it
//! into a status.

use crate::infra::error::Error;
use crate::orders::OrderError;

/// A refund refused, or the store under it failing.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// An amount out of range.
    #[error("{0}")]
    Invalid(String),
    /// An online order the outlet has not taken on: nothing was captured yet, so its payment is
    /// released by withdrawing the order, not refunded.
    #[error("this online order is not taken on yet: void it to release its payment")]
    NotTakenOn,
    /// The order refused (not found, a local refund out of range…).
    #[error(transparent)]
    Order(#[from] OrderError),
    /// The store failed.
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<rusqlite::Error> for RefundError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Other(e.into())
    }
}
