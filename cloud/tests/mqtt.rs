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
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(opts, 1000);
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
    let replica = |c: &mut patty_cloud::config::Config| {
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
        probe.publish(topic("no-such-device", "fix"), QoS::AtLeastOnce, false, vec![1, 2, 3]).await.unwrap();
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
            client.publish(topic(device, "fix"), QoS::AtLeastOnce, false, fix.encode()).await.unwrap();
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
