//! The menu: the local copy, live availability (sold out here, out of stock, out of its window),
//! and pricing. Every price on an order is computed here from the menu; a terminal only names
//! items, variants and modifiers (a manager may override a unit price, which is recorded).
//!
//! - `http.rs`: the menu and sold-out handlers, no SQL.
//! - [`store`]: the stored menu, live item states, stock availability.
//! - Pricing itself is pure and lives in `patty_protocol::pricing`, re-exported here.
//!
//! May use: `infra` only. Used by `orders` (pricing), `inventory` (what a level can make),
//! `kitchen`, `sync` (a new catalog) and `app` (loading and seeding the menu).

mod http;
pub mod store;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use http::{MenuItemView, MenuView, SoldOut};
pub use patty_protocol::pricing::{ItemState, Priced, PricingCtx, PricingError, price};
pub use store::{item_states, load_menu, portion_need, refresh_stock_availability, store_menu};

/// The menu routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
