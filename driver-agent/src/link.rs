//! The MQTT session. Each connection is a fresh rumqttc client and event loop, so nothing is
//! replayed behind the agent's back: the buffer is the only source of what to send. On connect it
//! publishes `online` (retained; the broker publishes the last will `offline` if the agent drops),
//! then hands the broker buffered fixes oldest first with QoS 1, at most `max_inflight` at a
//! time, and deletes each from the buffer when its PUBACK arrives. After a drop it reconnects with
//! backoff and starts again from the oldest fix not acknowledged: a fix in flight at the drop may
//! arrive twice (QoS 1 is at least once; the cloud drops repeats by the fix's sequence number),
//! never out of order and never not at all while it is in the buffer.

use crate::buffer::Buffer;
use patty_protocol::delivery::{Command, Reply};
use patty_protocol::telemetry::topic;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// The device id (the topic's and the client id's).
    pub device: String,
    /// Credentials, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Most fixes handed to the broker and not yet acknowledged.
    pub max_inflight: usize,
    /// TLS, when configured.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// The command channel: commands from the cloud go out on `commands`; answers queued in
/// `replies` are published (QoS 1) while connected. An answer in flight when the link drops is
/// not sent again: the driver sees no confirmation and answers again.
#[derive(Clone)]
pub struct Inbox {
    /// Where commands from the cloud are delivered.
    pub commands: tokio::sync::mpsc::UnboundedSender<Command>,
    /// Answers waiting to be published.
    pub replies: Arc<Mutex<VecDeque<Reply>>>,
}

/// Counters, for the log and the exit summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinkStats {
    /// Fixes acknowledged by the broker.
    pub acked: u64,
    /// Connections made.
    pub connections: u64,
}

/// Aborts its task when dropped (the session ended, so does its event loop).
struct Aborted(tokio::task::JoinHandle<()>);

impl Drop for Aborted {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the link until `shutdown`; `wake` is poked when a fix was buffered.
pub async fn run(
    cfg: LinkConfig,
    buffer: Arc<Mutex<Buffer>>,
    wake: Arc<Notify>,
    stats: Arc<Mutex<LinkStats>>,
    inbox: Inbox,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match session(&cfg, &buffer, &wake, &stats, &inbox, &mut shutdown).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, host = %cfg.host, port = cfg.port, "broker link down; fixes wait on disk");
            }
        }
        let delay = Duration::from_millis((250u64 << failures.min(6)).min(10_000));
        failures = failures.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {},
            _ = shutdown.changed() => return,
        }
    }
}

/// One connection, until it drops (an error) or shutdown (Ok).
async fn session(
    cfg: &LinkConfig,
    buffer: &Mutex<Buffer>,
    wake: &Notify,
    stats: &Mutex<LinkStats>,
    inbox: &Inbox,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let status = topic(&cfg.device, "status");
    let fixes = topic(&cfg.device, "fix");
    let (commands, replies) = (topic(&cfg.device, "cmd"), topic(&cfg.device, "reply"));
    let mut opts = MqttOptions::new(format!("patty-driver-{}", cfg.device), (cfg.host.clone(), cfg.port));
    opts.set_keep_alive(cfg.keep_alive.as_secs().clamp(1, 65_535) as u16);
    opts.set_clean_session(true);
    opts.set_inflight(cfg.max_inflight.clamp(1, 65_535) as u16);
    opts.set_last_will(LastWill::new(&status, "offline", QoS::AtLeastOnce, true));
    if let Some((u, p)) = &cfg.credentials {
        opts.set_credentials(u, p.clone());
    }
    if let Some(tls) = &cfg.tls {
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls.clone())));
    }
    let (client, mut events) = AsyncClient::builder(opts).capacity(cfg.max_inflight + 16).build();
    // The event loop is polled by a task of its own, never inside a `select!`: a poll cancelled
    // after it took a request from the client's queue loses that request (a fix handed over,
    // never sent, until the next connection).
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let poller = Aborted(tokio::spawn(async move {
        loop {
            let event = events.poll().await;
            let failed = event.is_err();
            if tx.send(event).await.is_err() || failed {
                return;
            }
        }
    }));
    // What was handed to the client, in order, until rumqttc gives each its packet id: a fix's
    // buffer id, or `None` for an answer.
    let mut handed: VecDeque<Option<i64>> = VecDeque::new();
    let mut by_pkid: HashMap<u16, i64> = HashMap::new();
    let mut cursor = 0i64;
    let mut connected = false;
    loop {
        if connected {
            let answers: Vec<Reply> = inbox.replies.lock().map_err(|_| "reply lock poisoned")?.drain(..).collect();
            for answer in answers {
                let payload = serde_json::to_vec(&answer).map_err(|e| e.to_string())?;
                client
                    .try_publish(&replies, payload, rumqttc::PublishOptions::new(QoS::AtLeastOnce))
                    .map_err(|e| e.to_string())?;
                handed.push_back(None);
            }
        }
        if connected && handed.len() + by_pkid.len() < cfg.max_inflight {
            let room = cfg.max_inflight - handed.len() - by_pkid.len();
            let next =
                buffer.lock().map_err(|_| "buffer lock poisoned")?.after(cursor, room).map_err(|e| e.to_string())?;
            for (id, payload) in next {
                client
                    .try_publish(&fixes, payload, rumqttc::PublishOptions::new(QoS::AtLeastOnce))
                    .map_err(|e| e.to_string())?;
                handed.push_back(Some(id));
                cursor = id;
            }
        }
        let event = tokio::select! {
            e = rx.recv() => e.ok_or("the MQTT event loop stopped")?,
            _ = wake.notified() => continue,
            _ = shutdown.changed() => {
                // Say goodbye (no last will), briefly.
                let _ = client.try_disconnect();
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    while let Some(Ok(e)) = rx.recv().await {
                        if matches!(e, Event::Outgoing(Outgoing::Disconnect)) {
                            return;
                        }
                    }
                })
                .await;
                drop(poller);
                return Ok(());
            }
        };
        match event.map_err(|e| e.to_string())? {
            Event::Incoming(Packet::ConnAck(_)) => {
                connected = true;
                if let Ok(mut s) = stats.lock() {
                    s.connections += 1;
                }
                tracing::info!(host = %cfg.host, port = cfg.port, "connected to the broker");
                client
                    .try_publish(&status, "online", rumqttc::PublishOptions::new(QoS::AtMostOnce).retained())
                    .map_err(|e| e.to_string())?;
                client.try_subscribe(&commands, QoS::AtLeastOnce).map_err(|e| e.to_string())?;
            }
            // QoS 0 publishes (the status) carry packet id 0 and are not fixes.
            Event::Outgoing(Outgoing::Publish(pkid)) if pkid != 0 => {
                if let Some(Some(id)) = handed.pop_front() {
                    by_pkid.insert(pkid, id);
                }
            }
            Event::Incoming(Packet::Publish(p)) if p.topic == commands.as_bytes() => {
                match serde_json::from_slice(&p.payload) {
                    Ok(cmd) => {
                        let _ = inbox.commands.send(cmd);
                    }
                    Err(e) => tracing::warn!(error = %e, "a command from the cloud did not parse"),
                }
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(id) = by_pkid.remove(&ack.pkid) {
                    buffer.lock().map_err(|_| "buffer lock poisoned")?.remove(id).map_err(|e| e.to_string())?;
                    if let Ok(mut s) = stats.lock() {
                        s.acked += 1;
                    }
                }
            }
            _ => {}
        }
    }
}
