//! Down: one task holds `GET /api/v1/sync/down?after=P` open and applies its frames; each group
//! of frames and the new position commit together, so a frame is applied once. Each downward
//! message is applied through the public functions of the room it concerns.

use super::conflicts;
use super::jitter;
use super::store::{meta_set, meta_u64};
use crate::infra::error::Result;
use crate::infra::state::AppState;
use crate::infra::store::WriteCtx;
use crate::{changes, inventory, menu, orders, staff};
use futures::StreamExt;
use patty_protocol::change::{ChangeV1, DownFrame, DownV1};
use patty_protocol::conflict::{Conflict, ConflictKind};
use patty_protocol::ids::{ConflictId, OrderId};
use patty_protocol::inventory::{Ingredient, Unit};
use patty_protocol::menu::Menu;
use patty_protocol::order::OrderStatus;
use patty_sync::Backoff;
use std::sync::Arc;
use std::time::Duration;

/// A downward stream silent this long (three missed keep-alives) is dead: reopen it.
const DOWN_SILENCE: Duration = Duration::from_secs(35);
/// Largest downward frame (a whole menu fits many times over).
const MAX_FRAME: usize = 16 << 20;

/// Follows the downward stream until shutdown, reopening it with backoff.
pub(super) async fn down_loop(state: AppState, client: reqwest::Client, base: String) {
    let key = state.config.cloud.api_key.clone();
    let backoff = Backoff { base_ms: 500, max_ms: 15_000 };
    let mut failures = 0u32;
    let mut closing = state.closing.subscribe();
    loop {
        let after = state.store.read(|c| meta_u64(c, "down_position")).await.unwrap_or(0);
        let opened =
            client.get(format!("{base}/api/v1/sync/down?after={after}")).header("x-api-key", &key).send().await;
        let err = match opened {
            Ok(r) if r.status().is_success() => {
                failures = 0;
                state.sync.update(|l| {
                    l.down_open = true;
                    // A fresh stream proves the link; the uploader says otherwise if it fails.
                    l.up_ok = true;
                });
                state.sync.back.notify_one();
                follow(&state, r, &mut closing).await
            }
            Ok(r) => format!("{}: {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => patty_service::error::with_causes(&e),
        };
        if *closing.borrow() {
            return;
        }
        state.sync.fail("downward stream", err);
        let delay = backoff.delay_ms(failures, jitter());
        failures = failures.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(delay)) => {},
            _ = closing.wait_for(|c| *c) => return,
        }
    }
}

/// Applies an open downward stream until it ends; returns why it ended.
async fn follow(state: &AppState, resp: reqwest::Response, closing: &mut tokio::sync::watch::Receiver<bool>) -> String {
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    loop {
        let chunk = tokio::select! {
            c = tokio::time::timeout(DOWN_SILENCE, stream.next()) => c,
            _ = closing.wait_for(|c| *c) => return "shutting down".into(),
        };
        let bytes = match chunk {
            Err(_) => return "the cloud went silent".into(),
            Ok(None) => return "the cloud closed the stream".into(),
            Ok(Some(Err(e))) => return e.to_string(),
            Ok(Some(Ok(b))) => b,
        };
        buf.extend_from_slice(&bytes);
        let frames = match patty_sync::wire::take_frames(&mut buf, MAX_FRAME) {
            Ok(f) => f,
            Err(e) => return e.to_string(),
        };
        if frames.is_empty() {
            continue;
        }
        if let Err(e) = apply_frames(state, frames).await {
            return format!("applying what the cloud sent: {e}");
        }
    }
}

/// Applies frames and the new position in one write; installs a new menu once it is committed.
#[tracing::instrument(skip_all, fields(frames = frames.len()))]
pub async fn apply_frames(state: &AppState, frames: Vec<DownFrame>) -> Result<()> {
    let st = state.clone();
    let menu = state.menu();
    let installed = state
        .store
        .write(move |ctx| {
            let mut position = meta_u64(ctx.conn, "down_position")?;
            let mut menu_now = menu;
            let mut new_menu = None;
            for f in frames {
                if f.position <= position {
                    continue;
                }
                if let Some(m) = apply_one(ctx, &st, &menu_now, f.msg)? {
                    menu_now = Arc::new(m);
                    new_menu = Some(menu_now.clone());
                }
                position = f.position;
            }
            meta_set(ctx.conn, "down_position", position)?;
            Ok(new_menu)
        })
        .await?;
    if let Some(menu) = installed {
        tracing::info!(version = menu.version, items = menu.items.len(), "applied a catalog version");
        if let Ok(mut m) = state.menu.write() {
            *m = menu;
        }
    }
    Ok(())
}

/// Applies one message; returns the new menu when it was a catalog.
fn apply_one(ctx: &mut WriteCtx<'_>, state: &AppState, menu: &Menu, msg: DownV1) -> Result<Option<Menu>> {
    match msg {
        DownV1::Catalog { version, menu_json } => {
            let new: Menu = match serde_json::from_str(&menu_json).map_err(|e| e.to_string()).and_then(|m: Menu| {
                m.validate().map_err(|e| e.to_string())?;
                Ok(m)
            }) {
                Ok(m) => m,
                Err(e) => {
                    // Never half a menu: a version that does not check out is skipped whole.
                    tracing::error!(version, error = %e, "the cloud sent a catalog that does not check out; kept the current menu");
                    return Ok(None);
                }
            };
            install_catalog(ctx, menu, &new, version)?;
            Ok(Some(new))
        }
        DownV1::OnlineOrder { order } => {
            orders::insert_online(ctx, &state.config.outlet, *order)?;
            Ok(None)
        }
        DownV1::OrderCancelled { order_id, reason } => {
            let Ok((mut order, recalled)) = orders::load(ctx.conn, order_id) else { return Ok(None) };
            if order.status == OrderStatus::Placed {
                let m = orders::StatusChange::reported(OrderStatus::Cancelled, reason);
                orders::move_status(ctx, menu, &mut order, recalled, m)?;
            }
            Ok(None)
        }
        DownV1::Threshold { ingredient_id, reorder_level } => {
            inventory::set_reorder_level(ctx, ingredient_id, reorder_level)?;
            Ok(None)
        }
        DownV1::ConflictRaised { conflict } => {
            conflicts::store_conflict(ctx.conn, &conflict)?;
            Ok(None)
        }
        DownV1::ConflictResolved { id, resolution } => {
            conflicts::settle(ctx.conn, id, &resolution)?;
            Ok(None)
        }
        DownV1::Staff { staff } => {
            staff::upsert_from_cloud(ctx.conn, &staff)?;
            // Open sessions carry the old role: they end, so the change takes effect at once.
            state.sessions.close_all_of(staff.id)?;
            Ok(None)
        }
        DownV1::OrderMoved { order_id, status } => {
            let Ok((mut order, recalled)) = orders::load(ctx.conn, order_id) else { return Ok(None) };
            use patty_sync::merge::{StatusMerge, merge_status};
            match merge_status(order_id, order.status, status, order.fulfilment) {
                StatusMerge::Take(to) => {
                    let m = orders::StatusChange::reported(to, None);
                    orders::apply_status(ctx, menu, &mut order, recalled, m)?;
                }
                StatusMerge::Keep => {}
                // The outlet withdrew the order meanwhile: its own record stands here, and the
                // cloud records the clash when the outlet's status reaches it.
                StatusMerge::TakeWithConflict(..) | StatusMerge::KeepWithConflict(_) => {
                    tracing::warn!(order = %order_id, outlet = order.status.as_str(), cloud = status.as_str(), "the cloud's status clashes with the outlet's; kept the outlet's");
                }
            }
            Ok(None)
        }
        DownV1::OrdersErased { order_ids } => {
            erase_orders(ctx, &order_ids)?;
            Ok(None)
        }
    }
}

/// Blanks what these orders say of their erased customer, in the orders table and in the change
/// log's copies of them (entries the cloud already applied are never sent again, and those still
/// waiting go up blank).
fn erase_orders(ctx: &mut WriteCtx<'_>, ids: &[OrderId]) -> Result<()> {
    for &id in ids {
        if !orders::erase_personal(ctx, id)? {
            continue;
        }
        changes::erase_order_in_log(ctx.conn, id)?;
    }
    Ok(())
}

/// Replaces the menu with catalog `version`, flagging open orders whose prices it changes.
fn install_catalog(ctx: &mut WriteCtx<'_>, old: &Menu, new: &Menu, version: i64) -> Result<()> {
    // A recipe may name an ingredient this outlet never stocked: it starts at zero, so the item
    // shows out of stock until a delivery is received.
    for item in &new.items {
        let modifiers = item.modifier_groups.iter().flat_map(|g| g.modifiers.iter()).flat_map(|m| m.recipe.iter());
        for line in item.recipe.iter().chain(item.variants.iter().flat_map(|v| v.recipe.iter())).chain(modifiers) {
            if inventory::level(ctx.conn, line.ingredient_id)?.is_none() {
                let ingredient = Ingredient {
                    id: line.ingredient_id,
                    name: format!("ingredient {}", line.ingredient_id),
                    unit: Unit::Piece,
                    reorder_level: 0,
                };
                inventory::upsert_ingredient(ctx, &ingredient)?;
            }
        }
    }
    let changed: Vec<_> = new
        .items
        .iter()
        .filter_map(|n| old.item(n.id).filter(|o| o.price != n.price).map(|o| (n.id, o.price, n.price, n.name.clone())))
        .collect();
    if !changed.is_empty() {
        for order in orders::open_orders(ctx.conn)? {
            for (item, was, now, name) in &changed {
                if order.lines.iter().any(|l| l.item_id == *item && l.price_override.is_none()) {
                    let conflict = Conflict {
                        id: ConflictId::new(),
                        outlet_id: ctx.origin(),
                        kind: ConflictKind::PriceChangedWhileOpen,
                        subject: order.id.to_string(),
                        outlet_side: format!("order {} keeps {name} at {was}, the price it was taken at", order.number),
                        cloud_side: format!("catalog version {version} sells {name} at {now}"),
                        raised_ms: ctx.now_ms,
                        resolution: None,
                    };
                    conflicts::store_conflict(ctx.conn, &conflict)?;
                    ctx.log(ChangeV1::ConflictRaised { conflict })?;
                }
            }
        }
    }
    menu::store_menu(ctx.conn, new)?;
    meta_set(ctx.conn, "catalog_version", version)?;
    menu::refresh_stock_availability(ctx, new, |_| true)?;
    Ok(())
}
