//! What every handler shares.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::staff::Sessions;
use crate::store::Store;
use patty_protocol::menu::Menu;
use std::sync::{Arc, RwLock};

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The running configuration.
    pub config: Arc<Config>,
    /// The current menu, parsed once; replaced whole when a new version is applied.
    pub menu: Arc<RwLock<Arc<Menu>>>,
    /// Signed-in staff.
    pub sessions: Arc<Sessions>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The key PINs are hashed with.
    pub pin_key: Arc<[u8]>,
    /// The link to the cloud.
    pub sync: Arc<crate::sync::Link>,
    /// Set to true when the server shuts down, ending the live streams.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// The current menu.
    pub fn menu(&self) -> Arc<Menu> {
        self.menu.read().map(|m| m.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }
}
