//! The rows an uploaded batch writes (orders, tenders, stock, sold-out marks, audit entries,
//! staff), each table in as few multi-row statements as the backends' parameter limits allow
//! ([`crate::infra::db::insert_rows`]). The orders themselves are written through the ordering
//! room ([`crate::ordering::store::upsert_orders`]).

use crate::infra::db::{Val, insert_rows};
use crate::infra::error::Result;
use patty_protocol::ids::{ItemId, OrderId, OutletId, StaffId};
use patty_protocol::inventory::{Ingredient, StockMovement};
use patty_protocol::order::Tender;
use patty_protocol::staff::Staff;
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// A unit enum's JSON name (`"cash"`, `"g"`), as stored.
fn json_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

// --- Stock ---

/// Upserts ingredients' names, units and reorder levels at an outlet (their stock untouched).
#[tracing::instrument(skip_all, fields(outlet = %outlet, count = ingredients.len()))]
pub async fn upsert_ingredients(
    conn: &mut sqlx::AnyConnection,
    outlet: OutletId,
    ingredients: &[&Ingredient],
) -> Result<()> {
    let outlet = outlet.to_string();
    let mut v = Vec::new();
    for i in ingredients {
        v.extend([
            Val::T(outlet.clone()),
            Val::T(i.id.to_string()),
            Val::T(i.name.clone()),
            Val::T(json_name(&i.unit)),
            Val::I(0),
            Val::I(i.reorder_level),
        ]);
    }
    insert_rows(
        conn,
        "INSERT INTO stock_levels (outlet_id, ingredient_id, name, unit, on_hand, reorder_level)",
        "ON CONFLICT (outlet_id, ingredient_id) DO UPDATE SET name = excluded.name, unit = excluded.unit, reorder_level = excluded.reorder_level",
        6,
        v,
    )
    .await?;
    Ok(())
}

/// Records movements (each once, by id) and returns, per ingredient, the sum of the new ones.
#[tracing::instrument(skip_all, fields(outlet = %outlet, count = movements.len()))]
pub async fn insert_movements(
    conn: &mut sqlx::AnyConnection,
    outlet: OutletId,
    movements: &[&StockMovement],
) -> Result<BTreeMap<String, i64>> {
    let outlet = outlet.to_string();
    let mut v = Vec::with_capacity(movements.len() * 7);
    for m in movements {
        v.extend([
            Val::T(m.id.to_string()),
            Val::T(outlet.clone()),
            Val::T(m.ingredient_id.to_string()),
            Val::T(m.kind.as_str().to_owned()),
            Val::I(m.delta),
            m.order_id.map_or(Val::N, |o| Val::T(o.to_string())),
            Val::I(m.at_ms),
        ]);
    }
    let new = insert_rows(
        conn,
        "INSERT INTO stock_movements (id, outlet_id, ingredient_id, kind, delta, order_id, at_ms)",
        "ON CONFLICT (id) DO NOTHING RETURNING ingredient_id, delta",
        7,
        v,
    )
    .await?;
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for r in new {
        *sums.entry(r.try_get("ingredient_id")?).or_default() += r.try_get::<i64, _>("delta")?;
    }
    Ok(sums)
}

/// Moves each ingredient's level at an outlet by its sum; returns the new levels
/// (ingredient, on hand).
#[tracing::instrument(skip_all, fields(outlet = %outlet, count = sums.len()))]
pub async fn add_to_levels(
    conn: &mut sqlx::AnyConnection,
    outlet: OutletId,
    sums: &BTreeMap<String, i64>,
) -> Result<Vec<Level>> {
    let outlet = outlet.to_string();
    let mut v = Vec::with_capacity(sums.len() * 6);
    for (ingredient, sum) in sums {
        v.extend([
            Val::T(outlet.clone()),
            Val::T(ingredient.clone()),
            Val::T(String::new()),
            Val::T(String::new()),
            Val::I(*sum),
            Val::I(0),
        ]);
    }
    let levels = insert_rows(
        conn,
        "INSERT INTO stock_levels (outlet_id, ingredient_id, name, unit, on_hand, reorder_level)",
        "ON CONFLICT (outlet_id, ingredient_id) DO UPDATE SET on_hand = stock_levels.on_hand + excluded.on_hand
             RETURNING ingredient_id, name, unit, on_hand, reorder_level",
        6,
        v,
    )
    .await?;
    levels
        .iter()
        .map(|r| {
            Ok(Level {
                ingredient: r.try_get("ingredient_id")?,
                name: r.try_get("name")?,
                unit: r.try_get("unit")?,
                on_hand: r.try_get("on_hand")?,
                reorder_level: r.try_get("reorder_level")?,
            })
        })
        .collect()
}

/// An ingredient's level at an outlet, as a batch of movements left it.
#[derive(Clone, Debug)]
pub struct Level {
    /// The ingredient's id.
    pub ingredient: String,
    /// Its name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// On hand now.
    pub on_hand: i64,
    /// The level below which it should be reordered (0: none set).
    pub reorder_level: i64,
}

// --- Orders, tenders, sold-out marks, audit ---

/// Records tenders (each once, by id).
#[tracing::instrument(skip_all, fields(outlet = %outlet, count = tenders.len()))]
pub async fn insert_tenders(
    conn: &mut sqlx::AnyConnection,
    outlet: OutletId,
    tenders: &[(OrderId, &Tender)],
) -> Result<()> {
    let outlet = outlet.to_string();
    let mut v = Vec::with_capacity(tenders.len() * 6);
    for (order_id, t) in tenders {
        v.extend([
            Val::T(t.id.to_string()),
            Val::T(order_id.to_string()),
            Val::T(outlet.clone()),
            Val::T(json_name(&t.kind)),
            Val::I(t.amount),
            Val::I(t.at_ms),
        ]);
    }
    insert_rows(
        conn,
        "INSERT INTO tenders (id, order_id, outlet_id, kind, amount, at_ms)",
        "ON CONFLICT (id) DO NOTHING",
        6,
        v,
    )
    .await?;
    Ok(())
}

/// Sets items' sold-out marks at an outlet.
#[tracing::instrument(skip_all, fields(outlet = %outlet, count = items.len()))]
pub async fn set_sold_out(
    conn: &mut sqlx::AnyConnection,
    outlet: OutletId,
    items: &BTreeMap<ItemId, bool>,
    now: i64,
) -> Result<()> {
    let outlet = outlet.to_string();
    let mut v = Vec::new();
    for (item, sold_out) in items {
        v.extend([Val::T(outlet.clone()), Val::T(item.to_string()), Val::I(*sold_out as i64), Val::I(now)]);
    }
    insert_rows(
        conn,
        "INSERT INTO outlet_items (outlet_id, item_id, sold_out, updated_ms)",
        "ON CONFLICT (outlet_id, item_id) DO UPDATE SET sold_out = excluded.sold_out, updated_ms = excluded.updated_ms",
        4,
        v,
    )
    .await?;
    Ok(())
}

/// One audit entry an outlet recorded: its sequence, time, who, what, to what, details.
pub struct AuditRow<'a> {
    /// The entry's sequence in the outlet's log.
    pub seq: u64,
    /// When, Unix ms (the outlet's clock).
    pub at_ms: i64,
    /// Who did it.
    pub by: StaffId,
    /// What.
    pub action: &'a str,
    /// What it was done to.
    pub target: &'a str,
    /// Details.
    pub detail: &'a str,
}

/// Records audit entries (each once, by the outlet's sequence).
#[tracing::instrument(skip_all, fields(outlet = %outlet, count = audits.len()))]
pub async fn insert_audits(conn: &mut sqlx::AnyConnection, outlet: OutletId, audits: &[AuditRow<'_>]) -> Result<()> {
    let outlet = outlet.to_string();
    let mut v = Vec::new();
    for a in audits {
        v.extend([
            Val::T(outlet.clone()),
            Val::I(a.seq as i64),
            Val::I(a.at_ms),
            Val::T(a.by.to_string()),
            Val::T(a.action.to_owned()),
            Val::T(a.target.to_owned()),
            Val::T(a.detail.to_owned()),
        ]);
    }
    insert_rows(
        conn,
        "INSERT INTO outlet_audit (outlet_id, seq, at_ms, staff_id, action, target, detail)",
        "ON CONFLICT (outlet_id, seq) DO NOTHING",
        7,
        v,
    )
    .await?;
    Ok(())
}

// --- Staff ---

/// Upserts staff members of an outlet, whole.
#[tracing::instrument(skip_all, fields(outlet = %outlet, count = staff.len()))]
pub async fn upsert_staff(conn: &mut sqlx::AnyConnection, outlet: OutletId, staff: &[&Staff]) -> Result<()> {
    let outlet = outlet.to_string();
    let mut v = Vec::new();
    for s in staff {
        v.extend([Val::T(s.id.to_string()), Val::T(outlet.clone()), Val::T(serde_json::to_string(s)?)]);
    }
    insert_rows(
        conn,
        "INSERT INTO outlet_staff (id, outlet_id, doc)",
        "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
        3,
        v,
    )
    .await?;
    Ok(())
}
