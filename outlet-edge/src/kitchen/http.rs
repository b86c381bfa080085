//! The kitchen's HTTP face: the queue (listed and live), bump and recall; no SQL. The only place
//! a [`KitchenError`] becomes an HTTP status.

use super::rules::KitchenError;
use super::{Ticket, store};
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::events::{self, Event};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use axum::extract::State;
use patty_protocol::ids::OrderId;
use patty_protocol::staff::Role;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

impl From<KitchenError> for Error {
    fn from(e: KitchenError) -> Self {
        Error::Conflict(e.to_string())
    }
}

/// The kitchen queue, oldest first.
#[utoipa::path(get, path = "/api/v1/kitchen/queue", tag = "kitchen", security(("pin_session" = [])),
    responses((status = 200, body = Vec<Ticket>), (status = 401, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn get_queue(State(state): State<AppState>, _session: Session) -> Result<Json<Vec<Ticket>>> {
    Ok(Json(store::queue(&state.store).await?))
}

/// The kitchen queue live (Server-Sent Events): each ticket on screen first, then every change to
/// any order as an `order` event (a screen drops orders no longer in the kitchen).
#[utoipa::path(get, path = "/api/v1/kitchen/stream", tag = "kitchen", security(("pin_session" = [])),
    responses((status = 200, description = "text/event-stream of `order` events", content_type = "text/event-stream")))]
#[tracing::instrument(skip_all)]
async fn stream(State(state): State<AppState>, _session: Session) -> Result<impl axum::response::IntoResponse> {
    let rx = state.store.events.subscribe();
    let tickets = store::queue(&state.store).await?;
    let initial =
        tickets.into_iter().map(|t| Event::Order { order: Arc::new(t.order), recalled: t.recalled }).collect();
    Ok(events::sse(rx, state.closing.subscribe(), initial, |e| matches!(e, Event::Order { .. })))
}

/// Bump a ticket: a recalled ticket leaves the screen again; otherwise the order becomes ready
/// (kitchen, manager).
#[utoipa::path(post, path = "/api/v1/kitchen/orders/{id}/bump", tag = "kitchen", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Ticket), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id))]
async fn bump(State(state): State<AppState>, session: Session, Path(id): Path<OrderId>) -> Result<Json<Ticket>> {
    session.require(&[Role::Kitchen])?;
    Ok(Json(store::bump(&state, session, id).await?))
}

/// Recall a bumped ticket to the screen (kitchen, manager).
#[utoipa::path(post, path = "/api/v1/kitchen/orders/{id}/recall", tag = "kitchen", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Ticket), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id))]
async fn recall(State(state): State<AppState>, session: Session, Path(id): Path<OrderId>) -> Result<Json<Ticket>> {
    session.require(&[Role::Kitchen])?;
    Ok(Json(store::recall(&state.store, id).await?))
}

/// The kitchen routes.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_queue))
        .routes(routes!(stream))
        .routes(routes!(bump))
        .routes(routes!(recall))
}
