//! Load loops for the benchmarks: closed-loop clients until a deadline, and the figures they print.

use std::future::Future;
use std::time::{Duration, Instant};

/// Throughput and latency of one measured run.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Operations per second.
    pub per_sec: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Operations measured.
    pub n: usize,
}

impl Figures {
    /// Figures from every operation's latency and the run's length.
    pub fn from_latencies(mut lat: Vec<Duration>, elapsed: Duration) -> Self {
        lat.sort();
        let pick = |p: f64| {
            lat.get(((lat.len().max(1) - 1) as f64 * p).round() as usize).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        Self { per_sec: lat.len() as f64 / elapsed.as_secs_f64(), p50_ms: pick(0.5), p99_ms: pick(0.99), n: lat.len() }
    }
}

/// Runs `clients` concurrent loops for `secs` seconds; loop `c` calls `op(c, n)` for n = 0, 1, …
/// and waits for each before the next.
pub async fn closed_loop<F, Fut>(clients: usize, secs: u64, op: F) -> Figures
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                op(c, n).await;
                lat.push(t.elapsed());
                n += 1;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("a load loop panicked"));
    }
    Figures::from_latencies(lat, start.elapsed())
}

/// A number from the environment, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
