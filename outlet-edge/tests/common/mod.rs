//! Test helpers: a real edge on a free loopback port with its own temp directory.
#![allow(dead_code, missing_docs)]

use patty_edge::config::Config;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::oneshot;

pub const MANAGER_PIN: &str = "1234";
pub const CASHIER_PIN: &str = "1111";
pub const KITCHEN_PIN: &str = "2222";

pub struct Edge {
    pub base: String,
    pub http: Client,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn config(dir: &std::path::Path) -> Config {
    Config::for_data_dir(dir)
}

/// An edge served in this process with its state at hand, for tests that apply what the cloud
/// sends straight to the store: (state, base URL, its data directory).
pub async fn in_process() -> (patty_edge::infra::state::AppState, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let state = patty_edge::open(config(dir.path())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = patty_edge::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, base, dir)
}

impl Edge {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        tweak(&mut c);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            patty_edge::run(c, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let http = Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let edge = Self { base, http, dir, stop: Some(stop), task: Some(task) };
        edge.wait_healthy().await;
        edge
    }

    pub async fn wait_healthy(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = self.http.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "edge did not become healthy");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), t).await.expect("edge stops within 10 s").unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, pin: &str) -> String {
        let r = self.http.post(self.url("/api/v1/sessions")).json(&json!({ "pin": pin })).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "sign in with {pin}");
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let r = self.get(token, path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn order(&self, token: &str, key: &str, body: &Value) -> Response {
        self.http
            .post(self.url("/api/v1/orders"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn menu(&self, token: &str) -> Value {
        self.get_json(token, "/api/v1/menu").await
    }

    /// How many change-log entries exist (the log is gap-free, so the last seq is the count).
    pub async fn change_count(&self, manager: &str) -> u64 {
        let mut after = 0;
        loop {
            let page = self.get_json(manager, &format!("/api/v1/changes?after={after}&limit=5000")).await;
            let page = page.as_array().unwrap();
            if page.is_empty() {
                return after;
            }
            for e in page {
                let seq = e["seq"].as_u64().unwrap();
                assert_eq!(seq, after + 1, "change log has a gap");
                after = seq;
            }
        }
    }

    pub async fn order_count(&self, token: &str) -> usize {
        self.get_json(token, "/api/v1/orders?limit=500").await.as_array().unwrap().len()
    }
}

/// The first item named `name` on the menu.
pub fn item<'a>(menu: &'a Value, name: &str) -> &'a Value {
    menu["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no {name} on the menu"))
}

/// The id of modifier `name` of item `item`.
pub fn modifier(item: &Value, name: &str) -> String {
    item["modifier_groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["modifiers"].as_array().unwrap())
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no modifier {name}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An order of one item in its first size (for items that have sizes).
pub fn sized_order(menu: &Value, name: &str, quantity: u32) -> Value {
    let mut o = simple_order(menu, name, quantity);
    o["lines"][0]["variant_id"] = item(menu, name)["variants"][0]["id"].clone();
    o
}

pub fn simple_order(menu: &Value, name: &str, quantity: u32) -> Value {
    json!({
        "channel": "counter",
        "fulfilment": "takeaway",
        "lines": [{ "item_id": item(menu, name)["id"], "quantity": quantity }]
    })
}

#[allow(unused_imports)]
pub use patty_tests::SseReader;
