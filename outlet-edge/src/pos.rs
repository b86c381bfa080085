//! The POS front end (`web/`, built into `web/dist/pos`), served at `/pos/` so that a tablet's
//! browser on the outlet's network can be a terminal of this edge.

use axum::Router;
use std::path::Path;

/// Serves the built POS from `dir`, or explains how to build it.
pub fn router<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    patty_service::http::front_end("/pos", dir, false)
}
