//! Inventory: stock per ingredient as the sum of its movements; receive, waste and count; the
//! sale movements orders make; low-stock alerts; and items that stock can no longer make.

use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::events::{Event, StockAlert};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::WriteCtx;
use crate::menu::{portion_need, refresh_stock_availability};
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::{IngredientId, MovementId, OrderId, StaffId};
use patty_protocol::inventory::{Ingredient, MovementKind, StockLevel, StockMovement, Unit};
use patty_protocol::menu::Menu;
use patty_protocol::staff::Role;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
pub fn apply(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    moves: &[Move],
    order_id: Option<OrderId>,
    staff_id: Option<StaffId>,
    note: &str,
    overdraw: bool,
) -> Result<Vec<StockMovement>> {
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
            .ok_or_else(|| Error::NotFound(format!("no ingredient {}", m.ingredient_id)))?;
        let before = after - m.delta;
        if m.kind == MovementKind::Sale && m.delta < 0 && after < 0 && !overdraw {
            // The caller's savepoint rolls the update back.
            return Err(Error::Unavailable(format!(
                "not enough {name} in stock ({} needed, {before} on hand)",
                -m.delta
            )));
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
pub fn set_reorder_level(ctx: &mut WriteCtx<'_>, id: IngredientId, reorder_level: i64) -> Result<()> {
    ctx.conn
        .prepare_cached("UPDATE ingredients SET reorder_level = ?2 WHERE id = ?1")?
        .execute(params![id.to_string(), reorder_level])?;
    check_alert(ctx, id)
}

/// Stock received or wasted.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockChange {
    /// The ingredient.
    #[schema(value_type = String, format = Uuid)]
    pub ingredient_id: IngredientId,
    /// How much, in the ingredient's unit.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub quantity: i64,
    /// Free text (supplier, delivery note, why it was wasted).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// A stock count.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockCount {
    /// The ingredient.
    #[schema(value_type = String, format = Uuid)]
    pub ingredient_id: IngredientId,
    /// What was counted, in the ingredient's unit.
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub quantity: i64,
    /// Free text (why the books were off).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// What a stock change did.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockChangeOut {
    /// The movement recorded (absent when a count matched the books).
    pub movement: Option<StockMovement>,
    /// The level afterwards.
    pub level: StockLevel,
}

async fn change_stock(
    state: AppState,
    session: Session,
    req: StockChange,
    kind: MovementKind,
) -> Result<(StatusCode, Json<StockChangeOut>)> {
    match kind {
        MovementKind::Count => session.require_manager()?,
        _ => session.require(&[Role::Cashier, Role::Kitchen])?,
    }
    if req.note.chars().count() > 500 {
        return Err(Error::Validation("a note is at most 500 characters".into()));
    }
    let limit = 100_000_000;
    match kind {
        MovementKind::Count if !(0..=limit).contains(&req.quantity) => {
            return Err(Error::Validation("a count is 0 or more".into()));
        }
        MovementKind::Receive | MovementKind::Waste if !(1..=limit).contains(&req.quantity) => {
            return Err(Error::Validation("quantity must be positive".into()));
        }
        _ => {}
    }
    let menu = state.menu();
    let by = session.staff.id;
    let out = state
        .store
        .write(move |ctx| {
            let before = level(ctx.conn, req.ingredient_id)?
                .ok_or_else(|| Error::NotFound(format!("no ingredient {}", req.ingredient_id)))?;
            let delta = match kind {
                MovementKind::Receive => req.quantity,
                MovementKind::Waste => -req.quantity,
                _ => req.quantity - before.on_hand,
            };
            let moved = apply(
                ctx,
                &menu,
                &[Move { ingredient_id: req.ingredient_id, kind, delta }],
                None,
                Some(by),
                req.note.trim(),
                false,
            )?;
            if kind == MovementKind::Count {
                let detail = format!(
                    "{}: counted {} against {} on the books",
                    before.ingredient.name, req.quantity, before.on_hand
                );
                crate::audit::record(ctx, by, "stock_correction", &req.ingredient_id.to_string(), &detail)?;
            }
            let level =
                level(ctx.conn, req.ingredient_id)?.ok_or_else(|| Error::Internal("ingredient vanished".into()))?;
            Ok(StockChangeOut { movement: moved.into_iter().next(), level })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Record a delivery from a supplier (cashier, kitchen, manager).
#[utoipa::path(post, path = "/api/v1/inventory/receive", tag = "inventory", security(("pin_session" = [])), request_body = StockChange,
    responses((status = 201, body = StockChangeOut), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn receive(
    State(state): State<AppState>,
    session: Session,
    Json(req): Json<StockChange>,
) -> Result<(StatusCode, Json<StockChangeOut>)> {
    change_stock(state, session, req, MovementKind::Receive).await
}

/// Record waste (cashier, kitchen, manager).
#[utoipa::path(post, path = "/api/v1/inventory/waste", tag = "inventory", security(("pin_session" = [])), request_body = StockChange,
    responses((status = 201, body = StockChangeOut), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn waste(
    State(state): State<AppState>,
    session: Session,
    Json(req): Json<StockChange>,
) -> Result<(StatusCode, Json<StockChangeOut>)> {
    change_stock(state, session, req, MovementKind::Waste).await
}

/// Record a stock count; the difference is booked as a correction (manager; audited).
#[utoipa::path(post, path = "/api/v1/inventory/count", tag = "inventory", security(("pin_session" = [])), request_body = StockCount,
    responses((status = 201, body = StockChangeOut), (status = 403, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody)))]
async fn count(
    State(state): State<AppState>,
    session: Session,
    Json(req): Json<StockCount>,
) -> Result<(StatusCode, Json<StockChangeOut>)> {
    let StockCount { ingredient_id, quantity, note } = req;
    change_stock(state, session, StockChange { ingredient_id, quantity, note }, MovementKind::Count).await
}

/// Stock levels of every ingredient.
#[utoipa::path(get, path = "/api/v1/inventory", tag = "inventory", security(("pin_session" = [])),
    responses((status = 200, body = Vec<StockLevel>), (status = 401, body = patty_protocol::ErrorBody)))]
async fn levels(State(state): State<AppState>, _session: Session) -> Result<Json<Vec<StockLevel>>> {
    let rows = state
        .store
        .read(|c| {
            let mut st = c.prepare(&format!("{LEVEL_COLUMNS} ORDER BY name"))?;
            let rows = st.query_map([], level_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    Ok(Json(rows))
}

/// Changes to an ingredient's settings.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngredientPatch {
    /// New reorder level (0 or more).
    pub reorder_level: i64,
}

/// Set an ingredient's reorder level (manager).
#[utoipa::path(patch, path = "/api/v1/inventory/{id}", tag = "inventory", security(("pin_session" = [])), request_body = IngredientPatch,
    params(("id" = String, Path, description = "ingredient id")),
    responses((status = 200, body = StockLevel), (status = 404, body = patty_protocol::ErrorBody)))]
async fn patch_ingredient(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<IngredientId>,
    Json(req): Json<IngredientPatch>,
) -> Result<Json<StockLevel>> {
    session.require_manager()?;
    if req.reorder_level < 0 {
        return Err(Error::Validation("a reorder level is 0 or more".into()));
    }
    let out = state
        .store
        .write(move |ctx| {
            let mut lv = level(ctx.conn, id)?.ok_or_else(|| Error::NotFound(format!("no ingredient {id}")))?;
            lv.ingredient.reorder_level = req.reorder_level;
            upsert_ingredient(ctx, &lv.ingredient)?;
            check_alert(ctx, id)?;
            level(ctx.conn, id)?.ok_or_else(|| Error::Internal("ingredient vanished".into()))
        })
        .await?;
    Ok(Json(out))
}

/// Which movements to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MovementQuery {
    /// Only this ingredient.
    #[serde(default)]
    pub ingredient_id: Option<IngredientId>,
    /// Most to return, newest first (default 100, at most 1000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Stock movements, newest first.
#[utoipa::path(get, path = "/api/v1/inventory/movements", tag = "inventory", security(("pin_session" = [])), params(MovementQuery),
    responses((status = 200, body = Vec<StockMovement>)))]
async fn movements(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<MovementQuery>,
) -> Result<Json<Vec<StockMovement>>> {
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 100, 1000)?;
    let rows = state
        .store
        .read(move |c| {
            let mut st = c.prepare(
                "SELECT id, ingredient_id, kind, delta, order_id, staff_id, note, at_ms FROM stock_movements
                 WHERE ?1 IS NULL OR ingredient_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT ?2",
            )?;
            let rows = st
                .query_map(params![q.ingredient_id.map(|i| i.to_string()), limit], |r| {
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
        })
        .await?;
    Ok(Json(rows))
}

/// Reads the open low-stock alerts.
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

/// Open low-stock alerts.
#[utoipa::path(get, path = "/api/v1/inventory/alerts", tag = "inventory", security(("pin_session" = [])),
    responses((status = 200, body = Vec<StockAlert>)))]
async fn alerts(State(state): State<AppState>, _session: Session) -> Result<Json<Vec<StockAlert>>> {
    Ok(Json(state.store.read(open_alerts).await?))
}

/// Live alerts (Server-Sent Events): the open low-stock alerts first, then each raise and clear,
/// and each terminal locked after wrong PINs.
#[utoipa::path(get, path = "/api/v1/inventory/alerts/stream", tag = "inventory", security(("pin_session" = [])),
    responses((status = 200, description = "text/event-stream of `stock_alert` and `sign_in_alert` events", content_type = "text/event-stream")))]
async fn alert_stream(State(state): State<AppState>, _session: Session) -> Result<impl axum::response::IntoResponse> {
    let rx = state.store.events.subscribe();
    let open = state.store.read(open_alerts).await?;
    let initial = open.into_iter().map(|alert| Event::StockAlert { alert }).collect();
    Ok(crate::infra::events::sse(rx, state.closing.subscribe(), initial, |e| {
        matches!(e, Event::StockAlert { .. } | Event::SignInAlert { .. })
    }))
}

/// The inventory routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(levels))
        .routes(routes!(receive))
        .routes(routes!(waste))
        .routes(routes!(count))
        .routes(routes!(patch_ingredient))
        .routes(routes!(movements))
        .routes(routes!(alerts))
        .routes(routes!(alert_stream))
}
