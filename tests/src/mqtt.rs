//! A Mosquitto of the test's own on a given loopback port, with the settings we ship for the
//! fleet: unlimited queues and in-flight windows (Mosquitto's stock 1,000-message queue per client
//! drops fixes silently under a burst); without persistence (each test starts clean) unless a test
//! restarts the broker, as a production broker keeps its sessions on disk.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The broker settings for a fleet's MQTT broker, listening on `port` (loopback).
pub fn fleet_config(port: u16) -> String {
    format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n"
    )
}

/// The same settings, keeping sessions and queued messages in `dir` across a restart.
pub fn persistent_config(port: u16, dir: &std::path::Path) -> String {
    fleet_config(port).replace(
        "persistence false",
        &format!("persistence true\npersistence_location {}/\nautosave_interval 0", dir.display()),
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
        Self::start_with(port, false)
    }

    /// Starts Mosquitto on `port`, keeping its sessions on disk when `persistent`.
    pub fn start_with(port: u16, persistent: bool) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let conf = dir.path().join("mosquitto.conf");
        let config = if persistent { persistent_config(port, dir.path()) } else { fleet_config(port) };
        if persistent {
            // Started as root, Mosquitto drops to its own user: it must be able to write here.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
                .expect("open the broker's directory");
        }
        std::fs::write(&conf, config).expect("write the broker's config");
        let child = Self::spawn(&conf, port);
        Self { child, port, _dir: dir }
    }

    /// Stops the broker gracefully (SIGTERM: it saves its sessions) and starts it again on the
    /// same port and configuration.
    pub fn restart(&mut self) {
        let stopped = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        assert!(stopped.is_ok_and(|s| s.success()), "signal mosquitto");
        let _ = self.child.wait();
        self.child = Self::spawn(&self._dir.path().join("mosquitto.conf"), self.port);
    }

    fn spawn(conf: &std::path::Path, port: u16) -> Child {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("mosquitto is installed (./scripts/test installs it)");
        let child = Command::new(bin)
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "mosquitto did not start on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
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
