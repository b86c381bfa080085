//! The demo binary, run as a person would, on a temporary data directory and free ports, with a
//! short, busy day; everything is read back over HTTP from the cloud and the edges it printed.
//!
//! - Online delivery orders go from the customer's click to the door: delivered with the
//!   customer's code, the orders completed at the cloud. Ctrl-C stops it cleanly, and a second run
//!   on the same data resumes: the same outlets and keys, nothing made twice.
//! - An outlet whose link is cut keeps selling at the counter; what it sold while cut is not at
//!   the cloud until the link returns, and then it is.
//! - On real servers (PostgreSQL, Mosquitto, a Kafka-protocol broker) a delivery goes through
//!   the same way, its order kept in PostgreSQL and its story on Kafka.
//! - A bad option is one line on stderr and a non-zero exit.

use patty_protocol::topics::Topic;
use patty_tests::chain::{Api, free_port};
use patty_tests::fixtures::eventually;
use patty_tests::kafka::Broker;
use patty_tests::mqtt::Mosquitto;
use patty_tests::postgres::postgres_schema;
use patty_tests::process::workspace_binary;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("hq@pattypalace.example", "patty-demo-hq");

/// The demo, started with its output captured.
struct Demo {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// The cloud's base URL, as printed.
    cloud: String,
    /// Each outlet's edge's base URL, as printed.
    edges: Vec<String>,
}

fn collect(from: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let into = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if std::env::var_os("PATTY_TEST_ECHO").is_some() {
                eprintln!("demo: {line}");
            }
            into.lock().unwrap().push(line);
        }
    });
    lines
}

impl Demo {
    /// Starts the demo on `dir` with `args`, on free ports, and waits for its banner.
    async fn start(dir: &std::path::Path, args: &[&str]) -> Self {
        let mut child = Command::new(workspace_binary("patty-demo"))
            .args(["--data-dir", dir.to_str().unwrap(), "--port", "0", "--edge-port", "0", "--mqtt-port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start patty-demo");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let mut demo = Self { child, stdout, stderr, cloud: String::new(), edges: vec![] };
        demo.line("Ctrl-C stops the demo", 180).await;
        let url = |line: &str| line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
        for line in demo.stdout.lock().unwrap().iter() {
            if line.contains("HQ dashboard") {
                demo.cloud = url(line).trim_end_matches('/').to_owned();
            } else if line.contains("/pos/") {
                demo.edges.push(url(line).trim_end_matches("/pos/").to_owned());
            }
        }
        assert!(demo.cloud.starts_with("http://127.0.0.1:"), "{:?}", demo.stdout.lock().unwrap());
        demo
    }

    /// The first line of output containing `text`; panics after `secs` seconds or if the demo exits.
    async fn line(&mut self, text: &str, secs: u64) -> String {
        self.line_where(text, secs, |l| l.contains(text)).await
    }

    /// The first line of output that `want` likes; panics with `text` after `secs` seconds or if
    /// the demo exits.
    async fn line_where(&mut self, text: &str, secs: u64, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = self.stdout.lock().unwrap().iter().find(|l| want(l)) {
                return l.clone();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the demo exited ({status}) before printing {text:?}; stderr: {:?}",
                    self.stderr.lock().unwrap()
                );
            }
            assert!(Instant::now() < deadline, "no {text:?} in {secs} s; stderr: {:?}", self.stderr.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the demo to exit by itself (at most `secs` seconds).
    async fn exit(&mut self, secs: u64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the demo did not exit in {secs} s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ctrl-C, and its exit.
    async fn interrupt(&mut self) -> ExitStatus {
        let sent = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        self.exit(60).await
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cloud's API with HQ signed in, and HQ's token.
async fn sign_in_hq(demo: &Demo) -> (Api, String) {
    let cloud = Api::new(&demo.cloud);
    let token = cloud.login(ADMIN.0, ADMIN.1).await;
    (cloud, token)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Someone trying the demo on its defaults sees deliveries at the door in the first minute: the
/// run opens just before lunch with a few deliveries already cooking, and until the first
/// hand-over the summary line says what the first deliveries are waiting for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_defaults_the_first_deliveries_reach_the_door_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(dir.path(), &[]).await;
    let banner = Instant::now();
    let opened = demo.line("the doors open at 11:30", 10).await;
    assert!(opened.contains("6 deliveries already in the kitchens"), "{opened}");
    let waiting = demo.line(" | the kitchens are cooking the first orders | ", 10).await;
    assert!(waiting.starts_with("11:3"), "{waiting}");
    let (cloud, hq) = sign_in_hq(&demo).await;
    eventually("a delivery handed over within a minute of the banner", 60, || async {
        let (s, list) = cloud.call(Method::GET, &hq, "/api/v1/deliveries?scope=all&limit=1000", None).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        list.as_array().unwrap().iter().any(|d| d["status"] == "delivered").then_some(())
    })
    .await;
    let took = banner.elapsed();
    assert!(took < Duration::from_secs(60), "the first delivery took {took:?}");
    eprintln!("the first delivery reached the door {:.1} s after the banner", took.as_secs_f64());
    assert!(demo.interrupt().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_orders_reach_the_door_with_their_code_and_a_second_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--outlets", "2", "--drivers", "4", "--rate", "60", "--day-mins", "2", "--pace", "8"];
    let mut demo = Demo::start(dir.path(), &args).await;
    assert_eq!(demo.edges.len(), 2);
    let (cloud, hq) = sign_in_hq(&demo).await;

    // At least three deliveries handed over, as HQ sees them.
    let delivered = eventually("three deliveries handed over", 150, || async {
        let (s, list) = cloud.call(Method::GET, &hq, "/api/v1/deliveries?scope=all&limit=1000", None).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        let done: Vec<Value> =
            list.as_array().unwrap().iter().filter(|d| d["status"] == "delivered").cloned().collect();
        (done.len() >= 3).then_some(done)
    })
    .await;
    for d in &delivered {
        let milestones: Vec<&str> =
            d["milestones"].as_array().unwrap().iter().map(|m| m["status"].as_str().unwrap()).collect();
        for m in ["waiting", "assigned", "picked_up", "delivered"] {
            assert!(milestones.contains(&m), "{m} in {milestones:?}");
        }
        assert_eq!(d["code_attempts"], 0, "the customer's code, right the first time: {d}");
        let (s, order) =
            cloud.call(Method::GET, &hq, &format!("/api/v1/orders/{}", d["order_id"].as_str().unwrap()), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (order["channel"].as_str(), order["status"].as_str()),
            (Some("online"), Some("completed")),
            "{order}"
        );
        assert!(d["driver_id"].is_string());
    }
    // The summary line counts them, with a click-to-door time.
    let line = demo
        .line_where("a click-to-door time", 30, |l| {
            let avg = l.split("click-to-door avg ").nth(1).and_then(|r| r.split(' ').next());
            avg.and_then(|s| s.parse::<u32>().ok()).is_some_and(|s| s > 0)
        })
        .await;
    assert!(line.contains("placed ") && line.contains("delivered "), "{line}");

    // Ctrl-C: a clean stop.
    let status = demo.interrupt().await;
    assert!(status.success(), "{status}; stderr: {:?}", demo.stderr.lock().unwrap());
    demo.line("stopped cleanly", 5).await;
    // Orders go through: a refusal is an outlet out of stock, rare on a short day, never a basket
    // the menu does not take.
    let last = demo.line("final: ", 5).await;
    let placed: u64 = last.split("placed ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let refused: u64 = last.split("; ").nth(1).map_or(0, |r| r.split(' ').next().unwrap().parse().unwrap());
    assert!(placed >= 10 && refused * 20 <= placed, "{last}");
    let state = std::fs::read_to_string(dir.path().join("demo.json")).unwrap();

    // Again on the same data: the same outlets and keys; nothing registered twice.
    let mut again = Demo::start(dir.path(), &[&args[..], &["--duration-secs", "8"]].concat()).await;
    let (cloud, hq) = sign_in_hq(&again).await;
    let outlets = cloud.ok(Method::GET, &hq, "/api/v1/outlets", None).await;
    assert_eq!(outlets.as_array().unwrap().len(), 2, "{outlets}");
    let keys = cloud.ok(Method::GET, &hq, "/api/v1/api-keys", None).await;
    let kinds: Vec<&str> = keys.as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "edge").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "device").count(), 4, "{kinds:?}");
    assert!(again.exit(60).await.success(), "stderr: {:?}", again.stderr.lock().unwrap());
    assert_eq!(std::fs::read_to_string(dir.path().join("demo.json")).unwrap(), state, "the same outlets and keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_outlet_keeps_selling_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let args =
        ["--outlets", "2", "--drivers", "2", "--rate", "90", "--pace", "8", "--cut-outlet", "2", "--cut-after", "3"];
    let mut demo = Demo::start(dir.path(), &[&args[..], &["--cut-secs", "20"]].concat()).await;
    let (cloud, hq) = sign_in_hq(&demo).await;
    let edge = Api::new(&demo.edges[1]);
    let cashier = edge.pin("1111").await;
    let counter_orders = |from: i64, to: i64| {
        let (edge, cashier) = (&edge, &cashier);
        async move {
            let list = edge.ok(Method::GET, cashier, "/api/v1/orders?limit=500", None).await;
            list.as_array()
                .unwrap()
                .iter()
                .filter(|o| o["channel"] == "counter" && (from..to).contains(&o["created_ms"].as_i64().unwrap()))
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };

    demo.line("link to the cloud is down", 60).await;
    let cut_at = now_ms();
    // While cut, the outlet sells, and the cloud does not hear of it.
    let sold = eventually("a counter order while cut", 20, || async {
        counter_orders(cut_at, i64::MAX).await.into_iter().next()
    })
    .await;
    let (s, _) = cloud.call(Method::GET, &hq, &format!("/api/v1/orders/{sold}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "an order taken while cut is not at the cloud yet");
    let line = demo.line("OFFLINE (cut)", 10).await;
    assert!(line.contains("De Pijp OFFLINE (cut)"), "{line}");

    demo.line("link is back", 40).await;
    let back_at = now_ms();
    let while_cut = counter_orders(cut_at, back_at).await;
    assert!(while_cut.contains(&sold), "{while_cut:?}");
    // Everything it sold while cut reaches the cloud.
    for id in &while_cut {
        let path = format!("/api/v1/orders/{id}");
        let order = eventually("the order at the cloud", 60, || async {
            let (s, o) = cloud.call(Method::GET, &hq, &path, None).await;
            (s == StatusCode::OK).then_some(o)
        })
        .await;
        assert_eq!(order["channel"], "counter");
        assert!(order["paid"].as_i64().unwrap() > 0, "with its payment: {order}");
    }
    demo.line("caught up in", 60).await;
    let status = demo.interrupt().await;
    assert!(status.success(), "{status}; stderr: {:?}", demo.stderr.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_real_postgresql_mosquitto_and_kafka_the_chain_runs_the_same() {
    let mqtt = Mosquitto::start(free_port());
    let kafka = Broker::start().await;
    let database = postgres_schema().await;
    let dir = tempfile::tempdir().unwrap();
    let args = ["--outlets", "1", "--drivers", "3", "--rate", "60", "--day-mins", "2", "--pace", "8"];
    let servers = ["--database-url", &database, "--mqtt-url", &mqtt.url(), "--kafka-brokers", &kafka.addr];
    let mut demo = Demo::start(dir.path(), &[&args[..], &servers[..]].concat()).await;
    let (cloud, hq) = sign_in_hq(&demo).await;

    // A delivery handed over: the drivers' fixes came through Mosquitto, the orders live in
    // PostgreSQL, and the order's whole story is on Kafka.
    let delivered = eventually("a delivery handed over", 150, || async {
        let list = cloud.ok(Method::GET, &hq, "/api/v1/deliveries?scope=all&limit=1000", None).await;
        list.as_array().unwrap().iter().find(|d| d["status"] == "delivered").cloned()
    })
    .await;
    let order = delivered["order_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let kinds: Vec<String> = kafka
            .consume(&[Topic::Order.name()], 1, 10)
            .into_iter()
            .filter(|r| r["key"] == order.as_str())
            .map(|r| r["value"]["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        if kinds.first().map(String::as_str) == Some("order.placed") && kinds.iter().any(|k| k == "order.completed") {
            break;
        }
        assert!(Instant::now() < deadline, "order {order} on Kafka: {kinds:?}");
    }
    let mut db = sqlx::PgConnection::connect(&database).await.unwrap();
    let status: String =
        sqlx::query_scalar("SELECT status FROM orders WHERE id = $1").bind(&order).fetch_one(&mut db).await.unwrap();
    assert_eq!(status, "completed");
    let status = demo.interrupt().await;
    assert!(status.success(), "{status}; stderr: {:?}", demo.stderr.lock().unwrap());
}

#[test]
fn a_bad_option_is_one_line_on_stderr_and_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    for (args, names) in [
        (&["--outlets", "0"][..], "--outlets"),
        (&["--mqtt-url", "localhost:1883"][..], "--mqtt-url"),
        (&["--database-url", "mysql://db/patty"][..], "--database-url"),
        (&["--cut-outlet", "5"][..], "--cut-outlet"),
        (&["--no-such-option"][..], "--no-such-option"),
    ] {
        let out = Command::new(workspace_binary("patty-demo"))
            .args(["--data-dir", dir.path().join("never").to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("patty-demo: ") && stderr.contains(names), "{args:?}: {stderr}");
        assert!(!dir.path().join("never").exists(), "nothing was started or written");
    }
}
