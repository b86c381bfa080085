//! `IngredientUpserted` and `StockMoved`: an ingredient's name, unit and reorder level, and stock
//! movements counted once each by id; the outlet's level moves by the sum of the new ones (the
//! same sum in any order of arrival); a level crossing below its reorder level is a `stock.low`
//! event (the managers' alert), and one crossing below zero raises a conflict.

use super::Apply;
use crate::infra::error::Result;
use crate::sync::{rules, store};
use patty_protocol::change::ChangeV1;
use patty_protocol::events::StockLow;
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
        for level in store::add_to_levels(tx, batch.outlet, &sums).await? {
            let sum = sums.get(&level.ingredient).copied().unwrap_or(0);
            if rules::crossed_below(level.on_hand, sum, level.reorder_level) {
                batch.events.push(crate::events::NewEvent::of(&StockLow {
                    outlet_id: batch.outlet,
                    ingredient_id: level.ingredient.clone(),
                    name: level.name.clone(),
                    unit: level.unit.clone(),
                    on_hand: level.on_hand,
                    reorder_level: level.reorder_level,
                })?);
            }
            if rules::crossed_below_zero(level.on_hand, sum) {
                batch.raise(rules::below_zero(level.ingredient, level.on_hand));
            }
        }
        Ok(())
    }
}
