//! HTTP metrics in the Prometheus text format: requests by method, route and status, and latency
//! histograms by route. Routes are the matched patterns (`/api/v1/orders/{id}`), never raw paths,
//! so the number of series stays bounded.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counters and latency histograms.
#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl HttpMetrics {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status)).or_insert(0) += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_owned()).or_default();
            h.count += 1;
            h.sum += secs;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    h.counts[i] += 1;
                }
            }
        }
    }

    /// Appends the HTTP series to `out`.
    pub fn render(&self, out: &mut String) {
        out.push_str("# HELP patty_http_requests_total HTTP requests by method, route and status.\n# TYPE patty_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "patty_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP patty_http_request_duration_seconds HTTP request latency by route.\n# TYPE patty_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                for (b, c) in BUCKETS.iter().zip(h.counts) {
                    let _ =
                        writeln!(out, "patty_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {c}");
                }
                let _ = writeln!(
                    out,
                    "patty_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "patty_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
                let _ = writeln!(out, "patty_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
            }
        }
    }
}

/// Appends one counter or gauge with its help line.
pub fn series(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
}

/// Middleware: records every request's route, status and latency.
pub async fn track(State(metrics): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    metrics.observe(&method, &route, resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = HttpMetrics::default();
        m.observe("GET", "/a", 200, 0.002);
        m.observe("GET", "/a", 200, 0.2);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("patty_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 2"));
        assert!(out.contains("patty_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.0025\"} 1"));
        assert!(out.contains("patty_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.25\"} 2"));
        assert!(out.contains("patty_http_request_duration_seconds_count{route=\"/a\"} 2"));
    }
}
