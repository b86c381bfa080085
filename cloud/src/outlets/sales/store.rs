//! The sales figures' SQL: sums by quarter hour and by item, in each engine's JSON functions.

use super::{HourSales, ItemSales, OutletSales};
use crate::infra::db::{Backend, Db};
use crate::infra::error::Result;
use chrono::{DateTime, NaiveDate, Utc};
use patty_protocol::ids::OutletId;
use patty_protocol::local::{self, Tz};
use sqlx::Row;
use std::collections::BTreeMap;

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
#[tracing::instrument(skip_all, fields(outlet.id = %outlet, date = %date))]
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
