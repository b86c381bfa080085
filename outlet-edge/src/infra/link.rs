//! The cloud link's live state: whether the downward stream is open and the last upload
//! succeeded, what the cloud acknowledged, and the last failures. The sync tasks write it, the
//! status handler and `/metrics` read it. It is a leaf (it knows no domain), so the shared state
//! can hold it; the tasks that drive it live in `sync`.

use crate::infra::error::{Error, Result};
use crate::infra::store::now_ms;
use std::sync::Mutex;

/// Shared link state.
#[derive(Default)]
pub struct Link {
    inner: Mutex<LinkState>,
    /// Poked when the downward stream opens: the uploader stops backing off.
    pub back: tokio::sync::Notify,
}

/// What the link knows now; [`Link::update`] keeps `online` and `since_ms` in step.
#[derive(Clone, Default)]
pub struct LinkState {
    /// The downward stream is open.
    pub down_open: bool,
    /// The last upload succeeded.
    pub up_ok: bool,
    /// Both of the above.
    pub online: bool,
    /// Since when `online` has its value, Unix ms.
    pub since_ms: i64,
    /// The highest change-log sequence the cloud acknowledged.
    pub acked: u64,
    /// Bytes sent up since start.
    pub bytes_up: u64,
    /// The last failure, if the link is failing.
    pub last_error: Option<String>,
    /// The last upload failure since the last successful upload.
    pub upload_error: Option<String>,
    /// Uploads that failed since start.
    pub upload_failures: u64,
}

impl Link {
    /// Changes the state with `f`, then recomputes whether the link is online (logging a change).
    pub fn update(&self, f: impl FnOnce(&mut LinkState)) {
        if let Ok(mut l) = self.inner.lock() {
            f(&mut l);
            let online = l.down_open && l.up_ok;
            if online != l.online || l.since_ms == 0 {
                l.online = online;
                l.since_ms = now_ms();
                tracing::info!(online, "cloud link");
            }
            if online {
                l.last_error = None;
            }
        }
    }

    /// Records that `what` (`upload`, or a downward task) failed with `e`.
    pub fn fail(&self, what: &str, e: impl std::fmt::Display) {
        let msg = format!("{what}: {e}");
        self.update(|l| {
            if what == "upload" {
                l.up_ok = false;
                l.upload_failures += 1;
                l.upload_error = Some(msg.clone());
            } else {
                l.down_open = false;
            }
            l.last_error = Some(msg);
        });
    }

    /// Whether the link is up.
    pub fn online(&self) -> bool {
        self.inner.lock().map(|l| l.online).unwrap_or(false)
    }

    /// A copy of the state now.
    pub fn snapshot(&self) -> Result<LinkState> {
        self.inner.lock().map(|l| l.clone()).map_err(|_| Error::Internal("link state poisoned".into()))
    }
}
