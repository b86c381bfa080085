//! The conflicts table: conflicts raised here (a price changed under an open order) or sent by
//! the cloud, and their settling by a manager here or at HQ.

use super::error::SyncError;
use crate::infra::error::Result;
use crate::infra::store::Store;
use patty_protocol::change::ChangeV1;
use patty_protocol::conflict::{Conflict, Resolution};
use patty_protocol::ids::ConflictId;
use rusqlite::{Connection, OptionalExtension, params};

/// Keeps a conflict raised here or at the cloud (once: a repeat is ignored).
#[tracing::instrument(skip_all, fields(conflict.id = %c.id))]
pub fn store_conflict(conn: &Connection, c: &Conflict) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO conflicts (id, kind, raised_ms, resolved_ms, doc) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        c.id.to_string(),
        c.kind.as_str(),
        c.raised_ms,
        c.resolution.as_ref().map(|r| r.at_ms),
        serde_json::to_string(c)?
    ])?;
    Ok(())
}

/// Settles an open conflict; the settled record, or `None` if there is no such open one.
#[tracing::instrument(skip_all, fields(conflict.id = %id))]
pub fn settle(conn: &Connection, id: ConflictId, r: &Resolution) -> Result<Option<Conflict>> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM conflicts WHERE id = ?1 AND resolved_ms IS NULL")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(doc) = doc else { return Ok(None) };
    let mut c: Conflict = serde_json::from_str(&doc)?;
    c.resolution = Some(r.clone());
    conn.prepare_cached("UPDATE conflicts SET resolved_ms = ?2, doc = ?3 WHERE id = ?1")?.execute(params![
        id.to_string(),
        r.at_ms,
        serde_json::to_string(&c)?
    ])?;
    Ok(Some(c))
}

/// Conflicts, open ones first, newest first, at most 500.
#[tracing::instrument(skip_all)]
pub async fn list(store: &Store) -> Result<Vec<Conflict>> {
    let docs = store
        .read(|c| {
            let mut st = c.prepare_cached(
                "SELECT doc FROM conflicts ORDER BY resolved_ms IS NOT NULL, raised_ms DESC LIMIT 500",
            )?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await?;
    docs.iter().map(|d| Ok(serde_json::from_str(d)?)).collect::<Result<_>>()
}

/// Settles open conflict `id` by `by` with `note`, and logs it so HQ hears of it.
#[tracing::instrument(skip_all, fields(conflict.id = %id))]
pub async fn resolve(store: &Store, id: ConflictId, by: String, note: String) -> Result<Conflict> {
    store
        .write(move |ctx| {
            let r = Resolution { at_ms: ctx.now_ms, by, note };
            let c = settle(ctx.conn, id, &r)?.ok_or(SyncError::NoOpenConflict(id))?;
            ctx.log(ChangeV1::ConflictResolved { id, resolution: r })?;
            Ok(c)
        })
        .await
}
