//! A web push service of the test's own: npm's `web-push-testing` (in `tests/notify-servers`),
//! which takes subscriptions like a browser's push service, checks each push's VAPID token and
//! decrypts its `aes128gcm` body, and hands back what it decrypted. Started per test on a free
//! loopback port and killed on drop.
//!
//! Its server is started directly (not through its `start` command, which detaches it and keeps
//! a pid file), from a small launcher that binds it to 127.0.0.1 only and exits when this
//! process's end of its stdin closes, so a test that dies leaves no server behind.

use crate::fixtures::ensure_node_modules;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the service may take to say it listens.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// How many free ports are tried, in case another process takes the one picked first.
const START_TRIES: usize = 3;

/// Loads the server on `127.0.0.1` and the port in `argv[1]`, and exits once stdin closes.
const LAUNCHER: &str = r#"
const http = require('http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, callback) { return listen.call(this, port, '127.0.0.1', callback); };
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
const [, server, port] = process.argv;
process.argv = [process.argv[0], server, port];
require(server);
"#;

/// The servers' directory, `<root>/tests/notify-servers`.
pub fn servers_dir() -> PathBuf {
    crate::payments::workspace_root().join("tests").join("notify-servers")
}

/// A running push service. Killed when dropped.
pub struct PushService {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    child: Child,
    http: reqwest::Client,
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PushService {
    /// Starts the service on a free loopback port (installing the npm packages first if they are
    /// missing) and waits for it to say it listens. Panics if it does not within 30 seconds, or
    /// keeps exiting first (as when the port was taken meanwhile).
    pub fn start() -> PushService {
        ensure_node_modules(&servers_dir(), "web-push-testing");
        let server = servers_dir().join("node_modules/web-push-testing/src/bin/server.js");
        for _ in 0..START_TRIES {
            let port = crate::chain::free_port();
            if let Some(child) = spawn(&server, port) {
                let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client");
                return PushService { url: format!("http://127.0.0.1:{port}"), port, child, http };
            }
        }
        panic!("web-push-testing exited before listening {START_TRIES} times; its output is above");
    }

    async fn call(&self, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the push service's /{path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_else(|e| panic!("the push service's /{path} answer: {e}"));
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Subscribes as a browser would with `application_server_key` (the VAPID public key,
    /// base64url). Returns the subscription JSON a page would send (`{"endpoint", "keys":
    /// {"p256dh", "auth"}}`, its endpoint on 127.0.0.1) and the client hash the other methods take.
    pub async fn subscribe(&self, application_server_key: &str) -> (Value, String) {
        let (status, answer) = self
            .call("subscribe", json!({ "applicationServerKey": application_server_key, "userVisibleOnly": "true" }))
            .await;
        assert!(status.is_success(), "subscribe answered {status}: {answer}");
        let data = &answer["data"];
        let hash = data["clientHash"].as_str().unwrap_or_else(|| panic!("no clientHash in {answer}")).to_owned();
        let endpoint = data["endpoint"].as_str().unwrap_or_else(|| panic!("no endpoint in {answer}"));
        // It names itself `localhost`, which may resolve to ::1, where it does not listen.
        let endpoint = endpoint.replacen("//localhost:", "//127.0.0.1:", 1);
        (json!({ "endpoint": endpoint, "keys": data["keys"] }), hash)
    }

    /// The payloads delivered so far to the subscription `client_hash`, decrypted, oldest first:
    /// each parsed as JSON, or as a string where it is not JSON.
    pub async fn notifications(&self, client_hash: &str) -> Vec<Value> {
        let (status, answer) = self.call("get-notifications", json!({ "clientHash": client_hash })).await;
        assert!(status.is_success(), "get-notifications answered {status}: {answer}");
        let messages = answer["data"]["messages"].as_array().unwrap_or_else(|| panic!("no messages in {answer}"));
        messages
            .iter()
            .map(|m| match m.as_str() {
                Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
                None => m.clone(),
            })
            .collect()
    }

    /// Waits until at least `count` payloads were delivered to `client_hash` and returns them all;
    /// panics after `deadline`, saying what had arrived.
    pub async fn wait_notifications(&self, client_hash: &str, count: usize, deadline: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let got = self.notifications(client_hash).await;
            if got.len() >= count {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "{} of {count} push messages arrived within {deadline:?}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Expires the subscription `client_hash`: pushes to it answer 410 from now on.
    pub async fn expire(&self, client_hash: &str) {
        let (status, answer) = self.call(&format!("expire-subscription/{client_hash}"), json!({})).await;
        assert!(status.is_success(), "expire-subscription answered {status}: {answer}");
    }
}

/// Starts the server on `port` and waits for its `Server running on port` line; `None` if it
/// exits first. Panics if it neither says so nor exits within [`START_DEADLINE`].
fn spawn(server: &std::path::Path, port: u16) -> Option<Child> {
    let mut child = Command::new("node")
        .arg("-e")
        .arg(LAUNCHER)
        .arg(server)
        .arg(port.to_string())
        .current_dir(servers_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start node {}: {e} (is Node.js installed?)", server.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // Keep reading after the line, so the server never blocks on a full pipe; it logs
            // each refused token.
            if !said && line.contains("Server running on port") {
                said = true;
                let _ = tx.send(());
            } else if std::env::var_os("PATTY_TEST_ECHO").is_some() || !said {
                eprintln!("web-push-testing: {line}");
            }
        }
    });
    match rx.recv_timeout(START_DEADLINE) {
        Ok(()) => Some(child),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            let _ = child.wait();
            None
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("web-push-testing did not say it listens on {port} within {START_DEADLINE:?}");
        }
    }
}
