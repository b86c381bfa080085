//! The kitchen queue: the orders to prepare, live, with bump (done: the order is ready) and
//! recall (a bumped ticket comes back on screen; the order's status does not move backwards).

use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::events::Event;
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::menu::item_states;
use crate::orders::{StatusChange, check_can_take_on, load, move_status, pricing_ctx, save};
use axum::extract::State;
use patty_protocol::ids::OrderId;
use patty_protocol::order::{Order, OrderStatus};
use patty_protocol::staff::Role;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A ticket on the kitchen screen.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ticket {
    /// The order.
    pub order: Order,
    /// Recalled after being bumped.
    pub recalled: bool,
}

/// The tickets on screen, oldest first.
pub fn queue(conn: &Connection) -> Result<Vec<Ticket>> {
    let mut st = conn.prepare_cached(
        "SELECT doc, recalled FROM orders WHERE status IN ('placed', 'accepted', 'preparing') OR recalled = 1 ORDER BY created_ms",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (doc, recalled) = row?;
        out.push(Ticket { order: serde_json::from_str(&doc)?, recalled });
    }
    Ok(out)
}

/// The kitchen queue, oldest first.
#[utoipa::path(get, path = "/api/v1/kitchen/queue", tag = "kitchen", security(("pin_session" = [])),
    responses((status = 200, body = Vec<Ticket>), (status = 401, body = patty_protocol::ErrorBody)))]
async fn get_queue(State(state): State<AppState>, _session: Session) -> Result<Json<Vec<Ticket>>> {
    Ok(Json(state.store.read(queue).await?))
}

/// The kitchen queue live (Server-Sent Events): each ticket on screen first, then every change to
/// any order as an `order` event (a screen drops orders no longer in the kitchen).
#[utoipa::path(get, path = "/api/v1/kitchen/stream", tag = "kitchen", security(("pin_session" = [])),
    responses((status = 200, description = "text/event-stream of `order` events", content_type = "text/event-stream")))]
async fn stream(State(state): State<AppState>, _session: Session) -> Result<impl axum::response::IntoResponse> {
    let rx = state.store.events.subscribe();
    let tickets = state.store.read(queue).await?;
    let initial =
        tickets.into_iter().map(|t| Event::Order { order: Arc::new(t.order), recalled: t.recalled }).collect();
    Ok(crate::infra::events::sse(rx, state.closing.subscribe(), initial, |e| matches!(e, Event::Order { .. })))
}

/// Bump a ticket: a recalled ticket leaves the screen again; otherwise the order becomes ready
/// (kitchen, manager).
#[utoipa::path(post, path = "/api/v1/kitchen/orders/{id}/bump", tag = "kitchen", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Ticket), (status = 409, body = patty_protocol::ErrorBody)))]
async fn bump(State(state): State<AppState>, session: Session, Path(id): Path<OrderId>) -> Result<Json<Ticket>> {
    session.require(&[Role::Kitchen])?;
    let by = session.staff.id;
    let menu = state.menu();
    let st = state.clone();
    let ticket = state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            if recalled {
                save(ctx, &mut order, false)?;
            } else if order.status.in_kitchen() {
                // A bump straight from `placed` takes the order on, and its stock, as accepting does.
                let states = item_states(ctx.conn)?;
                check_can_take_on(&pricing_ctx(&st, &menu, &states, &session), &order)?;
                move_status(ctx, &menu, &mut order, false, StatusChange::by_staff(OrderStatus::Ready, by, None))?;
            } else {
                return Err(Error::Conflict(format!(
                    "the order is {}, not on the kitchen screen",
                    order.status.as_str()
                )));
            }
            Ok(Ticket { order, recalled: false })
        })
        .await?;
    Ok(Json(ticket))
}

/// Recall a bumped ticket to the screen (kitchen, manager).
#[utoipa::path(post, path = "/api/v1/kitchen/orders/{id}/recall", tag = "kitchen", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Ticket), (status = 409, body = patty_protocol::ErrorBody)))]
async fn recall(State(state): State<AppState>, session: Session, Path(id): Path<OrderId>) -> Result<Json<Ticket>> {
    session.require(&[Role::Kitchen])?;
    let ticket = state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            if recalled
                || !matches!(order.status, OrderStatus::Ready | OrderStatus::OutForDelivery | OrderStatus::Completed)
            {
                return Err(Error::Conflict("only a bumped ticket can be recalled".into()));
            }
            save(ctx, &mut order, true)?;
            Ok(Ticket { order, recalled: true })
        })
        .await?;
    Ok(Json(ticket))
}

/// The kitchen routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_queue))
        .routes(routes!(stream))
        .routes(routes!(bump))
        .routes(routes!(recall))
}
