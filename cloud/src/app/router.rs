//! The router: every domain's routes merged, with the OpenAPI document they describe, the
//! operational routes (health, metrics, the API reference), CORS and the front door.

use crate::app::state::AppState;
use crate::infra::error::{self, Result};
use crate::infra::{db, docs};
use crate::{catalog, customers, delivery, events, fleet, identity, ordering, outlets, privacy, sync, telemetry};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method};
use axum::response::{Html, IntoResponse};
use patty_protocol::{ErrorBody, ErrorCode};
use serde::Serialize;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Patty Palace cloud", description = "Catalog, outlets, identity, customers and online ordering for the whole chain; every domain event goes through a transactional outbox to Kafka."),
    modifiers(&BEARER),
    components(schemas(ErrorBody, ErrorCode))
)]
struct ApiDoc;

const BEARER: patty_service::http::BearerScheme = patty_service::http::BearerScheme {
    name: "bearer",
    format: Some("JWT"),
    description: "access token from /api/v1/auth/login; or an X-Api-Key header",
};

/// Health.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// "ok" when the database answers.
    pub status: &'static str,
    /// "postgres" or "sqlite".
    pub database: &'static str,
    /// Whether the relay publishes to Kafka.
    pub kafka: bool,
    /// The MQTT broker telemetry comes through (`mqtt://host:port`), if any.
    pub mqtt: String,
}

/// Liveness and readiness: the database answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health), (status = 500, body = ErrorBody)))]
async fn healthz(State(state): State<AppState>) -> Result<error::Json<Health>> {
    state.db.ping().await?;
    let database = match state.db.backend {
        db::Backend::Postgres => "postgres",
        db::Backend::Sqlite => "sqlite",
    };
    Ok(error::Json(Health {
        status: "ok",
        database,
        kafka: !state.config.kafka.brokers.is_empty(),
        mqtt: state.config.mqtt.url.clone(),
    }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    state.http_metrics.render(&mut out);
    patty_service::metrics::series(
        &mut out,
        "patty_cloud_outbox_relayed_position",
        "gauge",
        "Highest relayed outbox position.",
        *state.relay.relayed.borrow(),
    );
    state.fleet.render(&mut out);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// The routers of every module, merged, with the OpenAPI document they describe.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .merge(identity::router())
        .merge(outlets::router())
        .merge(outlets::sales::router())
        .merge(catalog::router())
        .merge(customers::router())
        .merge(privacy::router())
        .merge(ordering::router())
        .merge(crate::payments::router())
        .merge(crate::checkout::router())
        .merge(crate::notify::router())
        .merge(events::router())
        .merge(sync::router())
        .merge(fleet::router())
        .merge(telemetry::router())
        .merge(delivery::router())
        .split_for_parts();
    // Every request passes the front door: credentials that do not verify are a 401, and any
    // caller can be over its rate.
    patty_service::openapi::document_errors(&mut api, &[401, 429]);
    patty_service::openapi::unique_operation_ids(&mut api);
    (router, api)
}

/// The whole HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = routes();
    let docs = Html(docs::render(&openapi));
    let origins = &state.config.http.cors_origins;
    let cors = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            "idempotency-key".parse().expect("header name"),
        ])
        .expose_headers([
            "x-request-id".parse().expect("header name"),
            "idempotent-replayed".parse().expect("header name"),
        ])
        .allow_origin(if origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        })
        .max_age(Duration::from_secs(3600));
    let router = router
        .route("/docs", axum::routing::get(move || async move { docs.clone() }))
        .merge(patty_service::http::front_end("/hq", &state.config.hq.dir, true));
    patty_service::http::finish(router, openapi, state.http_metrics.clone(), state.config.http.body_bytes, |r| {
        r.layer(axum::middleware::from_fn_with_state(state.identity.clone(), identity::front_door)).layer(cors)
    })
    .with_state(state)
}
