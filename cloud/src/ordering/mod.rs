//! Customer ordering: browse an outlet's published menu with live availability, quote a basket,
//! place an order with an idempotency key, order history, cancel before the outlet accepts, and a
//! live status stream of one's own order. Outlet staff accept and advance their outlet's orders.
//!
//! # Layout
//! - [`http`]: the handlers and their request and response types (no SQL).
//! - [`rules`]: pure decisions: a basket checked and priced into an order, who may see an order,
//!   a status move through the order state machine.
//! - [`store`]: all of ordering's SQL, and `move_order`, the shell that runs a move's
//!   transaction.
//!
//! May use `infra`, `events`, `catalog` (the published menu), `outlets` (status, hours, zone),
//! `customers` (saved addresses) and `identity` (the activity log).

pub mod http;
pub mod rules;
pub mod store;

pub(crate) use store::move_order;
pub use store::{erase_customer, of_customer};

use crate::infra::state::Shared;
use patty_protocol::ids::OrderId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the ordering handlers use.
#[derive(Clone)]
pub struct OrderingState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The latest published catalog (prices).
    pub catalog: crate::catalog::Latest,
    /// Outlets as last read (status, hours).
    pub outlets: crate::outlets::Recent,
    /// Takes the payment of a new online order.
    pub payer: std::sync::Arc<dyn Payer>,
}

/// Takes the payment of a new online order and stores the order with it (implemented by
/// `checkout`, handed in by `app`, so ordering needs no payments of its own).
pub trait Payer: Send + Sync {
    /// Pays for and stores `order` (placed by `customer` under idempotency `key` and basket
    /// `hash`) as `with` says; `None` if the key was used already (the caller replays).
    fn place<'a>(
        &'a self,
        order: patty_protocol::order::Order,
        customer: &'a str,
        key: &'a str,
        hash: &'a str,
        with: &'a http::PayWith,
    ) -> futures::future::BoxFuture<'a, crate::infra::error::Result<Option<patty_protocol::order::Order>>>;
}
crate::shared_state!(OrderingState);

/// What can go wrong in ordering; [`http`] maps each to its status (404, 409, 403, 422).
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No such order (or not the caller's to see).
    #[error("no order {0}")]
    NotFound(OrderId),
    /// No such order at the outlet named.
    #[error("no order {0} at this outlet")]
    NotAtOutlet(OrderId),
    /// The order moved between reading and writing it.
    #[error("the order changed meanwhile; reload it")]
    Changed,
    /// The state machine does not allow the move.
    #[error("{0}")]
    Transition(String),
    /// A customer's cancel after the outlet accepted.
    #[error("the outlet has accepted this order; it can no longer be cancelled online")]
    AlreadyAccepted,
    /// Erasure while some orders are still open.
    #[error("{0} of your orders are still open; erasure is possible once they are delivered or cancelled")]
    StillOpen(i64),
    /// An idempotency key reused for another basket.
    #[error("this Idempotency-Key was used for a different order")]
    KeyReused,
    /// Placing without a usable `Idempotency-Key`.
    #[error("an Idempotency-Key header of 1 to 128 visible ASCII characters is required")]
    NoIdempotencyKey,
    /// No catalog version has been published.
    #[error("no menu has been published yet")]
    NoMenu,
    /// The outlet (named) is not taking orders now.
    #[error("{0} is not taking orders now")]
    Closed(String),
    /// The address is outside the outlet's delivery zone.
    #[error("{outlet} does not deliver to {line1}")]
    OutsideZone {
        /// The outlet's name.
        outlet: String,
        /// The address's first line.
        line1: String,
    },
    /// A customer's line with a price of its own.
    #[error("customers cannot set prices")]
    CustomerPrice,
    /// A void by outlet staff.
    #[error("only a manager may void")]
    OnlyManagerVoids,
    /// A value breaks a rule (fulfilment, notes, address, reason, search).
    #[error("{0}")]
    Invalid(&'static str),
    /// The lines could not be priced.
    #[error(transparent)]
    Pricing(#[from] patty_protocol::pricing::PricingError),
    /// The database, a stored document, or anything else.
    #[error(transparent)]
    Other(#[from] crate::infra::error::Error),
}

/// The ordering routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    OrderingState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::outlet_menu))
        .routes(routes!(http::quote))
        .routes(routes!(http::place, http::history))
        .routes(routes!(http::get_one))
        .routes(routes!(http::cancel))
        .routes(routes!(http::stream))
        .routes(routes!(http::outlet_move))
        .routes(routes!(http::outlet_orders))
}
