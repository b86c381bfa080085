//! An outlet's sales figures for one of its local days: orders, sales and tax, by item and by
//! local hour, summed by the database from the stored orders of every channel (cancelled and
//! voided orders left out), so a busy day counts whole.

use crate::infra::access::{Principal, Role};
use crate::infra::db::{Backend, Db};
use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use patty_protocol::ids::OutletId;
use patty_protocol::local::{self, Tz};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Which day.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SalesQuery {
    /// The outlet's local day, YYYY-MM-DD (default: its today).
    #[serde(default)]
    #[param(format = Date)]
    pub date: Option<String>,
}

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

/// `key` of the JSON document `doc` as an integer, in the engine's own JSON functions.
fn json_int(backend: Backend, doc: &str, key: &str) -> String {
    match backend {
        Backend::Postgres => format!("CAST(CAST({doc} AS jsonb)->>'{key}' AS BIGINT)"),
        Backend::Sqlite => format!("json_extract({doc}, '$.{key}')"),
    }
}

const COUNTED: &str =
    "outlet_id = $1 AND created_ms >= $2 AND created_ms < $3 AND status NOT IN ('cancelled', 'voided')";

/// The figures of `outlet` for its local day `date` in time zone `zone`.
pub async fn day_figures(db: &Db, outlet: OutletId, zone: Tz, date: NaiveDate) -> Result<OutletSales> {
    let (from_ms, to_ms) = local::day_range_ms(date, zone);
    let b = db.backend;
    // Quarter hours since the day began: every offset in the time zone database is a whole number
    // of them, so each falls in one local hour, whatever the clocks did that day.
    let sql = format!(
        "SELECT (created_ms - $2) / 900000 AS q, COUNT(*) AS n, CAST(COALESCE(SUM({t}), 0) AS BIGINT) AS total, \
         CAST(COALESCE(SUM({x}), 0) AS BIGINT) AS tax FROM orders WHERE {COUNTED} GROUP BY (created_ms - $2) / 900000",
        t = json_int(b, "doc", "total"),
        x = json_int(b, "doc", "tax"),
    );
    let rows = sqlx::query(&sql).bind(outlet.to_string()).bind(from_ms).bind(to_ms).fetch_all(&db.pool).await?;
    let (mut orders, mut net_sales, mut tax) = (0, 0, 0);
    let mut hours: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
    for r in rows {
        let (q, n, total): (i64, i64, i64) = (r.try_get("q")?, r.try_get("n")?, r.try_get("total")?);
        orders += n;
        net_sales += total;
        tax += r.try_get::<i64, _>("tax")?;
        let at = DateTime::<Utc>::from_timestamp_millis(from_ms + q * 900_000).unwrap_or_default();
        let h = hours.entry(local::hour_at(at, zone)).or_default();
        h.0 += n;
        h.1 += total;
    }
    let (lines, name, quantity, line_total) = match b {
        Backend::Postgres => (
            "orders CROSS JOIN LATERAL jsonb_array_elements(CAST(doc AS jsonb)->'lines') AS l(value)",
            "l.value->>'name'",
            "CAST(l.value->>'quantity' AS BIGINT)",
            "CAST(l.value->>'line_total' AS BIGINT)",
        ),
        Backend::Sqlite => (
            "orders CROSS JOIN json_each(orders.doc, '$.lines') AS l",
            "json_extract(l.value, '$.name')",
            "json_extract(l.value, '$.quantity')",
            "json_extract(l.value, '$.line_total')",
        ),
    };
    let sql = format!(
        "SELECT {name} AS name, CAST(SUM({quantity}) AS BIGINT) AS quantity, CAST(SUM({line_total}) AS BIGINT) AS gross \
         FROM {lines} WHERE {COUNTED} GROUP BY {name}"
    );
    let rows = sqlx::query(&sql).bind(outlet.to_string()).bind(from_ms).bind(to_ms).fetch_all(&db.pool).await?;
    let mut by_item = rows
        .iter()
        .map(|r| {
            Ok(ItemSales { name: r.try_get("name")?, quantity: r.try_get("quantity")?, gross: r.try_get("gross")? })
        })
        .collect::<Result<Vec<_>>>()?;
    by_item.sort_by(|a, b| b.gross.cmp(&a.gross).then(a.name.cmp(&b.name)));
    let by_hour = hours.into_iter().map(|(hour, (orders, total))| HourSales { hour, orders, total }).collect();
    Ok(OutletSales {
        outlet_id: outlet,
        date: date.to_string(),
        from_ms,
        to_ms,
        orders,
        net_sales,
        tax,
        by_item,
        by_hour,
    })
}

/// The outlet's sales for one of its local days (that outlet's staff and managers, HQ).
#[utoipa::path(get, path = "/api/v1/outlets/{id}/sales", tag = "outlets", security(("bearer" = [])),
    params(("id" = String, Path, description = "outlet id"), SalesQuery),
    responses((status = 200, body = OutletSales), (status = 401, body = patty_protocol::ErrorBody),
        (status = 403, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody),
        (status = 422, body = patty_protocol::ErrorBody), (status = 429, body = patty_protocol::ErrorBody)))]
async fn outlet_sales(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<OutletId>,
    Query(q): Query<SalesQuery>,
) -> Result<Json<OutletSales>> {
    who.require_outlet(&[Role::OutletStaff, Role::OutletManager], id)?;
    let outlet = crate::outlets::load(&state.db, id).await?;
    let date = match q.date.as_deref() {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| Error::Validation("date must be a day, YYYY-MM-DD".into()))?,
        None => local::date_at(Utc::now(), outlet.timezone),
    };
    Ok(Json(day_figures(&state.db, id, outlet.timezone, date).await?))
}

/// The sales routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Shared: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(outlet_sales))
}
