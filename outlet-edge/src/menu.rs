//! The menu: the local copy, live availability (sold out here, out of stock, out of its window),
//! and pricing. Every price on an order is computed here from the menu; a terminal only names
//! items, variants and modifiers (a manager may override a unit price, which is recorded).

use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::WriteCtx;
use axum::extract::State;
use chrono::Utc;
use patty_protocol::Currency;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::{IngredientId, ItemId};
use patty_protocol::menu::{Category, Item, Menu};
pub use patty_protocol::pricing::{ItemState, Priced, PricingCtx, PricingError, price};
use patty_protocol::staff::Role;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// How much of `ingredient` one portion of `item` needs at least (base recipe plus the first
/// variant's extras).
pub fn portion_need(item: &Item, ingredient: IngredientId) -> i64 {
    let extra = item.variants.first().map(|v| v.recipe.as_slice()).unwrap_or_default();
    item.recipe.iter().chain(extra).filter(|l| l.ingredient_id == ingredient).map(|l| l.quantity).sum()
}

/// Re-marks each item that `which` selects as out of stock (or back in): out when stock cannot
/// cover one portion.
pub fn refresh_stock_availability(ctx: &WriteCtx<'_>, menu: &Menu, which: impl Fn(&Item) -> bool) -> Result<()> {
    let mut on_hand = ctx.conn.prepare_cached("SELECT on_hand FROM ingredients WHERE id = ?1")?;
    let mut set = ctx.conn.prepare_cached(
        "INSERT INTO item_state (item_id, auto_unavailable) VALUES (?1, ?2)
         ON CONFLICT (item_id) DO UPDATE SET auto_unavailable = excluded.auto_unavailable",
    )?;
    for item in menu.items.iter().filter(|i| which(i)) {
        let extra = item.variants.first().map(|v| v.recipe.as_slice()).unwrap_or_default();
        let mut short = false;
        for ing in item.recipe.iter().chain(extra).map(|l| l.ingredient_id).collect::<HashSet<_>>() {
            let need = portion_need(item, ing);
            let have: Option<i64> = on_hand.query_row([ing.to_string()], |r| r.get(0)).optional()?;
            short |= need > 0 && have.is_some_and(|h| h < need);
        }
        set.execute(params![item.id.to_string(), short])?;
    }
    Ok(())
}

/// An item with its live availability here: the item's own fields and four more.
#[derive(Serialize, Deserialize)]
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

/// The item's schema, which refuses unknown fields (an item sent in a catalog has exactly its
/// own), widened by the four availability fields; written by hand because a derived schema for a
/// flattened item would be the item's closed schema, which these fields break.
impl utoipa::PartialSchema for MenuItemView {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{Object, Schema, Type};
        use utoipa::openapi::{RefOr, schema::ObjectBuilder};
        let mut view = match <Item as utoipa::PartialSchema>::schema() {
            RefOr::T(Schema::Object(item)) => item,
            _ => Object::new(),
        };
        for (name, what) in [
            ("sold_out", "Marked sold out by staff at this outlet."),
            ("out_of_stock", "Stock cannot cover one more portion."),
            ("in_window", "Inside its availability window now."),
            ("available", "Can be ordered now."),
        ] {
            view.properties
                .insert(name.into(), ObjectBuilder::new().schema_type(Type::Boolean).description(Some(what)).into());
            view.required.push(name.into());
        }
        view.description = Some("An item with its live availability here.".into());
        RefOr::T(Schema::Object(view))
    }
}

impl utoipa::ToSchema for MenuItemView {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <Item as utoipa::ToSchema>::schemas(schemas);
    }
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
    let zone = state.config.outlet.timezone;
    let mut categories = menu.categories.clone();
    categories.sort_by_key(|c: &Category| (c.position, c.name.clone()));
    let items = menu
        .items
        .iter()
        .map(|item| {
            let s = states.get(&item.id).copied().unwrap_or_default();
            let in_window = item.is_in_window(now, zone);
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
    let in_window = item.is_in_window(Utc::now(), state.config.outlet.timezone);
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
