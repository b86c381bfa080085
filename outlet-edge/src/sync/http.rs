//! Sync's HTTP face: the link's status, the conflicts list and their settling, and a counter
//! delivery's code. No SQL: it calls `store`, `conflicts` and `delivery`.

use super::delivery::{self, CounterDelivery};
use super::error::SyncError;
use super::{conflicts, store};
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::orders;
use axum::extract::State;
use patty_protocol::conflict::Conflict;
use patty_protocol::ids::ConflictId;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

impl From<SyncError> for Error {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::NoOpenConflict(_) | SyncError::NoDeliveryYet(_) => Error::NotFound(e.to_string()),
            SyncError::NotDelivery(_) => Error::Conflict(e.to_string()),
            SyncError::CustomersCode | SyncError::CloudKeepsCode => Error::Forbidden(e.to_string()),
            SyncError::NoCloud | SyncError::Offline(_) => Error::Unavailable(e.to_string()),
            SyncError::Other(e) => e,
        }
    }
}

/// The link's state, for `/api/v1/sync/status` and `/metrics`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncStatus {
    /// Whether a cloud is configured.
    pub enabled: bool,
    /// "online" while the downward stream is open and the last upload succeeded, else "offline"
    /// ("disabled" without a cloud).
    pub link: String,
    /// Since when the link is in that state, Unix ms.
    pub since_ms: i64,
    /// The highest change-log sequence the cloud acknowledged.
    pub acked: u64,
    /// The highest sequence in the change log.
    pub last_seq: u64,
    /// Entries waiting to go up.
    pub pending: u64,
    /// The last downward position applied.
    pub down_position: u64,
    /// The catalog version the menu comes from, once one arrived from the cloud.
    pub catalog_version: Option<i64>,
    /// Bytes sent up since start (request bodies).
    pub bytes_up: u64,
    /// The last failure, if the link is failing.
    pub last_error: Option<String>,
    /// The last upload failure since the last successful upload.
    pub upload_error: Option<String>,
    /// Uploads that failed since start.
    pub upload_failures: u64,
}

/// The link to the cloud and what waits to go up (any signed-in staff).
#[utoipa::path(get, path = "/api/v1/sync/status", tag = "sync", security(("pin_session" = [])),
    responses((status = 200, body = SyncStatus)))]
#[tracing::instrument(skip_all)]
async fn status(State(state): State<AppState>, _session: Session) -> Result<Json<SyncStatus>> {
    Ok(Json(current_status(&state).await?))
}

/// The sync status now.
pub async fn current_status(state: &AppState) -> Result<SyncStatus> {
    let (down_position, catalog_version, last_seq) = state.store.read(store::figures).await?;
    let enabled = !state.config.cloud.url.is_empty();
    let l = state.sync.snapshot()?;
    Ok(SyncStatus {
        enabled,
        link: if !enabled {
            "disabled"
        } else if l.online {
            "online"
        } else {
            "offline"
        }
        .into(),
        since_ms: l.since_ms,
        acked: l.acked,
        last_seq,
        pending: last_seq.saturating_sub(l.acked),
        down_position,
        catalog_version,
        bytes_up: l.bytes_up,
        last_error: l.last_error,
        upload_error: l.upload_error,
        upload_failures: l.upload_failures,
    })
}

/// Conflicts at this outlet, open ones first, newest first (manager).
#[utoipa::path(get, path = "/api/v1/conflicts", tag = "sync", security(("pin_session" = [])),
    responses((status = 200, body = Vec<Conflict>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn list(State(state): State<AppState>, session: Session) -> Result<Json<Vec<Conflict>>> {
    session.require_manager()?;
    Ok(Json(conflicts::list(&state.store).await?))
}

/// How a conflict is settled.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What was decided (1 to 500 characters).
    pub note: String,
}

/// Settle a conflict (manager); HQ hears of it.
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/resolve", tag = "sync", security(("pin_session" = [])), request_body = Resolve,
    params(("id" = String, Path, description = "conflict id")),
    responses((status = 200, body = Conflict), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(conflict.id = %id))]
async fn resolve(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<ConflictId>,
    Json(req): Json<Resolve>,
) -> Result<Json<Conflict>> {
    session.require_manager()?;
    let note = req.note.trim().to_owned();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(Error::Validation("a note of 1 to 500 characters says what was decided".into()));
    }
    let by = format!("outlet:{}", session.staff.id);
    Ok(Json(conflicts::resolve(&state.store, id, by, note).await?))
}

/// The delivery of an order taken at the counter, with the code to give its customer (cashier,
/// manager). The cloud dispatches it once the order is ready, so this asks the cloud; while the
/// link is down the answer is 409 `unavailable`, and selling goes on regardless.
#[utoipa::path(get, path = "/api/v1/orders/{id}/delivery", tag = "sync", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = CounterDelivery), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order.id = %id))]
async fn counter_delivery(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<patty_protocol::ids::OrderId>,
) -> Result<Json<CounterDelivery>> {
    session.require(&[patty_protocol::staff::Role::Cashier])?;
    let order = orders::store::get(&state.store, id).await?;
    if order.fulfilment != patty_protocol::order::Fulfilment::Delivery {
        return Err(SyncError::NotDelivery(order.number).into());
    }
    if order.customer_id.is_some() {
        return Err(SyncError::CustomersCode.into());
    }
    Ok(Json(delivery::fetch(&state.config.cloud, &order).await?))
}

/// The sync routes.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(list))
        .routes(routes!(resolve))
        .routes(routes!(counter_delivery))
}
