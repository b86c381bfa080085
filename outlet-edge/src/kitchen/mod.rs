//! The kitchen queue: the orders to prepare, live, with bump (done: the order is ready) and
//! recall (a bumped ticket comes back on screen; the order's status does not move backwards).
//!
//! - `http.rs`: the queue, the live stream, bump and recall handlers, no SQL; the only place a
//!   [`KitchenError`] meets HTTP.
//! - [`rules`]: pure: what a bump or a recall does to a ticket.
//! - [`store`]: the bump and recall writes, through the orders' own functions (the kitchen has no
//!   table of its own: a ticket is an order and its `recalled` flag).
//!
//! May use: `infra`, [`crate::orders`], [`crate::menu`]. No room uses `kitchen`.

mod http;
pub mod rules;
pub mod store;

use crate::infra::state::AppState;
use patty_protocol::order::Order;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

pub use rules::KitchenError;

/// A ticket on the kitchen screen.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ticket {
    /// The order.
    pub order: Order,
    /// Recalled after being bumped.
    pub recalled: bool,
}

/// The kitchen routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
