//! What every domain's handlers share: the database, the configuration, customers' data keys, the
//! Kafka producer, the relay's progress and the shutdown signal. Only leaf types; each domain adds
//! its own state beside it (see `app::state`, which hands each domain its part through
//! `axum::extract::FromRef`).

use crate::infra::config::Config;
use crate::infra::db::Db;
use crate::infra::kafka::KafkaSink;
use crate::infra::vault::Vault;
use std::sync::Arc;
use tokio::sync::watch;

/// Shared by every domain; cheap to clone.
#[derive(Clone)]
pub struct Shared {
    /// The database.
    pub db: Db,
    /// The running configuration.
    pub config: Arc<Config>,
    /// Customers' data keys under the master key: seals and opens personal fields in events.
    pub vault: Arc<Vault>,
    /// The Kafka producer, when brokers are configured.
    pub kafka: Option<KafkaSink>,
    /// The highest relayed outbox position, for live readers of the event log.
    pub relayed: watch::Sender<i64>,
    /// Set to true at shutdown, ending live streams and the background workers.
    pub closing: Arc<watch::Sender<bool>>,
}

/// Gives a domain's state struct (with a `shared: Shared` field) the fields of [`Shared`]:
/// `state.db`, `state.config`…
#[macro_export]
macro_rules! shared_state {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = $crate::infra::state::Shared;
            fn deref(&self) -> &Self::Target {
                &self.shared
            }
        }
    };
}
