//! The catalog's SQL: the draft, the numbered versions, and the cached newest version.

use super::{CatalogError, Latest, Published};
use crate::infra::db::{Db, is_unique_violation};
use crate::infra::error::{Error, Result};
use patty_protocol::catalog::Catalog;
use sqlx::Row;
use std::sync::Arc;

/// How long the ordering path trusts its copy of the latest version before asking the database.
const LATEST_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The latest published version, if any: parsed once per version, shared, and re-checked against
/// the database at most once a second (a publish on this replica is seen at once).
pub async fn latest(db: &Db, cache: &Latest) -> Result<Option<Arc<Published>>> {
    let cached = cache.0.read().ok().and_then(|c| c.clone());
    if let Some((checked, p)) = &cached
        && checked.elapsed() < LATEST_TTL
    {
        return Ok(Some(p.clone()));
    }
    let newest: Option<i64> =
        sqlx::query("SELECT MAX(version) AS v FROM catalog_versions").fetch_one(&db.pool).await?.try_get("v")?;
    let Some(newest) = newest else { return Ok(None) };
    let published = match cached {
        Some((_, p)) if p.version == newest => p,
        _ => Arc::new(
            version(db, newest).await?.ok_or_else(|| Error::Internal(format!("catalog version {newest} vanished")))?,
        ),
    };
    if let Ok(mut c) = cache.0.write() {
        *c = Some((std::time::Instant::now(), published.clone()));
    }
    Ok(Some(published))
}

fn published_row(r: &sqlx::any::AnyRow) -> Result<Published> {
    Ok(Published {
        version: r.try_get("version")?,
        published_ms: r.try_get("published_ms")?,
        published_by: r.try_get("published_by")?,
        catalog: serde_json::from_str(&r.try_get::<String, _>("doc")?)?,
    })
}

/// Published version `v`, if there is one.
#[tracing::instrument(skip_all, fields(version = v))]
pub async fn version(db: &Db, v: i64) -> Result<Option<Published>> {
    let row = sqlx::query("SELECT version, doc, published_ms, published_by FROM catalog_versions WHERE version = $1")
        .bind(v)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(published_row).transpose()
}

/// Every published version's number, time and publisher, oldest first.
#[tracing::instrument(skip_all)]
pub async fn versions(db: &Db) -> Result<Vec<(i64, i64, String)>> {
    let rows = sqlx::query("SELECT version, published_ms, published_by FROM catalog_versions ORDER BY version")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("version")?, r.try_get("published_ms")?, r.try_get("published_by")?))).collect()
}

/// The draft as stored (JSON), if one was saved, through the pool or in a transaction.
#[tracing::instrument(skip_all)]
pub async fn draft<'c>(ex: impl sqlx::Executor<'c, Database = sqlx::Any>) -> Result<Option<String>> {
    let row = sqlx::query("SELECT doc FROM catalog_draft WHERE id = 1").fetch_optional(ex).await?;
    row.map(|r| Ok(r.try_get("doc")?)).transpose()
}

/// Replaces (or first saves) the draft.
#[tracing::instrument(skip_all)]
pub async fn save_draft(conn: &mut sqlx::AnyConnection, doc: &str, now: i64, by: &str) -> Result<()> {
    let updated = sqlx::query("UPDATE catalog_draft SET doc = $1, updated_ms = $2, updated_by = $3 WHERE id = 1")
        .bind(doc)
        .bind(now)
        .bind(by)
        .execute(&mut *conn)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO catalog_draft (id, doc, updated_ms, updated_by) VALUES (1, $1, $2, $3)")
            .bind(doc)
            .bind(now)
            .bind(by)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The number the next publish takes.
#[tracing::instrument(skip_all)]
pub async fn next_version(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    Ok(sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM catalog_versions")
        .fetch_one(&mut *conn)
        .await?
        .try_get("v")?)
}

/// Stores `catalog` as version `v`; [`CatalogError::PublishRace`] if another took the number.
#[tracing::instrument(skip_all, fields(version = v))]
pub async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    v: i64,
    catalog: &Catalog,
    now: i64,
    by: &str,
) -> Result<()> {
    let inserted =
        sqlx::query("INSERT INTO catalog_versions (version, doc, published_ms, published_by) VALUES ($1, $2, $3, $4)")
            .bind(v)
            .bind(serde_json::to_string(catalog)?)
            .bind(now)
            .bind(by)
            .execute(&mut *conn)
            .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(CatalogError::PublishRace.into()),
        Err(e) => Err(Error::from(e)),
        Ok(_) => Ok(()),
    }
}
