//! Ordering over HTTP: an outlet's menu, quotes, placing with an idempotency key, history, one
//! order, cancel, the outlet's moves and search, and an order's live stream; their request and
//! response types. No SQL: the handlers call [`super::store`] and [`super::rules`].

use super::rules::{self, Ask};
use super::store::{self, Search};
use super::{OrderError, OrderingState};
use crate::catalog;
use crate::events;
use crate::infra::access::{Principal, Role};
use crate::infra::error::{Error, Json, Path, Query, Result};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use patty_protocol::ids::{OrderId, OutletId};
use patty_protocol::menu::{Category, Item, Menu};
use patty_protocol::order::{DeliveryAddress, Fulfilment, NewLine, Order, OrderStatus};
use patty_protocol::outlet::{Outlet, OutletStatus};
use serde::{Deserialize, Serialize};

impl From<OrderError> for Error {
    fn from(e: OrderError) -> Self {
        use OrderError as O;
        match e {
            O::NotFound(_) | O::NotAtOutlet(_) => Self::NotFound(e.to_string()),
            O::Changed | O::Transition(_) | O::AlreadyAccepted | O::StillOpen(_) | O::KeyReused => {
                Self::Conflict(e.to_string())
            }
            O::NoMenu | O::Closed(_) | O::OutsideZone { .. } => Self::Unavailable(e.to_string()),
            O::CustomerPrice | O::OnlyManagerVoids => Self::Forbidden(e.to_string()),
            O::Invalid(_) | O::NoIdempotencyKey => Self::Validation(e.to_string()),
            O::Pricing(e) => e.into(),
            O::Other(e) => e,
        }
    }
}

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
    let published = catalog::latest(&state.db, &state.catalog).await?.ok_or(OrderError::NoMenu)?;
    Ok((published.version, published.catalog.menu_for(outlet.id)))
}

/// An outlet's published menu with live availability (anyone).
#[utoipa::path(get, path = "/api/v1/outlets/{id}/menu", tag = "ordering", params(("id" = String, Path, description = "outlet id")),
    responses((status = 200, body = OutletMenu), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %id))]
pub async fn outlet_menu(State(state): State<OrderingState>, Path(id): Path<OutletId>) -> Result<Json<OutletMenu>> {
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
    /// How the order is paid (placing only; a quote ignores it). Default: a card through the
    /// chain's payment provider.
    #[serde(default)]
    pub payment: PayWith,
}

/// How an online order is paid.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayWith {
    /// `card` (a new card, confirmed in the provider's client), `saved` (a stored method,
    /// charged at once), `wallet` (the wallet alone) or `at_outlet` (paid at collection or to
    /// the driver; nothing is taken online).
    #[serde(default)]
    pub method: PayMethod,
    /// For `saved`: the stored method's id.
    #[serde(default)]
    pub method_id: Option<String>,
    /// Part of the total to take from the wallet (with `card` or `saved`); `wallet` takes it all.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub wallet_amount: Option<i64>,
}

/// The ways to pay an online order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayMethod {
    /// A card through the provider's client.
    #[default]
    Card,
    /// A stored payment method.
    Saved,
    /// The wallet alone.
    Wallet,
    /// At collection or hand-over.
    AtOutlet,
}

/// Prices and validates a basket: outlet open, address inside the delivery zone, items available,
/// modifiers within limits. Returns the order it would be (not stored).
pub async fn build(state: &OrderingState, customer: &str, basket: &Basket) -> Result<Order> {
    let ask = Ask { customer, fulfilment: basket.fulfilment, lines: &basket.lines, notes: &basket.notes };
    rules::check_ask(&ask)?;
    let outlet = crate::outlets::load_recent(&state.db, &state.outlets, basket.outlet_id).await?;
    let now = Utc::now();
    rules::check_open(&outlet, now)?;
    let delivery_address = match rules::address_needed(basket.fulfilment, basket.address_id.as_deref())? {
        Some(id) => {
            let a = crate::customers::load_address(state, customer, id).await?;
            let a = DeliveryAddress { line1: a.line1, city: a.city, postcode: a.postcode, position: a.position };
            rules::check_zone(&outlet, &a)?;
            Some(a)
        }
        None => None,
    };
    let (version, menu) = published_menu(state, &outlet).await?;
    Ok(rules::order_from(&ask, &outlet, version, &menu, delivery_address, now)?)
}

/// Quote a basket: prices, tax, delivery fee, total (customer). Nothing is stored.
#[utoipa::path(post, path = "/api/v1/quotes", tag = "ordering", security(("bearer" = [])), request_body = Basket,
    responses((status = 200, body = Order), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %basket.outlet_id))]
pub async fn quote(
    State(state): State<OrderingState>,
    who: Principal,
    Json(basket): Json<Basket>,
) -> Result<Json<Order>> {
    who.require(&[Role::Customer])?;
    Ok(Json(build(&state, &who.subject, &basket).await?))
}

/// Place an order (customer). Requires an `Idempotency-Key` header: a retry returns the first
/// order (200, `Idempotent-Replayed: true`) and never places a second. Unless paid at the outlet,
/// a payment is made for the total the cloud computed: paid from the wallet or authorised at
/// once, the order goes to its outlet as `placed`; otherwise it waits as `payment_pending` until
/// the provider's webhook says the payment is authorised (`GET /api/v1/orders/{id}/payment`
/// gives the client what it needs to confirm it). A wallet that cannot cover its part is 409.
#[utoipa::path(post, path = "/api/v1/orders", tag = "ordering", security(("bearer" = [])), request_body = Basket,
    params(("Idempotency-Key" = String, Header, description = "unique per order attempt; retries reuse it", min_length = 1, max_length = 128, pattern = "^[!-~]+$")),
    responses((status = 201, body = Order), (status = 200, body = Order), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %basket.outlet_id))]
pub async fn place(
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
        .ok_or(OrderError::NoIdempotencyKey)?
        .to_owned();
    let hash = patty_service::secret::digest(&[&serde_json::to_vec(&basket)?]);
    // The happy path asks nothing extra: a retry is found by the unique index on insert, or, if
    // the basket no longer validates (the outlet closed since), by looking before failing.
    let order = match build(&state, &who.subject, &basket).await {
        Ok(order) => order,
        Err(e) => {
            return match store::replay(&state.db, &who.subject, &key, &hash).await? {
                Some(earlier) => Ok(replayed(earlier)),
                None => Err(e),
            };
        }
    };
    let placed = if basket.payment.method == PayMethod::AtOutlet {
        store::insert_placed(&state.db, &state.vault, &order, &who.subject, &key, &hash).await?.then_some(order)
    } else {
        state.payer.place(order, &who.subject, &key, &hash, &basket.payment).await?
    };
    let Some(order) = placed else {
        // A retry, or a twin request with the same key that won the race.
        let earlier = store::replay(&state.db, &who.subject, &key, &hash)
            .await?
            .ok_or_else(|| Error::Internal("idempotency race".into()))?;
        return Ok(replayed(earlier));
    };
    Ok((StatusCode::CREATED, Json(order)).into_response())
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
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn history(
    State(state): State<OrderingState>,
    who: Principal,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<Order>>> {
    who.require(&[Role::Customer])?;
    Ok(Json(store::of_customer(&state.db, &who.subject, patty_service::http::page_limit(q.limit, 50, 500)?).await?))
}

/// One order (its customer, its outlet's staff, HQ).
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "ordering", security(("bearer" = [])), params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(order.id = %id))]
pub async fn get_one(
    State(state): State<OrderingState>,
    who: Principal,
    Path(id): Path<OrderId>,
) -> Result<Json<Order>> {
    let order = store::load(&state.db, id).await?;
    rules::may_see(&who, &order)?;
    Ok(Json(order))
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
#[tracing::instrument(skip_all, err(level = "warn"), fields(order.id = %id))]
pub async fn cancel(
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
    let order = store::move_order(&state, id, OrderStatus::Cancelled, reason, true, |o| {
        Ok(rules::check_customer_cancel(&who.subject, o)?)
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
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %outlet, order.id = %id, to = req.status.as_str()))]
pub async fn outlet_move(
    State(state): State<OrderingState>,
    who: Principal,
    Path((outlet, id)): Path<(OutletId, OrderId)>,
    Json(req): Json<OutletMove>,
) -> Result<Json<Order>> {
    who.require_outlet(&[Role::OutletStaff, Role::OutletManager, Role::Edge], outlet)?;
    rules::check_outlet_move(who.role, req.status, req.reason.as_deref())?;
    let order = store::move_order(&state, id, req.status, req.reason, false, |o| {
        if o.outlet_id == outlet { Ok(()) } else { Err(OrderError::NotAtOutlet(id).into()) }
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
    /// Only orders in this status (orders still waiting for their payment, `payment_pending`, are
    /// listed only when asked for by this).
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
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %outlet))]
pub async fn outlet_orders(
    State(state): State<OrderingState>,
    who: Principal,
    Path(outlet): Path<OutletId>,
    Query(q): Query<OrderSearch>,
) -> Result<Json<Vec<Order>>> {
    who.require_outlet(&[Role::OutletStaff, Role::OutletManager, Role::Edge], outlet)?;
    if q.number.is_some_and(|n| n < 0) {
        return Err(OrderError::Invalid("an order number is 0 or more").into());
    }
    if q.text.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(OrderError::Invalid("the search text is at most 100 characters").into());
    }
    let text = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase);
    if let (Some(from), Some(to)) = (q.from_ms, q.to_ms)
        && from > to
    {
        return Err(OrderError::Invalid("from_ms must not be after to_ms").into());
    }
    let limit = patty_service::http::page_limit(q.limit, 50, 500)?;
    let search = Search { status: q.status, number: q.number, text, from_ms: q.from_ms, to_ms: q.to_ms, limit };
    Ok(Json(store::search(&state.db, outlet, search).await?))
}

/// Live status of one order (Server-Sent Events: every event of the order, from placement on).
/// Its customer, its outlet's staff, HQ.
#[utoipa::path(get, path = "/api/v1/orders/{id}/stream", tag = "ordering", security(("bearer" = [])), params(("id" = String, Path, description = "order id")),
    responses((status = 200, description = "text/event-stream of the order's events", content_type = "text/event-stream"), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(order.id = %id))]
pub async fn stream(
    State(state): State<OrderingState>,
    who: Principal,
    headers: axum::http::HeaderMap,
    Path(id): Path<OrderId>,
) -> Result<impl IntoResponse> {
    let order = store::load(&state.db, id).await?;
    rules::may_see(&who, &order)?;
    let after = events::resumed_after(&headers).unwrap_or(0);
    Ok(events::follow(state.shared, after, Some(id.to_string())))
}

/// A replayed order: 200 with `Idempotent-Replayed: true`.
pub fn replayed(order: Order) -> Response {
    let mut r = (StatusCode::OK, Json(order)).into_response();
    r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}
