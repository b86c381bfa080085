//! Orders: taking them (idempotently, priced by the edge, stock decremented in the same
//! transaction), editing before preparation, status moves along the state machine, cancel and
//! void, tenders and refunds, discounts, search and receipts.
//!
//! - `http.rs`: handlers and request types, no SQL; the only place an [`OrderError`] meets HTTP.
//! - [`store`]: the orders' SQL and the writes that run the rules and keep their result.
//! - [`rules`]: pure: status moves, tenders, refunds and discounts decided from the order alone.
//! - [`receipt`]: the 40-column receipt text.
//! - `error.rs`: [`OrderError`].
//!
//! May use: `infra`, [`crate::menu`] (pricing, live item states), [`crate::inventory`] (stock
//! moves), [`crate::audit`]. Used by `kitchen`, `reports`, `refunds` and `sync` through the
//! functions re-exported here; the refund endpoint itself is `refunds`' (it decides whether the
//! money goes back at the till, through [`store::refund`], or through the cloud). `store` and `rules` never use `http`; `rules` uses no store.

mod error;
mod http;
pub mod receipt;
pub mod rules;
pub mod store;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use error::OrderError;
pub use http::{EditLines, NewDiscount, OrderQuery, StatusMove, Withdraw};
pub use receipt::{Receipt, receipt_text};
pub use rules::{NewTender, StatusChange, Taking, check_can_take_on, check_reason};
pub(crate) use store::pricing_ctx;
pub use store::{
    apply_status, erase_personal, insert_online, load, move_status, next_number, open_orders, recompute_totals,
    record_refund, save,
};

/// The order routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
