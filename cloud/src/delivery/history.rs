//! The delivery event store: a Kafka consumer group (`patty-delivery-store`, behind the topic
//! prefix) reads the four delivery topics and keeps every record that names a delivery, so one
//! delivery's route (its fixes and its events) replays from what Kafka carried, whichever replica
//! produced it. Rows are kept once by (topic, partition, offset) and offsets are committed after
//! the rows, so a restart re-reads at most what was not committed and keeps nothing twice.

use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};

use patty_protocol::topics::Topic;
use serde_json::Value;
use tokio::sync::watch;

/// What to keep of a record: (delivery id, kind, time in Unix ms), or `None` for a record about
/// no delivery (a fix between deliveries, a device's own alert).
pub fn classify(topic: &str, payload: &Value) -> Option<(String, String, i64)> {
    if topic.ends_with(Topic::LocationUpdates.name()) {
        let delivery = payload["delivery_id"].as_str()?;
        return Some((delivery.to_owned(), "fix".to_owned(), payload["received_ms"].as_i64().unwrap_or(0)));
    }
    // An outbox event: {event_id, kind, key, at_ms, data}; delivery events carry the delivery id.
    let delivery = payload["data"]["delivery_id"].as_str()?;
    Some((delivery.to_owned(), payload["kind"].as_str()?.to_owned(), payload["at_ms"].as_i64().unwrap_or(0)))
}

/// Consumes until `shutdown`; a no-op without Kafka.
pub async fn run(state: crate::infra::state::Shared, shutdown: watch::Receiver<bool>) {
    let brokers = state.config.kafka.brokers.clone();
    if brokers.is_empty() {
        return;
    }
    let prefix = state.config.kafka.topic_prefix.clone();
    let topics: Vec<String> = Topic::DELIVERY.iter().map(|t| format!("{prefix}{}", t.name())).collect();
    let group = format!("{prefix}patty-delivery-store");
    crate::infra::kafka::consume("the delivery store", &brokers, &group, &topics, shutdown, |r| {
        let state = state.clone();
        Box::pin(async move {
            match &r.payload {
                Some(v) => keep(&state, &r.topic, r.partition, r.offset, v).await,
                None => Ok(()),
            }
        })
    })
    .await;
}

async fn keep(state: &crate::infra::state::Shared, topic: &str, partition: i32, offset: i64, v: &Value) -> Result<()> {
    let Some((delivery, kind, at_ms)) = classify(topic, v) else { return Ok(()) };
    sqlx::query(
        "INSERT INTO delivery_store (topic, part, kafka_offset, delivery_id, kind, at_ms, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(topic.to_owned())
    .bind(i64::from(partition))
    .bind(offset)
    .bind(delivery)
    .bind(kind)
    .bind(if at_ms > 0 { at_ms } else { now_ms() })
    .bind(v.to_string())
    .execute(&state.db.pool)
    .await
    .map_err(Error::from)?;
    Ok(())
}

/// One delivery's records from the store: its fixes in the order of their partition, and its
/// events in time order.
pub async fn route(state: &crate::infra::state::Shared, delivery: &str) -> Result<(Vec<Value>, Vec<Value>)> {
    let rows = sqlx::query(
        "SELECT kind, payload FROM delivery_store WHERE delivery_id = $1 ORDER BY at_ms, topic, part, kafka_offset",
    )
    .bind(delivery)
    .fetch_all(&state.db.pool)
    .await?;
    let (mut fixes, mut events) = (vec![], vec![]);
    for r in rows {
        use sqlx::Row;
        let v: Value = serde_json::from_str(&r.try_get::<String, _>("payload")?)?;
        if r.try_get::<String, _>("kind")? == "fix" { fixes.push(v) } else { events.push(v) }
    }
    fixes.sort_by_key(|f| f["seq"].as_u64().unwrap_or(0));
    Ok((fixes, events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_records_about_a_delivery_are_kept() {
        let fix = json!({ "device_id": "d", "seq": 4, "delivery_id": "x", "received_ms": 5 });
        assert_eq!(classify("delivery.location.updates", &fix), Some(("x".into(), "fix".into(), 5)));
        let between = json!({ "device_id": "d", "seq": 4, "delivery_id": null });
        assert_eq!(classify("delivery.location.updates", &between), None);
        let event = json!({ "kind": "delivery.assigned", "at_ms": 9, "data": { "delivery_id": "x" } });
        assert_eq!(classify("p.delivery.status.events", &event), Some(("x".into(), "delivery.assigned".into(), 9)));
        let device_alert = json!({ "kind": "geofence.device_entered", "at_ms": 9, "data": { "region": "Home" } });
        assert_eq!(classify("delivery.geofence.alerts", &device_alert), None);
    }
}
