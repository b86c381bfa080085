//! The sales figures over HTTP. No SQL: the handler calls [`super::store`].

use super::{OutletSales, store};
use crate::infra::access::{Principal, Role};
use crate::infra::error::{Json, Path, Query, Result};
use crate::infra::state::Shared;
use crate::outlets::OutletError;
use axum::extract::State;
use chrono::{NaiveDate, Utc};
use patty_protocol::ids::OutletId;
use patty_protocol::local;
use serde::Deserialize;

/// Which day.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SalesQuery {
    /// The outlet's local day, YYYY-MM-DD (default: its today).
    #[serde(default)]
    #[param(format = Date)]
    pub date: Option<String>,
}

/// The outlet's sales for one of its local days (that outlet's staff and managers, HQ).
#[utoipa::path(get, path = "/api/v1/outlets/{id}/sales", tag = "outlets", security(("bearer" = [])),
    params(("id" = String, Path, description = "outlet id"), SalesQuery),
    responses((status = 200, body = OutletSales), (status = 401, body = patty_protocol::ErrorBody),
        (status = 403, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody),
        (status = 422, body = patty_protocol::ErrorBody), (status = 429, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %id))]
pub async fn outlet_sales(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<OutletId>,
    Query(q): Query<SalesQuery>,
) -> Result<Json<OutletSales>> {
    who.require_outlet(&[Role::OutletStaff, Role::OutletManager], id)?;
    let outlet = crate::outlets::load(&state.db, id).await?;
    let date = match q.date.as_deref() {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| OutletError::Invalid("date must be a day, YYYY-MM-DD".into()))?,
        None => local::date_at(Utc::now(), outlet.timezone),
    };
    Ok(Json(store::day_figures(&state.db, id, outlet.timezone, date).await?))
}
