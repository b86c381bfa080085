//! Telemetry benchmarks, each next to a baseline measured in the same run:
//! - `ingest`: fixes per second from a real Mosquitto through the cloud's ingest (shared
//!   subscription, judged, kept) into a real Kafka-protocol broker (tansu), until Kafka
//!   acknowledged the last; baseline: how many of the same messages per second a plain QoS 1
//!   subscriber receives from the same broker. Then the same with the cloud's Kafka off (until it
//!   judged the last), to show the ingest's own rate apart from a Kafka broker's share of
//!   the same cores.
//! - `latency`: publish to readable in Kafka (an rdkafka consumer) at 5,000 fixes per second from
//!   50 devices, p50 and p99; baseline: publish to received by a plain subscriber at the same rate.
//! - `bytes`: a fix on the wire (postcard) against the JSON fix of a generic tracker with UUIDs
//!   and against OwnTracks' location message.
//! - `zones`: geofence checks per fix against 10,000 zones through the R-tree index; baseline: a
//!   linear scan over the same zones.
//!
//! `cargo bench -p patty-tests --bench telemetry [ingest|latency|bytes|zones]` (all by default).
//! Needs Mosquitto and tansu, as the test command provides. PATTY_BENCH_FIXES sets the ingest
//! run's fixes (default 100,000), PATTY_BENCH_RATE_SECS the latency run's length (default 10).

use patty_cloud::delivery::geofence::{Presence, Shape, Zone, ZoneIndex, ZoneKind};
use patty_protocol::telemetry::{Fix, micro, topic};
use patty_protocol::topics::Topic;
use patty_tests::bench::{Figures, env_or};
use patty_tests::chain::{free_port, now_s};
use patty_tests::kafka::Broker;
use patty_tests::mqtt::Mosquitto;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("hq@bench.example", "bench-password");
const DEVICES: usize = 50;

fn fix(seq: u32, d: usize) -> Fix {
    Fix {
        seq,
        time_s: now_s(),
        lat_u: micro(52.30 + d as f64 * 0.002),
        lon_u: micro(4.80 + f64::from(seq % 1000) * 0.000_05),
        accuracy_m: 6,
        speed_dms: 110,
        heading_deg: 90,
        battery_pct: 70,
        job: None,
    }
}

/// An MQTT client whose event loop runs aside; incoming publishes go to `on_publish`.
fn client(port: u16, id: &str, on_publish: impl Fn(rumqttc::Publish) + Send + 'static) -> AsyncClient {
    let mut opts = MqttOptions::new(id, ("127.0.0.1", port));
    opts.set_keep_alive(30);
    opts.set_inflight(1000);
    let (client, mut events) = AsyncClient::builder(opts).capacity(10_000).build();
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => on_publish(p),
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    client
}

struct Rig {
    mqtt: Mosquitto,
    /// The Kafka-protocol broker, unless the cloud runs without Kafka.
    kafka: Option<Broker>,
    base: String,
    http: reqwest::Client,
    devices: Vec<String>,
    _dir: tempfile::TempDir,
    _cloud: tokio::task::JoinHandle<()>,
}

impl Rig {
    /// The cloud producing to a tansu of its own, or with Kafka off when `with_kafka` is false.
    async fn start(with_kafka: bool) -> Self {
        let mqtt = Mosquitto::start(free_port());
        let kafka = if with_kafka { Some(Broker::start().await) } else { None };
        let dir = tempfile::tempdir().unwrap();
        let mut c = patty_cloud::infra::config::Config::for_data_dir(dir.path());
        c.auth.bootstrap_admin = format!("{}:{}", ADMIN.0, ADMIN.1);
        c.http.rate_per_minute = 10_000_000;
        c.http.rate_burst = 1_000_000;
        c.http.sign_in_per_address_per_minute = 1_000_000;
        c.http.sign_in_per_account_per_minute = 1_000_000;
        c.mqtt.url = mqtt.url();
        c.kafka.brokers = kafka.as_ref().map(|k| k.addr.clone()).unwrap_or_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cloud = tokio::spawn(async move {
            patty_cloud::run(c, listener, std::future::pending()).await.unwrap();
        });
        let http = reqwest::Client::new();
        patty_tests::fixtures::wait_healthy(&http, &base).await;
        let post = |path: &str, token: &str, body: Value| {
            http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send()
        };
        let admin = patty_tests::fixtures::login(&http, &base, ADMIN.0, ADMIN.1).await;
        let body =
            json!({ "email": "van@bench.example", "password": "driver-pass-1", "name": "Van", "role": "driver" });
        let driver: Value = post("/api/v1/users", &admin, body).await.unwrap().json().await.unwrap();
        let mut devices = vec![];
        for d in 0..DEVICES {
            let body = json!({ "kind": "device", "subject": driver["id"], "name": format!("van {d}") });
            let key: Value = post("/api/v1/api-keys", &admin, body).await.unwrap().json().await.unwrap();
            devices.push(key["api_key"]["id"].as_str().unwrap().to_owned());
        }
        let rig = Self { mqtt, kafka, base, http, devices, _dir: dir, _cloud: cloud };
        // Wait for the ingest's subscription: a message from an unknown device is counted.
        let probe = client(rig.mqtt.port, "probe", |_| {});
        let deadline = Instant::now() + Duration::from_secs(30);
        while rig.counter("patty_cloud_device_messages_rejected_total{reason=\"unknown_device\"}").await == 0 {
            probe
                .publish(topic("nobody", "fix"), vec![0], rumqttc::PublishOptions::new(QoS::AtLeastOnce))
                .await
                .unwrap();
            assert!(Instant::now() < deadline, "the ingest never subscribed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rig
    }

    async fn counter(&self, name: &str) -> u64 {
        let text = self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    }
}

/// Publishes `n` fixes spread over the devices as fast as the client takes them, on topics
/// `topic_of(device)`, starting each device's sequence after `from`.
async fn burst(publisher: &AsyncClient, devices: &[String], topic_of: impl Fn(&str) -> String, n: usize, from: u32) {
    let topics: Vec<String> = devices.iter().map(|d| topic_of(d)).collect();
    for i in 0..n {
        let d = i % devices.len();
        let seq = from + (i / devices.len()) as u32 + 1;
        publisher
            .publish(topics[d].clone(), fix(seq, d).encode(), rumqttc::PublishOptions::new(QoS::AtLeastOnce))
            .await
            .unwrap();
    }
}

/// The plain subscriber's rate and the cloud's, fixes per second, measured one after the other
/// on `rig`: the cloud's until Kafka acknowledged every fix, or with Kafka off until it judged
/// (accepted) every fix.
async fn ingest(rig: &Rig, n: usize) -> (f64, f64) {
    // Baseline: a plain QoS 1 subscriber on topics the cloud does not read, same payloads.
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = received.clone();
    let sub = client(rig.mqtt.port, "plain-sub", move |_| {
        r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    sub.subscribe("bench/v1/devices/+/fix", QoS::AtLeastOnce).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let publisher = client(rig.mqtt.port, "bench-pub", |_| {});
    let started = Instant::now();
    burst(&publisher, &rig.devices, |d| format!("bench/v1/devices/{d}/fix"), n, 0).await;
    while received.load(std::sync::atomic::Ordering::Relaxed) < n {
        assert!(started.elapsed() < Duration::from_secs(300), "the plain subscriber fell short");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let base = started.elapsed();
    let done =
        if rig.kafka.is_some() { "patty_cloud_fixes_produced_total" } else { "patty_cloud_fixes_accepted_total" };
    let before = rig.counter(done).await;
    let started = Instant::now();
    burst(&publisher, &rig.devices, |d| topic(d, "fix"), n, 0).await;
    loop {
        let finished = rig.counter(done).await - before;
        if finished >= n as u64 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "the cloud finished {finished} of {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    (rate(base), rate(took))
}

/// Prints the ingest table: with Kafka (the goal's figure), and with Kafka off, each next to its
/// own baseline from the same run.
fn print_ingest(n: usize, with: (f64, f64), without: (f64, f64)) {
    println!("telemetry ingest: {n} QoS 1 fixes from {DEVICES} devices");
    println!("| | baseline: plain subscriber, fixes/s | cloud, fixes/s | ratio |");
    println!("| --- | --- | --- | --- |");
    println!("| Mosquitto to Kafka (acknowledged) | {:.0} | {:.0} | {:.2}× |", with.0, with.1, with.1 / with.0);
    let w = without;
    println!("| Mosquitto to the cloud, Kafka off (judged) | {:.0} | {:.0} | {:.2}× |", w.0, w.1, w.1 / w.0);
}

/// Publishes at `per_sec` for `secs` seconds (every 10 ms a round over the devices), recording
/// when each (device, seq) went out; returns the last sequence used.
async fn paced(
    publisher: &AsyncClient,
    topics: &[String],
    per_sec: usize,
    secs: u64,
    from: u32,
    sent: &Arc<Mutex<HashMap<(usize, u32), Instant>>>,
) -> u32 {
    let per_tick = per_sec / 100;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut seq = from;
    let mut i = 0usize;
    for _ in 0..secs * 100 {
        tick.tick().await;
        for _ in 0..per_tick {
            let d = i % topics.len();
            if d == 0 {
                seq += 1;
            }
            i += 1;
            sent.lock().unwrap().insert((d, seq), Instant::now());
            publisher
                .publish(topics[d].clone(), fix(seq, d).encode(), rumqttc::PublishOptions::new(QoS::AtLeastOnce))
                .await
                .unwrap();
        }
    }
    seq
}

async fn latency(rig: &Rig) {
    const RATE: usize = 5_000;
    let secs = env_or("PATTY_BENCH_RATE_SECS", 10);
    let index: HashMap<String, usize> = rig.devices.iter().enumerate().map(|(i, d)| (d.clone(), i)).collect();
    // Baseline: publish to a plain subscriber.
    let sent: Arc<Mutex<HashMap<(usize, u32), Instant>>> = Default::default();
    let lat: Arc<Mutex<Vec<Duration>>> = Default::default();
    let (s, l, idx) = (sent.clone(), lat.clone(), index.clone());
    let sub = client(rig.mqtt.port, "latency-sub", move |p| {
        let device = std::str::from_utf8(&p.topic).unwrap_or_default().split('/').nth(3).unwrap_or_default();
        if let (Some(d), Ok(f)) = (idx.get(device), Fix::decode(&p.payload))
            && let Some(t) = s.lock().unwrap().remove(&(*d, f.seq))
        {
            l.lock().unwrap().push(t.elapsed());
        }
    });
    sub.subscribe("plain/v1/devices/+/fix", QoS::AtLeastOnce).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let publisher = client(rig.mqtt.port, "latency-pub", |_| {});
    let topics: Vec<String> = rig.devices.iter().map(|d| format!("plain/v1/devices/{d}/fix")).collect();
    let started = Instant::now();
    paced(&publisher, &topics, RATE, secs, 1_000_000, &sent).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let base = Figures::from_latencies(std::mem::take(&mut *lat.lock().unwrap()), started.elapsed());

    // The cloud: publish to readable in Kafka.
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &rig.kafka.as_ref().expect("the latency rig has Kafka").addr)
        .set("group.id", "bench-latency")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", "5")
        .set("fetch.min.bytes", "1")
        .create()
        .unwrap();
    consumer.subscribe(&[Topic::LocationUpdates.name()]).unwrap();
    // Wait for the assignment: a fix published now must be seen.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut probe_seq = 2_000_000;
    'assigned: loop {
        probe_seq += 1;
        let probe = fix(probe_seq, 0).encode();
        publisher
            .publish(topic(&rig.devices[0], "fix"), probe, rumqttc::PublishOptions::new(QoS::AtLeastOnce))
            .await
            .unwrap();
        while let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await {
            if m.payload().is_some() {
                break 'assigned;
            }
        }
        assert!(Instant::now() < deadline, "the consumer never got an assignment");
    }
    let sent: Arc<Mutex<HashMap<(usize, u32), Instant>>> = Default::default();
    let lat: Arc<Mutex<Vec<Duration>>> = Default::default();
    let (s, l) = (sent.clone(), lat.clone());
    let reader = tokio::spawn(async move {
        loop {
            let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await else { return };
            let Some(v) = m.payload().and_then(|p| serde_json::from_slice::<Value>(p).ok()) else { continue };
            let (Some(d), Some(seq)) = (v["device_id"].as_str().and_then(|d| index.get(d)), v["seq"].as_u64()) else {
                continue;
            };
            if let Some(t) = s.lock().unwrap().remove(&(*d, seq as u32)) {
                l.lock().unwrap().push(t.elapsed());
            }
        }
    });
    let topics: Vec<String> = rig.devices.iter().map(|d| topic(d, "fix")).collect();
    let started = Instant::now();
    paced(&publisher, &topics, RATE, secs, 3_000_000, &sent).await;
    let _ = reader.await;
    let cloud = Figures::from_latencies(std::mem::take(&mut *lat.lock().unwrap()), started.elapsed());
    let lost = sent.lock().unwrap().len();
    println!("telemetry latency: {RATE} fixes/s from {DEVICES} devices for {secs} s");
    println!("| | fixes seen | p50 | p99 |");
    println!("| --- | --- | --- | --- |");
    println!("| publish to plain subscriber (baseline) | {} | {:.1} ms | {:.1} ms |", base.n, base.p50_ms, base.p99_ms);
    println!("| publish to readable in Kafka | {} | {:.1} ms | {:.1} ms |", cloud.n, cloud.p50_ms, cloud.p99_ms);
    assert_eq!(lost, 0, "{lost} fixes never reached Kafka");
}

fn bytes() {
    let f = Fix { job: Some(1_042), ..fix(48_213, 3) };
    let postcard = f.encode().len();
    let generic = json!({
        "driver_id": "0193a5c2-7b1e-7c3a-9f21-3c4d5e6f7a8b", "delivery_id": "0193a5c2-7b1e-7c3a-9f21-3c4d5e6f7a8c",
        "device_id": "0193a5c2-7b1e-7c3a-9f21-3c4d5e6f7a8d", "latitude": 52.374021, "longitude": 4.893112,
        "accuracy": 6.0, "speed": 11.0, "heading": 90.0, "timestamp": "2026-11-18T10:13:20.000Z", "battery": 0.70,
        "sequence": 48213
    })
    .to_string()
    .len();
    let owntracks = json!({ "_type": "location", "lat": 52.374021, "lon": 4.893112, "tst": 1795000000, "acc": 6,
        "vel": 40, "cog": 90, "batt": 70, "tid": "dd", "alt": 3, "conn": "m", "bs": 1, "vac": 4 })
    .to_string()
    .len();
    println!("telemetry bytes per fix (payload; the topic names the device)");
    println!("| | bytes |");
    println!("| --- | --- |");
    println!("| postcard fix (with a job) | {postcard} |");
    println!("| JSON fix with UUID ids (baseline) | {generic} |");
    println!("| OwnTracks location | {owntracks} |");
}

fn zones() {
    // 10,000 zones: a 100 × 100 grid of 40 m circles about 500 m apart, around Amsterdam.
    let mut list = vec![];
    for i in 0..100 {
        for j in 0..100 {
            let centre = (52.0 + f64::from(i) * 0.0045, 4.5 + f64::from(j) * 0.0074);
            list.push(Zone {
                id: format!("{i}-{j}"),
                kind: ZoneKind::Restricted,
                name: String::new(),
                shape: Shape::Circle { centre, radius_m: 40.0 },
            });
        }
    }
    let fixes: Vec<(f64, f64)> =
        (0..100_000u32).map(|k| (52.0 + f64::from(k % 997) * 0.00045, 4.5 + f64::from(k % 991) * 0.00074)).collect();
    let index = ZoneIndex::new(list.clone());
    let mut presence = Presence::default();
    let started = Instant::now();
    let mut crossings = 0usize;
    for p in &fixes {
        crossings += presence.judge_all(&index, *p, 8.0).len();
    }
    let indexed = started.elapsed();
    let mut presence = Presence::default();
    let started = Instant::now();
    let mut scanned = 0usize;
    for p in fixes.iter().take(2_000) {
        scanned += list.iter().filter_map(|z| presence.judge(z, *p, 8.0)).count();
    }
    let scan = started.elapsed() * (fixes.len() / 2_000) as u32;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / fixes.len() as f64;
    println!("geofences: 10,000 zones, 100,000 fixes ({crossings} crossings; the scan's sample {scanned})");
    println!("| | per fix |");
    println!("| --- | --- |");
    println!("| linear scan (baseline) | {:.1} µs |", per(scan));
    println!("| R-tree index | {:.2} µs |", per(indexed));
    println!("| ratio (scan / index) | {:.0}× |", scan.as_secs_f64() / indexed.as_secs_f64());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let on = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if on("bytes") {
        bytes();
    }
    if on("zones") {
        zones();
    }
    if on("ingest") || on("latency") {
        let n = env_or("PATTY_BENCH_FIXES", 100_000) as usize;
        let rig = Rig::start(true).await;
        let with = if on("ingest") { Some(ingest(&rig, n).await) } else { None };
        if on("latency") {
            latency(&rig).await;
        }
        // The first cloud stops before the second starts (it would otherwise keep reconnecting
        // to a port the second broker may be given).
        rig._cloud.abort();
        drop(rig);
        if let Some(with) = with {
            // The same on a cloud with Kafka off: what the ingest costs without a Kafka broker on
            // the same cores.
            let rig = Rig::start(false).await;
            let without = ingest(&rig, n).await;
            print_ingest(n, with, without);
            drop(rig);
        }
        // The in-process clouds and the brokers' clients hold threads that a runtime shutdown
        // would wait on: stop the brokers and leave.
        std::process::exit(0);
    }
}
