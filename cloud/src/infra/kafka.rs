//! Kafka: the outbox relay's producer (rdkafka; idempotent, acks from all in-sync replicas, key =
//! the aggregate's id so each aggregate's events stay in order in its partition), the telemetry
//! ingest's records, and topic creation with the partition counts the design names.

use crate::infra::error::{Error, Result};
use patty_protocol::topics::Topic;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::time::Duration;

/// An event on its way to Kafka, with its payload as stored (published as is, never re-encoded).
pub struct Record {
    /// The outbox row id.
    pub id: i64,
    /// Unique event id, sent as the `event_id` header.
    pub event_id: String,
    /// Kafka topic (without the prefix).
    pub topic: String,
    /// Aggregate id, the Kafka key.
    pub key: String,
    /// The event's JSON.
    pub payload: String,
}

/// The producer side of the outbox relay.
#[derive(Clone)]
pub struct KafkaSink {
    producer: FutureProducer,
    prefix: String,
}

/// The producer settings the relay uses; the relay benchmark's baseline uses the same.
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "30000")
        .set("client.id", "patty-cloud-relay");
    c
}

impl KafkaSink {
    /// Connects to `brokers`, creating the domain topics if they are absent.
    pub async fn connect(brokers: &str, prefix: &str) -> Result<Self> {
        let producer: FutureProducer =
            producer_config(brokers).create().map_err(|e| Error::Internal(format!("kafka producer: {e}")))?;
        let topics: Vec<(String, i32)> =
            Topic::ALL.iter().map(|t| (format!("{prefix}{}", t.name()), t.partitions())).collect();
        ensure_topics(brokers, &topics.iter().map(|(t, p)| (t.as_str(), *p)).collect::<Vec<_>>()).await?;
        Ok(Self { producer, prefix: prefix.to_owned() })
    }

    /// Publishes every event and waits for every acknowledgement; any failure fails the batch
    /// (the relay retries it whole, and consumers drop repeats by event id).
    pub async fn send_all(&self, events: &[Record]) -> Result<()> {
        let mut acks = Vec::with_capacity(events.len());
        for e in events {
            let topic = format!("{}{}", self.prefix, e.topic);
            let producer = &self.producer;
            acks.push(async move {
                let headers = rdkafka::message::OwnedHeaders::new()
                    .insert(rdkafka::message::Header { key: "event_id", value: Some(e.event_id.as_str()) });
                let record = FutureRecord::to(&topic).key(&e.key).payload(&e.payload).headers(headers);
                producer
                    .send(record, Duration::from_secs(30))
                    .await
                    .map(|_| ())
                    .map_err(|(e, _)| Error::Internal(format!("kafka send: {e}")))
            });
        }
        for r in futures::future::join_all(acks).await {
            r?;
        }
        Ok(())
    }

    /// Queues one record for `topic` (the prefix is added) at once, so records queued one after
    /// the other keep their order in their partition; the returned future resolves when Kafka
    /// acknowledged it.
    /// While the producer's queue is full, this waits (the caller feels the back-pressure).
    pub async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &str,
    ) -> Result<impl std::future::Future<Output = Result<()>> + Send + 'static> {
        use rdkafka::error::{KafkaError, RDKafkaErrorCode};
        let topic = format!("{}{topic}", self.prefix);
        let mut record = FutureRecord::to(&topic).key(key).payload(payload);
        let delivery = loop {
            match self.producer.send_result(record) {
                Ok(d) => break d,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(Error::Internal(format!("kafka enqueue: {e}"))),
            }
        };
        Ok(async move {
            match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(Error::Internal(format!("kafka send: {e}"))),
                Err(_) => Err(Error::Internal("kafka send: the producer went away".into())),
            }
        })
    }

    /// Waits for everything queued to be delivered (at shutdown).
    pub fn flush(&self) {
        let _ = self.producer.flush(Duration::from_secs(10));
    }
}

/// Creates `topics` (name, partitions) that do not exist yet.
pub async fn ensure_topics(brokers: &str, topics: &[(&str, i32)]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| Error::Internal(format!("kafka admin: {e}")))?;
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|(name, p)| NewTopic::new(name, *p, TopicReplication::Fixed(1))).collect();
    let results = admin
        .create_topics(&new, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
        .await
        .map_err(|e| Error::Internal(format!("kafka create topics: {e}")))?;
    for r in results {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(Error::Internal(format!("kafka create topic {name}: {code}"))),
        }
    }
    Ok(())
}

/// A consumer in `group` (no auto-commit: its owner commits after it has kept what it read; from
/// the earliest offset when the group is new).
pub fn group_consumer(brokers: &str, group: &str) -> Result<rdkafka::consumer::StreamConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(|e| Error::Unavailable(format!("kafka consumer {group}: {e}")))
}

/// A consumer dropped on a detached thread: closing one waits for the group to let it go, which a
/// broker may take its time over, so never on the runtime's threads.
pub struct ClosedAside(pub Option<rdkafka::consumer::StreamConsumer>);

impl Drop for ClosedAside {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let _ = std::thread::Builder::new().name("consumer-close".into()).spawn(move || drop(c));
        }
    }
}

/// One record as a consumer's handler sees it.
pub struct Consumed {
    /// Its topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its payload as JSON (`None` for a record that is not).
    pub payload: Option<serde_json::Value>,
}

/// Reads `group` of `brokers` on `topics` until `shutdown`, handing each record to `handle`: its
/// offset is committed once `handle` succeeds; when it fails, the record is read again a second
/// later (nothing after it is handled before it). `what` names the consumer in the log.
pub async fn consume<F>(
    what: &str,
    brokers: &str,
    group: &str,
    topics: &[String],
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    mut handle: F,
) where
    F: FnMut(Consumed) -> futures::future::BoxFuture<'static, Result<()>>,
{
    use rdkafka::Message;
    use rdkafka::consumer::{CommitMode, Consumer};
    let consumer = match group_consumer(brokers, group) {
        Ok(c) => ClosedAside(Some(c)),
        Err(e) => return tracing::error!(error = %e, "{what}: the consumer failed to start"),
    };
    let Some(consumer) = consumer.0.as_ref() else { return };
    if let Err(e) = consumer.subscribe(&topics.iter().map(String::as_str).collect::<Vec<_>>()) {
        return tracing::error!(error = %e, "{what}: could not subscribe");
    }
    loop {
        let msg = tokio::select! {
            m = consumer.recv() => m,
            _ = shutdown.changed() => return,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "{what}: the consumer failed; going on");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let payload = msg.payload().and_then(|p| serde_json::from_slice(p).ok());
        let record =
            Consumed { topic: msg.topic().to_owned(), partition: msg.partition(), offset: msg.offset(), payload };
        match handle(record).await {
            Ok(()) => {
                if let Err(e) = consumer.commit_message(&msg, CommitMode::Async) {
                    tracing::warn!(error = %e, "{what}: committing the offset failed");
                }
            }
            // Not committed: read again (after a restart too). Stop here until it can be handled.
            Err(e) => {
                tracing::warn!(error = %e, "{what}: handling a record failed; reading it again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let offset = rdkafka::Offset::Offset(msg.offset());
                let _ = consumer.seek(msg.topic(), msg.partition(), offset, Duration::from_secs(5));
            }
        }
    }
}
