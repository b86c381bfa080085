//! The change log over HTTP: what sync ships to the cloud, readable by a manager for inspection.

use crate::infra::error::{Error, Json, Query, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::decode_change;
use axum::extract::State;
use patty_protocol::change::{ChangeEntry, ChangeV1};
use patty_protocol::ids::OrderId;
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

/// Reads entries after `after`, in sequence order.
pub fn read_after(conn: &rusqlite::Connection, after: u64, limit: u32) -> Result<Vec<ChangeEntry>> {
    let mut st = conn.prepare_cached("SELECT payload FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = st.query_map(rusqlite::params![after as i64, limit], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(decode_change(&row?)?);
    }
    Ok(out)
}

/// Blanks the personal data in the change log's copies of order `id` (its erased customer's).
pub fn erase_order_in_log(conn: &rusqlite::Connection, id: OrderId) -> Result<()> {
    // postcard writes the id as its 16 bytes: only entries holding them are decoded.
    let logged: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, payload FROM change_log WHERE kind = 'order_upserted' AND instr(payload, ?1) > 0")?
        .query_map([id.0.as_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (seq, payload) in logged {
        let mut entry: ChangeEntry =
            postcard::from_bytes(&payload).map_err(|e| Error::Internal(format!("decode change {seq}: {e}")))?;
        let ChangeV1::OrderUpserted { order } = &mut entry.change else { continue };
        if order.id != id {
            continue;
        }
        order.erase_personal();
        let payload = postcard::to_stdvec(&entry).map_err(|e| Error::Internal(format!("encode change: {e}")))?;
        conn.prepare_cached("UPDATE change_log SET payload = ?2 WHERE seq = ?1")?
            .execute(rusqlite::params![seq, payload])?;
    }
    Ok(())
}

/// The outlet's change log, in sequence order (manager).
#[utoipa::path(get, path = "/api/v1/changes", tag = "sync", security(("pin_session" = [])), params(ChangesQuery),
    responses((status = 200, body = Vec<ChangeEntry>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ChangesQuery>,
) -> Result<Json<Vec<ChangeEntry>>> {
    session.require_manager()?;
    let limit = patty_service::http::page_limit(q.limit.map(i64::from), 500, 5000)? as u32;
    if i64::try_from(q.after).is_err() {
        return Err(crate::infra::error::Error::Validation("after is a sequence number, at most 2^63 - 1".into()));
    }
    Ok(Json(state.store.read(move |c| read_after(c, q.after, limit)).await?))
}

/// The change-log route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
