//! Up: one task feeds [`patty_sync::Uploader`] the log entries after what the cloud
//! acknowledged, sends each batch it cuts to `POST /api/v1/sync/up`, and backs off with jitter
//! while the link is down.

use super::jitter;
use super::store::{meta_set, meta_u64};
use crate::changes::read_after;
use crate::infra::state::AppState;
use crate::infra::store::now_ms;
use patty_sync::{Ack, Backoff, BatchLimits, Uploader};
use serde::Deserialize;
use std::time::Duration;

/// How long one upload may take before it counts as failed.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct UploadAck {
    applied_through: u64,
    gap: bool,
}

/// Ships the change log up until shutdown.
pub(super) async fn upload_loop(state: AppState, client: reqwest::Client, base: String) {
    let url = format!("{base}/api/v1/sync/up");
    let key = state.config.cloud.api_key.clone();
    let limits = BatchLimits::default();
    let hint = state.store.read(|c| meta_u64(c, "sync_acked")).await.unwrap_or(0);
    // What the cloud acknowledged before a restart counts as acknowledged now: a restarted edge
    // whose whole log was acknowledged has nothing to send and nothing pending.
    state.sync.update(|l| l.acked = l.acked.max(hint));
    let mut up = Uploader::resume(state.store.origin(), hint, limits, Backoff { base_ms: 500, max_ms: 30_000 });
    let mut wake = state.store.events.subscribe();
    let mut closing = state.closing.subscribe();
    // When the uploader backs off: until then the log is not read at all (new sales while the
    // link is down do not wake it), only the link coming back or shutdown do.
    let mut retry_at = 0u64;
    loop {
        if *closing.borrow() {
            return;
        }
        let wait = retry_at.saturating_sub(now_ms() as u64);
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {},
                _ = state.sync.back.notified() => {
                    up.retry_now();
                    retry_at = 0;
                },
                _ = closing.wait_for(|c| *c) => return,
            }
            continue;
        }
        let acked = up.acked();
        let pending = match state.store.read(move |c| read_after(c, acked, limits.max_entries as u32)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "reading the change log failed");
                Vec::new()
            }
        };
        let now = now_ms() as u64;
        let Some(batch) = up.next_batch(&pending, now, |e| postcard::experimental::serialized_size(e).unwrap_or(64))
        else {
            // Nothing to send: wait for a write (or, at worst, a few seconds) or shutdown.
            let wait = if pending.is_empty() { Duration::from_secs(5) } else { Duration::from_millis(200) };
            tokio::select! {
                _ = wake.recv() => {},
                _ = tokio::time::sleep(wait) => {},
                _ = state.sync.back.notified() => up.retry_now(),
                _ = closing.wait_for(|c| *c) => return,
            }
            continue;
        };
        let body = patty_sync::wire::encode_batch(&batch.entries);
        let len = body.len() as u64;
        let attempt = async {
            let sent = client
                .post(&url)
                .header("x-api-key", &key)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .timeout(UPLOAD_TIMEOUT)
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => r.json::<UploadAck>().await.map_err(|e| e.to_string()),
                Ok(r) => {
                    let status = r.status();
                    Err(format!("{status}: {}", r.text().await.unwrap_or_default()))
                }
                Err(e) => Err(patty_service::error::with_causes(&e)),
            }
        };
        // The client's timeout covers the exchange; this one bounds the attempt whatever happens.
        let answer = tokio::time::timeout(UPLOAD_TIMEOUT + Duration::from_secs(5), attempt)
            .await
            .unwrap_or_else(|_| Err("no answer in time".into()));
        match answer {
            Ok(a) => {
                up.on_ack(if a.gap {
                    Ack::Gap { applied_through: a.applied_through }
                } else {
                    Ack::AppliedThrough(a.applied_through)
                });
                let acked = up.acked();
                state.sync.update(|l| {
                    l.up_ok = true;
                    l.acked = acked;
                    l.bytes_up += len;
                    l.upload_error = None;
                });
                if let Err(e) = state.store.write(move |ctx| meta_set(ctx.conn, "sync_acked", acked)).await {
                    tracing::warn!(error = %e, "saving the upload cursor failed");
                }
            }
            Err(e) => {
                let retry = up.on_failure(now_ms() as u64, jitter());
                retry_at = retry;
                let first = state.sync.snapshot().map(|l| l.upload_error.is_none()).unwrap_or(true);
                if first {
                    tracing::warn!(error = %e, retry_in_ms = retry.saturating_sub(now_ms() as u64), "upload failed; retrying with backoff");
                }
                state.sync.fail("upload", e);
            }
        }
    }
}
