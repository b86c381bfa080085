//! `IngredientUpserted` and `StockMoved`: an ingredient's name, unit and reorder level, and stock
//! movements counted once each by id; the outlet's level moves by the sum of the new ones (the
//! same sum in any order of arrival), and a level crossing below zero raises a conflict.

use super::Apply;
use crate::infra::error::Result;
use crate::sync::{rules, store};
use patty_protocol::change::ChangeV1;
use patty_protocol::inventory::{Ingredient, StockMovement};

/// The batch's ingredients and movements, in log order.
#[derive(Default)]
pub struct Stock<'a> {
    ingredients: Vec<&'a Ingredient>,
    movements: Vec<&'a StockMovement>,
}

impl<'a> Stock<'a> {
    /// Takes an `IngredientUpserted` or a `StockMoved`.
    pub fn parse(&mut self, change: &'a ChangeV1) {
        match change {
            ChangeV1::IngredientUpserted { ingredient } => self.ingredients.push(ingredient),
            ChangeV1::StockMoved { movement } => self.movements.push(movement),
            _ => {}
        }
    }

    /// Writes the ingredients, then the movements and the levels they move.
    pub async fn apply(self, batch: &mut Apply, tx: &mut sqlx::AnyConnection) -> Result<()> {
        if !self.ingredients.is_empty() {
            store::upsert_ingredients(tx, batch.outlet, &self.ingredients).await?;
        }
        if self.movements.is_empty() {
            return Ok(());
        }
        let sums = store::insert_movements(tx, batch.outlet, &self.movements).await?;
        for (ingredient, on_hand) in store::add_to_levels(tx, batch.outlet, &sums).await? {
            let sum = sums.get(&ingredient).copied().unwrap_or(0);
            if rules::crossed_below_zero(on_hand, sum) {
                batch.raise(rules::below_zero(ingredient, on_hand));
            }
        }
        Ok(())
    }
}
