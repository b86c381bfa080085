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

use crate::auth::Principal;
use crate::db::{Backend, Db, now_ms};
use crate::error::{Error, Json, Query, Result};
use crate::kafka::KafkaSink;
use crate::state::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The Kafka topics of the domain events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Topic {
    /// `order.events`: placed, accepted, cancelled, completed…
    Order,
    /// `catalog.events`: a catalog version was published.
    Catalog,
    /// `customer.events`: registered, erased.
    Customer,
    /// `notification.events`: a security message was requested (verification, password reset),
    /// naming the user and the purpose; the token itself goes only to the user (`crate::mail`).
    Notification,
    /// `sync.events`: conflicts raised and settled, stock thresholds set by HQ.
    Sync,
    /// `delivery.status.events`: created, offered, declined, assigned, milestones, hand-over tries.
    DeliveryStatus,
    /// `delivery.geofence.alerts`: zone entries and exits.
    GeofenceAlert,
    /// `delivery.route.events`: ETA changes.
    DeliveryRoute,
}

impl Topic {
    /// Every domain topic, created with the same partition count; the delivery topics are created
    /// with their own counts ([`crate::fleet::TOPICS`]).
    pub const ALL: [Topic; 5] = [Self::Order, Self::Catalog, Self::Customer, Self::Notification, Self::Sync];

    /// The topic's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Order => "order.events",
            Self::Catalog => "catalog.events",
            Self::Customer => "customer.events",
            Self::Notification => "notification.events",
            Self::Sync => "sync.events",
            Self::DeliveryStatus => "delivery.status.events",
            Self::GeofenceAlert => "delivery.geofence.alerts",
            Self::DeliveryRoute => "delivery.route.events",
        }
    }
}

/// An event ready to be inserted into the outbox.
pub struct NewEvent {
    /// Unique id, for consumers to drop repeats.
    pub event_id: String,
    /// The topic's name.
    pub topic: &'static str,
    /// Aggregate id.
    pub key: String,
    /// Event kind.
    pub kind: String,
    /// The JSON published: `{event_id, kind, key, at_ms, data}`.
    pub payload: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The outlet whose downward stream carries it (`*`: every outlet's), if any.
    pub down: Option<String>,
}

impl NewEvent {
    /// An event of `kind` about aggregate `key`, carrying `data`.
    pub fn new(topic: Topic, key: &str, kind: &str, data: &serde_json::Value) -> Self {
        let event_id = uuid::Uuid::now_v7().to_string();
        let at_ms = now_ms();
        let payload =
            serde_json::json!({ "event_id": event_id, "kind": kind, "key": key, "at_ms": at_ms, "data": data })
                .to_string();
        Self { event_id, topic: topic.name(), key: key.to_owned(), kind: kind.to_owned(), payload, at_ms, down: None }
    }

    /// An event whose data may carry `customer`'s personal data: its personal fields are sealed
    /// with the customer's data key ([`crate::privacy`]) before it is written anywhere. With no
    /// customer (an order taken at a till) it is [`NewEvent::new`].
    pub async fn about(
        conn: &mut sqlx::AnyConnection,
        vault: &crate::privacy::Vault,
        customer: Option<&str>,
        topic: Topic,
        key: &str,
        kind: &str,
        mut data: serde_json::Value,
    ) -> Result<Self> {
        if let Some(c) = customer {
            vault.key_for(conn, c).await?.seal(&mut data)?;
        }
        Ok(Self::new(topic, key, kind, &data))
    }

    /// The same event, carried down to `outlet` (`*`: to every outlet).
    pub fn down_to(mut self, outlet: impl ToString) -> Self {
        self.down = Some(outlet.to_string());
        self
    }

    /// Appends the event to the outbox in the caller's transaction.
    pub async fn insert(self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox (event_id, topic, key, kind, payload, created_ms, down) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.event_id)
        .bind(self.topic)
        .bind(self.key)
        .bind(self.kind)
        .bind(self.payload)
        .bind(self.at_ms)
        .bind(self.down)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Appends an event to the outbox in the caller's transaction. `key` is the aggregate's id: Kafka
/// keeps each key's events in order within its partition.
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    topic: Topic,
    key: &str,
    kind: &str,
    data: &serde_json::Value,
) -> Result<()> {
    NewEvent::new(topic, key, kind, data).insert(conn).await
}

/// One outbox row.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutboxEvent {
    /// Gap-free relay order.
    pub position: i64,
    /// Unique id, for dropping repeats.
    pub event_id: String,
    /// Kafka topic.
    pub topic: String,
    /// Aggregate id (the Kafka key).
    pub key: String,
    /// Event kind (`order.placed`…).
    pub kind: String,
    /// The event as published: `{event_id, kind, key, at_ms, data}`.
    pub payload: serde_json::Value,
    /// When it was written, Unix ms.
    pub created_ms: i64,
}

/// How long the relay waits after a wake-up so one round carries what arrives meanwhile.
const COALESCE: Duration = Duration::from_millis(10);

/// How many events the relay takes per round: enough that waiting for the broker's
/// acknowledgements is paid once for many events.
pub const RELAY_BATCH: i64 = 20_000;

/// A row picked for relaying, with its payload as stored (published as is, never re-encoded).
pub struct Pending {
    /// The outbox row id.
    pub id: i64,
    /// Unique event id.
    pub event_id: String,
    /// Kafka topic.
    pub topic: String,
    /// Aggregate id, the Kafka key.
    pub key: String,
    /// The event's JSON.
    pub payload: String,
}

fn event_row(r: &sqlx::any::AnyRow) -> Result<OutboxEvent> {
    let payload: String = r.try_get("payload")?;
    Ok(OutboxEvent {
        position: r.try_get("position")?,
        event_id: r.try_get("event_id")?,
        topic: r.try_get("topic")?,
        key: r.try_get("key")?,
        kind: r.try_get("kind")?,
        payload: serde_json::from_str(&payload)?,
        created_ms: r.try_get("created_ms")?,
    })
}

/// Relays the outbox: to Kafka if configured, and always into the positioned log.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    sink: Option<KafkaSink>,
    /// Writers poke this after committing an event, so the relay does not wait for its tick.
    pub wake: std::sync::Arc<Notify>,
    /// The highest relayed position, for live readers.
    pub relayed: watch::Sender<i64>,
    batch: i64,
}

impl Relay {
    /// A relay over `db`, publishing to `sink` when given.
    pub fn new(db: Db, sink: Option<KafkaSink>, batch: i64) -> Self {
        Self { db, sink, wake: Default::default(), relayed: watch::channel(0).0, batch }
    }

    /// Relays one batch; returns how many events it relayed.
    pub async fn relay_once(&self) -> Result<usize> {
        let mut tx = self.db.pool.begin().await?;
        if self.db.backend == Backend::Postgres {
            let got: bool = sqlx::query("SELECT pg_try_advisory_xact_lock(7261626) AS got")
                .fetch_one(&mut *tx)
                .await?
                .try_get("got")?;
            if !got {
                return Ok(0);
            }
        }
        let rows = sqlx::query("SELECT id, event_id, topic, key, payload FROM outbox ORDER BY id LIMIT $1")
            .bind(self.batch)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let pending: Vec<Pending> = rows
            .iter()
            .map(|r| {
                Ok(Pending {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    topic: r.try_get("topic")?,
                    key: r.try_get("key")?,
                    payload: r.try_get("payload")?,
                })
            })
            .collect::<Result<_>>()?;
        if let Some(sink) = &self.sink {
            sink.send_all(&pending).await?;
        }
        let first: i64 = sqlx::query("SELECT value FROM relay_state WHERE name = 'next_position'")
            .fetch_one(&mut *tx)
            .await?
            .try_get("value")?;
        // Ids come from the database as integers, so the list is safe to inline. The events take
        // positions in id order; the outbox keeps only what is still to relay.
        let ids = pending.iter().map(|p| p.id.to_string()).collect::<Vec<_>>().join(",");
        let moved = format!(
            "INSERT INTO events (position, event_id, topic, key, kind, payload, created_ms, relayed_ms, down)
             SELECT $1 + ROW_NUMBER() OVER (ORDER BY id) - 1, event_id, topic, key, kind, payload, created_ms, $2, down
             FROM outbox WHERE id IN ({ids})"
        );
        sqlx::query(&moved).bind(first).bind(now_ms()).execute(&mut *tx).await?;
        sqlx::query(&format!("DELETE FROM outbox WHERE id IN ({ids})")).execute(&mut *tx).await?;
        let n = pending.len() as i64;
        sqlx::query("UPDATE relay_state SET value = value + $1 WHERE name = 'next_position'")
            .bind(n)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.relayed.send_replace(first + n - 1);
        Ok(pending.len())
    }

    /// Relays until `shutdown` is set: at once when woken, otherwise every `tick`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, tick: Duration) {
        if let Ok(Some(top)) = sqlx::query("SELECT MAX(position) AS top FROM events")
            .fetch_one(&self.db.pool)
            .await
            .map(|r| r.try_get::<Option<i64>, _>("top").ok().flatten())
        {
            self.relayed.send_replace(top);
        }
        let mut backoff = tick;
        loop {
            let failing = match self.relay_once().await {
                Ok(n) if n as i64 == self.batch => continue,
                Ok(_) => {
                    backoff = tick;
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    true
                }
            };
            // While failing (the broker is down), new events do not cut the backoff short.
            let woken = tokio::select! {
                _ = self.wake.notified(), if !failing => true,
                _ = tokio::time::sleep(backoff) => false,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            if woken {
                // Gather what arrives in the next few milliseconds into the same round.
                tokio::time::sleep(COALESCE).await;
            }
        }
    }
}

/// Reads relayed events after `after`, optionally only those of one key.
pub async fn read_after(db: &Db, after: i64, key: Option<&str>, limit: i64) -> Result<Vec<OutboxEvent>> {
    const COLUMNS: &str = "SELECT position, event_id, topic, key, kind, payload, created_ms FROM events";
    // Two statements rather than one with `$2 = '' OR key = $2`, so each uses its index.
    let rows = match key {
        Some(key) => {
            sqlx::query(&format!("{COLUMNS} WHERE key = $1 AND position > $2 ORDER BY position LIMIT $3"))
                .bind(key)
                .bind(after)
                .bind(limit)
                .fetch_all(&db.pool)
                .await?
        }
        None => {
            sqlx::query(&format!("{COLUMNS} WHERE position > $1 ORDER BY position LIMIT $2"))
                .bind(after)
                .bind(limit)
                .fetch_all(&db.pool)
                .await?
        }
    };
    rows.iter().map(event_row).collect()
}

/// Which events.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Events with a position above this (default 0).
    #[serde(default)]
    #[param(minimum = 0)]
    pub after: i64,
    /// Most to return (default 500, at most 5000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<i64>,
}

/// The relayed events in order, with a resumable cursor (HQ). With Kafka off, this is how other
/// systems read the events. Customers' personal fields are shown while their key exists
/// (sealed, see `privacy.rs`, once they are erased).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, body = Vec<OutboxEvent>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<OutboxEvent>>> {
    who.require(&[])?;
    if q.after < 0 {
        return Err(Error::Validation("after is 0 or more".into()));
    }
    let mut events = read_after(&state.db, q.after, None, patty_service::http::page_limit(q.limit, 500, 5000)?).await?;
    state.vault.open(&state.db.pool, events.iter_mut().map(|e| &mut e.payload).collect()).await?;
    Ok(Json(events))
}

/// Live events (Server-Sent Events) from a cursor (HQ): every relayed event after `after`, each
/// with its position as the SSE id, so a reconnecting client resumes where it stopped.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, description = "text/event-stream of events", content_type = "text/event-stream")))]
async fn stream(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<EventsQuery>,
) -> Result<impl axum::response::IntoResponse> {
    who.require(&[])?;
    // A stream has no pages; a limit given is still held to its documented range.
    patty_service::http::page_limit(q.limit, 500, 5000)?;
    if q.after < 0 {
        return Err(Error::Validation("after is 0 or more".into()));
    }
    Ok(follow(state, q.after, None))
}

/// An SSE stream of relayed events after `after` (of one `key` when given), until shutdown.
pub fn follow(
    state: AppState,
    after: i64,
    key: Option<String>,
) -> axum::response::Sse<
    impl futures::Stream<Item = std::result::Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive};
    let mut relayed = state.relay.relayed.subscribe();
    let mut closing = state.closing.subscribe();
    let stream = async_stream(move |tx| async move {
        let mut cursor = after;
        loop {
            let read = async {
                let mut events = read_after(&state.db, cursor, key.as_deref(), 500).await?;
                state.vault.open(&state.db.pool, events.iter_mut().map(|e| &mut e.payload).collect()).await?;
                Ok::<_, Error>(events)
            };
            match read.await {
                Ok(events) => {
                    for e in events {
                        cursor = e.position;
                        let ev = Event::default()
                            .id(cursor.to_string())
                            .event(e.kind.clone())
                            .json_data(&e.payload)
                            .unwrap_or_default();
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event stream read failed"),
            }
            tokio::select! {
                _ = relayed.changed() => {},
                // Another replica may be the one relaying: look again now and then.
                _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                _ = closing.wait_for(|c| *c) => return,
            }
        }
    });
    axum::response::Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A stream fed by a task through a small channel; the task stops when the client goes.
pub(crate) fn async_stream<F, Fut>(
    f: F,
) -> impl futures::Stream<Item = std::result::Result<axum::response::sse::Event, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<axum::response::sse::Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}

/// The event routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(stream))
}
