//! The catalog over HTTP: the draft, publishing, and the published versions. No SQL: the
//! handlers call [`super::store`].

use super::{CatalogError, CatalogState, Published, store};
use crate::events::{self};
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::catalog::Catalog;
use patty_protocol::events::CatalogPublished;
use serde::{Deserialize, Serialize};

impl From<CatalogError> for Error {
    fn from(e: CatalogError) -> Self {
        use CatalogError as C;
        match e {
            C::NoDraft | C::NothingToPublish | C::NoVersion(_) => Self::NotFound(e.to_string()),
            C::PublishRace => Self::Conflict(e.to_string()),
            C::UnknownOutlet(_) | C::Invalid(_) => Self::Validation(e.to_string()),
            C::Other(e) => e,
        }
    }
}

/// The draft (HQ).
#[utoipa::path(get, path = "/api/v1/catalog/draft", tag = "catalog", security(("bearer" = [])),
    responses((status = 200, body = Catalog), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_draft(State(state): State<CatalogState>, who: Principal) -> Result<Json<Catalog>> {
    who.require(&[])?;
    let doc = store::draft(&state.db.pool).await?.ok_or(CatalogError::NoDraft)?;
    Ok(Json(serde_json::from_str(&doc)?))
}

/// Replace the draft (HQ): items, variants, modifiers, allergens, nutrition, windows, images,
/// and per-outlet prices and availability.
#[utoipa::path(put, path = "/api/v1/catalog/draft", tag = "catalog", security(("bearer" = [])), request_body = Catalog,
    responses((status = 200, body = Catalog), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn put_draft(
    State(state): State<CatalogState>,
    who: Principal,
    Json(catalog): Json<Catalog>,
) -> Result<Json<Catalog>> {
    who.require(&[])?;
    catalog.validate().map_err(|e| CatalogError::Invalid(e.0))?;
    for outlet in catalog.outlets.keys() {
        crate::outlets::load(&state.db, *outlet).await.map_err(|_| CatalogError::UnknownOutlet(*outlet))?;
    }
    let doc = serde_json::to_string(&catalog)?;
    let mut tx = state.db.begin().await?;
    store::save_draft(&mut tx, &doc, now_ms(), &who.subject).await?;
    tx.commit().await?;
    Ok(Json(catalog))
}

/// Publish the draft as the next immutable version (HQ).
#[utoipa::path(post, path = "/api/v1/catalog/publish", tag = "catalog", security(("bearer" = [])),
    responses((status = 201, body = Published), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn publish(State(state): State<CatalogState>, who: Principal) -> Result<(StatusCode, Json<Published>)> {
    who.require(&[])?;
    let mut tx = state.db.begin().await?;
    let doc = store::draft(&mut *tx).await?.ok_or(CatalogError::NothingToPublish)?;
    let version = store::next_version(&mut tx).await?;
    let mut catalog: Catalog = serde_json::from_str(&doc)?;
    catalog.menu.version = version as u64;
    let now = now_ms();
    store::insert_version(&mut tx, version, &catalog, now, &who.subject).await?;
    let event = CatalogPublished { version, items: catalog.menu.items.len() };
    events::NewEvent::of(&event)?.down_to("*").insert(&mut tx).await?;
    tx.commit().await?;
    state.catalog.forget();
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
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn versions(State(state): State<CatalogState>, who: Principal) -> Result<Json<Vec<VersionSummary>>> {
    who.require(&[])?;
    let out = store::versions(&state.db).await?;
    Ok(Json(
        out.into_iter()
            .map(|(version, published_ms, published_by)| VersionSummary { version, published_ms, published_by })
            .collect(),
    ))
}

/// One published version (HQ, edge nodes).
#[utoipa::path(get, path = "/api/v1/catalog/versions/{version}", tag = "catalog", security(("bearer" = [])),
    params(("version" = i64, Path, description = "version number")),
    responses((status = 200, body = Published), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(version = version))]
pub async fn version(
    State(state): State<CatalogState>,
    who: Principal,
    Path(version): Path<i64>,
) -> Result<Json<Published>> {
    who.require(&[Role::Edge])?;
    Ok(Json(store::version(&state.db, version).await?.ok_or(CatalogError::NoVersion(version))?))
}
