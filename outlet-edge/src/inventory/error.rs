//! What can go wrong with stock, in the inventory's own terms; only `http` turns it into a status.

use crate::infra::error::Error;
use patty_protocol::ids::IngredientId;

/// A stock change refused, or the store under it failing.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// No ingredient with this id.
    #[error("no ingredient {0}")]
    NoIngredient(IngredientId),
    /// A sale that stock cannot cover.
    #[error("not enough {name} in stock ({needed} needed, {on_hand} on hand)")]
    Short {
        /// The ingredient's name.
        name: String,
        /// What the sale needs, in its unit.
        needed: i64,
        /// What is on hand.
        on_hand: i64,
    },
    /// The store failed.
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<rusqlite::Error> for InventoryError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Other(e.into())
    }
}
