//! Checkout benchmarks on PostgreSQL, each next to a baseline measured in the same run, with the
//! Stripe adapter talking to the provider double (`tests/payments-double`), which answers at once:
//! - `latency`: checkout to authorised: an order placed with a card, confirmed at the provider by
//!   the customer, the signed webhook handled, until the order reads `placed`; baseline: the same
//!   order placed paid at the outlet (no payment at all).
//! - `webhooks`: signed `payment_intent.amount_capturable_updated` webhooks handled per second
//!   (verify, deduplicate, merge, send the order to its outlet); baseline: `GET /healthz` on the same
//!   cloud at the same concurrency.
//!
//! `cargo bench -p patty-cloud --bench checkout`. Needs PostgreSQL (`PATTY_TEST_POSTGRES`) and Node
//! (the double); PATTY_BENCH_SECS sets each latency run's length, PATTY_BENCH_WEBHOOKS the count.

use hmac::Mac;
use patty_cloud::infra::config::Config;
use patty_tests::bench::{Figures, closed_loop, env_or};
use patty_tests::payments::{Double, STRIPE_KEY};
use patty_tests::postgres::postgres_schema;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const WEBHOOK_SECRET: &str = "whsec_bench_checkout";
const OUTLET: &str = "01900000-0000-7000-8000-00000000c001";

struct Bench {
    base: String,
    http: reqwest::Client,
    customers: Vec<(String, String)>,
    basket: Value,
}

impl Bench {
    fn order(&self, c: usize, pay: &str) -> Value {
        let mut b = self.basket.clone();
        b["address_id"] = json!(self.customers[c].1);
        b["payment"] = json!({ "method": pay });
        b
    }

    async fn place(&self, c: usize, key: &str, pay: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/api/v1/orders", self.base))
            .bearer_auth(&self.customers[c].0)
            .header("idempotency-key", key)
            .json(&self.order(c, pay))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        r.json().await.unwrap()
    }

    async fn get(&self, c: usize, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.customers[c].0)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn start(double: &Double) -> (Bench, patty_tests::fixtures::Served) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.keep());
    config.database.url = postgres_schema().await;
    config.database.max_connections = 32;
    config.auth.bootstrap_admin = "hq@bench.example:bench-password".into();
    config.http.rate_per_minute = 10_000_000;
    config.http.rate_burst = 1_000_000;
    config.http.sign_in_per_address_per_minute = 1_000_000;
    config.http.sign_in_per_account_per_minute = 1_000_000;
    config.payments.provider = "stripe".into();
    config.payments.stripe.api_base = double.stripe_base();
    config.payments.stripe.secret_key = STRIPE_KEY.into();
    config.payments.stripe.webhook_secret = WEBHOOK_SECRET.into();
    config.payments.reconcile_secs = 3600;
    let server = patty_tests::fixtures::Served::start(|l, stop| patty_cloud::run(config, l, stop)).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    double
        .config(json!({ "stripe_webhook_url": format!("{base}/api/v1/payments/webhooks/stripe"), "stripe_webhook_secret": WEBHOOK_SECRET }))
        .await;
    let admin = patty_tests::fixtures::login(&http, &base, "hq@bench.example", "bench-password").await;
    let post =
        |token: &str, path: &str, body: Value| http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send();
    post(&admin, "/api/v1/outlets", patty_tests::fixtures::outlet(OUTLET)).await.unwrap();
    let seed: Value = serde_json::from_str(include_str!("../../outlet-edge/sample/seed.json")).unwrap();
    http.put(format!("{base}/api/v1/catalog/draft"))
        .bearer_auth(&admin)
        .json(&json!({ "menu": seed["menu"] }))
        .send()
        .await
        .unwrap();
    post(&admin, "/api/v1/catalog/publish", json!({})).await.unwrap();
    let cheese =
        seed["menu"]["items"].as_array().unwrap().iter().find(|i| i["name"] == "Cheese Palace").unwrap().clone();
    let mut customers = Vec::new();
    for c in 0..CLIENTS {
        let r: Value = http
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({ "email": format!("k{c}@bench.example"), "password": "bench-password", "name": "K" }))
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
    let basket =
        json!({ "outlet_id": OUTLET, "fulfilment": "delivery", "lines": [{ "item_id": cheese["id"], "quantity": 2 }] });
    (Bench { base, http, customers, basket }, server)
}

/// Checkout to authorised, and the same order paid at the outlet.
async fn latency(bench: &Arc<Bench>, double: &Arc<Double>, secs: u64) -> (Figures, Figures) {
    let b = bench.clone();
    let plain = closed_loop(CLIENTS, secs, move |c, n| {
        let b = b.clone();
        async move {
            b.place(c, &format!("plain-{c}-{n}"), "at_outlet").await;
        }
    })
    .await;
    let (b, d) = (bench.clone(), double.clone());
    let paid = closed_loop(CLIENTS, secs, move |c, n| {
        let (b, d) = (b.clone(), d.clone());
        async move {
            let order = b.place(c, &format!("paid-{c}-{n}"), "card").await;
            assert_eq!(order["status"], "payment_pending");
            let id = order["id"].as_str().unwrap();
            // The order's own live stream says when it is placed: no polling load on the cloud.
            let stream = b
                .http
                .get(format!("{}/api/v1/orders/{id}/stream", b.base))
                .bearer_auth(&b.customers[c].0)
                .send()
                .await
                .unwrap();
            let mut events = patty_tests::sse::SseReader::new(stream);
            let payment = b.get(c, &format!("/api/v1/orders/{id}/payment")).await;
            d.confirm(payment["reference"].as_str().unwrap(), "authorise").await;
            events
                .until(Duration::from_secs(10), |name, data| name == "order.placed" || data["kind"] == "order.placed")
                .await;
        }
    })
    .await;
    (plain, paid)
}

fn sign(body: &str) -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// `count` webhooks, one per waiting payment, sent by CLIENTS senders; then as many health checks.
async fn webhooks(bench: &Arc<Bench>, count: usize) -> (f64, f64) {
    let mut bodies = Vec::with_capacity(count);
    for i in 0..count {
        let c = i % CLIENTS;
        let order = bench.place(c, &format!("hook-{i}"), "card").await;
        let id = order["id"].as_str().unwrap();
        let p = bench.get(c, &format!("/api/v1/orders/{id}/payment")).await;
        let body = json!({ "id": format!("evt_bench_{i}"), "object": "event", "type": "payment_intent.amount_capturable_updated",
            "data": { "object": { "id": p["reference"], "object": "payment_intent", "amount_capturable": order["total"],
                "latest_charge": null, "metadata": { "key": format!("{}:create", p["id"].as_str().unwrap()) } } } });
        bodies.push(body.to_string());
    }
    let bodies = Arc::new(bodies);
    let run = |health: bool| {
        let (bodies, b) = (bodies.clone(), bench.clone());
        async move {
            let next = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let mut tasks = vec![];
            for _ in 0..CLIENTS {
                let (bodies, b, next) = (bodies.clone(), b.clone(), next.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= bodies.len() {
                            break;
                        }
                        let r = if health {
                            b.http.get(format!("{}/healthz", b.base)).send().await.unwrap()
                        } else {
                            b.http
                                .post(format!("{}/api/v1/payments/webhooks/stripe", b.base))
                                .header("stripe-signature", sign(&bodies[i]))
                                .header("content-type", "application/json")
                                .body(bodies[i].clone())
                                .send()
                                .await
                                .unwrap()
                        };
                        assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            bodies.len() as f64 / start.elapsed().as_secs_f64()
        }
    };
    let health = run(true).await;
    let hooks = run(false).await;
    (health, hooks)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let all = which.is_empty();
    let double = Arc::new(Double::start());
    let (bench, server) = start(&double).await;
    let bench = Arc::new(bench);
    if all || which.iter().any(|w| w == "latency") {
        let (plain, paid) = latency(&bench, &double, env_or("PATTY_BENCH_SECS", 10)).await;
        println!(
            "checkout on PostgreSQL through the Stripe adapter and the provider double, {CLIENTS} concurrent customers"
        );
        println!(
            "  baseline (the same order paid at the outlet, POST /api/v1/orders): {:>6.0} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} orders)",
            plain.per_sec, plain.p50_ms, plain.p99_ms, plain.n
        );
        println!(
            "  checkout to authorised (place, confirm at the provider, webhook, order placed): {:>6.0} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} orders)",
            paid.per_sec, paid.p50_ms, paid.p99_ms, paid.n
        );
        println!("  ratio p50 checkout/baseline: {:.2}x", paid.p50_ms / plain.p50_ms);
    }
    if all || which.iter().any(|w| w == "webhooks") {
        let count = env_or("PATTY_BENCH_WEBHOOKS", 400) as usize;
        let (health, hooks) = webhooks(&bench, count).await;
        println!("signed Stripe webhooks, {count} (one per waiting payment), {CLIENTS} senders");
        println!("  baseline (GET /healthz, same cloud, same concurrency): {health:>7.0} /s");
        println!("  webhooks handled (verified, deduplicated, merged, order sent to its outlet): {hooks:>7.0} /s");
        println!("  ratio webhooks/baseline: {:.2}x", hooks / health);
    }
    server.stop().await;
}
