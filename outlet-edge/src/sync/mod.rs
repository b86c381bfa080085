//! Sync, the outlet's side: the change log goes up, the cloud's messages come down, and the
//! conflicts of both are listed here for the manager. Selling never waits on any of it.
//!
//! - Up: one task feeds [`patty_sync::Uploader`] the log entries after what the cloud
//!   acknowledged, sends each batch it cuts (`patty_sync::wire`, zstd when it pays) to
//!   `POST /api/v1/sync/up` with the outlet's API key, and backs off with jitter while the link is
//!   down. The acknowledged sequence is kept in `meta` only as a hint: the cloud's cursor decides,
//!   so a crash anywhere causes at most a resend the cloud ignores.
//! - Down: another task holds `GET /api/v1/sync/down?after=P` open and applies its frames. Each
//!   group of frames and the new position commit together, so a frame is applied once. A catalog
//!   version replaces the whole menu in one transaction (never half a menu); sold-out marks set
//!   here stay (they win at the outlet until cleared here); open orders keep the prices they were
//!   taken at, and each line whose price changed becomes a conflict. Online orders arrive as
//!   `placed`; stock is taken when the outlet takes one on (any move out of `placed`). A customer's cancel applies while the
//!   order is still `placed`; after that the cloud records the race as a conflict. Staff HQ adds
//!   or changes arrive with name, role and active flag; PINs never travel (a manager sets a new
//!   member's PIN here), and the last change applied at each side stands.
//!
//! - [`upload`]: the task that ships the change log up.
//! - [`down`]: the task that follows the downward stream, and [`apply_frames`], which applies
//!   what it brings (catalogs, online orders, cancels, moves, thresholds, staff, erasures).
//! - [`conflicts`]: the conflicts table.
//! - `delivery.rs`: asking the cloud for a counter delivery's code.
//! - `store.rs`: the sync cursors in `meta`, and what the status reads.
//! - `http.rs`: the status, conflicts and counter-delivery handlers, no SQL; the only place a
//!   [`SyncError`] meets HTTP.
//! - `error.rs`: [`SyncError`].
//!
//! May use: `infra`, and the public functions of [`crate::orders`], [`crate::inventory`],
//! [`crate::menu`], [`crate::staff`] and [`crate::changes`] (it writes what the cloud sends through
//! them, never into their tables). No domain uses `sync`; only `app` starts it.

pub mod conflicts;
mod delivery;
pub mod down;
mod error;
mod http;
mod store;
pub mod upload;

use crate::infra::state::AppState;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;

pub use delivery::CounterDelivery;
pub use down::apply_frames;
pub use error::SyncError;
pub use http::{Resolve, SyncStatus, current_status};

/// Starts the upload and download tasks when a cloud is configured.
pub fn start(state: &AppState) {
    let cfg = &state.config.cloud;
    if cfg.url.is_empty() {
        return;
    }
    let client = match cfg.http_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client; sync is off");
            return;
        }
    };
    let base = cfg.url.trim_end_matches('/').to_owned();
    let (down_client, down_base) = (client.clone(), base.clone());
    supervise("upload", state.clone(), move |s| upload::upload_loop(s, client.clone(), base.clone()));
    supervise("downward stream", state.clone(), move |s| down::down_loop(s, down_client.clone(), down_base.clone()));
}

/// Runs a sync task until shutdown, starting it again (and saying so) if it ever panics.
fn supervise<F, Fut>(name: &'static str, state: AppState, task: F)
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match tokio::spawn(task(state.clone())).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(task = name, error = %e, "a sync task stopped unexpectedly; starting it again");
                    state.sync.fail(name, format!("task restarted after: {e}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// A pseudo-random number for jitter (no cryptographic use).
pub(crate) fn jitter() -> u64 {
    uuid::Uuid::new_v4().as_u128() as u64
}

/// The sync routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
