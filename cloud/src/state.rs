//! What every handler shares.

use crate::auth::Keys;
use crate::config::Config;
use crate::db::Db;
use crate::outbox::Relay;
use patty_protocol::ids::OutletId;
use patty_protocol::outlet::Outlet;
use patty_service::metrics::HttpMetrics;
use std::sync::Arc;

/// A shared value and when it was last read from the database.
pub type Recent<T> = (std::time::Instant, Arc<T>);

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The running configuration.
    pub config: Arc<Config>,
    /// Access-token signing keys.
    pub keys: Arc<Keys>,
    /// Customers' data keys under the master key: seals and opens personal fields in events.
    pub vault: Arc<crate::privacy::Vault>,
    /// The outbox relay (its wake-up and its progress).
    pub relay: Relay,
    /// Requests and latency by route.
    pub http_metrics: Arc<HttpMetrics>,
    /// The latest published catalog, parsed once per version, and when it was last confirmed.
    pub catalog: Arc<std::sync::RwLock<Option<Recent<crate::catalog::Published>>>>,
    /// Outlets as the ordering path last read them, and when.
    pub outlets: Arc<std::sync::Mutex<std::collections::HashMap<OutletId, Recent<Outlet>>>>,
    /// Customers last confirmed not erased, and when.
    pub live_customers: Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
    /// The Kafka producer, when brokers are configured.
    pub kafka: Option<crate::kafka::KafkaSink>,
    /// Drivers' latest positions and the ingest's counters.
    pub fleet: Arc<crate::fleet::Fleet>,
    /// Deliveries: the dispatcher's choice, zones, presence, the live streams.
    pub deliveries: Arc<crate::delivery::Deliveries>,
    /// Sync's figures and which outlets' downward streams are open here.
    pub sync: Arc<crate::sync::SyncState>,
    /// Rate limits and the proxies trusted to name a client.
    pub limits: Arc<crate::limits::Limits>,
    /// Where security messages (verification, password reset) are handed, never through events.
    pub mail: crate::mail::Mailer,
    /// Set to true at shutdown, ending live streams and the relay.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}
