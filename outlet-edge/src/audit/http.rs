//! The audit trail's handler.

use super::store::{AuditEntry, newest};
use crate::infra::error::{Json, Query, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Which audit entries to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Most entries to return, newest first (default 100, at most 1000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// The audit trail, newest first (manager).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("pin_session" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    session.require_manager()?;
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 100, 1000)?;
    Ok(Json(state.store.read(move |c| newest(c, limit)).await?))
}

/// The audit route.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
