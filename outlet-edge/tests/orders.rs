//! Orders against a real edge: pricing, idempotency, edits, the state machine, cancel and void,
//! tenders, refunds, discounts, search, receipts and the end-of-day report.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn an_order_is_priced_by_the_edge_and_decrements_stock() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let cheese = item(&menu, "Cheese Palace");
    let fries = item(&menu, "Fries");
    let large = fries["variants"].as_array().unwrap().iter().find(|v| v["name"] == "Large").unwrap()["id"].clone();
    let before: Value = edge.get_json(&cashier, "/api/v1/inventory").await;
    let patties = |levels: &Value| {
        levels.as_array().unwrap().iter().find(|l| l["ingredient"]["name"] == "Beef patty").unwrap()["on_hand"]
            .as_i64()
            .unwrap()
    };

    let body = json!({
        "channel": "counter", "fulfilment": "dine_in", "notes": "table 4",
        "lines": [
            { "item_id": cheese["id"], "quantity": 2, "modifiers": [{ "modifier_id": modifier(cheese, "Extra cheese"), "quantity": 2 }], "notes": "well done" },
            { "item_id": fries["id"], "variant_id": large, "quantity": 1 }
        ]
    });
    let r = edge.order(&cashier, "order-1", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    // 890 + 2 x 80 = 1050 a burger, x2 = 2100; large fries 290 + 100 = 390.
    assert_eq!(order["lines"][0]["unit_price"], 1050);
    assert_eq!(order["lines"][0]["line_total"], 2100);
    assert_eq!(order["lines"][1]["unit_price"], 390);
    assert_eq!(order["subtotal"], 2490);
    assert_eq!(order["total"], 2490, "sample prices include tax");
    assert_eq!(order["tax"], 415, "20% included: 2490 * 20 / 120 = 415");
    assert_eq!(order["status"], "accepted");
    assert_eq!(order["number"], 1);

    let after: Value = edge.get_json(&cashier, "/api/v1/inventory").await;
    assert_eq!(patties(&before) - patties(&after), 2);
    edge.stop().await;
}

#[tokio::test]
async fn a_retried_order_returns_the_first_result_and_never_a_second_order() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let body = simple_order(&menu, "Classic Patty", 1);
    let first = edge.order(&cashier, "tap-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    // A double tap: both requests at once, and one more afterwards.
    let (a, b) = tokio::join!(edge.order(&cashier, "tap-1", &body), edge.order(&cashier, "tap-1", &body));
    for r in [a, b] {
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert_eq!(r.json::<Value>().await.unwrap()["id"], first["id"]);
    }
    assert_eq!(edge.order_count(&cashier).await, 1);
    // The same key with another body is a client bug: refused, nothing written.
    let other = simple_order(&menu, "Classic Patty", 2);
    let r = edge.order(&cashier, "tap-1", &other).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "conflict");
    assert_eq!(edge.order_count(&cashier).await, 1);
    edge.stop().await;
}

#[tokio::test]
async fn concurrent_terminals_lose_no_update() {
    let edge = Edge::start().await;
    let menu = {
        let t = edge.login(CASHIER_PIN).await;
        edge.menu(&t).await
    };
    let mut tasks = Vec::new();
    for terminal in 0..8 {
        let token = edge.login(CASHIER_PIN).await;
        let http = edge.http.clone();
        let url = edge.url("/api/v1/orders");
        let body = simple_order(&menu, "Water", 1);
        tasks.push(tokio::spawn(async move {
            for n in 0..10 {
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("idempotency-key", format!("t{terminal}-{n}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let manager = edge.login(MANAGER_PIN).await;
    let levels = edge.get_json(&manager, "/api/v1/inventory").await;
    let water = levels.as_array().unwrap().iter().find(|l| l["ingredient"]["name"] == "Water bottle").unwrap();
    assert_eq!(water["on_hand"], 120 - 80, "every sale decremented stock exactly once");
    let orders = edge.get_json(&manager, "/api/v1/orders?limit=500").await;
    let mut numbers: Vec<i64> = orders.as_array().unwrap().iter().map(|o| o["number"].as_i64().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=80).collect::<Vec<_>>(), "order numbers are unique and dense");
    edge.change_count(&manager).await; // asserts the log is gap-free
    edge.stop().await;
}

#[tokio::test]
async fn status_moves_follow_the_state_machine() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let kitchen = edge.login(KITCHEN_PIN).await;
    let menu = edge.menu(&cashier).await;
    let order: Value =
        edge.order(&cashier, "sm-1", &simple_order(&menu, "Classic Patty", 1)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let status = |s: &str| json!({ "status": s });
    let path = format!("/api/v1/orders/{id}/status");

    // Completing an order the kitchen has not made is refused with 409.
    let r = edge.post(&cashier, &path, &status("completed")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "conflict");
    // A takeaway never goes out for delivery, and has no delivery to ask the cloud for.
    assert_eq!(edge.post(&cashier, &path, &status("out_for_delivery")).await.status(), StatusCode::CONFLICT);
    let r = edge.get(&cashier, &format!("/api/v1/orders/{id}/delivery")).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // A cashier may not start preparation; the kitchen may.
    assert_eq!(edge.post(&cashier, &path, &status("preparing")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(edge.post(&kitchen, &path, &status("preparing")).await.status(), StatusCode::OK);
    // No going back, and no edits once preparation started.
    let manager = edge.login(MANAGER_PIN).await;
    assert_eq!(edge.post(&manager, &path, &status("accepted")).await.status(), StatusCode::CONFLICT);
    let edit = json!({ "lines": [{ "item_id": item(&menu, "Water")["id"], "quantity": 1 }] });
    let r = edge
        .http
        .put(edge.url(&format!("/api/v1/orders/{id}/lines")))
        .bearer_auth(&cashier)
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // Cancel is for orders not yet in preparation.
    let r = edge.post(&cashier, &format!("/api/v1/orders/{id}/cancel"), &json!({ "reason": "changed mind" })).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(edge.post(&kitchen, &path, &status("ready")).await.status(), StatusCode::OK);
    let done = edge.post(&cashier, &path, &status("completed")).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(done.json::<Value>().await.unwrap()["status"], "completed");
    // Final is final, even for a manager's void.
    assert_eq!(
        edge.post(&manager, &format!("/api/v1/orders/{id}/void"), &json!({ "reason": "x" })).await.status(),
        StatusCode::CONFLICT
    );
    edge.stop().await;
}

#[tokio::test]
async fn edit_cancel_and_void_adjust_stock_and_are_recorded() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let manager = edge.login(MANAGER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let on_hand = |levels: Value, name: &str| {
        levels.as_array().unwrap().iter().find(|l| l["ingredient"]["name"] == name).unwrap()["on_hand"]
            .as_i64()
            .unwrap()
    };
    let start = on_hand(edge.get_json(&cashier, "/api/v1/inventory").await, "Beef patty");

    let order: Value = edge.order(&cashier, "e-1", &simple_order(&menu, "Double Royal", 1)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(on_hand(edge.get_json(&cashier, "/api/v1/inventory").await, "Beef patty"), start - 2);
    // Edit: now a Classic (one patty) x3.
    let edit = json!({ "lines": [{ "item_id": item(&menu, "Classic Patty")["id"], "quantity": 3 }] });
    let r = edge
        .http
        .put(edge.url(&format!("/api/v1/orders/{id}/lines")))
        .bearer_auth(&cashier)
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["total"], 3 * 790);
    assert_eq!(on_hand(edge.get_json(&cashier, "/api/v1/inventory").await, "Beef patty"), start - 3);
    // Cancel: reason required, stock back.
    let r = edge.post(&cashier, &format!("/api/v1/orders/{id}/cancel"), &json!({ "reason": " " })).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = edge.post(&cashier, &format!("/api/v1/orders/{id}/cancel"), &json!({ "reason": "customer left" })).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cancelled: Value = r.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["closed_reason"], "customer left");
    assert_eq!(on_hand(edge.get_json(&cashier, "/api/v1/inventory").await, "Beef patty"), start);

    // Void is a manager's, audited, and keeps stock used once preparation started.
    let kitchen = edge.login(KITCHEN_PIN).await;
    let o2: Value = edge.order(&cashier, "e-2", &simple_order(&menu, "Classic Patty", 1)).await.json().await.unwrap();
    let id2 = o2["id"].as_str().unwrap();
    edge.post(&kitchen, &format!("/api/v1/orders/{id2}/status"), &json!({ "status": "preparing" })).await;
    let r = edge.post(&cashier, &format!("/api/v1/orders/{id2}/void"), &json!({ "reason": "dropped" })).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r =
        edge.post(&manager, &format!("/api/v1/orders/{id2}/void"), &json!({ "reason": "dropped on the floor" })).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(on_hand(edge.get_json(&cashier, "/api/v1/inventory").await, "Beef patty"), start - 1);
    let audit = edge.get_json(&manager, "/api/v1/audit").await;
    assert!(audit.as_array().unwrap().iter().any(|a| a["action"] == "void" && a["target"] == id2));
    edge.stop().await;
}

#[tokio::test]
async fn tenders_cash_with_change_card_and_split() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let order: Value = edge.order(&cashier, "t-1", &simple_order(&menu, "Double Royal", 2)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["total"], 2380);
    let path = format!("/api/v1/orders/{id}/tenders");

    // Split: 1000 on a card, the rest in cash with change.
    let too_much = edge.post(&cashier, &path, &json!({ "method": "card", "amount": 5000, "reference": "T1" })).await;
    assert_eq!(too_much.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let card = edge
        .post(
            &cashier,
            &path,
            &json!({ "method": "card", "amount": 1000, "reference": "AUTH-778", "brand": "Visa", "last4": "4242" }),
        )
        .await;
    assert_eq!(card.status(), StatusCode::CREATED);
    assert_eq!(card.json::<Value>().await.unwrap()["paid"], 1000);
    let cash = edge.post(&cashier, &path, &json!({ "method": "cash", "tendered": 2000 })).await;
    assert_eq!(cash.status(), StatusCode::CREATED);
    let paid: Value = cash.json().await.unwrap();
    assert_eq!(paid["paid"], 2380);
    assert_eq!(paid["tenders"][1]["kind"]["cash"]["change"], 620);
    // Paid in full: no more tenders.
    let r = edge.post(&cashier, &path, &json!({ "method": "cash", "tendered": 100 })).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // The receipt shows it all.
    let receipt = edge.get_json(&cashier, &format!("/api/v1/orders/{id}/receipt")).await;
    let text = receipt["text"].as_str().unwrap();
    for needle in ["2 x Double Royal", "23.80", "Visa ****4242", "Change", "6.20", "Tax included (20.00%)"] {
        assert!(text.contains(needle), "receipt lacks {needle}:\n{text}");
    }

    // A refund is a manager's, at most what was paid, and audited.
    let manager = edge.login(MANAGER_PIN).await;
    let refunds = format!("/api/v1/orders/{id}/refunds");
    assert_eq!(
        edge.post(&cashier, &refunds, &json!({ "amount": 500, "reason": "cold" })).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        edge.post(&manager, &refunds, &json!({ "amount": 9999, "reason": "cold" })).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = edge.post(&manager, &refunds, &json!({ "amount": 500, "reason": "cold fries" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["paid"], 1880);
    edge.stop().await;
}

#[tokio::test]
async fn discounts_and_price_overrides_are_managers_and_audited() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let manager = edge.login(MANAGER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let mut body = simple_order(&menu, "Classic Patty", 1);
    body["lines"][0]["price_override"] = json!({ "unit_price": 100, "reason": "staff meal" });
    let r = edge.order(&cashier, "p-1", &body).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden");
    let r = edge.order(&manager, "p-2", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["total"], 100);
    assert_eq!(o["lines"][0]["price_override"]["menu_unit_price"], 790);

    let o2: Value = edge.order(&cashier, "p-3", &simple_order(&menu, "Classic Patty", 2)).await.json().await.unwrap();
    let path = format!("/api/v1/orders/{}/discounts", o2["id"].as_str().unwrap());
    assert_eq!(
        edge.post(&cashier, &path, &json!({ "percent_bp": 1000, "reason": "loyal" })).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = edge.post(&manager, &path, &json!({ "percent_bp": 1000, "reason": "complaint" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["total"], 1580 - 158);
    let audit = edge.get_json(&manager, "/api/v1/audit").await;
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"price_override") && actions.contains(&"discount"), "{actions:?}");
    edge.stop().await;
}

#[tokio::test]
async fn search_by_status_and_time_and_the_end_of_day_report() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let kitchen = edge.login(KITCHEN_PIN).await;
    let manager = edge.login(MANAGER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let mut ids = vec![];
    for n in 0..3 {
        let o: Value =
            edge.order(&cashier, &format!("s-{n}"), &sized_order(&menu, "Cola", 1)).await.json().await.unwrap();
        ids.push(o["id"].as_str().unwrap().to_owned());
    }
    edge.post(&kitchen, &format!("/api/v1/kitchen/orders/{}/bump", ids[0]), &json!({})).await;
    edge.post(&cashier, &format!("/api/v1/orders/{}/tenders", ids[0]), &json!({ "method": "cash", "tendered": 500 }))
        .await;
    edge.post(&manager, &format!("/api/v1/orders/{}/void", ids[1]), &json!({ "reason": "test" })).await;

    let ready = edge.get_json(&cashier, "/api/v1/orders?status=ready").await;
    assert_eq!(ready.as_array().unwrap().len(), 1);
    assert_eq!(ready[0]["id"], ids[0]);
    let future = edge.get_json(&cashier, "/api/v1/orders?from=2999-01-01T00:00:00Z").await;
    assert!(future.as_array().unwrap().is_empty());
    let r = edge.get(&cashier, "/api/v1/orders?from=yesterday").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    assert_eq!(edge.get(&cashier, "/api/v1/reports/day").await.status(), StatusCode::FORBIDDEN);
    let report = edge.get_json(&manager, "/api/v1/reports/day").await;
    assert_eq!(report["orders"], 2);
    assert_eq!(report["net_sales"], 500);
    assert_eq!(report["voids"]["count"], 1);
    assert_eq!(report["by_item"][0]["name"], "Cola");
    assert_eq!(report["by_item"][0]["quantity"], 2);
    assert_eq!(report["by_tender"]["cash"]["amount"], 250);
    assert_eq!(report["by_hour"].as_array().unwrap().iter().map(|h| h["orders"].as_i64().unwrap()).sum::<i64>(), 2);
    edge.stop().await;
}

#[tokio::test]
async fn staff_sessions_expire_and_roles_are_enforced() {
    let edge = Edge::start_with(|c| c.session.idle_secs = 1).await;
    let manager = edge.login(MANAGER_PIN).await;
    // Adding staff: manager only, PIN unique, shaped.
    let r = edge.post(&manager, "/api/v1/staff", &json!({ "name": "Nia", "role": "cashier", "pin": "1111" })).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = edge.post(&manager, "/api/v1/staff", &json!({ "name": "Nia", "role": "cashier", "pin": "12" })).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = edge.post(&manager, "/api/v1/staff", &json!({ "name": "Nia", "role": "cashier", "pin": "5555" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let nia = edge.login("5555").await;
    assert_eq!(edge.get(&nia, "/api/v1/staff").await.status(), StatusCode::FORBIDDEN);
    // An idle session expires.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let r = edge.get(&nia, "/api/v1/sessions/current").await;
        if r.status() == StatusCode::UNAUTHORIZED {
            assert_eq!(r.json::<Value>().await.unwrap()["code"], "unauthorized");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "session never expired");
    }
    // Wrong PINs lock this terminal after five tries (tests/pins.rs has the rest).
    for _ in 0..5 {
        let r = edge.http.post(edge.url("/api/v1/sessions")).json(&json!({ "pin": "9999" })).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = edge.http.post(edge.url("/api/v1/sessions")).json(&json!({ "pin": "1234" })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    edge.stop().await;
}

#[tokio::test]
async fn the_change_log_records_every_write_gap_free() {
    let edge = Edge::start().await;
    let manager = edge.login(MANAGER_PIN).await;
    let menu = edge.menu(&manager).await;
    let before = edge.change_count(&manager).await;
    assert!(before > 0, "seeding is logged too");
    let o: Value = edge.order(&manager, "c-1", &simple_order(&menu, "Apple Pie", 1)).await.json().await.unwrap();
    let after = edge.change_count(&manager).await;
    // The order itself and one stock movement for its one ingredient.
    assert_eq!(after - before, 2);
    let entries = edge.get_json(&manager, &format!("/api/v1/changes?after={before}")).await;
    assert_eq!(entries[0]["change"]["order_upserted"]["order"]["id"], o["id"]);
    assert!(entries[1]["change"]["stock_moved"]["movement"]["delta"].as_i64().unwrap() < 0);
    let h0 = entries[0]["hlc"].as_u64().unwrap();
    let h1 = entries[1]["hlc"].as_u64().unwrap();
    assert!(h1 > h0, "HLC stamps increase along the log");
    assert_eq!(entries[0]["origin"], edge.get_json(&manager, "/healthz").await["outlet_id"]);
    edge.stop().await;
}

#[tokio::test]
async fn a_phone_order_for_delivery_carries_its_address_and_fee() {
    let edge = Edge::start_with(|c| c.outlet.delivery_fee = 299).await;
    let cashier = edge.login(CASHIER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let mut body = simple_order(&menu, "Classic Patty", 1);
    body["channel"] = json!("phone");
    body["fulfilment"] = json!("delivery");
    body["notes"] = json!("ring twice");
    body["delivery_address"] = json!({ "line1": " Damrak 1 ", "city": "Amsterdam", "postcode": "1012 LG", "position": { "lat": 52.376, "lon": 4.896 } });
    let r = edge.order(&cashier, "phone-1", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["delivery_address"]["line1"], "Damrak 1", "trimmed: {order}");
    assert_eq!(order["delivery_fee"], 299);
    assert_eq!(order["total"].as_i64().unwrap(), order["subtotal"].as_i64().unwrap() + 299);
    // The fee is taxed with the food: tax included in a 20% menu is a sixth of the total.
    assert_eq!(order["tax"].as_i64().unwrap(), (order["total"].as_i64().unwrap() * 2000 + 6000) / 12000);
    let receipt = edge.get_json(&cashier, &format!("/api/v1/orders/{}/receipt", order["id"].as_str().unwrap())).await;
    let text = receipt["text"].as_str().unwrap();
    assert!(text.contains("Deliver to Damrak 1, 1012 LG Amsterdam") && text.contains("Delivery"), "{text}");
    // With no cloud link, nothing dispatches it: the till is told so.
    let r = edge.get(&cashier, &format!("/api/v1/orders/{}/delivery", order["id"].as_str().unwrap())).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unavailable");
    edge.stop().await;
}
