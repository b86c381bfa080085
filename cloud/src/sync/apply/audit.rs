//! `Audited`: a manager-only action at the outlet, kept once by the outlet's sequence.

use super::Apply;
use crate::infra::error::Result;
use crate::sync::store::{self, AuditRow};
use patty_protocol::change::{ChangeEntry, ChangeV1};

/// The batch's audit entries, in log order.
#[derive(Default)]
pub struct Audit<'a>(Vec<AuditRow<'a>>);

impl<'a> Audit<'a> {
    /// Takes an `Audited` entry (its sequence and clock are the entry's).
    pub fn parse(&mut self, e: &'a ChangeEntry) {
        if let ChangeV1::Audited { by, action, target, detail } = &e.change {
            self.0.push(AuditRow { seq: e.seq, at_ms: e.hlc.physical_ms() as i64, by: *by, action, target, detail });
        }
    }

    /// Records the entries not seen before.
    pub async fn apply(self, batch: &mut Apply, tx: &mut sqlx::AnyConnection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        store::insert_audits(tx, batch.outlet, &self.0).await
    }
}
