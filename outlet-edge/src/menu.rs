//! The menu: the local copy, live availability (sold out here, out of stock, out of its window),
//! and pricing. Every price on an order is computed here from the menu; a terminal only names
//! items, variants and modifiers (a manager may override a unit price, which is recorded).

use crate::error::{Error, Json, Path, Result};
use crate::staff::Session;
use crate::state::AppState;
use crate::store::WriteCtx;
use axum::extract::State;
use chrono::{DateTime, Utc};
use patty_protocol::Currency;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::{IngredientId, ItemId, LineId, StaffId};
use patty_protocol::menu::{Category, Item, Menu};
use patty_protocol::order::{LineModifier, NewLine, OrderLine, PriceOverride};
use patty_protocol::staff::Role;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An item's live state at this outlet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItemState {
    /// Marked sold out by staff here.
    pub sold_out: bool,
    /// Stock cannot cover one more portion.
    pub out_of_stock: bool,
}

/// Reads every item's live state.
pub fn item_states(conn: &Connection) -> Result<HashMap<ItemId, ItemState>> {
    let mut st = conn.prepare_cached("SELECT item_id, sold_out, auto_unavailable FROM item_state")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, bool>(2)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (id, sold_out, out_of_stock) = row?;
        if let Ok(id) = id.parse() {
            out.insert(id, ItemState { sold_out, out_of_stock });
        }
    }
    Ok(out)
}

/// Ingredients one portion needs at least (base recipe plus the first variant's extras).
fn one_portion(item: &Item) -> BTreeMap<IngredientId, i64> {
    let mut need = BTreeMap::new();
    let extra = item.variants.first().map(|v| v.recipe.as_slice()).unwrap_or_default();
    for l in item.recipe.iter().chain(extra) {
        *need.entry(l.ingredient_id).or_insert(0) += l.quantity;
    }
    need.retain(|_, q| *q > 0);
    need
}

/// Re-marks as out of stock (or back in) every item that uses one of `touched`.
pub fn refresh_stock_availability(ctx: &WriteCtx<'_>, menu: &Menu, touched: &HashSet<IngredientId>) -> Result<()> {
    let mut on_hand = ctx.conn.prepare_cached("SELECT on_hand FROM ingredients WHERE id = ?1")?;
    let mut set = ctx.conn.prepare_cached(
        "INSERT INTO item_state (item_id, auto_unavailable) VALUES (?1, ?2)
         ON CONFLICT (item_id) DO UPDATE SET auto_unavailable = excluded.auto_unavailable",
    )?;
    for item in &menu.items {
        let need = one_portion(item);
        if !need.keys().any(|i| touched.contains(i)) {
            continue;
        }
        let mut short = false;
        for (ing, q) in &need {
            let have: Option<i64> = on_hand.query_row([ing.to_string()], |r| r.get(0)).ok();
            short |= have.is_some_and(|h| h < *q);
        }
        set.execute(params![item.id.to_string(), short])?;
    }
    Ok(())
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
    /// The outlet's offset from UTC, minutes.
    pub utc_offset_minutes: i32,
    /// Most lines.
    pub max_lines: usize,
    /// Most portions per line.
    pub max_quantity: u32,
}

/// Prices `lines`; refuses unknown items, variants or modifiers, limits broken, unavailable items.
pub fn price(cx: &PricingCtx<'_>, lines: &[NewLine]) -> Result<Priced> {
    if lines.is_empty() {
        return Err(Error::Validation("an order needs at least one line".into()));
    }
    if lines.len() > cx.max_lines {
        return Err(Error::Validation(format!("an order may have at most {} lines", cx.max_lines)));
    }
    let mut out = Priced::default();
    for (n, req) in lines.iter().enumerate() {
        let at = |m: String| Error::Validation(format!("line {}: {m}", n + 1));
        if req.quantity == 0 || req.quantity > cx.max_quantity {
            return Err(at(format!("quantity must be 1 to {}", cx.max_quantity)));
        }
        if req.notes.chars().count() > 200 {
            return Err(at("notes are at most 200 characters".into()));
        }
        let item = cx.menu.item(req.item_id).ok_or_else(|| at(format!("unknown item {}", req.item_id)))?;
        let state = cx.states.get(&item.id).copied().unwrap_or_default();
        if state.sold_out {
            return Err(Error::Unavailable(format!("{} is sold out", item.name)));
        }
        if state.out_of_stock {
            return Err(Error::Unavailable(format!("{} is out of stock", item.name)));
        }
        if !item.is_in_window(cx.now, cx.utc_offset_minutes) {
            return Err(Error::Unavailable(format!("{} is not served at this time", item.name)));
        }
        let mut unit = item.price;
        let mut recipe: Vec<(IngredientId, i64)> = item.recipe.iter().map(|r| (r.ingredient_id, r.quantity)).collect();
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
                recipe.extend(v.recipe.iter().map(|r| (r.ingredient_id, r.quantity)));
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
            recipe.extend(modifier.recipe.iter().map(|r| (r.ingredient_id, r.quantity * i64::from(m.quantity))));
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
                return Err(Error::Forbidden("only a manager may override a price".into()));
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
        let mut line_usage: BTreeMap<IngredientId, i64> = BTreeMap::new();
        for (ing, q) in recipe {
            *line_usage.entry(ing).or_insert(0) += q;
        }
        for (ing, q) in line_usage {
            if q > 0 {
                *out.usage.entry(ing).or_insert(0) += q * i64::from(req.quantity);
            }
        }
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
    Ok(out)
}

/// An item with its live availability here.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct MenuItemView {
    /// The item.
    #[serde(flatten)]
    pub item: Item,
    /// Marked sold out by staff at this outlet.
    pub sold_out: bool,
    /// Stock cannot cover one more portion.
    pub out_of_stock: bool,
    /// Inside its availability window now.
    pub in_window: bool,
    /// Can be ordered now.
    pub available: bool,
}

/// The menu as terminals see it.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct MenuView {
    /// The catalog version.
    pub version: u64,
    /// The currency of every price.
    pub currency: Currency,
    /// Categories in display order.
    pub categories: Vec<Category>,
    /// Items with live availability.
    pub items: Vec<MenuItemView>,
}

/// The menu with live availability.
#[utoipa::path(get, path = "/api/v1/menu", tag = "menu", security(("pin_session" = [])),
    responses((status = 200, body = MenuView), (status = 401, body = patty_protocol::ErrorBody)))]
async fn get_menu(State(state): State<AppState>, _session: Session) -> Result<Json<MenuView>> {
    let menu = state.menu();
    let states = state.store.read(item_states).await?;
    let now = Utc::now();
    let offset = state.config.outlet.utc_offset_minutes;
    let mut categories = menu.categories.clone();
    categories.sort_by_key(|c: &Category| (c.position, c.name.clone()));
    let items = menu
        .items
        .iter()
        .map(|item| {
            let s = states.get(&item.id).copied().unwrap_or_default();
            let in_window = item.is_in_window(now, offset);
            MenuItemView {
                item: item.clone(),
                sold_out: s.sold_out,
                out_of_stock: s.out_of_stock,
                in_window,
                available: !s.sold_out && !s.out_of_stock && in_window,
            }
        })
        .collect();
    Ok(Json(MenuView { version: menu.version, currency: menu.currency, categories, items }))
}

/// Marks an item sold out here, or clears the mark.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SoldOut {
    /// Sold out (true) or back on sale (false).
    pub sold_out: bool,
}

/// Mark an item sold out at this outlet, or clear the mark (any staff).
#[utoipa::path(put, path = "/api/v1/menu/items/{id}/sold-out", tag = "menu", security(("pin_session" = [])), request_body = SoldOut,
    params(("id" = String, Path, description = "item id")),
    responses((status = 200, body = MenuItemView), (status = 404, body = patty_protocol::ErrorBody)))]
async fn set_sold_out(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<ItemId>,
    Json(req): Json<SoldOut>,
) -> Result<Json<MenuItemView>> {
    session.require(&[Role::Cashier, Role::Kitchen])?;
    let menu = state.menu();
    let item = menu.item(id).cloned().ok_or_else(|| Error::NotFound(format!("no item {id} on the menu")))?;
    let s = state
        .store
        .write(move |ctx| {
            ctx.conn.execute(
                "INSERT INTO item_state (item_id, sold_out) VALUES (?1, ?2)
                 ON CONFLICT (item_id) DO UPDATE SET sold_out = excluded.sold_out",
                params![id.to_string(), req.sold_out],
            )?;
            ctx.log(ChangeV1::ItemSoldOut { item_id: id, sold_out: req.sold_out })?;
            Ok(item_states(ctx.conn)?.get(&id).copied().unwrap_or_default())
        })
        .await?;
    let in_window = item.is_in_window(Utc::now(), state.config.outlet.utc_offset_minutes);
    Ok(Json(MenuItemView {
        item,
        sold_out: s.sold_out,
        out_of_stock: s.out_of_stock,
        in_window,
        available: !s.sold_out && !s.out_of_stock && in_window,
    }))
}

/// Stores `menu` as the current menu (seeding, and later sync).
pub fn store_menu(conn: &Connection, menu: &Menu) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('menu', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [serde_json::to_string(menu)?],
    )?;
    Ok(())
}

/// Loads the stored menu, if any.
pub fn load_menu(conn: &Connection) -> Result<Option<Menu>> {
    use rusqlite::OptionalExtension;
    let text: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'menu'", [], |r| r.get(0)).optional()?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

/// The menu routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_menu)).routes(routes!(set_sold_out))
}
