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
        let mut opts = MqttOptions::new(format!("watch-{device}"), ("127.0.0.1", port));
        opts.set_keep_alive(5);
        let (client, mut events) = AsyncClient::builder(opts).capacity(100).build();
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
                return (
                    std::str::from_utf8(&p.topic).unwrap().rsplit('/').next().unwrap().to_owned(),
                    p.payload.to_vec(),
                );
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

/// Twelve kilometres at 72 km/h: ten minutes of driving.
const TEN_MINUTES: &str = "52.3731,4.8926;52.4809,4.8926";

#[tokio::test]
async fn ten_minutes_cut_off_wait_on_disk_through_a_restart_and_arrive_in_order() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let buffer = dir.path().join("buffer.db");
    // No broker: a ten-minute drive (simulated time, run fast) goes to disk, then the agent dies.
    let mut first = Agent::start(port, "van-8", &buffer, TEN_MINUTES);
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
    assert!((a.last().unwrap().lat() - 52.4809).abs() < 1e-5, "the first drive ends where its route does");
    let span = a.last().unwrap().time_s - a.first().unwrap().time_s;
    assert!((590..=610).contains(&span), "ten minutes of fixes replayed: {span} s");
    assert!((b.last().unwrap().lon() - 4.8926).abs() < 1e-5, "the second drive goes back");
}

/// The NMEA sentences of a short drive north from Dam Square, one second apart, ending now: a GGA
/// (fix quality, HDOP) and an RMC (position, speed, course, date) per second.
fn nmea_drive(seconds: u32) -> String {
    let checksum = |body: &str| body.bytes().fold(0u8, |a, b| a ^ b);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut out = String::new();
    for i in 0..seconds {
        let t = now - u64::from(seconds - i);
        let (day, secs) = (t / 86_400, t % 86_400);
        let hms = format!("{:02}{:02}{:02}.00", secs / 3600, secs / 60 % 60, secs % 60);
        // Civil date from days since 1970 (Howard Hinnant's algorithm).
        let z = day as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let dmy = format!("{d:02}{m:02}{:02}", y % 100);
        // 20 m north each second from 52.3731 N, 4.8926 E.
        let lat = 52.3731 + f64::from(i) * 20.0 / 111_320.0;
        let lat_nmea = format!("{:02}{:07.4}", lat.trunc() as u32, lat.fract() * 60.0);
        let lon_nmea = format!("{:03}{:07.4}", 4, 0.8926 * 60.0);
        let gga = format!("GPGGA,{hms},{lat_nmea},N,{lon_nmea},E,1,09,0.9,2.0,M,46.9,M,,");
        let rmc = format!("GPRMC,{hms},A,{lat_nmea},N,{lon_nmea},E,38.9,0.0,{dmy},,,A");
        for body in [gga, rmc] {
            out.push_str(&format!("${body}*{:02X}\r\n", checksum(&body)));
        }
    }
    out
}

/// gpsd, fed by `gpsfake` from a recorded drive, drives the agent (`--source gpsd`): the drive's
/// positions arrive at the broker in order.
#[tokio::test]
async fn a_gpsd_fed_by_gpsfake_drives_the_agent() {
    let gpsfake = ["/usr/bin/gpsfake", "/usr/local/bin/gpsfake"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("gpsfake is installed (Debian's gpsd-clients; ./scripts/test installs it)");
    let port = free_port();
    let _broker = patty_tests::mqtt::Mosquitto::start(port);
    let mut watch = Watcher::start(port, "van-9").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("drive.nmea");
    std::fs::write(&log, nmea_drive(20)).unwrap();
    let gpsd_port = free_port();
    // Once through the log, a sentence every 0.2 s (a position every 0.4 s); the agent connects
    // as soon as gpsd listens, so it sees most of the drive.
    let mut fake = Command::new(gpsfake)
        .args(["-1", "-q", "-c", "0.2", "-P", &gpsd_port.to_string()])
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", gpsd_port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "gpsd (under gpsfake) never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut agent = Command::new(env!("CARGO_BIN_EXE_patty-driver"))
        .args(["--device", "van-9", "--broker", &format!("127.0.0.1:{port}"), "--source", "gpsd"])
        .args(["--gpsd", &format!("127.0.0.1:{gpsd_port}"), "--interval", "1", "--buffer"])
        .arg(dir.path().join("buffer.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Six fixes (the agent reports one a second of the 2.5 positions gpsd gives it), within 40 s.
    let mut fixes: Vec<Fix> = vec![];
    let collecting = async {
        while fixes.len() < 6 {
            let (kind, payload) = watch.next().await;
            if kind == "fix" {
                let f = Fix::decode(&payload).unwrap();
                if fixes.last().is_none_or(|l| f.seq > l.seq) {
                    fixes.push(f);
                }
            }
        }
    };
    let ended = tokio::time::timeout(Duration::from_secs(40), collecting).await;
    assert!(ended.is_ok(), "the drive's end never arrived: {fixes:?}");
    let _ = agent.kill();
    let _ = fake.kill();
    let _ = (agent.wait(), fake.wait());
    // gpsd's first report of a cycle may come before the RMC (no speed yet); after that, the drive.
    let moving = &fixes[1..];
    assert!(moving.windows(2).all(|w| w[1].lat_u >= w[0].lat_u), "northward, in order: {fixes:?}");
    assert!(fixes[5].lat_u > fixes[0].lat_u + 500, "it moved: {fixes:?}");
    assert!(fixes.iter().all(|f| (f.lon() - 4.8926).abs() < 1e-4 && (52.3731..52.3770).contains(&f.lat())));
    assert!(moving.iter().all(|f| (f.speed_mps() - 20.0).abs() < 0.2), "38.9 knots is 20 m/s: {fixes:?}");
}
