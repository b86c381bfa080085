//! The house's front door: opening the data directory and building the state, the router that
//! merges every room's `router()`, the seed of an empty store, and [`run`].
//!
//! May use: everything (`infra` and every domain). It is the only code that names every domain;
//! nothing else may use it.

pub mod router;
pub mod seed;

use crate::infra::config::Config;
use crate::infra::error::{Error, Result};
use crate::infra::session::Sessions;
use crate::infra::state::AppState;
use crate::infra::{metrics, store};
use crate::{menu, refunds, sync};
use patty_protocol::ids::OutletId;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;

pub use router::{app, routes};

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
    let sessions = Sessions::new(
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
    refunds::start(&state);
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
