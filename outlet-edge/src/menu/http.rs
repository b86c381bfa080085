//! The menu's HTTP face: the menu with live availability, and sold-out marks; no SQL.

use super::store;
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::session::Session;
use crate::infra::state::AppState;
use axum::extract::State;
use chrono::Utc;
use patty_protocol::Currency;
use patty_protocol::ids::ItemId;
use patty_protocol::menu::{Category, Item};
use patty_protocol::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
#[tracing::instrument(skip_all)]
async fn get_menu(State(state): State<AppState>, _session: Session) -> Result<Json<MenuView>> {
    let menu = state.menu();
    let states = state.store.read(store::item_states).await?;
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
#[tracing::instrument(skip_all, fields(item.id = %id))]
async fn set_sold_out(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<ItemId>,
    Json(req): Json<SoldOut>,
) -> Result<Json<MenuItemView>> {
    session.require(&[Role::Cashier, Role::Kitchen])?;
    let menu = state.menu();
    let item = menu.item(id).cloned().ok_or_else(|| Error::NotFound(format!("no item {id} on the menu")))?;
    let s = store::set_sold_out(&state.store, id, req.sold_out).await?;
    let in_window = item.is_in_window(Utc::now(), state.config.outlet.timezone);
    Ok(Json(MenuItemView {
        item,
        sold_out: s.sold_out,
        out_of_stock: s.out_of_stock,
        in_window,
        available: !s.sold_out && !s.out_of_stock && in_window,
    }))
}

/// The menu routes.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_menu)).routes(routes!(set_sold_out))
}
