//! The orders' HTTP face: handlers and request types, no SQL. Each handler checks the caller's
//! role and what it can of the request, then calls one function of [`super::store`]. This is the
//! only place an [`OrderError`] becomes an HTTP status.

use super::error::OrderError;
use super::receipt::{Receipt, receipt_text};
use super::rules::NewTender;
use super::store::{self, Placement};
use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use patty_protocol::ids::OrderId;
use patty_protocol::order::{Channel, Fulfilment, NewLine, NewOrder, Order, OrderStatus};
use patty_protocol::staff::Role;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

impl From<OrderError> for Error {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::NotFound(_) => Error::NotFound(e.to_string()),
            OrderError::Invalid(m) => Error::Validation(m),
            OrderError::Pricing(p) => p.into(),
            OrderError::Other(e) => e,
            OrderError::Move(_)
            | OrderError::NotEditable(_)
            | OrderError::EditPaid
            | OrderError::CancelPaid
            | OrderError::Withdrawn(_)
            | OrderError::AlreadyPaid
            | OrderError::NotDiscountable
            | OrderError::KeyReused => Error::Conflict(e.to_string()),
        }
    }
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

/// Take an order (cashier, manager). Requires an `Idempotency-Key` header: a retry with the same
/// key returns the first result (200, `Idempotent-Replayed: true`) and never makes a second order.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", security(("pin_session" = [])), request_body = NewOrder,
    params(("Idempotency-Key" = String, Header, description = "unique per order attempt; retries reuse it", min_length = 1, max_length = 128, pattern = "^[!-~]+$")),
    responses((status = 201, body = Order), (status = 200, body = Order, description = "a retry of an earlier request"),
        (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(staff.id = %session.staff.id))]
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
    let (order, replayed) = store::create(&state, session, Placement { req, key, hash, delivery_address }).await?;
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
#[tracing::instrument(skip_all, fields(order.id = %id))]
async fn get_one(State(state): State<AppState>, _session: Session, Path(id): Path<OrderId>) -> Result<Json<Order>> {
    Ok(Json(store::get(&state.store, id).await?))
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
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %session.staff.id))]
async fn edit_lines(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<EditLines>,
) -> Result<Json<Order>> {
    session.require(&[Role::Cashier])?;
    Ok(Json(store::edit_lines(&state, session, id, req.lines).await?))
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
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %session.staff.id))]
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
    Ok(Json(store::set_status(&state, session, id, req.status).await?))
}

/// Why an order is withdrawn.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    /// Why (1 to 200 characters).
    pub reason: String,
}

fn reason(r: &str) -> Result<String> {
    Ok(super::rules::check_reason(r)?)
}

/// Cancel an order before preparation starts (cashier, manager); its stock goes back. An order
/// with payments must be refunded first.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("pin_session" = [])), request_body = Withdraw,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %session.staff.id))]
async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<Withdraw>,
) -> Result<Json<Order>> {
    session.require(&[Role::Cashier])?;
    let why = reason(&req.reason)?;
    Ok(Json(store::cancel(&state, id, session.staff.id, why).await?))
}

/// Void an order (manager; audited). Stock goes back only if preparation had not started.
#[utoipa::path(post, path = "/api/v1/orders/{id}/void", tag = "orders", security(("pin_session" = [])), request_body = Withdraw,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Order), (status = 403, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %session.staff.id))]
async fn void(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<Withdraw>,
) -> Result<Json<Order>> {
    session.require_manager()?;
    let why = reason(&req.reason)?;
    Ok(Json(store::void(&state, id, session.staff.id, why).await?))
}

/// Apply a tender (cashier, manager): cash with change due, a card as reported by the terminal,
/// several for a split payment.
#[utoipa::path(post, path = "/api/v1/orders/{id}/tenders", tag = "orders", security(("pin_session" = [])), request_body = NewTender,
    params(("id" = String, Path, description = "order id")),
    responses((status = 201, body = Order), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %session.staff.id))]
async fn add_tender(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<NewTender>,
) -> Result<(StatusCode, Json<Order>)> {
    session.require(&[Role::Cashier])?;
    let order = store::add_tender(&state, id, session.staff.id, req).await?;
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
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %session.staff.id))]
async fn discount(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<NewDiscount>,
) -> Result<(StatusCode, Json<Order>)> {
    session.require_manager()?;
    let why = reason(&req.reason)?;
    let order = store::discount(&state, id, session.staff.id, req.amount, req.percent_bp, why).await?;
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
#[tracing::instrument(skip_all)]
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
    Ok(Json(store::search(&state.store, from, to, status, limit).await?))
}

/// An order's receipt.
#[utoipa::path(get, path = "/api/v1/orders/{id}/receipt", tag = "orders", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Receipt), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id))]
async fn receipt(State(state): State<AppState>, _session: Session, Path(id): Path<OrderId>) -> Result<Json<Receipt>> {
    let order = store::get(&state.store, id).await?;
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
        .routes(routes!(discount))
        .routes(routes!(receipt))
}
