//! Pricing: the one place an order's lines get their prices, from the menu. A client names items,
//! variants and modifiers, never a price (a manager's override aside, which is recorded on the
//! line). Used by the edge for in-store orders and by the cloud for quotes and online orders.

use crate::ids::{IngredientId, ItemId, LineId, StaffId};
use crate::menu::Menu;
use crate::order::{LineModifier, NewLine, OrderLine, PriceOverride};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Why lines could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// A line breaks a rule (unknown item, quantity, modifier limits).
    #[error("{0}")]
    Invalid(String),
    /// An item cannot be sold now (sold out, out of stock, outside its window).
    #[error("{0}")]
    Unavailable(String),
    /// The caller may not do this (a price override without a manager).
    #[error("{0}")]
    Forbidden(String),
}

/// An item's live state at an outlet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItemState {
    /// Marked sold out by staff at the outlet.
    pub sold_out: bool,
    /// Stock cannot cover one more portion.
    pub out_of_stock: bool,
}

/// Lines priced from the menu, and the ingredients they use.
#[derive(Debug, Default)]
pub struct Priced {
    /// The priced lines.
    pub lines: Vec<OrderLine>,
    /// Ingredients the lines consume, in their units (never negative).
    pub usage: BTreeMap<IngredientId, i64>,
}

/// Limits and context for pricing.
pub struct PricingCtx<'a> {
    /// The menu.
    pub menu: &'a Menu,
    /// Live item states.
    pub states: &'a HashMap<ItemId, ItemState>,
    /// Who is ordering; price overrides need a manager.
    pub by: StaffId,
    /// Whether `by` is a manager.
    pub manager: bool,
    /// Pricing time, for availability windows.
    pub now: DateTime<Utc>,
    /// The outlet's time zone, for availability windows.
    pub zone: crate::local::Tz,
    /// Most lines.
    pub max_lines: usize,
    /// Most portions per line.
    pub max_quantity: u32,
}

/// Prices `lines`; refuses unknown items, variants or modifiers, limits broken, unavailable items.
pub fn price(cx: &PricingCtx<'_>, lines: &[NewLine]) -> Result<Priced, PricingError> {
    if lines.is_empty() {
        return Err(PricingError::Invalid("an order needs at least one line".into()));
    }
    if lines.len() > cx.max_lines {
        return Err(PricingError::Invalid(format!("an order may have at most {} lines", cx.max_lines)));
    }
    let mut out = Priced::default();
    for (n, req) in lines.iter().enumerate() {
        let at = |m: String| PricingError::Invalid(format!("line {}: {m}", n + 1));
        if req.quantity == 0 || req.quantity > cx.max_quantity {
            return Err(at(format!("quantity must be 1 to {}", cx.max_quantity)));
        }
        if req.notes.chars().count() > 200 {
            return Err(at("notes are at most 200 characters".into()));
        }
        let item = cx.menu.item(req.item_id).ok_or_else(|| at(format!("unknown item {}", req.item_id)))?;
        let state = cx.states.get(&item.id).copied().unwrap_or_default();
        if state.sold_out {
            return Err(PricingError::Unavailable(format!("{} is sold out", item.name)));
        }
        if state.out_of_stock {
            return Err(PricingError::Unavailable(format!("{} is out of stock", item.name)));
        }
        if !item.is_in_window(cx.now, cx.zone) {
            return Err(PricingError::Unavailable(format!("{} is not served at this time", item.name)));
        }
        let mut unit = item.price;
        let variant = match (req.variant_id, item.variants.is_empty()) {
            (None, true) => None,
            (None, false) => return Err(at(format!("{} needs a size or variant", item.name))),
            (Some(_), true) => return Err(at(format!("{} has no variants", item.name))),
            (Some(v), false) => {
                let v = item
                    .variants
                    .iter()
                    .find(|x| x.id == v)
                    .ok_or_else(|| at(format!("unknown variant for {}", item.name)))?;
                unit += v.price_delta;
                Some(v)
            }
        };
        let mut seen = HashSet::new();
        let mut per_group: HashMap<_, u32> = HashMap::new();
        let mut modifiers = Vec::with_capacity(req.modifiers.len());
        for m in &req.modifiers {
            if !seen.insert(m.modifier_id) {
                return Err(at("a modifier is listed twice; use its quantity".into()));
            }
            let (group, modifier) = item
                .modifier_groups
                .iter()
                .find_map(|g| g.modifiers.iter().find(|x| x.id == m.modifier_id).map(|x| (g, x)))
                .ok_or_else(|| at(format!("unknown modifier for {}", item.name)))?;
            if m.quantity == 0 || m.quantity > modifier.max_quantity {
                return Err(at(format!("{} may be taken 1 to {} times", modifier.name, modifier.max_quantity)));
            }
            *per_group.entry(group.id).or_insert(0) += m.quantity;
            unit += modifier.price_delta * i64::from(m.quantity);
            modifiers.push(LineModifier {
                modifier_id: modifier.id,
                name: modifier.name.clone(),
                quantity: m.quantity,
                unit_delta: modifier.price_delta,
            });
        }
        for g in &item.modifier_groups {
            let n = per_group.get(&g.id).copied().unwrap_or(0);
            if n < g.min || n > g.max {
                return Err(at(format!("{}: choose {} to {} from {}", item.name, g.min, g.max, g.name)));
            }
        }
        let unit = unit.max(0);
        let (unit_price, price_override) = match &req.price_override {
            None => (unit, None),
            Some(_) if !cx.manager => {
                return Err(PricingError::Forbidden("only a manager may override a price".into()));
            }
            Some(o) if o.unit_price < 0 || o.unit_price > 1_000_000 => {
                return Err(at("an override price must be 0 to 1000000".into()));
            }
            Some(o) if o.reason.trim().is_empty() => {
                return Err(at("a price override needs a reason".into()));
            }
            Some(o) => (
                o.unit_price,
                Some(PriceOverride { menu_unit_price: unit, by: cx.by, reason: o.reason.trim().to_owned() }),
            ),
        };
        out.lines.push(OrderLine {
            id: LineId::new(),
            item_id: item.id,
            name: item.name.clone(),
            variant_id: variant.map(|v| v.id),
            variant_name: variant.map(|v| v.name.clone()),
            quantity: req.quantity,
            modifiers,
            notes: req.notes.trim().to_owned(),
            unit_price,
            line_total: unit_price * i64::from(req.quantity),
            price_override,
        });
    }
    out.usage = usage(cx.menu, &out.lines);
    Ok(out)
}

/// The ingredients priced `lines` consume by `menu`'s recipes (item, variant and modifiers, times
/// the portions), never negative. An item or modifier no longer on the menu uses nothing. The one
/// place an order's stock is computed: when it is taken, edited, and taken on later.
pub fn usage(menu: &Menu, lines: &[OrderLine]) -> BTreeMap<IngredientId, i64> {
    let mut out = BTreeMap::new();
    for line in lines {
        let Some(item) = menu.item(line.item_id) else { continue };
        let mut per_portion: BTreeMap<IngredientId, i64> = BTreeMap::new();
        let variant = line.variant_id.and_then(|v| item.variants.iter().find(|x| x.id == v));
        for r in item.recipe.iter().chain(variant.map(|v| v.recipe.as_slice()).unwrap_or_default()) {
            *per_portion.entry(r.ingredient_id).or_insert(0) += r.quantity;
        }
        for m in &line.modifiers {
            let found = item.modifier_groups.iter().flat_map(|g| g.modifiers.iter()).find(|x| x.id == m.modifier_id);
            for r in found.map(|x| x.recipe.as_slice()).unwrap_or_default() {
                *per_portion.entry(r.ingredient_id).or_insert(0) += r.quantity * i64::from(m.quantity);
            }
        }
        for (ing, q) in per_portion.into_iter().filter(|(_, q)| *q > 0) {
            *out.entry(ing).or_insert(0) += q * i64::from(line.quantity);
        }
    }
    out
}
