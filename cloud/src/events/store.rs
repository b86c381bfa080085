//! The event log's SQL: reading relayed events by position.

use crate::infra::db::Db;
use crate::infra::error::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

/// The highest relayed position (0 for an empty log): every event at or below it is committed,
/// since the relay numbers each batch in the transaction that moves it.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn top(db: &Db) -> Result<i64> {
    let top: Option<i64> =
        sqlx::query("SELECT MAX(position) AS top FROM events").fetch_one(&db.pool).await?.try_get("top")?;
    Ok(top.unwrap_or(0))
}

/// Where the follower `name` (a row of `dispatch_cursor`: `orders`, `payments`, `notify`) has read
/// the event log to; 0 before its first round.
pub async fn cursor(db: &Db, name: &str) -> Result<i64> {
    let row =
        sqlx::query("SELECT position FROM dispatch_cursor WHERE name = $1").bind(name).fetch_optional(&db.pool).await?;
    Ok(match row {
        Some(r) => r.try_get("position")?,
        None => 0,
    })
}

/// Moves the follower `name`'s cursor forward to `position` (never back; replicas share it).
pub async fn advance(db: &Db, name: &str, position: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO dispatch_cursor (name, position) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE dispatch_cursor.position < excluded.position",
    )
    .bind(name)
    .bind(position)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Reads the relayed events of `kinds` after `after` and up to `through`, in order: a follower
/// that cares for a few kinds (dispatch) neither fetches nor parses the others.
#[tracing::instrument(skip_all, err(level = "warn"), fields(after, through))]
pub async fn read_kinds(db: &Db, after: i64, through: i64, kinds: &[&str], limit: i64) -> Result<Vec<OutboxEvent>> {
    let listed: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT position, event_id, topic, key, kind, payload, created_ms FROM events \
         WHERE position > $1 AND position <= $2 AND kind IN ({}) ORDER BY position LIMIT $3",
        listed.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(after).bind(through).bind(limit);
    for k in kinds {
        q = q.bind(*k);
    }
    q.fetch_all(&db.pool).await?.iter().map(event_row).collect()
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

/// Blanks, in place, the personal fields of `customer`'s events that were never sealed (those
/// recorded before events were sealed, in the event log and in the outbox): they have no key to
/// destroy, so erasure rewrites them. Their copies already on Kafka cannot be reached; a consumer
/// that keeps them must honour the `customer.erased` event. Returns how many were rewritten.
pub async fn blank_unsealed(conn: &mut sqlx::AnyConnection, customer: &str) -> Result<u64> {
    // A sealed event holds a blank `customer_id`; an unsealed one names the customer in clear.
    let pattern = format!("%\"customer_id\":{}%", Value::String(customer.to_owned()));
    let mut rewritten = 0;
    for (table, id) in [("events", "position"), ("outbox", "id")] {
        let rows = sqlx::query(&format!("SELECT {id} AS id, payload FROM {table} WHERE payload LIKE $1"))
            .bind(&pattern)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            let mut payload: Value = serde_json::from_str(&r.try_get::<String, _>("payload")?)?;
            if payload.get("data").and_then(|d| d.get("customer_id")).and_then(Value::as_str) != Some(customer) {
                continue;
            }
            if let Some(data) = payload.get_mut("data") {
                crate::infra::vault::take_personal(data);
            }
            sqlx::query(&format!("UPDATE {table} SET payload = $1 WHERE {id} = $2"))
                .bind(payload.to_string())
                .bind(r.try_get::<i64, _>("id")?)
                .execute(&mut *conn)
                .await?;
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn events_recorded_unsealed_are_blanked_for_the_erased_customer_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::infra::db::Db::connect(&crate::infra::config::Config::for_data_dir(dir.path())).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        let event = |who: &str| {
            json!({ "kind": "order.placed", "data": { "order_id": "o1", "customer_id": who,
                "delivery_address": { "line1": "Zeedijk 77", "city": "Amsterdam" }, "notes": "ring twice" } })
            .to_string()
        };
        for (position, who) in [(1_i64, "c1"), (2, "c2")] {
            sqlx::query("INSERT INTO events (position, event_id, topic, key, kind, payload, created_ms, relayed_ms) VALUES ($1, $2, 'order.events', 'o1', 'order.placed', $3, 0, 0)")
                .bind(position)
                .bind(format!("e{position}"))
                .bind(event(who))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO outbox (event_id, topic, key, kind, payload, created_ms) VALUES ('e3', 'order.events', 'o1', 'order.placed', $1, 0)")
            .bind(event("c1"))
            .execute(&mut *conn)
            .await
            .unwrap();
        assert_eq!(blank_unsealed(&mut conn, "c1").await.unwrap(), 2);
        let payloads: Vec<String> = sqlx::query("SELECT payload FROM events UNION ALL SELECT payload FROM outbox")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let erased: Vec<&String> = payloads.iter().filter(|p| !p.contains("c2")).collect();
        assert_eq!(erased.len(), 2);
        assert!(
            erased.iter().all(|p| !p.contains("Zeedijk") && !p.contains("ring twice") && !p.contains("c1")),
            "{erased:?}"
        );
        assert!(erased.iter().all(|p| p.contains("\"order_id\":\"o1\"")), "the rest of the event stays");
        assert_eq!(
            payloads.iter().filter(|p| p.contains("Zeedijk")).count(),
            1,
            "another customer's event is left alone"
        );
    }
}
