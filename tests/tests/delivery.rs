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
use patty_tests::fixtures::eventually;
use patty_tests::kafka::Broker;
use patty_tests::mqtt::Mosquitto;
use patty_tests::process::workspace_binary;
use patty_tests::sse::SseReader;
use reqwest::{Method, StatusCode};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const ADMIN: &str = "hq@pattypalace.example";
const PASSWORD: &str = "correct horse battery";
/// The sample outlet's position.
const OUTLET: (f64, f64) = (52.3740, 4.8930);
/// The customer's address, about 1.1 km north-east.
const HOME: (f64, f64) = (52.3800, 4.9050);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn now_s() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32
}

/// A point `m` metres north of `p`.
fn north(p: (f64, f64), m: f64) -> (f64, f64) {
    (p.0 + m / 111_320.0, p.1)
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: Method, token: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: Method, token: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, token, path, body).await;
        assert!(s.is_success(), "{path}: {s}: {v}");
        v
    }

    async fn login(&self, email: &str, password: &str) -> String {
        let v = self
            .ok(Method::POST, "", "/api/v1/auth/login", Some(json!({ "email": email, "password": password })))
            .await;
        v["access_token"].as_str().unwrap().to_owned()
    }

    async fn counter(&self, name: &str) -> u64 {
        let text = self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    }
}

/// The driver agent with its console on pipes.
struct Agent {
    child: Killed,
    lines: mpsc::Receiver<String>,
    time_s: u32,
}

impl Agent {
    fn start(device: &str, broker_port: u16, dir: &std::path::Path) -> Self {
        let mut child = Command::new(workspace_binary("patty-driver"))
            .args(["--device", device, "--broker", &format!("127.0.0.1:{broker_port}"), "--source", "stdin"])
            .args(["--interval", "1", "--buffer"])
            .arg(dir.join(format!("{device}.db")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child: Killed(child), lines, time_s: now_s() - 600 }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.child.0.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Reports a position, moving at 5 m/s, 15 s after the last.
    fn at(&mut self, p: (f64, f64)) {
        self.time_s += 15;
        let line =
            json!({ "lat": p.0, "lon": p.1, "accuracy": 5.0, "speed": 5.0, "heading": 10.0, "time": self.time_s });
        self.type_line(&line.to_string());
    }

    /// The next line on the console containing `text`; panics after 30 s.
    fn shows(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("the agent never showed {text:?}"),
            }
        }
    }
}

/// Registers the sample outlet `outlet` (HQ) and publishes the sample menu; returns the Classic
/// Patty's item id.
async fn outlet_with_menu(api: &Api, admin: &str, outlet: &str) -> Value {
    api.ok(Method::POST, admin, "/api/v1/outlets", Some(patty_tests::fixtures::outlet(outlet))).await;
    let seed: Value = serde_json::from_str(include_str!("../../outlet-edge/sample/seed.json")).unwrap();
    api.ok(Method::PUT, admin, "/api/v1/catalog/draft", Some(json!({ "menu": seed["menu"] }))).await;
    api.ok(Method::POST, admin, "/api/v1/catalog/publish", Some(json!({}))).await;
    seed["menu"]["items"].as_array().unwrap().iter().find(|i| i["name"] == "Classic Patty").unwrap()["id"].clone()
}

/// A driver `name` (password `driver-pass-1`) with a device key: (user id, device id).
async fn driver(api: &Api, admin: &str, name: &str) -> (String, String) {
    let email = format!("{name}@example.com");
    let body = json!({ "email": email, "password": "driver-pass-1", "name": name, "role": "driver" });
    let user = api.ok(Method::POST, admin, "/api/v1/users", Some(body)).await;
    let body = json!({ "kind": "device", "subject": user["id"], "name": format!("{name}'s phone") });
    let key = api.ok(Method::POST, admin, "/api/v1/api-keys", Some(body)).await;
    (user["id"].as_str().unwrap().to_owned(), key["api_key"]["id"].as_str().unwrap().to_owned())
}

/// A customer who registered themselves; their token.
async fn customer(api: &Api, name: &str) -> String {
    let body = json!({ "email": format!("{name}@example.com"), "password": "s3cret-pass", "name": name });
    let reg = api.ok(Method::POST, "", "/api/v1/auth/register", Some(body)).await;
    reg["access_token"].as_str().unwrap().to_owned()
}

/// A delivery order of one `item` to HOME by `customer`, taken to `ready` at `outlet`; its id.
async fn ready_order(api: &Api, admin: &str, customer: &str, outlet: &str, item: &Value) -> String {
    let address = json!({ "label": "home", "line1": "Prins Hendrikkade 1", "city": "Amsterdam", "postcode": "1012", "position": { "lat": HOME.0, "lon": HOME.1 } });
    let home = api.ok(Method::POST, customer, "/api/v1/me/addresses", Some(address)).await;
    let r = api
        .http
        .post(format!("{}/api/v1/orders", api.base))
        .bearer_auth(customer)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&json!({ "outlet_id": outlet, "fulfilment": "delivery", "address_id": home["id"], "lines": [{ "item_id": item, "quantity": 1 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for status in ["accepted", "preparing", "ready"] {
        let path = format!("/api/v1/outlets/{outlet}/orders/{order}/status");
        api.ok(Method::POST, admin, &path, Some(json!({ "status": status }))).await;
    }
    order
}

/// Waits until `n` drivers are online with a position, as HQ sees the fleet.
async fn drivers_online(api: &Api, admin: &str, n: usize) {
    eventually(&format!("{n} drivers online with a position"), 30, || async {
        let v = api.ok(Method::GET, admin, "/api/v1/fleet/positions", None).await;
        (v.as_array().unwrap().iter().filter(|p| p["online"] == true).count() == n).then_some(())
    })
    .await;
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

/// The delivery once HQ sees it in status `want`; panics after 30 s.
async fn reaches(api: &Api, admin: &str, delivery: &str, want: &str) -> Value {
    eventually(want, 30, || async {
        let v = api.ok(Method::GET, admin, &format!("/api/v1/deliveries/{delivery}"), None).await;
        (v["status"] == want).then_some(v)
    })
    .await
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
    (OUTLET.0 + (HOME.0 - OUTLET.0) * f, OUTLET.1 + (HOME.1 - OUTLET.1) * f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_goes_from_ready_to_the_door_with_its_code() {
    let mqtt = Mosquitto::start(free_port());
    let kafka = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
        ("PATTY_HTTP__RATE_PER_MINUTE", "100000".into()),
        ("PATTY_MQTT__URL", mqtt.url()),
        ("PATTY_DELIVERY__OFFER_TIMEOUT_SECS", "2".into()),
    ];
    let args = ["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap(), "--kafka-brokers", &kafka.addr];
    let (cloud, base) = patty_tests::spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
    let _cloud = Killed(cloud);
    let api = Api { http: reqwest::Client::new(), base };
    let admin = api.login(ADMIN, PASSWORD).await;

    // The outlet and its menu.
    let outlet = uuid::Uuid::now_v7().to_string();
    let burger = outlet_with_menu(&api, &admin, &outlet).await;

    // Three drivers with a device each: Dee (nearest, answers over HTTP), Eve (next, silent),
    // Fay (farthest, the agent).
    let mut drivers = vec![];
    for name in ["dee", "eve", "fay"] {
        drivers.push(driver(&api, &admin, name).await);
    }
    let (dee_device, eve_device, fay_device) = (drivers[0].1.clone(), drivers[1].1.clone(), drivers[2].1.clone());
    let dee = api.login("dee@example.com", "driver-pass-1").await;

    // Dee's and Eve's phones are plain MQTT clients here.
    let mut opts = MqttOptions::new("phones", "127.0.0.1", mqtt.port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (phones, mut events) = AsyncClient::new(opts, 100);
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
        phones.publish(topic(device, "status"), QoS::AtLeastOnce, true, "online").await.unwrap();
        phones
            .publish(topic(device, "fix"), QoS::AtLeastOnce, false, fix(1, north(OUTLET, metres), None).encode())
            .await
            .unwrap();
    }
    let mut fay = Agent::start(&fay_device, mqtt.port, dir.path());
    fay.at(north(OUTLET, 900.0));
    drivers_online(&api, &admin, 3).await;

    // A customer orders a delivery; the outlet takes it to ready.
    let ada = customer(&api, "ada").await;
    let bob = customer(&api, "bob").await;
    let order = ready_order(&api, &admin, &ada, &outlet, &burger).await;

    // The delivery exists; the customer sees it with the code, another customer does not.
    let (delivery, job, code) = delivery_of(&api, &ada, &order).await;
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
        let (api, admin, delivery) = (&api, &admin, &delivery);
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
    let assigned = reaches(&api, &admin, &delivery, "assigned").await;
    assert_eq!(assigned["driver_id"], drivers[2].0.as_str());
    assert_eq!(assigned["passed"], json!([drivers[0].0, drivers[1].0]));
    // Dee, who declined, no longer sees it; Fay does.
    let (s, _) = api.call(Method::GET, &dee, &format!("/api/v1/deliveries/{delivery}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api.call(Method::GET, &dee, "/api/v1/fleet/positions", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the fleet's positions are HQ's");

    // A fix naming the job from Eve's phone is refused.
    phones
        .publish(topic(&eve_device, "fix"), QoS::AtLeastOnce, false, fix(2, OUTLET, Some(job as u32)).encode())
        .await
        .unwrap();
    eventually("the stray fix refused", 30, || async {
        (api.counter("patty_cloud_device_messages_rejected_total{reason=\"not_on_delivery\"}").await == 1).then_some(())
    })
    .await;

    // Fay drives to the outlet: at pickup; then confirms the food.
    for m in [600.0, 300.0, 120.0, 20.0] {
        fay.at(north(OUTLET, m));
    }
    let at_pickup = reaches(&api, &admin, &delivery, "at_pickup").await;
    assert!(at_pickup["eta_dropoff_s"].as_u64().unwrap() > 0);
    let seen =
        live.until(Duration::from_secs(30), |name, data| name == "position" && data["eta_pickup_s"].is_u64()).await;
    assert_eq!(seen["position"]["job"], job);
    let hq_saw =
        fleet.until(Duration::from_secs(30), |name, data| name == "position" && data["position"]["job"] == job).await;
    assert_eq!(hq_saw["position"]["driver_id"], drivers[2].0.as_str());
    fay.type_line(&format!("picked {job}"));
    reaches(&api, &admin, &delivery, "picked_up").await;
    let o = api.ok(Method::GET, &ada, &format!("/api/v1/orders/{order}"), None).await;
    assert_eq!(o["status"], "out_for_delivery");

    // To the door: near drop-off, and the agent asks for the code.
    for f in [0.3, 0.6, 0.9, 1.0] {
        fay.at(toward(f));
    }
    fay.shows(&format!("job {job}: at the door"));
    reaches(&api, &admin, &delivery, "near_dropoff").await;
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
    assert_eq!(api.counter("patty_cloud_device_messages_rejected_total{reason=\"wrong_code\"}").await, 1);
    fay.type_line(&format!("code {job} {code}"));
    fay.shows(&format!("job {job} delivered"));
    let done = reaches(&api, &admin, &delivery, "delivered").await;
    let milestones: Vec<&str> =
        done["milestones"].as_array().unwrap().iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(milestones, ["waiting", "assigned", "at_pickup", "picked_up", "near_dropoff", "delivered"]);
    let o = api.ok(Method::GET, &ada, &format!("/api/v1/orders/{order}"), None).await;
    assert_eq!(o["status"], "completed");
    live.until(Duration::from_secs(30), |name, data| name == "status" && data["status"] == "delivered").await;
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
    let (_, seqs, kinds) = delivered_route(&api, &ada, &delivery).await;
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
    let records = kafka.consume(&["delivery.status.events"], expected.len(), 60);
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
    let envs = [
        ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
        ("PATTY_HTTP__RATE_PER_MINUTE", "100000".into()),
        ("PATTY_MQTT__EMBEDDED_LISTEN", format!("127.0.0.1:{}", free_port())),
    ];
    let args = ["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()];
    let (cloud, base) = patty_tests::spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
    let _cloud = Killed(cloud);
    let api = Api { http: reqwest::Client::new(), base };
    let health = api.ok(Method::GET, "", "/healthz", None).await;
    let broker_port: u16 = health["mqtt"].as_str().unwrap().rsplit_once(':').unwrap().1.parse().unwrap();
    let admin = api.login(ADMIN, PASSWORD).await;
    let (outlet, elsewhere) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
    let burger = outlet_with_menu(&api, &admin, &outlet).await;
    api.ok(Method::POST, &admin, "/api/v1/outlets", Some(patty_tests::fixtures::outlet(&elsewhere))).await;
    let mut managers = vec![];
    for (name, at) in [("mia", &outlet), ("max", &elsewhere)] {
        let email = format!("{name}@example.com");
        let body = json!({ "email": email, "password": "manager-pass-1", "name": name, "role": "outlet_manager", "outlet_id": at });
        api.ok(Method::POST, &admin, "/api/v1/users", Some(body)).await;
        managers.push(api.login(&email, "manager-pass-1").await);
    }
    // Fay (the agent) near the outlet; Gus, online 5 km away, is on no delivery.
    let (fay_id, fay_device) = driver(&api, &admin, "fay").await;
    let (gus_id, gus_device) = driver(&api, &admin, "gus").await;
    let mut fay = Agent::start(&fay_device, broker_port, dir.path());
    fay.at(north(OUTLET, 300.0));
    let (gus, mut events) = AsyncClient::new(MqttOptions::new("gus", "127.0.0.1", broker_port), 10);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    gus.publish(topic(&gus_device, "status"), QoS::AtLeastOnce, true, "online").await.unwrap();
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
    gus.publish(topic(&gus_device, "fix"), QoS::AtLeastOnce, false, gus_fix(1).encode()).await.unwrap();
    drivers_online(&api, &admin, 2).await;

    let ada = customer(&api, "ada").await;
    let order = ready_order(&api, &admin, &ada, &outlet, &burger).await;
    let (delivery, job, code) = delivery_of(&api, &ada, &order).await;
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
    gus.publish(topic(&gus_device, "fix"), QoS::AtLeastOnce, false, gus_fix(2).encode()).await.unwrap();
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
    reaches(&api, &admin, &delivery, "at_pickup").await;
    fay.type_line(&format!("picked {job}"));
    reaches(&api, &admin, &delivery, "picked_up").await;
    for f in [0.5, 0.9, 1.0] {
        fay.at(toward(f));
    }
    fay.shows(&format!("job {job}: at the door"));
    fay.type_line(&format!("code {job} {code}"));
    fay.shows(&format!("job {job} delivered"));

    // The route, from what the cloud kept itself.
    let (route, seqs, kinds) = delivered_route(&api, &ada, &delivery).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_order_taken_at_the_counter_goes_to_the_door_with_the_code_the_outlet_gives() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
        ("PATTY_HTTP__RATE_PER_MINUTE", "100000".into()),
        ("PATTY_MQTT__EMBEDDED_LISTEN", format!("127.0.0.1:{}", free_port())),
    ];
    let cloud_dir = dir.path().join("cloud");
    let args = ["--listen", "127.0.0.1:0", "--data-dir", cloud_dir.to_str().unwrap()];
    let (cloud, base) = patty_tests::spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
    let _cloud = Killed(cloud);
    let api = Api { http: reqwest::Client::new(), base };
    let health = api.ok(Method::GET, "", "/healthz", None).await;
    let broker_port: u16 = health["mqtt"].as_str().unwrap().rsplit_once(':').unwrap().1.parse().unwrap();
    let admin = api.login(ADMIN, PASSWORD).await;
    let outlet = uuid::Uuid::now_v7().to_string();
    let burger = outlet_with_menu(&api, &admin, &outlet).await;
    let body = json!({ "kind": "edge", "subject": outlet, "name": "edge" });
    let key = api.ok(Method::POST, &admin, "/api/v1/api-keys", Some(body)).await["secret"].as_str().unwrap().to_owned();

    // The outlet's edge, linked to the cloud, charging 2.50 for a delivery.
    let edge_dir = dir.path().join("edge");
    let envs = [
        ("PATTY_OUTLET__ID", outlet.clone()),
        ("PATTY_OUTLET__DELIVERY_FEE", "250".into()),
        ("PATTY_CLOUD__URL", api.base.clone()),
        ("PATTY_CLOUD__API_KEY", key),
    ];
    let args = ["--listen", "127.0.0.1:0", "--data-dir", edge_dir.to_str().unwrap()];
    let (edge, edge_base) = patty_tests::spawn_service(&workspace_binary("patty-edge"), &args, &envs);
    let _edge = Killed(edge);
    let till = Api { http: reqwest::Client::new(), base: edge_base };
    let cashier = patty_tests::fixtures::pin_session(&till.http, &till.base, "1111").await;
    let kitchen = patty_tests::fixtures::pin_session(&till.http, &till.base, "2222").await;

    // A customer phones: the cashier takes the address with its map position.
    let to = json!({ "line1": "Prins Hendrikkade 1", "city": "Amsterdam", "postcode": "1012", "position": { "lat": HOME.0, "lon": HOME.1 } });
    let r = till
        .http
        .post(format!("{}/api/v1/orders", till.base))
        .bearer_auth(&cashier)
        .header("idempotency-key", "phone-0001")
        .json(&json!({ "channel": "phone", "fulfilment": "delivery", "delivery_address": to, "lines": [{ "item_id": burger, "quantity": 2 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["delivery_fee"], 250);
    assert_eq!(order["total"], order["subtotal"].as_i64().unwrap() + 250, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let receipt = till.ok(Method::GET, &cashier, &format!("/api/v1/orders/{id}/receipt"), None).await;
    assert!(receipt["text"].as_str().unwrap().contains("Deliver to Prins Hendrikkade 1, 1012 Amsterdam"), "{receipt}");
    // Before it is ready, the cloud has nothing to dispatch.
    let (s, v) = till.call(Method::GET, &cashier, &format!("/api/v1/orders/{id}/delivery"), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");

    // Fay, the agent, waits near the outlet; the kitchen makes the order.
    let (_, fay_device) = driver(&api, &admin, "fay").await;
    let mut fay = Agent::start(&fay_device, broker_port, dir.path());
    fay.at(north(OUTLET, 300.0));
    drivers_online(&api, &admin, 1).await;
    for status in ["preparing", "ready"] {
        till.ok(Method::POST, &kitchen, &format!("/api/v1/orders/{id}/status"), Some(json!({ "status": status })))
            .await;
    }

    // The cloud dispatches it once the ready order has synced; the till reads the code out.
    let mine = eventually("the counter order's delivery at the till", 30, || async {
        let (s, v) = till.call(Method::GET, &cashier, &format!("/api/v1/orders/{id}/delivery"), None).await;
        (s == StatusCode::OK).then_some(v)
    })
    .await;
    let (job, code) = (mine["job"].as_u64().unwrap(), mine["handover_code"].as_str().unwrap().to_owned());
    assert_eq!(mine["status"], "waiting", "{mine}");
    fay.shows(&format!("offer job {job}"));
    fay.type_line(&format!("accept {job}"));
    fay.shows(&format!("job {job} is yours"));
    for m in [150.0, 60.0, 20.0] {
        fay.at(north(OUTLET, m));
    }
    reaches(&api, &admin, mine["id"].as_str().unwrap(), "at_pickup").await;
    fay.type_line(&format!("picked {job}"));
    for f in [0.5, 0.9, 1.0] {
        fay.at(toward(f));
    }
    fay.shows(&format!("job {job}: at the door"));
    fay.type_line(&format!("code {job} {code}"));
    fay.shows(&format!("job {job} delivered"));

    // The till sees it delivered, and HQ sees the order completed.
    eventually("delivered, at the till", 30, || async {
        let (s, v) = till.call(Method::GET, &cashier, &format!("/api/v1/orders/{id}/delivery"), None).await;
        (s == StatusCode::OK && v["status"] == "delivered").then_some(())
    })
    .await;
    let done = api.ok(Method::GET, &admin, &format!("/api/v1/orders/{id}"), None).await;
    assert_eq!((done["status"].as_str(), done["channel"].as_str()), (Some("completed"), Some("phone")), "{done}");
}
