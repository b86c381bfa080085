//! The notifier's other source: with `notify.source = "kafka"`, its own consumer group
//! (`notify.kafka_group`, behind the topic prefix) on the topics the events it follows are
//! published to, instead of the event log. Each record is handled as an event of the log would be
//! and its offset committed after its messages are written; a record whose messages cannot be
//! written is read again (the messages' idempotency keys make the second reading harmless), so a
//! restart or a rebalance loses none and writes none twice.

use super::{NotifyState, worker};
use crate::events::store::OutboxEvent;
use patty_protocol::topics::Topic;
use serde_json::Value;
use tokio::sync::watch;

/// The topics the followed events are published to.
pub const TOPICS: [Topic; 4] = [Topic::Order, Topic::DeliveryStatus, Topic::Payment, Topic::Sync];

/// A Kafka record as the event it carries (`{event_id, kind, key, at_ms, data}`, as the relay
/// publishes it); `None` for anything else.
pub fn event_of(topic: &str, offset: i64, payload: &Value) -> Option<OutboxEvent> {
    Some(OutboxEvent {
        position: offset,
        event_id: payload.get("event_id")?.as_str()?.to_owned(),
        topic: topic.to_owned(),
        key: payload.get("key")?.as_str()?.to_owned(),
        kind: payload.get("kind")?.as_str()?.to_owned(),
        payload: payload.clone(),
        created_ms: payload.get("at_ms").and_then(Value::as_i64).unwrap_or(0),
    })
}

/// Consumes until `shutdown`.
pub async fn run(state: NotifyState, shutdown: watch::Receiver<bool>) {
    let kafka = state.config.kafka.clone();
    let group = format!("{}{}", kafka.topic_prefix, state.config.notify.kafka_group);
    let topics: Vec<String> = TOPICS.iter().map(|t| format!("{}{}", kafka.topic_prefix, t.name())).collect();
    tracing::info!(group, "notifier reading Kafka");
    crate::infra::kafka::consume("the notifier", &kafka.brokers, &group, &topics, shutdown, |r| {
        let state = state.clone();
        Box::pin(async move {
            let event = r.payload.as_ref().and_then(|v| event_of(&r.topic, r.offset, v));
            match event {
                Some(e) if super::plan::KINDS.contains(&e.kind.as_str()) => {
                    worker::handle(&state, &e).await?;
                    state.wake.notify_one();
                    Ok(())
                }
                _ => Ok(()),
            }
        })
    })
    .await;
}
