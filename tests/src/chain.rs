//! A whole chain for the scenarios: the cloud, outlets' edges and driver agents as the real
//! binaries on free loopback ports with directories of their own, the links between them that a
//! test can cut, and a client that reads results back the way a user would (HTTP).

use crate::process::{spawn_service, workspace_binary};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// HQ's administrator, bootstrapped on every cloud a chain starts.
pub const ADMIN: &str = "hq@pattypalace.example";
/// Their password.
pub const PASSWORD: &str = "correct horse battery";
/// Where the sample outlet stands ([`crate::fixtures::outlet`]).
pub const OUTLET: (f64, f64) = (52.3740, 4.8930);
/// A customer's door about 1.1 km north-east of it, inside its delivery zone.
pub const HOME: (f64, f64) = (52.3800, 4.9050);

/// A free loopback port (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Unix seconds now.
pub fn now_s() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32
}

/// A point `m` metres north of `p`.
pub fn north(p: (f64, f64), m: f64) -> (f64, f64) {
    (p.0 + m / 111_320.0, p.1)
}

/// A point the fraction `f` of the way from `a` to `b`.
pub fn between(a: (f64, f64), b: (f64, f64), f: f64) -> (f64, f64) {
    (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f)
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub Child);

impl Killed {
    /// Kills it now, as a power cut would.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for the process to exit successfully; panics after `secs` seconds or on failure.
    pub async fn finishes(&mut self, secs: u64) {
        let status = crate::fixtures::eventually("the process to finish", secs, || {
            let s = self.0.try_wait().unwrap();
            async move { s }
        })
        .await;
        assert!(status.success(), "it did its work and stopped: {status}");
    }
}

/// A counter's value in a Prometheus exposition (0 when absent).
pub fn metric(exposition: &str, name: &str) -> u64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JSON client for one service.
#[derive(Clone)]
pub struct Api {
    /// The HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Api {
    /// A client for `base`, each request given 20 s.
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        Self { http, base: base.to_owned() }
    }

    /// Sends a request with a bearer token (none when empty) and an optional JSON body; the status
    /// and the JSON answer (`null` when it is not JSON). A refused connection is a 503.
    pub async fn call(&self, method: Method, token: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            r = r.bearer_auth(token);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        match r.send().await {
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": e.to_string() })),
        }
    }

    /// Like [`Api::call`], panicking unless the answer is 2xx.
    pub async fn ok(&self, method: Method, token: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, token, path, body).await;
        assert!(s.is_success(), "{path}: {s}: {v}");
        v
    }

    /// GETs `path` until it answers 200 (a thing that comes into being, like a delivery once
    /// its order is ready); its answer. Panics with `what` after 30 s.
    pub async fn when_ok(&self, what: &str, token: &str, path: &str) -> Value {
        crate::fixtures::eventually(what, 30, || async {
            let (s, v) = self.call(Method::GET, token, path, None).await;
            (s == StatusCode::OK).then_some(v)
        })
        .await
    }

    /// GETs `path`, panicking unless the answer is 200.
    pub async fn get(&self, token: &str, path: &str) -> Value {
        let (s, v) = self.call(Method::GET, token, path, None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// POSTs `body`: the status and the JSON answer.
    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, token, path, Some(body)).await
    }

    /// POSTs `body`, panicking unless the answer is 2xx.
    pub async fn post_ok(&self, token: &str, path: &str, body: Value) -> Value {
        self.ok(Method::POST, token, path, Some(body)).await
    }

    /// POSTs `body` with an `Idempotency-Key`, as a till or a customer's app places an order;
    /// panics unless it is 201.
    pub async fn place(&self, token: &str, path: &str, key: &str, body: &Value) -> Value {
        let r = self.http.post(format!("{}{path}", self.base)).bearer_auth(token).header("idempotency-key", key);
        let r = r.json(body).send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
        v
    }

    /// Signs in with a password at the cloud; the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        crate::fixtures::login(&self.http, &self.base, email, password).await
    }

    /// Signs in with a staff PIN at an edge; the session token.
    pub async fn pin(&self, pin: &str) -> String {
        crate::fixtures::pin_session(&self.http, &self.base, pin).await
    }
}

/// The cloud binary with HQ's administrator signed in.
pub struct Cloud {
    _proc: Killed,
    /// Its API.
    pub api: Api,
    /// HQ's administrator's token.
    pub admin: String,
    /// The MQTT broker it reads fixes from (its embedded one unless another was given).
    pub mqtt_port: u16,
}

/// How a cloud starts.
#[derive(Default)]
pub struct CloudOptions {
    /// Kafka bootstrap servers; none leaves Kafka off.
    pub kafka: Option<String>,
    /// An MQTT broker's `mqtt://…` URL; none runs the cloud's embedded broker on a free port.
    pub mqtt_url: Option<String>,
    /// More `PATTY_…` settings.
    pub envs: Vec<(&'static str, String)>,
}

impl Cloud {
    /// Starts the cloud on SQLite in `dir`.
    pub async fn start(dir: &Path, opts: CloudOptions) -> Self {
        let mut envs = vec![
            ("PATTY_AUTH__BOOTSTRAP_ADMIN", format!("{ADMIN}:{PASSWORD}")),
            ("PATTY_HTTP__RATE_PER_MINUTE", "100000".into()),
            ("PATTY_HTTP__RATE_BURST", "10000".into()),
            ("PATTY_HTTP__SIGN_IN_PER_ADDRESS_PER_MINUTE", "10000".into()),
            ("PATTY_HTTP__SIGN_IN_PER_ACCOUNT_PER_MINUTE", "10000".into()),
        ];
        match &opts.mqtt_url {
            Some(url) => envs.push(("PATTY_MQTT__URL", url.clone())),
            None => envs.push(("PATTY_MQTT__EMBEDDED_LISTEN", format!("127.0.0.1:{}", free_port()))),
        }
        envs.extend(opts.envs);
        let mut args = vec!["--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()];
        if let Some(k) = &opts.kafka {
            args.extend(["--kafka-brokers", k]);
        }
        let (child, base) = spawn_service(&workspace_binary("patty-cloud"), &args, &envs);
        let proc = Killed(child);
        let api = Api::new(&base);
        let health = api.ok(Method::GET, "", "/healthz", None).await;
        let mqtt_port = health["mqtt"].as_str().and_then(|m| m.rsplit_once(':')).and_then(|(_, p)| p.parse().ok());
        let admin = api.login(ADMIN, PASSWORD).await;
        Self { _proc: proc, api, admin, mqtt_port: mqtt_port.expect("the cloud names its MQTT broker") }
    }

    /// Registers the sample outlet (HQ) and publishes the sample menu, once per cloud; the outlet's
    /// id.
    pub async fn outlet(&self) -> String {
        let outlet = uuid::Uuid::now_v7().to_string();
        self.api.ok(Method::POST, &self.admin, "/api/v1/outlets", Some(crate::fixtures::outlet(&outlet))).await;
        let versions = self.api.ok(Method::GET, &self.admin, "/api/v1/catalog/versions", None).await;
        if versions.as_array().is_none_or(|v| v.is_empty()) {
            let seed = sample_seed();
            let draft = Some(json!({ "menu": seed["menu"] }));
            self.api.ok(Method::PUT, &self.admin, "/api/v1/catalog/draft", draft).await;
            self.api.ok(Method::POST, &self.admin, "/api/v1/catalog/publish", Some(json!({}))).await;
        }
        outlet
    }

    /// An API key for `outlet`'s edge; its secret.
    pub async fn edge_key(&self, outlet: &str) -> String {
        let body = json!({ "kind": "edge", "subject": outlet, "name": "edge" });
        let key = self.api.ok(Method::POST, &self.admin, "/api/v1/api-keys", Some(body)).await;
        key["secret"].as_str().unwrap().to_owned()
    }

    /// A driver `name` (password `driver-pass-1`) with a device key: (user id, device id).
    pub async fn driver(&self, name: &str) -> (String, String) {
        let email = format!("{name}@example.com");
        let body = json!({ "email": email, "password": "driver-pass-1", "name": name, "role": "driver" });
        let user = self.api.ok(Method::POST, &self.admin, "/api/v1/users", Some(body)).await;
        let body = json!({ "kind": "device", "subject": user["id"], "name": format!("{name}'s phone") });
        let key = self.api.ok(Method::POST, &self.admin, "/api/v1/api-keys", Some(body)).await;
        (user["id"].as_str().unwrap().to_owned(), key["api_key"]["id"].as_str().unwrap().to_owned())
    }

    /// A customer who registered themselves, with a saved address at [`HOME`]: (token, address id).
    pub async fn customer(&self, name: &str) -> (String, String) {
        let body = json!({ "email": format!("{name}@example.com"), "password": "s3cret-pass", "name": name });
        let reg = self.api.ok(Method::POST, "", "/api/v1/auth/register", Some(body)).await;
        let token = reg["access_token"].as_str().unwrap().to_owned();
        let address = json!({ "label": "home", "line1": "Prins Hendrikkade 1", "city": "Amsterdam", "postcode": "1012", "position": { "lat": HOME.0, "lon": HOME.1 } });
        let home = self.api.ok(Method::POST, &token, "/api/v1/me/addresses", Some(address)).await;
        (token, home["id"].as_str().unwrap().to_owned())
    }

    /// Waits until `n` drivers are online with a position, as HQ sees the fleet.
    pub async fn drivers_online(&self, n: usize) {
        crate::fixtures::eventually(&format!("{n} drivers online with a position"), 30, || async {
            let v = self.api.ok(Method::GET, &self.admin, "/api/v1/fleet/positions", None).await;
            (v.as_array().unwrap().iter().filter(|p| p["online"] == true).count() == n).then_some(())
        })
        .await;
    }

    /// The delivery once HQ sees it in status `want`; panics after 30 s.
    pub async fn delivery_reaches(&self, delivery: &str, want: &str) -> Value {
        crate::fixtures::eventually(want, 30, || async {
            let v = self.api.ok(Method::GET, &self.admin, &format!("/api/v1/deliveries/{delivery}"), None).await;
            (v["status"] == want).then_some(v)
        })
        .await
    }
}

/// The sample outlet's seed: its menu, stock and staff.
pub fn sample_seed() -> Value {
    serde_json::from_str(include_str!("../../outlet-edge/sample/seed.json")).unwrap()
}

/// The id of the sample menu's item `name`.
pub fn sample_item(name: &str) -> String {
    let seed = sample_seed();
    let items = seed["menu"]["items"].as_array().unwrap();
    items.iter().find(|i| i["name"] == name).unwrap()["id"].as_str().unwrap().to_owned()
}

/// An outlet's edge binary, linked to a cloud.
pub struct Edge {
    /// The process.
    pub proc: Killed,
    /// Its API.
    pub api: Api,
}

impl Edge {
    /// Starts the edge of `outlet` on SQLite in `dir`, its cloud at `cloud_url` with API key `key`.
    pub async fn start(dir: &Path, outlet: &str, cloud_url: &str, key: &str, envs: &[(&str, String)]) -> Self {
        let mut all = vec![
            ("PATTY_OUTLET__ID", outlet.to_owned()),
            ("PATTY_CLOUD__URL", cloud_url.to_owned()),
            ("PATTY_CLOUD__API_KEY", key.to_owned()),
        ];
        all.extend(envs.iter().cloned());
        let args = ["--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()];
        let (child, base) = spawn_service(&workspace_binary("patty-edge"), &args, &all);
        Self { proc: Killed(child), api: Api::new(&base) }
    }

    /// The edge's view of its cloud link once `cond` holds; panics after 60 s.
    pub async fn link_when(&self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let manager = self.api.pin("1234").await;
        crate::fixtures::eventually(what, 60, || async {
            let (s, v) = self.api.call(Method::GET, &manager, "/api/v1/sync/status", None).await;
            (s == StatusCode::OK && cond(&v)).then_some(v)
        })
        .await
    }
}

/// The driver agent binary with its console on pipes: positions and answers typed on stdin,
/// the cloud's commands read from stdout.
pub struct Agent {
    child: Killed,
    lines: mpsc::Receiver<String>,
    time_s: u32,
}

impl Agent {
    /// Starts the agent of `device` against the broker on `broker_port`, its buffer in `dir`.
    pub fn start(device: &str, broker_port: u16, dir: &Path) -> Self {
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

    /// Types a line on the agent's console.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.child.0.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Reports a position, moving at 5 m/s, 15 s after the last.
    pub fn at(&mut self, p: (f64, f64)) {
        self.time_s += 15;
        let line =
            json!({ "lat": p.0, "lon": p.1, "accuracy": 5.0, "speed": 5.0, "heading": 10.0, "time": self.time_s });
        self.type_line(&line.to_string());
    }

    /// The next line on the console containing `text`; panics after 30 s.
    pub fn shows(&self, text: &str) -> String {
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

/// A TCP link the test can cut: the relay of [`crate::link`] (the demo uses the same), on a thread and
/// runtime of its own so nothing the test blocks on can hold the link up. While cut, its
/// connections are dropped and new ones closed at once (what a dead mobile link looks like to both
/// ends). It stops when dropped.
pub struct CuttableLink {
    relay: Arc<crate::link::Relay>,
    /// The port to connect to instead of the target's.
    pub port: u16,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl CuttableLink {
    /// Relays a free loopback port to `target`.
    pub fn start(target: u16) -> Self {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let (tx, rx) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let target = std::net::SocketAddr::from(([127, 0, 0, 1], target));
                let (relay, task) = crate::link::Relay::start(target, stop).await.unwrap();
                tx.send(relay).unwrap();
                let _ = task.await;
            })
        });
        let relay = rx.recv().expect("the relay starts");
        Self { port: relay.addr.port(), relay, _stop: stop_tx }
    }

    /// Cuts the link (dropping what is open) or heals it.
    pub fn set_cut(&self, cut: bool) {
        self.relay.set_cut(cut);
    }
}

/// A cloud with the sample outlet and its edge, linked, holding the first catalog.
pub async fn linked_outlet(dir: &Path, opts: CloudOptions, edge_envs: &[(&str, String)]) -> (Cloud, String, Edge) {
    let cloud = Cloud::start(&dir.join("cloud"), opts).await;
    let outlet = cloud.outlet().await;
    let key = cloud.edge_key(&outlet).await;
    let edge = Edge::start(&dir.join("edge"), &outlet, &cloud.api.base, &key, edge_envs).await;
    edge.link_when("the first catalog over an open link", |s| s["catalog_version"] == 1 && s["link"] == "online").await;
    (cloud, outlet, edge)
}

/// A delivery's job number, hand-over code and id, as its customer or its till reads it.
pub fn job_of(d: &Value) -> (u64, &str, &str) {
    (d["job"].as_u64().unwrap(), d["handover_code"].as_str().unwrap(), d["id"].as_str().unwrap())
}

/// Moves an order at the edge, as `token`'s holder taps it.
pub async fn move_at_till(till: &Api, token: &str, order: &str, status: &str) {
    till.ok(Method::POST, token, &format!("/api/v1/orders/{order}/status"), Some(json!({ "status": status }))).await;
}

/// Drives the agent from near the outlet to the door of a delivery it was offered: accepts,
/// reaches the pickup, confirms it, drives to the door and types `code`.
pub async fn deliver(cloud: &Cloud, fay: &mut Agent, job: u64, delivery: &str, code: &str) {
    fay.shows(&format!("offer job {job}"));
    fay.type_line(&format!("accept {job}"));
    fay.shows(&format!("job {job} is yours"));
    for m in [150.0, 60.0, 20.0] {
        fay.at(north(OUTLET, m));
    }
    cloud.delivery_reaches(delivery, "at_pickup").await;
    fay.type_line(&format!("picked {job}"));
    cloud.delivery_reaches(delivery, "picked_up").await;
    for f in [0.5, 0.9, 1.0] {
        fay.at(between(OUTLET, HOME, f));
    }
    fay.shows(&format!("job {job}: at the door"));
    fay.type_line(&format!("code {job} {code}"));
    fay.shows(&format!("job {job} delivered"));
}
