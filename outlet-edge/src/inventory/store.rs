//! Inventory's SQL: ingredients and their levels, stock movements, low-stock alerts, and the
//! writes that book them (each movement logged, alerts and item availability kept in step).

use super::error::InventoryError;
use crate::audit;
use crate::infra::error::{Error, Result};
use crate::infra::events::{Event, StockAlert};
use crate::infra::state::AppState;
use crate::infra::store::{Store, WriteCtx};
use crate::menu::{portion_need, refresh_stock_availability};
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::{IngredientId, MovementId, OrderId, StaffId};
use patty_protocol::inventory::{Ingredient, MovementKind, StockLevel, StockMovement, Unit};
use patty_protocol::menu::Menu;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashSet;

fn unit_str(u: Unit) -> &'static str {
    match u {
        Unit::Gram => "gram",
        Unit::Millilitre => "millilitre",
        Unit::Piece => "piece",
    }
}

fn parse_unit(s: &str) -> Unit {
    match s {
        "gram" => Unit::Gram,
        "millilitre" => Unit::Millilitre,
        _ => Unit::Piece,
    }
}

fn level_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StockLevel> {
    let id: String = r.get(0)?;
    let unit: String = r.get(2)?;
    let reorder_level: i64 = r.get(3)?;
    let on_hand: i64 = r.get(4)?;
    Ok(StockLevel {
        ingredient: Ingredient {
            id: id
                .parse()
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?,
            name: r.get(1)?,
            unit: parse_unit(&unit),
            reorder_level,
        },
        on_hand,
        low: on_hand <= reorder_level,
    })
}

const LEVEL_COLUMNS: &str = "SELECT id, name, unit, reorder_level, on_hand FROM ingredients";

/// Reads one ingredient's level.
pub fn level(conn: &Connection, id: IngredientId) -> Result<Option<StockLevel>> {
    Ok(conn
        .prepare_cached(&format!("{LEVEL_COLUMNS} WHERE id = ?1"))?
        .query_row([id.to_string()], level_row)
        .optional()?)
}

/// Adds or replaces an ingredient (seeding, reorder levels); logs it.
#[tracing::instrument(skip_all, fields(ingredient.id = %ing.id))]
pub fn upsert_ingredient(ctx: &mut WriteCtx<'_>, ing: &Ingredient) -> Result<()> {
    ctx.conn.execute(
        "INSERT INTO ingredients (id, name, unit, reorder_level) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, unit = excluded.unit, reorder_level = excluded.reorder_level",
        params![ing.id.to_string(), ing.name, unit_str(ing.unit), ing.reorder_level],
    )?;
    ctx.log(ChangeV1::IngredientUpserted { ingredient: ing.clone() })?;
    Ok(())
}

/// One stock change to make.
pub struct Move {
    /// The ingredient.
    pub ingredient_id: IngredientId,
    /// Why.
    pub kind: MovementKind,
    /// Change in the ingredient's unit.
    pub delta: i64,
}

/// Applies `moves` (each a logged movement), then raises or clears low-stock alerts and re-marks
/// items that stock can or cannot make, all in the caller's transaction. A sale that would leave a
/// level below zero is refused unless `overdraw` (food already made, reported by the cloud).
#[tracing::instrument(skip_all, fields(moves = moves.len()))]
pub fn apply(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    moves: &[Move],
    order_id: Option<OrderId>,
    staff_id: Option<StaffId>,
    note: &str,
    overdraw: bool,
) -> Result<Vec<StockMovement>, InventoryError> {
    let mut recheck = HashSet::new();
    let mut out = Vec::with_capacity(moves.len());
    for m in moves.iter().filter(|m| m.delta != 0) {
        let (after, reorder_level, name): (i64, i64, String) = ctx
            .conn
            .prepare_cached(
                "UPDATE ingredients SET on_hand = on_hand + ?2 WHERE id = ?1 RETURNING on_hand, reorder_level, name",
            )?
            .query_row(params![m.ingredient_id.to_string(), m.delta], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .ok_or(InventoryError::NoIngredient(m.ingredient_id))?;
        let before = after - m.delta;
        if m.kind == MovementKind::Sale && m.delta < 0 && after < 0 && !overdraw {
            // The caller's savepoint rolls the update back.
            return Err(InventoryError::Short { name, needed: -m.delta, on_hand: before });
        }
        let movement = StockMovement {
            id: MovementId::new(),
            ingredient_id: m.ingredient_id,
            kind: m.kind,
            delta: m.delta,
            order_id,
            staff_id,
            note: note.to_owned(),
            at_ms: ctx.now_ms,
        };
        ctx.conn
            .prepare_cached(
                "INSERT INTO stock_movements (id, ingredient_id, kind, delta, order_id, staff_id, note, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                movement.id.to_string(),
                m.ingredient_id.to_string(),
                m.kind.as_str(),
                m.delta,
                order_id.map(|o| o.to_string()),
                staff_id.map(|s| s.to_string()),
                note,
                ctx.now_ms
            ])?;
        ctx.log(ChangeV1::StockMoved { movement: movement.clone() })?;
        // Alerts and availability change only when a level is crossed: work only then.
        if (before <= reorder_level) != (after <= reorder_level) {
            check_alert(ctx, m.ingredient_id)?;
        }
        for item in &menu.items {
            let need = portion_need(item, m.ingredient_id);
            if need > 0 && (before >= need) != (after >= need) {
                recheck.insert(item.id);
            }
        }
        out.push(movement);
    }
    if !recheck.is_empty() {
        refresh_stock_availability(ctx, menu, |item| recheck.contains(&item.id))?;
    }
    Ok(out)
}

/// Raises or clears `id`'s low-stock alert to match its level now.
#[tracing::instrument(skip_all, fields(ingredient.id = %id))]
pub fn check_alert(ctx: &mut WriteCtx<'_>, id: IngredientId) -> Result<()> {
    let Some(level) = level(ctx.conn, id)? else {
        return Ok(());
    };
    let open: Option<(i64, i64)> = ctx
        .conn
        .prepare_cached("SELECT id, raised_ms FROM stock_alerts WHERE ingredient_id = ?1 AND cleared_ms IS NULL")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let alert = |aid, raised_ms, cleared_ms| StockAlert {
        id: aid,
        ingredient_id: id,
        ingredient_name: level.ingredient.name.clone(),
        on_hand: level.on_hand,
        reorder_level: level.ingredient.reorder_level,
        raised_ms,
        cleared_ms,
    };
    match (level.low, open) {
        (true, None) => {
            ctx.conn
                .prepare_cached("INSERT INTO stock_alerts (ingredient_id, raised_ms, on_hand, reorder_level) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![id.to_string(), ctx.now_ms, level.on_hand, level.ingredient.reorder_level])?;
            let aid = ctx.conn.last_insert_rowid();
            let a = alert(aid, ctx.now_ms, None);
            ctx.emit(Event::StockAlert { alert: a });
        }
        (false, Some((aid, raised))) => {
            ctx.conn.execute("UPDATE stock_alerts SET cleared_ms = ?2 WHERE id = ?1", params![aid, ctx.now_ms])?;
            let a = alert(aid, raised, Some(ctx.now_ms));
            ctx.emit(Event::StockAlert { alert: a });
        }
        _ => {}
    }
    Ok(())
}

/// Sets an ingredient's reorder level as HQ sent it, then raises or clears its alert to match.
#[tracing::instrument(skip_all, fields(ingredient.id = %id))]
pub fn set_reorder_level(ctx: &mut WriteCtx<'_>, id: IngredientId, reorder_level: i64) -> Result<()> {
    ctx.conn
        .prepare_cached("UPDATE ingredients SET reorder_level = ?2 WHERE id = ?1")?
        .execute(params![id.to_string(), reorder_level])?;
    check_alert(ctx, id)
}

/// What a stock change books.
pub struct Booking {
    /// The ingredient.
    pub ingredient_id: IngredientId,
    /// Received, wasted, or counted, in the ingredient's unit.
    pub quantity: i64,
    /// Free text.
    pub note: String,
    /// Receive, waste or count.
    pub kind: MovementKind,
}

/// Books a movement by `by` (a count books the difference from the books, and is audited): the
/// movement (none when a count matched the books) and the level after.
#[tracing::instrument(skip_all, fields(ingredient.id = %b.ingredient_id, kind = b.kind.as_str()))]
pub async fn change_stock(state: &AppState, by: StaffId, b: Booking) -> Result<(Option<StockMovement>, StockLevel)> {
    let Booking { ingredient_id, quantity, note, kind } = b;
    let menu = state.menu();
    state
        .store
        .write(move |ctx| {
            let before = level(ctx.conn, ingredient_id)?.ok_or(InventoryError::NoIngredient(ingredient_id))?;
            let delta = match kind {
                MovementKind::Receive => quantity,
                MovementKind::Waste => -quantity,
                _ => quantity - before.on_hand,
            };
            let moved = apply(ctx, &menu, &[Move { ingredient_id, kind, delta }], None, Some(by), note.trim(), false)?;
            if kind == MovementKind::Count {
                let detail =
                    format!("{}: counted {} against {} on the books", before.ingredient.name, quantity, before.on_hand);
                audit::record(ctx, by, "stock_correction", &ingredient_id.to_string(), &detail)?;
            }
            let level = level(ctx.conn, ingredient_id)?.ok_or_else(|| Error::Internal("ingredient vanished".into()))?;
            Ok((moved.into_iter().next(), level))
        })
        .await
}

/// Every ingredient's level, by name.
#[tracing::instrument(skip_all)]
pub fn levels(c: &Connection) -> Result<Vec<StockLevel>> {
    let mut st = c.prepare(&format!("{LEVEL_COLUMNS} ORDER BY name"))?;
    let rows = st.query_map([], level_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Sets ingredient `id`'s reorder level here (logged), and raises or clears its alert.
#[tracing::instrument(skip_all, fields(ingredient.id = %id))]
pub async fn set_level(store: &Store, id: IngredientId, reorder_level: i64) -> Result<StockLevel> {
    store
        .write(move |ctx| {
            let mut lv = level(ctx.conn, id)?.ok_or(InventoryError::NoIngredient(id))?;
            lv.ingredient.reorder_level = reorder_level;
            upsert_ingredient(ctx, &lv.ingredient)?;
            check_alert(ctx, id)?;
            level(ctx.conn, id)?.ok_or_else(|| Error::Internal("ingredient vanished".into()))
        })
        .await
}

/// Stock movements, of `ingredient_id` if given, newest first, at most `limit`.
#[tracing::instrument(skip_all)]
pub fn movements(c: &Connection, ingredient_id: Option<IngredientId>, limit: i64) -> Result<Vec<StockMovement>> {
    let mut st = c.prepare(
        "SELECT id, ingredient_id, kind, delta, order_id, staff_id, note, at_ms FROM stock_movements
         WHERE ?1 IS NULL OR ingredient_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT ?2",
    )?;
    let rows = st
        .query_map(params![ingredient_id.map(|i| i.to_string()), limit], |r| {
            let kind: String = r.get(2)?;
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                kind,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?
        .filter_map(|row| {
            let (id, ing, kind, delta, order, staff, note, at_ms) = row.ok()?;
            let kind = match kind.as_str() {
                "sale" => MovementKind::Sale,
                "receive" => MovementKind::Receive,
                "waste" => MovementKind::Waste,
                _ => MovementKind::Count,
            };
            Some(StockMovement {
                id: id.parse().ok()?,
                ingredient_id: ing.parse().ok()?,
                kind,
                delta,
                order_id: order.and_then(|s: String| s.parse().ok()),
                staff_id: staff.and_then(|s: String| s.parse().ok()),
                note,
                at_ms,
            })
        })
        .collect();
    Ok(rows)
}

/// Reads the open low-stock alerts.
#[tracing::instrument(skip_all)]
pub fn open_alerts(conn: &Connection) -> Result<Vec<StockAlert>> {
    let mut st = conn.prepare(
        "SELECT a.id, a.ingredient_id, i.name, i.on_hand, a.reorder_level, a.raised_ms FROM stock_alerts a
         JOIN ingredients i ON i.id = a.ingredient_id WHERE a.cleared_ms IS NULL ORDER BY a.raised_ms",
    )?;
    let rows = st
        .query_map([], |r| {
            let ing: String = r.get(1)?;
            Ok((r.get(0)?, ing, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?
        .filter_map(|row| {
            let (id, ing, ingredient_name, on_hand, reorder_level, raised_ms) = row.ok()?;
            Some(StockAlert {
                id,
                ingredient_id: ing.parse().ok()?,
                ingredient_name,
                on_hand,
                reorder_level,
                raised_ms,
                cleared_ms: None,
            })
        })
        .collect();
    Ok(rows)
}
