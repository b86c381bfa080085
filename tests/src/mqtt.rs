//! A Mosquitto of the test's own on a given loopback port, with the limits we ship for the fleet
//! (`deploy/mosquitto/patty.conf`: unlimited queues and in-flight windows, since Mosquitto's stock
//! 1,000-message queue per client drops fixes silently under a burst); anonymous and without
//! persistence (each test starts clean) unless a test restarts the broker, as a production broker
//! keeps its sessions on disk. Or the shipped configuration whole ([`Mosquitto::start_shipped`]):
//! passwords, the ACL, and devices on TLS with client certificates from a test CA ([`Pki`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The broker configuration we ship.
pub const SHIPPED_CONFIG: &str = include_str!("../../deploy/mosquitto/patty.conf");
/// The topic rights we ship.
pub const SHIPPED_ACL: &str = include_str!("../../deploy/mosquitto/patty.acl");

/// The broker settings for a fleet's MQTT broker, listening on `port` (loopback), anonymous.
pub fn fleet_config(port: u16) -> String {
    let limits: Vec<&str> = SHIPPED_CONFIG.lines().filter(|l| l.starts_with("max_")).collect();
    assert_eq!(limits.len(), 2, "the shipped config sets the queue and in-flight limits");
    format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{}\n", limits.join("\n"))
}

/// Test certificates, made with the `openssl` command in a directory of their own: a CA, the
/// broker's certificate for 127.0.0.1, and devices' client certificates (common name = device).
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A new CA and a broker certificate signed by it.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let pki = Self { dir };
        pki.openssl(
            &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Patty Palace test CA"],
        );
        pki.sign("broker", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        // Readable by Mosquitto, which drops root for its own user.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o755)).expect("open the pki");
        for f in std::fs::read_dir(pki.dir.path()).expect("list the pki").flatten() {
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).expect("open a pki file");
        }
        pki
    }

    /// The CA's certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// A file of the PKI's (`broker.pem`, `broker.key`, `NAME.pem`…).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client certificate and key for `device`, signed by the CA.
    pub fn device(&self, device: &str) -> (PathBuf, PathBuf) {
        self.sign(device, device, "extendedKeyUsage=clientAuth\n");
        (self.path(&format!("{device}.pem")), self.path(&format!("{device}.key")))
    }

    fn sign(&self, name: &str, cn: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(self.path(&ext), extensions).expect("write the extensions");
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        self.openssl(
            &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
            &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={cn}")],
        );
        self.openssl(
            &["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
            &["-out", &pem, "-days", "2", "-extfile", &ext],
        );
    }

    fn openssl(&self, a: &[&str], b: &[&str]) {
        let out = Command::new("openssl")
            .args(a)
            .args(b)
            .current_dir(self.dir.path())
            .output()
            .expect("the openssl command (./scripts/test installs it)");
        assert!(out.status.success(), "openssl {a:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

/// The same settings, keeping sessions and queued messages in `dir` across a restart.
pub fn persistent_config(port: u16, dir: &Path) -> String {
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
    /// Its TLS port, for the shipped configuration (0 otherwise).
    pub tls_port: u16,
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
        Self { child, port, tls_port: 0, _dir: dir }
    }

    /// Mosquitto with a plain listener on `port` and a TLS one on `tls_port` (the `pki`'s broker
    /// certificate), both anonymous: a broker a service reaches over `mqtts://`.
    pub fn start_tls(port: u16, tls_port: u16, pki: &Pki) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let conf = dir.path().join("mosquitto.conf");
        let config = format!(
            "allow_anonymous true\npersistence false\nlistener {port} 127.0.0.1\nlistener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
            pki.path("broker.pem").display(),
            pki.path("broker.key").display()
        );
        std::fs::write(&conf, config).expect("write the broker's config");
        let child = Self::spawn(&conf, port);
        Self { child, port, tls_port, _dir: dir }
    }

    /// Mosquitto with the configuration we ship, whole: `port` and a free TLS port on loopback
    /// instead of 1883 and 8883, the test `pki`'s files instead of `/etc/mosquitto/certs/`, and
    /// the password file made with `mosquitto_passwd` for `users` (name, password).
    pub fn start_shipped(port: u16, pki: &Pki, users: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let tls_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
        let passwd = dir.path().join("patty.passwd");
        std::fs::write(&passwd, "").expect("write the password file");
        for (user, password) in users {
            let ok = Command::new("mosquitto_passwd").arg("-b").arg(&passwd).args([user, password]).status();
            assert!(ok.is_ok_and(|s| s.success()), "mosquitto_passwd (Debian's mosquitto) added {user}");
        }
        let acl = dir.path().join("patty.acl");
        std::fs::write(&acl, SHIPPED_ACL).expect("write the ACL");
        let d = dir.path().display();
        let mut config = SHIPPED_CONFIG.to_owned();
        for (from, to) in [
            ("listener 1883 127.0.0.1", format!("listener {port} 127.0.0.1")),
            ("listener 8883", format!("listener {tls_port} 127.0.0.1")),
            ("/var/lib/mosquitto/", format!("{d}/")),
            ("/etc/mosquitto/patty.passwd", passwd.display().to_string()),
            ("/etc/mosquitto/patty.acl", acl.display().to_string()),
            ("/etc/mosquitto/certs/devices-ca.pem", pki.ca().display().to_string()),
            ("/etc/mosquitto/certs/", format!("{}/", pki.dir.path().display())),
        ] {
            assert!(config.contains(from), "the shipped config names {from}");
            config = config.replace(from, &to);
        }
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, config).expect("write the broker's config");
        use std::os::unix::fs::PermissionsExt;
        for f in std::fs::read_dir(dir.path()).expect("list the broker's dir").flatten() {
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).expect("open a config file");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("open the broker's dir");
        let child = Self::spawn(&conf, port);
        Self { child, port, tls_port, _dir: dir }
    }

    /// Stops the broker gracefully (SIGTERM: it saves its sessions) and starts it again on the
    /// same port and configuration.
    pub fn restart(&mut self) {
        let stopped = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        assert!(stopped.is_ok_and(|s| s.success()), "signal mosquitto");
        let _ = self.child.wait();
        self.child = Self::spawn(&self._dir.path().join("mosquitto.conf"), self.port);
    }

    fn spawn(conf: &Path, port: u16) -> Child {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
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
