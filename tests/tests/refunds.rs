//! A refund of an order paid online, asked at the till: the real cloud (its embedded `test`
//! payment provider, which authorises and settles at once) and the real edge, linked through a
//! relay the test cuts. While the link is down the request waits at the outlet, shown pending,
//! and the cloud hears nothing; once the link is back it is sent, the payment shows the refund,
//! and the order gets its refund tender at the outlet (and, synced, at the cloud). A second send
//! of the same request (its answer "lost") refunds nothing twice, and a refund of more than is
//! left is refused at the till and writes nothing.

use patty_tests::chain::{Cloud, CloudOptions, CuttableLink, Edge, move_at_till, sample_item};
use patty_tests::fixtures::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The refund requests of `order` as the till lists them.
async fn requests_of(edge: &Edge, token: &str, order: &str) -> Vec<Value> {
    let v = edge.api.get(token, &format!("/api/v1/refund-requests?order_id={order}")).await;
    v.as_array().unwrap().clone()
}

/// The order's one refund request once `cond` holds of it; panics after 60 s.
async fn request_when(edge: &Edge, token: &str, order: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    eventually(what, 60, || async {
        let list = requests_of(edge, token, order).await;
        assert_eq!(list.len(), 1, "one request: {list:?}");
        cond(&list[0]).then(|| list[0].clone())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_payment_refunded_at_the_till_goes_through_the_cloud_once_the_link_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Cloud::start(&dir.path().join("cloud"), CloudOptions::default()).await;
    let outlet = cloud.outlet().await;
    let key = cloud.edge_key(&outlet).await;
    let cloud_port: u16 = cloud.api.base.rsplit(':').next().unwrap().parse().unwrap();
    let link = CuttableLink::start(cloud_port);
    let via = format!("http://127.0.0.1:{}", link.port);
    let edge = Edge::start(&dir.path().join("edge"), &outlet, &via, &key, &[]).await;
    edge.link_when("the first catalog over an open link", |s| s["catalog_version"] == 1 && s["link"] == "online").await;

    // Ada orders to collect and pays online.
    let (ada, _) = cloud.customer("ada").await;
    let basket = json!({ "outlet_id": outlet, "fulfilment": "takeaway", "lines": [{ "item_id": sample_item("Classic Patty"), "quantity": 2 }] });
    let placed = cloud.api.place(&ada, "/api/v1/orders", "app-refund-1", &basket).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    let total = placed["total"].as_i64().unwrap();

    // It reaches the till paid online; the outlet makes it and hands it over.
    let (cashier, kitchen, manager) =
        (edge.api.pin("1111").await, edge.api.pin("2222").await, edge.api.pin("1234").await);
    let at_till = edge.api.when_ok("the online order at the till", &cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(at_till["paid"], total, "paid online in full: {at_till}");
    let payment = at_till["tenders"][0]["kind"]["online"]["payment_id"].as_str().expect("an online tender").to_owned();
    move_at_till(&edge.api, &cashier, &id, "accepted").await;
    for status in ["preparing", "ready"] {
        move_at_till(&edge.api, &kitchen, &id, status).await;
    }
    move_at_till(&edge.api, &cashier, &id, "completed").await;
    let at_cloud = |what: &'static str, cond: fn(&Value) -> bool| {
        let (cloud, payment) = (&cloud, &payment);
        async move {
            eventually(what, 60, || async move {
                let p = cloud.api.get(&cloud.admin, &format!("/api/v1/payments/{payment}")).await;
                cond(&p).then_some(p)
            })
            .await
        }
    };
    at_cloud("the payment captured once the outlet took the order on", |p| p["state"] == "captured").await;

    // The link goes down; a manager refunds part of it: a request kept at the outlet, pending.
    link.set_cut(true);
    edge.link_when("the link down", |s| s["link"] == "offline").await;
    let refunds = format!("/api/v1/orders/{id}/refunds");
    let (s, pending) = edge.api.post(&manager, &refunds, json!({ "amount": 500, "reason": "fries were cold" })).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{pending}");
    assert_eq!(pending["requests"][0]["state"], "queued");
    assert_eq!(pending["order"]["paid"], total, "nothing went back at the till");
    let queued = requests_of(&edge, &cashier, &id).await;
    assert_eq!((queued.len(), queued[0]["state"].as_str()), (1, Some("queued")), "{queued:?}");
    let p = cloud.api.get(&cloud.admin, &format!("/api/v1/payments/{payment}")).await;
    assert_eq!(p["refunds"], json!([]), "the cloud has heard of no refund: {p}");

    // The link comes back: the request is sent, and settles at once with the test provider.
    link.set_cut(false);
    let done = request_when(&edge, &cashier, &id, "the refund to succeed", |r| r["state"] == "succeeded").await;
    assert_eq!(done["attempts"], 1, "asked once, and never while the link was down: {done}");
    let rf = done["cloud_refund_id"].as_str().unwrap().to_owned();
    let p = at_cloud("the payment refunded", |p| p["refunded"] == 500).await;
    let at_cloud_refunds = p["refunds"].as_array().unwrap().clone();
    assert_eq!(at_cloud_refunds.len(), 1, "{p}");
    assert_eq!(
        (
            at_cloud_refunds[0]["id"].as_str(),
            at_cloud_refunds[0]["amount"].as_i64(),
            at_cloud_refunds[0]["state"].as_str()
        ),
        (Some(rf.as_str()), Some(500), Some("succeeded"))
    );
    let order = edge.api.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    let refund_tenders: Vec<&Value> =
        order["tenders"].as_array().unwrap().iter().filter(|t| t["kind"].get("refund").is_some()).collect();
    assert_eq!(refund_tenders.len(), 1, "{order}");
    assert_eq!((refund_tenders[0]["amount"].as_i64(), order["paid"].as_i64()), (Some(-500), Some(total - 500)));
    let day = edge.api.get(&manager, "/api/v1/reports/day").await;
    assert_eq!(day["by_tender"]["refund"]["amount"], -500, "the day report counts it: {day}");
    eventually("the refund tender synced to the cloud's order", 60, || async {
        let o = cloud.api.get(&ada, &format!("/api/v1/orders/{id}")).await;
        (o["paid"] == total - 500).then_some(())
    })
    .await;

    // Its answer lost: the outlet sends the same request again (queued anew in its database).
    // The cloud answers with the first refund; nothing is refunded twice, here or there.
    let db = rusqlite::Connection::open(dir.path().join("edge").join("edge.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let reset = db
        .execute(
            "UPDATE refund_requests SET state = 'queued', cloud_refund_id = NULL, next_ms = 0 WHERE id = ?1",
            [done["id"].as_str().unwrap()],
        )
        .unwrap();
    assert_eq!(reset, 1);
    drop(db);
    let again = request_when(&edge, &cashier, &id, "the resent request to succeed", |r| {
        r["attempts"] == 2 && r["state"] == "succeeded"
    })
    .await;
    assert_eq!(again["cloud_refund_id"].as_str(), Some(rf.as_str()), "the cloud gave back its first refund");
    let p = cloud.api.get(&cloud.admin, &format!("/api/v1/payments/{payment}")).await;
    assert_eq!((p["refunds"].as_array().unwrap().len(), p["refunded"].as_i64()), (1, Some(500)), "{p}");
    let order = edge.api.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(order["paid"], total - 500, "one refund tender still: {order}");

    // More than is left is refused at the till, and nothing is written or sent.
    let (s, e) = edge.api.post(&manager, &refunds, json!({ "amount": total - 500 + 1, "reason": "all of it" })).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{e}");
    assert_eq!(requests_of(&edge, &cashier, &id).await.len(), 1);
    let p = cloud.api.get(&cloud.admin, &format!("/api/v1/payments/{payment}")).await;
    assert_eq!(p["refunds"].as_array().unwrap().len(), 1);
}
