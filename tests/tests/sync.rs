//! Sync end to end with the real binaries: a cloud (SQLite or PostgreSQL) and an outlet's edge,
//! each killed with SIGKILL at the worst moments, and a link cut while a customer's cancel races
//! the kitchen. After healing, both sides hold the same orders, tenders and stock, and the
//! conflicts are listed on both sides.

use patty_tests::chain::{Api, CuttableLink, free_port};
use patty_tests::postgres::postgres_schema;
use patty_tests::process::workspace_binary;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::time::Duration;

const ADMIN: &str = "hq@pattypalace.example";
const PASSWORD: &str = "correct horse battery";
const MANAGER_PIN: &str = "1234";
const CASHIER_PIN: &str = "1111";

use patty_tests::fixtures::eventually;

struct Proc {
    child: Child,
    base: String,
}

impl Proc {
    fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_cloud(dir: &std::path::Path, port: u16, database_url: &str) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--listen", &listen, "--data-dir", dir.to_str().unwrap()];
    if !database_url.is_empty() {
        args.extend(["--database-url", database_url]);
    }
    let envs = [
        ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
        ("PATTY_HTTP__RATE_PER_MINUTE", "100000".into()),
        ("PATTY_HTTP__RATE_BURST", "10000".into()),
    ];
    let (child, base) = patty_tests::spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
    Proc { child, base }
}

fn start_edge(dir: &std::path::Path, outlet: &str, cloud: &str, key: &str) -> Proc {
    let envs = [
        ("PATTY_OUTLET__ID", outlet.to_owned()),
        ("PATTY_CLOUD__URL", cloud.to_owned()),
        ("PATTY_CLOUD__API_KEY", key.to_owned()),
    ];
    let args = ["--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()];
    let (child, base) = patty_tests::spawn_service(&workspace_binary("patty-edge"), &args, &envs);
    Proc { child, base }
}

/// A cloud with one outlet, its catalog published from the sample menu, and that outlet's edge
/// synced to it.
struct Chain {
    _cloud_dir: tempfile::TempDir,
    edge_dir: tempfile::TempDir,
    cloud: Proc,
    cloud_port: u16,
    database_url: String,
    edge: Proc,
    hq: Api,
    admin: String,
    outlet: String,
    key: String,
}

impl Chain {
    /// `via` maps the cloud's address to the one the edge is given (a cuttable link, or itself).
    async fn start(postgres: bool, via: impl FnOnce(u16) -> String) -> Self {
        let cloud_dir = tempfile::tempdir().unwrap();
        let edge_dir = tempfile::tempdir().unwrap();
        let database_url = if postgres { postgres_schema().await } else { String::new() };
        let cloud_port = free_port();
        let cloud = start_cloud(cloud_dir.path(), cloud_port, &database_url);
        let hq = Api::new(&cloud.base);
        let (_, login) = hq.post("", "/api/v1/auth/login", json!({ "email": ADMIN, "password": PASSWORD })).await;
        let admin = login["access_token"].as_str().expect("admin signs in").to_owned();
        let outlet = uuid::Uuid::now_v7().to_string();
        hq.post_ok(&admin, "/api/v1/outlets", patty_tests::fixtures::outlet(&outlet)).await;
        let key = hq
            .post_ok(&admin, "/api/v1/api-keys", json!({ "kind": "edge", "subject": outlet, "name": "edge" }))
            .await["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let seed: Value =
            serde_json::from_str(include_str!("../../outlet-edge/sample/seed.json")).expect("sample seed");
        let (s, v) =
            hq.call(reqwest::Method::PUT, &admin, "/api/v1/catalog/draft", Some(json!({ "menu": seed["menu"] }))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        hq.post_ok(&admin, "/api/v1/catalog/publish", json!({})).await;
        let edge = start_edge(edge_dir.path(), &outlet, &via(cloud_port), &key);
        let chain =
            Self { _cloud_dir: cloud_dir, edge_dir, cloud, cloud_port, database_url, edge, hq, admin, outlet, key };
        let status = chain
            .edge_status_when("the first catalog and an open link", |s| {
                s["catalog_version"] == 1 && s["link"] == "online"
            })
            .await;
        assert_eq!(status["enabled"], true);
        chain
    }

    fn edge_api(&self) -> Api {
        Api::new(&self.edge.base)
    }

    async fn edge_login(&self, pin: &str) -> String {
        let edge = self.edge_api();
        patty_tests::fixtures::pin_session(&edge.http, &edge.base, pin).await
    }

    async fn edge_status_when(&self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let api = self.edge_api();
        let token = self.edge_login(MANAGER_PIN).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (s, v) = api.call(reqwest::Method::GET, &token, "/api/v1/sync/status", None).await;
            if s == StatusCode::OK && cond(&v) {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}; last status {s}: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the cloud has applied the edge's whole log and the edge knows it.
    async fn converged(&self) -> Value {
        let status = self
            .edge_status_when("the edge's log to be acknowledged", |s| s["pending"] == 0 && s["link"] == "online")
            .await;
        let through = self
            .hq
            .get(&self.admin, "/api/v1/sync/outlets")
            .await
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["outlet_id"] == self.outlet.as_str())
            .expect("the outlet's cursor")["applied_through"]
            .clone();
        assert_eq!(through, status["last_seq"], "the cloud applied exactly the edge's log");
        status
    }

    /// Sells `n` bottles of water, one order each, paid in cash.
    async fn sell_water(&self, cashier: &str, n: usize, tag: &str) -> Vec<String> {
        let api = self.edge_api();
        let water = self.item("Water").await;
        let mut ids = Vec::new();
        for i in 0..n {
            let body = json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [{ "item_id": water, "quantity": 1 }] });
            let r = api
                .http
                .post(format!("{}/api/v1/orders", api.base))
                .bearer_auth(cashier)
                .header("idempotency-key", format!("{tag}-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
            api.post_ok(cashier, &format!("/api/v1/orders/{id}/tenders"), json!({ "method": "cash", "tendered": 500 }))
                .await;
            ids.push(id);
        }
        ids
    }

    async fn item(&self, name: &str) -> String {
        let token = self.edge_login(MANAGER_PIN).await;
        let menu = self.edge_api().get(&token, "/api/v1/menu").await;
        let items = menu["items"].as_array().unwrap();
        items.iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name} on the menu"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Checks that the cloud holds exactly the edge's orders (each once, same status and paid
    /// amount) and the same stock per ingredient.
    async fn assert_same_state(&self) {
        let manager = self.edge_login(MANAGER_PIN).await;
        let edge = self.edge_api();
        let edge_orders = edge.get(&manager, "/api/v1/orders?limit=500").await;
        let cloud_orders = self.hq.get(&self.admin, &format!("/api/v1/outlets/{}/orders?limit=500", self.outlet)).await;
        let view = |v: &Value| -> BTreeMap<String, (String, i64)> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    (
                        o["id"].as_str().unwrap().to_owned(),
                        (o["status"].as_str().unwrap().to_owned(), o["paid"].as_i64().unwrap()),
                    )
                })
                .collect()
        };
        assert_eq!(cloud_orders.as_array().unwrap().len(), view(&cloud_orders).len(), "no order twice in the cloud");
        assert_eq!(view(&cloud_orders), view(&edge_orders), "the same orders, statuses and payments on both sides");
        self.assert_stock_equal().await;
    }

    /// Checks that the cloud's stock per ingredient is the edge's.
    async fn assert_stock_equal(&self) {
        let manager = self.edge_login(MANAGER_PIN).await;
        let edge = self.edge_api();
        let edge_stock: BTreeMap<String, i64> = edge
            .get(&manager, "/api/v1/inventory")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["ingredient"]["id"].as_str().unwrap().to_owned(), l["on_hand"].as_i64().unwrap()))
            .collect();
        let cloud_stock: BTreeMap<String, i64> = self
            .hq
            .get(&self.admin, &format!("/api/v1/outlets/{}/stock", self.outlet))
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["ingredient_id"].as_str().unwrap().to_owned(), l["on_hand"].as_i64().unwrap()))
            .collect();
        assert_eq!(cloud_stock, edge_stock, "the cloud's stock is the sum of the outlet's movements");
    }

    async fn conflicts_on_both_sides(&self, kind: &str) -> (Value, Value) {
        let manager = self.edge_login(MANAGER_PIN).await;
        let edge = self.edge_api();
        let at_edge = eventually(&format!("a {kind} conflict at the outlet"), 30, || {
            let (edge, manager) = (edge.clone(), manager.clone());
            async move {
                let list = edge.get(&manager, "/api/v1/conflicts").await;
                list.as_array().unwrap().iter().find(|c| c["kind"] == kind).cloned()
            }
        })
        .await;
        let at_hq = eventually(&format!("the {kind} conflict at HQ"), 30, || {
            let id = at_edge["id"].clone();
            async move {
                let list = self.hq.get(&self.admin, &format!("/api/v1/conflicts?outlet={}", self.outlet)).await;
                list.as_array().unwrap().iter().find(|c| c["id"] == id).cloned()
            }
        })
        .await;
        (at_edge, at_hq)
    }
}

/// The cloud dies (SIGKILL) and stays down while the outlet sells; HQ changes a price on the
/// restarted cloud while an order is open at the outlet. On reconnect both sides converge, the open
/// order keeps the price it was taken at, and the price conflict is listed at both ends and settled
/// from HQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlet_sells_through_a_cloud_outage_and_both_sides_converge() {
    let mut chain = Chain::start(true, |port| format!("http://127.0.0.1:{port}")).await;
    let cashier = chain.edge_login(CASHIER_PIN).await;
    chain.sell_water(&cashier, 5, "before").await;
    chain.converged().await;
    chain.assert_same_state().await;

    chain.cloud.kill();
    chain.edge_status_when("the link to drop", |s| s["link"] == "offline").await;
    chain.sell_water(&cashier, 40, "offline").await;
    let burger = chain.item("Classic Patty").await;
    let edge = chain.edge_api();
    let open = edge
        .http
        .post(format!("{}/api/v1/orders", edge.base))
        .bearer_auth(&cashier)
        .header("idempotency-key", "open-burger")
        .json(
            &json!({ "channel": "counter", "fulfilment": "dine_in", "lines": [{ "item_id": burger, "quantity": 2 }] }),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let status = chain.edge_status_when("a backlog", |s| s["pending"].as_u64() > Some(40)).await;
    assert_eq!(status["link"], "offline");

    // The cloud comes back on its data; HQ raises the burger's price before the outlet is heard from.
    chain.cloud = start_cloud(chain._cloud_dir.path(), chain.cloud_port, &chain.database_url);
    let (_, login) = chain.hq.post("", "/api/v1/auth/login", json!({ "email": ADMIN, "password": PASSWORD })).await;
    chain.admin = login["access_token"].as_str().unwrap().to_owned();
    let mut draft = chain.hq.get(&chain.admin, "/api/v1/catalog/draft").await;
    for item in draft["menu"]["items"].as_array_mut().unwrap() {
        if item["id"] == burger.as_str() {
            item["price"] = json!(850);
        }
    }
    let (s, v) = chain.hq.call(reqwest::Method::PUT, &chain.admin, "/api/v1/catalog/draft", Some(draft)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    chain.hq.post_ok(&chain.admin, "/api/v1/catalog/publish", json!({})).await;

    chain.edge_status_when("catalog version 2 at the outlet", |s| s["catalog_version"] == 2).await;
    let (at_edge, at_hq) = chain.conflicts_on_both_sides("price_changed_while_open").await;
    assert_eq!(at_edge["subject"], open["id"]);
    assert!(at_hq["outlet_side"].as_str().unwrap().contains("790"), "{at_hq}");
    assert!(at_hq["cloud_side"].as_str().unwrap().contains("850"), "{at_hq}");
    chain.converged().await;
    chain.assert_same_state().await;
    let manager = chain.edge_login(MANAGER_PIN).await;
    let kept = edge.get(&manager, &format!("/api/v1/orders/{}", open["id"].as_str().unwrap())).await;
    assert_eq!(kept["lines"][0]["unit_price"], 790, "an open order keeps the price it was taken at");
    let menu = edge.get(&manager, "/api/v1/menu").await;
    let now = menu["items"].as_array().unwrap().iter().find(|i| i["id"] == burger.as_str()).unwrap()["price"].clone();
    assert_eq!(now, 850, "new orders take the new price");

    // Settled at HQ; the outlet hears of it.
    let id = at_hq["id"].as_str().unwrap().to_owned();
    let (s, v) = chain.hq.post(&chain.admin, &format!("/api/v1/conflicts/{id}/resolve"), json!({ "note": "" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "validation");
    chain.hq.post_ok(&chain.admin, &format!("/api/v1/conflicts/{id}/resolve"), json!({ "note": "honour 7.90" })).await;
    eventually("the settlement at the outlet", 30, || {
        let (edge, manager, id) = (edge.clone(), manager.clone(), id.clone());
        async move {
            let list = edge.get(&manager, "/api/v1/conflicts").await;
            list.as_array().unwrap().iter().find(|c| c["id"] == id.as_str() && !c["resolution"].is_null()).cloned()
        }
    })
    .await;
}

/// A customer cancels online while the link is down and the kitchen accepts: the outlet's
/// acceptance stands and the race is a conflict at both ends. Then the edge is killed mid-upload
/// and restarted: nothing is applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_races_the_kitchen_and_an_edge_killed_mid_upload_duplicates_nothing() {
    let link = std::sync::Mutex::new(None);
    let mut chain = Chain::start(false, |cloud| {
        let cuttable = CuttableLink::start(cloud);
        let url = format!("http://127.0.0.1:{}", cuttable.port);
        *link.lock().unwrap() = Some(cuttable);
        url
    })
    .await;
    let link = link.lock().unwrap().take().unwrap();

    // A cashier HQ adds appears in the outlet's staff list.
    let noor = uuid::Uuid::now_v7();
    let (s, v) = chain
        .hq
        .call(
            reqwest::Method::PUT,
            &chain.admin,
            &format!("/api/v1/outlets/{}/staff/{noor}", chain.outlet),
            Some(json!({ "name": "Noor", "role": "cashier" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let manager = chain.edge_login(MANAGER_PIN).await;
    eventually("HQ's new cashier at the outlet", 30, || {
        let (edge, manager) = (chain.edge_api(), manager.clone());
        async move {
            let staff = edge.get(&manager, "/api/v1/staff").await;
            staff
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == noor.to_string().as_str() && s["role"] == "cashier")
                .then_some(())
        }
    })
    .await;

    // An online order reaches the outlet as placed.
    let (s, reg) = chain
        .hq
        .post(
            "",
            "/api/v1/auth/register",
            json!({ "email": "ada@example.com", "password": "s3cret-pass", "name": "Ada" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{reg}");
    let customer = reg["access_token"].as_str().unwrap().to_owned();
    let burger = chain.item("Classic Patty").await;
    let r = chain
        .hq
        .http
        .post(format!("{}/api/v1/orders", chain.hq.base))
        .bearer_auth(&customer)
        .header("idempotency-key", "ada-1")
        .json(&json!({ "outlet_id": chain.outlet, "fulfilment": "takeaway", "lines": [{ "item_id": burger, "quantity": 1 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let online = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let cashier = chain.edge_login(CASHIER_PIN).await;
    let edge = chain.edge_api();
    eventually("the online order at the outlet", 30, || {
        let (edge, cashier, online) = (edge.clone(), cashier.clone(), online.clone());
        async move {
            let (s, o) = edge.call(reqwest::Method::GET, &cashier, &format!("/api/v1/orders/{online}"), None).await;
            (s == StatusCode::OK && o["status"] == "placed").then_some(())
        }
    })
    .await;

    // The link drops; the kitchen accepts; the customer cancels in the cloud.
    link.set_cut(true);
    chain.edge_status_when("the link to drop", |s| s["link"] == "offline").await;
    edge.post_ok(&cashier, &format!("/api/v1/orders/{online}/status"), json!({ "status": "accepted" })).await;
    let (s, v) =
        chain.hq.post(&customer, &format!("/api/v1/orders/{online}/cancel"), json!({ "reason": "too slow" })).await;
    assert_eq!(s, StatusCode::OK, "the cloud still had it placed: {v}");
    link.set_cut(false);
    chain.converged().await;
    let (at_edge, at_hq) = chain.conflicts_on_both_sides("cancel_raced_kitchen").await;
    assert_eq!(at_edge["subject"], online.as_str());
    assert!(at_hq["cloud_side"].as_str().unwrap().contains("too slow"), "{at_hq}");
    let in_cloud = chain.hq.get(&customer, &format!("/api/v1/orders/{online}")).await;
    assert_eq!(in_cloud["status"], "accepted", "the outlet's acceptance stands");
    let at_outlet = edge.get(&cashier, &format!("/api/v1/orders/{online}")).await;
    assert_eq!(at_outlet["status"], "accepted");

    // The edge is killed while terminals sell and batches are in flight, then restarted.
    let selling = {
        let chain_edge = edge.clone();
        let cashier = cashier.clone();
        let water = chain.item("Water").await;
        tokio::spawn(async move {
            let mut sold = 0;
            for i in 0.. {
                let body = json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [{ "item_id": water, "quantity": 1 }] });
                let r = chain_edge
                    .http
                    .post(format!("{}/api/v1/orders", chain_edge.base))
                    .bearer_auth(&cashier)
                    .header("idempotency-key", format!("burst-{i}"))
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == StatusCode::CREATED => sold += 1,
                    _ => return sold,
                }
            }
            sold
        })
    };
    let before = chain.edge_status_when("uploads under way", |s| s["acked"].as_u64().unwrap_or(0) > 0).await;
    let acked_then = before["acked"].as_u64().unwrap();
    eventually("more uploads mid-burst", 60, || {
        let hq = chain.hq.clone();
        let (admin, outlet) = (chain.admin.clone(), chain.outlet.clone());
        async move {
            let list = hq.get(&admin, "/api/v1/sync/outlets").await;
            let through =
                list.as_array().unwrap().iter().find(|o| o["outlet_id"] == outlet.as_str())?["applied_through"]
                    .as_u64()?;
            (through > acked_then + 200).then_some(())
        }
    })
    .await;
    chain.edge.kill();
    let sold = selling.await.unwrap();
    assert!(sold > 0);
    chain.edge =
        start_edge(chain.edge_dir.path(), &chain.outlet, &format!("http://127.0.0.1:{}", link.port), &chain.key);
    chain.converged().await;
    chain.assert_same_state().await;
    // Each in-store order was recorded once in the event log.
    let events = chain.hq.get(&chain.admin, "/api/v1/events?after=0&limit=5000").await;
    let recorded: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "order.recorded")
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = recorded.iter().copied().collect();
    assert_eq!(unique.len(), recorded.len(), "no order recorded twice");
    assert!(unique.len() >= sold, "{} recorded, {sold} sold", unique.len());

    // Restarted with its whole log acknowledged, the edge has nothing pending from the start.
    let converged = chain.converged().await;
    chain.edge.kill();
    chain.edge =
        start_edge(chain.edge_dir.path(), &chain.outlet, &format!("http://127.0.0.1:{}", link.port), &chain.key);
    let after = chain.edge_status_when("the restarted edge's status", |s| s["link"] == "online").await;
    assert_eq!((after["pending"].as_u64(), after["acked"].as_u64()), (Some(0), converged["acked"].as_u64()), "{after}");
}

/// Orders per hour of a trading day, relative: breakfast, a lunch peak, a dinner peak.
const DAY_CURVE: [u32; 24] = [0, 0, 0, 0, 0, 0, 1, 3, 4, 3, 3, 6, 14, 16, 8, 4, 4, 6, 12, 14, 9, 5, 2, 1];

impl Chain {
    /// Every order id in the edge's change log.
    async fn edge_order_ids(&self) -> BTreeSet<String> {
        let manager = self.edge_login(MANAGER_PIN).await;
        let (edge, mut after, mut ids) = (self.edge_api(), 0u64, BTreeSet::new());
        loop {
            let page = edge.get(&manager, &format!("/api/v1/changes?after={after}&limit=5000")).await;
            let page = page.as_array().unwrap();
            let Some(last) = page.last() else { return ids };
            after = last["seq"].as_u64().unwrap();
            for e in page {
                if let Some(id) = e["change"]["order_upserted"]["order"]["id"].as_str() {
                    ids.insert(id.to_owned());
                }
            }
        }
    }

    /// The aggregate key of every `order.recorded` event in the cloud's log, repeats included.
    async fn cloud_recorded(&self) -> Vec<String> {
        let (mut after, mut keys) = (0i64, Vec::new());
        loop {
            let page = self.hq.get(&self.admin, &format!("/api/v1/events?after={after}&limit=5000")).await;
            let page = page.as_array().unwrap();
            let Some(last) = page.last() else { return keys };
            after = last["position"].as_i64().unwrap();
            keys.extend(
                page.iter().filter(|e| e["kind"] == "order.recorded").map(|e| e["key"].as_str().unwrap().to_owned()),
            );
        }
    }
}

/// An outlet trades 72 hours with no link: each simulated hour brings the orders of a lunch and
/// dinner curve (pie and a drink in the morning, burger meals otherwise, some paid in cash,
/// some cancelled). Time is compressed (the orders carry the real clock); the volume and the mix
/// are those of three days. Then the link returns and the backlog is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_days_offline_then_caught_up() {
    let per_day = patty_tests::bench::env_or("PATTY_ENDURANCE_ORDERS_PER_DAY", 600);
    let link = std::sync::Mutex::new(None);
    let chain = Chain::start(false, |cloud| {
        let cuttable = CuttableLink::start(cloud);
        let url = format!("http://127.0.0.1:{}", cuttable.port);
        *link.lock().unwrap() = Some(cuttable);
        url
    })
    .await;
    let link = link.lock().unwrap().take().unwrap();
    link.set_cut(true);
    chain.edge_status_when("the link to drop", |s| s["link"] == "offline").await;
    let manager = chain.edge_login(MANAGER_PIN).await;
    let edge = chain.edge_api();
    let inventory = edge.get(&manager, "/api/v1/inventory").await;
    for level in inventory.as_array().unwrap() {
        edge.post_ok(
            &manager,
            "/api/v1/inventory/receive",
            json!({ "ingredient_id": level["ingredient"]["id"], "quantity": 1_000_000 }),
        )
        .await;
    }
    let mut breakfast = Vec::new();
    for n in ["Apple Pie", "Water"] {
        breakfast.push(chain.item(n).await);
    }
    let mut meal = Vec::new();
    for n in ["Classic Patty", "Onion Rings", "Lemonade"] {
        meal.push(chain.item(n).await);
    }
    let total: u32 = DAY_CURVE.iter().sum();
    let mut hours = Vec::new();
    for _day in 0..3 {
        for (hour, weight) in DAY_CURVE.iter().enumerate() {
            let n = (u64::from(*weight) * per_day).div_ceil(u64::from(total));
            hours.push((hour, n));
        }
    }
    let mut sold = 0u64;
    for (hour, n) in hours {
        let items = if hour < 11 { breakfast.clone() } else { meal.clone() };
        // Four terminals share the hour's orders.
        let terminals: Vec<_> = (0..4u64)
            .map(|t| {
                let (edge, items) = (edge.clone(), items.clone());
                let cashier = chain.edge_login(CASHIER_PIN);
                async move {
                    let cashier = cashier.await;
                    for k in (0..n).filter(|k| k % 4 == t) {
                        let lines: Vec<Value> = items.iter().map(|i| json!({ "item_id": i, "quantity": 1 })).collect();
                        let r = edge
                            .http
                            .post(format!("{}/api/v1/orders", edge.base))
                            .bearer_auth(&cashier)
                            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                            .json(&json!({ "channel": "counter", "fulfilment": "takeaway", "lines": lines }))
                            .send()
                            .await
                            .unwrap();
                        let status = r.status();
                        let o: Value = r.json().await.unwrap();
                        assert_eq!(status, StatusCode::CREATED, "{o}");
                        let id = o["id"].as_str().unwrap();
                        if k % 25 == 7 {
                            edge.post_ok(
                                &cashier,
                                &format!("/api/v1/orders/{id}/cancel"),
                                json!({ "reason": "customer left" }),
                            )
                            .await;
                        } else if k % 3 == 0 {
                            edge.post_ok(
                                &cashier,
                                &format!("/api/v1/orders/{id}/tenders"),
                                json!({ "method": "cash", "tendered": 5000 }),
                            )
                            .await;
                        } else {
                            let card = json!({ "method": "card", "amount": o["total"], "reference": "term" });
                            edge.post_ok(&cashier, &format!("/api/v1/orders/{id}/tenders"), card).await;
                        }
                    }
                }
            })
            .collect();
        futures::future::join_all(terminals).await;
        sold += n;
    }
    let status = chain.edge_status_when("the backlog", |s| s["link"] == "offline").await;
    let backlog = status["pending"].as_u64().unwrap();
    assert!(backlog > sold * 5, "{backlog} changes waiting for {sold} orders");

    link.set_cut(false);
    let back = std::time::Instant::now();
    chain.converged().await;
    let took = back.elapsed();
    println!("72 h offline: {sold} orders, {backlog} changes caught up in {:.1} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(120), "caught up in {took:?}");
    let orders = chain.edge_order_ids().await;
    let recorded = chain.cloud_recorded().await;
    assert_eq!(recorded.len(), orders.len(), "each order recorded once");
    assert_eq!(recorded.into_iter().collect::<BTreeSet<_>>(), orders);
    chain.assert_stock_equal().await;
}
