//! The audit trail of manager-only actions: voids, refunds, stock corrections, price overrides,
//! discounts and staff changes. Each entry is also a change-log entry, so HQ sees them.
//!
//! - `http.rs`: the list handler, no SQL.
//! - [`store`]: recording an entry in the caller's write, and reading the trail.
//!
//! May use: `infra` only. Used by every room that does something a manager must answer for.

mod http;
pub mod store;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use http::AuditQuery;
pub use store::{AuditEntry, NOBODY, record};

/// The audit route.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
