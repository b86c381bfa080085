//! Sync benchmarks, each next to a baseline measured in the same run:
//! - `bytes`: bytes on the wire per change (median over upload batches) for a stock movement and
//!   for a whole order, against the same entries as JSON and as plain postcard.
//! - `catchup`: one outlet's offline backlog (about 20,000 changes: a day's trade) applied by the
//!   cloud on PostgreSQL after the link returns, from the edge's start to the last
//!   acknowledgement; baseline: the same rows inserted by plain batched INSERTs through sqlx.
//! - `outlets`: changes applied per second by one cloud node on PostgreSQL while 50 outlets upload
//!   at once; baseline: the same rows inserted by plain batched INSERTs through sqlx, 50 at once.
//!
//! `cargo bench -p patty-tests --bench sync [bytes|catchup|outlets]` (all by default). Needs
//! PostgreSQL (`PATTY_TEST_POSTGRES`), as the test command provides. PATTY_BENCH_ORDERS sets the
//! backlog's orders (default 1,500, about 20,000 changes) and PATTY_BENCH_OUTLET_CHANGES each of
//! the 50 outlets' changes (default 4,000).

use patty_protocol::change::{ChangeEntry, ChangeV1};
use patty_protocol::ids::OutletId;
use patty_sync::BatchLimits;
use patty_tests::bench::env_or;
use patty_tests::postgres::postgres_schema;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ADMIN: (&str, &str) = ("hq@bench.example", "bench-password");

/// A cloud running in this process until `stop` is sent.
struct Cloud {
    base: String,
    admin: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Cloud {
    async fn start(dir: &std::path::Path, database_url: &str, addr: SocketAddr) -> Self {
        let mut c = patty_cloud::infra::config::Config::for_data_dir(dir);
        c.database.url = database_url.to_owned();
        c.database.max_connections = 16;
        c.auth.bootstrap_admin = format!("{}:{}", ADMIN.0, ADMIN.1);
        c.http.rate_per_minute = 10_000_000;
        c.http.rate_burst = 1_000_000;
        c.http.sign_in_per_address_per_minute = 1_000_000;
        c.http.sign_in_per_account_per_minute = 1_000_000;
        c.http.body_bytes = 4 << 20;
        c.mqtt.embedded = false;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            patty_cloud::run(c, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let http = reqwest::Client::new();
        patty_tests::fixtures::wait_healthy(&http, &base).await;
        let admin = patty_tests::fixtures::login(&http, &base, ADMIN.0, ADMIN.1).await;
        Self { base, admin, http, stop: Some(stop), task }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.task.await;
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r =
            self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.admin).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// Registers an outlet and returns its edge API key.
    async fn outlet(&self, id: OutletId) -> String {
        self.post("/api/v1/outlets", patty_tests::fixtures::outlet(&id.to_string())).await;
        self.post("/api/v1/api-keys", json!({ "kind": "edge", "subject": id, "name": "bench" })).await["secret"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn publish_sample(&self) {
        let seed: Value = serde_json::from_str(include_str!("../../outlet-edge/sample/seed.json")).unwrap();
        let r = self
            .http
            .put(format!("{}/api/v1/catalog/draft", self.base))
            .bearer_auth(&self.admin)
            .json(&json!({ "menu": seed["menu"] }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        self.post("/api/v1/catalog/publish", json!({})).await;
    }

    async fn applied_through(&self, outlet: OutletId) -> u64 {
        let r: Value = self
            .http
            .get(format!("{}/api/v1/sync/outlets", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r.as_array()
            .unwrap()
            .iter()
            .find(|o| o["outlet_id"] == outlet.to_string().as_str())
            .and_then(|o| o["applied_through"].as_u64())
            .unwrap_or(0)
    }
}

/// A staff request to an edge; panics unless it succeeds. Writes carry a fresh idempotency key.
async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut r = http.request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b).header("idempotency-key", Uuid::new_v4().to_string());
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// An edge running in this process.
struct Edge {
    base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Edge {
    async fn start(dir: &std::path::Path, outlet: OutletId, cloud: &str, key: &str) -> Self {
        let mut c = patty_edge::config::Config::for_data_dir(dir);
        c.outlet.id = Some(outlet.to_string());
        c.cloud.url = cloud.to_owned();
        c.cloud.api_key = key.to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            patty_edge::run(c, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let http = reqwest::Client::new();
        patty_tests::fixtures::wait_healthy(&http, &base).await;
        Self { base, http, stop: Some(stop), task }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.task.await;
    }

    async fn call(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        call(&self.http, &self.base, token, method, path, body).await
    }

    async fn login(&self, pin: &str) -> String {
        patty_tests::fixtures::pin_session(&self.http, &self.base, pin).await
    }

    /// Trades `orders` orders as a counter does: a burger with extra cheese, large fries and a
    /// cola, paid by card, through preparing, ready and completed.
    async fn trade(&self, orders: u64) {
        use reqwest::Method;
        let m = self.login("1234").await;
        let menu = self.call(&m, Method::GET, "/api/v1/menu", None).await;
        let items = menu["items"].as_array().unwrap();
        let item = |n: &str| items.iter().find(|i| i["name"] == n).unwrap().clone();
        let (burger, fries, cola) = (item("Classic Patty"), item("Fries"), item("Cola"));
        for level in self.call(&m, Method::GET, "/api/v1/inventory", None).await.as_array().unwrap() {
            let body = json!({ "ingredient_id": level["ingredient"]["id"], "quantity": 100_000_000 });
            self.call(&m, Method::POST, "/api/v1/inventory/receive", Some(body)).await;
        }
        let lines = json!([
            { "item_id": burger["id"], "quantity": 1, "modifiers": [{ "modifier_id": burger["modifier_groups"][0]["modifiers"][0]["id"] }] },
            { "item_id": fries["id"], "variant_id": fries["variants"][1]["id"], "quantity": 1 },
            { "item_id": cola["id"], "variant_id": cola["variants"][0]["id"], "quantity": 1 }
        ]);
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let (http, base, m, lines) = (self.http.clone(), self.base.clone(), m.clone(), lines.clone());
                tokio::spawn(async move {
                    let post = |path: String, body: Value| {
                        let (http, base, m) = (http.clone(), base.clone(), m.clone());
                        async move { call(&http, &base, &m, Method::POST, &path, Some(body)).await }
                    };
                    for _ in (0..orders).filter(|n| n % 4 == t) {
                        let o = post(
                            "/api/v1/orders".into(),
                            json!({ "channel": "counter", "fulfilment": "takeaway", "lines": lines }),
                        )
                        .await;
                        let id = o["id"].as_str().unwrap().to_owned();
                        let card = json!({ "method": "card", "amount": o["total"], "reference": "bench" });
                        post(format!("/api/v1/orders/{id}/tenders"), card).await;
                        for s in ["preparing", "ready", "completed"] {
                            post(format!("/api/v1/orders/{id}/status"), json!({ "status": s })).await;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }

    /// The whole change log.
    async fn log(&self) -> Vec<ChangeEntry> {
        let m = self.login("1234").await;
        let mut out: Vec<ChangeEntry> = Vec::new();
        loop {
            let after = out.last().map_or(0, |e| e.seq);
            let page: Vec<ChangeEntry> = self
                .http
                .get(format!("{}/api/v1/changes?after={after}&limit=5000", self.base))
                .bearer_auth(&m)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Cuts `entries` the way the uploader does.
fn batches(entries: &[ChangeEntry]) -> Vec<&[ChangeEntry]> {
    let limits = BatchLimits::default();
    let mut out = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut bytes = 0;
        let mut end = start;
        while end < entries.len() && end - start < limits.max_entries {
            let s = postcard::to_stdvec(&entries[end]).unwrap().len();
            if end > start && bytes + s > limits.max_bytes {
                break;
            }
            bytes += s;
            end += 1;
        }
        out.push(&entries[start..end]);
        start = end;
    }
    out
}

fn bytes_report(log: &[ChangeEntry]) {
    let moves: Vec<ChangeEntry> =
        log.iter().filter(|e| matches!(e.change, ChangeV1::StockMoved { .. })).cloned().collect();
    let per = |sel: &[ChangeEntry], enc: &dyn Fn(&[ChangeEntry]) -> usize, unit: &dyn Fn(&[ChangeEntry]) -> usize| {
        median(batches(sel).into_iter().map(|b| enc(b) as f64 / unit(b).max(1) as f64).collect())
    };
    let wire = |b: &[ChangeEntry]| patty_sync::wire::encode_batch(b).len();
    let json = |b: &[ChangeEntry]| serde_json::to_vec(b).unwrap().len();
    let postcard = |b: &[ChangeEntry]| b.iter().map(|e| postcard::to_stdvec(e).unwrap().len()).sum::<usize>();
    let count = |b: &[ChangeEntry]| b.len();
    let orders = |b: &[ChangeEntry]| b.iter().filter(|e| matches!(e.change, ChangeV1::OrderUpserted { .. })).count();
    println!(
        "sync bytes: {} changes, {} stock movements, batches of up to {}",
        log.len(),
        moves.len(),
        BatchLimits::default().max_entries
    );
    println!("| | JSON | postcard per entry | wire (batch, zstd) |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| stock movement | {:.1} B | {:.1} B | {:.1} B |",
        per(&moves, &json, &count),
        per(&moves, &postcard, &count),
        per(&moves, &wire, &count)
    );
    let trade: Vec<ChangeEntry> =
        log.iter().skip_while(|e| !matches!(e.change, ChangeV1::OrderUpserted { .. })).cloned().collect();
    println!(
        "| whole order ({:.1} changes) | {:.0} B | {:.0} B | {:.0} B |",
        trade.len() as f64 / orders(&trade).max(1) as f64,
        per(&trade, &json, &orders),
        per(&trade, &postcard, &orders),
        per(&trade, &wire, &orders)
    );
}

/// The rows apply writes for `entries`: (orders, stock movements, tenders), as a plain batched
/// INSERT would carry them.
type Rows =
    (Vec<(String, String, String, i64, String)>, Vec<(String, String, String, i64, i64)>, Vec<(String, String, i64)>);

fn rows(origin: OutletId, entries: &[ChangeEntry]) -> Rows {
    let mut orders: HashMap<String, (String, String, String, i64, String)> = HashMap::new();
    let (mut moves, mut tenders) = (Vec::new(), Vec::new());
    for e in entries {
        match &e.change {
            ChangeV1::OrderUpserted { order } => {
                let doc = serde_json::to_string(order).unwrap();
                orders.insert(
                    order.id.to_string(),
                    (order.id.to_string(), origin.to_string(), order.status.as_str().into(), order.created_ms, doc),
                );
            }
            ChangeV1::OrderStatus { order_id, status, .. } => {
                if let Some(o) = orders.get_mut(&order_id.to_string()) {
                    o.2 = status.as_str().into();
                }
            }
            ChangeV1::StockMoved { movement: m } => {
                moves.push((m.id.to_string(), origin.to_string(), m.ingredient_id.to_string(), m.delta, m.at_ms))
            }
            ChangeV1::TenderAdded { order_id, tender } => {
                tenders.push((tender.id.to_string(), order_id.to_string(), tender.amount))
            }
            _ => {}
        }
    }
    (orders.into_values().collect(), moves, tenders)
}

/// Plain batched INSERTs of the rows of `logs` (one task per log, one transaction per batch);
/// returns the changes per second.
async fn baseline(logs: &[(OutletId, Vec<ChangeEntry>)]) -> (f64, Duration) {
    let url = postgres_schema().await;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(&url).await.unwrap();
    for ddl in [
        "CREATE TABLE orders (id TEXT PRIMARY KEY, outlet_id TEXT NOT NULL, status TEXT NOT NULL, created_ms BIGINT NOT NULL, doc TEXT NOT NULL)",
        "CREATE TABLE stock_movements (id TEXT PRIMARY KEY, outlet_id TEXT NOT NULL, ingredient_id TEXT NOT NULL, delta BIGINT NOT NULL, at_ms BIGINT NOT NULL)",
        "CREATE TABLE tenders (id TEXT PRIMARY KEY, order_id TEXT NOT NULL, amount BIGINT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let work: Vec<(OutletId, Vec<Vec<ChangeEntry>>)> =
        logs.iter().map(|(o, l)| (*o, batches(l).into_iter().map(<[_]>::to_vec).collect())).collect();
    let total: usize = logs.iter().map(|(_, l)| l.len()).sum();
    let start = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(origin, bs)| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for b in bs {
                    let (orders, moves, tenders) = rows(origin, &b);
                    let mut tx = pool.begin().await.unwrap();
                    for chunk in orders.chunks(5000) {
                        let mut q =
                            sqlx::QueryBuilder::new("INSERT INTO orders (id, outlet_id, status, created_ms, doc) ");
                        q.push_values(chunk, |mut r, o| {
                            r.push_bind(&o.0).push_bind(&o.1).push_bind(&o.2).push_bind(o.3).push_bind(&o.4);
                        });
                        q.push(" ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc");
                        q.build().execute(&mut *tx).await.unwrap();
                    }
                    for chunk in moves.chunks(5000) {
                        let mut q = sqlx::QueryBuilder::new(
                            "INSERT INTO stock_movements (id, outlet_id, ingredient_id, delta, at_ms) ",
                        );
                        q.push_values(chunk, |mut r, m| {
                            r.push_bind(&m.0).push_bind(&m.1).push_bind(&m.2).push_bind(m.3).push_bind(m.4);
                        });
                        q.build().execute(&mut *tx).await.unwrap();
                    }
                    for chunk in tenders.chunks(5000) {
                        let mut q = sqlx::QueryBuilder::new("INSERT INTO tenders (id, order_id, amount) ");
                        q.push_values(chunk, |mut r, t| {
                            r.push_bind(&t.0).push_bind(&t.1).push_bind(t.2);
                        });
                        q.build().execute(&mut *tx).await.unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let took = start.elapsed();
    (total as f64 / took.as_secs_f64(), took)
}

/// The template log with every sale's ids fresh and `origin` as its origin, so 50 outlets
/// upload 50 distinct logs of the same shape.
fn retarget(template: &[ChangeEntry], origin: OutletId) -> Vec<ChangeEntry> {
    let mut map: HashMap<Uuid, Uuid> = HashMap::new();
    let mut fresh = |u: &mut Uuid| *u = *map.entry(*u).or_insert_with(Uuid::now_v7);
    template
        .iter()
        .cloned()
        .map(|mut e| {
            e.origin = origin;
            match &mut e.change {
                ChangeV1::OrderUpserted { order } => {
                    fresh(&mut order.id.0);
                    order.outlet_id = origin;
                    order.lines.iter_mut().for_each(|l| fresh(&mut l.id.0));
                    order.tenders.iter_mut().for_each(|t| fresh(&mut t.id.0));
                }
                ChangeV1::OrderStatus { order_id, .. } => fresh(&mut order_id.0),
                ChangeV1::TenderAdded { order_id, tender } => {
                    fresh(&mut order_id.0);
                    fresh(&mut tender.id.0);
                }
                ChangeV1::StockMoved { movement } => {
                    fresh(&mut movement.id.0);
                    if let Some(o) = &mut movement.order_id {
                        fresh(&mut o.0);
                    }
                }
                ChangeV1::StaffUpserted { staff } => fresh(&mut staff.id.0),
                _ => {}
            }
            e
        })
        .collect()
}

/// Uploads `log` batch after batch as an edge does; returns when all is acknowledged.
async fn upload(http: reqwest::Client, base: String, key: String, log: Vec<ChangeEntry>) {
    for b in batches(&log) {
        let r = http
            .post(format!("{base}/api/v1/sync/up"))
            .header("x-api-key", &key)
            .header("content-type", "application/octet-stream")
            .body(patty_sync::wire::encode_batch(b))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "upload: {}", r.status());
        let ack: Value = r.json().await.unwrap();
        assert_eq!(ack["applied_through"].as_u64(), b.last().map(|e| e.seq));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let orders = env_or("PATTY_BENCH_ORDERS", 1_500);

    // A day's trade at one outlet, taken offline: the edge runs with its cloud down.
    let cloud_dir = tempfile::tempdir().unwrap();
    let edge_dir = tempfile::tempdir().unwrap();
    let database_url = postgres_schema().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cloud = Cloud::start(cloud_dir.path(), &database_url, port).await;
    cloud.publish_sample().await;
    let outlet = OutletId::new();
    let key = cloud.outlet(outlet).await;
    let edge = Edge::start(edge_dir.path(), outlet, &cloud.base, &key).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while cloud.applied_through(outlet).await == 0 {
        assert!(Instant::now() < deadline, "the edge never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let synced = cloud.applied_through(outlet).await;
    cloud.stop().await;
    edge.trade(orders).await;
    let log = edge.log().await;
    edge.stop().await;
    if run("bytes") {
        bytes_report(&log);
    }
    if run("catchup") {
        let backlog = log.len() as u64 - synced;
        let cloud = Cloud::start(cloud_dir.path(), &database_url, port).await;
        let start = Instant::now();
        let edge = Edge::start(edge_dir.path(), outlet, &cloud.base, &key).await;
        let last = log.last().unwrap().seq;
        while cloud.applied_through(outlet).await < last {
            assert!(start.elapsed() < Duration::from_secs(600), "no catch-up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = start.elapsed();
        edge.stop().await;
        cloud.stop().await;
        let backlog_log: Vec<ChangeEntry> = log.iter().filter(|e| e.seq > synced).cloned().collect();
        let (_, base_took) = baseline(&[(outlet, backlog_log)]).await;
        println!("sync catch-up: {backlog} changes ({orders} orders)");
        println!("| | time | changes/s |");
        println!("| --- | --- | --- |");
        println!(
            "| baseline: plain batched INSERTs of the same rows | {:.2} s | {:.0} |",
            base_took.as_secs_f64(),
            backlog as f64 / base_took.as_secs_f64()
        );
        println!(
            "| patty-cloud applying the edge's backlog | {:.2} s | {:.0} |",
            took.as_secs_f64(),
            backlog as f64 / took.as_secs_f64()
        );
        println!("| ratio (baseline time / catch-up time) | {:.2}× | |", base_took.as_secs_f64() / took.as_secs_f64());
    }
    if run("outlets") {
        let per = env_or("PATTY_BENCH_OUTLET_CHANGES", 4_000) as usize;
        let template: Vec<ChangeEntry> = log.iter().take(per).cloned().collect();
        let dir = tempfile::tempdir().unwrap();
        let cloud = Cloud::start(dir.path(), &postgres_schema().await, "127.0.0.1:0".parse().unwrap()).await;
        let mut logs = Vec::new();
        let mut keys = Vec::new();
        for _ in 0..50 {
            let o = OutletId::new();
            keys.push(cloud.outlet(o).await);
            logs.push((o, retarget(&template, o)));
        }
        let total: usize = logs.iter().map(|(_, l)| l.len()).sum();
        let start = Instant::now();
        let tasks: Vec<_> = logs
            .iter()
            .zip(&keys)
            .map(|((_, l), k)| tokio::spawn(upload(cloud.http.clone(), cloud.base.clone(), k.clone(), l.clone())))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let took = start.elapsed();
        cloud.stop().await;
        let (base_rate, base_took) = baseline(&logs).await;
        let rate = total as f64 / took.as_secs_f64();
        println!("sync 50 outlets: {total} changes ({per} per outlet)");
        println!("| | time | changes/s |");
        println!("| --- | --- | --- |");
        println!(
            "| baseline: plain batched INSERTs of the same rows, 50 at once | {:.2} s | {base_rate:.0} |",
            base_took.as_secs_f64()
        );
        println!(
            "| patty-cloud `POST /api/v1/sync/up`, 50 outlets at once | {:.2} s | {rate:.0} |",
            took.as_secs_f64()
        );
        println!("| ratio | {:.2}× | |", rate / base_rate);
    }
}
