//! Checkout: where an order and its payment meet. Placing an online order makes its payment
//! ([`flow::place`]); what the provider says (an API answer, a signed webhook, the reconciler's
//! question) moves the payment and, with it in one transaction, the order: authorised sends it
//! to its outlet, declined cancels it. The worker follows the order events (taken on: capture;
//! withdrawn: release or refund), makes the provider calls owed, and settles what was left
//! pending.
//!
//! # Layout
//! - [`flow`]: placing with a payment, a provider's report applied to payment and order.
//! - [`http`]: the providers' webhooks, an order's payment for the customer's client.
//! - [`worker`]: order events, owed calls, the reconciler.
//!
//! May use `infra`, `events`, `ordering` (its store) and `payments`.

pub mod flow;
pub mod http;
pub mod worker;

use crate::ordering::Payer;
use crate::ordering::http::PayWith;
use crate::payments::PaymentsState;
use futures::future::{BoxFuture, FutureExt};
use patty_protocol::order::Order;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Ordering's [`Payer`]: checkout's placing.
pub struct Checkout(pub PaymentsState);

impl Payer for Checkout {
    fn place<'a>(
        &'a self,
        order: Order,
        customer: &'a str,
        key: &'a str,
        hash: &'a str,
        with: &'a PayWith,
    ) -> BoxFuture<'a, crate::infra::error::Result<Option<Order>>> {
        flow::place(&self.0, order, customer, key, hash, with).boxed()
    }
}

/// The checkout routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    PaymentsState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::webhook))
        .routes(routes!(http::order_payment))
        .routes(routes!(http::razorpay_confirm))
}
