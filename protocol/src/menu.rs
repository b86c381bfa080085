//! The menu: what an outlet sells, at what price, with which options, and what it is made of.
//!
//! Prices here are the source of truth: a terminal never sends a price, the edge computes every
//! line from the menu (a manager's override aside, which is recorded on the line).

use crate::ids::{CategoryId, IngredientId, ItemId, ModifierGroupId, ModifierId, VariantId};
use crate::local::{self, Tz};
use crate::money::Currency;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A whole menu as one versioned document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// Monotonic catalog version (published by HQ; 0 for a seeded local menu).
    #[serde(default)]
    pub version: u64,
    /// The currency every price is in.
    pub currency: Currency,
    /// Categories in display order.
    pub categories: Vec<Category>,
    /// Every item on the menu.
    pub items: Vec<Item>,
}

/// A menu category (Burgers, Sides, Drinks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Stable id.
    pub id: CategoryId,
    /// Display name.
    pub name: String,
    /// Display order, ascending.
    #[serde(default)]
    pub position: u32,
}

/// One thing a customer can order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable id.
    pub id: ItemId,
    /// The category it is listed under.
    pub category_id: CategoryId,
    /// Display name.
    pub name: String,
    /// Short description for menus and kiosks.
    #[serde(default)]
    pub description: String,
    /// Base price in minor units, before variant and modifier deltas.
    pub price: i64,
    /// Sizes or variants; when present, one must be chosen.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// Modifier groups with their selection limits.
    #[serde(default)]
    pub modifier_groups: Vec<ModifierGroup>,
    /// Allergens, by common name (gluten, milk, egg, soy, sesame, …).
    #[serde(default)]
    pub allergens: Vec<String>,
    /// Nutrition facts per portion.
    #[serde(default)]
    pub nutrition: Option<Nutrition>,
    /// When the item may be sold; empty means always.
    #[serde(default)]
    pub availability: Vec<AvailabilityWindow>,
    /// Ingredients consumed by one portion (base size, no modifiers).
    #[serde(default)]
    pub recipe: Vec<RecipeLine>,
    /// Image address for menus and kiosks.
    #[serde(default)]
    pub image_url: Option<String>,
}

/// A size or variant (Regular, Large) with its price delta.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Stable id.
    pub id: VariantId,
    /// Display name.
    pub name: String,
    /// Added to the item's price, in minor units (may be negative).
    #[serde(default)]
    pub price_delta: i64,
    /// Extra ingredients this variant uses on top of the item's recipe.
    #[serde(default)]
    pub recipe: Vec<RecipeLine>,
}

/// A group of modifiers (Toppings, Sauce) with how many may be chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModifierGroup {
    /// Stable id.
    pub id: ModifierGroupId,
    /// Display name.
    pub name: String,
    /// At least this many selections (counting quantities) are required.
    #[serde(default)]
    pub min: u32,
    /// At most this many selections (counting quantities) are allowed.
    pub max: u32,
    /// The choices.
    pub modifiers: Vec<Modifier>,
}

/// One modifier choice with its price delta and per-unit ingredients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Modifier {
    /// Stable id.
    pub id: ModifierId,
    /// Display name.
    pub name: String,
    /// Added to the line's unit price per unit of this modifier, in minor units.
    #[serde(default)]
    pub price_delta: i64,
    /// How many of this modifier one portion may take (extra cheese twice).
    #[serde(default = "one")]
    pub max_quantity: u32,
    /// Ingredients per unit of this modifier (negative to remove: "no onions").
    #[serde(default)]
    pub recipe: Vec<RecipeLine>,
}

fn one() -> u32 {
    1
}

/// Nutrition facts per portion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Nutrition {
    /// Energy in kilocalories.
    pub kcal: u32,
    /// Protein in grams.
    #[serde(default)]
    pub protein_g: u32,
    /// Fat in grams.
    #[serde(default)]
    pub fat_g: u32,
    /// Carbohydrate in grams.
    #[serde(default)]
    pub carbs_g: u32,
}

/// A weekly window in the outlet's local time (breakfast 06:00–10:30 on weekdays).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AvailabilityWindow {
    /// ISO weekdays, 1 = Monday … 7 = Sunday; empty means every day.
    #[serde(default)]
    pub days: Vec<u8>,
    /// Start, minutes after local midnight (inclusive).
    pub start_minute: u16,
    /// End, minutes after local midnight (exclusive); may be past 1440 for after-midnight service.
    pub end_minute: u16,
}

/// An ingredient quantity in the ingredient's base unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecipeLine {
    /// The ingredient.
    pub ingredient_id: IngredientId,
    /// Quantity in the ingredient's unit (grams, millilitres, pieces).
    pub quantity: i64,
}

impl Item {
    /// Whether `at`, on the local clock of time zone `zone`, falls in an availability window.
    pub fn is_in_window(&self, at: DateTime<Utc>, zone: Tz) -> bool {
        if self.availability.is_empty() {
            return true;
        }
        let (day, minute) = local::weekday_minute(at, zone);
        self.availability.iter().any(|w| {
            let on = |d: u8| w.days.is_empty() || w.days.contains(&d);
            local::in_weekly_span(day, minute, on, w.start_minute, w.end_minute)
        })
    }
}

/// A problem found by [`Menu::validate`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct MenuError(pub String);

impl Menu {
    /// Checks the menu is internally consistent: known categories, non-negative prices, sane
    /// modifier limits, unique ids.
    pub fn validate(&self) -> Result<(), MenuError> {
        use std::collections::HashSet;
        if i64::try_from(self.version).is_err() {
            return Err(MenuError("version is at most 2^63 - 1".into()));
        }
        // Counts and positions are 32-bit integers in the API documents (int32).
        let int32 = |n: &u32| i32::try_from(*n).is_ok();
        let counts = self.categories.iter().map(|c| &c.position).chain(self.items.iter().flat_map(|i| {
            let groups = i
                .modifier_groups
                .iter()
                .flat_map(|g| [&g.min, &g.max].into_iter().chain(g.modifiers.iter().map(|m| &m.max_quantity)));
            let facts = i.nutrition.iter().flat_map(|n| [&n.kcal, &n.protein_g, &n.fat_g, &n.carbs_g]);
            groups.chain(facts).collect::<Vec<_>>()
        }));
        if !counts.into_iter().all(int32) {
            return Err(MenuError("positions, counts and nutrition facts are at most 2147483647".into()));
        }
        let cats: HashSet<_> = self.categories.iter().map(|c| c.id).collect();
        if cats.len() != self.categories.len() {
            return Err(MenuError("duplicate category id".into()));
        }
        let mut items = HashSet::new();
        for item in &self.items {
            if !items.insert(item.id) {
                return Err(MenuError(format!("duplicate item id {}", item.id)));
            }
            if !cats.contains(&item.category_id) {
                return Err(MenuError(format!("item {} names an unknown category", item.name)));
            }
            if item.price < 0 {
                return Err(MenuError(format!("item {} has a negative price", item.name)));
            }
            if item.name.trim().is_empty() {
                return Err(MenuError("an item has an empty name".into()));
            }
            for g in &item.modifier_groups {
                if g.min > g.max {
                    return Err(MenuError(format!("modifier group {} has min above max", g.name)));
                }
            }
            for w in &item.availability {
                if w.start_minute >= w.end_minute || w.end_minute > 2880 || w.days.iter().any(|d| !(1..=7).contains(d))
                {
                    return Err(MenuError(format!("item {} has an invalid availability window", item.name)));
                }
            }
        }
        Ok(())
    }

    /// Finds an item by id.
    pub fn item(&self, id: ItemId) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn item(windows: Vec<AvailabilityWindow>) -> Item {
        Item {
            id: ItemId::new(),
            category_id: CategoryId::new(),
            name: "Muffin".into(),
            description: String::new(),
            price: 450,
            variants: vec![],
            modifier_groups: vec![],
            allergens: vec![],
            nutrition: None,
            availability: windows,
            recipe: vec![],
            image_url: None,
        }
    }

    #[test]
    fn availability_windows_use_local_time_and_weekdays() {
        let breakfast =
            item(vec![AvailabilityWindow { days: vec![1, 2, 3, 4, 5], start_minute: 360, end_minute: 630 }]);
        // 2026-11-26 is a Thursday. 07:00 UTC is 08:00 in Amsterdam (UTC+1 in winter).
        let thu_7 = Utc.with_ymd_and_hms(2026, 11, 26, 7, 0, 0).unwrap();
        assert!(breakfast.is_in_window(thu_7, Tz::Europe__Amsterdam));
        assert!(!breakfast.is_in_window(thu_7, Tz::Asia__Karachi), "12:00 local is past breakfast");
        let sat_7 = Utc.with_ymd_and_hms(2026, 11, 28, 7, 0, 0).unwrap();
        assert!(!breakfast.is_in_window(sat_7, Tz::Europe__Amsterdam), "no breakfast on Saturday");
        assert!(item(vec![]).is_in_window(sat_7, Tz::UTC), "no windows means always");
    }

    #[test]
    fn a_window_past_midnight_belongs_to_the_day_it_started() {
        // Friday 22:00 to Saturday 02:00.
        let late = item(vec![AvailabilityWindow { days: vec![5], start_minute: 1320, end_minute: 1560 }]);
        assert!(late.is_in_window(Utc.with_ymd_and_hms(2026, 11, 28, 1, 0, 0).unwrap(), Tz::UTC), "Saturday 01:00");
        assert!(!late.is_in_window(Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap(), Tz::UTC), "Sunday 01:00");
        assert!(!late.is_in_window(Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap(), Tz::UTC), "Saturday 03:00");
    }

    fn amsterdam() -> Tz {
        Tz::Europe__Amsterdam
    }

    #[test]
    fn a_window_in_amsterdam_follows_summer_time() {
        // 07:00 to 11:00 local, every day.
        let b = item(vec![AvailabilityWindow { days: vec![], start_minute: 420, end_minute: 660 }]);
        let at = |m, d, h, min| Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap();
        // Saturday 28 March, winter time (UTC+1): it opens at 06:00 UTC and closes at 10:00 UTC.
        assert!(!b.is_in_window(at(3, 28, 5, 59), amsterdam()));
        assert!(b.is_in_window(at(3, 28, 6, 0), amsterdam()));
        assert!(!b.is_in_window(at(3, 28, 10, 0), amsterdam()));
        // Sunday 29 March the clocks go forward at 01:00 UTC; from then on it is UTC+2.
        assert!(b.is_in_window(at(3, 29, 5, 0), amsterdam()));
        assert!(!b.is_in_window(at(3, 29, 4, 59), amsterdam()));
        // Monday 30 March, summer time: 05:00 to 09:00 UTC.
        assert!(b.is_in_window(at(3, 30, 5, 0), amsterdam()));
        assert!(!b.is_in_window(at(3, 30, 9, 0), amsterdam()));
        // Saturday 24 October, still summer time.
        assert!(b.is_in_window(at(10, 24, 5, 0), amsterdam()));
        // Sunday 25 October the clocks go back at 01:00 UTC: winter time again, 06:00 to 10:00 UTC.
        assert!(!b.is_in_window(at(10, 25, 5, 59), amsterdam()));
        assert!(b.is_in_window(at(10, 25, 6, 0), amsterdam()));
        assert!(b.is_in_window(at(10, 26, 9, 59), amsterdam()));
        assert!(!b.is_in_window(at(10, 26, 10, 0), amsterdam()));
    }

    #[test]
    fn validate_catches_inconsistent_menus() {
        let cat = Category { id: CategoryId::new(), name: "Burgers".into(), position: 0 };
        let mut i = item(vec![]);
        i.category_id = cat.id;
        let mut menu = Menu {
            version: 1,
            currency: crate::Currency::parse("EUR").unwrap(),
            categories: vec![cat],
            items: vec![i.clone()],
        };
        assert!(menu.validate().is_ok());
        menu.items.push(i.clone());
        assert!(menu.validate().is_err(), "duplicate item id");
        menu.items.pop();
        menu.items[0].price = -1;
        assert!(menu.validate().is_err(), "negative price");
        menu.items[0].price = 1;
        menu.items[0].category_id = CategoryId::new();
        assert!(menu.validate().is_err(), "unknown category");
    }
}
