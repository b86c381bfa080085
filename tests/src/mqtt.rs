//! A Mosquitto of the test's own on a given loopback port, with the settings we ship for the
//! fleet: unlimited queues and in-flight windows (Mosquitto's stock 1,000-message queue per client
//! drops fixes silently under a burst) and no persistence (each test starts clean).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The broker settings for a fleet's MQTT broker, listening on `port` (loopback).
pub fn fleet_config(port: u16) -> String {
    format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n"
    )
}

/// A running Mosquitto; killed when dropped.
pub struct Mosquitto {
    child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto on `port` and waits until it accepts connections.
    pub fn start(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, fleet_config(port)).expect("write the broker's config");
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("mosquitto is installed (./scripts/test installs it)");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "mosquitto did not start on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, _dir: dir }
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
