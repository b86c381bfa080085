//! Order placement through the HTTP API with 16 concurrent terminals on a store already holding
//! 500,000 orders, durability on; against the baseline, measured in the same run on the same disk:
//! plain SQLite single-row INSERT transactions with the same settings (WAL, synchronous = FULL).
//!
//! `cargo bench -p patty-edge --bench order_placement` (PATTY_BENCH_ORDERS, PATTY_BENCH_SECS and
//! PATTY_BENCH_TERMINALS change the preload, the measuring time and the concurrency).

use patty_edge::config::Config;
use rusqlite::params;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patty_tests::bench::{Figures, closed_loop, env_or};

/// Plain SQLite: one connection, one single-row INSERT per transaction, WAL + synchronous FULL.
fn baseline(dir: &std::path::Path, secs: u64) -> Figures {
    let conn = patty_edge::infra::store::open_write_connection(&dir.join("baseline.db")).unwrap();
    conn.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, doc TEXT NOT NULL)").unwrap();
    let doc = "x".repeat(800);
    let mut lat = Vec::new();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.prepare_cached("INSERT INTO t (id, created_ms, doc) VALUES (?1, ?2, ?3)")
            .unwrap()
            .execute(params![uuid::Uuid::now_v7().to_string(), n as i64, doc])
            .unwrap();
        conn.execute_batch("COMMIT").unwrap();
        lat.push(t.elapsed());
        n += 1;
    }
    Figures::from_latencies(lat, start.elapsed())
}

/// Fills a fresh edge store with `count` orders (and their change-log entries), as a busy outlet
/// would hold after months of trading.
async fn preload(dir: &std::path::Path, count: u64) {
    let cfg = Config::for_data_dir(dir);
    let state = patty_edge::open(cfg).await.unwrap();
    let origin = state.store.origin();
    let template = state.store.read(|_| Ok(())).await.map(|_| state.menu()).unwrap();
    drop(state);
    tokio::time::sleep(Duration::from_millis(200)).await; // the writer thread closes its connection
    let db = dir.join("edge.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch("PRAGMA synchronous = OFF; BEGIN").unwrap();
    let mut seq: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM change_log", [], |r| r.get(0)).unwrap();
    let item = &template.items[0];
    let start_ms = 1_700_000_000_000i64;
    {
        let mut ins = conn.prepare("INSERT INTO orders (id, number, status, created_ms, updated_ms, idempotency_key, request_hash, doc) VALUES (?1, ?2, 'completed', ?3, ?3, ?4, '', ?5)").unwrap();
        let mut log = conn
            .prepare("INSERT INTO change_log (seq, hlc, kind, payload) VALUES (?1, ?2, 'order_upserted', ?3)")
            .unwrap();
        for n in 0..count {
            let id = uuid::Uuid::now_v7();
            let at = start_ms + n as i64 * 10_000;
            let doc = json!({
                "id": id, "outlet_id": origin, "number": n % 900 + 1, "channel": "counter", "fulfilment": "takeaway",
                "status": "completed", "lines": [{ "id": uuid::Uuid::now_v7(), "item_id": item.id, "name": item.name, "variant_id": null,
                "variant_name": null, "quantity": 1, "modifiers": [], "notes": "", "unit_price": item.price, "line_total": item.price, "price_override": null }],
                "notes": "", "currency": "EUR", "subtotal": item.price, "discounts": [], "tax": 0, "total": item.price, "tenders": [], "paid": 0,
                "staff_id": null, "created_ms": at, "updated_ms": at, "closed_reason": null, "closed_by": null
            })
            .to_string();
            ins.execute(params![id.to_string(), (n % 900 + 1) as i64, at, format!("preload-{n}"), doc]).unwrap();
            seq += 1;
            log.execute(params![seq, (at << 16), &doc.as_bytes()[..64]]).unwrap();
        }
    }
    conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let orders = env_or("PATTY_BENCH_ORDERS", 500_000);
    let secs = env_or("PATTY_BENCH_SECS", 10);
    let terminals = env_or("PATTY_BENCH_TERMINALS", 16);
    let dir = tempfile::Builder::new().prefix("patty-bench").tempdir_in(std::env::temp_dir()).unwrap();

    let t = Instant::now();
    preload(dir.path(), orders).await;
    eprintln!("preloaded {orders} orders in {:.1} s", t.elapsed().as_secs_f64());

    let base = tokio::task::spawn_blocking({
        let p = dir.path().to_owned();
        move || baseline(&p, secs)
    })
    .await
    .unwrap();

    let cfg = Config::for_data_dir(dir.path());
    let state = patty_edge::open(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, patty_edge::app(state.clone()))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );

    let http = reqwest::Client::new();
    let login = |pin: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move { patty_tests::fixtures::pin_session(&http, &url, pin).await }
    };
    let manager = login("1234").await;
    let menu: Value =
        http.get(format!("{url}/api/v1/menu")).bearer_auth(&manager).send().await.unwrap().json().await.unwrap();
    // Plenty of stock, so the run measures ordering, not running out.
    for level in http
        .get(format!("{url}/api/v1/inventory"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
    {
        http.post(format!("{url}/api/v1/inventory/receive"))
            .bearer_auth(&manager)
            .json(&json!({ "ingredient_id": level["ingredient"]["id"], "quantity": 50_000_000 }))
            .send()
            .await
            .unwrap();
    }
    let item = |name: &str| menu["items"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap().clone();
    let cheese = item("Cheese Palace");
    let extra = cheese["modifier_groups"][0]["modifiers"][0]["id"].clone();
    let fries = item("Fries");
    let cola = item("Cola");
    let body = Arc::new(json!({
        "channel": "counter", "fulfilment": "takeaway",
        "lines": [
            { "item_id": cheese["id"], "quantity": 1, "modifiers": [{ "modifier_id": extra }] },
            { "item_id": fries["id"], "variant_id": fries["variants"][1]["id"], "quantity": 1 },
            { "item_id": cola["id"], "variant_id": cola["variants"][0]["id"], "quantity": 1 }
        ]
    }));

    let commits_before = state.store.stats.commits.load(std::sync::atomic::Ordering::Relaxed);
    let mut tills = Vec::new();
    for _ in 0..terminals {
        tills.push((login("1111").await, reqwest::Client::new()));
    }
    let tills = Arc::new(tills);
    let edge = closed_loop(terminals as usize, secs, move |t, n| {
        let (tills, url, body) = (tills.clone(), url.clone(), body.clone());
        async move {
            let (token, client) = &tills[t];
            let r = client
                .post(format!("{url}/api/v1/orders"))
                .bearer_auth(token)
                .header("idempotency-key", format!("bench-{t}-{n}"))
                .json(&*body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::CREATED, "{}", r.text().await.unwrap_or_default());
        }
    })
    .await;
    let commits = state.store.stats.commits.load(std::sync::atomic::Ordering::Relaxed) - commits_before;
    let _ = stop.send(());
    let _ = server.await;

    println!("order placement, {terminals} terminals, {orders} orders preloaded, WAL + synchronous=FULL");
    println!(
        "  baseline (plain SQLite single-row INSERT transactions): {:>8.0} commits/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} rows)",
        base.per_sec, base.p50_ms, base.p99_ms, base.n
    );
    println!(
        "  patty-edge POST /api/v1/orders (3 lines, stock by recipe): {:>8.0} orders/s   p50 {:>6.2} ms  p99 {:>6.2} ms  ({} orders, {:.1} per commit)",
        edge.per_sec,
        edge.p50_ms,
        edge.p99_ms,
        edge.n,
        edge.n as f64 / commits.max(1) as f64
    );
    println!("  ratio edge/baseline: {:.2}x throughput", edge.per_sec / base.per_sec);
}
