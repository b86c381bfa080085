//! The delivery event store: a Kafka consumer group (`patty-delivery-store`, behind the topic
//! prefix) reads the four delivery topics and keeps every record that names a delivery, so one
//! delivery's route (its fixes and its events) replays from what Kafka carried, whichever replica
//! produced it. Rows are kept once by (topic, partition, offset) and offsets are committed after
//! the rows, so a restart re-reads at most what was not committed and keeps nothing twice.

use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};

use crate::infra::kafka::ClosedAside;
use patty_protocol::topics::Topic;
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer};
use serde_json::Value;
use std::time::Duration;
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
pub async fn run(state: crate::infra::state::Shared, mut shutdown: watch::Receiver<bool>) {
    let brokers = state.config.kafka.brokers.clone();
    if brokers.is_empty() {
        return;
    }
    let prefix = state.config.kafka.topic_prefix.clone();
    let consumer = match crate::infra::kafka::group_consumer(&brokers, &format!("{prefix}patty-delivery-store")) {
        Ok(c) => ClosedAside(Some(c)),
        Err(e) => return tracing::error!(error = %e, "the delivery store's consumer failed to start"),
    };
    let Some(consumer) = consumer.0.as_ref() else { return };
    let topics: Vec<String> =
        patty_protocol::topics::Topic::DELIVERY.iter().map(|t| format!("{prefix}{}", t.name())).collect();
    if let Err(e) = consumer.subscribe(&topics.iter().map(String::as_str).collect::<Vec<_>>()) {
        return tracing::error!(error = %e, "the delivery store could not subscribe");
    }
    loop {
        let msg = tokio::select! {
            m = consumer.recv() => m,
            _ = shutdown.changed() => return,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "the delivery store's consumer failed; going on");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let kept = match msg.payload().map(serde_json::from_slice::<Value>) {
            Some(Ok(v)) => keep(&state, msg.topic(), msg.partition(), msg.offset(), &v).await,
            _ => Ok(()),
        };
        match kept {
            Ok(()) => {
                if let Err(e) = consumer.commit_message(&msg, CommitMode::Async) {
                    tracing::warn!(error = %e, "committing the delivery store's offset failed");
                }
            }
            // Not committed: read again after a restart. Stop here until the database is back.
            Err(e) => {
                tracing::warn!(error = %e, "keeping a delivery record failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = consumer.seek(
                    msg.topic(),
                    msg.partition(),
                    rdkafka::Offset::Offset(msg.offset()),
                    Duration::from_secs(5),
                );
            }
        }
    }
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
