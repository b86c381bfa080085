//! The one router: every room's `router()` merged, the OpenAPI document they describe, health,
//! metrics and the POS front end.

use crate::infra::error::{self, Result};
use crate::infra::state::AppState;
use crate::infra::{events, metrics, store};
use crate::{audit, changes, inventory, kitchen, menu, orders, refunds, reports, staff, sync};
use axum::Router;
use axum::extract::State;
use patty_protocol::ids::OutletId;
use patty_protocol::{ErrorBody, ErrorCode};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Patty Palace outlet edge", description = "The outlet's own server: orders, kitchen, stock and staff, working with no internet."),
    modifiers(&BEARER),
    components(schemas(ErrorBody, ErrorCode, events::Event))
)]
struct ApiDoc;

const BEARER: patty_service::http::BearerScheme = patty_service::http::BearerScheme {
    name: "pin_session",
    format: None,
    description: "token from POST /api/v1/sessions",
};

/// Health.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// "ok" when the database answers.
    pub status: &'static str,
    /// This outlet.
    #[schema(value_type = String)]
    pub outlet_id: OutletId,
}

/// Liveness and readiness: the database answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health), (status = 500, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn healthz(State(state): State<AppState>) -> Result<error::Json<Health>> {
    state.store.read(store::ping).await?;
    Ok(error::Json(Health { status: "ok", outlet_id: state.store.origin() }))
}

/// The routers of every module, merged, with the OpenAPI document they describe.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics::metrics))
        .merge(staff::router())
        .merge(menu::router())
        .merge(orders::router())
        .merge(refunds::router())
        .merge(kitchen::router())
        .merge(inventory::router())
        .merge(reports::router())
        .merge(audit::router())
        .merge(changes::router())
        .merge(sync::router())
        .split_for_parts();
    patty_service::openapi::document_errors(&mut api, &[]);
    patty_service::openapi::unique_operation_ids(&mut api);
    (router, api)
}

/// The whole HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = routes();
    // The POS front end, so that a tablet's browser on the outlet's network can be a terminal.
    let pos = patty_service::http::front_end("/pos", &state.config.pos.dir, false);
    patty_service::http::finish(router, openapi, state.metrics.http.clone(), state.config.limits.body_bytes, |r| {
        r.merge(pos)
    })
    .with_state(state)
}
