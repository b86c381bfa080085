//! Whole-system scenarios: the real binaries (cloud, outlet edges, driver agents) and real brokers
//! (Mosquitto, a Kafka-protocol broker) on free loopback ports, driven the way people use them,
//! and read back the way a user would: over HTTP, with an independent Kafka consumer, or from the
//! agent's console.
//!
//! - An online order from the customer's click, through the outlet's till and kitchen, to the
//!   door with the one-time code; every step on Kafka.
//! - An order taken in the store flowing to Kafka.
//! - A phone order for delivery taken at the till, the till reading the code to the customer.
//! - A driver's link dropping mid-delivery: the agent keeps what it measured, the delivery goes on
//!   once the link is back, and its route has every fix.
//!
//! An outlet cut off from the cloud, trading on and reconciling, is `tests/sync.rs`; a delivery's
//! offers, declines and lapses, and the scoping of the live streams, `tests/delivery.rs`; the
//! whole chain at once (`patty-demo`, run as a person would), `tests/demo.rs`.

use patty_protocol::topics::Topic;
use patty_tests::chain::{Agent, CloudOptions, CuttableLink, HOME, OUTLET, between, free_port, north};
use patty_tests::chain::{deliver, job_of, linked_outlet, move_at_till, sample_item};
use patty_tests::fixtures::eventually;
use patty_tests::kafka::Broker;
use patty_tests::mqtt::Mosquitto;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A phone order at the till for `quantity` Classic Patties delivered to [`HOME`].
fn phone_delivery(quantity: u32) -> Value {
    let to = json!({ "line1": "Prins Hendrikkade 1", "city": "Amsterdam", "postcode": "1012", "position": { "lat": HOME.0, "lon": HOME.1 } });
    json!({ "channel": "phone", "fulfilment": "delivery", "delivery_address": to, "lines": [{ "item_id": sample_item("Classic Patty"), "quantity": quantity }] })
}

/// The records on Kafka `topic` keyed `key`, once one satisfies `done`; panics after 60 s.
fn on_kafka(kafka: &Broker, topic: &str, key: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mine: Vec<Value> = kafka
            .consume(&[topic], 1, 10)
            .into_iter()
            .filter(|r| r["key"] == key)
            .map(|r| r["value"].clone())
            .collect();
        if mine.iter().any(&done) {
            return mine;
        }
        assert!(Instant::now() < deadline, "{topic} never carried what was awaited for {key}: {mine:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_order_goes_from_the_click_through_the_kitchen_to_the_door() {
    let mqtt = Mosquitto::start(free_port());
    let kafka = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = CloudOptions { kafka: Some(kafka.addr.clone()), mqtt_url: Some(mqtt.url()), envs: vec![] };
    let (cloud, outlet, edge) = linked_outlet(dir.path(), opts, &[]).await;
    let (_, fay_device) = cloud.driver("fay").await;
    let mut fay = Agent::start(&fay_device, mqtt.port, dir.path());
    fay.at(north(OUTLET, 300.0));
    cloud.drivers_online(1).await;

    // Ada orders in the app.
    let (ada, home) = cloud.customer("ada").await;
    let basket = json!({ "outlet_id": outlet, "fulfilment": "delivery", "address_id": home, "lines": [{ "item_id": sample_item("Classic Patty"), "quantity": 2 }] });
    let clicked = Instant::now();
    let order = cloud.api.place(&ada, "/api/v1/orders", "app-0001", &basket).await;
    let id = order["id"].as_str().unwrap().to_owned();

    // The outlet's till shows it; the cashier accepts, the kitchen makes it.
    let (cashier, kitchen) = (edge.api.pin("1111").await, edge.api.pin("2222").await);
    let at_till = edge.api.when_ok("the online order at the till", &cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!((at_till["status"].as_str(), at_till["channel"].as_str()), (Some("placed"), Some("online")));
    move_at_till(&edge.api, &cashier, &id, "accepted").await;
    for status in ["preparing", "ready"] {
        move_at_till(&edge.api, &kitchen, &id, status).await;
    }

    // The cloud dispatches it once the ready order syncs; Ada's app shows her code.
    let mine = cloud.api.when_ok("Ada's delivery with its code", &ada, &format!("/api/v1/orders/{id}/delivery")).await;
    let (job, code, delivery) = job_of(&mine);
    deliver(&cloud, &mut fay, job, delivery, code).await;
    let done = eventually("Ada's order completed", 30, || async {
        let v = cloud.api.ok(Method::GET, &ada, &format!("/api/v1/orders/{id}"), None).await;
        (v["status"] == "completed").then_some(v)
    })
    .await;
    assert_eq!(done["total"], order["total"], "charged what was quoted");
    eprintln!("click to door: {:.1} s", clicked.elapsed().as_secs_f64());

    // Every step is on Kafka, in order, keyed by the order.
    let records = on_kafka(&kafka, Topic::Order.name(), &id, |v| v["kind"] == "order.completed");
    let kinds: Vec<&str> = records.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    let wanted = ["order.placed", "order.ready", "order.out_for_delivery", "order.completed"];
    let at: Vec<usize> = wanted
        .iter()
        .map(|w| kinds.iter().position(|k| k == w).unwrap_or_else(|| panic!("{w} in {kinds:?}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "in the order they happened: {kinds:?}");
    let delivered = on_kafka(&kafka, Topic::DeliveryStatus.name(), delivery, |v| v["kind"] == "delivery.delivered");
    assert_eq!(delivered.first().map(|v| v["kind"].as_str()), Some(Some("delivery.created")), "{delivered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_taken_in_the_store_flows_to_kafka() {
    let kafka = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = CloudOptions { kafka: Some(kafka.addr.clone()), ..CloudOptions::default() };
    let (_cloud, _, edge) = linked_outlet(dir.path(), opts, &[]).await;
    let (cashier, kitchen) = (edge.api.pin("1111").await, edge.api.pin("2222").await);
    let body = json!({ "channel": "counter", "fulfilment": "dine_in", "lines": [{ "item_id": sample_item("Classic Patty"), "quantity": 1 }] });
    let order = edge.api.place(&cashier, "/api/v1/orders", "till-1-0001", &body).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let cash = json!({ "method": "cash", "tendered": 2000 });
    edge.api.ok(Method::POST, &cashier, &format!("/api/v1/orders/{id}/tenders"), Some(cash)).await;
    for status in ["preparing", "ready"] {
        move_at_till(&edge.api, &kitchen, &id, status).await;
    }
    move_at_till(&edge.api, &cashier, &id, "completed").await;

    // However the sync batched it, Kafka ends with the order as the till left it.
    let records = on_kafka(&kafka, Topic::Order.name(), &id, |v| {
        let o = if v["kind"] == "order.recorded" { &v["data"] } else { &v["data"]["order"] };
        o["status"] == "completed"
    });
    let last = records.last().unwrap();
    let o = if last["kind"] == "order.recorded" { &last["data"] } else { &last["data"]["order"] };
    assert_eq!((o["channel"].as_str(), o["number"].as_u64()), (Some("counter"), order["number"].as_u64()), "{o}");
    assert_eq!((o["total"].as_i64(), o["paid"].as_i64()), (order["total"].as_i64(), order["total"].as_i64()), "{o}");
    assert_eq!(records[0]["kind"], "order.recorded", "first seen whole: {records:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_order_taken_at_the_till_goes_to_the_door_with_the_code_the_outlet_gives() {
    let dir = tempfile::tempdir().unwrap();
    // The outlet charges 2.50 for a delivery taken at its till.
    let fee = [("PATTY_OUTLET__DELIVERY_FEE", "250".to_owned())];
    let (cloud, _, edge) = linked_outlet(dir.path(), CloudOptions::default(), &fee).await;
    let till = &edge.api;
    let (cashier, kitchen) = (till.pin("1111").await, till.pin("2222").await);

    // A customer phones: the cashier takes the address with its map position.
    let order = till.place(&cashier, "/api/v1/orders", "phone-0001", &phone_delivery(2)).await;
    assert_eq!(order["delivery_fee"], 250);
    assert_eq!(order["total"], order["subtotal"].as_i64().unwrap() + 250, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let receipt = till.ok(Method::GET, &cashier, &format!("/api/v1/orders/{id}/receipt"), None).await;
    assert!(receipt["text"].as_str().unwrap().contains("Deliver to Prins Hendrikkade 1, 1012 Amsterdam"), "{receipt}");
    // Before it is ready, the cloud has nothing to dispatch.
    let (s, v) = till.call(Method::GET, &cashier, &format!("/api/v1/orders/{id}/delivery"), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");

    // Fay, the agent, waits near the outlet; the kitchen makes the order.
    let (_, fay_device) = cloud.driver("fay").await;
    let mut fay = Agent::start(&fay_device, cloud.mqtt_port, dir.path());
    fay.at(north(OUTLET, 300.0));
    cloud.drivers_online(1).await;
    for status in ["preparing", "ready"] {
        move_at_till(till, &kitchen, &id, status).await;
    }

    // The cloud dispatches it once the ready order has synced; the till reads the code out.
    let mine = till
        .when_ok("the phone order's delivery at the till", &cashier, &format!("/api/v1/orders/{id}/delivery"))
        .await;
    assert_eq!(mine["status"], "waiting", "{mine}");
    let (job, code, delivery) = job_of(&mine);
    deliver(&cloud, &mut fay, job, delivery, code).await;

    // The till sees it delivered, and HQ sees the order completed.
    eventually("delivered, at the till", 30, || async {
        let (s, v) = till.call(Method::GET, &cashier, &format!("/api/v1/orders/{id}/delivery"), None).await;
        (s == StatusCode::OK && v["status"] == "delivered").then_some(())
    })
    .await;
    let done = cloud.api.ok(Method::GET, &cloud.admin, &format!("/api/v1/orders/{id}"), None).await;
    assert_eq!((done["status"].as_str(), done["channel"].as_str()), (Some("completed"), Some("phone")), "{done}");
    // The outlet that sent it hears the delivery finish: out for delivery, then completed, on its
    // own record (the till and the order queue show it), not left at ready.
    eventually("completed, at the outlet", 30, || async {
        let o = till.ok(Method::GET, &cashier, &format!("/api/v1/orders/{id}"), None).await;
        (o["status"] == "completed").then_some(())
    })
    .await;
    let manager = till.pin("1234").await;
    let changes = till.ok(Method::GET, &manager, "/api/v1/changes?after=0&limit=5000", None).await;
    let moves: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["order_status"]["order_id"] == id.as_str())
        .filter_map(|c| c["change"]["order_status"]["status"].as_str())
        .collect();
    assert_eq!(moves, ["preparing", "ready", "out_for_delivery", "completed"], "{changes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drivers_link_dropping_mid_delivery_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, _, edge) = linked_outlet(dir.path(), CloudOptions::default(), &[]).await;
    let (cashier, kitchen) = (edge.api.pin("1111").await, edge.api.pin("2222").await);
    // Fay's phone reaches the broker over a link that will drop.
    let link = CuttableLink::start(cloud.mqtt_port);
    let (_, fay_device) = cloud.driver("fay").await;
    let mut fay = Agent::start(&fay_device, link.port, dir.path());
    fay.at(north(OUTLET, 300.0));
    cloud.drivers_online(1).await;
    let id = edge.api.place(&cashier, "/api/v1/orders", "phone-0002", &phone_delivery(1)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for status in ["preparing", "ready"] {
        move_at_till(&edge.api, &kitchen, &id, status).await;
    }
    let mine = edge.api.when_ok("the delivery", &cashier, &format!("/api/v1/orders/{id}/delivery")).await;
    let (job, code, delivery) = job_of(&mine);
    fay.shows(&format!("offer job {job}"));
    fay.type_line(&format!("accept {job}"));
    fay.shows(&format!("job {job} is yours"));
    for m in [60.0, 20.0] {
        fay.at(north(OUTLET, m));
    }
    cloud.delivery_reaches(delivery, "at_pickup").await;
    fay.type_line(&format!("picked {job}"));
    cloud.delivery_reaches(delivery, "picked_up").await;

    // The link drops on the way: the broker's last will tells the cloud Fay is offline, and her
    // phone keeps measuring.
    link.set_cut(true);
    eventually("Fay offline, as HQ sees the fleet", 30, || async {
        let v = cloud.api.ok(Method::GET, &cloud.admin, "/api/v1/fleet/positions", None).await;
        v.as_array()
            .unwrap()
            .iter()
            .any(|p| p["device_id"] == fay_device.as_str() && p["online"] == false)
            .then_some(())
    })
    .await;
    for f in [0.2, 0.4, 0.6] {
        fay.at(between(OUTLET, HOME, f));
    }
    assert_eq!(cloud.delivery_reaches(delivery, "picked_up").await["status"], "picked_up");

    // Back in coverage: what she measured arrives, in order, and the delivery goes on to the door.
    link.set_cut(false);
    cloud.drivers_online(1).await;
    for f in [0.9, 1.0] {
        fay.at(between(OUTLET, HOME, f));
    }
    fay.shows(&format!("job {job}: at the door"));
    fay.type_line(&format!("code {job} {code}"));
    fay.shows(&format!("job {job} delivered"));
    let route = eventually("the whole route", 30, || async {
        let v = cloud.api.ok(Method::GET, &cloud.admin, &format!("/api/v1/deliveries/{delivery}/route"), None).await;
        v["events"].as_array().unwrap().iter().any(|e| e["kind"] == "delivery.delivered").then_some(v)
    })
    .await;
    let seqs: Vec<u64> = route["fixes"].as_array().unwrap().iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    // Two to the pickup, three while cut off, two to the door: every one, none twice.
    assert!(seqs.len() >= 7 && seqs.windows(2).all(|w| w[1] == w[0] + 1), "the job's fixes, gap-free: {seqs:?}");
}
