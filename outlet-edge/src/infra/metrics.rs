//! `/metrics` in the Prometheus text format: the HTTP series from `patty-service`, orders taken,
//! and the writer's group-commit figures.

use crate::infra::state::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use patty_service::metrics::{HttpMetrics, series};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters kept by the edge.
#[derive(Default)]
pub struct Metrics {
    /// Requests and latency by route.
    pub http: Arc<HttpMetrics>,
    /// Orders taken (not counting idempotent replays).
    pub orders_created: AtomicU64,
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    state.metrics.http.render(&mut out);
    let s = &state.store.stats;
    series(
        &mut out,
        "patty_edge_orders_created_total",
        "counter",
        "Orders taken.",
        state.metrics.orders_created.load(Relaxed),
    );
    series(
        &mut out,
        "patty_edge_commits_total",
        "counter",
        "Group commits made by the writer.",
        s.commits.load(Relaxed),
    );
    series(
        &mut out,
        "patty_edge_writes_total",
        "counter",
        "Writes committed (a commit carries one or more).",
        s.writes.load(Relaxed),
    );
    series(
        &mut out,
        "patty_edge_commit_seconds_total",
        "counter",
        "Time spent committing (fsync).",
        s.commit_micros.load(Relaxed) as f64 / 1e6,
    );
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
