//! The change log's entry: what every write at an outlet appends in the same transaction, and
//! what sync ships to the cloud. Entries carry the outlet's origin id, a gap-free sequence number
//! and a hybrid-logical-clock timestamp.

use crate::conflict::{Conflict, Resolution};
use crate::ids::{ConflictId, IngredientId, ItemId, OrderId, OutletId, StaffId};
use crate::inventory::{Ingredient, StockMovement};
use crate::order::{Order, OrderStatus, Tender};
use crate::staff::Staff;
use serde::{Deserialize, Serialize};

/// A hybrid logical clock timestamp: 48 bits of Unix milliseconds, 16 bits of logical counter.
/// Ordered first by physical time, then by counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct HlcTimestamp(pub u64);

impl HlcTimestamp {
    /// Builds a timestamp from its parts (the counter wraps into the physical part's bits never).
    pub fn new(physical_ms: u64, counter: u16) -> Self {
        Self((physical_ms << 16) | u64::from(counter))
    }

    /// The physical part, in Unix milliseconds.
    pub fn physical_ms(self) -> u64 {
        self.0 >> 16
    }

    /// The logical counter.
    pub fn counter(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

/// What changed. Versioned by position: new variants only ever go at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeV1 {
    /// An order was taken or its lines, discounts or notes changed: its full new state.
    OrderUpserted {
        /// The order as it now is.
        order: Box<Order>,
    },
    /// An order's status moved.
    OrderStatus {
        /// The order.
        order_id: OrderId,
        /// The new status.
        status: OrderStatus,
        /// Why, for cancels and voids.
        reason: Option<String>,
        /// Who moved it.
        by: Option<StaffId>,
    },
    /// A tender was applied.
    TenderAdded {
        /// The order.
        order_id: OrderId,
        /// The tender.
        tender: Tender,
    },
    /// Stock moved.
    StockMoved {
        /// The movement.
        movement: StockMovement,
    },
    /// An ingredient was added or changed (reorder level).
    IngredientUpserted {
        /// The ingredient.
        ingredient: Ingredient,
    },
    /// An item was marked sold out, or the mark was cleared, at this outlet.
    ItemSoldOut {
        /// The item.
        item_id: ItemId,
        /// Sold out or not.
        sold_out: bool,
    },
    /// A staff member was added or changed.
    StaffUpserted {
        /// The staff member.
        staff: Staff,
    },
    /// A manager-only action, recorded for audit.
    Audited {
        /// Who did it.
        by: StaffId,
        /// What (void, refund, stock_correction, price_override, discount).
        action: String,
        /// What it was done to.
        target: String,
        /// Details.
        detail: String,
    },
    /// The outlet found a conflict (a price changed while an order was open).
    ConflictRaised {
        /// The record, with both sides.
        conflict: Conflict,
    },
    /// A manager at the outlet settled a conflict.
    ConflictResolved {
        /// The conflict.
        id: ConflictId,
        /// How.
        resolution: Resolution,
    },
}

/// What the cloud sends an outlet, in order, each with its position in the cloud's event log (the
/// outlet's resumable cursor). Versioned by position: new variants only ever go at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DownV1 {
    /// A catalog version was published: the menu as this outlet sells it, applied whole.
    Catalog {
        /// The version.
        version: i64,
        /// The outlet's menu, as JSON (a `Menu`).
        menu_json: String,
    },
    /// A customer placed an online order for this outlet.
    OnlineOrder {
        /// The order, in status `placed`.
        order: Box<Order>,
    },
    /// The customer cancelled an online order in the cloud.
    OrderCancelled {
        /// The order.
        order_id: OrderId,
        /// Why.
        reason: Option<String>,
    },
    /// HQ set an ingredient's reorder level for this outlet.
    Threshold {
        /// The ingredient.
        ingredient_id: IngredientId,
        /// The new level.
        reorder_level: i64,
    },
    /// The cloud found a conflict concerning this outlet.
    ConflictRaised {
        /// The record.
        conflict: Conflict,
    },
    /// HQ settled a conflict.
    ConflictResolved {
        /// The conflict.
        id: ConflictId,
        /// How.
        resolution: Resolution,
    },
    /// HQ added or changed a staff member of this outlet (name, role, active). PINs never travel:
    /// a manager sets a new member's PIN at the outlet.
    Staff {
        /// The staff member.
        staff: Staff,
    },
    /// The cloud moved an order of this outlet along (a driver picked a delivery up, or delivered
    /// it). The outlet applies it with the forward-only merge (`patty_sync::merge::merge_status`).
    OrderMoved {
        /// The order.
        order_id: OrderId,
        /// Its status at the cloud.
        status: OrderStatus,
    },
    /// A customer was erased: blank what the outlet's copies of these orders say of them (the
    /// account, the delivery address, the notes), keeping the financial record.
    OrdersErased {
        /// The customer's orders at this outlet.
        order_ids: Vec<OrderId>,
    },
}

/// One message of the downward stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownFrame {
    /// Position in the cloud's event log; the outlet resumes after the last one it applied.
    pub position: u64,
    /// The message.
    pub msg: DownV1,
}

/// One entry of an outlet's change log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeEntry {
    /// The outlet that made the change.
    pub origin: OutletId,
    /// Gap-free sequence number within the origin, from 1.
    pub seq: u64,
    /// When, on the origin's hybrid logical clock.
    pub hlc: HlcTimestamp,
    /// What changed.
    pub change: ChangeV1,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_parts_round_trip_and_order() {
        let a = HlcTimestamp::new(1_700_000_000_000, 7);
        assert_eq!(a.physical_ms(), 1_700_000_000_000);
        assert_eq!(a.counter(), 7);
        assert!(HlcTimestamp::new(1, 65535) < HlcTimestamp::new(2, 0));
    }
}
