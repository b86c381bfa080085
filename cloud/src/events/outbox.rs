//! The outbox writer: every domain event is written with [`record`] (or [`record_all`]) in the
//! same transaction as the change that caused it. Nothing else writes the outbox.

use super::Topic;
use crate::infra::db::now_ms;
use crate::infra::error::Result;
use crate::infra::vault::Vault;
use patty_protocol::events::DomainEvent;

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
    /// The event `e`, of its type's topic and kind.
    pub fn of<E: DomainEvent>(e: &E) -> Result<Self> {
        Ok(Self::new(E::TOPIC, &e.key(), &e.kind(), &serde_json::to_value(e)?))
    }

    /// The event `e` with its personal fields sealed under `customer`'s data key (see
    /// [`NewEvent::about`]).
    pub async fn sealed<E: DomainEvent>(
        conn: &mut sqlx::AnyConnection,
        vault: &Vault,
        customer: Option<&str>,
        e: &E,
    ) -> Result<Self> {
        Self::about(conn, vault, customer, E::TOPIC, &e.key(), &e.kind(), serde_json::to_value(e)?).await
    }

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
    /// with the customer's data key ([`crate::infra::vault`]) before it is written anywhere. With no
    /// customer (an order taken at a till) it is [`NewEvent::new`].
    pub async fn about(
        conn: &mut sqlx::AnyConnection,
        vault: &Vault,
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
        record_all(conn, vec![self]).await
    }

    /// Binds the event's seven values in the order of [`insert_sql`]'s columns.
    pub fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q.bind(self.event_id)
            .bind(self.topic)
            .bind(self.key)
            .bind(self.kind)
            .bind(self.payload)
            .bind(self.at_ms)
            .bind(self.down)
    }
}

/// The outbox's columns, in the order [`NewEvent::bind`] binds them.
const COLUMNS: &str = "event_id, topic, key, kind, payload, created_ms, down";

/// The one statement that writes the outbox: `rows` events whose parameters start at `$first`.
/// Used alone, for a batch, and inside a data-modifying CTE on PostgreSQL's hottest path.
pub fn insert_sql(first: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO outbox ({COLUMNS}) VALUES ");
    for r in 0..rows {
        let p: Vec<String> = (0..7).map(|c| format!("${}", first + r * 7 + c)).collect();
        sql.push_str(if r == 0 { "(" } else { ", (" });
        sql.push_str(&p.join(", "));
        sql.push(')');
    }
    sql
}

/// Most events per statement (7 parameters each, well inside both engines' limits).
const PER_STATEMENT: usize = 1_000;

/// Appends `events` to the outbox in the caller's transaction, in as few statements as the
/// parameter limit allows. The relay wakes when the transaction commits ([`crate::infra::db::Tx`]).
#[tracing::instrument(skip_all, err(level = "warn"), fields(events = events.len()))]
pub async fn record_all(conn: &mut sqlx::AnyConnection, events: Vec<NewEvent>) -> Result<()> {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<NewEvent> = events.by_ref().take(PER_STATEMENT).collect();
        let sql = insert_sql(1, chunk.len());
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = e.bind(q);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
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

/// Appends the typed event `e` to the outbox in the caller's transaction.
pub async fn record_event<E: DomainEvent>(conn: &mut sqlx::AnyConnection, e: &E) -> Result<()> {
    NewEvent::of(e)?.insert(conn).await
}
