//! An outlet's sales figures for one of its local days: orders, sales and tax, by item and by
//! local hour, summed by the database from the stored orders of every channel (cancelled and
//! voided orders left out), so a busy day counts whole.
//!
//! # Layout
//! - [`http`]: the handler (no SQL).
//! - [`store`]: the figures in SQL ([`store::day_figures`]).

pub mod http;
pub mod store;

use patty_protocol::ids::OutletId;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// One item's sales.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug, PartialEq)]
pub struct ItemSales {
    /// Item name.
    pub name: String,
    /// Portions sold.
    pub quantity: i64,
    /// Sales, minor units (before order discounts).
    pub gross: i64,
}

/// One local hour's sales.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug, PartialEq)]
pub struct HourSales {
    /// Local hour, 0 to 23.
    pub hour: u32,
    /// Orders taken.
    pub orders: i64,
    /// Sales, minor units.
    pub total: i64,
}

/// An outlet's figures for one local day.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug)]
pub struct OutletSales {
    /// The outlet.
    #[schema(value_type = String)]
    pub outlet_id: OutletId,
    /// The local day.
    pub date: String,
    /// The day's first instant, Unix ms.
    pub from_ms: i64,
    /// The next day's first instant, Unix ms.
    pub to_ms: i64,
    /// Orders sold (not cancelled or voided).
    pub orders: i64,
    /// Sales after discounts, tax included, minor units.
    pub net_sales: i64,
    /// Tax in those sales.
    pub tax: i64,
    /// Sales by item, best first.
    pub by_item: Vec<ItemSales>,
    /// Sales by local hour.
    pub by_hour: Vec<HourSales>,
}

/// The sales routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    crate::infra::state::Shared: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(http::outlet_sales))
}
