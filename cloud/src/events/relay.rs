//! The relay: takes the outbox's rows in id order, publishes them to Kafka when brokers are
//! configured, and moves them into the append-only `events` table with a gap-free `position`.

use crate::infra::db::{Backend, Db, now_ms};
use crate::infra::error::Result;
use crate::infra::kafka::{KafkaSink, Record};
use sqlx::Row;
use std::time::Duration;
use tokio::sync::watch;

/// How long the relay waits after a wake-up so one round carries what arrives meanwhile.
const COALESCE: Duration = Duration::from_millis(10);

/// How many events the relay takes per round: enough that waiting for the broker's
/// acknowledgements is paid once for many events.
pub const RELAY_BATCH: i64 = 20_000;

/// Relays the outbox: to Kafka if configured, and always into the positioned log.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    sink: Option<KafkaSink>,
    /// The highest relayed position, for live readers.
    pub relayed: watch::Sender<i64>,
    batch: i64,
}

impl Relay {
    /// A relay over `db`, publishing to `sink` when given, `batch` events a round. It wakes when a
    /// transaction begun with [`Db::begin`] commits.
    pub fn new(db: Db, sink: Option<KafkaSink>, batch: i64) -> Self {
        Self { db, sink, relayed: watch::channel(0).0, batch }
    }

    /// Relays one batch; returns how many events it relayed.
    #[tracing::instrument(skip_all, err(level = "warn"))]
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
        let pending: Vec<Record> = rows
            .iter()
            .map(|r| {
                Ok(Record {
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
                _ = self.db.committed(), if !failing => true,
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
