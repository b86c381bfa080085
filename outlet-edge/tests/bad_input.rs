//! Bad input of every class gets a 4xx with the JSON error body, and the database is left as it
//! was (the gap-free change log is the witness: every write appends to it). A property test
//! throws random bodies at the order endpoint without a 5xx or a panic.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode as AxStatus};
use common::*;
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn expect_error(resp: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(resp.status(), status, "status");
    let body: Value = resp.json().await.expect("a JSON error body");
    assert_eq!(body["code"], code, "code in {body}");
    assert!(!body["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn every_class_of_bad_order_is_refused_and_nothing_is_written() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let manager = edge.login(MANAGER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let classic = item(&menu, "Classic Patty");
    let nuggets = item(&menu, "Nuggets");
    let changes = edge.change_count(&manager).await;
    let url = edge.url("/api/v1/orders");
    let raw = |body: &'static str| {
        edge.http
            .post(&url)
            .bearer_auth(&cashier)
            .header("idempotency-key", "bad")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    // Malformed JSON.
    expect_error(raw("{\"channel\": ").await.unwrap(), StatusCode::BAD_REQUEST, "malformed_json").await;
    // Wrong types and unknown fields.
    expect_error(
        raw("{\"channel\":\"counter\",\"fulfilment\":\"takeaway\",\"lines\":\"many\"}").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let mut unknown_field = simple_order(&menu, "Classic Patty", 1);
    unknown_field["lines"][0]["unit_price"] = json!(1);
    expect_error(edge.order(&cashier, "bad-1", &unknown_field).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        .await;
    let mut total_given = simple_order(&menu, "Classic Patty", 1);
    total_given["total"] = json!(1);
    expect_error(edge.order(&cashier, "bad-2", &total_given).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        .await;
    // Not JSON at all.
    let r =
        edge.http.post(&url).bearer_auth(&cashier).header("idempotency-key", "x").body("lines=1").send().await.unwrap();
    expect_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    // Unknown item, variant, modifier.
    let bad_item = json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [{ "item_id": "01900000-0000-7000-8000-000000000000", "quantity": 1 }] });
    expect_error(edge.order(&cashier, "bad-3", &bad_item).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let mut bad_mod = simple_order(&menu, "Classic Patty", 1);
    bad_mod["lines"][0]["modifiers"] = json!([{ "modifier_id": modifier(nuggets, "BBQ") }]);
    expect_error(edge.order(&cashier, "bad-4", &bad_mod).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let no_size = simple_order(&menu, "Fries", 1);
    expect_error(edge.order(&cashier, "bad-5", &no_size).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // Modifier limits: too many of one, a required group left empty.
    let mut too_much_cheese = simple_order(&menu, "Classic Patty", 1);
    too_much_cheese["lines"][0]["modifiers"] =
        json!([{ "modifier_id": modifier(classic, "Extra cheese"), "quantity": 3 }]);
    expect_error(edge.order(&cashier, "bad-6", &too_much_cheese).await, StatusCode::UNPROCESSABLE_ENTITY, "validation")
        .await;
    expect_error(
        edge.order(&cashier, "bad-7", &simple_order(&menu, "Nuggets", 1)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    // Quantities of zero or below.
    expect_error(
        edge.order(&cashier, "bad-8", &simple_order(&menu, "Classic Patty", 0)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    let mut negative = simple_order(&menu, "Classic Patty", 1);
    negative["lines"][0]["quantity"] = json!(-2);
    expect_error(edge.order(&cashier, "bad-9", &negative).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        .await;
    let empty = json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [] });
    expect_error(edge.order(&cashier, "bad-10", &empty).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // A price where none may be given (a cashier's override).
    let mut priced = simple_order(&menu, "Classic Patty", 1);
    priced["lines"][0]["price_override"] = json!({ "unit_price": 1, "reason": "friend" });
    expect_error(edge.order(&cashier, "bad-11", &priced).await, StatusCode::FORBIDDEN, "forbidden").await;
    // An oversized body.
    let mut huge = simple_order(&menu, "Classic Patty", 1);
    huge["notes"] = json!("x".repeat(100 * 1024));
    expect_error(edge.order(&cashier, "bad-12", &huge).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // No idempotency key.
    let r =
        edge.http.post(&url).bearer_auth(&cashier).json(&simple_order(&menu, "Classic Patty", 1)).send().await.unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // Online orders do not come from a terminal.
    let mut online = simple_order(&menu, "Classic Patty", 1);
    online["channel"] = json!("online");
    expect_error(edge.order(&cashier, "bad-13", &online).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // A delivery with no address, a bad one, or an address on an order that is not delivered.
    let mut no_address = simple_order(&menu, "Classic Patty", 1);
    no_address["fulfilment"] = json!("delivery");
    expect_error(edge.order(&cashier, "bad-16", &no_address).await, StatusCode::UNPROCESSABLE_ENTITY, "validation")
        .await;
    let home = json!({ "line1": "Prins Hendrikkade 1", "city": "Amsterdam", "postcode": "1012", "position": { "lat": 52.38, "lon": 4.905 } });
    for (i, (field, value)) in
        [("position", json!({ "lat": 91.0, "lon": 4.9 })), ("line1", json!("  ")), ("postcode", json!("9".repeat(201)))]
            .into_iter()
            .enumerate()
    {
        let mut bad = no_address.clone();
        bad["delivery_address"] = home.clone();
        bad["delivery_address"][field] = value;
        let key = format!("bad-address-{i}");
        expect_error(edge.order(&cashier, &key, &bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    }
    let mut takeaway_to = simple_order(&menu, "Classic Patty", 1);
    takeaway_to["delivery_address"] = home;
    expect_error(edge.order(&cashier, "bad-17", &takeaway_to).await, StatusCode::UNPROCESSABLE_ENTITY, "validation")
        .await;
    // A missing or unknown session; a role that may not act.
    let r = edge
        .http
        .post(&url)
        .header("idempotency-key", "x")
        .json(&simple_order(&menu, "Classic Patty", 1))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect_error(
        edge.order("not-a-token", "bad-14", &simple_order(&menu, "Classic Patty", 1)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let kitchen = edge.login(KITCHEN_PIN).await;
    expect_error(
        edge.order(&kitchen, "bad-15", &simple_order(&menu, "Classic Patty", 1)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    assert_eq!(edge.change_count(&manager).await, changes, "no bad request wrote anything");
    assert_eq!(edge.order_count(&manager).await, 0);
    edge.stop().await;
}

#[tokio::test]
async fn other_endpoints_refuse_bad_input_without_writing() {
    let edge = Edge::start().await;
    let cashier = edge.login(CASHIER_PIN).await;
    let manager = edge.login(MANAGER_PIN).await;
    let menu = edge.menu(&cashier).await;
    let o: Value = edge.order(&cashier, "ok-1", &simple_order(&menu, "Water", 1)).await.json().await.unwrap();
    let id = o["id"].as_str().unwrap();
    let changes = edge.change_count(&manager).await;
    let ing = item(&menu, "Water")["recipe"][0]["ingredient_id"].clone();

    expect_error(
        edge.post(&cashier, "/api/v1/inventory/receive", &json!({ "ingredient_id": ing, "quantity": 0 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(
        edge.post(&cashier, "/api/v1/inventory/waste", &json!({ "ingredient_id": ing, "quantity": -5 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(
        edge.post(
            &cashier,
            "/api/v1/inventory/receive",
            &json!({ "ingredient_id": "01900000-0000-7000-8000-000000000000", "quantity": 5 }),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        edge.post(&cashier, "/api/v1/inventory/receive", &json!({ "ingredient_id": "nope", "quantity": 5 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    expect_error(
        edge.post(&cashier, &format!("/api/v1/orders/{id}/tenders"), &json!({ "method": "cheque", "amount": 5 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    expect_error(
        edge.post(&cashier, &format!("/api/v1/orders/{id}/tenders"), &json!({ "method": "cash", "tendered": 0 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(
        edge.post(
            &cashier,
            &format!("/api/v1/orders/{id}/tenders"),
            &json!({ "method": "card", "amount": 10, "reference": "" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(
        edge.post(&cashier, &format!("/api/v1/orders/{id}/status"), &json!({ "status": "eaten" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    expect_error(
        edge.post(&cashier, &format!("/api/v1/orders/{id}/status"), &json!({ "status": "cancelled" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(
        edge.post(&cashier, "/api/v1/orders/not-an-id/status", &json!({ "status": "ready" })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        edge.post(
            &cashier,
            "/api/v1/orders/01900000-0000-7000-8000-000000000000/status",
            &json!({ "status": "ready" }),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        edge.post(
            &manager,
            &format!("/api/v1/orders/{id}/discounts"),
            &json!({ "amount": 10, "percent_bp": 10, "reason": "x" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(
        edge.post(&manager, "/api/v1/staff", &json!({ "name": "", "role": "cashier", "pin": "7777" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(
        edge.post(&manager, "/api/v1/staff", &json!({ "name": "A", "role": "owner", "pin": "7777" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    expect_error(
        edge.get(&manager, "/api/v1/reports/day?date=26/11/2026").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_error(edge.get(&manager, "/api/v1/nowhere").await, StatusCode::NOT_FOUND, "not_found").await;
    let r = edge.http.post(edge.url("/api/v1/sessions")).json(&json!({ "pin": 1234 })).send().await.unwrap();
    expect_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;

    assert_eq!(edge.change_count(&manager).await, changes, "no bad request wrote anything");
    edge.stop().await;
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["counter", "kiosk", "online", "takeaway", "delivery", "dine_in"])
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(
                prop::sample::select(vec![
                    "channel",
                    "fulfilment",
                    "lines",
                    "notes",
                    "item_id",
                    "quantity",
                    "modifiers",
                    "modifier_id",
                    "variant_id",
                    "price_override",
                    "x"
                ])
                .prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Orders whose shape is right but whose values are random, drawn from the real menu's ids.
fn order_like(items: Vec<String>, mods: Vec<String>) -> impl Strategy<Value = Value> {
    let line = (prop::sample::select(items), -3i64..200, prop::collection::vec((prop::sample::select(mods), -1i64..5), 0..4), "\\PC{0,8}")
        .prop_map(|(item, q, mods, notes)| {
            json!({ "item_id": item, "quantity": q, "notes": notes,
                    "modifiers": mods.into_iter().map(|(m, q)| json!({ "modifier_id": m, "quantity": q })).collect::<Vec<_>>() })
        });
    (
        prop::sample::select(vec!["counter", "kiosk", "phone", "online"]),
        prop::sample::select(vec!["dine_in", "takeaway", "delivery"]),
        prop::collection::vec(line, 0..5),
    )
        .prop_map(|(c, f, lines)| json!({ "channel": c, "fulfilment": f, "lines": lines }))
}

#[test]
fn random_bodies_never_cause_a_5xx_or_a_panic() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = rt.block_on(patty_edge::open(config(dir.path()))).unwrap();
    let app = patty_edge::app(state);
    let token = rt.block_on(async {
        let r = app
            .clone()
            .oneshot(
                Request::post("/api/v1/sessions")
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"pin":"1234"}"#))
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["token"].as_str().unwrap().to_owned()
    });
    let menu: Value = rt.block_on(async {
        let r = app
            .clone()
            .oneshot(
                Request::get("/api/v1/menu")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        serde_json::from_slice(&axum::body::to_bytes(r.into_body(), 1 << 22).await.unwrap()).unwrap()
    });
    let items: Vec<String> =
        menu["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
    let mods: Vec<String> = menu["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            i["modifier_groups"].as_array().unwrap().iter().flat_map(|g| g["modifiers"].as_array().unwrap().iter())
        })
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();

    let send = |body: Vec<u8>, key: String| {
        let req = Request::post("/api/v1/orders")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("idempotency-key", key)
            .body(Body::from(body))
            .unwrap();
        rt.block_on(app.clone().oneshot(req)).unwrap().status()
    };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 300, ..ProptestConfig::default() });
    let n = std::cell::Cell::new(0u64);
    runner
        .run(&prop_oneof![json_value(), order_like(items, mods)], |v| {
            n.set(n.get() + 1);
            let status = send(serde_json::to_vec(&v).unwrap(), format!("p{}", n.get()));
            prop_assert!(!status.is_server_error() && status != AxStatus::OK, "{status} for {v}");
            Ok(())
        })
        .unwrap();
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            n.set(n.get() + 1);
            let status = send(bytes, format!("b{}", n.get()));
            prop_assert!(status.is_client_error(), "{status}");
            Ok(())
        })
        .unwrap();
}

/// The POS front end: served from its directory when built (a missing file is a JSON 404), and
/// while it is not built, `/pos/` says how to build it in the usual error body.
#[tokio::test]
async fn the_pos_is_served_when_built_and_explained_when_not() {
    let built = tempfile::tempdir().unwrap();
    std::fs::write(built.path().join("index.html"), "<!doctype html><title>POS</title>").unwrap();
    let dir = built.path().to_owned();
    let edge = Edge::start_with(|c| c.pos.dir = dir).await;
    let page = edge.http.get(edge.url("/pos/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<title>POS</title>"));
    expect_error(
        edge.http.get(edge.url("/pos/assets/none.js")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let edge = Edge::start_with(|c| c.pos.dir = "/no/such/pos".into()).await;
    for path in ["/pos", "/pos/", "/pos/assets/app.js"] {
        let r = edge.http.get(edge.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
        assert!(body["message"].as_str().unwrap().contains("npm --prefix web run build"), "{path}: {body}");
    }
}
