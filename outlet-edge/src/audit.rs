//! The audit trail of manager-only actions: voids, refunds, stock corrections, price overrides,
//! discounts and staff changes. Each entry is also a change-log entry, so HQ sees them.

use crate::infra::error::{Query, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::WriteCtx;
use axum::extract::State;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::StaffId;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The actor of an entry no one signed in made (a terminal locked after wrong PINs).
pub const NOBODY: StaffId = StaffId(uuid::Uuid::nil());

/// Records `action` by `by` on `target`, in the caller's transaction.
pub fn record(ctx: &mut WriteCtx<'_>, by: StaffId, action: &str, target: &str, detail: &str) -> Result<()> {
    ctx.conn
        .prepare_cached("INSERT INTO audit (at_ms, staff_id, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![ctx.now_ms, by.to_string(), action, target, detail])?;
    ctx.log(ChangeV1::Audited { by, action: action.into(), target: target.into(), detail: detail.into() })?;
    Ok(())
}

/// One audited action.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who.
    pub staff_id: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// Details.
    pub detail: String,
}

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
async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Result<crate::infra::error::Json<Vec<AuditEntry>>> {
    session.require_manager()?;
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 100, 1000)?;
    let rows = state
        .store
        .read(move |c| {
            let mut st =
                c.prepare("SELECT at_ms, staff_id, action, target, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
            let rows = st
                .query_map([limit], |r| {
                    Ok(AuditEntry {
                        at_ms: r.get(0)?,
                        staff_id: r.get(1)?,
                        action: r.get(2)?,
                        target: r.get(3)?,
                        detail: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    Ok(crate::infra::error::Json(rows))
}

/// The audit route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
