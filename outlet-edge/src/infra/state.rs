//! What every handler shares: [`AppState`], a small value made only of leaf types (the store, the
//! configuration, the current menu, the session table, the metrics, the PIN key, the cloud link's
//! state and the shutdown flag), so that no domain has to be named to build it.
//!
//! Why the leaf types moved here rather than handlers taking sub-states through `FromRef`: the
//! session table and the link state were the only domain types in the state, and neither needs a
//! domain (sessions map tokens to `Staff`, a protocol type; the link is a few counters and a
//! `Notify`). Moving them down keeps one state type and leaves every handler signature as it was;
//! the [`Session`](crate::infra::session::Session) extractor is still generic over any state that
//! yields the session table through `FromRef`, so a room can be tested with a smaller state.

use crate::infra::config::Config;
use crate::infra::link::Link;
use crate::infra::metrics::Metrics;
use crate::infra::session::Sessions;
use crate::infra::store::Store;
use axum::extract::FromRef;
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
    pub sync: Arc<Link>,
    /// Set to true when the server shuts down, ending the live streams.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// The current menu.
    pub fn menu(&self) -> Arc<Menu> {
        self.menu.read().map(|m| m.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }
}

impl FromRef<AppState> for Arc<Sessions> {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}
