//! The payment providers' double (`tests/payments-double/double.mjs`): a Node program that plays
//! Stripe and Razorpay on a free loopback port, started per test and killed on drop. The adapter
//! tests drive it directly; the cloud's checkout tests point the cloud's `api_base` at it.
//!
//! Stripe is served under [`Double::stripe_base`], Razorpay under [`Double::razorpay_base`], and
//! the control API (confirming as the customer, faults, what was called and sent) under
//! `/_double/`, wrapped by the methods here.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Stripe secret key the double accepts (`Authorization: Bearer …`).
pub const STRIPE_KEY: &str = "sk_test_patty_double";
/// The Razorpay key id the double accepts (basic auth user).
pub const RAZORPAY_KEY_ID: &str = "rzp_test_pattydouble";
/// The Razorpay key secret the double accepts (basic auth password, and the checkout
/// signature's key).
pub const RAZORPAY_KEY_SECRET: &str = "rzp_secret_patty_double";

/// How long the double may take to say where it listens.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// The workspace's root (the `patty-tests` crate sits in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_owned()
}

/// The double's directory, `<root>/tests/payments-double`.
pub fn double_dir() -> PathBuf {
    workspace_root().join("tests").join("payments-double")
}

/// Stripe's published fixtures: `$PATTY_STRIPE_FIXTURES`, else
/// `<root>/../shared/payments/stripe-fixtures3.json`. Panics if the variable names no file. Where
/// neither is there (a clone away from the shared data), it says so on stderr and the double
/// answers from bare objects of each kind, with every field it sets.
pub fn stripe_fixtures() -> PathBuf {
    let default = workspace_root().join("..").join("shared").join("payments").join("stripe-fixtures3.json");
    if let Some(given) = std::env::var_os("PATTY_STRIPE_FIXTURES") {
        let given = PathBuf::from(given);
        assert!(given.is_file(), "PATTY_STRIPE_FIXTURES names {}, which is not a file", given.display());
        return given;
    }
    if !default.is_file() {
        eprintln!(
            "Stripe's fixtures are not at {} and PATTY_STRIPE_FIXTURES is not set: the payments double answers from bare objects",
            default.display()
        );
    }
    default
}

/// A running double. Killed when dropped.
pub struct Double {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    child: Child,
    http: reqwest::Client,
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Double {
    /// Starts the double on a free loopback port (installing its npm packages first if they are
    /// missing) and waits for its `listening <port>` line. Panics if it does not say so within
    /// 30 seconds, or exits first. Its stdin is its lifeline: it exits if this process dies.
    pub fn start() -> Double {
        crate::fixtures::ensure_node_modules(&double_dir(), "stripe");
        let script = double_dir().join("double.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .arg("0")
            .env("PATTY_STRIPE_FIXTURES", stripe_fixtures())
            .env("PATTY_DOUBLE_STRIPE_KEY", STRIPE_KEY)
            .env("PATTY_DOUBLE_RAZORPAY_KEY_ID", RAZORPAY_KEY_ID)
            .env("PATTY_DOUBLE_RAZORPAY_KEY_SECRET", RAZORPAY_KEY_SECRET)
            .env("PATTY_DOUBLE_STDIN_LIFELINE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start node {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let first = lines.next();
            let _ = tx.send(first);
            // Keep reading, so the double never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(START_DEADLINE) {
            Ok(Some(line)) => line,
            Ok(None) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!("the payments double exited before listening ({status}); its stderr is above");
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the payments double did not say where it listens within {START_DEADLINE:?}");
            }
        };
        let port: u16 = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the payments double's first line is {line:?}, not `listening <port>`"));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client");
        Double { url: format!("http://127.0.0.1:{port}"), port, child, http }
    }

    /// Stripe's API base for an adapter (`api_base`).
    pub fn stripe_base(&self) -> String {
        format!("{}/stripe", self.url)
    }

    /// Razorpay's API base for an adapter (`api_base`).
    pub fn razorpay_base(&self) -> String {
        format!("{}/razorpay", self.url)
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/_double/{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("the double's /_double/{path}: {e}"));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_else(|e| panic!("the double's /_double/{path} answer: {e}"));
        assert!(status.is_success(), "the double's /_double/{path} answered {status}: {body}");
        body
    }

    /// `POST /_double/config`: any of `stripe_webhook_url`, `stripe_webhook_secret`,
    /// `razorpay_webhook_url`, `razorpay_webhook_secret` (and the keys it accepts:
    /// `stripe_secret_key`, `razorpay_key_id`, `razorpay_key_secret`).
    pub async fn config(&self, config: Value) -> Value {
        self.control(reqwest::Method::POST, "config", Some(config)).await
    }

    /// `POST /_double/faults`: any of `timeout_next_create` (bool), `hang_ms` (how long that
    /// create hangs; 30 s by default), `duplicate_webhooks` (bool), `webhook_before_response`
    /// (bool), `fail_next` (count of 500s), `delay_webhooks_ms`, and `reset` (bool: back to no
    /// faults first). Answers the faults now in force.
    pub async fn faults(&self, faults: Value) -> Value {
        self.control(reqwest::Method::POST, "faults", Some(faults)).await
    }

    /// `POST /_double/confirm`: the customer confirms payment `reference` (`pi_…` or `order_…`)
    /// in the provider's client, with `outcome` `authorise` or `decline`. Answers `{provider,
    /// reference, status, charge, events}`, and for an authorised Razorpay payment the
    /// checkout's `razorpay_order_id`, `razorpay_payment_id` and `razorpay_signature`.
    pub async fn confirm(&self, reference: &str, outcome: &str) -> Value {
        self.control(reqwest::Method::POST, "confirm", Some(json!({"reference": reference, "outcome": outcome}))).await
    }

    /// [`Double::confirm`] with more fields (`payment_method`: a `pm_…` for Stripe; `token`: a
    /// `token_…` for Razorpay).
    pub async fn confirm_with(&self, body: Value) -> Value {
        self.control(reqwest::Method::POST, "confirm", Some(body)).await
    }

    /// `POST /_double/payment_methods`: a card as the provider's client would tokenise it.
    /// Answers `{id, stripe: "pm_…", razorpay: "token_…"}`.
    pub async fn payment_method(&self, brand: &str, last4: &str, exp_month: u32, exp_year: u32) -> Value {
        self.payment_method_with(json!({"brand": brand, "last4": last4, "exp_month": exp_month, "exp_year": exp_year}))
            .await
    }

    /// [`Double::payment_method`] with more fields: `razorpay_customer` (the `cust_…` whose token
    /// it is), `decline` (bool: the card is declined when charged).
    pub async fn payment_method_with(&self, body: Value) -> Value {
        self.control(reqwest::Method::POST, "payment_methods", Some(body)).await
    }

    /// `GET /_double/calls`: every API call received, oldest first: `{provider, method, path,
    /// query, idempotency_key, status, at, at_ms}` (`path` without the `/stripe` or `/razorpay`
    /// prefix).
    pub async fn calls(&self) -> Vec<Value> {
        self.control(reqwest::Method::GET, "calls", None).await.as_array().cloned().unwrap_or_default()
    }

    /// `GET /_double/events`: every webhook made, oldest first: `{id, provider, type, reference,
    /// payload, headers, url, status, deliveries, created_at}` (`payload` the raw body sent;
    /// `status` the HTTP status the receiver last answered, null until it has).
    pub async fn events(&self) -> Vec<Value> {
        self.control(reqwest::Method::GET, "events", None).await.as_array().cloned().unwrap_or_default()
    }

    /// `POST /_double/resend`: delivers recorded webhook `event_id` again now (Stripe's signed
    /// afresh); answers `{event_id, status, error}`.
    pub async fn resend(&self, event_id: &str) -> Value {
        self.control(reqwest::Method::POST, "resend", Some(json!({"event_id": event_id}))).await
    }

    /// `POST /_double/sign`: a `Stripe-Signature` header for `payload` made by Stripe's library
    /// (`generateTestHeaderString`), with `secret` and, if given, `timestamp` (Unix seconds).
    pub async fn sign_stripe(&self, payload: &str, secret: &str, timestamp: Option<i64>) -> String {
        let mut body = json!({"payload": payload, "secret": secret});
        if let Some(t) = timestamp {
            body["timestamp"] = json!(t);
        }
        let answer = self.control(reqwest::Method::POST, "sign", Some(body)).await;
        answer["header"].as_str().expect("a signature header").to_owned()
    }

    /// Polls [`Double::events`] until `done` holds for them; panics with `what` and the events
    /// after `deadline`.
    pub async fn wait_events(&self, what: &str, deadline: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let events = self.events().await;
            if done(&events) {
                return events;
            }
            if tokio::time::Instant::now() > until {
                let brief: Vec<String> = events
                    .iter()
                    .map(|e| format!("{} {} {} → {}", e["id"], e["type"], e["reference"], e["status"]))
                    .collect();
                panic!("timed out after {deadline:?} waiting for {what}; the double's webhooks: {brief:#?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
