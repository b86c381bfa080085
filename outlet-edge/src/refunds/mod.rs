//! Refunds at the till. Money taken at the till (cash, the card terminal) goes back at the till:
//! a negative `Refund` tender on the order, as [`crate::orders`] records it. Money taken online
//! (tenders of kind `online` or `wallet`) can only be given back by the payment provider, so a
//! refund of it is a *refund request*: kept in the outlet's store, queued while the cloud is out
//! of reach, sent to the cloud's refund API once the link is up (under the request's id as its
//! `Idempotency-Key`, so a resend after a lost answer never refunds twice), and followed until
//! it settles; a refund that succeeds becomes the same `Refund` tender on the order (so the day
//! report, the receipt and the order's sync count it), one that fails keeps the cloud's message.
//!
//! - `http.rs`: the refund endpoint (which way the money goes back) and the requests' list; no
//!   SQL; the only place a [`RefundError`] meets HTTP.
//! - [`rules`]: pure: whether an order was paid online, how much of it is left to refund and from
//!   which payment and destination, and what an answer of the cloud makes of a request.
//! - [`store`]: the `refund_requests` table and the writes that keep the rules' decisions.
//! - `cloud.rs`: the two calls to the cloud (the payment, a refund of it).
//! - `worker.rs`: the sender, one task while a cloud is configured.
//! - `error.rs`: [`RefundError`].
//!
//! May use: `infra`, [`crate::orders`] (loading an order, the refund at the till, recording a
//! settled refund) and [`crate::audit`]. No room uses `refunds`; `app` routes it and starts its
//! sender.

mod cloud;
mod error;
mod http;
pub mod rules;
pub mod store;
mod worker;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use error::RefundError;
pub use http::{NewRefund, PendingRefund, RequestQuery};
pub use rules::{Destination, RefundRequest, RequestState};
pub use worker::start;

/// The refund routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
