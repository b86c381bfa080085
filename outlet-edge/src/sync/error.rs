//! What sync refuses at a manager's or cashier's request, in its own terms; only `http` turns it
//! into a status. (The background tasks never answer a request: they log and retry.)

use crate::infra::error::Error;
use patty_protocol::ids::ConflictId;

/// A conflict or counter-delivery request refused, or the store under it failing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No open conflict with this id.
    #[error("no open conflict {0}")]
    NoOpenConflict(ConflictId),
    /// A delivery code asked of an order that is not a delivery (its number).
    #[error("order {0} is not a delivery")]
    NotDelivery(u32),
    /// An online order's code belongs to its customer.
    #[error("an online order's code is for its customer alone")]
    CustomersCode,
    /// No cloud is configured, and only the cloud dispatches deliveries.
    #[error("this outlet has no cloud link: deliveries are dispatched by the cloud")]
    NoCloud,
    /// The cloud could not be asked (why).
    #[error("the cloud is out of reach ({0}); try again once the link is back")]
    Offline(String),
    /// The cloud has no delivery for the order yet (its number).
    #[error("order {0} has no delivery yet: the cloud dispatches it once the order is ready and synced")]
    NoDeliveryYet(u32),
    /// The cloud refused to give the outlet this code.
    #[error("the cloud keeps this order's code from the outlet")]
    CloudKeepsCode,
    /// The store, or another room, failed.
    #[error(transparent)]
    Other(#[from] Error),
}
