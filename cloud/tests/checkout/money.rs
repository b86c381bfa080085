//! The wallet, stored cards and Razorpay, end to end.

use crate::common::*;
use crate::shop::*;
use patty_tests::payments::{RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The customer's orders.
async fn my_orders(shop: &Shop) -> usize {
    shop.get(&shop.customer, "/api/v1/orders").await.as_array().unwrap().len()
}

/// The wallet with Stripe: a top-up is credited only once the provider's webhook says it was
/// taken; an order is paid partly or wholly from it; a wallet that cannot cover its part is 409
/// and writes nothing (two spends at once included); refunds go back into it; it never goes
/// below zero.
pub async fn wallet_pays_and_is_refunded(backend: Backend) {
    let shop = Shop::start(backend, "stripe").await;
    let (s, top) =
        shop.call(Method::POST, &shop.customer, "/api/v1/me/wallet/top-ups", Some(&json!({ "amount": 2000 }))).await;
    assert_eq!(s, StatusCode::CREATED, "{top}");
    assert_eq!((top["purpose"].as_str(), top["state"].as_str()), (Some("top_up"), Some("open")), "{top}");
    assert_eq!(shop.balance().await, 0, "not credited before the provider took it");
    let secret = top["client_secret"].as_str().unwrap_or_else(|| panic!("the client's secret to confirm: {top}"));
    let reference = secret.split("_secret_").next().unwrap().to_owned();
    shop.double.confirm(&reference, "authorise").await;
    let until = tokio::time::Instant::now() + WAIT;
    while shop.balance().await != 2000 {
        assert!(tokio::time::Instant::now() < until, "the top-up was not credited");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Part from the wallet (held at once), the rest by card.
    let mixed = shop.place("mixed-1", json!({ "method": "card", "wallet_amount": 500 })).await;
    let mixed_id = mixed["id"].as_str().unwrap().to_owned();
    assert_eq!(mixed["status"], "payment_pending");
    assert_eq!(shop.balance().await, 1500);
    let mixed_ref = shop.reference(&mixed_id).await;
    assert_eq!(shop.intent(&mixed_ref).await["amount"].as_i64(), Some(BURGER_PRICE - 500));
    shop.double.confirm(&mixed_ref, "authorise").await;
    let placed = shop.order_reaches(&mixed_id, "placed").await;
    assert_eq!(placed["paid"].as_i64(), Some(BURGER_PRICE), "{placed}");
    assert_eq!(tender(&placed, "online").and_then(|t| t["amount"].as_i64()), Some(BURGER_PRICE - 500), "{placed}");
    assert_eq!(tender(&placed, "wallet").and_then(|t| t["amount"].as_i64()), Some(500), "{placed}");

    // Short: refused, nothing written, nothing asked of the provider.
    let (orders, intents) = (my_orders(&shop).await, shop.calls("POST", "/v1/payment_intents").await.len());
    let r = shop.order_as(&shop.customer, "short-1", 3, json!({ "method": "wallet" })).await;
    assert_eq!(code(&shop.cloud.json(r, StatusCode::CONFLICT).await), "conflict");
    let r = shop.order_as(&shop.customer, "short-2", 1, json!({ "method": "card", "wallet_amount": 1501 })).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "more than the total from the wallet");
    let r = shop.order_as(&shop.customer, "short-3", 3, json!({ "method": "card", "wallet_amount": 1501 })).await;
    assert_eq!(code(&shop.cloud.json(r, StatusCode::CONFLICT).await), "conflict");
    assert_eq!((my_orders(&shop).await, shop.balance().await), (orders, 1500));
    assert_eq!(shop.calls("POST", "/v1/payment_intents").await.len(), intents, "no intent for a refused order");

    // Two wallet orders at once, 2 × 790 out of 1500: one goes through.
    let (a, b) = tokio::join!(
        shop.order_as(&shop.customer, "wallet-a", 1, json!({ "method": "wallet" })),
        shop.order_as(&shop.customer, "wallet-b", 1, json!({ "method": "wallet" }))
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    let winner = if a.status() == StatusCode::CREATED { a } else { b };
    let wallet_order = winner.json::<Value>().await.unwrap();
    assert_eq!(wallet_order["status"], "placed", "paid from the wallet: placed at once: {wallet_order}");
    assert_eq!(shop.balance().await, 1500 - BURGER_PRICE);
    let wallet_id = wallet_order["id"].as_str().unwrap();

    // Taken on: the card part captured at the provider, the wallet parts spent.
    shop.outlet_moves(wallet_id, "accepted").await;
    shop.outlet_moves(&mixed_id, "accepted").await;
    let mixed_pay = shop.order_payment(&mixed_id).await["id"].as_str().unwrap().to_owned();
    let wallet_pay = shop.order_payment(wallet_id).await["id"].as_str().unwrap().to_owned();
    let p = shop.payment_until(&mixed_pay, "captured", |p| p["state"] == "captured").await;
    assert_eq!((p["captured"].as_i64(), p["wallet_amount"].as_i64()), (Some(BURGER_PRICE - 500), Some(500)));
    let w = shop.payment_until(&wallet_pay, "captured", |p| p["state"] == "captured").await;
    assert_eq!(w["provider"], "wallet", "{w}");

    // Refunds into the wallet.
    let before = shop.balance().await;
    let (s, r) = shop.refund(&mixed_pay, 300, "wallet").await;
    assert_eq!((s, r["state"].as_str()), (StatusCode::CREATED, Some("succeeded")), "{r}");
    let (s, r) = shop.refund(&wallet_pay, BURGER_PRICE, "wallet").await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = shop.refund(&wallet_pay, 1, "wallet").await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    let (s, r) = shop.refund(&wallet_pay, 1, "card").await;
    assert_eq!(s, StatusCode::CONFLICT, "nothing of a wallet payment goes to a card: {r}");
    let after = shop.balance().await;
    assert_eq!(after, before + 300 + BURGER_PRICE);

    // Never below zero, movement by movement; the movements add up to the balance.
    let wallet = shop.get(&shop.customer, "/api/v1/me/wallet").await;
    let mut entries = wallet["entries"].as_array().unwrap().clone();
    entries.reverse();
    let mut running = 0;
    for e in &entries {
        running += e["amount"].as_i64().unwrap();
        assert!(running >= 0, "the wallet went to {running}: {wallet}");
    }
    assert_eq!(running, after, "{wallet}");
    shop.webhooks_answered().await;
    shop.assert_reconciled().await;
    shop.cloud.stop().await;
}

/// Reads the SQLite database's bytes (the file and its write-ahead log).
fn database_bytes(shop: &Shop) -> Vec<u8> {
    let mut bytes = std::fs::read(shop.cloud.dir.path().join("cloud.db")).unwrap();
    if let Ok(wal) = std::fs::read(shop.cloud.dir.path().join("cloud.db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A stored card: kept as the provider describes it (never its token in an answer), paid with
/// without the customer's client, removed (detached at the provider), and none of its token,
/// the provider's customer id or the billing name in the database file in the clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_card_is_kept_sealed_and_pays_alone() {
    let shop = Shop::start(Backend::Sqlite, "stripe").await;
    let token = shop.double.payment_method("visa", "4242", 8, 2031).await["stripe"].as_str().unwrap().to_owned();
    let billing = "Augusta Ada Lovelace";
    let body = json!({ "token": token, "billing_name": billing });
    let (s, m) = shop.call(Method::POST, &shop.customer, "/api/v1/me/payment-methods", Some(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!((m["brand"].as_str(), m["last4"].as_str()), (Some("visa"), Some("4242")), "{m}");
    assert_eq!((m["exp_month"].as_i64(), m["exp_year"].as_i64()), (Some(8), Some(2031)), "{m}");
    let listed = shop.get(&shop.customer, "/api/v1/me/payment-methods").await;
    for shown in [&m, &listed] {
        assert!(!shown.to_string().contains(&token), "the token shown: {shown}");
        assert!(!shown.to_string().contains(billing), "the billing name shown: {shown}");
    }
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let method = m["id"].as_str().unwrap().to_owned();

    // Paid with it: authorised by the provider with no confirmation by the customer.
    let confirms_before = shop.double.events().await.len();
    let order = shop.place("saved-1", json!({ "method": "saved", "method_id": method })).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let placed = shop.order_reaches(&id, "placed").await;
    assert_eq!(tender(&placed, "online").and_then(|t| t["amount"].as_i64()), Some(BURGER_PRICE), "{placed}");
    let pay = shop.order_payment(&id).await;
    assert_eq!((pay["state"].as_str(), pay["authorised"].as_i64()), (Some("authorised"), Some(BURGER_PRICE)), "{pay}");
    assert!(shop.double.events().await.len() > confirms_before);
    let customers: Vec<String> = shop
        .double
        .events()
        .await
        .iter()
        .filter(|e| e["type"] == "customer.created")
        .map(|e| {
            serde_json::from_str::<Value>(e["payload"].as_str().unwrap()).unwrap()["data"]["object"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(customers.len(), 1, "{customers:?}");
    let sealed = |shop: &Shop| {
        let bytes = database_bytes(shop);
        assert!(!holds(&bytes, &token), "the token in the clear in the database");
        assert!(!holds(&bytes, &customers[0]), "the provider's customer id in the clear in the database");
        assert!(!holds(&bytes, billing), "the billing name in the clear in the database");
        assert!(holds(&bytes, &method), "the check reads the database: our method id is there");
    };
    sealed(&shop);

    // Removed: detached at the provider, forgotten here.
    let (s, _) = shop.call(Method::DELETE, &shop.customer, &format!("/api/v1/me/payment-methods/{method}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let detached = shop.calls("POST", &format!("/v1/payment_methods/{token}/detach")).await;
    assert_eq!(detached.len(), 1, "{detached:?}");
    assert_eq!(shop.get(&shop.customer, "/api/v1/me/payment-methods").await, json!([]));
    let r = shop.order_as(&shop.customer, "saved-2", 1, json!({ "method": "saved", "method_id": method })).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let bytes = database_bytes(&shop);
    assert!(!holds(&bytes, &token) && !holds(&bytes, &customers[0]) && !holds(&bytes, billing));
    shop.cloud.stop().await;
}

/// Razorpay from order to refund through its webhooks; the checkout's signature handed over by
/// the customer's client is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn razorpay_order_to_refund() {
    let shop = Shop::start(Backend::Sqlite, "razorpay").await;
    let order = shop.place("rzp-1", json!({ "method": "card" })).await;
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "payment_pending");
    let p = shop.order_payment(&id).await;
    assert_eq!((p["provider"].as_str(), p["public_key"].as_str()), (Some("razorpay"), Some(RAZORPAY_KEY_ID)), "{p}");
    let reference = shop.reference(&id).await;
    assert!(reference.starts_with("order_"), "{reference}");
    let made: Value = shop
        .cloud
        .http
        .get(format!("{}/v1/orders/{reference}", shop.double.razorpay_base()))
        .basic_auth(RAZORPAY_KEY_ID, Some(RAZORPAY_KEY_SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((made["amount"].as_i64(), made["currency"].as_str()), (Some(BURGER_PRICE), Some("EUR")), "{made}");

    let confirmed = shop.double.confirm(&reference, "authorise").await;
    let checkout = |sig: &str| {
        json!({ "razorpay_order_id": confirmed["razorpay_order_id"], "razorpay_payment_id": confirmed["razorpay_payment_id"],
                "razorpay_signature": sig })
    };
    let good = confirmed["razorpay_signature"].as_str().unwrap();
    let bad = format!("{}{}", if good.starts_with('0') { "1" } else { "0" }, &good[1..]);
    let path = format!("/api/v1/orders/{id}/payment/razorpay");
    let (s, r) = shop.call(Method::POST, &shop.customer, &path, Some(&checkout(&bad))).await;
    assert_eq!((s, code(&r)), (StatusCode::BAD_REQUEST, "bad_signature"), "{r}");
    let (s, r) = shop.call(Method::POST, &shop.customer, &path, Some(&checkout(good))).await;
    assert_eq!(s, StatusCode::OK, "{r}");

    let placed = shop.order_reaches(&id, "placed").await;
    assert_eq!(tender(&placed, "online").and_then(|t| t["kind"]["online"]["provider"].as_str()), Some("razorpay"));
    let pay = p["id"].as_str().unwrap().to_owned();
    shop.outlet_moves(&id, "accepted").await;
    let captured = shop.payment_until(&pay, "captured", |p| p["state"] == "captured").await;
    assert_eq!(captured["captured"].as_i64(), Some(BURGER_PRICE));
    let razorpay_payment = confirmed["razorpay_payment_id"].as_str().unwrap();
    assert_eq!(shop.calls("POST", &format!("/v1/payments/{razorpay_payment}/capture")).await.len(), 1);
    let (s, r) = shop.refund(&pay, 300, "card").await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = shop.refund(&pay, BURGER_PRICE, "card").await;
    assert_eq!((s, code(&r)), (StatusCode::CONFLICT, "conflict"), "{r}");
    shop.payment_until(&pay, "refunded", |p| p["refunded"].as_i64() == Some(300) && p["refunding"] == 0).await;
    shop.webhooks_answered().await;
    shop.assert_reconciled().await;
    let events = shop.all_events().await;
    assert_eq!(Shop::payment_events(&events, &pay, "payment.authorised").len(), 1);
    assert_eq!(Shop::payment_events(&events, &pay, "payment.captured").len(), 1);
    shop.cloud.stop().await;
}

/// A stored card's payment whose create timed out (and whose webhooks are lost): the reconciler
/// finds the intent the provider made and authorised under the payment's key, asking as the
/// create asked, and the order goes to its outlet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_card_payment_that_timed_out_is_reconciled() {
    let shop = Shop::start_with(Backend::Sqlite, "stripe", |c| {
        c.payments.reconcile_secs = 1;
        c.payments.pending_secs = 1;
    })
    .await;
    let token = shop.double.payment_method("visa", "4242", 8, 2031).await["stripe"].as_str().unwrap().to_owned();
    let (s, m) =
        shop.call(Method::POST, &shop.customer, "/api/v1/me/payment-methods", Some(&json!({ "token": token }))).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    // Only the reconciler can tell: the provider's webhooks never arrive.
    shop.double.config(json!({ "stripe_webhook_url": "http://127.0.0.1:9/nobody" })).await;
    shop.double.faults(json!({ "timeout_next_create": true, "hang_ms": 4000 })).await;
    let order = shop.place("saved-slow", json!({ "method": "saved", "method_id": m["id"] })).await;
    assert_eq!(order["status"], "payment_pending", "{order}");
    let id = order["id"].as_str().unwrap();
    shop.order_reaches(id, "placed").await;
    let made = shop.double.events().await.into_iter().filter(|e| e["type"] == "payment_intent.created").count();
    assert_eq!(made, 1, "one intent at the provider");
    let creates = shop.calls("POST", "/v1/payment_intents").await;
    let again: Vec<&Value> = creates.iter().filter(|c| c["hung_ms"].is_null()).collect();
    assert!(!again.is_empty() && again.iter().all(|c| c["status"] == 200), "asked again as first asked: {creates:?}");
    shop.cloud.stop().await;
}
