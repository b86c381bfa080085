//! Test fixtures: a real cloud on a free loopback port, on SQLite in a temp directory or on the
//! PostgreSQL server in a schema of its own, so runs never collide.
#![allow(dead_code, missing_docs, unused_imports)]

use patty_cloud::infra::config::Config;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::oneshot;

pub use patty_tests::kafka::Broker;
pub use patty_tests::postgres::postgres_schema;

pub const ADMIN_EMAIL: &str = "hq@pattypalace.example";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Cloud {
    pub base: String,
    pub http: Client,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Cloud {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::for_data_dir(dir.path());
        c.auth.bootstrap_admin = format!("{ADMIN_EMAIL}:{ADMIN_PASSWORD}");
        c.http.rate_per_minute = 100_000;
        c.http.rate_burst = 10_000;
        c.http.sign_in_per_address_per_minute = 10_000;
        c.http.sign_in_per_account_per_minute = 10_000;
        // These stories do not need telemetry: no embedded broker.
        c.mqtt.embedded = false;
        c.mail.pickup_dir = Some(dir.path().join("mail"));
        if backend == Backend::Postgres {
            c.database.url = postgres_schema().await;
            c.database.max_connections = 8;
        }
        tweak(&mut c);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            patty_cloud::run(c, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let http = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let cloud = Self { base, http, dir, backend, stop: Some(stop), task: Some(task) };
        patty_tests::fixtures::wait_healthy(&cloud.http, &cloud.base).await;
        cloud
    }

    /// A handle on a cloud started elsewhere (a real binary).
    pub fn attach(base: &str, backend: Backend) -> Self {
        let http = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Self { base: base.to_owned(), http, dir: tempfile::tempdir().unwrap(), backend, stop: None, task: None }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), t).await.expect("cloud stops within 15 s").unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut r = self.http.request(method, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.send(reqwest::Method::GET, Some(token), path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::POST, Some(token), path, Some(body)).await
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PUT, Some(token), path, Some(body)).await
    }

    pub async fn json(&self, r: Response, status: StatusCode) -> Value {
        let got = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(got, status, "body: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let r = self
            .send(
                reqwest::Method::POST,
                None,
                "/api/v1/auth/login",
                Some(&json!({ "email": email, "password": password })),
            )
            .await;
        self.json(r, StatusCode::OK).await
    }

    pub async fn admin(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn register(&self, email: &str) -> Value {
        let body = json!({ "email": email, "password": "s3cret-pass", "name": "Ada Customer" });
        let r = self.send(reqwest::Method::POST, None, "/api/v1/auth/register", Some(&body)).await;
        self.json(r, StatusCode::CREATED).await
    }

    /// Creates a staff-side account and signs it in; returns its access token.
    pub async fn staff(&self, admin: &str, email: &str, role: &str, outlet: Option<&str>) -> String {
        let mut body = json!({ "email": email, "password": "staff-pass-1", "name": "Staff", "role": role });
        if let Some(o) = outlet {
            body["outlet_id"] = json!(o);
        }
        self.json(self.post(admin, "/api/v1/users", &body).await, StatusCode::CREATED).await;
        self.login(email, "staff-pass-1").await["access_token"].as_str().unwrap().to_owned()
    }

    /// The one-time tokens mailed to `to` for `purpose` (`email_verification`, `password_reset`)
    /// through the pickup directory, oldest first, waiting until at least `min` arrived.
    pub async fn mailed_tokens(&self, to: &str, purpose: &str, min: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let found = mailed(&self.dir.path().join("mail"), to, purpose);
            if found.len() >= min {
                return found;
            }
            assert!(tokio::time::Instant::now() < deadline, "only {} of {min} {purpose} messages to {to}", found.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The latest one-time token mailed to `to` for `purpose`.
    pub async fn mailed_token(&self, to: &str, purpose: &str) -> String {
        self.mailed_tokens(to, purpose, 1).await.pop().unwrap()
    }

    /// All relayed events, waiting until at least `min` are there.
    pub async fn events(&self, admin: &str, min: usize) -> Vec<Value> {
        self.events_until(admin, &format!("{min} events"), |all| all.len() >= min).await
    }

    /// The relayed events once `done` holds for them (waiting for the relay, with a deadline).
    pub async fn events_until(&self, admin: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.json(self.get(admin, "/api/v1/events?after=0&limit=5000").await, StatusCode::OK).await;
            let all = all.as_array().unwrap().clone();
            if done(&all) {
                return all;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what} not relayed: only {} events", all.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Fails if `v` has a field named like a secret token anywhere inside it.
pub fn assert_no_token(v: &Value, what: &Value) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                assert!(!k.contains("token"), "{what} carries a secret: field {k:?} in {v}");
                assert_no_token(inner, what);
            }
        }
        Value::Array(a) => a.iter().for_each(|inner| assert_no_token(inner, what)),
        _ => {}
    }
}

/// Reads the `.eml` files in the pickup directory `dir`: the token of each message to `to` for
/// `purpose` (the line of its own in the plain part), oldest first.
pub fn mailed(dir: &std::path::Path, to: &str, purpose: &str) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()
        })
        .unwrap_or_default();
    files.sort_by_key(|p| (std::fs::metadata(p).and_then(|m| m.modified()).ok(), p.clone()));
    files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let (head, body) = text.split_once("\r\n\r\n")?;
            let lines: Vec<&str> = head.lines().collect();
            if !lines.contains(&format!("To: {to}").as_str())
                || !lines.contains(&format!("X-Patty-Template: security.{purpose}").as_str())
            {
                return None;
            }
            // The token stands on a line of its own in the plain part (quoted-printable leaves it
            // whole: it is short and plain).
            let lines: Vec<&str> = body.split("\r\n").collect();
            lines
                .windows(3)
                .find(|w| {
                    w[0].is_empty()
                        && w[2].is_empty()
                        && w[1].len() >= 20
                        && w[1].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
                .map(|w| w[1].to_owned())
        })
        .collect()
}

pub use patty_tests::fixtures::outlet;

/// A small catalog: a burger with an extras group, and fries with sizes.
pub fn catalog(outlet_price: Option<(&str, i64)>) -> Value {
    let burger = "01900000-0000-7000-8000-0000000000b1";
    let mut c = json!({
        "menu": {
            "currency": "EUR",
            "categories": [{ "id": "01900000-0000-7000-8000-0000000000c1", "name": "Burgers" }],
            "items": [
                { "id": burger, "category_id": "01900000-0000-7000-8000-0000000000c1", "name": "Classic Patty", "price": 790,
                  "modifier_groups": [{ "id": "01900000-0000-7000-8000-0000000000d1", "name": "Extras", "max": 2,
                     "modifiers": [{ "id": "01900000-0000-7000-8000-0000000000e1", "name": "Cheese", "price_delta": 80 }] }],
                  "allergens": ["gluten"], "nutrition": { "kcal": 520 } },
                { "id": "01900000-0000-7000-8000-0000000000b2", "category_id": "01900000-0000-7000-8000-0000000000c1", "name": "Fries", "price": 290,
                  "variants": [{ "id": "01900000-0000-7000-8000-0000000000f1", "name": "Regular" }, { "id": "01900000-0000-7000-8000-0000000000f2", "name": "Large", "price_delta": 100 }] }
            ]
        }
    });
    if let Some((outlet, price)) = outlet_price {
        c["outlets"] = json!({ outlet: { "prices": { burger: price } } });
    }
    c
}

pub const BURGER: &str = "01900000-0000-7000-8000-0000000000b1";
pub const CHEESE: &str = "01900000-0000-7000-8000-0000000000e1";
pub const FRIES: &str = "01900000-0000-7000-8000-0000000000b2";
pub const LARGE: &str = "01900000-0000-7000-8000-0000000000f2";

/// Generates one test per backend from an async story `fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() { super::$story($crate::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() { super::$story($crate::common::Backend::Postgres).await })*
        }
    };
}
