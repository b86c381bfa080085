//! Dispatch's SQL: how far it has read the event log.

use crate::infra::db::Db;
use crate::infra::error::Result;
use sqlx::Row;

/// The position in the event log dispatch has handled up to (0 before any).
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn cursor(db: &Db) -> Result<i64> {
    let row =
        sqlx::query("SELECT position FROM dispatch_cursor WHERE name = 'orders'").fetch_optional(&db.pool).await?;
    Ok(row.map(|r| r.try_get::<i64, _>("position")).transpose()?.unwrap_or(0))
}

/// Moves the cursor forward to `position` (never back: a slower replica does not undo a faster
/// one's progress).
#[tracing::instrument(skip_all, fields(position), err(level = "warn"))]
pub async fn advance(db: &Db, position: i64) -> Result<()> {
    sqlx::query("UPDATE dispatch_cursor SET position = $1 WHERE name = 'orders' AND position < $1")
        .bind(position)
        .execute(&db.pool)
        .await?;
    Ok(())
}
