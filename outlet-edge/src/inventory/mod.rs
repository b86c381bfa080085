//! Inventory: stock per ingredient as the sum of its movements; receive, waste and count; the
//! sale movements orders make; low-stock alerts; and items that stock can no longer make.
//!
//! - `http.rs`: the handlers and request types, no SQL; the only place an [`InventoryError`] meets
//!   HTTP.
//! - [`store`]: ingredients, levels, movements and alerts, and the writes that book them.
//! - `error.rs`: [`InventoryError`].
//!
//! May use: `infra`, [`crate::menu`] (which items a level can make), [`crate::audit`]. Used by
//! `orders` (sale movements), `sync` (thresholds, catalog ingredients) and `app` (the seed).

mod error;
mod http;
pub mod store;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use error::InventoryError;
pub use http::{IngredientPatch, MovementQuery, StockChange, StockChangeOut, StockCount};
pub use store::{Move, apply, check_alert, level, open_alerts, set_reorder_level, upsert_ingredient};

/// The inventory routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
