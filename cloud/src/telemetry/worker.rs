//! The ingest loop: one MQTT client polled here; each message handed to the worker of its device
//! (a device's messages keep their order; the fleet's use every core), and acknowledged in
//! arrival order as each settles, after Kafka acknowledged its record.

use super::ingest::{Outcome, handle};
use super::tls;
use crate::delivery::DeliveryState;
use patty_protocol::telemetry::TOPIC_PREFIX;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// Runs the ingest until `shutdown`, reconnecting after a broker failure.
pub async fn run(state: DeliveryState, mut shutdown: watch::Receiver<bool>) {
    let cfg = state.config.mqtt.clone();
    let Some((host, port, _)) = cfg.host_port() else { return };
    let mut opts = MqttOptions::new(cfg.client_id.clone(), (host.clone(), port));
    match tls(&cfg) {
        Ok(None) => {}
        Ok(Some(config)) => {
            opts.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(config)));
        }
        Err(e) => {
            tracing::error!(error = %e, "no telemetry ingest");
            return;
        }
    }
    // Long enough to ride out a wait for room in Kafka's queue without the broker dropping us.
    opts.set_keep_alive(30);
    opts.set_clean_session(false);
    opts.set_ack_mode(rumqttc::AckMode::Manual);
    opts.set_inflight(1000);
    if !cfg.username.is_empty() {
        opts.set_credentials(cfg.username.clone(), cfg.password.clone());
    }
    let (client, mut events) = AsyncClient::builder(opts).capacity(10_000).build();
    *state.fleet.client.lock().unwrap_or_else(|e| e.into_inner()) = Some(client.clone());
    // The embedded broker has one ingest to serve, and an empty group asks for one: a plain
    // subscription.
    let (share, owntracks) = if state.config.mqtt.started_embedded || cfg.share_group.is_empty() {
        (TOPIC_PREFIX.to_owned(), "owntracks".to_owned())
    } else {
        (format!("$share/{}/{TOPIC_PREFIX}", cfg.share_group), format!("$share/{}/owntracks", cfg.share_group))
    };
    // Requests to the client (acknowledgements, the subscription) are sent from tasks, never
    // awaited here: the client's queue is emptied only by this loop's polls, so awaiting a full
    // queue here would stop the ingest for good. Acknowledgements go through one task that sends
    // them in the order the messages arrived, as MQTT requires of a QoS 1 receiver (a fix
    // waiting for Kafka holds back the acknowledgements of the ones after it).
    let (acks, acks_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(ordered_acks(client.clone(), acks_rx));
    // Workers judge, keep and produce, each for its share of the devices.
    let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let workers: Vec<tokio::sync::mpsc::Sender<Job>> = (0..n)
        .map(|_| {
            let (tx, rx) = tokio::sync::mpsc::channel(1024);
            tokio::spawn(worker(state.clone(), rx));
            tx
        })
        .collect();
    let mut failures = 0u32;
    loop {
        let event = tokio::select! {
            e = events.poll() => e,
            _ = shutdown.changed() => {
                let _ = client.disconnect().await;
                return;
            }
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                state.fleet.sessions.fetch_add(1, Ordering::Relaxed);
                // A new session: what the old one had not acknowledged, the broker sends again.
                let _ = acks.send(AckMsg::Reset);
                tracing::info!(%host, port, "telemetry ingest connected to the broker");
                // Everything under the device prefix: fixes and status, and anything else a device
                // publishes there, which is refused and counted.
                // And OwnTracks' topics, for drivers using that app.
                let client = client.clone();
                let filters = [format!("{share}/#"), format!("{owntracks}/#")];
                tokio::spawn(async move {
                    for filter in filters {
                        if let Err(e) = client.subscribe(filter, QoS::AtLeastOnce).await {
                            tracing::error!(error = %e, "subscribing failed");
                        }
                    }
                });
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                // To the worker of the message's device (so each device's messages keep their
                // order), and its settling, in arrival order, to the acknowledger.
                let (done, settled) = tokio::sync::oneshot::channel();
                let _ = acks.send(AckMsg::Next(Box::pin(async move { settled.await.ok()?.await })));
                let worker = &workers[shard(std::str::from_utf8(&p.topic).unwrap_or(""), workers.len())];
                if worker.send(Job { p, done }).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures == 1 || failures.is_multiple_of(30) {
                    tracing::warn!(error = %e, %host, port, "telemetry ingest lost the broker; reconnecting");
                }
                tokio::time::sleep(Duration::from_millis(500 * u64::from(failures.min(10)))).await;
            }
        }
    }
}

/// One message for a worker, and where to say how it settles.
struct Job {
    p: rumqttc::Publish,
    done: tokio::sync::oneshot::Sender<Settled>,
}

/// The worker for `topic`'s device (`patty/v1/devices/D/…`, `owntracks/USER/DEVICE…`) among `n`.
fn shard(topic: &str, n: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let device: Vec<&str> = topic.split('/').take(4).collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    device.hash(&mut h);
    (h.finish() % n as u64) as usize
}

/// Judges, keeps and produces the messages of its devices, in their order.
async fn worker(state: DeliveryState, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    while let Some(Job { p, done }) = jobs.recv().await {
        let _ = done.send(settle(&state, p).await);
    }
}

/// What becomes of one message: acknowledged at once, after Kafka has it, or not at all.
async fn settle(state: &DeliveryState, p: rumqttc::Publish) -> Settled {
    match handle(state, std::str::from_utf8(&p.topic).unwrap_or(""), &p.payload).await {
        Outcome::Ack => Box::pin(std::future::ready(Some(p))),
        Outcome::Hold => Box::pin(std::future::ready(None)),
        Outcome::Produce(key, json) => match &state.kafka {
            // Queued here, in arrival order; the wait for Kafka's acknowledgement is
            // the acknowledger's.
            Some(sink) => {
                match sink.enqueue(patty_protocol::topics::Topic::LocationUpdates.name(), &key, &json).await {
                    Ok(delivered) => {
                        let fleet = state.fleet.clone();
                        Box::pin(async move {
                            match delivered.await {
                                Ok(()) => {
                                    fleet.produced.fetch_add(1, Ordering::Relaxed);
                                    Some(p)
                                }
                                // Not acknowledged: the broker sends it again on the
                                // next session.
                                Err(e) => {
                                    tracing::error!(error = %e, "producing a fix failed");
                                    None
                                }
                            }
                        })
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "queueing a fix for Kafka failed");
                        Box::pin(std::future::ready(None))
                    }
                }
            }
            None => Box::pin(std::future::ready(Some(p))),
        },
    }
}

/// A message's fate: resolves to the message to acknowledge, or `None` to leave it for the
/// broker to send again.
type Settled = std::pin::Pin<Box<dyn std::future::Future<Output = Option<rumqttc::Publish>> + Send>>;

/// To the ordered acknowledger.
enum AckMsg {
    /// The next message, in arrival order.
    Next(Settled),
    /// A new session starts; the old one's messages are forgotten (the broker sends them again).
    Reset,
}

/// Acknowledges messages as they settle, in arrival order (a queue of futures that yields in the
/// order they were pushed).
async fn ordered_acks(client: AsyncClient, mut rx: tokio::sync::mpsc::UnboundedReceiver<AckMsg>) {
    use futures::StreamExt;
    let mut pending = futures::stream::FuturesOrdered::new();
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(AckMsg::Next(f)) => pending.push_back(f),
                Some(AckMsg::Reset) => pending = futures::stream::FuturesOrdered::new(),
                None => return,
            },
            Some(settled) = pending.next(), if !pending.is_empty() => {
                if let Some(p) = settled {
                    let _ = client.ack(&p).await;
                }
            }
        }
    }
}
