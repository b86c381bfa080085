//! The end-of-day report: sales by item, by hour, by tender; voids, cancellations, discounts and
//! refunds. Days are the outlet's local days.
//!
//! - `http.rs`: the handler, no SQL.
//! - [`day`]: pure: the report built from a day's orders.
//!
//! May use: `infra`, [`crate::orders`] (the day's orders). No room uses `reports`.

pub mod day;
mod http;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use day::{DayReport, HourSales, ItemSales, Tally, build};
pub use http::DayQuery;

/// The report routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
