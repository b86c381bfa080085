//! Cloud benchmarks, each next to a baseline measured in the same run:
//! - `orders`: orders placed per second through the API on PostgreSQL by 32 concurrent customers,
//!   p50/p99; baseline: plain single-row INSERT transactions through sqlx on the same server.
//! - `relay`: outbox events relayed into a Kafka-protocol broker per second; baseline: rdkafka's
//!   own producer (same settings) sending the same number of same-sized messages.
//!
//! `cargo bench -p patty-cloud --bench cloud [orders|relay]` (both by default). Needs PostgreSQL
//! (`PATTY_TEST_POSTGRES`) and tansu, as the test command provides. PATTY_BENCH_SECS and
//! PATTY_BENCH_EVENTS change the measuring time and the relay's event count.

use patty_cloud::infra::config::Config;
use patty_tests::bench::{Figures, closed_loop, env_or};
use patty_tests::kafka::Broker;
use patty_tests::postgres::postgres_schema;
use rdkafka::producer::FutureProducer;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CLIENTS: usize = 32;

async fn baseline_inserts(secs: u64) -> Figures {
    let url = postgres_schema().await;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(CLIENTS as u32).connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, created_ms BIGINT NOT NULL, doc TEXT NOT NULL)").execute(&pool).await.unwrap();
    let doc = std::sync::Arc::new("x".repeat(1200));
    closed_loop(CLIENTS, secs, move |c, _| {
        let (pool, doc) = (pool.clone(), doc.clone());
        async move {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO t (id, customer_id, created_ms, doc) VALUES ($1, $2, $3, $4)")
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(c.to_string())
                .bind(0i64)
                .bind(doc.as_str())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await
}

async fn cloud_orders(secs: u64) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.database.url = postgres_schema().await;
    config.database.max_connections = CLIENTS as u32;
    config.auth.bootstrap_admin = "hq@bench.example:bench-password".into();
    config.http.rate_per_minute = 10_000_000;
    config.http.rate_burst = 1_000_000;
    config.http.sign_in_per_address_per_minute = 1_000_000;
    config.http.sign_in_per_account_per_minute = 1_000_000;
    let server = patty_tests::fixtures::Served::start(|l, stop| patty_cloud::run(config, l, stop)).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let post =
        |token: &str, path: &str, body: Value| http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send();
    let admin = patty_tests::fixtures::login(&http, &base, "hq@bench.example", "bench-password").await;
    let outlet = "01900000-0000-7000-8000-00000000b001";
    post(&admin, "/api/v1/outlets", patty_tests::fixtures::outlet(outlet)).await.unwrap();
    let seed: Value = serde_json::from_str(include_str!("../../outlet-edge/sample/seed.json")).unwrap();
    http.put(format!("{base}/api/v1/catalog/draft"))
        .bearer_auth(&admin)
        .json(&json!({ "menu": seed["menu"] }))
        .send()
        .await
        .unwrap();
    post(&admin, "/api/v1/catalog/publish", json!({})).await.unwrap();
    let item =
        |name: &str| seed["menu"]["items"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap().clone();
    let cheese = item("Cheese Palace");
    let cola = item("Cola");
    let mut customers = Vec::new();
    for c in 0..CLIENTS {
        let r: Value = http
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({ "email": format!("c{c}@bench.example"), "password": "bench-password", "name": "C" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = r["access_token"].as_str().unwrap().to_owned();
        let a: Value = post(&token, "/api/v1/me/addresses", json!({ "label": "home", "line1": "Damrak 1", "city": "Amsterdam", "postcode": "1012", "position": { "lat": 52.376, "lon": 4.896 } })).await.unwrap().json().await.unwrap();
        customers.push((token, a["id"].as_str().unwrap().to_owned()));
    }
    let basket = |address: &str| {
        json!({ "outlet_id": outlet, "fulfilment": "delivery", "address_id": address, "lines": [
        { "item_id": cheese["id"], "quantity": 2, "modifiers": [{ "modifier_id": cheese["modifier_groups"][0]["modifiers"][0]["id"] }] },
        { "item_id": cola["id"], "variant_id": cola["variants"][1]["id"], "quantity": 1 } ] })
    };
    let bodies: Vec<(String, Value)> =
        customers.into_iter().map(|(token, address)| (token, basket(&address))).collect();
    let bodies = std::sync::Arc::new(bodies);
    let client = reqwest::Client::new();
    let out = closed_loop(CLIENTS, secs, move |c, n| {
        let (bodies, client, base) = (bodies.clone(), client.clone(), base.clone());
        async move {
            let (token, body) = &bodies[c];
            let r = client
                .post(format!("{base}/api/v1/orders"))
                .bearer_auth(token)
                .header("idempotency-key", format!("b{c}-{n}"))
                .json(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
        }
    })
    .await;
    server.stop().await;
    out
}

async fn bench_orders(secs: u64) {
    let base = baseline_inserts(secs).await;
    let cloud = cloud_orders(secs).await;
    println!("orders on PostgreSQL, {CLIENTS} concurrent clients");
    println!(
        "  baseline (sqlx single-row INSERT transactions): {:>7.0} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} rows)",
        base.per_sec, base.p50_ms, base.p99_ms, base.n
    );
    println!(
        "  patty-cloud POST /api/v1/orders (delivery, 2 lines): {:>7.0} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} orders)",
        cloud.per_sec, cloud.p50_ms, cloud.p99_ms, cloud.n
    );
    println!("  ratio cloud/baseline: {:.2}x", cloud.per_sec / base.per_sec);
}

async fn bench_relay(events: usize) {
    let broker = Broker::start().await;
    // A payload the size of an order.placed event.
    let payload = json!({ "event_id": uuid::Uuid::now_v7(), "kind": "order.placed", "key": uuid::Uuid::now_v7(), "at_ms": 0, "data": { "pad": "x".repeat(900) } }).to_string();

    // Baseline: rdkafka's producer, same settings, every message sent then every ack awaited.
    patty_cloud::infra::kafka::ensure_topics(
        &broker.addr,
        &[("bench.baseline", patty_protocol::topics::Topic::Order.partitions())],
    )
    .await
    .unwrap();
    let producer: FutureProducer = patty_cloud::infra::kafka::producer_config(&broker.addr).create().unwrap();
    // Warm up (connection, metadata), as the relay's producer is by the time it is measured.
    let warm = rdkafka::producer::FutureRecord::to("bench.baseline").key("warm-up").payload(&payload);
    producer.send(warm, Duration::from_secs(60)).await.map_err(|(e, _)| e).unwrap();
    let start = Instant::now();
    let mut acks = Vec::with_capacity(events);
    for n in 0..events {
        let (producer, payload) = (producer.clone(), payload.clone());
        acks.push(async move {
            let key = format!("order-{}", n % 5000);
            producer
                .send(
                    rdkafka::producer::FutureRecord::to("bench.baseline").key(&key).payload(&payload),
                    Duration::from_secs(60),
                )
                .await
                .map(|_| ())
                .map_err(|(e, _)| e)
        });
    }
    for r in futures::future::join_all(acks).await {
        r.unwrap();
    }
    let base = events as f64 / start.elapsed().as_secs_f64();

    // The relay: the same number of same-sized events waiting in a PostgreSQL outbox.
    let mut config = Config::for_data_dir(tempfile::tempdir().unwrap().path());
    config.database.url = postgres_schema().await;
    let db = patty_cloud::infra::db::Db::connect(&config).await.unwrap();
    let data = json!({ "pad": "x".repeat(800) });
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    for n in 0..events {
        patty_cloud::events::record(
            &mut conn,
            patty_protocol::topics::Topic::Order,
            &format!("order-{}", n % 5000),
            "order.placed",
            &data,
        )
        .await
        .unwrap();
    }
    sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
    drop(conn);
    let sink = patty_cloud::infra::kafka::KafkaSink::connect(&broker.addr, "").await.unwrap();
    let relay = patty_cloud::events::Relay::new(db, Some(sink), patty_cloud::events::RELAY_BATCH);
    let start = Instant::now();
    let mut done = 0;
    while done < events {
        done += relay.relay_once().await.unwrap();
    }
    let relayed = events as f64 / start.elapsed().as_secs_f64();
    println!("outbox relay into tansu, {events} events of about {} bytes", payload.len());
    println!("  baseline (rdkafka producer, same settings): {base:>8.0} msgs/s");
    println!("  patty-cloud relay (PostgreSQL outbox -> Kafka, positions assigned): {relayed:>8.0} events/s");
    println!("  ratio relay/baseline: {:.2}x", relayed / base);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let all = which.is_empty();
    if all || which.iter().any(|w| w == "orders") {
        bench_orders(env_or("PATTY_BENCH_SECS", 10)).await;
    }
    if all || which.iter().any(|w| w == "relay") {
        bench_relay(env_or("PATTY_BENCH_EVENTS", 50_000) as usize).await;
    }
}
