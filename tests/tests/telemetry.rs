//! Driver telemetry end to end with real parts: the agent binary publishes a simulated drive to a
//! real Mosquitto, the cloud binary ingests it through a shared subscription and produces it to a
//! real Kafka-protocol broker, and an independent consumer (confluent-kafka) reads it back: every
//! fix once, in order within its partition. Bad messages from other devices are refused, counted,
//! and disturb nothing.

use patty_protocol::telemetry::{Fix, micro, topic};
use patty_tests::kafka::Broker;
use patty_tests::mqtt::Mosquitto;
use patty_tests::process::workspace_binary;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ADMIN: &str = "hq@pattypalace.example";
const PASSWORD: &str = "correct horse battery";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A counter's value in a Prometheus exposition (0 when absent).
fn counter(exposition: &str, name: &str) -> u64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn json_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Value {
    let mut r = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drive_reaches_kafka_once_and_in_order_and_bad_messages_disturb_nothing() {
    let mqtt = Mosquitto::start(free_port());
    let kafka = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
        ("PATTY_MQTT__URL", mqtt.url()),
        ("PATTY_MQTT__SHARE_GROUP", "fleet-test".into()),
    ];
    let args = ["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap(), "--kafka-brokers", &kafka.addr];
    let (cloud, base) = patty_tests::spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
    let _cloud = Killed(cloud);
    let http = reqwest::Client::new();
    let login = json_call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/auth/login"),
        "",
        Some(json!({ "email": ADMIN, "password": PASSWORD })),
    )
    .await;
    let admin = login["access_token"].as_str().unwrap().to_owned();
    let driver = json_call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/users"),
        &admin,
        Some(json!({ "email": "dee@example.com", "password": "driver-pass-1", "name": "Dee", "role": "driver" })),
    )
    .await;
    let key = json_call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/api-keys"),
        &admin,
        Some(json!({ "kind": "device", "subject": driver["id"], "name": "Dee's phone" })),
    )
    .await;
    let device = key["api_key"]["id"].as_str().unwrap().to_owned();

    // Wait until the ingest's subscription is in place (its fixes would otherwise go nowhere).
    let metrics = || {
        let (http, base) = (http.clone(), base.clone());
        async move { http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap() }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut probe_opts = MqttOptions::new("probe", "127.0.0.1", mqtt.port);
    probe_opts.set_keep_alive(Duration::from_secs(5));
    let (probe, mut probe_events) = AsyncClient::new(probe_opts, 100);
    tokio::spawn(async move { while probe_events.poll().await.is_ok() {} });
    loop {
        // A message on a topic no device has: refused as unknown once the ingest listens.
        probe.publish(topic("no-such-device", "fix"), QoS::AtLeastOnce, false, vec![1, 2, 3]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if counter(&metrics().await, "patty_cloud_device_messages_rejected_total{reason=\"unknown_device\"}") > 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the ingest never subscribed");
    }

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
        probe.publish(t, QoS::AtLeastOnce, false, payload).await.unwrap();
    }

    let status = tokio::task::spawn_blocking(move || agent.0.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the agent sent everything and stopped");
    // The device's last fix is the parked one at the route's end; its sequence is the count.
    let mut last = Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while last["speed_mps"] != 0.0 {
        let r = http
            .get(format!("{base}/api/v1/fleet/devices/{device}/position"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        if r.status().is_success() {
            last = r.json().await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "the drive's end never arrived: {last}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let n = last["seq"].as_u64().unwrap() as usize;
    assert!(n >= 10, "{n} fixes");
    assert_eq!(last["driver_id"], driver["id"]);
    assert!((last["lat"].as_f64().unwrap() - 52.377).abs() < 1e-5);
    assert_eq!(last["battery_pct"], 80);

    let records =
        tokio::task::spawn_blocking(move || kafka.consume(&["delivery.location.updates"], n, 60)).await.unwrap();
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
        assert_eq!(counter(&m, &name), 1, "{reason}: {m}");
    }
    assert_eq!(counter(&m, "patty_cloud_fixes_accepted_total"), n as u64, "{m}");
}
