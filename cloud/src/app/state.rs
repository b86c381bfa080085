//! The application's state: the leaves every domain shares ([`Shared`]) and each domain's own
//! state, handed to each domain's handlers through `FromRef`, so a domain sees only what it uses
//! and never this type.

use crate::catalog::{CatalogState, Latest};
use crate::delivery::{Deliveries, DeliveryState};
use crate::fleet::{Fleet, FleetState};
use crate::identity::IdentityState;
use crate::infra::atrest::AtRest;
use crate::infra::state::Shared;
use crate::notify::NotifyState;
use crate::ordering::{OrderingState, Payer};
use crate::outlets::Recent;
use crate::payments::{PaymentsState, Providers};
use crate::sync::{SyncFigures, SyncState};
use axum::extract::FromRef;
use patty_service::metrics::HttpMetrics;
use std::sync::Arc;

/// Everything the cloud's handlers and workers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The leaves: database, configuration, data keys, Kafka, the relay's progress, shutdown.
    pub shared: Shared,
    /// Identity: signing keys, rate limits, the mail transport, customers known not erased.
    pub identity: IdentityState,
    /// The outbox relay.
    pub relay: crate::events::Relay,
    /// Requests and latency by route.
    pub http_metrics: Arc<HttpMetrics>,
    /// The latest published catalog, parsed once per version.
    pub catalog: Latest,
    /// Outlets as the ordering path last read them.
    pub outlets: Recent,
    /// Drivers' latest positions and the ingest's counters.
    pub fleet: Arc<Fleet>,
    /// Deliveries: the dispatcher's choice, zones, presence, the live streams.
    pub deliveries: Arc<Deliveries>,
    /// Sync's figures and which outlets' downward streams are open here.
    pub sync: Arc<SyncFigures>,
    /// The payment providers.
    pub providers: Arc<Providers>,
    /// The key ring for payment columns at rest.
    pub ring: Arc<AtRest>,
    /// Checkout, which ordering hands new online orders to.
    pub payer: Arc<dyn Payer>,
    /// Notifications: the channels, the link key, the inbox's wake-ups.
    pub notify: NotifyState,
}

impl FromRef<AppState> for NotifyState {
    fn from_ref(s: &AppState) -> Self {
        s.notify.clone()
    }
}

impl FromRef<AppState> for PaymentsState {
    fn from_ref(s: &AppState) -> Self {
        PaymentsState { shared: s.shared.clone(), providers: s.providers.clone(), ring: s.ring.clone() }
    }
}

impl FromRef<AppState> for Shared {
    fn from_ref(s: &AppState) -> Self {
        s.shared.clone()
    }
}

impl FromRef<AppState> for IdentityState {
    fn from_ref(s: &AppState) -> Self {
        s.identity.clone()
    }
}

impl FromRef<AppState> for CatalogState {
    fn from_ref(s: &AppState) -> Self {
        CatalogState { shared: s.shared.clone(), catalog: s.catalog.clone() }
    }
}

impl FromRef<AppState> for OrderingState {
    fn from_ref(s: &AppState) -> Self {
        OrderingState {
            shared: s.shared.clone(),
            catalog: s.catalog.clone(),
            outlets: s.outlets.clone(),
            payer: s.payer.clone(),
        }
    }
}

impl FromRef<AppState> for SyncState {
    fn from_ref(s: &AppState) -> Self {
        SyncState { shared: s.shared.clone(), catalog: s.catalog.clone(), figures: s.sync.clone() }
    }
}

impl FromRef<AppState> for FleetState {
    fn from_ref(s: &AppState) -> Self {
        FleetState { shared: s.shared.clone(), fleet: s.fleet.clone() }
    }
}

impl FromRef<AppState> for DeliveryState {
    fn from_ref(s: &AppState) -> Self {
        DeliveryState { shared: s.shared.clone(), fleet: s.fleet.clone(), deliveries: s.deliveries.clone() }
    }
}
crate::shared_state!(AppState);
