//! What every handler shares.

use crate::auth::Keys;
use crate::config::Config;
use crate::db::Db;
use crate::outbox::Relay;
use patty_service::metrics::HttpMetrics;
use std::sync::Arc;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The running configuration.
    pub config: Arc<Config>,
    /// Access-token signing keys.
    pub keys: Arc<Keys>,
    /// The outbox relay (its wake-up and its progress).
    pub relay: Relay,
    /// Requests and latency by route.
    pub http_metrics: Arc<HttpMetrics>,
    /// The latest published catalog, parsed once per version.
    pub catalog: Arc<std::sync::RwLock<Option<Arc<crate::catalog::Published>>>>,
    /// Set to true at shutdown, ending live streams and the relay.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}
