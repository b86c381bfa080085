//! Typed identifiers. Every id is a UUIDv7, minted where the thing is born (an outlet mints its
//! orders' ids offline), so ids sort by creation time and never collide across outlets.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    /// An outlet (one restaurant); also the origin id of its change log.
    OutletId,
    /// A menu category.
    CategoryId,
    /// A menu item.
    ItemId,
    /// A size or variant of an item.
    VariantId,
    /// A group of modifiers with selection limits.
    ModifierGroupId,
    /// A modifier (extra cheese, no onions).
    ModifierId,
    /// An order.
    OrderId,
    /// A line of an order.
    LineId,
    /// A payment tender applied to an order.
    TenderId,
    /// A stock-keeping ingredient.
    IngredientId,
    /// A stock movement.
    MovementId,
    /// A staff member.
    StaffId,
    /// A conflict record raised by sync.
    ConflictId,
    /// A driver's device (a phone or a vehicle agent), as its API key names it.
    DeviceId,
    /// A delivery of one order.
    DeliveryId,
);
