//! Sync, the cloud's side: every outlet's change log applied exactly once in effect, merged by
//! meaning, and a downward stream per outlet.
//!
//! - Up: `POST /api/v1/sync/up` takes one compressed batch (see `patty_sync::wire`) from the
//!   outlet's edge, authenticated by its API key. The batch and the outlet's cursor are applied in
//!   one transaction: the cursor row is locked first, [`patty_sync::Cursor::admit`] picks the
//!   entries not applied yet, and the cursor moves with them, so a retried or duplicated batch has
//!   no second effect and a batch that would leave a gap is refused.
//! - Merge: stock movements are rows keyed by their id and summed per outlet and ingredient (the sum
//!   is the same in any order of arrival); an order's status only moves forward
//!   ([`patty_sync::merge::merge_status`]); tenders, audit entries and staff are keyed by id; a
//!   sold-out mark is the outlet's own (it wins there until cleared there; the cloud keeps the
//!   last one it heard, by the outlet's sequence). Nothing here is last-writer-wins by clock.
//! - Conflicts: a cancel racing the kitchen, two different final statuses, an item sold after HQ
//!   withdrew it, stock below zero (found here), and a price changed under an open order (found at
//!   the outlet) become records with both sides, listed here and at the outlet, settled by a person.
//! - Down: `GET /api/v1/sync/down?after=P` streams, in event-log order, what the outlet must hear
//!   of (catalog versions, its online orders, customer cancels, stock thresholds, conflicts), each
//!   frame with its position so the edge resumes after the last one it applied. Staff HQ sets
//!   travel down too (name, role, active; never a PIN).
//!
//! # Layout
//! - [`http`]: the handlers (up, down, outlets, conflicts, resolve, stock, set_threshold,
//!   put_staff, list_staff) and their request and response types; the only place that knows
//!   HTTP statuses ([`SyncError`] becomes the shared error there).
//! - [`apply`](mod@apply): one uploaded batch applied in one transaction; one file per kind of change
//!   (orders, tenders, stock, items, staff, audit, conflicts), each owning its parse and apply.
//! - [`down`]: the downward stream: events read after a position, turned into frames.
//! - [`rules`]: pure decisions: a batch's admission, an order's changes folded with the status
//!   merge, when a conflict is raised and what it says.
//! - [`store`]: all of sync's SQL (cursors, conflicts, stock, staff, the events after a
//!   position); `store::batch`: the rows a batch writes, with the multi-row insert helper.
//!
//! May use `infra`, `events` and `catalog` (the latest published catalog).

pub mod apply;
pub mod down;
pub mod http;
pub mod rules;
pub mod store;

pub use apply::{Applied, apply};
pub use http::{ConflictsQuery, DownQuery, OutletStock, OutletSync, Resolve, StaffIn, Threshold, UploadAck};

use crate::infra::db::now_ms;
use crate::infra::state::Shared;
use patty_protocol::ids::{ConflictId, OutletId};
use std::collections::HashMap;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest upload once inflated.
pub const MAX_INFLATED: usize = 8 << 20;
/// Most entries in one upload.
pub const MAX_ENTRIES: usize = 10_000;
/// How often an idle downward stream sends a keep-alive (a zero-length frame).
pub const KEEPALIVE: Duration = Duration::from_secs(10);

/// What sync's handlers use.
#[derive(Clone)]
pub struct SyncState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The latest published catalog (sent down to outlets).
    pub catalog: crate::catalog::Latest,
    /// This replica's figures and open streams.
    pub figures: std::sync::Arc<SyncFigures>,
}
crate::shared_state!(SyncState);

/// The sync figures and link state this replica keeps in memory.
#[derive(Default)]
pub struct SyncFigures {
    /// Entries applied since start.
    pub applied: std::sync::atomic::AtomicU64,
    streams: std::sync::Mutex<HashMap<OutletId, (usize, i64)>>,
}

impl SyncFigures {
    fn connect(&self, outlet: OutletId) {
        if let Ok(mut m) = self.streams.lock() {
            let e = m.entry(outlet).or_insert((0, now_ms()));
            if e.0 == 0 {
                e.1 = now_ms();
            }
            e.0 += 1;
        }
    }

    fn disconnect(&self, outlet: OutletId) {
        if let Ok(mut m) = self.streams.lock()
            && let Some(e) = m.get_mut(&outlet)
        {
            e.0 = e.0.saturating_sub(1);
            e.1 = now_ms();
        }
    }

    /// Whether the outlet's downward stream is open on this replica, and since when it is (or
    /// was last) connected or disconnected.
    pub fn link(&self, outlet: OutletId) -> (bool, Option<i64>) {
        self.streams.lock().ok().and_then(|m| m.get(&outlet).map(|e| (e.0 > 0, Some(e.1)))).unwrap_or((false, None))
    }
}

/// Sync's own failures; [`http`] turns each into the shared error (status, code, message).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The caller is not an outlet's edge node.
    #[error("only an outlet's edge node (its API key) syncs")]
    NotAnEdge,
    /// The upload body could not be decoded.
    #[error("{0}")]
    Wire(#[from] patty_sync::wire::WireError),
    /// The batch has more than [`MAX_ENTRIES`] entries.
    #[error("at most {MAX_ENTRIES} entries per batch")]
    TooManyEntries,
    /// The batch is from another outlet's log than the caller's.
    #[error("this batch is another outlet's log")]
    OtherOutletsLog,
    /// The batch starts at sequence 0.
    #[error("sequence numbers start at 1")]
    SequenceZero,
    /// The downward stream was asked to start before position 0.
    #[error("after is 0 or more")]
    NegativeAfter,
    /// An outlet's manager asked for another outlet's conflicts.
    #[error("this belongs to another outlet")]
    OtherOutlets,
    /// No such open conflict (none, already settled, or another outlet's).
    #[error("no open conflict {0}")]
    NoOpenConflict(ConflictId),
    /// A resolution note that is blank or too long.
    #[error("a note of 1 to 500 characters says what was decided")]
    Note,
    /// A reorder level out of range.
    #[error("reorder_level is between 0 and 1,000,000,000")]
    ReorderLevel,
    /// A staff name that is blank or too long.
    #[error("a staff name is 1 to 100 characters")]
    StaffName,
    /// The staff id is already another outlet's.
    #[error("this staff id belongs to another outlet")]
    StaffOfAnotherOutlet,
}

/// The sync routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    SyncState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::up))
        .routes(routes!(http::down))
        .routes(routes!(http::outlets))
        .routes(routes!(http::conflicts))
        .routes(routes!(http::resolve))
        .routes(routes!(http::stock))
        .routes(routes!(http::set_threshold))
        .routes(routes!(http::list_staff))
        .routes(routes!(http::put_staff))
}
