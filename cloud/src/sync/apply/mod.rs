//! One uploaded batch applied in one transaction, in the shape of mini-redis's `cmd/`: the batch
//! is decoded elsewhere ([`super::http`]); here each entry is dispatched by its kind to the file
//! that owns that kind's parse and apply, and each kind then writes what it gathered, table by
//! table in multi-row statements, in this order: [`orders`] (upserts, status moves and the
//! tenders' effect on the order), [`tenders`], [`stock`] (ingredients, then movements),
//! [`items`] (sold-out marks), [`staff`], [`audit`], [`conflicts`] (found at the outlet, or
//! settled there). Conflicts found here and every event are written last (`Apply::finish`).

pub mod audit;
pub mod conflicts;
pub mod items;
pub mod orders;
pub mod staff;
pub mod stock;
pub mod tenders;

use super::rules::Raise;
use super::{SyncState, store};
use crate::catalog::{self, Published};
use crate::events::NewEvent;
use crate::infra::db::{Backend, now_ms};
use crate::infra::error::Result;
use crate::infra::vault::Vault;
use patty_protocol::change::{ChangeEntry, ChangeV1};
use patty_protocol::conflict::Conflict;
use patty_protocol::events::ConflictChanged;
use patty_protocol::ids::{ConflictId, OutletId};
use patty_sync::{Ack, Admit, Cursor};
use std::sync::Arc;

/// What applying one batch wrote, for the caller's metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    /// Entries applied (not seen before).
    pub entries: usize,
    /// Conflicts raised.
    pub conflicts: usize,
}

/// Applies `entries` (contiguous, from `outlet`'s log) and the cursor in one transaction.
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet = %outlet, entries = entries.len()))]
pub async fn apply(state: &SyncState, outlet: OutletId, entries: &[ChangeEntry]) -> Result<(Ack, Applied)> {
    // Read before the transaction: on SQLite the pool has one connection, held by the transaction.
    let latest = catalog::latest(&state.db, &state.catalog).await?;
    let mut tx = state.db.begin().await?;
    let origin = outlet.to_string();
    let cursor = Cursor { applied_through: store::lock_cursor(&mut tx, &origin, now_ms()).await? };
    let (from_index, through) = match cursor.admit(entries) {
        Admit::Gap => {
            tx.commit().await?;
            return Ok((Ack::Gap { applied_through: cursor.applied_through }, Applied::default()));
        }
        Admit::Apply { from_index, through } => (from_index, through),
    };
    let fresh = &entries[from_index..];
    let mut applied = Applied { entries: fresh.len(), conflicts: 0 };
    if !fresh.is_empty() {
        let mut batch = Apply::new(outlet, state.db.backend, state.vault.clone());
        batch.run(&mut tx, fresh, latest.as_deref()).await?;
        applied.conflicts = batch.conflicts.len();
        batch.finish(&mut tx).await?;
        let last_hlc = fresh.last().map_or(0, |e| e.hlc.0) as i64;
        store::advance_cursor(&mut tx, &origin, through, last_hlc).await?;
    }
    tx.commit().await?;
    Ok((Ack::AppliedThrough(through), applied))
}

/// One batch being applied: what its kinds found to tell (events) and to raise (conflicts).
pub struct Apply {
    /// Whose log it is.
    pub outlet: OutletId,
    /// The engine (orders are locked on PostgreSQL).
    pub backend: Backend,
    /// Customers' data keys, to seal the order events.
    pub vault: Arc<Vault>,
    /// Events to record with the batch.
    pub events: Vec<NewEvent>,
    /// Conflicts found here, in the order found.
    pub conflicts: Vec<Conflict>,
}

/// The batch's entries, by the kind that applies them.
#[derive(Default)]
struct Gathered<'a> {
    orders: orders::Orders<'a>,
    tenders: tenders::Tenders<'a>,
    stock: stock::Stock<'a>,
    items: items::Items,
    staff: staff::StaffChanges<'a>,
    audit: audit::Audit<'a>,
    conflicts: conflicts::Conflicts<'a>,
}

impl Apply {
    fn new(outlet: OutletId, backend: Backend, vault: Arc<Vault>) -> Self {
        Self { outlet, backend, vault, events: Vec::new(), conflicts: Vec::new() }
    }

    /// Raises a conflict found here (stored and sent down at `Apply::finish`).
    pub fn raise(&mut self, r: Raise) {
        self.conflicts.push(Conflict {
            id: ConflictId::new(),
            outlet_id: self.outlet,
            kind: r.kind,
            subject: r.subject,
            outlet_side: r.outlet_side,
            cloud_side: r.cloud_side,
            raised_ms: now_ms(),
            resolution: None,
        });
    }

    /// Dispatches each entry to its kind, then applies kind by kind.
    async fn run(
        &mut self,
        tx: &mut sqlx::AnyConnection,
        fresh: &[ChangeEntry],
        latest: Option<&Published>,
    ) -> Result<()> {
        let mut g = Gathered::default();
        for e in fresh {
            match &e.change {
                ChangeV1::OrderUpserted { .. } | ChangeV1::OrderStatus { .. } => g.orders.parse(&e.change),
                ChangeV1::TenderAdded { .. } => {
                    g.tenders.parse(&e.change);
                    g.orders.parse(&e.change);
                }
                ChangeV1::StockMoved { .. } | ChangeV1::IngredientUpserted { .. } => g.stock.parse(&e.change),
                ChangeV1::ItemSoldOut { .. } => g.items.parse(&e.change),
                ChangeV1::StaffUpserted { .. } => g.staff.parse(&e.change),
                ChangeV1::Audited { .. } => g.audit.parse(e),
                ChangeV1::ConflictRaised { .. } | ChangeV1::ConflictResolved { .. } => g.conflicts.parse(&e.change),
            }
        }
        g.orders.apply(self, tx, latest).await?;
        g.tenders.apply(self, tx).await?;
        g.stock.apply(self, tx).await?;
        g.items.apply(self, tx).await?;
        g.staff.apply(self, tx).await?;
        g.audit.apply(self, tx).await?;
        g.conflicts.apply(self, tx).await?;
        Ok(())
    }

    /// Writes the conflicts found here (each also sent down to the outlet) and every event.
    async fn finish(mut self, tx: &mut sqlx::AnyConnection) -> Result<()> {
        for c in std::mem::take(&mut self.conflicts) {
            store::insert_conflict(tx, &c).await?;
            self.events.push(conflict_event(&c, false)?.down_to(c.outlet_id));
        }
        if self.events.is_empty() {
            return Ok(());
        }
        crate::events::record_all(tx, self.events).await?;
        Ok(())
    }
}

/// The event of a conflict raised or resolved.
pub fn conflict_event(c: &Conflict, resolved: bool) -> Result<NewEvent> {
    NewEvent::of(&ConflictChanged { conflict: c.clone(), resolved })
}
