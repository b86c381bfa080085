//! The POS front end (`web/`, built into `web/dist/pos`), served at `/pos/` so that a tablet's
//! browser on the outlet's network can be a terminal of this edge. A file that is not there, or
//! the whole front end while it is not built, gets the usual JSON error body.

use axum::Router;
use axum::handler::HandlerWithoutStateExt;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use patty_service::error::Error;
use std::path::Path;

/// A JSON 404 saying `message`.
fn missing(message: String) -> impl Fn() -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move || std::future::ready(Error::NotFound(message.clone()).into_response())
}

/// Serves the built POS from `dir`, or explains how to build it.
pub fn router<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    if dir.join("index.html").is_file() {
        let absent = missing("no such file in the POS".into());
        let files = tower_http::services::ServeDir::new(dir).not_found_service(absent.into_service());
        Router::new().nest_service("/pos", files)
    } else {
        tracing::info!(dir = %dir.display(), "the POS front end is not built; /pos/ explains how to build it");
        let answer = missing(format!(
            "the POS front end is not built in {}: run `npm --prefix web ci && npm --prefix web run build`",
            dir.display()
        ));
        Router::new()
            .route("/pos", get(answer.clone()))
            .route("/pos/", get(answer.clone()))
            .route("/pos/{*rest}", get(answer))
    }
}
