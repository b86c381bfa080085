//! The change log's handler.

use super::store::read_after;
use crate::infra::error::{Error, Json, Query, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use axum::extract::State;
use patty_protocol::change::ChangeEntry;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Which entries.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Entries with a sequence number above this (default 0).
    #[serde(default)]
    pub after: u64,
    /// Most to return (default 500, at most 5000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<u32>,
}

/// The outlet's change log, in sequence order (manager).
#[utoipa::path(get, path = "/api/v1/changes", tag = "sync", security(("pin_session" = [])), params(ChangesQuery),
    responses((status = 200, body = Vec<ChangeEntry>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(after = q.after))]
async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ChangesQuery>,
) -> Result<Json<Vec<ChangeEntry>>> {
    session.require_manager()?;
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 500, 5000)? as u32;
    if i64::try_from(q.after).is_err() {
        return Err(Error::Validation("after is a sequence number, at most 2^63 - 1".into()));
    }
    Ok(Json(state.store.read(move |c| read_after(c, q.after, limit)).await?))
}

/// The change-log route.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
