//! Inventory: ingredients counted in a base unit, and the movements that change their stock.
//! Stock is the sum of movements, so movements from different places commute.

use crate::ids::{IngredientId, MovementId, OrderId, StaffId};
use serde::{Deserialize, Serialize};

/// The base unit an ingredient is counted in. Quantities are integers of this unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Grams.
    Gram,
    /// Millilitres.
    Millilitre,
    /// Whole pieces (buns, patties, cups).
    Piece,
}

/// Something the outlet keeps in stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Ingredient {
    /// Stable id.
    pub id: IngredientId,
    /// Display name.
    pub name: String,
    /// The unit quantities are counted in.
    pub unit: Unit,
    /// At or below this level a low-stock alert is raised.
    #[serde(default)]
    pub reorder_level: i64,
}

/// Why stock moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Used by an order (negative), or given back when an order is edited or cancelled.
    Sale,
    /// A delivery from a supplier (positive).
    Receive,
    /// Thrown away (negative).
    Waste,
    /// A stock count's correction: the difference between counted and expected.
    Count,
}

impl MovementKind {
    /// The snake_case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sale => "sale",
            Self::Receive => "receive",
            Self::Waste => "waste",
            Self::Count => "count",
        }
    }
}

/// One change to one ingredient's stock, as a delta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockMovement {
    /// Stable id.
    pub id: MovementId,
    /// The ingredient.
    pub ingredient_id: IngredientId,
    /// Why.
    pub kind: MovementKind,
    /// Change in the ingredient's unit (negative takes stock away).
    pub delta: i64,
    /// The order that caused it, for sales.
    pub order_id: Option<OrderId>,
    /// Who recorded it.
    pub staff_id: Option<StaffId>,
    /// Free text (supplier note, why it was wasted).
    pub note: String,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
}

/// An ingredient's stock as the edge reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockLevel {
    /// The ingredient.
    pub ingredient: Ingredient,
    /// Quantity on hand, in its unit.
    pub on_hand: i64,
    /// On hand is at or below the reorder level.
    pub low: bool,
}
