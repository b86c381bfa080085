//! The report's handler; the day's orders come from [`crate::orders`], no SQL here.

use super::day::{self, DayReport};
use crate::infra::error::{Error, Json, Query, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::orders;
use axum::extract::State;
use chrono::NaiveDate;
use patty_protocol::local;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Which day.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// The local day, YYYY-MM-DD (default today).
    #[serde(default)]
    #[param(format = Date)]
    pub date: Option<String>,
}

/// The end-of-day report (manager).
#[utoipa::path(get, path = "/api/v1/reports/day", tag = "reports", security(("pin_session" = [])), params(DayQuery),
    responses((status = 200, body = DayReport), (status = 403, body = patty_protocol::ErrorBody), (status = 400, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn day(State(state): State<AppState>, session: Session, Query(q): Query<DayQuery>) -> Result<Json<DayReport>> {
    session.require_manager()?;
    let zone = state.config.outlet.timezone;
    let date = match q.date {
        Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
            .map_err(|_| Error::Validation("date must be YYYY-MM-DD".into()))?,
        None => local::date_at(chrono::Utc::now(), zone),
    };
    let (start, end) = local::day_range_ms(date, zone);
    let taken = state.store.read(move |c| orders::store::taken_between(c, start, end)).await?;
    Ok(Json(day::build(date.to_string(), &taken, zone)))
}

/// The report routes.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(day))
}
