//! The menu's SQL: the stored menu, each item's live state (sold out here, out of stock), and
//! the writes that change them.

use crate::infra::error::Result;
use crate::infra::store::{Store, WriteCtx};
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::{IngredientId, ItemId};
use patty_protocol::menu::{Item, Menu};
use patty_protocol::pricing::ItemState;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{HashMap, HashSet};

/// Reads every item's live state.
#[tracing::instrument(skip_all)]
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
#[tracing::instrument(skip_all)]
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

/// Marks item `id` sold out here, or clears the mark (logged): its live state after.
#[tracing::instrument(skip_all, fields(item.id = %id))]
pub async fn set_sold_out(store: &Store, id: ItemId, sold_out: bool) -> Result<ItemState> {
    store
        .write(move |ctx| {
            ctx.conn.execute(
                "INSERT INTO item_state (item_id, sold_out) VALUES (?1, ?2)
                 ON CONFLICT (item_id) DO UPDATE SET sold_out = excluded.sold_out",
                params![id.to_string(), sold_out],
            )?;
            ctx.log(ChangeV1::ItemSoldOut { item_id: id, sold_out })?;
            Ok(item_states(ctx.conn)?.get(&id).copied().unwrap_or_default())
        })
        .await
}

/// Stores `menu` as the current menu (seeding, and later sync).
#[tracing::instrument(skip_all)]
pub fn store_menu(conn: &Connection, menu: &Menu) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('menu', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [serde_json::to_string(menu)?],
    )?;
    Ok(())
}

/// Loads the stored menu, if any.
#[tracing::instrument(skip_all)]
pub fn load_menu(conn: &Connection) -> Result<Option<Menu>> {
    let text: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'menu'", [], |r| r.get(0)).optional()?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}
