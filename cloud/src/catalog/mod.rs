//! The catalog (HQ): a draft that is edited whole, and publishing, which freezes the draft into
//! an immutable, numbered version. Outlets sync versions; online orders are priced from the
//! latest and record which one.

use crate::events::{self, Topic};
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::catalog::Catalog;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A published version.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Published {
    /// The version number, from 1.
    pub version: i64,
    /// When, Unix ms.
    pub published_ms: i64,
    /// By whom.
    pub published_by: String,
    /// The catalog as published.
    pub catalog: Catalog,
}

/// The latest published catalog, parsed once per version, and when it was last confirmed.
#[derive(Clone, Default)]
pub struct Latest(Arc<std::sync::RwLock<Option<Confirmed>>>);

/// A published version and when it was last confirmed as the latest.
type Confirmed = (std::time::Instant, Arc<Published>);

/// What the catalog's handlers use.
#[derive(Clone)]
pub struct CatalogState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The latest published version.
    pub catalog: Latest,
}
crate::shared_state!(CatalogState);

/// How long the ordering path trusts its copy of the latest version before asking the database.
const LATEST_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The latest published version, if any: parsed once per version, shared, and re-checked against
/// the database at most once a second (a publish on this replica is seen at once).
pub async fn latest(db: &crate::infra::db::Db, cache: &Latest) -> Result<Option<Arc<Published>>> {
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
        _ => {
            let row =
                sqlx::query("SELECT version, doc, published_ms, published_by FROM catalog_versions WHERE version = $1")
                    .bind(newest)
                    .fetch_one(&db.pool)
                    .await?;
            Arc::new(published_row(&row)?)
        }
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

/// The draft (HQ).
#[utoipa::path(get, path = "/api/v1/catalog/draft", tag = "catalog", security(("bearer" = [])),
    responses((status = 200, body = Catalog), (status = 404, body = patty_protocol::ErrorBody)))]
async fn get_draft(State(state): State<CatalogState>, who: Principal) -> Result<Json<Catalog>> {
    who.require(&[])?;
    let row = sqlx::query("SELECT doc FROM catalog_draft WHERE id = 1")
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| Error::NotFound("no draft yet".into()))?;
    Ok(Json(serde_json::from_str(&row.try_get::<String, _>("doc")?)?))
}

/// Replace the draft (HQ): items, variants, modifiers, allergens, nutrition, windows, images,
/// and per-outlet prices and availability.
#[utoipa::path(put, path = "/api/v1/catalog/draft", tag = "catalog", security(("bearer" = [])), request_body = Catalog,
    responses((status = 200, body = Catalog), (status = 422, body = patty_protocol::ErrorBody)))]
async fn put_draft(
    State(state): State<CatalogState>,
    who: Principal,
    Json(catalog): Json<Catalog>,
) -> Result<Json<Catalog>> {
    who.require(&[])?;
    catalog.validate().map_err(|e| Error::Validation(e.0))?;
    for outlet in catalog.outlets.keys() {
        crate::outlets::load(&state.db, *outlet)
            .await
            .map_err(|_| Error::Validation(format!("the draft names unknown outlet {outlet}")))?;
    }
    let doc = serde_json::to_string(&catalog)?;
    let mut tx = state.db.begin().await?;
    let updated = sqlx::query("UPDATE catalog_draft SET doc = $1, updated_ms = $2, updated_by = $3 WHERE id = 1")
        .bind(&doc)
        .bind(now_ms())
        .bind(&who.subject)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO catalog_draft (id, doc, updated_ms, updated_by) VALUES (1, $1, $2, $3)")
            .bind(&doc)
            .bind(now_ms())
            .bind(&who.subject)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Json(catalog))
}

/// Publish the draft as the next immutable version (HQ).
#[utoipa::path(post, path = "/api/v1/catalog/publish", tag = "catalog", security(("bearer" = [])),
    responses((status = 201, body = Published), (status = 404, body = patty_protocol::ErrorBody)))]
async fn publish(State(state): State<CatalogState>, who: Principal) -> Result<(StatusCode, Json<Published>)> {
    who.require(&[])?;
    let mut tx = state.db.begin().await?;
    let doc: String = sqlx::query("SELECT doc FROM catalog_draft WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::NotFound("nothing to publish: no draft yet".into()))?
        .try_get("doc")?;
    let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM catalog_versions")
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
    let mut catalog: Catalog = serde_json::from_str(&doc)?;
    catalog.menu.version = version as u64;
    let now = now_ms();
    let inserted =
        sqlx::query("INSERT INTO catalog_versions (version, doc, published_ms, published_by) VALUES ($1, $2, $3, $4)")
            .bind(version)
            .bind(serde_json::to_string(&catalog)?)
            .bind(now)
            .bind(&who.subject)
            .execute(&mut *tx)
            .await;
    if let Err(e) = inserted {
        return Err(if crate::infra::db::is_unique_violation(&e) {
            Error::Conflict("another publish won the race; try again".into())
        } else {
            e.into()
        });
    }
    let event = serde_json::json!({ "version": version, "items": catalog.menu.items.len() });
    events::NewEvent::new(Topic::Catalog, "catalog", "catalog.published", &event).down_to("*").insert(&mut tx).await?;
    tx.commit().await?;
    if let Ok(mut c) = state.catalog.0.write() {
        *c = None;
    }
    Ok((StatusCode::CREATED, Json(Published { version, published_ms: now, published_by: who.subject, catalog })))
}

/// A version's summary.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionSummary {
    /// Version.
    pub version: i64,
    /// When, Unix ms.
    pub published_ms: i64,
    /// By whom.
    pub published_by: String,
}

/// Every published version (HQ).
#[utoipa::path(get, path = "/api/v1/catalog/versions", tag = "catalog", security(("bearer" = [])),
    responses((status = 200, body = Vec<VersionSummary>)))]
async fn versions(State(state): State<CatalogState>, who: Principal) -> Result<Json<Vec<VersionSummary>>> {
    who.require(&[])?;
    let rows = sqlx::query("SELECT version, published_ms, published_by FROM catalog_versions ORDER BY version")
        .fetch_all(&state.db.pool)
        .await?;
    let out = rows
        .iter()
        .map(|r| {
            Ok(VersionSummary {
                version: r.try_get("version")?,
                published_ms: r.try_get("published_ms")?,
                published_by: r.try_get("published_by")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(out))
}

/// One published version (HQ, edge nodes).
#[utoipa::path(get, path = "/api/v1/catalog/versions/{version}", tag = "catalog", security(("bearer" = [])),
    params(("version" = i64, Path, description = "version number")),
    responses((status = 200, body = Published), (status = 404, body = patty_protocol::ErrorBody)))]
async fn version(
    State(state): State<CatalogState>,
    who: Principal,
    Path(version): Path<i64>,
) -> Result<Json<Published>> {
    who.require(&[Role::Edge])?;
    let row = sqlx::query("SELECT version, doc, published_ms, published_by FROM catalog_versions WHERE version = $1")
        .bind(version)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no catalog version {version}")))?;
    Ok(Json(published_row(&row)?))
}

/// The catalog routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    CatalogState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(get_draft, put_draft))
        .routes(routes!(publish))
        .routes(routes!(versions))
        .routes(routes!(version))
}
