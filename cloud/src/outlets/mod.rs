//! Outlets (HQ): name, position, delivery zone polygon, opening hours, time zone, status and
//! money rules. Anyone may list and read active outlets (customers choose where to order).

pub mod sales;

use crate::infra::access::{Principal, Role};
use crate::infra::db::{Db, now_ms};
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::ids::OutletId;
use patty_protocol::outlet::{Outlet, OutletStatus};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Reads an outlet; 404 if unknown.
pub async fn load(db: &Db, id: OutletId) -> Result<Outlet> {
    let row = sqlx::query("SELECT doc FROM outlets WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no outlet {id}")))?;
    Ok(serde_json::from_str(&row.try_get::<String, _>("doc")?)?)
}

/// Outlets as the ordering path last read them, and when.
#[derive(Clone, Default)]
pub struct Recent(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<OutletId, ReadAt>>>);

/// An outlet and when it was read.
type ReadAt = (std::time::Instant, std::sync::Arc<Outlet>);

/// An outlet for the ordering path: read from the database at most once a second per outlet
/// (status and hours changes reach orders within that second).
pub async fn load_recent(db: &Db, cache: &Recent, id: OutletId) -> Result<std::sync::Arc<Outlet>> {
    const TTL: std::time::Duration = std::time::Duration::from_secs(1);
    if let Some((at, o)) = cache.0.lock().ok().and_then(|m| m.get(&id).cloned())
        && at.elapsed() < TTL
    {
        return Ok(o);
    }
    let outlet = std::sync::Arc::new(load(db, id).await?);
    if let Ok(mut m) = cache.0.lock() {
        m.insert(id, (std::time::Instant::now(), outlet.clone()));
    }
    Ok(outlet)
}

fn status_str(s: OutletStatus) -> &'static str {
    match s {
        OutletStatus::Active => "active",
        OutletStatus::Paused => "paused",
        OutletStatus::Closed => "closed",
    }
}

/// Outlets that are not closed.
#[utoipa::path(get, path = "/api/v1/outlets", tag = "outlets", responses((status = 200, body = Vec<Outlet>)))]
async fn list(State(state): State<Shared>) -> Result<Json<Vec<Outlet>>> {
    let rows = sqlx::query("SELECT doc FROM outlets WHERE status <> 'closed' ORDER BY created_ms")
        .fetch_all(&state.db.pool)
        .await?;
    let outlets =
        rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect::<Result<Vec<_>>>()?;
    Ok(Json(outlets))
}

/// One outlet.
#[utoipa::path(get, path = "/api/v1/outlets/{id}", tag = "outlets", params(("id" = String, Path, description = "outlet id")),
    responses((status = 200, body = Outlet), (status = 404, body = patty_protocol::ErrorBody)))]
async fn get_one(State(state): State<Shared>, Path(id): Path<OutletId>) -> Result<Json<Outlet>> {
    Ok(Json(load(&state.db, id).await?))
}

/// Add an outlet (HQ). The body's id is the outlet's: the edge node uses it as its origin id.
#[utoipa::path(post, path = "/api/v1/outlets", tag = "outlets", security(("bearer" = [])), request_body = Outlet,
    responses((status = 201, body = Outlet), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn create(
    State(state): State<Shared>,
    who: Principal,
    Json(outlet): Json<Outlet>,
) -> Result<(StatusCode, Json<Outlet>)> {
    who.require(&[])?;
    outlet.validate().map_err(|e| Error::Validation(e.0))?;
    let now = now_ms();
    let r = sqlx::query("INSERT INTO outlets (id, doc, status, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4)")
        .bind(outlet.id.to_string())
        .bind(serde_json::to_string(&outlet)?)
        .bind(status_str(outlet.status))
        .bind(now)
        .execute(&state.db.pool)
        .await;
    match r {
        Err(e) if crate::infra::db::is_unique_violation(&e) => {
            Err(Error::Conflict(format!("outlet {} exists", outlet.id)))
        }
        Err(e) => Err(e.into()),
        Ok(_) => Ok((StatusCode::CREATED, Json(outlet))),
    }
}

/// Replace an outlet's definition (HQ, or that outlet's manager).
#[utoipa::path(put, path = "/api/v1/outlets/{id}", tag = "outlets", security(("bearer" = [])), request_body = Outlet,
    params(("id" = String, Path, description = "outlet id")),
    responses((status = 200, body = Outlet), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn replace(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<OutletId>,
    Json(outlet): Json<Outlet>,
) -> Result<Json<Outlet>> {
    who.require_outlet(&[Role::OutletManager], id)?;
    if outlet.id != id {
        return Err(Error::Validation("the body's id must match the path".into()));
    }
    outlet.validate().map_err(|e| Error::Validation(e.0))?;
    let done = sqlx::query("UPDATE outlets SET doc = $1, status = $2, updated_ms = $3 WHERE id = $4")
        .bind(serde_json::to_string(&outlet)?)
        .bind(status_str(outlet.status))
        .bind(now_ms())
        .bind(id.to_string())
        .execute(&state.db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no outlet {id}")));
    }
    Ok(Json(outlet))
}

/// The outlet routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Shared: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get_one, replace))
}
