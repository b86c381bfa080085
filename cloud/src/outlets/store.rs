//! The outlets' SQL: one outlet, the open ones, adding and replacing one; and the ordering
//! path's once-a-second copy.

use super::{OutletError, Recent};
use crate::infra::db::{Db, is_unique_violation, now_ms};
use crate::infra::error::{Error, Result};
use patty_protocol::ids::OutletId;
use patty_protocol::outlet::{Outlet, OutletStatus};
use sqlx::Row;
use std::sync::Arc;

fn decode(r: &sqlx::any::AnyRow) -> Result<Outlet> {
    Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)
}

fn status_str(s: OutletStatus) -> &'static str {
    match s {
        OutletStatus::Active => "active",
        OutletStatus::Paused => "paused",
        OutletStatus::Closed => "closed",
    }
}

/// Reads an outlet; 404 if unknown.
#[tracing::instrument(skip_all, fields(outlet.id = %id))]
pub async fn load(db: &Db, id: OutletId) -> Result<Outlet> {
    let row = sqlx::query("SELECT doc FROM outlets WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
        .ok_or(OutletError::NotFound(id))?;
    decode(&row)
}

/// An outlet for the ordering path: read from the database at most once a second per outlet
/// (status and hours changes reach orders within that second).
pub async fn load_recent(db: &Db, cache: &Recent, id: OutletId) -> Result<Arc<Outlet>> {
    const TTL: std::time::Duration = std::time::Duration::from_secs(1);
    if let Some((at, o)) = cache.0.lock().ok().and_then(|m| m.get(&id).cloned())
        && at.elapsed() < TTL
    {
        return Ok(o);
    }
    let outlet = Arc::new(load(db, id).await?);
    if let Ok(mut m) = cache.0.lock() {
        m.insert(id, (std::time::Instant::now(), outlet.clone()));
    }
    Ok(outlet)
}

/// Outlets that are not closed, oldest first.
#[tracing::instrument(skip_all)]
pub async fn not_closed(db: &Db) -> Result<Vec<Outlet>> {
    let rows =
        sqlx::query("SELECT doc FROM outlets WHERE status <> 'closed' ORDER BY created_ms").fetch_all(&db.pool).await?;
    rows.iter().map(decode).collect()
}

/// Adds `outlet`; [`OutletError::Exists`] if its id is taken.
#[tracing::instrument(skip_all, fields(outlet.id = %outlet.id))]
pub async fn insert(db: &Db, outlet: &Outlet) -> Result<()> {
    let r = sqlx::query("INSERT INTO outlets (id, doc, status, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4)")
        .bind(outlet.id.to_string())
        .bind(serde_json::to_string(outlet)?)
        .bind(status_str(outlet.status))
        .bind(now_ms())
        .execute(&db.pool)
        .await;
    match r {
        Err(e) if is_unique_violation(&e) => Err(OutletError::Exists(outlet.id).into()),
        Err(e) => Err(Error::from(e)),
        Ok(_) => Ok(()),
    }
}

/// Replaces `outlet`'s definition; [`OutletError::NotFound`] if there is none.
#[tracing::instrument(skip_all, fields(outlet.id = %outlet.id))]
pub async fn replace(db: &Db, outlet: &Outlet) -> Result<()> {
    let done = sqlx::query("UPDATE outlets SET doc = $1, status = $2, updated_ms = $3 WHERE id = $4")
        .bind(serde_json::to_string(outlet)?)
        .bind(status_str(outlet.status))
        .bind(now_ms())
        .bind(outlet.id.to_string())
        .execute(&db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(OutletError::NotFound(outlet.id).into());
    }
    Ok(())
}

/// Every outlet, whatever its status (delivery builds its pickup zones from them); one that does
/// not decode is left out.
#[tracing::instrument(skip_all)]
pub async fn all(db: &Db) -> Result<Vec<Outlet>> {
    let rows = sqlx::query("SELECT doc FROM outlets").fetch_all(&db.pool).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("doc").ok().and_then(|d| serde_json::from_str(&d).ok()))
        .collect())
}
