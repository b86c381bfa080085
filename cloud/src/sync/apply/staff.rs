//! `StaffUpserted`: a staff member added or changed at the outlet, kept whole by id.

use super::Apply;
use crate::infra::error::Result;
use crate::sync::store;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::StaffId;
use patty_protocol::staff::Staff;
use std::collections::BTreeMap;

/// The batch's last state per staff member.
#[derive(Default)]
pub struct StaffChanges<'a>(BTreeMap<StaffId, &'a Staff>);

impl<'a> StaffChanges<'a> {
    /// Takes a `StaffUpserted` (a later one for the same member replaces it).
    pub fn parse(&mut self, change: &'a ChangeV1) {
        if let ChangeV1::StaffUpserted { staff } = change {
            self.0.insert(staff.id, staff);
        }
    }

    /// Writes them.
    pub async fn apply(self, batch: &mut Apply, tx: &mut sqlx::AnyConnection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let staff: Vec<&Staff> = self.0.into_values().collect();
        store::upsert_staff(tx, batch.outlet, &staff).await
    }
}
