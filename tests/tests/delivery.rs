//! A delivery from `ready` to the door, with real parts: the cloud binary, a real Mosquitto, a
//! real Kafka-protocol broker read back by an independent consumer, and the driver agent binary
//! driven through its console (positions and answers on stdin, commands on stdout).
//!
//! Three drivers are near the outlet. The nearest declines over HTTP, the next lets the offer
//! lapse, the third (the agent) accepts; the agent's fixes carry the job, cross the pickup and
//! drop-off zones (milestones), and the customer's code, after one wrong try, completes the order.
//! Live streams are scoped: the customer sees their delivery, another customer does not. A second
//! delivery runs on embedded defaults (no Kafka, the cloud's own broker): its route replays from
//! what the cloud kept, and each outlet's manager sees only the drivers on its deliveries.

use patty_protocol::telemetry::{Fix, micro, topic};
use patty_protocol::topics::Topic;
use patty_tests::chain::{
    Agent, Api, Cloud, CloudOptions, HOME, OUTLET, between, free_port, north, now_s, sample_item,
};
use patty_tests::fixtures::eventually;
use patty_tests::kafka::Broker;
use patty_tests::mqtt::Mosquitto;
use patty_tests::sse::SseReader;
use reqwest::{Method, StatusCode};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::time::Duration;

/// A counter's value on the cloud's `/metrics` (0 when absent).
async fn counter(api: &Api, name: &str) -> u64 {
    let text = api.http.get(format!("{}/metrics", api.base)).send().await.unwrap().text().await.unwrap();
    patty_tests::chain::metric(&text, name)
}

/// A delivery order of one `item` to HOME by `customer` (token, address), taken to `ready` at
/// `outlet` through the cloud's outlet API; its id.
async fn ready_order(api: &Api, admin: &str, customer: &(String, String), outlet: &str, item: &str) -> String {
    let body = json!({ "outlet_id": outlet, "fulfilment": "delivery", "address_id": customer.1, "lines": [{ "item_id": item, "quantity": 1 }] });
    let key = uuid::Uuid::now_v7().to_string();
    let order = api.place(&customer.0, "/api/v1/orders", &key, &body).await["id"].as_str().unwrap().to_owned();
    for status in ["accepted", "preparing", "ready"] {
        let path = format!("/api/v1/outlets/{outlet}/orders/{order}/status");
        api.ok(Method::POST, admin, &path, Some(json!({ "status": status }))).await;
    }
    order
}

/// The order's delivery as its customer sees it, once it exists: (id, job, hand-over code).
async fn delivery_of(api: &Api, customer: &str, order: &str) -> (String, u64, String) {
    let mine = eventually("the delivery", 30, || async {
        let (s, v) = api.call(Method::GET, customer, &format!("/api/v1/orders/{order}/delivery"), None).await;
        (s == StatusCode::OK).then_some(v)
    })
    .await;
    let code = mine["handover_code"].as_str().unwrap().to_owned();
    (mine["id"].as_str().unwrap().to_owned(), mine["job"].as_u64().unwrap(), code)
}

/// The delivery's route once it holds the delivered event, as its customer replays it: the route,
/// its fixes' sequence numbers and its events' kinds, in the order given.
async fn delivered_route(api: &Api, customer: &str, delivery: &str) -> (Value, Vec<u64>, Vec<String>) {
    let route = eventually("the route with its last event", 30, || async {
        let v = api.ok(Method::GET, customer, &format!("/api/v1/deliveries/{delivery}/route"), None).await;
        v["events"].as_array().unwrap().iter().any(|e| e["kind"] == "delivery.delivered").then_some(v)
    })
    .await;
    let seqs = route["fixes"].as_array().unwrap().iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    let kinds = route["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
    (route, seqs, kinds)
}

/// A point the fraction `f` of the way from the outlet to the customer's door.
fn toward(f: f64) -> (f64, f64) {
    between(OUTLET, HOME, f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_goes_from_ready_to_the_door_with_its_code() {
    let mqtt = Mosquitto::start(free_port());
    let kafka = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let offers = vec![("PATTY_DELIVERY__OFFER_TIMEOUT_SECS", "2".into())];
    let opts = CloudOptions { kafka: Some(kafka.addr.clone()), mqtt_url: Some(mqtt.url()), envs: offers };
    let cloud = Cloud::start(dir.path(), opts).await;
    let (api, admin) = (&cloud.api, cloud.admin.clone());

    // The outlet and its menu.
    let outlet = cloud.outlet().await;
    let burger = sample_item("Classic Patty");

    // Three drivers with a device each: Dee (nearest, answers over HTTP), Eve (next, silent),
    // Fay (farthest, the agent).
    let mut drivers = vec![];
    for name in ["dee", "eve", "fay"] {
        drivers.push(cloud.driver(name).await);
    }
    let (dee_device, eve_device, fay_device) = (drivers[0].1.clone(), drivers[1].1.clone(), drivers[2].1.clone());
    let dee = api.login("dee@example.com", "driver-pass-1").await;

    // Dee's and Eve's phones are plain MQTT clients here.
    let mut opts = MqttOptions::new("phones", ("127.0.0.1", mqtt.port));
    opts.set_keep_alive(5);
    let (phones, mut events) = AsyncClient::builder(opts).capacity(100).build();
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let fix = |seq: u32, p: (f64, f64), job: Option<u32>| Fix {
        seq,
        time_s: now_s() - 5,
        lat_u: micro(p.0),
        lon_u: micro(p.1),
        accuracy_m: 5,
        speed_dms: 0,
        heading_deg: 0,
        battery_pct: 90,
        job,
    };
    for (device, metres) in [(&dee_device, 300.0), (&eve_device, 500.0)] {
        phones
            .publish(topic(device, "status"), "online", rumqttc::PublishOptions::new(QoS::AtLeastOnce).retained())
            .await
            .unwrap();
        phones
            .publish(
                topic(device, "fix"),
                fix(1, north(OUTLET, metres), None).encode(),
                rumqttc::PublishOptions::new(QoS::AtLeastOnce),
            )
            .await
            .unwrap();
    }
    let mut fay = Agent::start(&fay_device, mqtt.port, dir.path());
    fay.at(north(OUTLET, 900.0));
    cloud.drivers_online(3).await;

    // A customer orders a delivery; the outlet takes it to ready.
    let ada = cloud.customer("ada").await;
    let bob = cloud.customer("bob").await.0;
    let order = ready_order(api, &admin, &ada, &outlet, &burger).await;
    let ada = ada.0;

    // The delivery exists; the customer sees it with the code, another customer does not.
    let (delivery, job, code) = delivery_of(api, &ada, &order).await;
    assert_eq!(code.len(), 4);
    let (s, _) = api.call(Method::GET, &bob, &format!("/api/v1/orders/{order}/delivery"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api.call(Method::GET, &bob, &format!("/api/v1/deliveries/{delivery}/live"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another customer may not follow it");
    let live =
        api.http.get(format!("{}/api/v1/deliveries/{delivery}/live", api.base)).bearer_auth(&ada).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let mut live = SseReader::new(live);
    // HQ follows the whole fleet.
    let fleet = api.http.get(format!("{}/api/v1/fleet/live", api.base)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(fleet.status(), StatusCode::OK);
    let mut fleet = SseReader::new(fleet);

    // Dee is nearest: the offer is Dee's, who declines over HTTP.
    let offered = |to: String| {
        let (api, admin, delivery) = (api, &admin, &delivery);
        async move {
            let v = api.ok(Method::GET, admin, &format!("/api/v1/deliveries/{delivery}"), None).await;
            (v["offered_to"] == to.as_str()).then_some(v)
        }
    };
    eventually("the offer to Dee", 30, || offered(drivers[0].0.clone())).await;
    let (s, _) = api.call(Method::POST, &dee, &format!("/api/v1/deliveries/{delivery}/pickup"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an offer is not a job");
    api.ok(Method::POST, &dee, &format!("/api/v1/deliveries/{delivery}/decline"), None).await;
    let (s, v) = api.call(Method::POST, &dee, &format!("/api/v1/deliveries/{delivery}/accept"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "a declined offer cannot be taken back: {v}");
    // Eve stays silent; after two seconds the offer moves on to Fay's agent, who accepts.
    eventually("the offer to Eve", 30, || offered(drivers[1].0.clone())).await;
    fay.shows(&format!("offer job {job}"));
    fay.type_line(&format!("accept {job}"));
    fay.shows(&format!("job {job} is yours"));
    let assigned = cloud.delivery_reaches(&delivery, "assigned").await;
    assert_eq!(assigned["driver_id"], drivers[2].0.as_str());
    assert_eq!(assigned["passed"], json!([drivers[0].0, drivers[1].0]));
    // Dee, who declined, no longer sees it; Fay does.
    let (s, _) = api.call(Method::GET, &dee, &format!("/api/v1/deliveries/{delivery}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api.call(Method::GET, &dee, "/api/v1/fleet/positions", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the fleet's positions are HQ's");

    // A fix naming the job from Eve's phone is refused.
    phones
        .publish(
            topic(&eve_device, "fix"),
            fix(2, OUTLET, Some(job as u32)).encode(),
            rumqttc::PublishOptions::new(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
    eventually("the stray fix refused", 30, || async {
        (counter(api, "patty_cloud_device_messages_rejected_total{reason=\"not_on_delivery\"}").await == 1)
            .then_some(())
    })
    .await;

    // Fay drives to the outlet: at pickup; then confirms the food.
    for m in [600.0, 300.0, 120.0, 20.0] {
        fay.at(north(OUTLET, m));
    }
    let at_pickup = cloud.delivery_reaches(&delivery, "at_pickup").await;
    assert!(at_pickup["eta_dropoff_s"].as_u64().unwrap() > 0);
    let seen =
        live.until(Duration::from_secs(30), |name, data| name == "position" && data["eta_pickup_s"].is_u64()).await;
    assert_eq!(seen["position"]["job"], job);
    let hq_saw =
        fleet.until(Duration::from_secs(30), |name, data| name == "position" && data["position"]["job"] == job).await;
    assert_eq!(hq_saw["position"]["driver_id"], drivers[2].0.as_str());
    fay.type_line(&format!("picked {job}"));
    cloud.delivery_reaches(&delivery, "picked_up").await;
    let o = api.ok(Method::GET, &ada, &format!("/api/v1/orders/{order}"), None).await;
    assert_eq!(o["status"], "out_for_delivery");

    // To the door: near drop-off, and the agent asks for the code.
    for f in [0.3, 0.6, 0.9, 1.0] {
        fay.at(toward(f));
    }
    fay.shows(&format!("job {job}: at the door"));
    cloud.delivery_reaches(&delivery, "near_dropoff").await;
    let wrong = if code == "0000" { "1111" } else { "0000" };
    // A code that is not digits, or a body with more than a code, is refused and costs no try.
    let fay_token = api.login("fay@example.com", "driver-pass-1").await;
    let handover = format!("/api/v1/deliveries/{delivery}/handover");
    for (body, want) in [(json!({ "code": "12ab" }), "validation"), (json!({ "code": code, "tip": 5 }), "invalid_body")]
    {
        let (s, v) = api.call(Method::POST, &fay_token, &handover, Some(body)).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(want)), "{v}");
    }
    let d = api.ok(Method::GET, &admin, &format!("/api/v1/deliveries/{delivery}"), None).await;
    assert_eq!((d["code_attempts"].as_u64(), d["status"].as_str()), (Some(0), Some("near_dropoff")));
    fay.type_line(&format!("code {job} {wrong}"));
    fay.shows("wrong code, 4 tries left");
    assert_eq!(counter(api, "patty_cloud_device_messages_rejected_total{reason=\"wrong_code\"}").await, 1);
    fay.type_line(&format!("code {job} {code}"));
    fay.shows(&format!("job {job} delivered"));
    let done = cloud.delivery_reaches(&delivery, "delivered").await;
    let milestones: Vec<&str> =
        done["milestones"].as_array().unwrap().iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(milestones, ["waiting", "assigned", "at_pickup", "picked_up", "near_dropoff", "delivered"]);
    let o = api.ok(Method::GET, &ada, &format!("/api/v1/orders/{order}"), None).await;
    assert_eq!(o["status"], "completed");
    live.until(Duration::from_secs(30), |name, data| name == "status" && data["status"] == "delivered").await;
    // Ada heard of it: on its way, with the tracking link and her code; then delivered. Fay, who
    // took the job, had its offer in her inbox.
    let templates = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["template"].as_str().unwrap().to_owned()).collect()
    };
    let inbox = eventually("Ada's delivery news", 30, || async {
        let v = api.ok(Method::GET, &ada, "/api/v1/me/notifications", None).await;
        let t = templates(&v);
        (t.iter().any(|t| t == "order.out_for_delivery") && t.iter().any(|t| t == "order.delivered")).then_some(v)
    })
    .await;
    let on_its_way =
        inbox["items"].as_array().unwrap().iter().find(|i| i["template"] == "order.out_for_delivery").unwrap();
    let body = on_its_way["body"].as_str().unwrap();
    assert!(body.contains(&code) && body.contains(&format!("/track/{order}")), "{on_its_way}");
    let offers = api.ok(Method::GET, &fay_token, "/api/v1/me/notifications", None).await;
    let offer = offers["items"].as_array().unwrap().iter().find(|i| i["template"] == "driver.new_offer");
    let offer = offer.unwrap_or_else(|| panic!("Fay's offer: {offers}"));
    assert!(offer["title"].as_str().unwrap().contains(&format!("#{job}")), "{offer}");
    // A code after the end changes nothing.
    let (s, _) = api
        .call(
            Method::POST,
            &fay_token,
            &format!("/api/v1/deliveries/{delivery}/handover"),
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The route replays in order; its events are the audit trail.
    let (_, seqs, kinds) = delivered_route(api, &ada, &delivery).await;
    assert!(seqs.len() >= 8 && seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for kind in [
        "delivery.created",
        "delivery.declined",
        "delivery.offer_expired",
        "delivery.assigned",
        "delivery.handover_failed",
        "delivery.delivered",
        "geofence.entered",
        "delivery.eta",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }

    // Kafka, read by an independent client: the status events in order in the delivery's
    // partition, the geofence alerts, and the fixes keyed by the delivery.
    let expected = [
        "delivery.created",
        "delivery.offered",
        "delivery.declined",
        "delivery.offered",
        "delivery.offer_expired",
        "delivery.offered",
        "delivery.assigned",
        "delivery.at_pickup",
        "delivery.picked_up",
        "delivery.near_dropoff",
        "delivery.handover_failed",
        "delivery.delivered",
    ];
    let records = kafka.consume(&[Topic::DeliveryStatus.name()], expected.len(), 60);
    let got: Vec<&str> = records.iter().map(|r| r["value"]["kind"].as_str().unwrap()).collect();
    assert_eq!(got, expected);
    assert!(records.iter().all(|r| r["key"] == delivery.as_str()));
    let alerts = kafka.consume(&["delivery.geofence.alerts"], 2, 60);
    let zones: Vec<&str> = alerts
        .iter()
        .filter(|r| r["key"] == delivery.as_str() && r["value"]["kind"] == "geofence.entered")
        .map(|r| r["value"]["data"]["zone_kind"].as_str().unwrap())
        .collect();
    assert!(zones.contains(&"pickup") && zones.contains(&"dropoff"), "{alerts:?}");
    // Dee's and Eve's first fixes, Fay's nine (the stray one was refused).
    let fixes = kafka.consume(&["delivery.location.updates"], 11, 60);
    let on_job: Vec<u64> =
        fixes.iter().filter(|r| r["key"] == delivery.as_str()).map(|r| r["value"]["seq"].as_u64().unwrap()).collect();
    assert_eq!(on_job, seqs, "the delivery's fixes, in order, in one partition");

    // Bad input on the other new endpoints: a clear error, nothing written.
    let (s, v) = api.call(Method::GET, &admin, "/api/v1/deliveries?scope=yesterday", None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{v}");
    for bad in [
        json!({ "name": "Dam", "ring": [[4.89, 52.37], [4.90, 52.37]] }),
        json!({ "name": "Dam", "ring": [[4.89, 52.37], [4.90, 52.37], [4.90, 95.0]] }),
        json!({ "name": " ", "ring": [[4.89, 52.37], [4.90, 52.37], [4.90, 52.38]] }),
    ] {
        let (s, v) = api.call(Method::POST, &admin, "/api/v1/restricted-areas", Some(bad)).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation")), "{v}");
    }
    let (s, _) =
        api.call(Method::POST, &dee, "/api/v1/restricted-areas", Some(json!({ "name": "x", "ring": [] }))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(api.ok(Method::GET, &admin, "/api/v1/restricted-areas", None).await, json!([]));
    let area = json!({ "name": "Dam Square", "ring": [[4.8920, 52.3728], [4.8935, 52.3728], [4.8935, 52.3734], [4.8920, 52.3734]] });
    api.ok(Method::POST, &admin, "/api/v1/restricted-areas", Some(area)).await;
    assert_eq!(api.ok(Method::GET, &admin, "/api/v1/restricted-areas", None).await.as_array().unwrap().len(), 1);
}

/// The same path on embedded defaults: no Kafka, the cloud's own broker. The route replays from
/// what the cloud kept itself (its fixes and its event log), and the fleet's live stream is
/// scoped: the outlet's manager sees the driver on the outlet's delivery and not a driver who is
/// on none; another outlet's manager sees neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_kafka_the_route_replays_and_each_outlet_sees_only_its_drivers() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Cloud::start(dir.path(), CloudOptions::default()).await;
    let (api, admin, broker_port) = (&cloud.api, cloud.admin.clone(), cloud.mqtt_port);
    let (outlet, elsewhere) = (cloud.outlet().await, cloud.outlet().await);
    let burger = sample_item("Classic Patty");
    let mut managers = vec![];
    for (name, at) in [("mia", &outlet), ("max", &elsewhere)] {
        let email = format!("{name}@example.com");
        let body = json!({ "email": email, "password": "manager-pass-1", "name": name, "role": "outlet_manager", "outlet_id": at });
        api.ok(Method::POST, &admin, "/api/v1/users", Some(body)).await;
        managers.push(api.login(&email, "manager-pass-1").await);
    }
    // Fay (the agent) near the outlet; Gus, online 5 km away, is on no delivery.
    let (fay_id, fay_device) = cloud.driver("fay").await;
    let (gus_id, gus_device) = cloud.driver("gus").await;
    let mut fay = Agent::start(&fay_device, broker_port, dir.path());
    fay.at(north(OUTLET, 300.0));
    let (gus, mut events) =
        AsyncClient::builder(MqttOptions::new("gus", ("127.0.0.1", broker_port))).capacity(10).build();
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    gus.publish(topic(&gus_device, "status"), "online", rumqttc::PublishOptions::new(QoS::AtLeastOnce).retained())
        .await
        .unwrap();
    let gus_fix = |seq: u32| Fix {
        seq,
        time_s: now_s() - 5,
        lat_u: micro(north(OUTLET, 5_000.0).0),
        lon_u: micro(OUTLET.1),
        accuracy_m: 5,
        speed_dms: 0,
        heading_deg: 0,
        battery_pct: 90,
        job: None,
    };
    gus.publish(topic(&gus_device, "fix"), gus_fix(1).encode(), rumqttc::PublishOptions::new(QoS::AtLeastOnce))
        .await
        .unwrap();
    cloud.drivers_online(2).await;

    let ada = cloud.customer("ada").await;
    let order = ready_order(api, &admin, &ada, &outlet, &burger).await;
    let ada = ada.0;
    let (delivery, job, code) = delivery_of(api, &ada, &order).await;
    // An online order's code is its customer's alone, even to the outlet preparing it.
    let (s, v) = api.call(Method::GET, &managers[0], &format!("/api/v1/orders/{order}/delivery"), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{v}");
    fay.shows(&format!("offer job {job}"));
    fay.type_line(&format!("accept {job}"));
    fay.shows(&format!("job {job} is yours"));

    // Everyone follows the fleet; then Gus reports, and after him Fay, on the job.
    let follow = |token: &str| {
        let r = api.http.get(format!("{}/api/v1/fleet/live", api.base)).bearer_auth(token).send();
        async move { SseReader::new(r.await.unwrap()) }
    };
    let (mut hq, mut mia, mut max) = (follow(&admin).await, follow(&managers[0]).await, follow(&managers[1]).await);
    gus.publish(topic(&gus_device, "fix"), gus_fix(2).encode(), rumqttc::PublishOptions::new(QoS::AtLeastOnce))
        .await
        .unwrap();
    hq.until(Duration::from_secs(30), |name, d| {
        name == "position" && d["position"]["device_id"] == gus_device.as_str()
    })
    .await;
    fay.at(north(OUTLET, 150.0));
    let fay_on_job = |name: &str, d: &Value| name == "position" && d["position"]["job"] == job;
    hq.until(Duration::from_secs(30), fay_on_job).await;
    // The broadcast is one sequence: Gus's fix came before Fay's, so by Fay's, the manager's
    // stream has passed over Gus's.
    let fay_seen = mia
        .until(Duration::from_secs(30), |name, d| {
            let done = fay_on_job(name, d);
            if !done && name == "position" {
                assert_ne!(d["position"]["driver_id"], gus_id.as_str(), "a driver on no delivery of the outlet's");
            }
            done
        })
        .await;
    assert_eq!(fay_seen["position"]["driver_id"], fay_id.as_str());
    // The other outlet's manager gets nothing of either, in the time the others got both.
    let other = tokio::time::timeout(Duration::from_secs(2), max.next(Duration::from_secs(3))).await;
    assert!(other.is_err(), "another outlet's manager saw {other:?}");

    // To the outlet, the food on board, to the door, the code.
    for m in [60.0, 20.0] {
        fay.at(north(OUTLET, m));
    }
    cloud.delivery_reaches(&delivery, "at_pickup").await;
    fay.type_line(&format!("picked {job}"));
    cloud.delivery_reaches(&delivery, "picked_up").await;
    for f in [0.5, 0.9, 1.0] {
        fay.at(toward(f));
    }
    fay.shows(&format!("job {job}: at the door"));
    fay.type_line(&format!("code {job} {code}"));
    fay.shows(&format!("job {job} delivered"));

    // The route, from what the cloud kept itself.
    let (route, seqs, kinds) = delivered_route(api, &ada, &delivery).await;
    assert!(seqs.len() >= 6 && seqs.windows(2).all(|w| w[0] < w[1]), "the job's fixes, in order: {seqs:?}");
    assert!(route["fixes"].as_array().unwrap().iter().all(|f| f["job"] == job), "{route}");
    let expected = ["delivery.created", "delivery.assigned", "delivery.at_pickup", "delivery.picked_up"];
    let at: Vec<usize> = expected
        .iter()
        .map(|k| kinds.iter().position(|x| x == k).unwrap_or_else(|| panic!("{k} in {kinds:?}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "in the order they happened: {kinds:?}");
    assert!(["geofence.entered", "delivery.near_dropoff"].iter().all(|k| kinds.iter().any(|x| x == k)), "{kinds:?}");
}
