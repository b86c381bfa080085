//! The seed: the first menu, stock and staff of an empty store (until sync brings them from the
//! cloud). The built-in sample outlet is used when no seed file is configured.

use crate::infra::error::{Error, Result};
use crate::infra::store::WriteCtx;
use crate::{inventory, menu, staff};
use patty_protocol::ids::IngredientId;
use patty_protocol::inventory::{Ingredient, MovementKind, Unit};
use patty_protocol::menu::Menu;
use patty_protocol::staff::Role;
use serde::Deserialize;

/// The built-in sample outlet: a burger menu, its ingredients and three staff members.
pub const SAMPLE: &str = include_str!("../../sample/seed.json");

/// A seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The menu.
    pub menu: Menu,
    /// Ingredients with their opening stock.
    pub ingredients: Vec<SeedIngredient>,
    /// Staff with their PINs.
    pub staff: Vec<SeedStaff>,
}

/// An ingredient and its opening stock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIngredient {
    /// Stable id.
    pub id: IngredientId,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: Unit,
    /// Reorder level.
    pub reorder_level: i64,
    /// Opening stock.
    pub on_hand: i64,
}

/// A staff member and their PIN.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedStaff {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// PIN.
    pub pin: String,
}

impl Seed {
    /// Parses and checks a seed document.
    pub fn parse(text: &str) -> Result<Self> {
        let seed: Seed = serde_json::from_str(text).map_err(|e| Error::Validation(format!("seed: {e}")))?;
        seed.menu.validate().map_err(|e| Error::Validation(format!("seed menu: {e}")))?;
        let known: std::collections::HashSet<_> = seed.ingredients.iter().map(|i| i.id).collect();
        for item in &seed.menu.items {
            let lines = item
                .recipe
                .iter()
                .chain(item.variants.iter().flat_map(|v| &v.recipe))
                .chain(item.modifier_groups.iter().flat_map(|g| &g.modifiers).flat_map(|m| &m.recipe));
            for l in lines {
                if !known.contains(&l.ingredient_id) {
                    return Err(Error::Validation(format!(
                        "seed: {} uses an ingredient the seed does not list",
                        item.name
                    )));
                }
            }
        }
        Ok(seed)
    }

    /// Writes the seed into an empty store, logging every write.
    pub fn apply(&self, ctx: &mut WriteCtx<'_>, pin_key: &[u8]) -> Result<()> {
        menu::store_menu(ctx.conn, &self.menu)?;
        for i in &self.ingredients {
            let ing = Ingredient { id: i.id, name: i.name.clone(), unit: i.unit, reorder_level: i.reorder_level };
            inventory::upsert_ingredient(ctx, &ing)?;
        }
        let moves: Vec<_> = self
            .ingredients
            .iter()
            .map(|i| inventory::Move { ingredient_id: i.id, kind: MovementKind::Receive, delta: i.on_hand })
            .collect();
        inventory::apply(ctx, &self.menu, &moves, None, None, "opening stock", false)?;
        menu::refresh_stock_availability(ctx, &self.menu, |_| true)?;
        for s in &self.staff {
            staff::insert_staff(ctx, pin_key, &s.name, s.role, &s.pin)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_seed_is_valid() {
        let seed = Seed::parse(SAMPLE).unwrap();
        assert!(seed.menu.items.len() >= 10);
        assert!(seed.staff.iter().any(|s| s.role == Role::Manager));
    }

    #[test]
    fn a_recipe_naming_an_unknown_ingredient_is_refused() {
        let mut v: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        v["ingredients"].as_array_mut().unwrap().remove(0);
        assert!(Seed::parse(&v.to_string()).is_err());
    }
}
