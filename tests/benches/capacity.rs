//! How many outlets and drivers one machine carries at the demo's default rates before latency
//! grows (the knee of the curve).
//!
//! Each step runs the whole chain (`patty-demo`: the cloud, N outlets' edges, drivers on the
//! road, customers ordering with the lunch peak, staff at work) at the default rates per outlet
//! (2 orders a minute, 10 drivers for every 3 outlets), and measures from outside what one more
//! user sees, the way a user would:
//! - **place**: a customer placing a takeaway order at the first outlet through the cloud's API
//!   (once a second, waiting for each), the time to the 201;
//! - **till to HQ**: an order taken at the first outlet's till, the time until HQ reads it at the
//!   cloud (the edge's upload, the cloud's apply; polled every 20 ms).
//!
//! The baseline is the first step (one outlet) in the same run; each step prints its figures and
//! their ratios to it. A step whose p50 is more than twice the baseline's, or whose p99 is more
//! than five times the baseline's, is past the knee.
//!
//! `cargo build --release -p patty-demo && cargo bench -p patty-tests --bench capacity`.
//! PATTY_BENCH_STEPS sets the outlet counts (default `1,12,48,96,144,192`), PATTY_BENCH_SECS the
//! seconds measured per step (default 40).

use patty_tests::bench::Figures;
use patty_tests::chain::{Api, Killed, free_port, sample_item};
use patty_tests::process::workspace_binary;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("hq@pattypalace.example", "patty-demo-hq");

/// One step's figures.
struct Step {
    outlets: u64,
    drivers: u64,
    place: Figures,
    sync: Figures,
}

async fn until<T, Fut: std::future::Future<Output = Option<T>>>(what: &str, secs: u64, f: impl Fn() -> Fut) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn step(outlets: u64, secs: u64) -> Step {
    let drivers = (outlets * 10).div_ceil(3);
    let rate = 2.0 * outlets as f64;
    let dir = tempfile::tempdir().unwrap();
    let (port, edge_port) = (free_port(), free_port());
    let child = Command::new(workspace_binary("patty-demo"))
        .args(["--outlets", &outlets.to_string(), "--drivers", &drivers.to_string(), "--rate", &rate.to_string()])
        .args(["--day-mins", "2", "--port", &port.to_string(), "--edge-port", &edge_port.to_string()])
        .args(["--mqtt-port", "0", "--data-dir", dir.path().to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _demo = Killed(child);
    let cloud = Api::new(&format!("http://127.0.0.1:{port}"));
    let till = Api::new(&format!("http://127.0.0.1:{edge_port}"));
    // Up when the first outlet's till answers and HQ sees every outlet.
    let cashier = until("the first outlet's till", 600, || async {
        let (s, v) = till.call(Method::POST, "", "/api/v1/sessions", Some(json!({ "pin": "1111" }))).await;
        (s == StatusCode::CREATED).then(|| v["token"].as_str().unwrap().to_owned())
    })
    .await;
    let admin = until("HQ's sign-in", 120, || async {
        let (s, v) = cloud
            .call(Method::POST, "", "/api/v1/auth/login", Some(json!({ "email": ADMIN.0, "password": ADMIN.1 })))
            .await;
        (s == StatusCode::OK).then(|| v["access_token"].as_str().unwrap().to_owned())
    })
    .await;
    let first = until("every outlet at HQ", 600, || async {
        let v = cloud.call(Method::GET, &admin, "/api/v1/outlets", None).await.1;
        let all = v.as_array()?;
        (all.len() as u64 == outlets).then(|| all.iter().find(|o| o["name"] == "Damrak").unwrap()["id"].clone())
    })
    .await;
    let email = format!("probe-{}@example.com", uuid::Uuid::now_v7());
    let reg = json!({ "email": email, "password": "probe-pass-1", "name": "Probe" });
    let customer = cloud.ok(Method::POST, "", "/api/v1/auth/register", Some(reg)).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let burger = sample_item("Classic Patty");
    let basket =
        json!({ "outlet_id": first, "fulfilment": "takeaway", "lines": [{ "item_id": burger, "quantity": 1 }] });
    let counter =
        json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [{ "item_id": burger, "quantity": 1 }] });

    // Warm up a few seconds, then measure while the demo's day runs on (its lunch peak included).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let started = Instant::now();
    let (mut place, mut sync) = (vec![], vec![]);
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        n += 1;
        let t = Instant::now();
        cloud.place(&customer, "/api/v1/orders", &format!("probe-{n}"), &basket).await;
        place.push(t.elapsed());
        if n.is_multiple_of(3) {
            let t = Instant::now();
            let order = till.place(&cashier, "/api/v1/orders", &format!("probe-till-{n}"), &counter).await;
            let path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
            until("the till's order at HQ", 120, || async {
                (cloud.call(Method::GET, &admin, &path, None).await.0 == StatusCode::OK).then_some(())
            })
            .await;
            sync.push(t.elapsed());
        }
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(t.elapsed())).await;
    }
    let elapsed = started.elapsed();
    Step {
        outlets,
        drivers,
        place: Figures::from_latencies(place, elapsed),
        sync: Figures::from_latencies(sync, elapsed),
    }
}

#[tokio::main]
async fn main() {
    let steps: Vec<u64> = std::env::var("PATTY_BENCH_STEPS")
        .unwrap_or_else(|_| "1,12,48,96,144,192".into())
        .split(',')
        .map(|s| s.trim().parse().expect("PATTY_BENCH_STEPS: outlet counts"))
        .collect();
    let secs = patty_tests::bench::env_or("PATTY_BENCH_SECS", 40);
    let mut rows: Vec<Step> = vec![];
    println!("capacity: the whole chain at the default rates per outlet; baseline: the first step, same run");
    println!(
        "{:>7} {:>7} {:>8} | {:>9} {:>5} {:>9} {:>6} | {:>11} {:>5} {:>9} {:>6}",
        "outlets", "drivers", "orders/m", "place p50", "×", "p99", "×", "till→HQ p50", "×", "p99", "×"
    );
    for outlets in steps {
        let s = step(outlets, secs).await;
        let base = rows.first().unwrap_or(&s);
        let ratios = [
            s.place.p50_ms / base.place.p50_ms,
            s.place.p99_ms / base.place.p99_ms,
            s.sync.p50_ms / base.sync.p50_ms,
            s.sync.p99_ms / base.sync.p99_ms,
        ];
        println!(
            "{:>7} {:>7} {:>8.0} | {:>7.1}ms {:>4.2}× {:>7.1}ms {:>5.1}× | {:>9.1}ms {:>4.2}× {:>7.1}ms {:>5.1}×{}",
            s.outlets,
            s.drivers,
            2.0 * s.outlets as f64,
            s.place.p50_ms,
            ratios[0],
            s.place.p99_ms,
            ratios[1],
            s.sync.p50_ms,
            ratios[2],
            s.sync.p99_ms,
            ratios[3],
            if ratios[0] > 2.0 || ratios[2] > 2.0 || ratios[1] > 5.0 || ratios[3] > 5.0 {
                "  past the knee"
            } else {
                ""
            }
        );
        rows.push(s);
    }
}
