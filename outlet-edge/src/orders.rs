//! Orders: taking them (idempotently, priced by the edge, stock decremented in the same
//! transaction), editing before preparation, status moves along the state machine, cancel and
//! void, tenders and refunds, discounts, search and receipts.

use crate::infra::config::OutletConfig;
use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::events::Event;
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::WriteCtx;
use crate::inventory::{self, Move};
use crate::menu::{PricingCtx, item_states, price};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::{IngredientId, OrderId, StaffId, TenderId};
use patty_protocol::inventory::MovementKind;
use patty_protocol::menu::Menu;
use patty_protocol::money::apply_basis_points;
use patty_protocol::order::{
    Channel, Discount, Fulfilment, NewLine, NewLineModifier, NewOrder, Order, OrderStatus, StockEffect, Tender,
    TenderKind, stock_effect, transition,
};
use patty_protocol::pricing::usage;
use patty_protocol::staff::Role;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Reads an order and whether the kitchen recalled it.
pub fn load(conn: &Connection, id: OrderId) -> Result<(Order, bool)> {
    let row: Option<(String, bool)> = conn
        .prepare_cached("SELECT doc, recalled FROM orders WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (doc, recalled) = row.ok_or_else(|| Error::NotFound(format!("no order {id}")))?;
    Ok((serde_json::from_str(&doc)?, recalled))
}

/// Writes an order's new state and publishes it on the live streams once committed.
pub fn save(ctx: &mut WriteCtx<'_>, order: &mut Order, recalled: bool) -> Result<()> {
    order.updated_ms = ctx.now_ms;
    ctx.conn
        .prepare_cached("UPDATE orders SET status = ?2, updated_ms = ?3, recalled = ?4, doc = ?5 WHERE id = ?1")?
        .execute(params![
        order.id.to_string(),
        order.status.as_str(),
        order.updated_ms,
        recalled,
        serde_json::to_string(&order)?
    ])?;
    ctx.emit(Event::Order { order: Arc::new(order.clone()), recalled });
    Ok(())
}

/// Recomputes an order's totals with the outlet's tax rules.
pub fn recompute_totals(o: &mut Order, cfg: &OutletConfig) {
    o.recompute_totals(cfg.tax_rate_bp, cfg.prices_include_tax);
}

/// Who moves an order out of `placed`, which decides what its stock may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taking {
    /// Staff at the outlet: stock that cannot cover the order refuses the move (409 `unavailable`).
    Checked,
    /// The cloud reports the order further along (out for delivery, completed): the food was made,
    /// so its stock is taken even if that leaves a level below zero, which the stock screen shows.
    Reported,
}

/// A status move: where to, by whom (none: the cloud reported it), why (a cancel or void), and
/// whether stock was checked when it was taken on.
pub struct StatusChange {
    /// The new status.
    pub to: OrderStatus,
    /// The staff member who made it.
    pub by: Option<StaffId>,
    /// Why, for a cancel or void.
    pub reason: Option<String>,
    /// How stock is taken.
    pub taking: Taking,
}

impl StatusChange {
    /// A move made by `by` at this outlet, stock checked.
    pub fn by_staff(to: OrderStatus, by: StaffId, reason: Option<String>) -> Self {
        Self { to, by: Some(by), reason, taking: Taking::Checked }
    }

    /// A move the cloud reported, stock taken as it is.
    pub fn reported(to: OrderStatus, reason: Option<String>) -> Self {
        Self { to, by: None, reason, taking: Taking::Reported }
    }
}

/// Moves an order's status along the state machine, takes or gives back its stock as
/// [`stock_effect`] says (one place for every path: accept, start, bump, cancel, void, the cloud's
/// reports), logs it, and publishes it.
pub fn move_status(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    order: &mut Order,
    recalled: bool,
    m: StatusChange,
) -> Result<()> {
    transition(order.status, m.to, order.fulfilment).map_err(|e| Error::Conflict(e.to_string()))?;
    apply_status(ctx, menu, order, recalled, m)
}

/// Sets an order's status with no state-machine check (the caller made it: [`move_status`], or
/// the forward-only merge of what the cloud reports), takes or gives back its stock as
/// [`stock_effect`] says, logs it, and publishes it.
pub fn apply_status(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    order: &mut Order,
    recalled: bool,
    m: StatusChange,
) -> Result<()> {
    let StatusChange { to, by, reason, taking } = m;
    let effect = stock_effect(order.status, to);
    order.status = to;
    if matches!(to, OrderStatus::Cancelled | OrderStatus::Voided) {
        order.closed_reason = reason.clone();
        order.closed_by = by;
    }
    save(ctx, order, recalled && !to.is_final())?;
    ctx.log(ChangeV1::OrderStatus { order_id: order.id, status: to, reason, by })?;
    match effect {
        StockEffect::Take => {
            let want = usage(menu, &order.lines);
            set_usage(ctx, menu, order.id, &want, by, true, taking == Taking::Reported)?;
        }
        StockEffect::GiveBack => set_usage(ctx, menu, order.id, &BTreeMap::new(), by, false, false)?,
        StockEffect::Keep => {}
    }
    Ok(())
}

/// Refuses to take an online order on (any move out of `placed` by staff) when one of its items
/// cannot be sold now: sold out here, out of stock, or outside its window; the same check as
/// when it was priced.
pub fn check_can_take_on(cx: &PricingCtx<'_>, order: &Order) -> Result<()> {
    if order.status != OrderStatus::Placed {
        return Ok(());
    }
    let lines: Vec<NewLine> = order
        .lines
        .iter()
        .map(|l| NewLine {
            item_id: l.item_id,
            variant_id: l.variant_id,
            quantity: l.quantity,
            modifiers: l
                .modifiers
                .iter()
                .map(|m| NewLineModifier { modifier_id: m.modifier_id, quantity: m.quantity })
                .collect(),
            notes: l.notes.clone(),
            price_override: None,
        })
        .collect();
    price(cx, &lines)?;
    Ok(())
}

/// Ingredients an order has taken so far (sum of its sale movements, positive).
fn taken(conn: &Connection, id: OrderId) -> Result<BTreeMap<IngredientId, i64>> {
    let mut st = conn.prepare_cached("SELECT ingredient_id, -SUM(delta) FROM stock_movements WHERE order_id = ?1 AND kind = 'sale' GROUP BY ingredient_id")?;
    let rows = st.query_map([id.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (ing, q) = row?;
        if let Ok(ing) = ing.parse() {
            out.insert(ing, q);
        }
    }
    Ok(out)
}

/// Sets an order's stock use to `want`, moving only the difference from what it has taken
/// (nothing, for a `fresh` order); stock that cannot cover an increase refuses the write unless
/// `overdraw` (the food was already made).
fn set_usage(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    order_id: OrderId,
    want: &BTreeMap<IngredientId, i64>,
    by: Option<StaffId>,
    fresh: bool,
    overdraw: bool,
) -> Result<()> {
    let had = if fresh { BTreeMap::new() } else { taken(ctx.conn, order_id)? };
    let moves: Vec<Move> = had
        .keys()
        .chain(want.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|ing| Move {
            ingredient_id: *ing,
            kind: MovementKind::Sale,
            delta: had.get(ing).copied().unwrap_or(0) - want.get(ing).copied().unwrap_or(0),
        })
        .collect();
    inventory::apply(ctx, menu, &moves, Some(order_id), by, "", overdraw)?;
    Ok(())
}

/// The next order number of the outlet's local day.
pub fn next_number(ctx: &WriteCtx<'_>, cfg: &OutletConfig) -> Result<u32> {
    let at = DateTime::<Utc>::from_timestamp_millis(ctx.now_ms).unwrap_or_default();
    let key = format!("order_number:{}", patty_protocol::local::date_at(at, cfg.timezone));
    let n: i64 = ctx.conn.prepare_cached(
        "INSERT INTO counters (name, value) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
    )?
    .query_row([key], |r| r.get(0))?;
    Ok(n as u32)
}

fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            Error::Validation(
                "an Idempotency-Key header is required, so a retried request never makes a second order".into(),
            )
        })?
        .to_str()
        .map_err(|_| Error::Validation("the Idempotency-Key header must be visible ASCII".into()))?;
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Validation("the Idempotency-Key header must be 1 to 128 visible ASCII characters".into()));
    }
    Ok(key.to_owned())
}

pub(crate) fn pricing_ctx<'a>(
    state: &'a AppState,
    menu: &'a Menu,
    states: &'a std::collections::HashMap<patty_protocol::ids::ItemId, crate::menu::ItemState>,
    session: &Session,
) -> PricingCtx<'a> {
    PricingCtx {
        menu,
        states,
        by: session.staff.id,
        manager: session.is_manager(),
        now: Utc::now(),
        zone: state.config.outlet.timezone,
        max_lines: state.config.limits.order_lines,
        max_quantity: state.config.limits.line_quantity,
    }
}

/// Take an order (cashier, manager). Requires an `Idempotency-Key` header: a retry with the same
/// key returns the first result (200, `Idempotent-Replayed: true`) and never makes a second order.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", security(("pin_session" = [])), request_body = NewOrder,
    params(("Idempotency-Key" = String, Header, description = "unique per order attempt; retries reuse it", min_length = 1, max_length = 128, pattern = "^[!-~]+$")),
    responses((status = 201, body = Order), (status = 200, body = Order, description = "a retry of an earlier request"),
        (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Json(req): Json<NewOrder>,
) -> Result<Response> {
    session.require(&[Role::Cashier])?;
    let key = idempotency_key(&headers)?;
    if req.channel == Channel::Online {
        return Err(Error::Validation("online orders arrive from the cloud, not from a terminal".into()));
    }
    if req.notes.chars().count() > 500 {
        return Err(Error::Validation("order notes are at most 500 characters".into()));
    }
    let delivery_address = match (req.fulfilment, req.delivery_address.clone()) {
        (Fulfilment::Delivery, None) => {
            return Err(Error::Validation("a delivery needs a delivery_address with its position".into()));
        }
        (Fulfilment::Delivery, Some(a)) => {
            Some(a.checked().map_err(|e| Error::Validation(format!("delivery_address: {e}")))?)
        }
        (_, Some(_)) => return Err(Error::Validation("a delivery_address is only for a delivery".into())),
        (_, None) => None,
    };
    let hash = patty_service::secret::digest(&[&serde_json::to_vec(&req)?]);
    let menu = state.menu();
    let cfg = state.config.outlet.clone();
    let st = state.clone();
    let (order, replayed) = state
        .store
        .write(move |ctx| {
            let earlier: Option<(String, Option<String>)> = ctx
                .conn
                .prepare_cached("SELECT id, request_hash FROM orders WHERE idempotency_key = ?1")?
                .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((id, earlier_hash)) = earlier {
                if earlier_hash.as_deref() != Some(hash.as_str()) {
                    return Err(Error::Conflict("this Idempotency-Key was used for a different order".into()));
                }
                let id = id.parse().map_err(|_| Error::Internal("stored order id".into()))?;
                return Ok((load(ctx.conn, id)?.0, true));
            }
            let states = item_states(ctx.conn)?;
            let priced = price(&pricing_ctx(&st, &menu, &states, &session), &req.lines)?;
            let mut order = Order {
                id: OrderId::new(),
                outlet_id: ctx.origin(),
                number: next_number(ctx, &cfg)?,
                channel: req.channel,
                fulfilment: req.fulfilment,
                status: OrderStatus::Accepted,
                lines: priced.lines,
                notes: req.notes.trim().to_owned(),
                currency: menu.currency,
                subtotal: 0,
                discounts: vec![],
                delivery_fee: if delivery_address.is_some() { cfg.delivery_fee } else { 0 },
                tax: 0,
                total: 0,
                tenders: vec![],
                paid: 0,
                staff_id: Some(session.staff.id),
                created_ms: ctx.now_ms,
                updated_ms: ctx.now_ms,
                closed_reason: None,
                closed_by: None,
                customer_id: None,
                delivery_address: delivery_address.clone(),
                catalog_version: None,
            };
            recompute_totals(&mut order, &cfg);
            ctx.conn
                .prepare_cached(
                    "INSERT INTO orders (id, number, status, created_ms, updated_ms, idempotency_key, request_hash, doc)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![order.id.to_string(), order.number, order.status.as_str(), order.created_ms, key, hash, serde_json::to_string(&order)?])?;
            ctx.log(ChangeV1::OrderUpserted { order: Box::new(order.clone()) })?;
            set_usage(ctx, &menu, order.id, &priced.usage, Some(session.staff.id), true, false)?;
            for line in order.lines.iter().filter(|l| l.price_override.is_some()) {
                let detail = format!("{}: {} instead of {}", line.name, line.unit_price, line.price_override.as_ref().map_or(0, |o| o.menu_unit_price));
                crate::audit::record(ctx, session.staff.id, "price_override", &order.id.to_string(), &detail)?;
            }
            ctx.emit(Event::Order { order: Arc::new(order.clone()), recalled: false });
            Ok((order, false))
        })
        .await?;
    state.metrics.orders_created.fetch_add(u64::from(!replayed), std::sync::atomic::Ordering::Relaxed);
    Ok(if replayed {
        let mut r = (StatusCode::OK, Json(order)).into_response();
        r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        r
    } else {
        (StatusCode::CREATED, Json(order)).into_response()
    })
}

/// One order.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 404, body = patty_protocol::ErrorBody)))]
async fn get_one(State(state): State<AppState>, _session: Session, Path(id): Path<OrderId>) -> Result<Json<Order>> {
    Ok(Json(state.store.read(move |c| load(c, id)).await?.0))
}

/// New lines for an order that has not started preparation.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditLines {
    /// The order's lines from now on (replaces all of them).
    pub lines: Vec<NewLine>,
}

/// Replace an order's lines before preparation starts (cashier, manager); reprices and adjusts stock.
#[utoipa::path(put, path = "/api/v1/orders/{id}/lines", tag = "orders", security(("pin_session" = [])), request_body = EditLines,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
async fn edit_lines(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<EditLines>,
) -> Result<Json<Order>> {
    session.require(&[Role::Cashier])?;
    let menu = state.menu();
    let cfg = state.config.outlet.clone();
    let st = state.clone();
    let order = state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            if !order.status.is_editable() {
                return Err(Error::Conflict(format!(
                    "an order that is {} can no longer be edited",
                    order.status.as_str()
                )));
            }
            if !order.tenders.is_empty() {
                return Err(Error::Conflict("an order with payments cannot be edited; refund first".into()));
            }
            let states = item_states(ctx.conn)?;
            let priced = price(&pricing_ctx(&st, &menu, &states, &session), &req.lines)?;
            order.lines = priced.lines;
            recompute_totals(&mut order, &cfg);
            save(ctx, &mut order, recalled)?;
            ctx.log(ChangeV1::OrderUpserted { order: Box::new(order.clone()) })?;
            set_usage(ctx, &menu, id, &priced.usage, Some(session.staff.id), false, false)?;
            Ok(order)
        })
        .await?;
    Ok(Json(order))
}

/// A status move.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusMove {
    /// The new status (cancel and void have their own endpoints, which take a reason).
    pub status: OrderStatus,
}

/// Move an order along the state machine; a move it does not allow is 409. Kitchen staff may move
/// orders to preparing and ready; cashiers to accepted, ready, out for delivery and completed.
#[utoipa::path(post, path = "/api/v1/orders/{id}/status", tag = "orders", security(("pin_session" = [])), request_body = StatusMove,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 409, body = patty_protocol::ErrorBody), (status = 403, body = patty_protocol::ErrorBody)))]
async fn set_status(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<StatusMove>,
) -> Result<Json<Order>> {
    use OrderStatus::*;
    match req.status {
        Cancelled | Voided => {
            return Err(Error::Validation("use the cancel or void endpoint, which records a reason".into()));
        }
        Preparing => session.require(&[Role::Kitchen])?,
        Ready => session.require(&[Role::Kitchen, Role::Cashier])?,
        _ => session.require(&[Role::Cashier])?,
    }
    let by = session.staff.id;
    let menu = state.menu();
    let st = state.clone();
    let order = state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            // Taking an online order on checks its items as pricing does; its stock is taken by
            // the move itself, whichever status it moves to.
            let states = item_states(ctx.conn)?;
            check_can_take_on(&pricing_ctx(&st, &menu, &states, &session), &order)?;
            move_status(ctx, &menu, &mut order, recalled, StatusChange::by_staff(req.status, by, None))?;
            Ok(order)
        })
        .await?;
    Ok(Json(order))
}

/// Why an order is withdrawn.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    /// Why (1 to 200 characters).
    pub reason: String,
}

fn reason(r: &str) -> Result<String> {
    let r = r.trim();
    if r.is_empty() || r.chars().count() > 200 {
        return Err(Error::Validation("a reason of 1 to 200 characters is required".into()));
    }
    Ok(r.to_owned())
}

/// Cancel an order before preparation starts (cashier, manager); its stock goes back. An order
/// with payments must be refunded first.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("pin_session" = [])), request_body = Withdraw,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 409, body = patty_protocol::ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<Withdraw>,
) -> Result<Json<Order>> {
    session.require(&[Role::Cashier])?;
    let why = reason(&req.reason)?;
    let menu = state.menu();
    let by = session.staff.id;
    let order = state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            if order.paid != 0 {
                return Err(Error::Conflict(
                    "this order has payments: refund them first, or ask a manager to void it".into(),
                ));
            }
            move_status(
                ctx,
                &menu,
                &mut order,
                recalled,
                StatusChange::by_staff(OrderStatus::Cancelled, by, Some(why)),
            )?;
            Ok(order)
        })
        .await?;
    Ok(Json(order))
}

/// Void an order (manager; audited). Stock goes back only if preparation had not started.
#[utoipa::path(post, path = "/api/v1/orders/{id}/void", tag = "orders", security(("pin_session" = [])), request_body = Withdraw,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 403, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
async fn void(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<Withdraw>,
) -> Result<Json<Order>> {
    session.require_manager()?;
    let why = reason(&req.reason)?;
    let menu = state.menu();
    let by = session.staff.id;
    let order = state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            move_status(
                ctx,
                &menu,
                &mut order,
                recalled,
                StatusChange::by_staff(OrderStatus::Voided, by, Some(why.clone())),
            )?;
            crate::audit::record(
                ctx,
                by,
                "void",
                &id.to_string(),
                &format!("order {} total {}: {why}", order.number, order.total),
            )?;
            Ok(order)
        })
        .await?;
    Ok(Json(order))
}

/// What an amendment to an order appends to the change log.
enum Logged {
    /// A tender was applied (or a refund given).
    Tender(Tender),
    /// The order's content changed: log it whole.
    Order,
}

/// A manager's action to record in the audit trail: (action, detail).
type Audit = Option<(&'static str, String)>;

/// Loads order `id` and lets `amend` change it; then recomputes its totals, saves it, and logs the
/// change (and the audit entry, if any), all in one write.
async fn amend_order(
    state: &AppState,
    id: OrderId,
    by: StaffId,
    amend: impl FnOnce(&mut WriteCtx<'_>, &mut Order) -> Result<(Logged, Audit)> + Send + 'static,
) -> Result<Order> {
    let cfg = state.config.outlet.clone();
    state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            let (logged, audit) = amend(ctx, &mut order)?;
            recompute_totals(&mut order, &cfg);
            save(ctx, &mut order, recalled)?;
            ctx.log(match logged {
                Logged::Tender(tender) => ChangeV1::TenderAdded { order_id: id, tender },
                Logged::Order => ChangeV1::OrderUpserted { order: Box::new(order.clone()) },
            })?;
            if let Some((action, detail)) = audit {
                crate::audit::record(ctx, by, action, &id.to_string(), &detail)?;
            }
            Ok(order)
        })
        .await
}

/// A payment to apply.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewTender {
    /// Cash handed over; change is computed.
    Cash {
        /// Cash handed over, minor units.
        tendered: i64,
    },
    /// A card payment the external terminal approved.
    Card {
        /// Amount approved, minor units (at most the balance).
        amount: i64,
        /// The terminal's reference.
        reference: String,
        /// Card brand, if reported.
        #[serde(default)]
        brand: Option<String>,
        /// Last four digits, if reported.
        #[serde(default)]
        last4: Option<String>,
    },
}

/// Apply a tender (cashier, manager): cash with change due, a card as reported by the terminal,
/// several for a split payment.
#[utoipa::path(post, path = "/api/v1/orders/{id}/tenders", tag = "orders", security(("pin_session" = [])), request_body = NewTender,
    params(("id" = String, Path, description = "order id")),
    responses((status = 201, body = Order), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn add_tender(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<NewTender>,
) -> Result<(StatusCode, Json<Order>)> {
    session.require(&[Role::Cashier])?;
    let by = session.staff.id;
    let order = amend_order(&state, id, by, move |ctx, order| {
        if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Voided) {
            return Err(Error::Conflict(format!("the order is {}", order.status.as_str())));
        }
        let due = order.balance_due();
        if due <= 0 {
            return Err(Error::Conflict("the order is already paid".into()));
        }
        let (amount, kind) = match req {
            NewTender::Cash { tendered } if (1..=100_000_000).contains(&tendered) => {
                let amount = tendered.min(due);
                (amount, TenderKind::Cash { tendered, change: tendered - amount })
            }
            NewTender::Cash { .. } => {
                return Err(Error::Validation("cash tendered must be positive".into()));
            }
            NewTender::Card { amount, .. } if amount <= 0 || amount > due => {
                return Err(Error::Validation(format!("a card amount must be 1 to the balance due ({due})")));
            }
            NewTender::Card { reference, .. } if reference.trim().is_empty() || reference.len() > 100 => {
                return Err(Error::Validation(
                    "a card payment needs the terminal's reference (1 to 100 characters)".into(),
                ));
            }
            NewTender::Card { last4: Some(l), .. } if l.len() != 4 || !l.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(Error::Validation("last4 is four digits".into()));
            }
            NewTender::Card { amount, reference, brand, last4 } => {
                (amount, TenderKind::Card { reference: reference.trim().to_owned(), brand, last4 })
            }
        };
        let tender = Tender { id: TenderId::new(), amount, kind, staff_id: Some(by), at_ms: ctx.now_ms };
        order.tenders.push(tender.clone());
        Ok((Logged::Tender(tender), None))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// Money to give back.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// Amount, minor units, at most what was paid.
    pub amount: i64,
    /// Why.
    pub reason: String,
}

/// Refund part or all of what was paid (manager; audited).
#[utoipa::path(post, path = "/api/v1/orders/{id}/refunds", tag = "orders", security(("pin_session" = [])), request_body = NewRefund,
    params(("id" = String, Path, description = "order id")),
    responses((status = 201, body = Order), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn refund(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<NewRefund>,
) -> Result<(StatusCode, Json<Order>)> {
    session.require_manager()?;
    let why = reason(&req.reason)?;
    let by = session.staff.id;
    let order = amend_order(&state, id, by, move |ctx, order| {
        if req.amount <= 0 || req.amount > order.paid {
            return Err(Error::Validation(format!("a refund must be 1 to what was paid ({})", order.paid)));
        }
        let tender = Tender {
            id: TenderId::new(),
            amount: -req.amount,
            kind: TenderKind::Refund { reason: why.clone() },
            staff_id: Some(by),
            at_ms: ctx.now_ms,
        };
        order.tenders.push(tender.clone());
        Ok((Logged::Tender(tender), Some(("refund", format!("{}: {why}", req.amount)))))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// A discount to grant.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDiscount {
    /// A fixed amount off, minor units.
    #[serde(default)]
    pub amount: Option<i64>,
    /// Or a percentage of the subtotal, in basis points (10% = 1000).
    #[serde(default)]
    pub percent_bp: Option<u32>,
    /// Why.
    pub reason: String,
}

/// Grant a discount on an unpaid order (manager; audited).
#[utoipa::path(post, path = "/api/v1/orders/{id}/discounts", tag = "orders", security(("pin_session" = [])), request_body = NewDiscount,
    params(("id" = String, Path, description = "order id")),
    responses((status = 201, body = Order), (status = 403, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
async fn discount(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<NewDiscount>,
) -> Result<(StatusCode, Json<Order>)> {
    session.require_manager()?;
    let why = reason(&req.reason)?;
    let by = session.staff.id;
    let order = amend_order(&state, id, by, move |_ctx, order| {
        if order.status.is_final() || order.paid != 0 {
            return Err(Error::Conflict("discounts go on open, unpaid orders".into()));
        }
        let already: i64 = order.discounts.iter().map(|d| d.amount).sum();
        let room = order.subtotal - already;
        let amount = match (req.amount, req.percent_bp) {
            (Some(a), None) => a,
            (None, Some(bp)) if bp <= 10_000 => apply_basis_points(order.subtotal, bp),
            _ => {
                return Err(Error::Validation("give either amount or percent_bp (at most 10000)".into()));
            }
        };
        if amount <= 0 || amount > room {
            return Err(Error::Validation(format!("a discount must be 1 to what is left of the subtotal ({room})")));
        }
        order.discounts.push(Discount { amount, reason: why.clone(), by });
        Ok((Logged::Order, Some(("discount", format!("{amount}: {why}")))))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// Which orders to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<OrderStatus>,
    /// Taken at or after this time (RFC 3339).
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Taken before this time (RFC 3339).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Most to return, newest first (default 50, at most 500).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Search orders by time and status, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("pin_session" = [])), params(OrderQuery),
    responses((status = 200, body = Vec<Order>), (status = 400, body = patty_protocol::ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<OrderQuery>,
) -> Result<Json<Vec<Order>>> {
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 50, 500)?;
    let from = q.from.map_or(i64::MIN, |t| t.timestamp_millis());
    let to = q.to.map_or(i64::MAX, |t| t.timestamp_millis());
    if from > to {
        return Err(Error::Validation("`from` must not be after `to`".into()));
    }
    let status = q.status.map(|s| s.as_str());
    let orders = state
        .store
        .read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT doc FROM orders WHERE created_ms >= ?1 AND created_ms < ?2 AND (?3 IS NULL OR status = ?3)
                 ORDER BY created_ms DESC LIMIT ?4",
            )?;
            let docs = st.query_map(params![from, to, status, limit], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for d in docs {
                out.push(serde_json::from_str(&d?)?);
            }
            Ok(out)
        })
        .await?;
    Ok(Json(orders))
}

/// A receipt.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The order.
    pub order: Order,
    /// The receipt as printed (monospace, 40 columns).
    pub text: String,
}

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.unsigned_abs() / 100, minor.unsigned_abs() % 100)
}

/// Renders a 40-column receipt.
pub fn receipt_text(o: &Order, cfg: &OutletConfig) -> String {
    use std::fmt::Write;
    let row = |left: &str, right: &str| {
        let width = 40usize.saturating_sub(right.chars().count()).max(1);
        let left: String = left.chars().take(width - 1).collect();
        format!("{left:<width$}{right}\n")
    };
    let local = DateTime::<Utc>::from_timestamp_millis(o.created_ms).unwrap_or_default().with_timezone(&cfg.timezone);
    let mut t = format!("{:^40}\n", cfg.name);
    let _ = writeln!(t, "Order {} · {:?} · {}", o.number, o.fulfilment, local.format("%Y-%m-%d %H:%M"));
    if let Some(a) = &o.delivery_address {
        let _ = writeln!(t, "Deliver to {}, {} {}", a.line1, a.postcode, a.city);
    }
    t.push_str(&"-".repeat(40));
    t.push('\n');
    for l in &o.lines {
        let name = match &l.variant_name {
            Some(v) => format!("{} x {} ({v})", l.quantity, l.name),
            None => format!("{} x {}", l.quantity, l.name),
        };
        t.push_str(&row(&name, &money(l.line_total)));
        for m in &l.modifiers {
            let _ = writeln!(
                t,
                "    + {}{}",
                m.name,
                if m.quantity > 1 { format!(" x{}", m.quantity) } else { String::new() }
            );
        }
        if !l.notes.is_empty() {
            let _ = writeln!(t, "    \"{}\"", l.notes);
        }
    }
    t.push_str(&"-".repeat(40));
    t.push('\n');
    t.push_str(&row("Subtotal", &money(o.subtotal)));
    for d in &o.discounts {
        t.push_str(&row(&format!("Discount ({})", d.reason), &money(-d.amount)));
    }
    if o.delivery_fee > 0 {
        t.push_str(&row("Delivery", &money(o.delivery_fee)));
    }
    let pct = format!("{}.{:02}%", cfg.tax_rate_bp / 100, cfg.tax_rate_bp % 100);
    let tax_label = if cfg.prices_include_tax { format!("Tax included ({pct})") } else { format!("Tax ({pct})") };
    t.push_str(&row(&tax_label, &money(o.tax)));
    t.push_str(&row(&format!("TOTAL {}", o.currency), &money(o.total)));
    for td in &o.tenders {
        match &td.kind {
            TenderKind::Cash { tendered, change } => {
                t.push_str(&row("Cash", &money(*tendered)));
                if *change > 0 {
                    t.push_str(&row("Change", &money(*change)));
                }
            }
            TenderKind::Card { last4, brand, .. } => {
                let label =
                    format!("{} ****{}", brand.as_deref().unwrap_or("Card"), last4.as_deref().unwrap_or("????"));
                t.push_str(&row(&label, &money(td.amount)));
            }
            TenderKind::Refund { reason } => t.push_str(&row(&format!("Refund ({reason})"), &money(td.amount))),
        }
    }
    if o.balance_due() > 0 {
        t.push_str(&row("BALANCE DUE", &money(o.balance_due())));
    }
    if matches!(o.status, OrderStatus::Cancelled | OrderStatus::Voided) {
        let _ = writeln!(t, "*** {} ***", o.status.as_str().to_uppercase());
    }
    t
}

/// An order's receipt.
#[utoipa::path(get, path = "/api/v1/orders/{id}/receipt", tag = "orders", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Receipt), (status = 404, body = patty_protocol::ErrorBody)))]
async fn receipt(State(state): State<AppState>, _session: Session, Path(id): Path<OrderId>) -> Result<Json<Receipt>> {
    let order = state.store.read(move |c| load(c, id)).await?.0;
    let text = receipt_text(&order, &state.config.outlet);
    Ok(Json(Receipt { order, text }))
}

/// The order routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, search))
        .routes(routes!(get_one))
        .routes(routes!(edit_lines))
        .routes(routes!(set_status))
        .routes(routes!(cancel))
        .routes(routes!(void))
        .routes(routes!(add_tender))
        .routes(routes!(refund))
        .routes(routes!(discount))
        .routes(routes!(receipt))
}
