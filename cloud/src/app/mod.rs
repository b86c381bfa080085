//! The application: the shared state, the router that merges every domain's routes, the
//! background workers and `run`. The only room that names every domain; no domain imports it.

pub mod state;

use crate::app::state::AppState;
use crate::infra::config::Config;
use crate::infra::error::{self, Error, Result};
use crate::infra::state::Shared;
use crate::infra::{broker, db, docs, kafka, limits, mail, vault};
use crate::{
    catalog, customers, delivery, dispatch, events, fleet, identity, ordering, outlets, privacy, sync, telemetry,
};
use axum::Router;
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::{HeaderValue, Method};
use axum::response::{Html, IntoResponse};
use patty_protocol::{ErrorBody, ErrorCode};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
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
    sqlx::query("SELECT 1").execute(&state.db.pool).await?;
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
        .merge(events::router())
        .merge(sync::router())
        .merge(fleet::router())
        .merge(telemetry::router())
        .merge(delivery::router())
        .split_for_parts();
    // Every request passes the front door: credentials that do not verify are a 401, and any
    // caller can be over its rate.
    patty_service::openapi::document_errors(&mut api, &[401, 429]);
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

/// A key from the configuration, or else the one kept in the data directory's `file` (made there
/// the first time).
fn key_or_file(configured: &str, data_dir: &std::path::Path, file: &str) -> Result<Vec<u8>> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    std::fs::create_dir_all(data_dir).map_err(|e| Error::Internal(format!("create {}: {e}", data_dir.display())))?;
    let path = data_dir.join(file);
    patty_service::secret::load_or_create_key(&path).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))
}

/// Connects the database (migrating it), Kafka when configured, and builds the state.
pub async fn open(config: Config) -> Result<AppState> {
    let db = db::Db::connect(&config).await?;
    let secret = key_or_file(&config.auth.jwt_secret, &config.data_dir, "jwt.key")?;
    let master = key_or_file(&config.privacy.master_key, &config.data_dir, "master.key")?;
    if !config.auth.bootstrap_admin.is_empty() {
        identity::bootstrap_admin(&db, &config.auth.bootstrap_admin).await?;
    }
    let keys = Arc::new(identity::Keys::new(&secret, &config.auth.issuer, &config.auth.audience)?);
    let mail = mail::Mailer::from_config(&config.mail).map_err(|e| Error::Internal(format!("mail: {e}")))?;
    let sink = if config.kafka.brokers.is_empty() {
        None
    } else {
        Some(kafka::KafkaSink::connect(&config.kafka.brokers, &config.kafka.topic_prefix).await?)
    };
    let limits = Arc::new(limits::Limits::new(&config.http).map_err(Error::Validation)?);
    let relay = events::Relay::new(db.clone(), sink.clone(), events::RELAY_BATCH);
    let shared = Shared {
        db,
        config: Arc::new(config),
        vault: Arc::new(vault::Vault::new(&master)),
        kafka: sink,
        relayed: relay.relayed.clone(),
        closing: Arc::new(tokio::sync::watch::channel(false).0),
    };
    Ok(AppState {
        identity: identity::IdentityState {
            shared: shared.clone(),
            keys,
            limits,
            mail,
            live_customers: Default::default(),
        },
        shared,
        relay,
        http_metrics: Default::default(),
        catalog: Default::default(),
        outlets: Default::default(),
        fleet: Default::default(),
        deliveries: Default::default(),
        sync: Default::default(),
    })
}

/// Serves the cloud on `listener` until `shutdown` completes, with the outbox relay running, then
/// drains open requests and stops the relay.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tls = config.tls.server_config().map_err(Error::Validation)?;
    let mut config = config;
    if config.mqtt.url.is_empty() && config.mqtt.embedded {
        let addr = broker::start(config.mqtt.embedded_listen)?;
        config.mqtt.url = format!("mqtt://{addr}");
        config.mqtt.started_embedded = true;
    }
    if !config.mqtt.url.is_empty() && config.mqtt.client_id.is_empty() {
        config.mqtt.client_id = telemetry::client_id(&config.mqtt.share_group, &config.data_dir)?;
    }
    // A broker's CA file that cannot be read stops the start, not just the ingest later.
    telemetry::tls(&config.mqtt)?;
    let state = open(config).await?;
    let addr = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
    let shared = state.shared.clone();
    tracing::info!(%addr, https = tls.is_some(), database = ?shared.db.backend, kafka = !shared.config.kafka.brokers.is_empty(), "patty-cloud listening");
    let relay = tokio::spawn(state.relay.clone().run(shared.closing.subscribe(), Duration::from_millis(200)));
    let deliveries = delivery::DeliveryState::from_ref(&state);
    let tracking = tokio::spawn(delivery::tracking::run(deliveries.clone(), shared.closing.subscribe()));
    let ingest = tokio::spawn(telemetry::run(deliveries.clone(), shared.closing.subscribe()));
    let dispatch = tokio::spawn(dispatch::run(deliveries, shared.closing.subscribe()));
    let store = tokio::spawn(delivery::history::run(shared.clone(), shared.closing.subscribe()));
    let closing = shared.closing.clone();
    let served = patty_service::http::serve(listener, app(state), tls, async move {
        shutdown.await;
        closing.send_replace(true);
    })
    .await;
    let _ = relay.await;
    let _ = ingest.await;
    let _ = tracking.await;
    let _ = dispatch.await;
    let _ = store.await;
    served.map_err(|e| Error::Internal(format!("serve: {e}")))?;
    tracing::info!("patty-cloud stopped");
    Ok(())
}
