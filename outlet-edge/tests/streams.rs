//! The live streams: the kitchen queue with bump and recall, and low-stock alerts; and items that
//! stock can no longer make going unavailable by themselves.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_kitchen_sees_orders_live_and_bumps_and_recalls_them() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let kitchen = edge.login(KITCHEN_PIN).await;
    let menu = edge.menu(&cashier).await;
    let early: Value = edge.order(&cashier, "k-0", &sized_order(&menu, "Fries", 1)).await.json().await.unwrap();

    let resp = edge.get(&kitchen, "/api/v1/kitchen/stream").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut stream = SseReader::new(resp);
    // The snapshot first: the order already waiting.
    let (name, first) = stream.next(WAIT).await;
    assert_eq!(name, "order");
    assert_eq!(first["order"]["id"], early["id"]);

    // A new order appears live.
    let o: Value = edge.order(&cashier, "k-1", &simple_order(&menu, "Classic Patty", 1)).await.json().await.unwrap();
    let id = o["id"].as_str().unwrap().to_owned();
    let seen = stream.until(WAIT, |_, d| d["order"]["id"] == id.as_str()).await;
    assert_eq!(seen["order"]["status"], "accepted");

    // Bump: ready, off the queue.
    let r = edge.post(&kitchen, &format!("/api/v1/kitchen/orders/{id}/bump"), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bumped = stream.until(WAIT, |_, d| d["order"]["id"] == id.as_str()).await;
    assert_eq!(bumped["order"]["status"], "ready");
    assert_eq!(bumped["recalled"], false);
    let queue = edge.get_json(&kitchen, "/api/v1/kitchen/queue").await;
    assert!(!queue.as_array().unwrap().iter().any(|t| t["order"]["id"] == id.as_str()));

    // Recall: back on screen, status unchanged; bump again clears it.
    let r = edge.post(&kitchen, &format!("/api/v1/kitchen/orders/{id}/recall"), &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let recalled = stream.until(WAIT, |_, d| d["order"]["id"] == id.as_str()).await;
    assert_eq!(recalled["recalled"], true);
    assert_eq!(recalled["order"]["status"], "ready");
    let queue = edge.get_json(&kitchen, "/api/v1/kitchen/queue").await;
    assert!(queue.as_array().unwrap().iter().any(|t| t["order"]["id"] == id.as_str() && t["recalled"] == true));
    assert_eq!(
        edge.post(&kitchen, &format!("/api/v1/kitchen/orders/{id}/recall"), &json!({})).await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        edge.post(&kitchen, &format!("/api/v1/kitchen/orders/{id}/bump"), &json!({})).await.status(),
        StatusCode::OK
    );
    let again = stream.until(WAIT, |_, d| d["order"]["id"] == id.as_str()).await;
    assert_eq!(again["recalled"], false);
    // A cashier cannot bump.
    assert_eq!(
        edge.post(&cashier, &format!("/api/v1/kitchen/orders/{id}/bump"), &json!({})).await.status(),
        StatusCode::FORBIDDEN
    );
    // The stream ends when the server stops, so shutdown is not held up by it.
    edge.stop().await;
}

#[tokio::test]
async fn low_stock_raises_an_alert_live_and_an_item_stock_cannot_make_goes_unavailable() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let manager = edge.login(MANAGER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let pie = item(&menu, "Apple Pie");
    let pie_ing = pie["recipe"][0]["ingredient_id"].as_str().unwrap().to_owned();
    // 60 pies in stock, reorder level 10.
    let mut stream = SseReader::new(edge.get(&manager, "/api/v1/inventory/alerts/stream").await);

    // Waste 45: 15 left, above the level, no alert. Sell 6: 9 left, an alert.
    let r = edge
        .post(
            &cashier,
            "/api/v1/inventory/waste",
            &json!({ "ingredient_id": pie_ing, "quantity": 45, "note": "freezer failed" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["level"]["on_hand"], 15);
    let r = edge.order(&cashier, "pie-1", &simple_order(&menu, "Apple Pie", 6)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let alert = stream.until(WAIT, |n, d| n == "stock_alert" && d["alert"]["ingredient_id"] == pie_ing.as_str()).await;
    assert_eq!(alert["alert"]["on_hand"], 9);
    assert!(alert["alert"]["cleared_ms"].is_null());
    let open = edge.get_json(&manager, "/api/v1/inventory/alerts").await;
    assert_eq!(open.as_array().unwrap().len(), 1);

    // More than stock holds is refused, and nothing moves.
    let r = edge.order(&cashier, "pie-2", &simple_order(&menu, "Apple Pie", 10)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unavailable");
    // Sell the last 9: the item is now unavailable by itself.
    assert_eq!(edge.order(&cashier, "pie-3", &simple_order(&menu, "Apple Pie", 9)).await.status(), StatusCode::CREATED);
    let now = edge.menu(&cashier).await;
    assert_eq!(item(&now, "Apple Pie")["out_of_stock"], true);
    assert_eq!(item(&now, "Apple Pie")["available"], false);
    assert_eq!(item(&now, "Sundae")["available"], true);
    let r = edge.order(&cashier, "pie-4", &simple_order(&menu, "Apple Pie", 1)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // A delivery: back on sale, alert cleared live.
    let r = edge
        .post(
            &cashier,
            "/api/v1/inventory/receive",
            &json!({ "ingredient_id": pie_ing, "quantity": 40, "note": "supplier" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cleared = stream.until(WAIT, |n, d| n == "stock_alert" && !d["alert"]["cleared_ms"].is_null()).await;
    assert_eq!(cleared["alert"]["on_hand"], 40);
    assert_eq!(item(&edge.menu(&cashier).await, "Apple Pie")["available"], true);
    assert!(edge.get_json(&manager, "/api/v1/inventory/alerts").await.as_array().unwrap().is_empty());

    // A count is a manager's correction, audited; a cashier may not.
    let count = json!({ "ingredient_id": pie_ing, "quantity": 38, "note": "evening count" });
    assert_eq!(edge.post(&cashier, "/api/v1/inventory/count", &count).await.status(), StatusCode::FORBIDDEN);
    let r = edge.post(&manager, "/api/v1/inventory/count", &count).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["movement"]["delta"], -2);
    assert_eq!(body["level"]["on_hand"], 38);
    let audit = edge.get_json(&manager, "/api/v1/audit").await;
    assert_eq!(audit[0]["action"], "stock_correction");
    let moves = edge.get_json(&manager, &format!("/api/v1/inventory/movements?ingredient_id={pie_ing}")).await;
    let kinds: Vec<&str> = moves.as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["count", "receive", "sale", "sale", "waste", "receive"]);
    edge.stop().await;
}

#[tokio::test]
async fn sold_out_marks_are_local_and_block_sales() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let id = item(&menu, "Onion Rings")["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/menu/items/{id}/sold-out");
    let r =
        edge.http.put(edge.url(&path)).bearer_auth(&cashier).json(&json!({ "sold_out": true })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["available"], false);
    let r = edge.order(&cashier, "so-1", &simple_order(&menu, "Onion Rings", 1)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("sold out"));
    let r =
        edge.http.put(edge.url(&path)).bearer_auth(&cashier).json(&json!({ "sold_out": false })).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["available"], true);
    assert_eq!(
        edge.order(&cashier, "so-2", &simple_order(&menu, "Onion Rings", 1)).await.status(),
        StatusCode::CREATED
    );
    edge.stop().await;
}
