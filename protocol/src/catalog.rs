//! The catalog HQ publishes: one menu for the chain, with per-outlet prices and availability.
//! A published catalog is an immutable version; outlets sync it and orders reference it.

use crate::ids::{ItemId, OutletId};
use crate::menu::Menu;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The catalog: the chain's menu and each outlet's differences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The chain's menu.
    pub menu: Menu,
    /// Per-outlet differences.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub outlets: BTreeMap<OutletId, OutletCatalog>,
}

/// One outlet's differences from the chain's menu.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutletCatalog {
    /// Base prices that differ here, minor units.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub prices: BTreeMap<ItemId, i64>,
    /// Items not sold here.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub unavailable: BTreeSet<ItemId>,
}

impl Catalog {
    /// The menu as `outlet` sells it: its prices, without the items it does not sell.
    pub fn menu_for(&self, outlet: OutletId) -> Menu {
        let mut menu = self.menu.clone();
        if let Some(o) = self.outlets.get(&outlet) {
            menu.items.retain(|i| !o.unavailable.contains(&i.id));
            for item in &mut menu.items {
                if let Some(p) = o.prices.get(&item.id) {
                    item.price = *p;
                }
            }
        }
        menu
    }

    /// Checks the menu and that outlet differences name known items with sane prices.
    pub fn validate(&self) -> Result<(), crate::menu::MenuError> {
        self.menu.validate()?;
        for o in self.outlets.values() {
            for (item, price) in &o.prices {
                if self.menu.item(*item).is_none() || *price < 0 {
                    return Err(crate::menu::MenuError(format!(
                        "an outlet price names an unknown item or is negative: {item}"
                    )));
                }
            }
            if let Some(item) = o.unavailable.iter().find(|i| self.menu.item(**i).is_none()) {
                return Err(crate::menu::MenuError(format!("an outlet marks an unknown item unavailable: {item}")));
            }
        }
        Ok(())
    }
}
