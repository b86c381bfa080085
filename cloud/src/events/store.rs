//! The event log's SQL: reading relayed events by position.

use crate::infra::db::Db;
use crate::infra::error::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;

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

/// Reads relayed events after `after`, optionally only those of one key.
#[tracing::instrument(skip_all, err(level = "warn"), fields(after, key))]
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
