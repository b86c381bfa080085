//! Telemetry ingest: fixes from drivers' agents (and OwnTracks apps) arrive over MQTT, are
//! judged ([`crate::fleet::judge`]), kept as each device's latest position, produced to Kafka and
//! handed to delivery tracking.
//!
//! May use `fleet`, `delivery`, `events` and `infra`; nothing uses it but `app` (which runs it).
//!
//! - Ingest subscribes with a shared subscription (`$share/GROUP/patty/v1/devices/#`), so
//!   several replicas in one group split the fleet. The session is persistent and acknowledgements
//!   are manual: a fix is acknowledged to the broker only after Kafka acknowledged it (or, with
//!   Kafka off, once it is judged), so a replica that dies mid-stream leaves its unacknowledged
//!   fixes with the broker for redelivery, and nothing is dropped silently.
//! - A fix is accepted when its device is an active device key (the topic names the key's id),
//!   its bytes decode, its coordinates and heading are in range and its time is not more than two
//!   minutes ahead. A fix whose implied speed from the last one is impossible for a car (over
//!   70 m/s) is kept but flagged as a jump. A repeat (sequence not above the last) is dropped.
//!   Every rejection is counted by reason and logged at most once a minute per device.
//! - Accepted fixes go to `delivery.location.updates` (10 partitions), keyed by the delivery (or
//!   the device between deliveries), so each delivery's fixes stay in order in their partition.
//! - The loop that reads the broker hands each message to one of several workers chosen by its
//!   device (a device's messages keep their order; the fleet's use every core), and acknowledges
//!   in arrival order as each settles.

use crate::delivery::DeliveryState;
use crate::fleet::{DevicePosition, Reason, Verdict, judge};
use crate::infra::access::Principal;
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use axum::extract::State;
use patty_protocol::telemetry::{Fix, TOPIC_PREFIX};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The driver behind an active device key, cached for 10 seconds.
async fn driver_of(state: &DeliveryState, device: &str) -> Result<Option<String>> {
    if let Some((driver, at)) = state.fleet.devices.lock().unwrap_or_else(|e| e.into_inner()).get(device)
        && at.elapsed() < Duration::from_secs(10)
    {
        return Ok(driver.clone());
    }
    let driver = sqlx::query("SELECT subject FROM api_keys WHERE id = $1 AND kind = 'device' AND revoked_ms IS NULL")
        .bind(device)
        .fetch_optional(&state.db.pool)
        .await?
        .map(|r| r.try_get::<String, _>("subject"))
        .transpose()?;
    state
        .fleet
        .devices
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(device.to_owned(), (driver.clone(), Instant::now()));
    Ok(driver)
}

/// Splits `patty/v1/devices/D/KIND` into (D, KIND).
fn parse_topic(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(TOPIC_PREFIX)?.strip_prefix('/')?;
    let (device, kind) = rest.split_once('/')?;
    (!device.is_empty() && !kind.contains('/')).then_some((device, kind))
}

/// What one message asks of the ingest loop once it is judged.
enum Outcome {
    /// Produce this record (key, JSON), then acknowledge.
    Produce(String, String),
    /// Acknowledge at once.
    Ack,
    /// Do not acknowledge: the broker sends it again on the next session (the database was
    /// unreachable).
    Hold,
}

/// The driver behind `device`, or the outcome for a message from an unknown one.
async fn known(state: &DeliveryState, device: &str) -> std::result::Result<String, Outcome> {
    match driver_of(state, device).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => {
            state.fleet.reject(device, Reason::UnknownDevice, "no active device key with this id");
            Err(Outcome::Ack)
        }
        Err(e) => {
            tracing::error!(error = %e, "checking a device failed");
            Err(Outcome::Hold)
        }
    }
}

async fn handle(state: &DeliveryState, topic: &str, payload: &[u8]) -> Outcome {
    if let Some(rest) = topic.strip_prefix("owntracks/") {
        return owntracks(state, rest, payload).await;
    }
    let Some((device, kind)) = parse_topic(topic) else {
        state.fleet.reject(topic, Reason::BadTopic, "not a device topic");
        return Outcome::Ack;
    };
    match kind {
        "status" => {
            let online = payload == b"online";
            state.fleet.online.lock().unwrap_or_else(|e| e.into_inner()).insert(device.to_owned(), online);
            Outcome::Ack
        }
        "fix" => {
            let driver = match known(state, device).await {
                Ok(d) => d,
                Err(outcome) => return outcome,
            };
            match Fix::decode(payload) {
                Ok(fix) => accept_fix(state, device, driver, fix).await,
                Err(e) => {
                    state.fleet.reject(device, Reason::Malformed, &e.to_string());
                    Outcome::Ack
                }
            }
        }
        "reply" => {
            reply(state, device, payload).await;
            Outcome::Ack
        }
        // The cloud's own commands.
        "cmd" => Outcome::Ack,
        _ => {
            state.fleet.reject(device, Reason::BadTopic, topic);
            Outcome::Ack
        }
    }
}

/// Judges a decoded fix from `device` (driven by `driver`) and, when accepted, keeps it, runs
/// geofences and milestones, and asks for it to be produced.
async fn accept_fix(state: &DeliveryState, device: &str, driver: String, fix: Fix) -> Outcome {
    let delivery = match fix.job {
        None => None,
        Some(job) => match crate::delivery::check_job(state, job, &driver).await {
            Ok(Ok(d)) => d,
            Ok(Err(())) => {
                state.fleet.reject(device, Reason::NotOnDelivery, &format!("job {job}"));
                return Outcome::Ack;
            }
            Err(e) => {
                tracing::error!(error = %e, "checking a fix's job failed");
                return Outcome::Hold;
            }
        },
    };
    let now_s = (now_ms() / 1000) as u64;
    let verdict = {
        let latest = state.fleet.latest.lock().unwrap_or_else(|e| e.into_inner());
        judge(latest.get(device).map(|(f, _)| f), &fix, now_s)
    };
    match verdict {
        Verdict::Reject(reason) => {
            state.fleet.reject(device, reason, &format!("{fix:?}"));
            Outcome::Ack
        }
        Verdict::Repeat => {
            state.fleet.repeats.fetch_add(1, Ordering::Relaxed);
            Outcome::Ack
        }
        Verdict::Accept { jump } => {
            state.fleet.accepted.fetch_add(1, Ordering::Relaxed);
            if jump {
                state.fleet.jumps.fetch_add(1, Ordering::Relaxed);
            }
            let position = DevicePosition {
                device_id: device.to_owned(),
                driver_id: driver,
                seq: fix.seq,
                lat: fix.lat(),
                lon: fix.lon(),
                accuracy_m: fix.accuracy_m,
                speed_mps: fix.speed_mps(),
                heading_deg: fix.heading_deg,
                time_s: fix.time_s,
                battery_pct: (fix.battery_pct <= 100).then_some(fix.battery_pct),
                job: fix.job,
                delivery_id: delivery.as_ref().map(|d| d.id),
                jump,
                received_ms: now_ms(),
                online: true,
            };
            let json = serde_json::to_string(&position).unwrap_or_default();
            // One ingest loop per replica judges a device's fixes in turn, so nothing
            // slipped in between the judgement and this insert.
            state
                .fleet
                .latest
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(device.to_owned(), (fix, position.clone()));
            // Each delivery's fixes stay in order in one partition; a driver between
            // deliveries is keyed by device.
            let key = position.delivery_id.map(|d| d.to_string()).unwrap_or_else(|| device.to_owned());
            if let Err(e) = crate::delivery::after_fix(state, &position, delivery).await {
                tracing::warn!(error = %e, device, "geofences and milestones for a fix failed");
            }
            Outcome::Produce(key, json)
        }
    }
}

/// OwnTracks' JSON on `owntracks/USER/DEVICE` (and `…/event`): a location becomes a fix of the
/// device key linked to that user and device; a transition (the app's own regions) is passed on
/// as an alert; `lwt` marks the device offline. Other message types are ignored.
async fn owntracks(state: &DeliveryState, rest: &str, payload: &[u8]) -> Outcome {
    let parts: Vec<&str> = rest.split('/').collect();
    let (user, device_name) = match parts.as_slice() {
        [u, d] | [u, d, "event"] if !u.is_empty() && !d.is_empty() => (*u, *d),
        _ => {
            state.fleet.reject(rest, Reason::BadTopic, "not an OwnTracks location topic");
            return Outcome::Ack;
        }
    };
    let who = format!("owntracks/{user}/{device_name}");
    let device = match owntracks_device(state, user, device_name).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            state.fleet.reject(&who, Reason::UnknownDevice, "no device linked to this OwnTracks user and device");
            return Outcome::Ack;
        }
        Err(e) => {
            tracing::error!(error = %e, "checking an OwnTracks link failed");
            return Outcome::Hold;
        }
    };
    let driver = match known(state, &device).await {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    let msg: OwnTracks = match serde_json::from_slice(payload) {
        Ok(m) => m,
        Err(e) => {
            state.fleet.reject(&device, Reason::Malformed, &e.to_string());
            return Outcome::Ack;
        }
    };
    match msg.kind.as_str() {
        "location" => {
            let (Some(lat), Some(lon), Some(tst)) = (msg.lat, msg.lon, msg.tst) else {
                state.fleet.reject(&device, Reason::Malformed, "a location needs lat, lon and tst");
                return Outcome::Ack;
            };
            if !(lat.is_finite() && lon.is_finite()) {
                state.fleet.reject(&device, Reason::OutOfRange, "coordinates are not numbers");
                return Outcome::Ack;
            }
            state.fleet.online.lock().unwrap_or_else(|e| e.into_inner()).insert(device.clone(), true);
            // The app knows nothing of jobs: a driver on a delivery is on it.
            let job = match crate::delivery::active_job_of(state, &driver).await {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!(error = %e, "finding a driver's delivery failed");
                    return Outcome::Hold;
                }
            };
            let tst = u32::try_from(tst).unwrap_or(u32::MAX);
            let fix = Fix {
                // The app has no counter; its timestamps order its fixes.
                seq: tst,
                time_s: tst,
                lat_u: patty_protocol::telemetry::micro(lat),
                lon_u: patty_protocol::telemetry::micro(lon),
                accuracy_m: msg.acc.unwrap_or(0.0).clamp(0.0, 65_535.0) as u16,
                // km/h to decimetres per second.
                speed_dms: (msg.vel.unwrap_or(0.0) / 0.36).round().clamp(0.0, 65_535.0) as u16,
                heading_deg: msg.cog.map_or(0, |c| (c.round() as i64).rem_euclid(360) as u16),
                battery_pct: msg.batt.filter(|b| (0.0..=100.0).contains(b)).map_or(255, |b| b as u8),
                job,
            };
            accept_fix(state, &device, driver, fix).await
        }
        "transition" => {
            let event = msg.event.unwrap_or_default();
            let region = msg.desc.unwrap_or_default();
            crate::delivery::device_reported_transition(state, &device, &driver, &region, event == "enter").await;
            Outcome::Ack
        }
        "lwt" => {
            state.fleet.online.lock().unwrap_or_else(|e| e.into_inner()).insert(device, false);
            Outcome::Ack
        }
        _ => Outcome::Ack,
    }
}

/// The fields of an OwnTracks message the cloud reads.
#[derive(Deserialize)]
struct OwnTracks {
    #[serde(rename = "_type")]
    kind: String,
    lat: Option<f64>,
    lon: Option<f64>,
    tst: Option<i64>,
    acc: Option<f64>,
    vel: Option<f64>,
    cog: Option<f64>,
    batt: Option<f64>,
    event: Option<String>,
    desc: Option<String>,
}

/// The device key linked to an OwnTracks user and device, cached for 10 seconds.
async fn owntracks_device(state: &DeliveryState, user: &str, device: &str) -> Result<Option<String>> {
    let key = format!("{user}/{device}");
    if let Some((linked, at)) = state.fleet.owntracks.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        && at.elapsed() < Duration::from_secs(10)
    {
        return Ok(linked.clone());
    }
    let linked = sqlx::query("SELECT device_id FROM owntracks_links WHERE ot_user = $1 AND ot_device = $2")
        .bind(user)
        .bind(device)
        .fetch_optional(&state.db.pool)
        .await?
        .map(|r| r.try_get::<String, _>("device_id"))
        .transpose()?;
    state.fleet.owntracks.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (linked.clone(), Instant::now()));
    Ok(linked)
}

/// A driver's answer from their device: accept, decline, picked up, a code.
async fn reply(state: &DeliveryState, device: &str, payload: &[u8]) {
    let driver = match driver_of(state, device).await {
        Ok(Some(d)) => d,
        Ok(None) => return state.fleet.reject(device, Reason::UnknownDevice, "no active device key with this id"),
        Err(e) => return tracing::error!(error = %e, "checking a device failed"),
    };
    let reply: patty_protocol::delivery::Reply = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(e) => return state.fleet.reject(device, Reason::BadReply, &e.to_string()),
    };
    use crate::delivery::Action;
    use patty_protocol::delivery::Reply;
    let job = reply.job();
    let (action, is_code) = match reply {
        Reply::Accept { .. } => (Action::Accept, false),
        Reply::Decline { .. } => (Action::Decline, false),
        Reply::PickedUp { .. } => (Action::PickedUp, false),
        Reply::Code { code, .. } => (Action::Code(code), true),
    };
    match crate::delivery::act(state, &driver, Some(device), job, action).await {
        Ok(_) => {}
        Err(Error::Validation(m)) if is_code => state.fleet.reject(device, Reason::WrongCode, &m),
        Err(e) => state.fleet.reject(device, Reason::BadReply, &e.to_string()),
    }
}

/// This replica's MQTT client id when the configuration names none: `patty-cloud-GROUP-XXXXXXXX`,
/// the suffix drawn once and kept in `data_dir/mqtt-client.id`. Replicas each have their own
/// (a broker drops the older of two connections with one id), and a restarted replica comes back
/// as itself, to the persistent session holding what it had not acknowledged.
pub fn client_id(share_group: &str, data_dir: &std::path::Path) -> Result<String> {
    let path = data_dir.join("mqtt-client.id");
    let suffix = match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
        Ok(_) => return Err(Error::Internal(format!("{} is empty", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)
                .map_err(|e| Error::Internal(format!("create {}: {e}", data_dir.display())))?;
            let suffix = patty_service::secret::token()[..8].to_owned();
            std::fs::write(&path, &suffix).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
            suffix
        }
        Err(e) => return Err(Error::Internal(format!("{}: {e}", path.display()))),
    };
    Ok(if share_group.is_empty() {
        format!("patty-cloud-{suffix}")
    } else {
        format!("patty-cloud-{share_group}-{suffix}")
    })
}

/// The TLS an `mqtts://` link takes (rustls on ring, as everywhere): the broker's certificate
/// must chain to `ca_file`, or else to the system's roots. `None` for `mqtt://`.
pub fn tls(cfg: &crate::infra::config::MqttConfig) -> Result<Option<Arc<rustls::ClientConfig>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    if !cfg.host_port().is_some_and(|(_, _, tls)| tls) {
        return Ok(None);
    }
    let bad = |m: String| Error::Validation(format!("mqtt.ca_file: {m}"));
    let certs = match &cfg.ca_file {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| bad(format!("{}: {e}", path.display())))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(bad("no CA certificate to trust the broker by".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

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

/// An OwnTracks user and device, as the app is set up (its topic is `owntracks/USER/DEVICE`).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnTracksLink {
    /// The app's user name (1 to 64 characters, no `/`, `+` or `#`).
    #[schema(pattern = "^[^/+#]{1,64}$")]
    pub user: String,
    /// The app's device name (1 to 64 characters, no `/`, `+` or `#`).
    #[schema(pattern = "^[^/+#]{1,64}$")]
    pub device: String,
}

/// Links an OwnTracks user and device to a device key (HQ): that app's locations then count as the
/// device's fixes. A link replaces the device's earlier one.
#[utoipa::path(put, path = "/api/v1/fleet/devices/{id}/owntracks", tag = "fleet", security(("bearer" = [])), request_body = OwnTracksLink,
    params(("id" = String, Path, description = "device id (a device key's id)")),
    responses((status = 200, body = OwnTracksLink), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn link_owntracks(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<String>,
    Json(link): Json<OwnTracksLink>,
) -> Result<Json<OwnTracksLink>> {
    who.require(&[])?;
    let name_ok = |s: &str| (1..=64).contains(&s.chars().count()) && !s.contains(['/', '+', '#']);
    if !name_ok(&link.user) || !name_ok(&link.device) {
        return Err(Error::Validation("user and device are 1 to 64 characters without '/', '+' or '#'".into()));
    }
    if driver_of(&state, &id).await?.is_none() {
        return Err(Error::NotFound(format!("no active device key {id}")));
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM owntracks_links WHERE device_id = $1").bind(&id).execute(&mut *tx).await?;
    let inserted =
        sqlx::query("INSERT INTO owntracks_links (ot_user, ot_device, device_id, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(&link.user)
            .bind(&link.device)
            .bind(&id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await;
    match inserted {
        Ok(_) => tx.commit().await?,
        Err(e) if crate::infra::db::is_unique_violation(&e) => {
            return Err(Error::Conflict(format!(
                "owntracks/{}/{} is linked to another device",
                link.user, link.device
            )));
        }
        Err(e) => return Err(e.into()),
    }
    state.fleet.owntracks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    Ok(Json(link))
}

/// The telemetry routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    DeliveryState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(link_owntracks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_data_directory_is_a_replica_with_a_client_id_of_its_own() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = client_id("fleet", one.path()).unwrap();
        assert!(first.starts_with("patty-cloud-fleet-") && first.len() == "patty-cloud-fleet-".len() + 8, "{first}");
        assert_eq!(client_id("fleet", one.path()).unwrap(), first, "a restart resumes its session");
        assert_ne!(client_id("fleet", two.path()).unwrap(), first, "another replica");
        assert!(
            client_id("", one.path()).unwrap().starts_with("patty-cloud-")
                && !client_id("", one.path()).unwrap().contains("--")
        );
    }

    #[test]
    fn only_device_topics_parse() {
        assert_eq!(parse_topic("patty/v1/devices/abc/fix"), Some(("abc", "fix")));
        assert_eq!(parse_topic("patty/v1/devices//fix"), None);
        assert_eq!(parse_topic("patty/v1/devices/abc/fix/more"), None);
        assert_eq!(parse_topic("owntracks/u/d"), None);
    }
}
