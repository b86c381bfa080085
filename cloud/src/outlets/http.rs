//! Outlets over HTTP: list, read, add and replace. No SQL: the handlers call [`super::store`].

use super::{OutletError, store};
use crate::infra::access::{Principal, Role};
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::ids::OutletId;
use patty_protocol::outlet::Outlet;

impl From<OutletError> for Error {
    fn from(e: OutletError) -> Self {
        use OutletError as O;
        match e {
            O::NotFound(_) => Self::NotFound(e.to_string()),
            O::Exists(_) => Self::Conflict(e.to_string()),
            O::IdMismatch | O::Invalid(_) => Self::Validation(e.to_string()),
            O::Other(e) => e,
        }
    }
}

/// Outlets that are not closed.
#[utoipa::path(get, path = "/api/v1/outlets", tag = "outlets", responses((status = 200, body = Vec<Outlet>)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(State(state): State<Shared>) -> Result<Json<Vec<Outlet>>> {
    Ok(Json(store::not_closed(&state.db).await?))
}

/// One outlet.
#[utoipa::path(get, path = "/api/v1/outlets/{id}", tag = "outlets", params(("id" = String, Path, description = "outlet id")),
    responses((status = 200, body = Outlet), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %id))]
pub async fn get_one(State(state): State<Shared>, Path(id): Path<OutletId>) -> Result<Json<Outlet>> {
    Ok(Json(store::load(&state.db, id).await?))
}

/// Add an outlet (HQ). The body's id is the outlet's: the edge node uses it as its origin id.
#[utoipa::path(post, path = "/api/v1/outlets", tag = "outlets", security(("bearer" = [])), request_body = Outlet,
    responses((status = 201, body = Outlet), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %outlet.id))]
pub async fn create(
    State(state): State<Shared>,
    who: Principal,
    Json(outlet): Json<Outlet>,
) -> Result<(StatusCode, Json<Outlet>)> {
    who.require(&[])?;
    outlet.validate().map_err(|e| OutletError::Invalid(e.0))?;
    store::insert(&state.db, &outlet).await?;
    Ok((StatusCode::CREATED, Json(outlet)))
}

/// Replace an outlet's definition (HQ, or that outlet's manager).
#[utoipa::path(put, path = "/api/v1/outlets/{id}", tag = "outlets", security(("bearer" = [])), request_body = Outlet,
    params(("id" = String, Path, description = "outlet id")),
    responses((status = 200, body = Outlet), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %id))]
pub async fn replace(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<OutletId>,
    Json(outlet): Json<Outlet>,
) -> Result<Json<Outlet>> {
    who.require_outlet(&[Role::OutletManager], id)?;
    if outlet.id != id {
        return Err(OutletError::IdMismatch.into());
    }
    outlet.validate().map_err(|e| OutletError::Invalid(e.0))?;
    store::replace(&state.db, &outlet).await?;
    Ok(Json(outlet))
}
