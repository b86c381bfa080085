//! The change log over HTTP: what sync ships to the cloud, readable by a manager for inspection.
//! The writer appends to the log (`infra::store`); this room reads it, and rewrites an erased
//! customer's orders in it.
//!
//! - `http.rs`: the list handler, no SQL.
//! - [`store`]: reading the log (after a sequence number, its last sequence), and blanking erased
//!   orders in it.
//!
//! May use: `infra` only. Used by `sync`.

mod http;
pub mod store;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use http::ChangesQuery;
pub use store::{erase_order_in_log, last_seq, read_after};

/// The change-log route.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
