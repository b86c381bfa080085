//! The outbox relay against a real Kafka-protocol broker (tansu), read back by an independent
//! consumer (confluent-kafka): every event arrives, keyed by its aggregate, in order per key; and a
//! cloud killed with SIGKILL mid-relay loses nothing.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

use patty_protocol::topics::Topic;

/// The topics these tests' events go to.
const TOPICS: [Topic; 6] =
    [Topic::Order, Topic::Catalog, Topic::Customer, Topic::Notification, Topic::DeliveryStatus, Topic::Payment];

fn topic_names() -> Vec<&'static str> {
    TOPICS.iter().map(|t| t.name()).collect()
}
const OUTLET: &str = "01900000-0000-7000-8000-00000000a001";

/// HQ sets up an outlet and a catalog; a customer with a home address; returns the customer's token.
async fn set_up(cloud: &Cloud, admin: &str) -> (String, Value) {
    cloud.json(cloud.post(admin, "/api/v1/outlets", &outlet(OUTLET)).await, StatusCode::CREATED).await;
    cloud.json(cloud.put(admin, "/api/v1/catalog/draft", &catalog(None)).await, StatusCode::OK).await;
    cloud.json(cloud.post(admin, "/api/v1/catalog/publish", &json!({})).await, StatusCode::CREATED).await;
    let ada = cloud.register("ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap().to_owned();
    let home = json!({ "label": "home", "line1": "Damrak 1", "city": "Amsterdam", "postcode": "1012 LG", "position": { "lat": 52.376, "lon": 4.896 } });
    let home = cloud.json(cloud.post(&token, "/api/v1/me/addresses", &home).await, StatusCode::CREATED).await;
    (token, home)
}

fn basket(home: &Value) -> Value {
    json!({ "outlet_id": OUTLET, "fulfilment": "delivery", "address_id": home["id"], "lines": [{ "item_id": BURGER, "quantity": 1 }] })
}

async fn place(cloud: &Cloud, token: &str, key: &str, home: &Value) -> Value {
    let r = cloud
        .http
        .post(cloud.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&basket(home))
        .send()
        .await
        .unwrap();
    cloud.json(r, StatusCode::CREATED).await
}

/// Checks Kafka holds exactly the outbox's events (repeats allowed only with the same event id),
/// each under its aggregate's key, and each key's events of a topic in outbox order in one partition.
fn check_against_outbox(records: &[Value], outbox: &[Value]) {
    let in_kafka: HashSet<&str> = records.iter().map(|r| r["value"]["event_id"].as_str().unwrap()).collect();
    let in_outbox: HashSet<&str> = outbox.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(in_kafka, in_outbox, "Kafka holds every outbox event and nothing else");
    let mut by_key: HashMap<(&str, &str), Vec<&Value>> = HashMap::new();
    for r in records {
        assert_eq!(r["key"], r["value"]["key"], "the record key is the aggregate id");
        by_key.entry((r["topic"].as_str().unwrap(), r["key"].as_str().unwrap())).or_default().push(r);
    }
    let position: HashMap<&str, i64> =
        outbox.iter().map(|e| (e["event_id"].as_str().unwrap(), e["position"].as_i64().unwrap())).collect();
    for (key, mut recs) in by_key {
        let partitions: HashSet<i64> = recs.iter().map(|r| r["partition"].as_i64().unwrap()).collect();
        assert_eq!(partitions.len(), 1, "all events of {key:?} in one partition");
        recs.sort_by_key(|r| r["offset"].as_i64().unwrap());
        let mut seen = HashSet::new();
        let order: Vec<i64> = recs
            .iter()
            .filter(|r| seen.insert(r["value"]["event_id"].as_str().unwrap()))
            .map(|r| position[r["value"]["event_id"].as_str().unwrap()])
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "events of {key:?} are in outbox order: {order:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_kafka_keyed_and_in_order() {
    let broker = Broker::start().await;
    let cloud = Cloud::start_with(Backend::Sqlite, |c| c.kafka.brokers = broker.addr.clone()).await;
    let health = cloud.json(cloud.send(Method::GET, None, "/healthz", None).await, StatusCode::OK).await;
    assert_eq!(health["kafka"], true);
    let admin = cloud.admin().await;
    let (token, home) = set_up(&cloud, &admin).await;
    let staff = cloud.staff(&admin, "till@example.com", "outlet_staff", Some(OUTLET)).await;
    for n in 0..12 {
        let o = place(&cloud, &token, &format!("k-{n}"), &home).await;
        let id = o["id"].as_str().unwrap();
        if n % 3 == 0 {
            cloud.post(&token, &format!("/api/v1/orders/{id}/cancel"), &json!({})).await;
        } else {
            for s in ["accepted", "preparing", "ready"] {
                let r = cloud
                    .post(&staff, &format!("/api/v1/outlets/{OUTLET}/orders/{id}/status"), &json!({ "status": s }))
                    .await;
                assert_eq!(r.status(), StatusCode::OK);
            }
        }
    }
    // 1 catalog + 2 registration + 12 placed + 4 cancelled + 8 x 3 moves + 8 deliveries created
    // (the 8 delivery orders that became ready) = 51; and the payments: 12 authorised at checkout
    // (the test provider), 8 captured when accepted, 4 released when cancelled = 75.
    let outbox = cloud.events(&admin, 75).await;
    assert_eq!(outbox.len(), 75);
    assert_eq!(outbox.iter().filter(|e| e["topic"] == "payment.events").count(), 24);
    assert_eq!(outbox.iter().filter(|e| e["kind"] == "delivery.created").count(), 8);
    let records = broker.consume(&topic_names(), outbox.len(), 60);
    check_against_outbox(&records, &outbox);
    let partitions: HashSet<i64> =
        records.iter().filter(|r| r["topic"] == "order.events").map(|r| r["partition"].as_i64().unwrap()).collect();
    assert!(partitions.len() > 1, "orders spread over the topic's partitions");
    assert!(records.iter().all(|r| r["headers"].get("event_id").is_none_or(|h| *h == r["value"]["event_id"])));
    cloud.stop().await;
}

/// Starts the real binary and returns it with its base URL.
fn spawn_cloud(dir: &std::path::Path, brokers: &str) -> (std::process::Child, String) {
    let args = ["--listen", "127.0.0.1:0", "--kafka-brokers", brokers, "--data-dir", dir.to_str().unwrap()];
    let envs = [
        ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN_EMAIL}:{ADMIN_PASSWORD}")),
        ("PATTY_HTTP__RATE_PER_MINUTE", "100000".to_owned()),
    ];
    patty_tests::spawn_service(env!("CARGO_BIN_EXE_patty-cloud").as_ref(), &args, &envs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_killed_mid_relay_loses_no_event() {
    let broker = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = spawn_cloud(dir.path(), &broker.addr);
    let mut cloud = Cloud::attach(&base, Backend::Sqlite);
    let admin = cloud.admin().await;
    let (token, home) = set_up(&cloud, &admin).await;
    let mut placed = 0;
    for n in 0..150 {
        place(&cloud, &token, &format!("crash-{n}"), &home).await;
        placed += 1;
    }
    child.kill().unwrap(); // SIGKILL, with the relay busy
    child.wait().unwrap();

    let (mut child, base) = spawn_cloud(dir.path(), &broker.addr);
    cloud.base = base;
    let admin = cloud.admin().await;
    // Each order: placed, and its payment authorised (the test provider).
    let outbox = cloud.events(&admin, 3 + 2 * placed).await;
    assert_eq!(outbox.len(), 3 + 2 * placed, "every committed event is relayed after the restart");
    let records = broker.consume(&topic_names(), outbox.len(), 60);
    check_against_outbox(&records, &outbox);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A one-time token reaches only the message mailed to the user: after a registration (email
/// verification) and a password reset, no record on any domain topic holds a token, by field or
/// by the mailed value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_kafka() {
    let broker = Broker::start().await;
    let cloud = Cloud::start_with(Backend::Sqlite, |c| c.kafka.brokers = broker.addr.clone()).await;
    let admin = cloud.admin().await;
    cloud.register("ada@example.com").await;
    let r = cloud
        .send(Method::POST, None, "/api/v1/auth/password-reset", Some(&json!({ "email": "ada@example.com" })))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mailed = [
        cloud.mailed_token("ada@example.com", "email_verification").await,
        cloud.mailed_token("ada@example.com", "password_reset").await,
    ];
    let outbox = cloud.events(&admin, 3).await;
    let topics = ["order.events", "catalog.events", "customer.events", "notification.events", "sync.events"];
    let records = broker.consume(&topics, outbox.len(), 60);
    check_against_outbox(&records, &outbox);
    assert_eq!(records.iter().filter(|r| r["topic"] == "notification.events").count(), 2);
    for r in &records {
        assert_no_token(&r["value"], &r["value"]["kind"]);
        let text = r.to_string();
        assert!(mailed.iter().all(|t| !text.contains(t.as_str())), "a mailed token on Kafka: {text}");
    }
    cloud.stop().await;
}

/// With `notify.source = "kafka"` the notifier reads its own consumer group, not the event log:
/// an order accepted reaches the customer's inbox while the log's notifier cursor stays put.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifier_reads_its_own_consumer_group() {
    let broker = Broker::start().await;
    let cloud = Cloud::start_with(Backend::Sqlite, |c| {
        c.kafka.brokers = broker.addr.clone();
        c.notify.source = "kafka".into();
    })
    .await;
    let admin = cloud.admin().await;
    let (ada, home) = set_up(&cloud, &admin).await;
    let staff = cloud.staff(&admin, "till@example.com", "outlet_staff", Some(OUTLET)).await;
    let order = place(&cloud, &ada, "kafka-notify-1", &home).await;
    let id = order["id"].as_str().unwrap();
    let path = format!("/api/v1/outlets/{OUTLET}/orders/{id}/status");
    cloud.json(cloud.post(&staff, &path, &json!({ "status": "accepted" })).await, StatusCode::OK).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let inbox = loop {
        let inbox = cloud.json(cloud.get(&ada, "/api/v1/me/notifications").await, StatusCode::OK).await;
        if inbox["items"].as_array().unwrap().iter().any(|i| i["template"] == "order.accepted") {
            break inbox;
        }
        assert!(tokio::time::Instant::now() < deadline, "no news of the accepted order through Kafka: {inbox}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(inbox["items"][0]["link"].as_str().unwrap().ends_with(id), "{inbox}");
    let url = format!("sqlite://{}?mode=ro", cloud.dir.path().join("cloud.db").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let (cursor,): (i64,) =
        sqlx::query_as("SELECT position FROM dispatch_cursor WHERE name = 'notify'").fetch_one(&mut db).await.unwrap();
    assert_eq!(cursor, 0, "the event log was not what it read");
    cloud.stop().await;
}
