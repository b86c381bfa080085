//! `ItemSoldOut`: an item marked sold out at the outlet, or the mark cleared. The outlet's mark is
//! its own; the cloud keeps the last one it heard (by the outlet's sequence).

use super::Apply;
use crate::infra::db::now_ms;
use crate::infra::error::Result;
use crate::sync::store;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::ItemId;
use std::collections::BTreeMap;

/// The batch's last mark per item.
#[derive(Default)]
pub struct Items(BTreeMap<ItemId, bool>);

impl Items {
    /// Takes an `ItemSoldOut` (a later one for the same item replaces it).
    pub fn parse(&mut self, change: &ChangeV1) {
        if let ChangeV1::ItemSoldOut { item_id, sold_out } = change {
            self.0.insert(*item_id, *sold_out);
        }
    }

    /// Writes the marks.
    pub async fn apply(self, batch: &mut Apply, tx: &mut sqlx::AnyConnection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        store::set_sold_out(tx, batch.outlet, &self.0, now_ms()).await
    }
}
