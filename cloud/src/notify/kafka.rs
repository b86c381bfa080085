//! The notifier's other source: with `notify.source = "kafka"`, its own consumer group
//! (`notify.kafka_group`, behind the topic prefix) on the topics the events it follows are
//! published to, instead of the event log. Each record is handled as an event of the log would be
//! and its offset committed after its messages are written; a record whose messages cannot be
//! written is read again (the messages' idempotency keys make the second reading harmless), so a
//! restart or a rebalance loses none and writes none twice.

use super::{NotifyState, worker};
use crate::events::store::OutboxEvent;
use crate::infra::kafka::ClosedAside;
use patty_protocol::topics::Topic;
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer};
use serde_json::Value;
use std::time::Duration;
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
pub async fn run(state: NotifyState, mut shutdown: watch::Receiver<bool>) {
    let kafka = &state.config.kafka;
    let group = format!("{}{}", kafka.topic_prefix, state.config.notify.kafka_group);
    let consumer = match crate::infra::kafka::group_consumer(&kafka.brokers, &group) {
        Ok(c) => ClosedAside(Some(c)),
        Err(e) => return tracing::error!(error = %e, "the notifier's consumer failed to start"),
    };
    let Some(consumer) = consumer.0.as_ref() else { return };
    let topics: Vec<String> = TOPICS.iter().map(|t| format!("{}{}", kafka.topic_prefix, t.name())).collect();
    if let Err(e) = consumer.subscribe(&topics.iter().map(String::as_str).collect::<Vec<_>>()) {
        return tracing::error!(error = %e, "the notifier could not subscribe");
    }
    tracing::info!(group, "notifier reading Kafka");
    loop {
        let msg = tokio::select! {
            m = consumer.recv() => m,
            _ = shutdown.changed() => return,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "the notifier's consumer failed; going on");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let event = msg
            .payload()
            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
            .and_then(|v| event_of(msg.topic(), msg.offset(), &v));
        let handled = match &event {
            Some(e) if super::plan::KINDS.contains(&e.kind.as_str()) => worker::handle(&state, e).await.map(|_| ()),
            _ => Ok(()),
        };
        match handled {
            Ok(()) => {
                if let Err(e) = consumer.commit_message(&msg, CommitMode::Async) {
                    tracing::warn!(error = %e, "committing the notifier's offset failed");
                }
                state.wake.notify_one();
            }
            Err(e) => {
                tracing::warn!(error = %e, "writing an event's messages failed; reading it again");
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
