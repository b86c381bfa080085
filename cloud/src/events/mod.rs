//! The transactional outbox: every domain event is written in the same transaction as the change
//! that caused it ([`record`]). One relay ([`Relay`]) takes the outbox's rows in id order,
//! publishes them to Kafka when brokers are configured, and moves them into the append-only
//! `events` table with a gap-free `position` in the order it relayed them; readers follow that
//! position over HTTP (a cursor, or a live stream).
//!
//! A crash anywhere loses nothing: a row leaves the outbox only after Kafka acknowledged it, so a
//! crash between the two re-sends it. Consumers drop repeats by the event's unique `event_id`.
//! On PostgreSQL, several cloud replicas may run relays; a transaction-scoped advisory lock lets
//! one of them work at a time.
//!
//! # Layout
//! - [`outbox`]: the one writer ([`record`], [`record_all`], [`NewEvent`]).
//! - [`relay`]: the [`Relay`] to Kafka and into the positioned log.
//! - [`store`]: reading the log.
//! - [`http`]: the log over HTTP, and [`follow`], a live stream of it for other rooms' routes.
//!
//! May use `infra` only; every domain records its events here.

pub mod http;
pub mod outbox;
pub mod relay;
pub mod store;

pub use http::{async_stream, follow, resumed_after};
pub use outbox::{NewEvent, record, record_all, record_event};
pub use patty_protocol::topics::Topic;
pub use relay::{RELAY_BATCH, Relay};
pub use store::{OutboxEvent, read_after};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The event routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    crate::infra::state::Shared: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(http::list)).routes(routes!(http::stream))
}
