//! The audit table.

use crate::infra::error::Result;
use crate::infra::store::WriteCtx;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::StaffId;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// The actor of an entry no one signed in made (a terminal locked after wrong PINs).
pub const NOBODY: StaffId = StaffId(uuid::Uuid::nil());

/// Records `action` by `by` on `target`, in the caller's transaction.
#[tracing::instrument(skip_all, fields(action = action))]
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

/// The newest `limit` entries, newest first.
#[tracing::instrument(skip_all)]
pub fn newest(c: &Connection, limit: i64) -> Result<Vec<AuditEntry>> {
    let mut st = c.prepare("SELECT at_ms, staff_id, action, target, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
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
}
