//! What goes wrong: webhooks repeated, early, replayed, forged or stale; a provider that times
//! out or fails; and secrets kept out of the event log and the cloud's own log.

use crate::common::*;
use crate::shop::*;
use patty_tests::payments::{Double, RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET, STRIPE_KEY};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The headers the double sent webhook `event` with.
fn sent_headers(event: &Value) -> Vec<(&'static str, String)> {
    let h = &event["headers"];
    vec![
        ("content-type", h["content-type"].as_str().unwrap().to_owned()),
        ("stripe-signature", h["stripe-signature"].as_str().unwrap().to_owned()),
    ]
}

fn stripe_signed(header: String) -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".to_owned()), ("stripe-signature", header)]
}

/// The payment events in the log.
async fn payment_event_count(shop: &Shop) -> usize {
    shop.all_events().await.iter().filter(|e| e["topic"] == "payment.events").count()
}

/// A webhook twice, a resend of an old one after capture and a capture's webhook before its
/// answer change nothing twice; forged, tampered and stale webhooks are 400 and write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_repeated_early_replayed_forged_or_stale() {
    let shop = Shop::start(Backend::Sqlite, "stripe").await;
    shop.double.faults(json!({ "duplicate_webhooks": true })).await;
    let (order, pay, reference) = shop.paid_order("dup-1").await;
    let id = order["id"].as_str().unwrap();
    shop.webhooks_answered().await;
    let auth = shop.webhooks("payment_intent.amount_capturable_updated", &reference).await;
    assert_eq!(auth.len(), 1, "{auth:?}");
    assert_eq!(auth[0]["deliveries"].as_array().unwrap().len(), 2, "delivered twice: {}", auth[0]);
    let auth = auth[0].clone();
    let (s, ack) = shop.post_webhook("stripe", &sent_headers(&auth), auth["payload"].as_str().unwrap()).await;
    assert_eq!((s, &ack), (StatusCode::OK, &json!({ "duplicate": true, "unknown": false })));

    // The capture's webhook arrives before the capture's answer.
    shop.double.faults(json!({ "reset": true, "webhook_before_response": true })).await;
    shop.outlet_moves(id, "accepted").await;
    let captured = shop.payment_until(&pay, "captured", |p| p["state"] == "captured").await;
    assert_eq!(captured["captured"].as_i64(), Some(BURGER_PRICE));
    shop.webhooks_answered().await;
    let succeeded = shop.webhooks("payment_intent.succeeded", &reference).await;
    assert_eq!(succeeded.len(), 1, "captured once at the provider: {succeeded:?}");
    let captures = shop.calls("POST", &format!("/v1/payment_intents/{reference}/capture")).await;
    let keys: std::collections::BTreeSet<&str> =
        captures.iter().filter_map(|c| c["idempotency_key"].as_str()).collect();
    assert_eq!(
        (keys.len(), captures.len() - captures.iter().filter(|c| c["idempotency_key"].is_null()).count()),
        (1, captures.len())
    );

    // Old webhooks sent again after the capture.
    shop.double.faults(json!({ "reset": true })).await;
    let settled = shop.payment(&pay).await;
    for old in [&auth, &succeeded[0]] {
        assert_eq!(shop.double.resend(old["id"].as_str().unwrap()).await["status"], 200);
    }
    assert_eq!(shop.payment(&pay).await, settled, "a replay changed the payment");
    let events = shop.all_events().await;
    assert_eq!(Shop::payment_events(&events, &pay, "payment.authorised").len(), 1, "{events:#?}");
    assert_eq!(Shop::payment_events(&events, &pay, "payment.captured").len(), 1, "{events:#?}");

    // Refused: tampered, another secret, stale, unsigned.
    let payload = auth["payload"].as_str().unwrap();
    let tampered = payload.replacen(&format!("\"amount\":{BURGER_PRICE}"), "\"amount\":1", 1);
    assert_ne!(tampered, payload);
    let other = shop.double.sign_stripe(payload, "whsec_someone_else", None).await;
    let stale = shop.double.sign_stripe(payload, STRIPE_WEBHOOK_SECRET, Some(now_s() - 3600)).await;
    for (what, headers, body) in [
        ("tampered", sent_headers(&auth), tampered.as_str()),
        ("another secret", stripe_signed(other), payload),
        ("stale", stripe_signed(stale), payload),
        ("unsigned", vec![("content-type", "application/json".to_owned())], payload),
    ] {
        let (s, r) = shop.post_webhook("stripe", &headers, body).await;
        assert_eq!((s, code(&r)), (StatusCode::BAD_REQUEST, "bad_signature"), "{what}: {r}");
    }

    // A forged authorisation of a payment still waiting: refused unless signed with our secret.
    let waiting = shop.place("forge-1", json!({ "method": "card" })).await;
    let waiting_id = waiting["id"].as_str().unwrap().to_owned();
    let reference2 = shop.reference(&waiting_id).await;
    let pay2 = shop.order_payment(&waiting_id).await["id"].as_str().unwrap().to_owned();
    let mut forged: Value = serde_json::from_str(payload).unwrap();
    forged["id"] = json!("evt_forgedForgedForged01");
    forged["data"]["object"]["id"] = json!(reference2);
    forged["created"] = json!(now_s());
    let forged = forged.to_string();
    let (before, pay2_before) = (payment_event_count(&shop).await, shop.payment(&pay2).await);
    let other = shop.double.sign_stripe(&forged, "whsec_someone_else", None).await;
    let stale = shop.double.sign_stripe(&forged, STRIPE_WEBHOOK_SECRET, Some(now_s() - 3600)).await;
    for headers in [stripe_signed(other), stripe_signed(stale)] {
        let (s, r) = shop.post_webhook("stripe", &headers, &forged).await;
        assert_eq!((s, code(&r)), (StatusCode::BAD_REQUEST, "bad_signature"), "{r}");
    }
    assert_eq!(shop.payment(&pay2).await, pay2_before, "a refused webhook changed the payment");
    assert_eq!(shop.order(&waiting_id).await["status"], "payment_pending");
    assert_eq!(payment_event_count(&shop).await, before, "a refused webhook wrote an event");
    // Signed with our secret the same event is news (the refused ones left no trace) and counts.
    let good = shop.double.sign_stripe(&forged, STRIPE_WEBHOOK_SECRET, None).await;
    let (s, ack) = shop.post_webhook("stripe", &stripe_signed(good), &forged).await;
    assert_eq!((s, &ack), (StatusCode::OK, &json!({ "duplicate": false, "unknown": false })));
    shop.order_reaches(&waiting_id, "placed").await;
    shop.cloud.stop().await;
}

/// The provider times out on create, or fails with a 500: the order waits, and the reconciler
/// settles it from the provider's own state (its webhooks never arrive here), with one intent
/// per payment at the provider; a capture that failed is made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_timeout_and_failure_are_reconciled() {
    let shop = Shop::start_with(Backend::Sqlite, "stripe", |c| {
        c.payments.reconcile_secs = 1;
        c.payments.pending_secs = 1;
    })
    .await;
    shop.double.config(json!({ "stripe_webhook_url": "http://127.0.0.1:9/nobody" })).await;
    shop.double.faults(json!({ "timeout_next_create": true, "hang_ms": 4000 })).await;
    let started = tokio::time::Instant::now();
    let order = shop.place("slow-1", json!({ "method": "card" })).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the customer waited for the provider: {:?}",
        started.elapsed()
    );
    assert_eq!(order["status"], "payment_pending");
    let id = order["id"].as_str().unwrap().to_owned();
    let reference = shop.reference(&id).await;
    shop.double.confirm(&reference, "authorise").await;
    let placed = shop.order_reaches(&id, "placed").await;
    assert_eq!(placed["paid"].as_i64(), Some(BURGER_PRICE));
    let creates = shop.calls("POST", "/v1/payment_intents").await;
    assert!(creates.len() >= 2, "asked again: {creates:?}");
    assert!(creates.iter().all(|c| c["idempotency_key"] == creates[0]["idempotency_key"]), "{creates:?}");
    let made = shop.double.events().await.into_iter().filter(|e| e["type"] == "payment_intent.created").count();
    assert_eq!(made, 1, "one intent at the provider");

    // A 500 on create: made again by the reconciler, once.
    shop.double.faults(json!({ "reset": true, "fail_next": 1 })).await;
    let order2 = shop.place("fail-1", json!({ "method": "card" })).await;
    assert_eq!(order2["status"], "payment_pending");
    let id2 = order2["id"].as_str().unwrap().to_owned();
    let reference2 = shop.reference(&id2).await;
    shop.double.confirm(&reference2, "authorise").await;
    shop.order_reaches(&id2, "placed").await;
    let made = shop.double.events().await.into_iter().filter(|e| e["type"] == "payment_intent.created").count();
    assert_eq!(made, 2, "one intent per payment");

    // A capture that fails is owed, and made again.
    shop.double.faults(json!({ "fail_next": 1 })).await;
    shop.outlet_moves(&id, "accepted").await;
    let pay = shop.order_payment(&id).await["id"].as_str().unwrap().to_owned();
    shop.payment_until(&pay, "captured", |p| p["state"] == "captured").await;
    let captures = shop.calls("POST", &format!("/v1/payment_intents/{reference}/capture")).await;
    assert_eq!(captures.iter().map(|c| c["status"].as_i64().unwrap()).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(captures[0]["idempotency_key"], captures[1]["idempotency_key"]);
    assert_eq!(shop.intent(&reference).await["amount_received"].as_i64(), Some(BURGER_PRICE));
    shop.assert_reconciled().await;
    shop.cloud.stop().await;
}

/// The cloud binary, its log lines kept.
struct Binary {
    child: std::process::Child,
    log: Arc<Mutex<Vec<String>>>,
    base: String,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    fn start(dir: &std::path::Path, double: &Double) -> Binary {
        let envs = [
            ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN_EMAIL}:{ADMIN_PASSWORD}")),
            ("PATTY_HTTP__RATE_PER_MINUTE", "100000".into()),
            ("PATTY_HTTP__RATE_BURST", "10000".into()),
            ("PATTY_HTTP__SIGN_IN_PER_ADDRESS_PER_MINUTE", "10000".into()),
            ("PATTY_HTTP__SIGN_IN_PER_ACCOUNT_PER_MINUTE", "10000".into()),
            ("PATTY_MQTT__EMBEDDED", "false".into()),
            ("PATTY_PAYMENTS__PROVIDER", "stripe".into()),
            ("PATTY_PAYMENTS__CALL_TIMEOUT_MS", "1500".into()),
            ("PATTY_PAYMENTS__STRIPE__API_BASE", double.stripe_base()),
            ("PATTY_PAYMENTS__STRIPE__SECRET_KEY", STRIPE_KEY.into()),
            ("PATTY_PAYMENTS__STRIPE__WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET.into()),
            ("PATTY_PAYMENTS__STRIPE__PUBLISHABLE_KEY", PUBLISHABLE_KEY.into()),
            ("PATTY_PAYMENTS__RAZORPAY__API_BASE", double.razorpay_base()),
            ("PATTY_PAYMENTS__RAZORPAY__KEY_ID", RAZORPAY_KEY_ID.into()),
            ("PATTY_PAYMENTS__RAZORPAY__KEY_SECRET", RAZORPAY_KEY_SECRET.into()),
            ("PATTY_PAYMENTS__RAZORPAY__WEBHOOK_SECRET", RAZORPAY_WEBHOOK_SECRET.into()),
            ("RUST_LOG", "debug".into()),
        ];
        let binary = patty_tests::process::workspace_binary("patty-cloud");
        let mut child = std::process::Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()])
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the cloud binary");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let pipes: [Box<dyn std::io::Read + Send>; 2] =
            [Box::new(child.stderr.take().unwrap()), Box::new(child.stdout.take().unwrap())];
        for pipe in pipes {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split(" listening addr=").nth(1) {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the cloud logs its address");
        Binary { child, log, base: format!("http://{addr}") }
    }
}

/// No webhook secret, API key or client secret in the event log or in the cloud's log, after
/// payments, a refund, a top-up and refused webhooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_events_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let double = Double::start();
    let binary = Binary::start(dir.path(), &double);
    let cloud = Cloud::attach(&binary.base, Backend::Sqlite);
    patty_tests::fixtures::wait_healthy(&cloud.http, &cloud.base).await;
    let shop = Shop::open(cloud, double).await;
    let mut client_secrets = vec![];
    let (order, pay, reference) = shop.paid_order("secret-1").await;
    shop.outlet_moves(order["id"].as_str().unwrap(), "accepted").await;
    shop.payment_until(&pay, "captured", |p| p["state"] == "captured").await;
    assert_eq!(shop.refund(&pay, 100, "card").await.0, StatusCode::CREATED);
    client_secrets.push(shop.intent(&reference).await["client_secret"].as_str().unwrap().to_owned());
    let waiting = shop.place("secret-2", json!({ "method": "card" })).await;
    let p = shop.order_payment(waiting["id"].as_str().unwrap()).await;
    client_secrets.push(p["client_secret"].as_str().unwrap().to_owned());
    let (s, top) =
        shop.call(Method::POST, &shop.customer, "/api/v1/me/wallet/top-ups", Some(&json!({ "amount": 500 }))).await;
    assert_eq!(s, StatusCode::CREATED, "{top}");
    client_secrets.extend(top["client_secret"].as_str().map(str::to_owned));
    let payload = shop.webhooks("payment_intent.created", &reference).await[0]["payload"].as_str().unwrap().to_owned();
    let bad = shop.double.sign_stripe(&payload, "whsec_someone_else", None).await;
    assert_eq!(shop.post_webhook("stripe", &stripe_signed(bad), &payload).await.0, StatusCode::BAD_REQUEST);
    shop.double.faults(json!({ "fail_next": 1 })).await;
    shop.place("secret-3", json!({ "method": "card" })).await;
    shop.webhooks_answered().await;

    let events = serde_json::to_string(&shop.all_events().await).unwrap();
    assert!(events.contains(&pay), "the log holds the payments' events");
    let log = binary.log.lock().unwrap().join("\n");
    assert!(log.contains("payments"), "the cloud's log was captured");
    let mut secrets = vec![STRIPE_KEY, STRIPE_WEBHOOK_SECRET, RAZORPAY_KEY_SECRET, RAZORPAY_WEBHOOK_SECRET];
    secrets.extend(client_secrets.iter().map(String::as_str));
    // A client secret's distinctive part too (its tail after `_secret_`).
    let tails: Vec<&str> = client_secrets.iter().filter_map(|s| s.split_once("_secret_")).map(|(_, t)| t).collect();
    for secret in secrets.into_iter().chain(tails) {
        assert!(!events.contains(secret), "{secret} in the event log");
        assert!(!log.contains(secret), "{secret} in the cloud's log");
    }
}
