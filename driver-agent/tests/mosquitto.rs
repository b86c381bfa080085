//! The agent against a real Mosquitto (started by the test on a free port): a simulated drive
//! arrives complete and in order, the last will follows a crash, and fixes made while no broker is
//! reachable wait on disk, across a restart of the agent, and then arrive in order.

use patty_protocol::telemetry::{Fix, topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The agent, with its log lines forwarded to a channel.
struct Agent {
    child: Child,
    log: std::sync::mpsc::Receiver<String>,
}

impl Agent {
    fn start(port: u16, device: &str, buffer: &std::path::Path, route: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_patty-driver"))
            .args(["--device", device, "--broker", &format!("127.0.0.1:{port}"), "--source", "simulate"])
            .args(["--route", route, "--speed-kmh", "72", "--tick-ms", "2", "--interval", "10"])
            .arg("--buffer")
            .arg(buffer)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, log) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, log }
    }

    fn wait_log(&self, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(what) => return,
                Ok(_) => {}
                Err(_) => panic!("the agent never logged {what:?}"),
            }
        }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A subscriber to one device's fixes and status.
struct Watcher {
    events: rumqttc::EventLoop,
    _client: AsyncClient,
}

impl Watcher {
    async fn start(port: u16, device: &str) -> Self {
        let mut opts = MqttOptions::new(format!("watch-{device}"), "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(opts, 100);
        client.subscribe(topic(device, "fix"), QoS::AtLeastOnce).await.unwrap();
        client.subscribe(topic(device, "status"), QoS::AtLeastOnce).await.unwrap();
        // Wait for the subscriptions to be granted.
        let mut granted = 0;
        while granted < 2 {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
                granted += 1;
            }
        }
        Self { events, _client: client }
    }

    /// The next message: (topic kind, payload).
    async fn next(&mut self) -> (String, Vec<u8>) {
        loop {
            let e = tokio::time::timeout(Duration::from_secs(30), self.events.poll())
                .await
                .expect("a message within 30 s")
                .unwrap();
            if let Event::Incoming(Packet::Publish(p)) = e {
                return (p.topic.rsplit('/').next().unwrap().to_owned(), p.payload.to_vec());
            }
        }
    }

    /// Fixes until one with speed 0 at the route's end; repeats (same seq) dropped.
    async fn drive(&mut self) -> Vec<Fix> {
        let mut fixes: Vec<Fix> = Vec::new();
        loop {
            let (kind, payload) = self.next().await;
            if kind != "fix" {
                continue;
            }
            let f = Fix::decode(&payload).expect("a fix decodes");
            if fixes.last().is_some_and(|l| f.seq <= l.seq) {
                continue; // a QoS 1 repeat
            }
            fixes.push(f);
            if f.speed_dms == 0 && fixes.len() > 1 {
                return fixes;
            }
        }
    }
}

const ROUTE: &str = "52.3731,4.8926;52.3789,4.9003;52.3770,4.9100";

#[tokio::test]
async fn a_drive_arrives_in_order_and_the_last_will_follows_a_crash() {
    let port = free_port();
    let _broker = patty_tests::mqtt::Mosquitto::start(port);
    let mut watch = Watcher::start(port, "van-7").await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(port, "van-7", &dir.path().join("buffer.db"), ROUTE);
    let fixes = watch.drive().await;
    assert_eq!(fixes.iter().map(|f| f.seq).collect::<Vec<_>>(), (1..=fixes.len() as u32).collect::<Vec<_>>());
    assert!(fixes.len() >= 8, "about 1.5 km at one fix per 200 m or 10 s: {}", fixes.len());
    let (first, last) = (fixes[0], fixes[fixes.len() - 1]);
    assert!((first.lat() - 52.3731).abs() < 1e-5 && (first.lon() - 4.8926).abs() < 1e-5);
    assert!((last.lat() - 52.3770).abs() < 1e-5 && (last.lon() - 4.9100).abs() < 1e-5);
    assert!(fixes.iter().all(Fix::in_range));
    assert!(fixes.windows(2).all(|w| w[1].time_s >= w[0].time_s));
    assert_eq!(fixes[1].speed_dms, 200, "72 km/h is 20 m/s");
    agent.kill();
    loop {
        let (kind, payload) = watch.next().await;
        if kind == "status" && payload == b"offline" {
            break;
        }
    }
}

#[tokio::test]
async fn fixes_wait_on_disk_through_an_outage_and_a_restart() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let buffer = dir.path().join("buffer.db");
    // No broker yet: the whole first drive goes to disk, then the agent dies.
    let mut first = Agent::start(port, "van-8", &buffer, ROUTE);
    first.wait_log("the position source ended");
    first.kill();
    // The broker comes up; a restarted agent sends the first drive, then its own, in order.
    let _broker = patty_tests::mqtt::Mosquitto::start(port);
    let mut watch = Watcher::start(port, "van-8").await;
    let _second = Agent::start(port, "van-8", &buffer, "52.3770,4.9100;52.3731,4.8926");
    let a = watch.drive().await;
    let b = watch.drive().await;
    let seqs: Vec<u32> = a.iter().chain(&b).map(|f| f.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u32).collect::<Vec<_>>(), "every fix, once, in order");
    assert!((a.last().unwrap().lon() - 4.9100).abs() < 1e-5, "the first drive ends where its route does");
    assert!((b.last().unwrap().lon() - 4.8926).abs() < 1e-5, "the second drive goes back");
}
