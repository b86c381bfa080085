//! The orders' SQL and their writes: each public async function here is one write (or read) of
//! the store, running [`super::rules`] inside it and keeping what they decide, with the order's
//! stock moves, change-log entries, audit entries and live events in the same transaction.
//!
//! A write's closure answers in the store's error ([`Error`]); an [`OrderError`] turns into it
//! on the way out (the conversion is the HTTP layer's, in `http.rs`).

use super::error::OrderError;
use super::rules::{self, NewTender, StatusChange, Taking};
use crate::audit;
use crate::infra::config::OutletConfig;
use crate::infra::error::{Error, Result};
use crate::infra::events::Event;
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::{Store, WriteCtx};
use crate::inventory::{self, Move};
use crate::menu::{ItemState, PricingCtx, item_states, price};
use chrono::{DateTime, Utc};
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::{IngredientId, ItemId, OrderId, StaffId, TenderId};
use patty_protocol::inventory::MovementKind;
use patty_protocol::menu::Menu;
use patty_protocol::order::{DeliveryAddress, NewLine, NewOrder, Order, OrderStatus, StockEffect, Tender};
use patty_protocol::pricing::usage;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Reads an order and whether the kitchen recalled it.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub fn load(conn: &Connection, id: OrderId) -> Result<(Order, bool), OrderError> {
    let row: Option<(String, bool)> = conn
        .prepare_cached("SELECT doc, recalled FROM orders WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (doc, recalled) = row.ok_or(OrderError::NotFound(id))?;
    Ok((serde_json::from_str(&doc)?, recalled))
}

/// Writes an order's new state and publishes it on the live streams once committed.
#[tracing::instrument(skip_all, fields(order.id = %order.id))]
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

/// Moves an order's status along the state machine, takes or gives back its stock as
/// [`patty_protocol::order::stock_effect`] says (one place for every path: accept, start, bump,
/// cancel, void, the cloud's reports), logs it, and publishes it.
#[tracing::instrument(skip_all, fields(order.id = %order.id, to = m.to.as_str()))]
pub fn move_status(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    order: &mut Order,
    recalled: bool,
    m: StatusChange,
) -> Result<(), OrderError> {
    rules::check_move(order, m.to)?;
    apply_status(ctx, menu, order, recalled, m)
}

/// Sets an order's status with no state-machine check (the caller made it: [`move_status`], or
/// the forward-only merge of what the cloud reports), takes or gives back its stock, logs it, and
/// publishes it.
#[tracing::instrument(skip_all, fields(order.id = %order.id, to = m.to.as_str()))]
pub fn apply_status(
    ctx: &mut WriteCtx<'_>,
    menu: &Menu,
    order: &mut Order,
    recalled: bool,
    m: StatusChange,
) -> Result<(), OrderError> {
    let effect = rules::set_status(order, &m);
    let StatusChange { to, by, reason, taking } = m;
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
        .collect::<BTreeSet<_>>()
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
#[tracing::instrument(skip_all)]
pub fn next_number(ctx: &WriteCtx<'_>, cfg: &OutletConfig) -> Result<u32> {
    let at = DateTime::<Utc>::from_timestamp_millis(ctx.now_ms).unwrap_or_default();
    let key = format!("order_number:{}", patty_protocol::local::date_at(at, cfg.timezone));
    let n: i64 = ctx.conn.prepare_cached(
        "INSERT INTO counters (name, value) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
    )?
    .query_row([key], |r| r.get(0))?;
    Ok(n as u32)
}

/// What pricing needs to know, now, for `session` at this outlet.
pub(crate) fn pricing_ctx<'a>(
    state: &'a AppState,
    menu: &'a Menu,
    states: &'a HashMap<ItemId, ItemState>,
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

/// A checked request for a new order: the handler has refused what it can without the store.
pub struct Placement {
    /// The request as sent.
    pub req: NewOrder,
    /// Its `Idempotency-Key`.
    pub key: String,
    /// A digest of the request, to tell a retry from a different order under the same key.
    pub hash: String,
    /// The delivery address, checked.
    pub delivery_address: Option<DeliveryAddress>,
}

/// Takes an order, or finds the one an earlier try with the same key took: (the order, whether it
/// is a replay). Priced by the edge, numbered, logged, its stock taken and price overrides
/// audited, all in one write.
#[tracing::instrument(skip_all, fields(staff.id = %session.staff.id))]
pub async fn create(state: &AppState, session: Session, p: Placement) -> Result<(Order, bool)> {
    let Placement { req, key, hash, delivery_address } = p;
    let menu = state.menu();
    let cfg = state.config.outlet.clone();
    let st = state.clone();
    state
        .store
        .write(move |ctx| {
            let earlier: Option<(String, Option<String>)> = ctx
                .conn
                .prepare_cached("SELECT id, request_hash FROM orders WHERE idempotency_key = ?1")?
                .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((id, earlier_hash)) = earlier {
                if earlier_hash.as_deref() != Some(hash.as_str()) {
                    return Err(OrderError::KeyReused.into());
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
                audit::record(ctx, session.staff.id, "price_override", &order.id.to_string(), &detail)?;
            }
            ctx.emit(Event::Order { order: Arc::new(order.clone()), recalled: false });
            Ok((order, false))
        })
        .await
}

/// One order.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn get(store: &Store, id: OrderId) -> Result<Order> {
    Ok(store.read(move |c| Ok(load(c, id)?)).await?.0)
}

/// Replaces an order's lines before preparation starts; reprices it and adjusts its stock.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn edit_lines(state: &AppState, session: Session, id: OrderId, lines: Vec<NewLine>) -> Result<Order> {
    let menu = state.menu();
    let cfg = state.config.outlet.clone();
    let st = state.clone();
    state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            rules::check_editable(&order)?;
            let states = item_states(ctx.conn)?;
            let priced = price(&pricing_ctx(&st, &menu, &states, &session), &lines)?;
            order.lines = priced.lines;
            recompute_totals(&mut order, &cfg);
            save(ctx, &mut order, recalled)?;
            ctx.log(ChangeV1::OrderUpserted { order: Box::new(order.clone()) })?;
            set_usage(ctx, &menu, id, &priced.usage, Some(session.staff.id), false, false)?;
            Ok(order)
        })
        .await
}

/// Moves an order to `to` for `session`'s staff member (taking an online order on checks its
/// items as pricing does; its stock is taken by the move itself, whichever status it moves to).
#[tracing::instrument(skip_all, fields(order.id = %id, to = to.as_str()))]
pub async fn set_status(state: &AppState, session: Session, id: OrderId, to: OrderStatus) -> Result<Order> {
    let by = session.staff.id;
    let menu = state.menu();
    let st = state.clone();
    state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            let states = item_states(ctx.conn)?;
            rules::check_can_take_on(&pricing_ctx(&st, &menu, &states, &session), &order)?;
            move_status(ctx, &menu, &mut order, recalled, StatusChange::by_staff(to, by, None))?;
            Ok(order)
        })
        .await
}

/// Cancels an order with no payments; its stock goes back.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn cancel(state: &AppState, id: OrderId, by: StaffId, why: String) -> Result<Order> {
    let menu = state.menu();
    state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            rules::check_cancellable(&order)?;
            let m = StatusChange::by_staff(OrderStatus::Cancelled, by, Some(why));
            move_status(ctx, &menu, &mut order, recalled, m)?;
            Ok(order)
        })
        .await
}

/// Voids an order and audits it; stock goes back only if preparation had not started.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn void(state: &AppState, id: OrderId, by: StaffId, why: String) -> Result<Order> {
    let menu = state.menu();
    state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            let m = StatusChange::by_staff(OrderStatus::Voided, by, Some(why.clone()));
            move_status(ctx, &menu, &mut order, recalled, m)?;
            let detail = format!("order {} total {}: {why}", order.number, order.total);
            audit::record(ctx, by, "void", &id.to_string(), &detail)?;
            Ok(order)
        })
        .await
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
    amend: impl FnOnce(&mut WriteCtx<'_>, &mut Order) -> Result<(Logged, Audit), OrderError> + Send + 'static,
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
                audit::record(ctx, by, action, &id.to_string(), &detail)?;
            }
            Ok(order)
        })
        .await
}

/// Applies a tender taken by `by`.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn add_tender(state: &AppState, id: OrderId, by: StaffId, req: NewTender) -> Result<Order> {
    amend_order(state, id, by, move |ctx, order| {
        let tender = rules::tender(order, req, TenderId::new(), by, ctx.now_ms)?;
        order.tenders.push(tender.clone());
        Ok((Logged::Tender(tender), None))
    })
    .await
}

/// Gives back `amount` for `why` (audited).
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn refund(state: &AppState, id: OrderId, by: StaffId, amount: i64, why: String) -> Result<Order> {
    amend_order(state, id, by, move |ctx, order| {
        let tender = rules::refund(order, amount, &why, TenderId::new(), by, ctx.now_ms)?;
        order.tenders.push(tender.clone());
        Ok((Logged::Tender(tender), Some(("refund", format!("{amount}: {why}")))))
    })
    .await
}

/// Records on order `id` a refund given elsewhere (by the payment provider, through the cloud):
/// the negative `Refund` tender `tender`, once (an order that has a tender with its id already is
/// left as it is), logged as a tender like a refund at the till, and published.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub fn record_refund(ctx: &mut WriteCtx<'_>, cfg: &OutletConfig, id: OrderId, tender: Tender) -> Result<Order> {
    let (mut order, recalled) = load(ctx.conn, id)?;
    if order.tenders.iter().any(|t| t.id == tender.id) {
        return Ok(order);
    }
    order.tenders.push(tender.clone());
    recompute_totals(&mut order, cfg);
    save(ctx, &mut order, recalled)?;
    ctx.log(ChangeV1::TenderAdded { order_id: id, tender })?;
    Ok(order)
}

/// Grants a discount of `amount` or `percent_bp` for `why` (audited).
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn discount(
    state: &AppState,
    id: OrderId,
    by: StaffId,
    amount: Option<i64>,
    percent_bp: Option<u32>,
    why: String,
) -> Result<Order> {
    amend_order(state, id, by, move |_ctx, order| {
        let d = rules::discount(order, amount, percent_bp, &why, by)?;
        let detail = format!("{}: {why}", d.amount);
        order.discounts.push(d);
        Ok((Logged::Order, Some(("discount", detail))))
    })
    .await
}

/// Orders taken in `[from, to)` (Unix ms), of `status` if given, newest first, at most `limit`.
#[tracing::instrument(skip_all)]
pub async fn search(store: &Store, from: i64, to: i64, status: Option<&'static str>, limit: i64) -> Result<Vec<Order>> {
    store
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
        .await
}

/// Takes in an online order from the cloud as `placed` (once: a repeat is ignored).
#[tracing::instrument(skip_all, fields(order.id = %order.id))]
pub fn insert_online(ctx: &mut WriteCtx<'_>, cfg: &OutletConfig, mut order: Order) -> Result<()> {
    if order.outlet_id != ctx.origin() {
        tracing::warn!(order = %order.id, "an online order for another outlet; ignored");
        return Ok(());
    }
    let exists = ctx
        .conn
        .prepare_cached("SELECT 1 FROM orders WHERE id = ?1")?
        .query_row([order.id.to_string()], |_| Ok(()))
        .optional()?
        .is_some();
    if exists {
        return Ok(());
    }
    order.number = next_number(ctx, cfg)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO orders (id, number, status, created_ms, updated_ms, idempotency_key, request_hash, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
        )?
        .execute(params![
            order.id.to_string(),
            order.number,
            order.status.as_str(),
            order.created_ms,
            ctx.now_ms,
            format!("cloud:{}", order.id),
            serde_json::to_string(&order)?
        ])?;
    ctx.emit(Event::Order { order: Arc::new(order), recalled: false });
    Ok(())
}

/// The open orders (not completed, cancelled or voided), oldest first.
#[tracing::instrument(skip_all)]
pub fn open_orders(conn: &Connection) -> Result<Vec<Order>> {
    let open: Vec<String> = conn
        .prepare_cached(
            "SELECT doc FROM orders WHERE status NOT IN ('completed', 'cancelled', 'voided') ORDER BY created_ms",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    open.iter().map(|doc| Ok(serde_json::from_str(doc)?)).collect()
}

/// Blanks what order `id` says of its erased customer; false when there is no such order.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub fn erase_personal(ctx: &mut WriteCtx<'_>, id: OrderId) -> Result<bool> {
    let Ok((mut order, recalled)) = load(ctx.conn, id) else { return Ok(false) };
    order.erase_personal();
    save(ctx, &mut order, recalled)?;
    Ok(true)
}

/// The kitchen's tickets: orders still to prepare, and those recalled to the screen, oldest
/// first, each with its `recalled` flag.
#[tracing::instrument(skip_all)]
pub fn kitchen_queue(conn: &Connection) -> Result<Vec<(Order, bool)>> {
    let mut st = conn.prepare_cached(
        "SELECT doc, recalled FROM orders WHERE status IN ('placed', 'accepted', 'preparing') OR recalled = 1 ORDER BY created_ms",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (doc, recalled) = row?;
        out.push((serde_json::from_str(&doc)?, recalled));
    }
    Ok(out)
}

/// Orders taken in `[start, end)` (Unix ms), for the day's report.
#[tracing::instrument(skip_all)]
pub fn taken_between(c: &Connection, start: i64, end: i64) -> Result<Vec<Order>> {
    let mut st = c.prepare("SELECT doc FROM orders WHERE created_ms >= ?1 AND created_ms < ?2")?;
    let docs = st.query_map([start, end], |r| r.get::<_, String>(0))?;
    let mut out: Vec<Order> = Vec::new();
    for d in docs {
        out.push(serde_json::from_str(&d?)?);
    }
    Ok(out)
}
