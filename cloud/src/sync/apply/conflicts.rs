//! `ConflictRaised` and `ConflictResolved`: a conflict the outlet found (a price changed under an
//! open order), stored and published but not sent back down; and one a manager settled at the
//! outlet (only the outlet's own, only while open).

use super::{Apply, conflict_event};
use crate::infra::error::Result;
use crate::sync::store;
use patty_protocol::change::ChangeV1;
use patty_protocol::conflict::{Conflict, Resolution};
use patty_protocol::ids::ConflictId;

/// The batch's conflicts raised and settled at the outlet, in log order.
#[derive(Default)]
pub struct Conflicts<'a> {
    raised: Vec<&'a Conflict>,
    resolved: Vec<(ConflictId, &'a Resolution)>,
}

impl<'a> Conflicts<'a> {
    /// Takes a `ConflictRaised` or a `ConflictResolved`.
    pub fn parse(&mut self, change: &'a ChangeV1) {
        match change {
            ChangeV1::ConflictRaised { conflict } => self.raised.push(conflict),
            ChangeV1::ConflictResolved { id, resolution } => self.resolved.push((*id, resolution)),
            _ => {}
        }
    }

    /// Stores the raised ones (the outlet's own, once) and settles the resolved ones.
    pub async fn apply(self, batch: &mut Apply, tx: &mut sqlx::AnyConnection) -> Result<()> {
        for c in self.raised {
            // Found at the outlet: stored and published, not sent back down.
            if c.outlet_id == batch.outlet && store::insert_conflict(tx, c).await? {
                batch.events.push(conflict_event(c, false)?);
            }
        }
        for (id, r) in self.resolved {
            if let Some(c) = store::settle(tx, id, Some(batch.outlet), r).await? {
                batch.events.push(conflict_event(&c, true)?);
            }
        }
        Ok(())
    }
}
