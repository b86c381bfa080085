//! Customer ordering: browse an outlet's published menu with live availability, quote a basket,
//! place an order with an idempotency key, order history, cancel before the outlet accepts, and a
//! live status stream of one's own order. Outlet staff accept and advance their outlet's orders.

use crate::catalog;
use crate::events::{self, Topic};
use crate::infra::access::{Principal, Role};
use crate::infra::db::{Backend, Db, is_unique_violation, now_ms};
use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::state::Shared;
use crate::infra::vault::Vault;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use geo::Contains;
use patty_protocol::ids::{OrderId, OutletId};
use patty_protocol::menu::{Category, Item, Menu};
use patty_protocol::order::{Channel, DeliveryAddress, Fulfilment, NewLine, Order, OrderStatus, transition};
use patty_protocol::outlet::{Outlet, OutletStatus};
use patty_protocol::pricing::{PricingCtx, price};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most lines and portions an online order may have.
/// What the ordering handlers use.
#[derive(Clone)]
pub struct OrderingState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The latest published catalog (prices).
    pub catalog: crate::catalog::Latest,
    /// Outlets as last read (status, hours).
    pub outlets: crate::outlets::Recent,
}
crate::shared_state!(OrderingState);

const MAX_LINES: usize = 50;
const MAX_QUANTITY: u32 = 20;

/// An item on an outlet's menu, with whether it can be ordered now.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutletMenuItem {
    /// The item, priced for this outlet.
    #[serde(flatten)]
    pub item: Item,
    /// Orderable now (inside its availability window).
    pub available: bool,
}

/// An outlet's menu as customers see it.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutletMenu {
    /// The outlet.
    pub outlet: Outlet,
    /// The catalog version.
    pub version: i64,
    /// Whether the outlet takes orders now.
    pub open_now: bool,
    /// Categories in display order.
    pub categories: Vec<Category>,
    /// Items.
    pub items: Vec<OutletMenuItem>,
}

async fn published_menu(state: &OrderingState, outlet: &Outlet) -> Result<(i64, Menu)> {
    let published = catalog::latest(&state.db, &state.catalog)
        .await?
        .ok_or_else(|| Error::Unavailable("no menu has been published yet".into()))?;
    Ok((published.version, published.catalog.menu_for(outlet.id)))
}

/// An outlet's published menu with live availability (anyone).
#[utoipa::path(get, path = "/api/v1/outlets/{id}/menu", tag = "ordering", params(("id" = String, Path, description = "outlet id")),
    responses((status = 200, body = OutletMenu), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
async fn outlet_menu(State(state): State<OrderingState>, Path(id): Path<OutletId>) -> Result<Json<OutletMenu>> {
    let outlet = crate::outlets::load(&state.db, id).await?;
    let (version, menu) = published_menu(&state, &outlet).await?;
    let now = Utc::now();
    let mut categories = menu.categories.clone();
    categories.sort_by_key(|c| (c.position, c.name.clone()));
    let items = menu
        .items
        .into_iter()
        .map(|item| OutletMenuItem { available: item.is_in_window(now, outlet.timezone), item })
        .collect();
    let open_now = outlet.status == OutletStatus::Active && outlet.is_open_at(now);
    Ok(Json(OutletMenu { outlet, version, open_now, categories, items }))
}

/// A basket to quote or order.
#[derive(Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Basket {
    /// The outlet.
    #[schema(value_type = String)]
    pub outlet_id: OutletId,
    /// Delivery or takeaway (collected).
    pub fulfilment: Fulfilment,
    /// For delivery: one of the customer's saved addresses.
    #[serde(default)]
    pub address_id: Option<String>,
    /// The lines, at least one.
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<NewLine>,
    /// Note for the outlet.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub notes: String,
}

/// Prices and validates a basket: outlet open, address inside the delivery zone, items available,
/// modifiers within limits. Returns the order it would be (not stored).
async fn build(state: &OrderingState, customer: &str, basket: &Basket) -> Result<Order> {
    if basket.fulfilment == Fulfilment::DineIn {
        return Err(Error::Validation("online orders are delivered or collected".into()));
    }
    if basket.notes.chars().count() > 500 {
        return Err(Error::Validation("notes are at most 500 characters".into()));
    }
    let outlet = crate::outlets::load_recent(&state.db, &state.outlets, basket.outlet_id).await?;
    let now = Utc::now();
    if outlet.status != OutletStatus::Active || !outlet.is_open_at(now) {
        return Err(Error::Unavailable(format!("{} is not taking orders now", outlet.name)));
    }
    let delivery_address = match (basket.fulfilment, &basket.address_id) {
        (Fulfilment::Delivery, None) => return Err(Error::Validation("a delivery needs an address_id".into())),
        (Fulfilment::Delivery, Some(id)) => {
            let a = crate::customers::load_address(state, customer, id).await?;
            let zone = geo::Polygon::new(
                geo::LineString::from(outlet.delivery_zone.iter().map(|[x, y]| (*x, *y)).collect::<Vec<_>>()),
                vec![],
            );
            if !zone.contains(&geo::Point::new(a.position.lon, a.position.lat)) {
                return Err(Error::Unavailable(format!("{} does not deliver to {}", outlet.name, a.line1)));
            }
            Some(DeliveryAddress { line1: a.line1, city: a.city, postcode: a.postcode, position: a.position })
        }
        (_, Some(_)) => return Err(Error::Validation("an address is only for delivery".into())),
        (_, None) => None,
    };
    let (version, menu) = published_menu(state, &outlet).await?;
    let states = HashMap::new();
    let cx = PricingCtx {
        menu: &menu,
        states: &states,
        by: Default::default(),
        manager: false,
        now,
        zone: outlet.timezone,
        max_lines: MAX_LINES,
        max_quantity: MAX_QUANTITY,
    };
    if basket.lines.iter().any(|l| l.price_override.is_some()) {
        return Err(Error::Forbidden("customers cannot set prices".into()));
    }
    let priced = price(&cx, &basket.lines)?;
    let mut order = Order {
        id: OrderId::new(),
        outlet_id: outlet.id,
        number: 0,
        channel: Channel::Online,
        fulfilment: basket.fulfilment,
        status: OrderStatus::Placed,
        lines: priced.lines,
        notes: basket.notes.trim().to_owned(),
        currency: menu.currency,
        subtotal: 0,
        discounts: vec![],
        delivery_fee: if basket.fulfilment == Fulfilment::Delivery { outlet.delivery_fee } else { 0 },
        tax: 0,
        total: 0,
        tenders: vec![],
        paid: 0,
        staff_id: None,
        created_ms: now.timestamp_millis(),
        updated_ms: now.timestamp_millis(),
        closed_reason: None,
        closed_by: None,
        customer_id: Some(customer.to_owned()),
        delivery_address,
        catalog_version: Some(version as u64),
    };
    order.recompute_totals(outlet.tax_rate_bp, outlet.prices_include_tax);
    Ok(order)
}

/// Quote a basket: prices, tax, delivery fee, total (customer). Nothing is stored.
#[utoipa::path(post, path = "/api/v1/quotes", tag = "ordering", security(("bearer" = [])), request_body = Basket,
    responses((status = 200, body = Order), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn quote(State(state): State<OrderingState>, who: Principal, Json(basket): Json<Basket>) -> Result<Json<Order>> {
    who.require(&[Role::Customer])?;
    Ok(Json(build(&state, &who.subject, &basket).await?))
}

async fn load(db: &Db, id: OrderId) -> Result<Order> {
    let row = sqlx::query("SELECT doc FROM orders WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no order {id}")))?;
    Ok(serde_json::from_str(&row.try_get::<String, _>("doc")?)?)
}

/// A customer's orders, newest first.
pub async fn of_customer(db: &Db, customer: &str, limit: i64) -> Result<Vec<Order>> {
    let rows = sqlx::query("SELECT doc FROM orders WHERE customer_id = $1 ORDER BY created_ms DESC LIMIT $2")
        .bind(customer)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect()
}

/// Refuses unless `who` may see `order`: its customer, its outlet's staff, or HQ.
fn may_see(who: &Principal, order: &Order) -> Result<()> {
    let mine = who.role == Role::Customer && order.customer_id.as_deref() == Some(who.subject.as_str());
    let outlet = matches!(who.role, Role::OutletStaff | Role::OutletManager | Role::Edge)
        && who.outlet_id == Some(order.outlet_id);
    if mine || outlet || who.role == Role::HqAdmin {
        Ok(())
    } else {
        // Not 403: whether someone else's order exists is not the caller's business.
        Err(Error::NotFound(format!("no order {}", order.id)))
    }
}

/// Place an order (customer). Requires an `Idempotency-Key` header: a retry returns the first
/// order (200, `Idempotent-Replayed: true`) and never places a second.
#[utoipa::path(post, path = "/api/v1/orders", tag = "ordering", security(("bearer" = [])), request_body = Basket,
    params(("Idempotency-Key" = String, Header, description = "unique per order attempt; retries reuse it", min_length = 1, max_length = 128, pattern = "^[!-~]+$")),
    responses((status = 201, body = Order), (status = 200, body = Order), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn place(
    State(state): State<OrderingState>,
    who: Principal,
    headers: HeaderMap,
    Json(basket): Json<Basket>,
) -> Result<Response> {
    who.require(&[Role::Customer])?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            Error::Validation("an Idempotency-Key header of 1 to 128 visible ASCII characters is required".into())
        })?
        .to_owned();
    let hash = patty_service::secret::digest(&[&serde_json::to_vec(&basket)?]);
    // The happy path asks nothing extra: a retry is found by the unique index on insert, or, if
    // the basket no longer validates (the outlet closed since), by looking before failing.
    let order = match build(&state, &who.subject, &basket).await {
        Ok(order) => order,
        Err(e) => {
            return match replay(&state.db, &who.subject, &key, &hash).await? {
                Some(earlier) => Ok(replayed(earlier)),
                None => Err(e),
            };
        }
    };
    let inserted = match state.db.backend {
        Backend::Postgres => insert_placed_postgres(&state.db, &state.vault, &order, &who.subject, &key, &hash).await,
        Backend::Sqlite => insert_placed(&state.db, &state.vault, &order, &who.subject, &key, &hash).await,
    };
    match inserted {
        Err(Error::Db(e)) if is_unique_violation(&e) => {
            // A retry, or a twin request with the same key that won the race.
            let earlier = replay(&state.db, &who.subject, &key, &hash)
                .await?
                .ok_or_else(|| Error::Internal("idempotency race".into()))?;
            return Ok(replayed(earlier));
        }
        r => r?,
    };
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

/// The `order.placed` event of `order`, its personal fields sealed, for its outlet.
async fn placed_event(conn: &mut sqlx::AnyConnection, vault: &Vault, order: &Order) -> Result<events::NewEvent> {
    let (data, key) = (serde_json::to_value(order)?, order.id.to_string());
    let e =
        events::NewEvent::about(conn, vault, order.customer_id.as_deref(), Topic::Order, &key, "order.placed", data);
    Ok(e.await?.down_to(order.outlet_id))
}

/// Inserts a placed order, its `order.placed` event and the customer's activity in one transaction.
async fn insert_placed(db: &Db, vault: &Vault, order: &Order, customer: &str, key: &str, hash: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO orders (id, customer_id, outlet_id, status, idempotency_key, request_hash, created_ms, updated_ms, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(order.id.to_string())
    .bind(customer)
    .bind(order.outlet_id.to_string())
    .bind(order.status.as_str())
    .bind(key)
    .bind(hash)
    .bind(order.created_ms)
    .bind(serde_json::to_string(order)?)
    .execute(&mut *tx)
    .await?;
    placed_event(&mut tx, vault, order).await?.insert(&mut tx).await?;
    crate::identity::log_activity(&mut tx, customer, "order_placed", &order.id.to_string()).await?;
    tx.commit().await?;
    Ok(())
}

/// The same three inserts as [`insert_placed`] in one PostgreSQL statement (data-modifying CTEs):
/// one round trip, atomic by itself, instead of five. This is the hottest write path.
async fn insert_placed_postgres(
    db: &Db,
    vault: &Vault,
    order: &Order,
    customer: &str,
    key: &str,
    hash: &str,
) -> Result<()> {
    let id = order.id.to_string();
    // The customer's key is made (once) on a connection of its own: an unused key is harmless.
    let e = placed_event(&mut *db.pool.acquire().await?, vault, order).await?;
    let sql = format!(
        "WITH o AS (INSERT INTO orders (id, customer_id, outlet_id, status, idempotency_key, request_hash, created_ms, updated_ms, doc)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)),
              e AS ({})
         INSERT INTO activity (user_id, at_ms, kind, detail) VALUES ($2, $7, 'order_placed', $1)",
        events::outbox::insert_sql(9, 1)
    );
    let q = sqlx::query(&sql)
        .bind(&id)
        .bind(customer)
        .bind(order.outlet_id.to_string())
        .bind(order.status.as_str())
        .bind(key)
        .bind(hash)
        .bind(order.created_ms)
        .bind(serde_json::to_string(order)?);
    e.bind(q).execute(&db.pool).await?;
    // One statement outside a transaction: it committed by itself, so the relay is told here.
    db.committed_alone();
    Ok(())
}

async fn replay(db: &Db, customer: &str, key: &str, hash: &str) -> Result<Option<Order>> {
    let row = sqlx::query("SELECT request_hash, doc FROM orders WHERE customer_id = $1 AND idempotency_key = $2")
        .bind(customer)
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<String, _>("request_hash")? != hash {
        return Err(Error::Conflict("this Idempotency-Key was used for a different order".into()));
    }
    Ok(Some(serde_json::from_str(&row.try_get::<String, _>("doc")?)?))
}

fn replayed(order: Order) -> Response {
    let mut r = (StatusCode::OK, Json(order)).into_response();
    r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

/// History paging.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Most to return, newest first (default 50, at most 500).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// My orders, newest first (customer).
#[utoipa::path(get, path = "/api/v1/orders", tag = "ordering", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Vec<Order>)))]
async fn history(
    State(state): State<OrderingState>,
    who: Principal,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<Order>>> {
    who.require(&[Role::Customer])?;
    Ok(Json(of_customer(&state.db, &who.subject, patty_service::http::page_limit(q.limit, 50, 500)?).await?))
}

/// One order (its customer, its outlet's staff, HQ).
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "ordering", security(("bearer" = [])), params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 404, body = patty_protocol::ErrorBody)))]
async fn get_one(State(state): State<OrderingState>, who: Principal, Path(id): Path<OrderId>) -> Result<Json<Order>> {
    let order = load(&state.db, id).await?;
    may_see(&who, &order)?;
    Ok(Json(order))
}

/// Moves `id` to `to` if the state machine allows it, in one transaction with its event. The
/// status check is in the UPDATE itself, so a racing move (a customer's cancel against the
/// outlet's accept) has exactly one winner; the loser gets 409.
pub(crate) async fn move_order(
    state: &Shared,
    id: OrderId,
    to: OrderStatus,
    reason: Option<String>,
    tell_outlet: bool,
    check: impl Fn(&Order) -> Result<()>,
) -> Result<Order> {
    let mut order = load(&state.db, id).await?;
    check(&order)?;
    let from = order.status;
    transition(from, to, order.fulfilment).map_err(|e| Error::Conflict(e.to_string()))?;
    order.status = to;
    order.updated_ms = now_ms();
    if matches!(to, OrderStatus::Cancelled | OrderStatus::Voided) {
        order.closed_reason = reason;
    }
    let mut tx = state.db.begin().await?;
    let moved = sqlx::query("UPDATE orders SET status = $1, updated_ms = $2, doc = $3 WHERE id = $4 AND status = $5")
        .bind(to.as_str())
        .bind(order.updated_ms)
        .bind(serde_json::to_string(&order)?)
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
    if moved.rows_affected() != 1 {
        return Err(Error::Conflict("the order changed meanwhile; reload it".into()));
    }
    let kind = format!("order.{}", to.as_str());
    let event = events::NewEvent::about(
        &mut tx,
        &state.vault,
        order.customer_id.as_deref(),
        Topic::Order,
        &id.to_string(),
        &kind,
        serde_json::json!({ "order_id": id, "from": from, "to": to, "order": order }),
    )
    .await?;
    if tell_outlet { event.down_to(order.outlet_id) } else { event }.insert(&mut tx).await?;
    tx.commit().await?;
    Ok(order)
}

/// Why a customer cancels.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why (optional).
    #[serde(default)]
    pub reason: String,
}

/// Cancel my order before the outlet accepts it (customer). Once accepted, 409.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "ordering", security(("bearer" = [])), request_body = CancelRequest,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
async fn cancel(
    State(state): State<OrderingState>,
    who: Principal,
    Path(id): Path<OrderId>,
    Json(req): Json<CancelRequest>,
) -> Result<Json<Order>> {
    who.require(&[Role::Customer])?;
    let reason = Some(if req.reason.trim().is_empty() {
        "cancelled by the customer".to_owned()
    } else {
        req.reason.trim().chars().take(200).collect()
    });
    let order = move_order(&state, id, OrderStatus::Cancelled, reason, true, |o| {
        if o.customer_id.as_deref() != Some(who.subject.as_str()) {
            return Err(Error::NotFound(format!("no order {id}")));
        }
        if o.status != OrderStatus::Placed {
            return Err(Error::Conflict(
                "the outlet has accepted this order; it can no longer be cancelled online".into(),
            ));
        }
        Ok(())
    })
    .await?;
    Ok(Json(order))
}

/// A status move by the outlet.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutletMove {
    /// The new status.
    pub status: OrderStatus,
    /// Why, for a cancel or void.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Move one of the outlet's orders along the state machine: accept, prepare, ready, out for
/// delivery, complete, or (with a reason) cancel or void (outlet staff and managers of that
/// outlet, its edge node, HQ).
#[utoipa::path(post, path = "/api/v1/outlets/{outlet}/orders/{id}/status", tag = "ordering", security(("bearer" = [])), request_body = OutletMove,
    params(("outlet" = String, Path, description = "outlet id"), ("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 403, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
async fn outlet_move(
    State(state): State<OrderingState>,
    who: Principal,
    Path((outlet, id)): Path<(OutletId, OrderId)>,
    Json(req): Json<OutletMove>,
) -> Result<Json<Order>> {
    who.require_outlet(&[Role::OutletStaff, Role::OutletManager, Role::Edge], outlet)?;
    if matches!(req.status, OrderStatus::Cancelled | OrderStatus::Voided)
        && req.reason.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(Error::Validation("a cancel or void needs a reason".into()));
    }
    if req.status == OrderStatus::Voided && who.role == Role::OutletStaff {
        return Err(Error::Forbidden("only a manager may void".into()));
    }
    let order = move_order(&state, id, req.status, req.reason, false, |o| {
        if o.outlet_id == outlet { Ok(()) } else { Err(Error::NotFound(format!("no order {id} at this outlet"))) }
    })
    .await?;
    Ok(Json(order))
}

/// Which of an outlet's orders to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderSearch {
    /// Most to return, newest first (default 50, at most 500).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only orders in this status.
    #[serde(default)]
    pub status: Option<OrderStatus>,
    /// Only the order with this number.
    #[serde(default)]
    #[param(minimum = 0, maximum = 2_147_483_647)]
    pub number: Option<i32>,
    /// Only orders whose lines, notes or address contain this text (case-insensitive, at most
    /// 100 characters).
    #[serde(default)]
    #[param(max_length = 100)]
    pub text: Option<String>,
    /// Only orders taken at or after this time, Unix ms.
    #[serde(default)]
    pub from_ms: Option<i64>,
    /// Only orders taken before this time, Unix ms.
    #[serde(default)]
    pub to_ms: Option<i64>,
}

/// The outlet's orders, from every channel, newest first, searched by status, number, text and
/// time, over its whole history (that outlet's staff, HQ).
#[utoipa::path(get, path = "/api/v1/outlets/{outlet}/orders", tag = "ordering", security(("bearer" = [])), params(("outlet" = String, Path, description = "outlet id"), OrderSearch),
    responses((status = 200, body = Vec<Order>), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn outlet_orders(
    State(state): State<OrderingState>,
    who: Principal,
    Path(outlet): Path<OutletId>,
    Query(q): Query<OrderSearch>,
) -> Result<Json<Vec<Order>>> {
    who.require_outlet(&[Role::OutletStaff, Role::OutletManager, Role::Edge], outlet)?;
    let status = q.status;
    if q.number.is_some_and(|n| n < 0) {
        return Err(Error::Validation("an order number is 0 or more".into()));
    }
    if q.text.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(Error::Validation("the search text is at most 100 characters".into()));
    }
    let text = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase);
    if let (Some(from), Some(to)) = (q.from_ms, q.to_ms)
        && from > to
    {
        return Err(Error::Validation("from_ms must not be after to_ms".into()));
    }
    // Each filter given adds a condition, its `?` numbered in turn; the number and the text are
    // matched in the stored document (serialised the same way every time).
    enum Bind {
        Text(String),
        Int(i64),
    }
    let mut conds: Vec<(&str, Bind)> = vec![];
    if let Some(st) = status {
        conds.push(("status = ?", Bind::Text(st.as_str().to_owned())));
    }
    if let Some(n) = q.number {
        conds.push(("doc LIKE ?", Bind::Text(format!("%\"number\":{n},%"))));
    }
    if let Some(t) = &text {
        let escaped = t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        conds.push(("LOWER(doc) LIKE ? ESCAPE '\\'", Bind::Text(format!("%{escaped}%"))));
    }
    if let Some(t) = q.from_ms {
        conds.push(("created_ms >= ?", Bind::Int(t)));
    }
    if let Some(t) = q.to_ms {
        conds.push(("created_ms < ?", Bind::Int(t)));
    }
    let mut sql = String::from("SELECT doc FROM orders WHERE outlet_id = $1");
    for (i, (cond, _)) in conds.iter().enumerate() {
        sql.push_str(&format!(" AND {}", cond.replace('?', &format!("${}", i + 2))));
    }
    sql.push_str(&format!(" ORDER BY created_ms DESC LIMIT ${}", conds.len() + 2));
    let mut query = sqlx::query(&sql).bind(outlet.to_string());
    for (_, bind) in conds {
        query = match bind {
            Bind::Text(t) => query.bind(t),
            Bind::Int(n) => query.bind(n),
        };
    }
    let rows = query.bind(patty_service::http::page_limit(q.limit, 50, 500)?).fetch_all(&state.db.pool).await?;
    Ok(Json(
        rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect::<Result<Vec<_>>>()?,
    ))
}

/// Live status of one order (Server-Sent Events: every event of the order, from placement on).
/// Its customer, its outlet's staff, HQ.
#[utoipa::path(get, path = "/api/v1/orders/{id}/stream", tag = "ordering", security(("bearer" = [])), params(("id" = String, Path, description = "order id")),
    responses((status = 200, description = "text/event-stream of the order's events", content_type = "text/event-stream"), (status = 404, body = patty_protocol::ErrorBody)))]
async fn stream(
    State(state): State<OrderingState>,
    who: Principal,
    Path(id): Path<OrderId>,
) -> Result<impl IntoResponse> {
    let order = load(&state.db, id).await?;
    may_see(&who, &order)?;
    Ok(events::follow(state.shared, 0, Some(id.to_string())))
}

/// Erasure: `customer`'s orders stay, as financial records, without the delivery address, notes
/// or any link to a person; they get a fresh opaque owner, so they stay apart from other erased
/// customers' orders but lead to no one. Refused while an order is still open (the kitchen and the
/// driver still need the address). Returns the orders erased, by outlet.
pub async fn erase_customer(
    conn: &mut sqlx::AnyConnection,
    customer: &str,
) -> Result<std::collections::BTreeMap<OutletId, Vec<OrderId>>> {
    let open = sqlx::query(
        "SELECT COUNT(*) AS n FROM orders WHERE customer_id = $1 AND status NOT IN ('completed', 'cancelled', 'voided')",
    )
    .bind(customer)
    .fetch_one(&mut *conn)
    .await?
    .try_get::<i64, _>("n")?;
    if open > 0 {
        return Err(Error::Conflict(format!(
            "{open} of your orders are still open; erasure is possible once they are delivered or cancelled"
        )));
    }
    let anonymous = format!("erased-{}", uuid::Uuid::now_v7());
    let rows =
        sqlx::query("SELECT id, doc FROM orders WHERE customer_id = $1").bind(customer).fetch_all(&mut *conn).await?;
    let mut by_outlet: std::collections::BTreeMap<OutletId, Vec<OrderId>> = Default::default();
    for r in rows {
        let mut order: Order = serde_json::from_str(&r.try_get::<String, _>("doc")?)?;
        order.erase_personal();
        by_outlet.entry(order.outlet_id).or_default().push(order.id);
        sqlx::query("UPDATE orders SET doc = $1, customer_id = $2 WHERE id = $3")
            .bind(serde_json::to_string(&order)?)
            .bind(&anonymous)
            .bind(r.try_get::<String, _>("id")?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(by_outlet)
}

/// The ordering routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    OrderingState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(outlet_menu))
        .routes(routes!(quote))
        .routes(routes!(place, history))
        .routes(routes!(get_one))
        .routes(routes!(cancel))
        .routes(routes!(stream))
        .routes(routes!(outlet_move))
        .routes(routes!(outlet_orders))
}
