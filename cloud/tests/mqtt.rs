//! The telemetry ingest against a real broker: several replicas of the cloud on one Mosquitto.

mod common;

use common::{Backend, Cloud, postgres_schema};
use patty_protocol::telemetry::{Fix, micro, topic};
use patty_tests::chain::{free_port, metric};
use patty_tests::mqtt::Mosquitto;
use reqwest::StatusCode;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::json;
use std::time::Duration;

/// A publisher on `port` whose event loop runs aside.
fn publisher(id: &str, port: u16) -> AsyncClient {
    let mut opts = MqttOptions::new(id, ("127.0.0.1", port));
    opts.set_keep_alive(5);
    let (client, mut events) = AsyncClient::builder(opts).capacity(1000).build();
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    client
}

async fn metric_of(cloud: &Cloud, name: &str) -> u64 {
    let text = cloud.http.get(cloud.url("/metrics")).send().await.unwrap().text().await.unwrap();
    metric(&text, name)
}

/// Two replicas on one database and one broker, in the default shared-subscription group: each
/// connects with a client id of its own, so neither drops the other's session, and the fleet's
/// fixes are split between them, every one accepted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_broker_keep_their_sessions_and_share_the_fleet() {
    let mqtt = Mosquitto::start(free_port());
    let url = postgres_schema().await;
    let replica = |c: &mut patty_cloud::infra::config::Config| {
        c.database.url = url.clone();
        c.database.max_connections = 4;
        c.mqtt.url = mqtt.url();
    };
    let a = Cloud::start_with(Backend::Postgres, replica).await;
    let b = Cloud::start_with(Backend::Postgres, replica).await;
    let admin = a.admin().await;
    let body = json!({ "email": "dee@example.com", "password": "driver-pass-1", "name": "Dee", "role": "driver" });
    let driver = a.json(a.post(&admin, "/api/v1/users", &body).await, StatusCode::CREATED).await;
    let mut devices = vec![];
    for name in ["van", "bike", "phone", "scooter"] {
        let body = json!({ "kind": "device", "subject": driver["id"], "name": name });
        let key = a.json(a.post(&admin, "/api/v1/api-keys", &body).await, StatusCode::CREATED).await;
        devices.push(key["api_key"]["id"].as_str().unwrap().to_owned());
    }

    // Both ingests are subscribed once each has refused a probe on an unknown device's topic.
    let probe = publisher("probe", mqtt.port);
    let unknown = "patty_cloud_device_messages_rejected_total{reason=\"unknown_device\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric_of(&a, unknown).await == 0 || metric_of(&b, unknown).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "both ingests subscribe");
        probe
            .publish(topic("no-such-device", "fix"), vec![1, 2, 3], rumqttc::PublishOptions::new(QoS::AtLeastOnce))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let per_device = 50u32;
    let now = patty_tests::chain::now_s();
    for (i, device) in devices.iter().enumerate() {
        let client = publisher(&format!("patty-driver-{device}"), mqtt.port);
        for seq in 1..=per_device {
            let fix = Fix {
                seq,
                time_s: now - per_device + seq,
                lat_u: micro(52.37 + f64::from(seq) * 1e-4),
                lon_u: micro(4.89 + i as f64 * 1e-3),
                accuracy_m: 5,
                speed_dms: 50,
                heading_deg: 90,
                battery_pct: 80,
                job: None,
            };
            client
                .publish(topic(device, "fix"), fix.encode(), rumqttc::PublishOptions::new(QoS::AtLeastOnce))
                .await
                .unwrap();
        }
    }
    let total = u64::from(per_device) * devices.len() as u64;
    let accepted = "patty_cloud_fixes_accepted_total";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (on_a, on_b) = loop {
        let (on_a, on_b) = (metric_of(&a, accepted).await, metric_of(&b, accepted).await);
        if on_a + on_b >= total {
            break (on_a, on_b);
        }
        assert!(tokio::time::Instant::now() < deadline, "{on_a} + {on_b} of {total} fixes accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sessions = "patty_cloud_mqtt_sessions_total";
    assert_eq!(
        (metric_of(&a, sessions).await, metric_of(&b, sessions).await),
        (1, 1),
        "each replica kept its one session ({on_a} and {on_b} fixes)"
    );
    assert_eq!(on_a + on_b, total, "every fix accepted once");
    assert!(on_a > 0 && on_b > 0, "the fleet is shared: {on_a} and {on_b}");
    a.stop().await;
    b.stop().await;
}

/// The embedded broker takes anonymous clients, so it refuses to start on an address beyond
/// loopback: `run` returns the error, and the binary says it in one line and exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_broker_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = patty_cloud::infra::config::Config::for_data_dir(dir.path());
    c.mqtt.embedded_listen = "0.0.0.0:0".parse().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(30), patty_cloud::run(c, listener, std::future::pending()))
        .await
        .expect("run returns at once");
    let e = refused.expect_err("the broker is refused").to_string();
    assert!(e.contains("0.0.0.0:0") && e.contains("loopback"), "{e}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patty-cloud"))
        .args(["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()])
        .env("PATTY_MQTT__EMBEDDED_LISTEN", "192.0.2.1:1883")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("patty-cloud: ") && stderr.contains("192.0.2.1:1883 is not a loopback address"),
        "{stderr}"
    );
}

/// On loopback the embedded broker takes an anonymous client, and the ingest reads what it
/// publishes (a probe on an unknown device's topic is refused and counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_broker_takes_anonymous_clients_on_loopback() {
    let cloud = Cloud::start_with(Backend::Sqlite, |c| {
        c.mqtt.embedded = true;
        c.mqtt.embedded_listen = "127.0.0.1:0".parse().unwrap();
    })
    .await;
    let health: serde_json::Value = cloud.http.get(cloud.url("/healthz")).send().await.unwrap().json().await.unwrap();
    let url = health["mqtt"].as_str().unwrap();
    let port: u16 = url.strip_prefix("mqtt://127.0.0.1:").expect("on loopback").parse().unwrap();
    let probe = publisher("anonymous-probe", port);
    let unknown = "patty_cloud_device_messages_rejected_total{reason=\"unknown_device\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric_of(&cloud, unknown).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the anonymous client's message reached the ingest");
        probe
            .publish(topic("no-such-device", "fix"), vec![1, 2, 3], rumqttc::PublishOptions::new(QoS::AtLeastOnce))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cloud.stop().await;
}
