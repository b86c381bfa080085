//! Transport security: the cloud and the edge serve HTTPS themselves, the edge's link to the cloud
//! trusts a private CA it is given and refuses a cloud whose certificate does not chain to it,
//! and the cloud's telemetry ingest reaches its broker over `mqtts://`.

use patty_tests::chain::{free_port, metric};
use patty_tests::fixtures::{eventually, login, outlet, pin_session, wait_healthy};
use patty_tests::mqtt::{Mosquitto, Pki};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;

const ADMIN: &str = "hq@pattypalace.example";
const PASSWORD: &str = "correct horse battery";

/// An HTTP client that trusts `pki`'s CA alone.
fn trusting(pki: &Pki) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.ca()).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn served_by(pki: &Pki) -> patty_service::tls::TlsFiles {
    patty_service::tls::TlsFiles { cert: Some(pki.path("broker.pem")), key: Some(pki.path("broker.key")) }
}

/// A service started in this process; stops when the sender is dropped.
struct Running {
    base: String,
    _stop: oneshot::Sender<()>,
}

/// Starts `run` over HTTPS on a free loopback port, until the answer is dropped.
async fn serve<F>(run: impl FnOnce(tokio::net::TcpListener, Stopped) -> F) -> Running
where
    F: std::future::Future + Send + 'static,
    F::Output: Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(run(
        listener,
        Box::pin(async move {
            let _ = stopped.await;
        }),
    ));
    Running { base, _stop: stop }
}

/// Completes when a [`Running`] is dropped.
type Stopped = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

async fn cloud(dir: &Path, pki: &Pki) -> Running {
    let mut c = patty_cloud::infra::config::Config::for_data_dir(dir);
    c.auth.bootstrap_admin = format!("{ADMIN}:{PASSWORD}");
    c.mqtt.embedded = false;
    c.tls = served_by(pki);
    serve(|listener, stopped| patty_cloud::run(c, listener, stopped)).await
}

async fn edge(dir: &Path, pki: &Pki, outlet_id: &str, cloud: &str, key: &str, trust: &Pki) -> Running {
    let mut c = patty_edge::config::Config::for_data_dir(dir);
    c.outlet.id = Some(outlet_id.to_owned());
    c.cloud.url = cloud.to_owned();
    c.cloud.api_key = key.to_owned();
    c.cloud.ca_file = Some(trust.ca());
    c.tls = served_by(pki);
    serve(|listener, stopped| patty_edge::run(c, listener, stopped)).await
}

/// The edge's view of its cloud link, once `done` holds.
async fn link_until(
    http: &reqwest::Client,
    edge: &str,
    token: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, 30, || async {
        let r = http.get(format!("{edge}/api/v1/sync/status")).bearer_auth(token).send().await.ok()?;
        let status: Value = r.json().await.ok()?;
        done(&status).then_some(status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_syncs_with_a_cloud_over_https_from_a_private_ca_and_refuses_one_that_does_not_chain_to_it() {
    let (pki, stranger) = (Pki::new(), Pki::new());
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let http = trusting(&pki);
    let cloud = cloud(dirs[0].path(), &pki).await;
    wait_healthy(&http, &cloud.base).await;
    // Plain HTTP to the HTTPS port gets nowhere.
    let plain = cloud.base.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err_and(|e| !e.is_status()));

    let admin = login(&http, &cloud.base, ADMIN, PASSWORD).await;
    let mut keys = Vec::new();
    let mut outlets = Vec::new();
    for _ in 0..2 {
        let id = uuid::Uuid::now_v7().to_string();
        let r = http.post(format!("{}/api/v1/outlets", cloud.base)).bearer_auth(&admin).json(&outlet(&id)).send().await;
        assert_eq!(r.unwrap().status(), StatusCode::CREATED);
        let body = json!({ "kind": "edge", "subject": id, "name": "edge" });
        let r = http.post(format!("{}/api/v1/api-keys", cloud.base)).bearer_auth(&admin).json(&body).send().await;
        let key: Value = r.unwrap().json().await.unwrap();
        keys.push(key["secret"].as_str().unwrap().to_owned());
        outlets.push(id);
    }

    // An edge that trusts the cloud's CA: its change log goes up over HTTPS, and its tills reach
    // it over HTTPS too.
    let good = edge(dirs[1].path(), &pki, &outlets[0], &cloud.base, &keys[0], &pki).await;
    wait_healthy(&http, &good.base).await;
    let manager = pin_session(&http, &good.base, "1234").await;
    let status = link_until(&http, &good.base, &manager, "the link up and the log acknowledged", |s| {
        s["link"] == "online" && s["acked"].as_u64() > Some(0) && s["pending"] == 0
    })
    .await;
    assert!(status["last_error"].is_null(), "{status}");
    let r = http.get(format!("{}/api/v1/sync/outlets", cloud.base)).bearer_auth(&admin).send().await;
    let synced: Value = r.unwrap().json().await.unwrap();
    let ours = synced.as_array().unwrap().iter().find(|o| o["outlet_id"] == outlets[0].as_str());
    assert!(ours.is_some_and(|o| o["applied_through"].as_u64() > Some(0)), "the cloud applied the log: {synced}");

    // An edge told to trust another CA refuses the cloud: nothing goes up, and it says why.
    let wary = edge(dirs[2].path(), &pki, &outlets[1], &cloud.base, &keys[1], &stranger).await;
    wait_healthy(&http, &wary.base).await;
    let manager = pin_session(&http, &wary.base, "1234").await;
    let status = link_until(&http, &wary.base, &manager, "the link refused", |s| {
        s["last_error"].as_str().is_some_and(|e| e.contains("certificate"))
    })
    .await;
    assert_eq!(status["link"], "offline", "{status}");
    assert_eq!(status["acked"], 0, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_ingests_telemetry_from_a_broker_over_mqtts() {
    let pki = Pki::new();
    let (port, tls_port) = (free_port(), free_port());
    let broker = Mosquitto::start_tls(port, tls_port, &pki);
    let dir = tempfile::tempdir().unwrap();
    let mut c = patty_cloud::infra::config::Config::for_data_dir(dir.path());
    c.mqtt.url = format!("mqtts://127.0.0.1:{}", broker.tls_port);
    c.mqtt.ca_file = Some(pki.ca());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(patty_cloud::run(c, listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    wait_healthy(&http, &base).await;
    // A message on an unknown device's topic, sent to the plain listener, reaches the ingest
    // through its TLS session.
    let unknown = "patty_cloud_device_messages_rejected_total{reason=\"unknown_device\"}";
    eventually("the ingest over mqtts", 30, || async {
        let sent = std::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-t", "patty/v1/devices/no-such/fix"])
            .args(["-m", "junk"])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "mosquitto_pub (Debian's mosquitto-clients)");
        let text = http.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
        (metric(&text, unknown) > 0 && metric(&text, "patty_cloud_mqtt_sessions_total") == 1).then_some(())
    })
    .await;
}

#[test]
fn a_certificate_that_cannot_be_read_stops_the_start_with_one_line() {
    for bin in ["patty-cloud", "patty-edge"] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(patty_tests::process::workspace_binary(bin))
            .args(["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()])
            .args(["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bin} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{bin}: {stderr}");
        assert!(lines[0].starts_with(&format!("{bin}: ")) && lines[0].contains("/nonexistent/cert.pem"), "{stderr}");
        assert!(!lines[0].starts_with(&format!("{bin}: {bin}:")), "named once: {stderr}");
        // A certificate without its key: one line naming the missing flag, and nothing started.
        let out = std::process::Command::new(patty_tests::process::workspace_binary(bin))
            .args(["--data-dir", dir.path().join("never").to_str().unwrap(), "--tls-cert", "cert.pem"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{bin}: {stderr}");
        assert!(stderr.contains("--tls-key"), "{bin} names the missing flag: {stderr}");
        assert!(!dir.path().join("never").exists(), "nothing was written");
    }
}
