//! A real Kafka-protocol broker (tansu) on a free loopback port, and an independent consumer
//! (confluent-kafka, from Python) to read topics back.

use serde_json::Value;
use std::time::Duration;

/// A real Kafka-protocol broker (tansu, in memory) on a free loopback port.
pub struct Broker {
    /// `host:port` to bootstrap from.
    pub addr: String,
    child: std::process::Child,
}

/// The tansu binary: `PATTY_TANSU`, else on PATH, else where the test command caches it.
pub fn tansu_binary() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("PATTY_TANSU") {
        return p.into();
    }
    let cached =
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/patty-tools/bin/tansu");
    if cached.exists() {
        return cached;
    }
    "tansu".into()
}

impl Broker {
    /// Starts a broker with in-memory storage and waits until it accepts connections.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let child = std::process::Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("a Kafka-protocol broker (tansu) is needed; ./scripts/test installs it: {e}"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(&addr).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the broker did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { addr, child }
    }

    /// Reads `topics` from the beginning with the independent consumer until `expected` records.
    pub fn consume(&self, topics: &[&str], expected: usize, timeout_secs: u64) -> Vec<Value> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/kafka_consume.py");
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg(&self.addr)
            .arg(expected.to_string())
            .arg(timeout_secs.to_string())
            .args(topics)
            .output()
            .expect("python3 runs the independent consumer");
        assert!(out.status.success(), "consumer failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Broker {
    /// Reads `topic` from the beginning with the independent client until `expected` records or
    /// `timeout_secs`: (records read, distinct (key, seq) pairs, partitions).
    pub fn count(&self, topic: &str, expected: u64, timeout_secs: u64) -> (u64, u64, u64) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/kafka_count.py");
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg(&self.addr)
            .arg(topic)
            .arg(expected.to_string())
            .arg(timeout_secs.to_string())
            .output()
            .expect("python3 counts the records");
        assert!(out.status.success(), "count: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        (n("records"), n("distinct"), n("partitions"))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
