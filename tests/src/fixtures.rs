//! Shared fixtures: the sample outlet as HQ registers it, waiting for a service to answer, and
//! installing a Node test server's npm packages.

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// An outlet in Amsterdam, open all day every day, delivering to a box around the centre.
pub fn outlet(id: &str) -> Value {
    json!({
        "id": id,
        "name": "Damrak",
        "position": { "lat": 52.3740, "lon": 4.8930 },
        "delivery_zone": [[4.86, 52.35], [4.93, 52.35], [4.93, 52.39], [4.86, 52.39], [4.86, 52.35]],
        "opening_hours": (1..=7).map(|d| json!({ "day": d, "open_minute": 0, "close_minute": 1440 })).collect::<Vec<_>>(),
        "timezone": "Europe/Amsterdam",
        "status": "active",
        "currency": "EUR",
        "tax_rate_bp": 900,
        "prices_include_tax": true,
        "delivery_fee": 299
    })
}

/// A service run in this process on a free loopback port (a benchmark's cloud or edge), until
/// [`Served::stop`].
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Starts `run(listener, shutdown)` (a service's library `run`) on `127.0.0.1:0` and waits
    /// until its `/healthz` answers. Panics if the service fails.
    pub async fn start<F, Fut, E>(run: F) -> Served
    where
        F: FnOnce(tokio::net::TcpListener, futures::future::BoxFuture<'static, ()>) -> Fut,
        Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Debug,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = run(
            listener,
            Box::pin(async move {
                let _ = stopped.await;
            }),
        );
        let task = tokio::spawn(async move { served.await.expect("the service runs") });
        wait_healthy(&reqwest::Client::new(), &base).await;
        Served { base, stop, task }
    }

    /// Shuts the service down and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Waits until `base`'s `/healthz` answers 2xx; panics after 30 seconds.
pub async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{base} did not become healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs in at an edge with a staff PIN; returns the session token. Panics unless it is 201.
pub async fn pin_session(http: &reqwest::Client, base: &str, pin: &str) -> String {
    let r = http.post(format!("{base}/api/v1/sessions")).json(&json!({ "pin": pin })).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED, "sign-in with PIN {pin}");
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

/// Polls `f` every 100 ms until it gives a value; panics with `what` after `secs` seconds.
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs in at the cloud `base` with a password; returns the access token. Panics unless it works.
pub async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let r =
        http.post(format!("{base}/api/v1/auth/login")).json(&json!({ "email": email, "password": password })).send();
    let v: Value = r.await.unwrap().json().await.unwrap();
    v["access_token"].as_str().unwrap_or_else(|| panic!("{email} signs in: {v}")).to_owned()
}

/// Installs the npm packages of the Node project in `dir` (`npm ci`) if they are missing, i.e. if
/// `node_modules/<probe>/package.json` is not there: one install at a time in this process, and
/// under a lock directory (`dir/.npm-ci.lock`) so that test processes running side by side do not
/// install together.
pub fn ensure_node_modules(dir: &Path, probe: &str) {
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let _one = IN_PROCESS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let installed = || dir.join("node_modules").join(probe).join("package.json").is_file();
    if installed() {
        return;
    }
    let lock = dir.join(".npm-ci.lock");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A lock left by a process that died long ago is taken over.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .map(|t| SystemTime::now().duration_since(t).unwrap_or_default() > Duration::from_secs(600))
                    .unwrap_or(false);
                if stale || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("lock {}: {e}", lock.display()),
        }
    }
    if !installed() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .status()
            .unwrap_or_else(|e| panic!("run npm ci in {}: {e} (is Node.js installed?)", dir.display()));
        let _ = std::fs::remove_dir(&lock);
        assert!(status.success(), "npm ci in {} failed: {status}", dir.display());
    } else {
        let _ = std::fs::remove_dir(&lock);
    }
}
