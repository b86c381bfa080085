//! The cloud's sync door on both backends: uploads applied once however often they arrive, gaps
//! refused, bad bodies and wrong callers refused with a JSON error and nothing written; conflicts
//! listed per outlet and settled once; thresholds checked.

mod common;

use common::*;
use patty_protocol::change::{ChangeEntry, ChangeV1, HlcTimestamp};
use patty_protocol::ids::{IngredientId, MovementId, OutletId};
use patty_protocol::inventory::{Ingredient, MovementKind, StockMovement, Unit};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn movement(ingredient: IngredientId, delta: i64) -> ChangeV1 {
    ChangeV1::StockMoved {
        movement: StockMovement {
            id: MovementId::new(),
            ingredient_id: ingredient,
            kind: if delta > 0 { MovementKind::Receive } else { MovementKind::Waste },
            delta,
            order_id: None,
            staff_id: None,
            note: String::new(),
            at_ms: 1_700_000_000_000,
        },
    }
}

fn entries(origin: OutletId, first: u64, changes: Vec<ChangeV1>) -> Vec<ChangeEntry> {
    changes
        .into_iter()
        .zip(first..)
        .map(|(change, seq)| ChangeEntry { origin, seq, hlc: HlcTimestamp::new(1_700_000_000_000 + seq, 0), change })
        .collect()
}

async fn upload(cloud: &Cloud, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = cloud
        .http
        .post(cloud.url("/api/v1/sync/up"))
        .header("x-api-key", key)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn edge_key(cloud: &Cloud, admin: &str, outlet: OutletId) -> String {
    cloud
        .json(cloud.post(admin, "/api/v1/outlets", &common::outlet(&outlet.to_string())).await, StatusCode::CREATED)
        .await;
    let key = cloud
        .json(
            cloud.post(admin, "/api/v1/api-keys", &json!({ "kind": "edge", "subject": outlet, "name": "edge" })).await,
            StatusCode::CREATED,
        )
        .await;
    key["secret"].as_str().unwrap().to_owned()
}

async fn on_hand(cloud: &Cloud, admin: &str, outlet: OutletId, ingredient: IngredientId) -> i64 {
    let stock = cloud.json(cloud.get(admin, &format!("/api/v1/outlets/{outlet}/stock")).await, StatusCode::OK).await;
    stock.as_array().unwrap().iter().find(|l| l["ingredient_id"] == ingredient.to_string().as_str()).unwrap()["on_hand"]
        .as_i64()
        .unwrap()
}

async fn uploads_apply_once(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let (a, b) = (OutletId::new(), OutletId::new());
    let (key_a, key_b) = (edge_key(&cloud, &admin, a).await, edge_key(&cloud, &admin, b).await);
    let bun = IngredientId::new();
    let ingredient = Ingredient { id: bun, name: "Bun".into(), unit: Unit::Piece, reorder_level: 5 };
    let log = entries(
        a,
        1,
        vec![
            ChangeV1::IngredientUpserted { ingredient },
            movement(bun, 10),
            movement(bun, -3),
            movement(bun, -1),
            movement(bun, -1),
        ],
    );
    let first = patty_sync::wire::encode_batch(&log[..3]);
    let (s, ack) = upload(&cloud, &key_a, first.clone()).await;
    assert_eq!((s, ack.clone()), (StatusCode::OK, json!({ "applied_through": 3, "gap": false })));
    // The same batch again, and an overlapping one: each entry counts once.
    assert_eq!(upload(&cloud, &key_a, first).await.1, json!({ "applied_through": 3, "gap": false }));
    let (_, ack) = upload(&cloud, &key_a, patty_sync::wire::encode_batch(&log[1..4])).await;
    assert_eq!(ack, json!({ "applied_through": 4, "gap": false }));
    assert_eq!(on_hand(&cloud, &admin, a, bun).await, 6);
    // A batch past the next expected entry is refused whole.
    let (s, ack) =
        upload(&cloud, &key_a, patty_sync::wire::encode_batch(&entries(a, 6, vec![movement(bun, -1)]))).await;
    assert_eq!((s, ack), (StatusCode::OK, json!({ "applied_through": 4, "gap": true })));

    // Wrong callers and bad bodies: a JSON error each, and nothing written.
    let (s, e) = upload(&cloud, &key_b, patty_sync::wire::encode_batch(&log[4..])).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    let (s, e) = upload(&cloud, "pp_not_a_key", patty_sync::wire::encode_batch(&log[4..])).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{e}");
    let customer = cloud.register("ada@example.com").await["access_token"].as_str().unwrap().to_owned();
    let r = cloud
        .http
        .post(cloud.url("/api/v1/sync/up"))
        .bearer_auth(&customer)
        .body(patty_sync::wire::encode_batch(&log[4..]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let inflating = {
        let zeros = vec![0u8; 16 << 20];
        let mut body = vec![1u8];
        body.extend(zstd::bulk::compress(&zeros, 3).unwrap());
        body
    };
    let mut not_a_batch = vec![0u8];
    not_a_batch.extend(postcard::to_stdvec(&log[4]).unwrap());
    for (what, body) in [
        ("empty", vec![]),
        ("unknown tag", vec![7, 1, 2, 3]),
        ("corrupt zstd", vec![1, 40, 181, 47, 253, 0, 0]),
        ("inflates past the limit", inflating),
        ("not a batch", not_a_batch),
        ("sequence 0", patty_sync::wire::encode_batch(&entries(a, 0, vec![movement(bun, -1)]))),
    ] {
        let (s, e) = upload(&cloud, &key_a, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {e}");
        assert_eq!(e["code"], "validation", "{what}");
        assert!(!e["message"].as_str().unwrap_or_default().is_empty(), "{what}");
    }
    assert_eq!(on_hand(&cloud, &admin, a, bun).await, 6, "nothing written by refused uploads");
    let cursors = cloud.json(cloud.get(&admin, "/api/v1/sync/outlets").await, StatusCode::OK).await;
    let cursor = cursors.as_array().unwrap().iter().find(|c| c["outlet_id"] == a.to_string().as_str()).unwrap().clone();
    assert_eq!(cursor["applied_through"], 4);

    // The downward stream refuses what is not an edge key or a sane cursor.
    let r = cloud.http.get(cloud.url("/api/v1/sync/down?after=-1")).header("x-api-key", &key_a).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(cloud.get(&customer, "/api/v1/sync/down").await.status(), StatusCode::FORBIDDEN);
    cloud.stop().await;
}

async fn conflicts_and_thresholds(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let (a, b) = (OutletId::new(), OutletId::new());
    let key_a = edge_key(&cloud, &admin, a).await;
    edge_key(&cloud, &admin, b).await;
    let bun = IngredientId::new();
    // Stock below zero once every movement is counted: a conflict, raised once.
    let log = entries(a, 1, vec![movement(bun, 2), movement(bun, -5), movement(bun, -1)]);
    upload(&cloud, &key_a, patty_sync::wire::encode_batch(&log[..2])).await;
    upload(&cloud, &key_a, patty_sync::wire::encode_batch(&log[2..])).await;
    assert_eq!(on_hand(&cloud, &admin, a, bun).await, -4);
    let list =
        cloud.json(cloud.get(&admin, &format!("/api/v1/conflicts?outlet={a}&open=true")).await, StatusCode::OK).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["kind"], "stock_below_zero");
    assert_eq!(list[0]["subject"], bun.to_string().as_str());
    let id = list[0]["id"].as_str().unwrap().to_owned();

    // Another outlet's manager neither sees nor settles it.
    let other = cloud.staff(&admin, "mgr-b@example.com", "outlet_manager", Some(&b.to_string())).await;
    assert_eq!(cloud.get(&other, &format!("/api/v1/conflicts?outlet={a}")).await.status(), StatusCode::FORBIDDEN);
    let mine = cloud.json(cloud.get(&other, "/api/v1/conflicts").await, StatusCode::OK).await;
    assert!(mine.as_array().unwrap().is_empty());
    let r = cloud.post(&other, &format!("/api/v1/conflicts/{id}/resolve"), &json!({ "note": "mine now" })).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let own = cloud.staff(&admin, "mgr-a@example.com", "outlet_manager", Some(&a.to_string())).await;
    for (body, status) in [
        (json!({ "note": "  " }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "note": "x".repeat(501) }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "nope": 1 }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "note": "counted again: 4 short, written off" }), StatusCode::OK),
        (json!({ "note": "twice" }), StatusCode::NOT_FOUND),
    ] {
        let r = cloud.post(&own, &format!("/api/v1/conflicts/{id}/resolve"), &body).await;
        assert_eq!(r.status(), status, "{body}");
    }
    let r = cloud.post(&admin, &format!("/api/v1/conflicts/{}/resolve", uuid_v7()), &json!({ "note": "x" })).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let settled =
        cloud.json(cloud.get(&admin, &format!("/api/v1/conflicts?outlet={a}&open=false")).await, StatusCode::OK).await;
    assert_eq!(settled[0]["resolution"]["note"], "counted again: 4 short, written off");
    assert!(settled[0]["resolution"]["by"].as_str().unwrap().starts_with("hq:"));

    // Thresholds: HQ only, in range.
    let path = format!("/api/v1/outlets/{a}/stock/{bun}/reorder-level");
    for (token, body, status) in [
        (&own, json!({ "reorder_level": 3 }), StatusCode::FORBIDDEN),
        (&admin, json!({ "reorder_level": -1 }), StatusCode::UNPROCESSABLE_ENTITY),
        (&admin, json!({ "reorder_level": "3" }), StatusCode::UNPROCESSABLE_ENTITY),
        (&admin, json!({ "reorder_level": 3 }), StatusCode::NO_CONTENT),
    ] {
        assert_eq!(cloud.send(Method::PUT, Some(token), &path, Some(&body)).await.status(), status, "{body}");
    }
    let stock = cloud.json(cloud.get(&admin, &format!("/api/v1/outlets/{a}/stock")).await, StatusCode::OK).await;
    assert_eq!(stock[0]["reorder_level"], 3);
    assert_eq!(stock[0]["on_hand"], -4, "a threshold leaves the stock alone");
    // Staff set by HQ or the outlet's own manager, checked.
    let staff_id = patty_protocol::ids::StaffId::new();
    let path = format!("/api/v1/outlets/{a}/staff/{staff_id}");
    for (token, body, status) in [
        (&other, json!({ "name": "Noor", "role": "cashier" }), StatusCode::FORBIDDEN),
        (&own, json!({ "name": " ", "role": "cashier" }), StatusCode::UNPROCESSABLE_ENTITY),
        (&own, json!({ "name": "Noor", "role": "owner" }), StatusCode::UNPROCESSABLE_ENTITY),
        (&own, json!({ "name": "Noor", "role": "cashier" }), StatusCode::OK),
        (&admin, json!({ "name": "Noor", "role": "kitchen", "active": false }), StatusCode::OK),
    ] {
        assert_eq!(cloud.send(Method::PUT, Some(token), &path, Some(&body)).await.status(), status, "{body}");
    }
    let moved = cloud
        .send(
            Method::PUT,
            Some(&admin),
            &format!("/api/v1/outlets/{b}/staff/{staff_id}"),
            Some(&json!({ "name": "Noor", "role": "cashier" })),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::CONFLICT, "a staff id stays with its outlet");
    let listed = cloud.json(cloud.get(&own, &format!("/api/v1/outlets/{a}/staff")).await, StatusCode::OK).await;
    assert_eq!(listed, json!([{ "id": staff_id, "name": "Noor", "role": "kitchen", "active": false }]));

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cloud
        .events(&admin, 1)
        .await
        .iter()
        .any(|e| e["kind"] == "stock.threshold_set" && e["topic"] == "sync.events")
    {
        assert!(tokio::time::Instant::now() < deadline, "the threshold's event was never relayed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cloud.stop().await;
}

/// A level falling below its reorder level is one `stock.low` event per crossing, and the outlet's
/// manager hears of it in their inbox (and not another outlet's manager).
async fn low_stock_alerts_the_managers(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let (a, b) = (OutletId::new(), OutletId::new());
    let key = edge_key(&cloud, &admin, a).await;
    edge_key(&cloud, &admin, b).await;
    let own = cloud.staff(&admin, "boss-a@example.com", "outlet_manager", Some(&a.to_string())).await;
    let other = cloud.staff(&admin, "boss-b@example.com", "outlet_manager", Some(&b.to_string())).await;
    let bun = IngredientId::new();
    let ingredient = Ingredient { id: bun, name: "Brioche bun".into(), unit: Unit::Piece, reorder_level: 5 };
    let log = entries(
        a,
        1,
        vec![
            ChangeV1::IngredientUpserted { ingredient },
            movement(bun, 10),
            movement(bun, -3),
            movement(bun, -4),
            movement(bun, -1),
        ],
    );
    // 0 to 10, 10 to 3 (below 5), 3 to 2 (still below): one crossing.
    for batch in [&log[..2], &log[2..4], &log[4..]] {
        assert_eq!(upload(&cloud, &key, patty_sync::wire::encode_batch(batch)).await.0, StatusCode::OK);
    }
    assert_eq!(on_hand(&cloud, &admin, a, bun).await, 2);
    let events = cloud.events_until(&admin, "the low stock", |all| all.iter().any(|e| e["kind"] == "stock.low")).await;
    let low: Vec<&Value> = events.iter().filter(|e| e["kind"] == "stock.low").collect();
    assert_eq!(low.len(), 1, "once per crossing: {low:?}");
    assert_eq!(
        (low[0]["payload"]["data"]["on_hand"].as_i64(), low[0]["payload"]["data"]["reorder_level"].as_i64()),
        (Some(3), Some(5))
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let inbox = loop {
        let inbox = cloud.json(cloud.get(&own, "/api/v1/me/notifications").await, StatusCode::OK).await;
        if inbox["unread"] == 1 {
            break inbox;
        }
        assert!(tokio::time::Instant::now() < deadline, "no alert for the manager: {inbox}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(inbox["items"][0]["template"], "outlet.low_stock");
    assert_eq!(inbox["items"][0]["title"], "Low stock at Damrak: Brioche bun", "{inbox}");
    assert!(inbox["items"][0]["body"].as_str().unwrap().contains("down to 3 pcs"), "{inbox}");
    let theirs = cloud.json(cloud.get(&other, "/api/v1/me/notifications").await, StatusCode::OK).await;
    assert_eq!(theirs["unread"], 0, "another outlet's manager is not told: {theirs}");
    cloud.stop().await;
}

fn uuid_v7() -> String {
    patty_protocol::ids::ConflictId::new().to_string()
}

on_both_backends!(uploads_apply_once, conflicts_and_thresholds, low_stock_alerts_the_managers);
