//! The refunds' HTTP face: the refund endpoint, which gives money taken at the till back at the
//! till and asks the cloud for money taken online, and the list of refund requests. No SQL; the
//! only place a [`RefundError`] becomes an HTTP status.

use super::error::RefundError;
use super::rules::{self, RefundRequest};
use super::store;
use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::orders;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use patty_protocol::ids::OrderId;
use patty_protocol::order::Order;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

impl From<RefundError> for Error {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::Invalid(m) => Error::Validation(m),
            RefundError::NotTakenOn => Error::Conflict(e.to_string()),
            RefundError::Order(o) => o.into(),
            RefundError::Other(e) => e,
        }
    }
}

/// Money to give back.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// Amount, minor units: at most what was paid (for money taken online, at most what is left
    /// of it after the refunds asked before, unless they failed).
    pub amount: i64,
    /// Why (1 to 200 characters).
    pub reason: String,
}

/// A refund of money taken online, accepted at the till and on its way to the payment provider.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingRefund {
    /// The order, as yet without the refund: its `Refund` tender comes once the money went back.
    pub order: Order,
    /// The requests made (one, or a card and a wallet part), `queued` until the cloud has them.
    pub requests: Vec<RefundRequest>,
}

/// Refund part or all of what was paid (manager; audited). Money taken at the till goes back at
/// once: 201 with the order and its negative `Refund` tender. Money taken online can only go
/// back through the payment provider: 202 with the order and the refund requests, which the
/// outlet keeps (queued while the cloud is out of reach) and sends to the cloud; the order gets
/// its `Refund` tender when the provider has settled them. More than is left is 422.
#[utoipa::path(post, path = "/api/v1/orders/{id}/refunds", tag = "orders", security(("pin_session" = [])), request_body = NewRefund,
    params(("id" = String, Path, description = "order id")),
    responses((status = 201, body = Order, description = "refunded at the till"),
        (status = 202, body = PendingRefund, description = "paid online: asked of the payment provider through the cloud"),
        (status = 403, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody),
        (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %session.staff.id))]
async fn refund(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<OrderId>,
    Json(req): Json<NewRefund>,
) -> Result<Response> {
    session.require_manager()?;
    let why = orders::check_reason(&req.reason).map_err(RefundError::from)?;
    // How an order was paid never changes once it is here: online tenders arrive with it.
    let order = orders::store::get(&state.store, id).await?;
    if !rules::paid_online(&order) {
        let order = orders::store::refund(&state, id, session.staff.id, req.amount, why).await?;
        return Ok((StatusCode::CREATED, Json(order)).into_response());
    }
    let (order, requests) = store::request(&state, id, session.staff.id, req.amount, why).await?;
    Ok((StatusCode::ACCEPTED, Json(PendingRefund { order, requests })).into_response())
}

/// Which refund requests to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    /// Only this order's.
    #[serde(default)]
    #[param(value_type = Option<String>, format = Uuid)]
    pub order_id: Option<OrderId>,
    /// Most to return, newest first (default 100, at most 500).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Refunds of money taken online, newest first, with where each stands: `queued` at the outlet,
/// `sent` (the payment provider has it), `succeeded` or `failed` (any signed-in staff).
#[utoipa::path(get, path = "/api/v1/refund-requests", tag = "orders", security(("pin_session" = [])), params(RequestQuery),
    responses((status = 200, body = Vec<RefundRequest>)))]
#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<RequestQuery>,
) -> Result<Json<Vec<RefundRequest>>> {
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 100, 500)?;
    let order = q.order_id;
    Ok(Json(state.store.read(move |c| store::recent(c, order, limit)).await?))
}

/// The refund routes.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(refund)).routes(routes!(list))
}
