//! Starting a service binary on `127.0.0.1:0` and reading the address it logs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `binary` with `args` (which should include `--listen 127.0.0.1:0`) and `envs`, and
/// returns it with `http://ADDR` from its `… listening addr=ADDR` log line. Panics if no address
/// is logged within 60 seconds. With `PATTY_TEST_ECHO` set, its log is echoed to the test's stderr.
pub fn spawn_service(binary: &Path, args: &[&str], envs: &[(&str, String)]) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let echo = std::env::var_os("PATTY_TEST_ECHO").is_some();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if echo {
                eprintln!("{line}");
            }
            // The service's own line (`… listening addr=…`), not an embedded broker's.
            if let Some(rest) = line.split(" listening addr=").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    let addr =
        rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("{} logged no address", binary.display()));
    (child, format!("http://{addr}"))
}

/// The path of workspace binary `name`, built beside the running test (as `cargo test --workspace`
/// builds every package's binaries before running any test). Panics with what to run if absent.
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built: run `cargo build --bin {name}` or the whole suite", path.display());
    path
}
