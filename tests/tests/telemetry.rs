//! Driver telemetry end to end with real parts: the agent binary publishes a simulated drive to a
//! real Mosquitto, the cloud binary ingests it through a shared subscription and produces it to a
//! real Kafka-protocol broker, and an independent consumer (confluent-kafka) reads it back: every
//! fix once, in order within its partition. Bad messages from other devices are refused, counted,
//! and disturb nothing.

use patty_protocol::telemetry::{Fix, micro, topic};
use patty_protocol::topics::Topic;
use patty_tests::chain::{Killed, free_port, metric};
use patty_tests::kafka::Broker;
use patty_tests::mqtt::{Mosquitto, Pki};
use patty_tests::process::workspace_binary;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

const ADMIN: &str = "hq@pattypalace.example";
const PASSWORD: &str = "correct horse battery";

async fn json_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Value {
    let mut r = http.request(method, url);
    if !token.is_empty() {
        r = r.bearer_auth(token);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {v}");
    v
}

/// The device's latest position once `pred` holds for it; panics after `secs` seconds.
async fn position_when(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    device: &str,
    secs: u64,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    patty_tests::fixtures::eventually(&format!("a position of {device}"), secs, || async {
        let r =
            http.get(format!("{base}/api/v1/fleet/devices/{device}/position")).bearer_auth(admin).send().await.ok()?;
        let p: Value = r.json().await.ok()?;
        pred(&p).then_some(p)
    })
    .await
}

/// Mosquitto, tansu and the cloud binary wired together, with HQ signed in and the ingest
/// listening.
struct Rig {
    mqtt: Mosquitto,
    kafka: Broker,
    dir: tempfile::TempDir,
    base: String,
    http: reqwest::Client,
    admin: String,
    driver: Value,
    /// The user name and password the rig's clients log in with, if the broker wants them.
    login: Option<(String, String)>,
    _cloud: Killed,
}

impl Rig {
    async fn start() -> Self {
        Self::start_with(false, "fleet-test").await
    }

    /// With a broker that keeps its sessions on disk when `persistent`, the ingest in shared
    /// subscription group `group` (empty: a plain subscription).
    async fn start_with(persistent: bool, group: &str) -> Self {
        Self::start_on(Mosquitto::start_with(free_port(), persistent), group, None).await
    }

    /// On `mqtt`, the cloud logging in with `cloud_login` if given; the rig's own clients then
    /// log in as the device `no-such-device` with password `probe-pass`.
    async fn start_on(mqtt: Mosquitto, group: &str, cloud_login: Option<(&str, &str)>) -> Self {
        let kafka = Broker::start().await;
        let dir = tempfile::tempdir().unwrap();
        let envs = [
            ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
            ("PATTY_HTTP__RATE_PER_MINUTE", "100000".into()),
            ("PATTY_HTTP__RATE_BURST", "10000".into()),
            ("PATTY_MQTT__URL", mqtt.url()),
            ("PATTY_MQTT__SHARE_GROUP", group.into()),
            ("PATTY_MQTT__USERNAME", cloud_login.map_or("", |l| l.0).into()),
            ("PATTY_MQTT__PASSWORD", cloud_login.map_or("", |l| l.1).into()),
        ];
        let args =
            ["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap(), "--kafka-brokers", &kafka.addr];
        let (cloud, base) = patty_tests::spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
        let http = reqwest::Client::new();
        let body = json!({ "email": ADMIN, "password": PASSWORD });
        let login = json_call(&http, reqwest::Method::POST, format!("{base}/api/v1/auth/login"), "", Some(body)).await;
        let admin = login["access_token"].as_str().unwrap().to_owned();
        let body = json!({ "email": "dee@example.com", "password": "driver-pass-1", "name": "Dee", "role": "driver" });
        let driver = json_call(&http, reqwest::Method::POST, format!("{base}/api/v1/users"), &admin, Some(body)).await;
        let login = cloud_login.map(|_| ("no-such-device".to_owned(), "probe-pass".to_owned()));
        let rig = Self { mqtt, kafka, dir, base, http, admin, driver, login, _cloud: Killed(cloud) };
        // Wait until the ingest's subscription is in place (fixes would otherwise go nowhere): a
        // message on a topic no device has is refused as unknown once it listens.
        let probe = rig.client("probe", 100);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            probe
                .publish(topic("no-such-device", "fix"), vec![1, 2, 3], rumqttc::PublishOptions::new(QoS::AtLeastOnce))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            if rig.metric("patty_cloud_device_messages_rejected_total{reason=\"unknown_device\"}").await > 0 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the ingest never subscribed");
        }
        rig
    }

    /// A device key for the driver; returns the device id.
    async fn device(&self, name: &str) -> String {
        let body = json!({ "kind": "device", "subject": self.driver["id"], "name": name });
        let key = json_call(
            &self.http,
            reqwest::Method::POST,
            format!("{}/api/v1/api-keys", self.base),
            &self.admin,
            Some(body),
        )
        .await;
        key["api_key"]["id"].as_str().unwrap().to_owned()
    }

    /// An MQTT client on the rig's broker whose event loop runs aside.
    fn client(&self, id: &str, inflight: u16) -> AsyncClient {
        let mut opts = MqttOptions::new(id, ("127.0.0.1", self.mqtt.port));
        opts.set_keep_alive(5);
        opts.set_inflight(inflight);
        if let Some((user, password)) = &self.login {
            opts.set_credentials(user, password.clone());
        }
        let (client, mut events) = AsyncClient::builder(opts).capacity(1000).build();
        tokio::spawn(async move { while events.poll().await.is_ok() {} });
        client
    }

    async fn metrics(&self) -> String {
        self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap()
    }

    async fn metric(&self, name: &str) -> u64 {
        metric(&self.metrics().await, name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drive_reaches_kafka_once_and_in_order_and_bad_messages_disturb_nothing() {
    let rig = Rig::start().await;
    let (http, base, admin, driver, mqtt, dir) = (&rig.http, &rig.base, &rig.admin, &rig.driver, &rig.mqtt, &rig.dir);
    let device = rig.device("Dee's phone").await;
    let probe = rig.client("bad-sender", 100);
    let metrics = || rig.metrics();

    let buffer = dir.path().join("agent.db");
    let agent = Command::new(workspace_binary("patty-driver"))
        .args(["--device", &device, "--broker", &format!("127.0.0.1:{}", mqtt.port), "--source", "simulate"])
        .args(["--route", "52.3731,4.8926;52.3789,4.9003;52.3770,4.9100", "--speed-kmh", "72", "--tick-ms", "2"])
        .args(["--interval", "5", "--battery", "80", "--exit-when-sent", "--buffer"])
        .arg(&buffer)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut agent = Killed(agent);

    // Meanwhile: garbage, an out-of-range fix and a fix stamped an hour ahead on the real device's
    // topic, and a topic outside the layout. Each is refused and counted.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let bad = Fix {
        seq: 1,
        time_s: now,
        lat_u: micro(95.0),
        lon_u: 0,
        accuracy_m: 5,
        speed_dms: 0,
        heading_deg: 0,
        battery_pct: 1,
        job: None,
    };
    let ahead = Fix { lat_u: micro(52.0), time_s: now + 3600, ..bad };
    for (t, payload) in [
        (topic(&device, "fix"), b"not postcard at all".to_vec()),
        (topic(&device, "fix"), bad.encode()),
        (topic(&device, "fix"), ahead.encode()),
        (topic(&device, "weather"), b"sunny".to_vec()),
    ] {
        probe.publish(t, payload, rumqttc::PublishOptions::new(QoS::AtLeastOnce)).await.unwrap();
    }

    agent.finishes(60).await;
    // The device's last fix is the parked one at the route's end; its sequence is the count.
    let last = position_when(http, base, admin, &device, 30, |p| p["speed_mps"] == 0.0).await;
    let n = last["seq"].as_u64().unwrap() as usize;
    assert!(n >= 10, "{n} fixes");
    assert_eq!(last["driver_id"], driver["id"]);
    assert!((last["lat"].as_f64().unwrap() - 52.377).abs() < 1e-5);
    assert_eq!(last["battery_pct"], 80);

    let records = rig.kafka.consume(&[Topic::LocationUpdates.name()], n, 60);
    let seqs: Vec<u64> = records.iter().map(|r| r["value"]["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>(), "every fix once, in order");
    assert!(records.iter().all(|r| r["key"] == device.as_str()));
    assert_eq!(
        records.iter().map(|r| r["partition"].as_i64().unwrap()).collect::<std::collections::BTreeSet<_>>().len(),
        1
    );

    let m = metrics().await;
    for reason in ["malformed", "out_of_range", "from_the_future", "bad_topic"] {
        let name = format!("patty_cloud_device_messages_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&m, &name), 1, "{reason}: {m}");
    }
    assert_eq!(metric(&m, "patty_cloud_fixes_accepted_total"), n as u64, "{m}");

    // The fleet's positions are HQ's: a driver is refused, an unknown device is a JSON 404.
    let body = json!({ "email": "dee@example.com", "password": "driver-pass-1" });
    let dee = json_call(http, reqwest::Method::POST, format!("{base}/api/v1/auth/login"), "", Some(body)).await;
    let r = http
        .get(format!("{base}/api/v1/fleet/positions"))
        .bearer_auth(dee["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
    let r = http
        .get(format!("{base}/api/v1/fleet/devices/no-such-device/position"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_found");
}

/// A burst of 200,000 QoS 1 fixes from 20 devices (`PATTY_BURST_PER_DEVICE` sets each device's
/// share) lands in Kafka exactly: as many records, no more and no fewer, each fix once, with the
/// broker settings we ship (unlimited queues).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_fixes_lands_in_kafka_exactly() {
    const DEVICES: u32 = 20;
    let per_device = patty_tests::bench::env_or("PATTY_BURST_PER_DEVICE", 10_000) as u32;
    let rig = Rig::start().await;
    let mut devices = Vec::new();
    for d in 0..DEVICES {
        devices.push(rig.device(&format!("van {d}")).await);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let publisher = rig.client("burst", 1000);
    let started = std::time::Instant::now();
    for seq in 1..=per_device {
        for (d, device) in devices.iter().enumerate() {
            let fix = Fix {
                seq,
                time_s: now - per_device + seq,
                lat_u: micro(52.37 + d as f64 * 0.001),
                lon_u: micro(4.89 + f64::from(seq) * 0.000_01),
                accuracy_m: 5,
                speed_dms: 80,
                heading_deg: 90,
                battery_pct: 90,
                job: None,
            };
            publisher
                .publish(topic(device, "fix"), fix.encode(), rumqttc::PublishOptions::new(QoS::AtLeastOnce))
                .await
                .unwrap();
        }
    }
    let total = u64::from(DEVICES * per_device);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let accepted = rig.metric("patty_cloud_fixes_accepted_total").await;
        assert!(accepted <= total, "{accepted} accepted of {total} sent");
        if accepted == total {
            break;
        }
        if std::env::var_os("PATTY_TEST_ECHO").is_some() {
            eprintln!("{:.1} s: {accepted} accepted", started.elapsed().as_secs_f64());
        }
        assert!(tokio::time::Instant::now() < deadline, "only {accepted} of {total} fixes accepted");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ingest = started.elapsed();
    // Read back by an independent client: exactly the fixes sent, each once (the broker's end
    // offsets are not used: tansu reports high watermarks a few records short under this load).
    let (records, distinct, partitions) = rig.kafka.count(Topic::LocationUpdates.name(), total, 120);
    assert_eq!(partitions, 10, "the topic has its 10 partitions");
    assert_eq!((records, distinct), (total, total), "every fix in Kafka exactly once");
    assert_eq!(rig.metric("patty_cloud_fixes_repeats_total").await, 0);
    println!("{total} fixes published, ingested and produced in {:.1} s", ingest.as_secs_f64());
}

/// With no broker configured the cloud embeds one; when its port is taken (here by the test,
/// on these machines by Mosquitto on 1883) it takes a free one, says which in `/healthz`, and
/// an agent pointed there reaches the cloud's ingest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_broker_carries_a_drive_when_its_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
        ("PATTY_MQTT__EMBEDDED_LISTEN", format!("127.0.0.1:{taken_port}")),
    ];
    let args = ["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()];
    let (cloud, base) = patty_tests::spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
    let _cloud = Killed(cloud);
    let http = reqwest::Client::new();
    let health = json_call(&http, reqwest::Method::GET, format!("{base}/healthz"), "", None).await;
    let url = health["mqtt"].as_str().unwrap().to_owned();
    let port: u16 = url.rsplit_once(':').unwrap().1.parse().unwrap();
    assert!(url.starts_with("mqtt://127.0.0.1:") && port != taken_port, "{url}");

    let body = json!({ "email": ADMIN, "password": PASSWORD });
    let login = json_call(&http, reqwest::Method::POST, format!("{base}/api/v1/auth/login"), "", Some(body)).await;
    let admin = login["access_token"].as_str().unwrap().to_owned();
    let body = json!({ "email": "dee@example.com", "password": "driver-pass-1", "name": "Dee", "role": "driver" });
    let driver = json_call(&http, reqwest::Method::POST, format!("{base}/api/v1/users"), &admin, Some(body)).await;
    let body = json!({ "kind": "device", "subject": driver["id"], "name": "Dee's phone" });
    let key = json_call(&http, reqwest::Method::POST, format!("{base}/api/v1/api-keys"), &admin, Some(body)).await;
    let device = key["api_key"]["id"].as_str().unwrap().to_owned();
    let agent = Command::new(workspace_binary("patty-driver"))
        .args(["--device", &device, "--broker", &format!("127.0.0.1:{port}"), "--source", "simulate"])
        .args(["--route", "52.3731,4.8926;52.3789,4.9003", "--speed-kmh", "72", "--tick-ms", "2", "--interval", "5"])
        .arg("--buffer")
        .arg(dir.path().join("agent.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _agent = Killed(agent);
    // The drive's parked end arrives (the ingest subscribed on the embedded broker in time or
    // the agent's fixes waited in its buffer until it had).
    let end = |p: &Value| p["speed_mps"] == 0.0 && p["online"] == true;
    let p = position_when(&http, &base, &admin, &device, 60, end).await;
    assert!((p["lat"].as_f64().unwrap() - 52.3789).abs() < 1e-5, "{p}");
    drop(taken);
}

/// The OwnTracks app as an agent: its JSON locations on `owntracks/USER/DEVICE` count as the
/// linked device's fixes (speed from km/h, battery, accuracy), its own region crossings are passed
/// on as alerts; an unlinked user and a malformed message are refused and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owntracks_locations_count_as_the_linked_devices_fixes() {
    let rig = Rig::start().await;
    let device = rig.device("Dee's OwnTracks").await;
    let link = |id: &str, body: Value| {
        rig.http
            .put(format!("{}/api/v1/fleet/devices/{id}/owntracks", rig.base))
            .bearer_auth(&rig.admin)
            .json(&body)
            .send()
    };
    let r = link(&device, json!({ "user": "dee", "device": "a/b" })).await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    let r = link("no-such-device", json!({ "user": "dee", "device": "phone" })).await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let r = link(&device, json!({ "user": "dee", "device": "phone" })).await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);

    let unknown = "patty_cloud_device_messages_rejected_total{reason=\"unknown_device\"}";
    let unknown_before = rig.metric(unknown).await;
    let phone = rig.client("owntracks-dee", 10);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let location = |tst: u64, lat: f64| {
        json!({ "_type": "location", "lat": lat, "lon": 4.8926, "tst": tst, "acc": 12, "vel": 36, "cog": 271,
                "batt": 64, "tid": "dd", "alt": 3, "conn": "m" })
        .to_string()
    };
    for (topic, payload) in [
        ("owntracks/dee/phone".to_owned(), location(now - 20, 52.3731)),
        ("owntracks/dee/phone".to_owned(), location(now - 10, 52.3741)),
        ("owntracks/dee/phone/event".to_owned(), json!({ "_type": "transition", "event": "enter", "desc": "Home", "tst": now - 5, "lat": 52.3741, "lon": 4.8926, "acc": 10, "wtst": now - 1000 }).to_string()),
        ("owntracks/eve/phone".to_owned(), location(now - 10, 52.0)),
        ("owntracks/dee/phone".to_owned(), "{not json".to_owned()),
    ] {
        phone.publish(topic, payload, rumqttc::PublishOptions::new(QoS::AtLeastOnce)).await.unwrap();
    }
    let p = position_when(&rig.http, &rig.base, &rig.admin, &device, 30, |p| p["lat"] == 52.3741).await;
    assert_eq!(p["driver_id"], rig.driver["id"]);
    assert_eq!(
        (p["speed_mps"].as_f64(), p["battery_pct"].as_u64(), p["accuracy_m"].as_u64()),
        (Some(10.0), Some(64), Some(12))
    );
    assert_eq!((p["heading_deg"].as_u64(), p["time_s"].as_u64()), (Some(271), Some(now - 10)));
    // Messages on different topics may be judged in any order: each count is awaited.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rig.metric("patty_cloud_device_messages_rejected_total{reason=\"malformed\"}").await < 1
        || rig.metric(unknown).await < unknown_before + 1
    {
        assert!(tokio::time::Instant::now() < deadline, "the malformed message and eve's were not both counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rig.metric(unknown).await, unknown_before + 1, "eve's phone is not linked, counted once");
    let records = rig.kafka.consume(&[Topic::LocationUpdates.name()], 2, 60);
    assert_eq!(
        records.iter().map(|r| r["value"]["time_s"].as_u64().unwrap()).collect::<Vec<_>>(),
        [now - 20, now - 10]
    );
    let alerts = rig.kafka.consume(&["delivery.geofence.alerts"], 1, 60);
    assert_eq!(alerts[0]["value"]["kind"], "geofence.device_entered");
    assert_eq!(alerts[0]["value"]["data"]["region"], "Home");
}

/// The broker is restarted mid-stream (gracefully, keeping its sessions on disk, as a production
/// broker does): the agent keeps fixes on disk meanwhile, the cloud's persistent session gets what
/// was queued for it, and every fix reaches Kafka once, in order. The ingest's subscription is a
/// plain one: Mosquitto (2.0) routes nothing to a restored shared subscription until its client
/// is back, so fixes the agent sends before the cloud reconnects would be acknowledged and lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_mid_stream_loses_no_acknowledged_fix() {
    let mut rig = Rig::start_with(true, "").await;
    let device = rig.device("Dee's van").await;
    let agent = Command::new(workspace_binary("patty-driver"))
        .args(["--device", &device, "--broker", &format!("127.0.0.1:{}", rig.mqtt.port), "--source", "simulate"])
        .args(["--route", "52.3731,4.8926;52.3900,4.9300", "--speed-kmh", "72", "--tick-ms", "15"])
        .args(["--interval", "1", "--exit-when-sent", "--buffer"])
        .arg(rig.dir.path().join("van.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut agent = Killed(agent);
    // Some fixes are through; then the broker goes down for a moment and comes back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rig.metric("patty_cloud_fixes_accepted_total").await < 20 {
        assert!(tokio::time::Instant::now() < deadline, "no fixes before the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rig.mqtt.restart();
    agent.finishes(90).await;
    // The agent's count: its last fix's sequence number.
    let last = position_when(&rig.http, &rig.base, &rig.admin, &device, 60, |p| p["speed_mps"] == 0.0).await;
    let n = last["seq"].as_u64().unwrap();
    assert!(n > 100, "{n} fixes");
    let records = rig.kafka.consume(&[Topic::LocationUpdates.name()], n as usize, 60);
    let seqs: Vec<u64> = records.iter().map(|r| r["value"]["seq"].as_u64().unwrap()).collect();
    let m = rig.metrics().await;
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "every fix once, in order, through the restart: {m}");
}

/// The broker configuration we ship (`deploy/mosquitto`), whole. The cloud logs in with its
/// password and reads the fleet through its shared subscription; an agent connects over TLS with
/// its client certificate (common name: its device id) and its drive reaches the cloud. A device
/// publishing on another device's topic is refused by the broker, so neither a subscriber with
/// the cloud's rights nor the cloud sees it. Nobody connects anonymously, and an agent that does
/// not trust the broker's certificate never connects and keeps its fixes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_broker_takes_devices_over_tls_and_keeps_each_to_its_own_topics() {
    let pki = Pki::new();
    let users = [("patty-cloud", "cloud-pass"), ("no-such-device", "probe-pass")];
    let mqtt = Mosquitto::start_shipped(free_port(), &pki, &users);
    let (port, tls_port) = (mqtt.port, mqtt.tls_port);
    let rig = Rig::start_on(mqtt, "fleet-test", Some(users[0])).await;
    let (http, base, admin) = (&rig.http, &rig.base, &rig.admin);
    let device = rig.device("Dee's van").await;
    let other = rig.device("Dee's phone").await;
    let agent = |ca: &std::path::Path, buffer: &str, stderr: Stdio| {
        let (cert, key) = pki.device(&device);
        Command::new(workspace_binary("patty-driver"))
            .args(["--device", &device, "--broker", &format!("127.0.0.1:{tls_port}"), "--source", "simulate"])
            .args(["--route", "52.3731,4.8926;52.3789,4.9003", "--speed-kmh", "72", "--tick-ms", "2"])
            .args(["--interval", "5", "--exit-when-sent", "--tls-ca"])
            .arg(ca)
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .arg("--buffer")
            .arg(rig.dir.path().join(buffer))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    };

    // Over TLS, into the cloud.
    Killed(agent(&pki.ca(), "agent.db", Stdio::null())).finishes(60).await;
    let p = position_when(http, base, admin, &device, 30, |p| p["speed_mps"] == 0.0).await;
    assert!((p["lat"].as_f64().unwrap() - 52.3789).abs() < 1e-5, "{p}");

    // A subscriber with the cloud's rights, to see what the broker lets through.
    let mut opts = MqttOptions::new("acl-watch", ("127.0.0.1", port));
    opts.set_credentials("patty-cloud", "cloud-pass");
    let (watch, mut watching) = AsyncClient::builder(opts).capacity(100).build();
    watch.subscribe("patty/v1/devices/+/fix", QoS::AtLeastOnce).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), watching.poll()).await {
            // (Mosquitto 2.0's ACL file judges what a subscriber may read per message, not at
            // SUBSCRIBE.)
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            other => panic!("the cloud's user subscribes: {other:?}"),
        }
    }
    // The other device forges a fix on the van's topic, then sends one on its own. One
    // connection after the other, each acknowledged: had the broker passed the forgery on, it
    // would reach the subscriber before the genuine fix.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let genuine = Fix {
        seq: 1,
        time_s: now,
        lat_u: micro(52.3700),
        lon_u: micro(4.9000),
        accuracy_m: 5,
        speed_dms: 0,
        heading_deg: 0,
        battery_pct: 50,
        job: None,
    };
    let forged = Fix { seq: 1_000_000, lat_u: micro(48.8566), lon_u: micro(2.3522), ..genuine };
    let (cert, key) = pki.device(&other);
    for (on, fix) in [(&device, forged), (&other, genuine)] {
        let file = rig.dir.path().join("fix.bin");
        std::fs::write(&file, fix.encode()).unwrap();
        let out = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &tls_port.to_string(), "-q", "1", "-i", &format!("pub-{other}")])
            .arg("--cafile")
            .arg(pki.ca())
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["-t", &topic(on, "fix"), "-f"])
            .arg(&file)
            .output()
            .expect("mosquitto_pub (Debian's mosquitto-clients; ./scripts/test installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        let mut seen = vec![];
        loop {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = watching.poll().await {
                seen.push((String::from_utf8(p.topic.to_vec()).unwrap(), Fix::decode(&p.payload).unwrap()));
                if p.topic == topic(&other, "fix").as_bytes() {
                    return seen;
                }
            }
        }
    })
    .await
    .expect("the other device's own fix passes");
    assert_eq!(seen, [(topic(&other, "fix"), genuine)], "only the genuine fix passed");
    let o = position_when(http, base, admin, &other, 30, |p| p["seq"] == 1).await;
    assert!((o["lat"].as_f64().unwrap() - 52.37).abs() < 1e-5, "{o}");

    // No anonymous client.
    let (_anon, mut anon) =
        AsyncClient::builder(MqttOptions::new("anonymous", ("127.0.0.1", port))).capacity(10).build();
    let refused = tokio::time::timeout(Duration::from_secs(10), anon.poll()).await.expect("an answer");
    assert!(
        matches!(refused, Err(rumqttc::ConnectionError::ConnectionRefused(rumqttc::ConnectReturnCode::NotAuthorized))),
        "{refused:?}"
    );

    // An agent trusting another CA refuses the broker's certificate, says so, and keeps its fixes.
    let stranger = Pki::new();
    let mut lost = Killed(agent(&stranger.ca(), "lost.db", Stdio::piped()));
    let lines = std::io::BufReader::new(lost.0.stderr.take().unwrap());
    let (tx, mut said) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        lines.lines().map_while(Result::ok).try_for_each(|l| tx.send(l))
    });
    let mut log = vec![];
    let refused = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = said.recv().await {
            if line.contains("broker link down") && line.contains("invalid peer certificate") {
                return;
            }
            log.push(line);
        }
    })
    .await;
    assert!(refused.is_ok(), "the agent says the broker's certificate is not trusted: {log:#?}");
    assert!(lost.0.try_wait().unwrap().is_none(), "it keeps trying, its fixes on disk");
}
