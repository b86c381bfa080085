//! The application: the shared state, the router that merges every domain's routes, the
//! background workers and `run`. The only room that names every domain; no domain imports it.

pub mod router;
pub mod state;

pub use router::{app, routes};

use crate::app::state::AppState;
use crate::infra::config::Config;
use crate::infra::error::{Error, Result};
use crate::infra::state::Shared;
use crate::infra::{broker, db, kafka, limits, mail, vault};
use crate::{delivery, dispatch, events, identity, telemetry};
use axum::extract::FromRef;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Connects the database (migrating it), Kafka when configured, and builds the state.
pub async fn open(config: Config) -> Result<AppState> {
    let db = db::Db::connect(&config).await?;
    let secret = crate::infra::config::key_or_file(&config.auth.jwt_secret, &config.data_dir, "jwt.key")?;
    let master = crate::infra::config::key_or_file(&config.privacy.master_key, &config.data_dir, "master.key")?;
    if !config.auth.bootstrap_admin.is_empty() {
        identity::bootstrap_admin(&db, &config.auth.bootstrap_admin).await?;
    }
    let keys = Arc::new(identity::Keys::new(&secret, &config.auth.issuer, &config.auth.audience)?);
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
    let providers = Arc::new(
        crate::payments::Providers::from_config(&shared.config.payments)
            .map_err(|e| Error::Validation(format!("payments: {e}")))?,
    );
    let ring = Arc::new(
        crate::infra::atrest::AtRest::from_config(&shared.config.payments, &shared.config.data_dir)
            .map_err(|e| Error::Validation(format!("payments: {e}")))?,
    );
    let notify = crate::notify::NotifyState::open(shared.clone(), ring.clone())?;
    let mail = mail::Mailer::new(Some(Arc::new(crate::notify::SecurityQueue(notify.clone()))));
    let payer: Arc<dyn crate::ordering::Payer> = Arc::new(crate::checkout::Checkout(crate::payments::PaymentsState {
        shared: shared.clone(),
        providers: providers.clone(),
        ring: ring.clone(),
    }));
    Ok(AppState {
        notify,
        providers,
        ring,
        payer,
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
    let payments = crate::payments::PaymentsState::from_ref(&state);
    let checkout = tokio::spawn(crate::checkout::worker::run(payments.clone(), shared.closing.subscribe()));
    let rotation = tokio::spawn(crate::infra::atrest::rotate_forever(
        shared.db.clone(),
        payments.ring.clone(),
        [crate::payments::store::SEALED.as_slice(), &[crate::notify::store::SEALED]].concat(),
        Duration::from_secs(60),
        shared.closing.subscribe(),
    ));
    let notifier = shared.config.notify.embedded.then(|| {
        tokio::spawn(crate::notify::worker::run(
            crate::notify::NotifyState::from_ref(&state),
            shared.closing.subscribe(),
        ))
    });
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
    if let Some(notifier) = notifier {
        let _ = notifier.await;
    }
    let _ = checkout.await;
    let _ = rotation.await;
    served.map_err(|e| Error::Internal(format!("serve: {e}")))?;
    tracing::info!("patty-cloud stopped");
    Ok(())
}

/// Runs the notifier alone (`patty-notifier`): the same database as the cloud (migrated), its
/// keys (shared through the configuration or the data directory), the event log followed and
/// messages sent, and `/healthz` and `/metrics` (messages by channel and state) on `listener`,
/// until `shutdown` completes. As many may run as wanted, beside a cloud with
/// `notify.embedded = false`.
pub async fn run_notifier(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let db = db::Db::connect(&config).await?;
    let master = crate::infra::config::key_or_file(&config.privacy.master_key, &config.data_dir, "master.key")?;
    let ring = Arc::new(
        crate::infra::atrest::AtRest::from_config(&config.payments, &config.data_dir)
            .map_err(|e| Error::Validation(format!("payments: {e}")))?,
    );
    let shared = Shared {
        db,
        config: Arc::new(config),
        vault: Arc::new(vault::Vault::new(&master)),
        kafka: None,
        relayed: tokio::sync::watch::channel(0).0,
        closing: Arc::new(tokio::sync::watch::channel(false).0),
    };
    let state = crate::notify::NotifyState::open(shared.clone(), ring)?;
    let addr = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
    tracing::info!(%addr, database = ?shared.db.backend, "patty-notifier listening");
    let worker = tokio::spawn(crate::notify::worker::run(state.clone(), shared.closing.subscribe()));
    let routes = axum::Router::new()
        .route("/healthz", axum::routing::get(notifier_health))
        .route("/metrics", axum::routing::get(notifier_metrics))
        .with_state(state);
    let closing = shared.closing.clone();
    let served = patty_service::http::serve(listener, routes, None, async move {
        shutdown.await;
        closing.send_replace(true);
    })
    .await;
    let _ = worker.await;
    served.map_err(|e| Error::Internal(format!("serve: {e}")))?;
    tracing::info!("patty-notifier stopped");
    Ok(())
}

async fn notifier_health(
    axum::extract::State(state): axum::extract::State<crate::notify::NotifyState>,
) -> Result<crate::infra::error::Json<serde_json::Value>> {
    state.db.ping().await?;
    Ok(crate::infra::error::Json(serde_json::json!({ "status": "ok" })))
}

async fn notifier_metrics(
    axum::extract::State(state): axum::extract::State<crate::notify::NotifyState>,
) -> Result<String> {
    let mut out = String::from(
        "# HELP patty_notifications Notification messages by channel and state.\n# TYPE patty_notifications gauge\n",
    );
    for (channel, s, n) in crate::notify::store::counts(&state.db).await? {
        out.push_str(&format!("patty_notifications{{channel=\"{channel}\",state=\"{s}\"}} {n}\n"));
    }
    Ok(out)
}
