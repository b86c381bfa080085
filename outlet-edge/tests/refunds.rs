//! Refunds at the till with no cloud: money taken at the till goes back at once, money taken
//! online becomes a queued refund request (the order unchanged until the provider settled it),
//! and a refund out of range is refused and writes nothing.

mod common;

use common::{CASHIER_PIN, MANAGER_PIN, simple_order};
use patty_edge::sync::apply_frames;
use patty_protocol::change::{DownFrame, DownV1};
use patty_protocol::ids::{OrderId, TenderId};
use patty_protocol::order::Order;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A token for `pin` at `base`.
async fn token(http: &reqwest::Client, base: &str, pin: &str) -> String {
    patty_tests::fixtures::pin_session(http, base, pin).await
}

/// `method` `path` with `token` and an optional body: the status and the JSON answer.
async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = http.request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b).header("idempotency-key", uuid::Uuid::new_v4().to_string());
    }
    let r = r.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_payment_is_refunded_through_a_request_and_a_till_payment_at_once() {
    use reqwest::Method;
    let (state, base, _dir) = common::in_process().await;
    let http = reqwest::Client::new();
    let (cashier, manager) = (token(&http, &base, CASHIER_PIN).await, token(&http, &base, MANAGER_PIN).await);
    let (_, menu) = call(&http, &base, &cashier, Method::GET, "/api/v1/menu", None).await;

    // An online order, paid online in full, arrives from the cloud.
    let (s, taken) =
        call(&http, &base, &cashier, Method::POST, "/api/v1/orders", Some(simple_order(&menu, "Classic Patty", 2)))
            .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut online = taken.clone();
    let id = OrderId::new();
    let total = taken["total"].as_i64().unwrap();
    online["id"] = json!(id);
    online["channel"] = json!("online");
    online["status"] = json!("placed");
    online["customer_id"] = json!("customer-1");
    online["paid"] = json!(total);
    online["tenders"] = json!([{ "id": TenderId::new(), "amount": total, "staff_id": null, "at_ms": 1,
        "kind": { "online": { "provider": "test", "payment_id": "pay_1" } } }]);
    let online: Order = serde_json::from_value(online).unwrap();
    let msg = DownV1::OnlineOrder { order: Box::new(online) };
    apply_frames(&state, vec![DownFrame { position: 1, msg }]).await.unwrap();
    let refunds = format!("/api/v1/orders/{id}/refunds");
    let listed = format!("/api/v1/refund-requests?order_id={id}");

    // Not taken on yet: its payment is released by a void, not refunded.
    let (s, e) =
        call(&http, &base, &manager, Method::POST, &refunds, Some(json!({ "amount": 100, "reason": "cold" }))).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{e}");
    let (s, _) = call(
        &http,
        &base,
        &cashier,
        Method::POST,
        &format!("/api/v1/orders/{id}/status"),
        Some(json!({ "status": "accepted" })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // A manager's, with a reason, positive and at most what was paid online: else nothing is written.
    let audit_before =
        call(&http, &base, &manager, Method::GET, "/api/v1/audit", None).await.1.as_array().unwrap().len();
    let (s, _) =
        call(&http, &base, &cashier, Method::POST, &refunds, Some(json!({ "amount": 100, "reason": "cold" }))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (amount, reason) in [(0, "cold"), (-5, "cold"), (total + 1, "cold"), (100, "  ")] {
        let (s, e) =
            call(&http, &base, &manager, Method::POST, &refunds, Some(json!({ "amount": amount, "reason": reason })))
                .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")),
            "{amount} {reason:?}: {e}"
        );
    }
    assert_eq!(call(&http, &base, &manager, Method::GET, &listed, None).await.1, json!([]));
    let audit_after =
        call(&http, &base, &manager, Method::GET, "/api/v1/audit", None).await.1.as_array().unwrap().len();
    assert_eq!(audit_before, audit_after, "a refused refund is not audited");

    // A part of it: a queued request, the order as it was (no tender until the provider settles).
    let (s, pending) =
        call(&http, &base, &manager, Method::POST, &refunds, Some(json!({ "amount": 300, "reason": "cold fries" })))
            .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{pending}");
    assert_eq!(pending["order"]["paid"], total);
    assert_eq!(pending["order"]["tenders"].as_array().unwrap().len(), 1);
    let request = &pending["requests"][0];
    assert_eq!(pending["requests"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            request["state"].as_str(),
            request["amount"].as_i64(),
            request["payment_id"].as_str(),
            request["destination"].as_str()
        ),
        (Some("queued"), Some(300), Some("pay_1"), Some("card"))
    );
    let (_, list) = call(&http, &base, &cashier, Method::GET, &listed, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], request["id"]);
    let (_, audit) = call(&http, &base, &manager, Method::GET, "/api/v1/audit", None).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "refund_request" && a["target"] == id.to_string().as_str()),
        "{audit}"
    );

    // What is asked counts against what is left, queued or not.
    let (s, e) =
        call(&http, &base, &manager, Method::POST, &refunds, Some(json!({ "amount": total - 299, "reason": "more" })))
            .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["message"].as_str().unwrap().contains(&format!("({})", total - 300)), "{e}");
    let (s, _) = call(
        &http,
        &base,
        &manager,
        Method::POST,
        &refunds,
        Some(json!({ "amount": total - 300, "reason": "all of it" })),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, order) = call(&http, &base, &cashier, Method::GET, &format!("/api/v1/orders/{id}"), None).await;
    assert_eq!(order["paid"], total, "nothing went back at the till");

    // Money taken at the till still goes back at the till.
    let cash_id = taken["id"].as_str().unwrap();
    let (s, _) = call(
        &http,
        &base,
        &cashier,
        Method::POST,
        &format!("/api/v1/orders/{cash_id}/tenders"),
        Some(json!({ "method": "cash", "tendered": total })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, o) = call(
        &http,
        &base,
        &manager,
        Method::POST,
        &format!("/api/v1/orders/{cash_id}/refunds"),
        Some(json!({ "amount": 200, "reason": "cold" })),
    )
    .await;
    assert_eq!((s, o["paid"].as_i64()), (StatusCode::CREATED, Some(total - 200)), "{o}");
}
