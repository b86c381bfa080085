//! Durable before acknowledged: the real binary is killed with SIGKILL while several terminals
//! write, restarted, and every acknowledged order is there exactly once with a gap-free log.

mod common;

use common::{CASHIER_PIN, MANAGER_PIN};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn spawn(dir: &std::path::Path) -> (Child, String) {
    let dir = dir.to_str().unwrap();
    patty_tests::spawn_service(
        env!("CARGO_BIN_EXE_patty-edge").as_ref(),
        &["--listen", "127.0.0.1:0", "--data-dir", dir],
        &[],
    )
}

use patty_tests::fixtures::pin_session as login;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_order_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let http = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (mut child, base) = spawn(dir.path());
    let manager = login(&http, &base, MANAGER_PIN).await;
    let menu: Value =
        http.get(format!("{base}/api/v1/menu")).bearer_auth(&manager).send().await.unwrap().json().await.unwrap();
    let water = menu["items"].as_array().unwrap().iter().find(|i| i["name"] == "Water").unwrap()["id"].clone();
    let ing =
        menu["items"].as_array().unwrap().iter().find(|i| i["name"] == "Water").unwrap()["recipe"][0]["ingredient_id"]
            .clone();
    let r = http
        .post(format!("{base}/api/v1/inventory/receive"))
        .bearer_auth(&manager)
        .json(&json!({ "ingredient_id": ing, "quantity": 10000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let seed_changes = change_count(&http, &base, &manager).await;

    // Four terminals write as fast as they can; each remembers what was acknowledged.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut terminals = Vec::new();
    for t in 0..4 {
        let token = login(&http, &base, CASHIER_PIN).await;
        let (http, base, acked, water) = (http.clone(), base.clone(), acked.clone(), water.clone());
        terminals.push(tokio::spawn(async move {
            for n in 0.. {
                let key = format!("term{t}-{n}");
                let body = json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [{ "item_id": water, "quantity": 1 }] });
                match http.post(format!("{base}/api/v1/orders")).bearer_auth(&token).header("idempotency-key", &key).json(&body).send().await {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let id = r.json::<Value>().await.map(|v| v["id"].as_str().unwrap_or_default().to_owned()).unwrap_or_default();
                        acked.lock().unwrap().push((key, id));
                    }
                    _ => return, // the server is gone
                }
            }
        }));
    }
    // Kill mid-stream, once a good number is acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "terminals made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in terminals {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let (mut child, base) = spawn(dir.path());
    let manager = login(&http, &base, MANAGER_PIN).await;
    let orders: Vec<Value> = http
        .get(format!("{base}/api/v1/orders?limit=500"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = orders.iter().map(|o| o["id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no order is stored twice");
    for (key, id) in &acked {
        assert!(unique.contains(id.as_str()), "acknowledged order {key} was lost");
    }
    // At most one in-flight order per terminal was committed without its answer arriving.
    assert!(
        ids.len() >= acked.len() && ids.len() <= acked.len() + 4,
        "{} stored, {} acknowledged",
        ids.len(),
        acked.len()
    );
    // Retrying an acknowledged request after the crash returns the same order.
    let cashier = login(&http, &base, CASHIER_PIN).await;
    let (key, id) = &acked[acked.len() / 2];
    let body =
        json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [{ "item_id": water, "quantity": 1 }] });
    let r = http
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(&cashier)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], id.as_str());
    // The log is gap-free and holds exactly each stored order and its one stock movement.
    assert_eq!(change_count(&http, &base, &manager).await, seed_changes + 2 * ids.len() as u64);
    let levels: Value =
        http.get(format!("{base}/api/v1/inventory")).bearer_auth(&manager).send().await.unwrap().json().await.unwrap();
    let bottles =
        levels.as_array().unwrap().iter().find(|l| l["ingredient"]["name"] == "Water bottle").unwrap()["on_hand"]
            .as_i64()
            .unwrap();
    assert_eq!(bottles, 10_120 - ids.len() as i64, "stock matches the stored orders");
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn change_count(http: &Client, base: &str, manager: &str) -> u64 {
    let mut after = 0u64;
    loop {
        let page: Vec<Value> = http
            .get(format!("{base}/api/v1/changes?after={after}&limit=5000"))
            .bearer_auth(manager)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page.is_empty() {
            return after;
        }
        for e in page {
            let seq = e["seq"].as_u64().unwrap();
            assert_eq!(seq, after + 1, "gap in the change log");
            after = seq;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stops_cleanly_on_sigterm_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let http = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (mut child, base) = spawn(dir.path());
    let manager = login(&http, &base, MANAGER_PIN).await;
    let origin: Value = http.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    // A live stream is open: shutdown must not wait on it.
    let stream = http.get(format!("{base}/api/v1/kitchen/stream")).bearer_auth(&manager).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the edge did not stop within 15 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "clean exit, got {exit:?}");
    // The same data directory comes back as the same outlet.
    let (mut child, base) = spawn(dir.path());
    let again: Value = http.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(again["outlet_id"], origin["outlet_id"]);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn bad_command_lines_and_configs_exit_non_zero_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_toml = dir.path().join("edge.toml");
    std::fs::write(&bad_toml, "[outlet]\ntax_rate_bp = 50000\n").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["--listen".into(), "nowhere".into()],
        vec!["--config".into(), dir.path().join("missing.toml").display().to_string()],
        vec!["--config".into(), bad_toml.display().to_string()],
    ];
    for args in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_patty-edge")).args(&args).env("RUST_LOG", "off").output().unwrap();
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line on stderr for {args:?}: {err}");
    }
}
