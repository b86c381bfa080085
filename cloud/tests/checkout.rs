//! Checkout end to end: a real cloud whose payments go to the providers' double
//! (`tests/payments-double`, Stripe and Razorpay on loopback), driven through the HTTP API as the
//! customer, the outlet and HQ would, the double playing the customer's confirmation and sending
//! the providers' signed webhooks to the cloud. Each story starts its own cloud and double.

mod common;
#[path = "checkout/faults.rs"]
mod faults;
#[path = "checkout/money.rs"]
mod money;
#[path = "checkout/shop.rs"]
mod shop;

use common::*;
use money::wallet_pays_and_is_refunded;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop::*;

/// Stripe from order to refunds: the order waits for its payment away from the outlet, the
/// signed webhook sends it there with an online tender for the amount the cloud computed, the
/// outlet's accept captures it once, refunds never exceed what is left (concurrent ones
/// included), and the ledger balances.
async fn stripe_order_to_refunds(backend: Backend) {
    let shop = Shop::start(backend, "stripe").await;
    let order = shop.place("card-1", json!({ "method": "card" })).await;
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "payment_pending", "{order}");
    let total = order["total"].as_i64().unwrap();
    assert_eq!(total, BURGER_PRICE);
    let placed_path = format!("/api/v1/outlets/{OUTLET}/orders?status=placed");
    let waiting = shop.get(&shop.staff, &placed_path).await;
    assert!(waiting.as_array().unwrap().iter().all(|o| o["id"] != id.as_str()), "unpaid at the outlet: {waiting}");
    let all_path = format!("/api/v1/outlets/{OUTLET}/orders");
    let everything = shop.get(&shop.staff, &all_path).await;
    assert!(
        everything.as_array().unwrap().iter().all(|o| o["id"] != id.as_str()),
        "unpaid at the outlet: {everything}"
    );
    let pending = shop.get(&shop.staff, &format!("/api/v1/outlets/{OUTLET}/orders?status=payment_pending")).await;
    assert!(pending.as_array().unwrap().iter().any(|o| o["id"] == id.as_str()), "asked for, it is listed: {pending}");

    // The customer's client gets what it needs to confirm; the intent is for the cloud's total.
    let p = shop.order_payment(&id).await;
    assert_eq!((p["state"].as_str(), p["amount"].as_i64()), (Some("open"), Some(total)), "{p}");
    assert_eq!(p["public_key"], PUBLISHABLE_KEY);
    let reference = shop.reference(&id).await;
    let made = shop.webhooks("payment_intent.created", &reference).await;
    assert_eq!(made.len(), 1, "one intent: {made:?}");
    let intent: Value = serde_json::from_str(made[0]["payload"].as_str().unwrap()).unwrap();
    let intent = &intent["data"]["object"];
    assert_eq!((intent["amount"].as_i64(), intent["currency"].as_str()), (Some(total), Some("eur")), "{intent}");
    assert_eq!(intent["capture_method"], "manual");
    let pay = p["id"].as_str().unwrap().to_owned();

    shop.double.confirm(&reference, "authorise").await;
    let placed = shop.order_reaches(&id, "placed").await;
    assert_eq!(placed["paid"].as_i64(), Some(total), "{placed}");
    let online = tender(&placed, "online").unwrap_or_else(|| panic!("an online tender: {placed}"));
    assert_eq!(
        (online["amount"].as_i64(), online["kind"]["online"]["payment_id"].as_str()),
        (Some(total), Some(pay.as_str()))
    );
    assert_eq!(online["kind"]["online"]["provider"], "stripe");
    let listed = shop.get(&shop.staff, &placed_path).await;
    assert!(listed.as_array().unwrap().iter().any(|o| o["id"] == id.as_str()), "paid, at the outlet: {listed}");
    let authorised = shop.payment(&pay).await;
    assert_eq!((authorised["state"].as_str(), authorised["authorised"].as_i64()), (Some("authorised"), Some(total)));
    // The outlet heard of the order once, after the payment was authorised.
    let events = shop
        .events_until("the order placed", |all| {
            all.iter().any(|e| e["kind"] == "order.placed" && e["key"] == id.as_str())
        })
        .await;
    let placed_events: Vec<&Value> =
        events.iter().filter(|e| e["kind"] == "order.placed" && e["key"] == id.as_str()).collect();
    let auth_events = Shop::payment_events(&events, &pay, "payment.authorised");
    assert_eq!((placed_events.len(), auth_events.len()), (1, 1), "{events:#?}");
    assert!(placed_events[0]["position"].as_i64() > auth_events[0]["position"].as_i64());

    // Accepted: captured once at the double, under an idempotency key.
    shop.outlet_moves(&id, "accepted").await;
    let captured = shop.payment_until(&pay, "captured", |p| p["state"] == "captured").await;
    assert_eq!(captured["captured"].as_i64(), Some(total));
    let captures = shop.calls("POST", &format!("/v1/payment_intents/{reference}/capture")).await;
    assert_eq!(captures.len(), 1, "{captures:?}");
    assert!(captures[0]["idempotency_key"].as_str().is_some_and(|k| k.contains(&pay)), "{captures:?}");
    assert_eq!(shop.intent(&reference).await["amount_received"].as_i64(), Some(total));

    // A partial refund, then the rest; then nothing is left.
    let (s, r) = shop.refund(&pay, 300, "card").await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = shop.refund(&pay, total - 300, "card").await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = shop.refund(&pay, 1, "card").await;
    assert_eq!((s, code(&r)), (StatusCode::CONFLICT, "conflict"), "{r}");
    let refunded = shop.payment_until(&pay, "refunded", |p| p["refunded"].as_i64() == Some(total)).await;
    assert_eq!(refunded["refunding"].as_i64(), Some(0), "{refunded}");
    assert!(refunded["refunds"].as_array().unwrap().iter().all(|r| r["state"] == "succeeded"), "{refunded}");

    // A second order: two refunds at once that together exceed what is left.
    let (_, pay2, reference2) = shop.captured_order("card-2").await;
    let (s, r) = shop.refund(&pay2, 200, "card").await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (a, b) = tokio::join!(shop.refund(&pay2, 400, "card"), shop.refund(&pay2, 400, "card"));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{a:?} {b:?}");
    let loser = if a.0 == StatusCode::CONFLICT { a.1 } else { b.1 };
    assert_eq!(code(&loser), "conflict", "{loser}");
    let (s, r) = shop.refund(&pay2, total - 600 + 1, "card").await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    let (s, r) = shop.refund(&pay2, total - 600, "card").await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    shop.payment_until(&pay2, "refunded", |p| p["refunded"].as_i64() == Some(total)).await;
    let refunds = shop.calls("POST", "/v1/refunds").await;
    assert_eq!(refunds.len(), 5, "one provider refund per refund granted: {refunds:?}");
    assert_eq!(shop.intent(&reference2).await["amount_received"].as_i64(), Some(total));

    shop.webhooks_answered().await;
    let rec = shop.assert_reconciled().await;
    let stripe = rec["providers"].as_array().unwrap().iter().find(|d| d["provider"] == "stripe").cloned();
    let stripe = stripe.unwrap_or_else(|| panic!("stripe's day: {rec}"));
    assert_eq!((stripe["captured"].as_i64(), stripe["ledger_captured"].as_i64()), (Some(2 * total), Some(2 * total)));
    assert_eq!((stripe["refunded"].as_i64(), stripe["ledger_refunded"].as_i64()), (Some(2 * total), Some(2 * total)));
    // Each payment event once.
    let events = shop.all_events().await;
    for p in [&pay, &pay2] {
        assert_eq!(Shop::payment_events(&events, p, "payment.authorised").len(), 1);
        assert_eq!(Shop::payment_events(&events, p, "payment.captured").len(), 1);
    }
    shop.cloud.stop().await;
}

/// A customer's cancel releases the authorisation at the provider (placed or still waiting);
/// a declined card cancels the order, which never reaches the outlet.
async fn cancel_releases_and_decline_cancels(backend: Backend) {
    let shop = Shop::start(backend, "stripe").await;
    let (order, pay, reference) = shop.paid_order("cancel-1").await;
    let id = order["id"].as_str().unwrap();
    let cancel = |id: String| {
        let shop = &shop;
        async move {
            let path = format!("/api/v1/orders/{id}/cancel");
            shop.cloud.json(shop.cloud.post(&shop.customer, &path, &json!({})).await, StatusCode::OK).await
        }
    };
    assert_eq!(cancel(id.to_owned()).await["status"], "cancelled");
    let p = shop.payment_until(&pay, "cancelled", |p| p["state"] == "cancelled").await;
    assert_eq!(p["captured"].as_i64(), Some(0), "{p}");
    let cancels = shop.calls("POST", &format!("/v1/payment_intents/{reference}/cancel")).await;
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert_eq!(shop.intent(&reference).await["status"], "canceled");
    assert!(shop.calls("POST", &format!("/v1/payment_intents/{reference}/capture")).await.is_empty());

    // Cancelled before the customer confirmed: the open intent is released too.
    let waiting = shop.place("cancel-2", json!({ "method": "card" })).await;
    let waiting_id = waiting["id"].as_str().unwrap().to_owned();
    let reference2 = shop.reference(&waiting_id).await;
    let pay2 = shop.order_payment(&waiting_id).await["id"].as_str().unwrap().to_owned();
    assert_eq!(cancel(waiting_id.clone()).await["status"], "cancelled");
    shop.payment_until(&pay2, "cancelled", |p| p["state"] == "cancelled").await;
    let until = tokio::time::Instant::now() + WAIT;
    while shop.intent(&reference2).await["status"] != "canceled" {
        assert!(tokio::time::Instant::now() < until, "the open intent {reference2} was not cancelled");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Declined: the order is cancelled and never placed.
    let declined = shop.place("decline-1", json!({ "method": "card" })).await;
    let declined_id = declined["id"].as_str().unwrap().to_owned();
    let reference3 = shop.reference(&declined_id).await;
    shop.double.confirm(&reference3, "decline").await;
    let cancelled = shop.order_reaches(&declined_id, "cancelled").await;
    assert_eq!(cancelled["paid"].as_i64(), Some(0), "{cancelled}");
    let pay3 = shop.order_payment(&declined_id).await;
    assert_eq!(pay3["state"], "failed", "{pay3}");
    let events = shop.all_events().await;
    for o in [&waiting_id, &declined_id] {
        assert!(
            !events.iter().any(|e| e["kind"] == "order.placed" && e["key"] == o.as_str()),
            "{o} reached the outlet"
        );
    }
    shop.webhooks_answered().await;
    shop.assert_reconciled().await;
    shop.cloud.stop().await;
}

on_both_backends!(stripe_order_to_refunds, cancel_releases_and_decline_cancels, wallet_pays_and_is_refunded);
