//! Inventory's HTTP face: receive, waste and count, levels, reorder levels, movements and the
//! alerts (listed and live); no SQL.

use super::error::InventoryError;
use super::store;
use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::events::{self, Event, StockAlert};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::ids::IngredientId;
use patty_protocol::inventory::{MovementKind, StockLevel, StockMovement};
use patty_protocol::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

impl From<InventoryError> for Error {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::NoIngredient(_) => Error::NotFound(e.to_string()),
            InventoryError::Short { .. } => Error::Unavailable(e.to_string()),
            InventoryError::Other(e) => e,
        }
    }
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

/// Checks a stock change and makes it.
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
    let StockChange { ingredient_id, quantity, note } = req;
    let b = store::Booking { ingredient_id, quantity, note, kind };
    let (movement, level) = store::change_stock(&state, session.staff.id, b).await?;
    Ok((StatusCode::CREATED, Json(StockChangeOut { movement, level })))
}

/// Record a delivery from a supplier (cashier, kitchen, manager).
#[utoipa::path(post, path = "/api/v1/inventory/receive", tag = "inventory", security(("pin_session" = [])), request_body = StockChange,
    responses((status = 201, body = StockChangeOut), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
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
#[tracing::instrument(skip_all)]
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
#[tracing::instrument(skip_all)]
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
#[tracing::instrument(skip_all)]
async fn levels(State(state): State<AppState>, _session: Session) -> Result<Json<Vec<StockLevel>>> {
    Ok(Json(state.store.read(store::levels).await?))
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
#[tracing::instrument(skip_all, fields(ingredient.id = %id))]
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
    Ok(Json(store::set_level(&state.store, id, req.reorder_level).await?))
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
#[tracing::instrument(skip_all)]
async fn movements(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<MovementQuery>,
) -> Result<Json<Vec<StockMovement>>> {
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 100, 1000)?;
    Ok(Json(state.store.read(move |c| store::movements(c, q.ingredient_id, limit)).await?))
}

/// Open low-stock alerts.
#[utoipa::path(get, path = "/api/v1/inventory/alerts", tag = "inventory", security(("pin_session" = [])),
    responses((status = 200, body = Vec<StockAlert>)))]
#[tracing::instrument(skip_all)]
async fn alerts(State(state): State<AppState>, _session: Session) -> Result<Json<Vec<StockAlert>>> {
    Ok(Json(state.store.read(store::open_alerts).await?))
}

/// Live alerts (Server-Sent Events): the open low-stock alerts first, then each raise and clear,
/// and each terminal locked after wrong PINs.
#[utoipa::path(get, path = "/api/v1/inventory/alerts/stream", tag = "inventory", security(("pin_session" = [])),
    responses((status = 200, description = "text/event-stream of `stock_alert` and `sign_in_alert` events", content_type = "text/event-stream")))]
#[tracing::instrument(skip_all)]
async fn alert_stream(State(state): State<AppState>, _session: Session) -> Result<impl axum::response::IntoResponse> {
    let rx = state.store.events.subscribe();
    let open = state.store.read(store::open_alerts).await?;
    let initial = open.into_iter().map(|alert| Event::StockAlert { alert }).collect();
    Ok(events::sse(rx, state.closing.subscribe(), initial, |e| {
        matches!(e, Event::StockAlert { .. } | Event::SignInAlert { .. })
    }))
}

/// The inventory routes.
pub(super) fn router() -> OpenApiRouter<AppState> {
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
