//! The outlet edge node: the server every POS terminal and kitchen screen of one outlet talks to.
//! It keeps selling with no internet: every write is durable in the outlet's SQLite before it is
//! acknowledged, and appends a change-log entry that sync ships to the cloud later.
//!
//! # Layout
//! - [`config`]: the typed configuration (defaults, TOML, `PATTY_…` variables, validation).
//! - [`store`]: SQLite with a group-committing single writer and a pool of readers.
//! - [`error`]: the one error type and the JSON-error extractors.
//! - [`staff`]: PIN sign-in, sessions, roles, the staff list.
//! - [`menu`]: the local menu, live availability, pricing.
//! - [`orders`]: taking, editing, moving, cancelling, voiding, paying and searching orders.
//! - [`kitchen`]: the kitchen queue, live, with bump and recall.
//! - [`inventory`]: stock levels, movements, low-stock alerts.
//! - [`reports`]: the end-of-day report.
//! - [`audit`]: the trail of manager-only actions.
//! - [`changes`]: the change log over HTTP.
//! - [`sync`]: the link to the cloud: the log goes up, catalogs and online orders come down; conflicts.
//! - [`events`]: the live streams' events and Server-Sent Events plumbing.
//! - [`metrics`]: Prometheus metrics.
//! - [`seed`]: the first menu, stock and staff of an empty store.
//! - [`state`]: what handlers share.
#![forbid(unsafe_code)]

pub mod audit;
pub mod changes;
pub mod config;
pub mod error;
pub mod events;
pub mod inventory;
pub mod kitchen;
pub mod menu;
pub mod metrics;
pub mod orders;
pub mod reports;
pub mod seed;
pub mod staff;
pub mod state;
pub mod store;
pub mod sync;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use patty_protocol::ids::OutletId;
use patty_protocol::{ErrorBody, ErrorCode};
use serde::Serialize;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
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
async fn healthz(State(state): State<AppState>) -> Result<error::Json<Health>> {
    state.store.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await?;
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
        .merge(kitchen::router())
        .merge(inventory::router())
        .merge(reports::router())
        .merge(audit::router())
        .merge(changes::router())
        .merge(sync::router())
        .split_for_parts();
    patty_service::openapi::document_errors(&mut api, &[]);
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

/// Opens the data directory (creating the store and seeding it when empty) and builds the state.
pub async fn open(config: Config) -> Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| Error::Internal(format!("create {}: {e}", config.data_dir.display())))?;
    let key_path = config.data_dir.join("pin.key");
    let pin_key = patty_service::secret::load_or_create_key(&key_path)
        .map_err(|e| Error::Internal(format!("{}: {e}", key_path.display())))?;
    let wanted: Option<OutletId> = match &config.outlet.id {
        Some(id) => Some(id.parse().map_err(|_| Error::Validation("outlet.id must be a UUID".into()))?),
        None => None,
    };
    let store = store::Store::open(&config.data_dir.join("edge.db"), wanted.unwrap_or_default())?;
    if let Some(want) = wanted
        && store.origin() != want
    {
        return Err(Error::Validation(format!("this data directory belongs to outlet {}, not {want}", store.origin())));
    }
    let seed_text = match &config.seed.file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Error::Validation(format!("seed file {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let menu = seed_if_empty(&store, seed_text.as_deref().unwrap_or(seed::SAMPLE), &pin_key).await?;
    let sessions = staff::Sessions::new(
        Duration::from_secs(config.session.idle_secs),
        Duration::from_secs(config.session.max_secs),
        Duration::from_secs(config.session.pin_lock_secs),
    );
    Ok(AppState {
        store,
        config: Arc::new(config),
        menu: Arc::new(RwLock::new(Arc::new(menu))),
        sessions: Arc::new(sessions),
        metrics: Arc::new(metrics::Metrics::default()),
        pin_key: pin_key.into(),
        sync: Default::default(),
        closing: Arc::new(tokio::sync::watch::channel(false).0),
    })
}

async fn seed_if_empty(store: &store::Store, seed_text: &str, pin_key: &[u8]) -> Result<patty_protocol::menu::Menu> {
    if let Some(menu) = store.read(menu::load_menu).await? {
        return Ok(menu);
    }
    let seed = seed::Seed::parse(seed_text)?;
    let key = pin_key.to_vec();
    let menu = seed.menu.clone();
    store.write(move |ctx| seed.apply(ctx, &key)).await?;
    tracing::info!(items = menu.items.len(), "seeded an empty store");
    Ok(menu)
}

/// Serves the edge on `listener` until `shutdown` completes, then drains open requests.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tls = config.tls.server_config().map_err(Error::Validation)?;
    // A CA file that cannot be read stops the start, not just the link later.
    let _ = config.cloud.client().map_err(Error::Validation)?;
    let state = open(config).await?;
    let addr = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
    tracing::info!(%addr, https = tls.is_some(), outlet_id = %state.store.origin(), cloud = %state.config.cloud.url, "patty-edge listening");
    sync::start(&state);
    let closing = state.closing.clone();
    let app = app(state);
    patty_service::http::serve(listener, app, tls, async move {
        shutdown.await;
        // Live streams end now, so graceful shutdown does not wait on them forever.
        closing.send_replace(true);
    })
    .await
    .map_err(|e| Error::Internal(format!("serve: {e}")))?;
    tracing::info!("patty-edge stopped");
    Ok(())
}
