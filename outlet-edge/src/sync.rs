//! Sync, the outlet's side: the change log goes up, the cloud's messages come down, and the
//! conflicts of both are listed here for the manager. Selling never waits on any of it.
//!
//! - Up: one task feeds [`patty_sync::Uploader`] the log entries after what the cloud
//!   acknowledged, sends each batch it cuts (`patty_sync::wire`, zstd when it pays) to
//!   `POST /api/v1/sync/up` with the outlet's API key, and backs off with jitter while the link is
//!   down. The acknowledged sequence is kept in `meta` only as a hint: the cloud's cursor decides,
//!   so a crash anywhere causes at most a resend the cloud ignores.
//! - Down: another task holds `GET /api/v1/sync/down?after=P` open and applies its frames. Each
//!   group of frames and the new position commit together, so a frame is applied once. A catalog
//!   version replaces the whole menu in one transaction (never half a menu); sold-out marks set
//!   here stay (they win at the outlet until cleared here); open orders keep the prices they were
//!   taken at, and each line whose price changed becomes a conflict. Online orders arrive as
//!   `placed`; stock is taken when the outlet takes one on (any move out of `placed`). A customer's cancel applies while the
//!   order is still `placed`; after that the cloud records the race as a conflict. Staff HQ adds
//!   or changes arrive with name, role and active flag; PINs never travel (a manager sets a new
//!   member's PIN here), and the last change applied at each side stands.

use crate::changes::read_after;
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::events::Event;
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::{WriteCtx, now_ms};
use axum::extract::State;
use futures::StreamExt;
use patty_protocol::change::{ChangeV1, DownFrame, DownV1};
use patty_protocol::conflict::{Conflict, ConflictKind, Resolution};
use patty_protocol::ids::{ConflictId, OrderId};
use patty_protocol::inventory::{Ingredient, Unit};
use patty_protocol::menu::Menu;
use patty_protocol::order::{Order, OrderStatus};
use patty_sync::{Ack, Backoff, BatchLimits, Uploader};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A downward stream silent this long (three missed keep-alives) is dead: reopen it.
const DOWN_SILENCE: Duration = Duration::from_secs(35);
/// Largest downward frame (a whole menu fits many times over).
const MAX_FRAME: usize = 16 << 20;
/// How long one upload may take before it counts as failed.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The link's state, for `/api/v1/sync/status` and `/metrics`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncStatus {
    /// Whether a cloud is configured.
    pub enabled: bool,
    /// "online" while the downward stream is open and the last upload succeeded, else "offline"
    /// ("disabled" without a cloud).
    pub link: String,
    /// Since when the link is in that state, Unix ms.
    pub since_ms: i64,
    /// The highest change-log sequence the cloud acknowledged.
    pub acked: u64,
    /// The highest sequence in the change log.
    pub last_seq: u64,
    /// Entries waiting to go up.
    pub pending: u64,
    /// The last downward position applied.
    pub down_position: u64,
    /// The catalog version the menu comes from, once one arrived from the cloud.
    pub catalog_version: Option<i64>,
    /// Bytes sent up since start (request bodies).
    pub bytes_up: u64,
    /// The last failure, if the link is failing.
    pub last_error: Option<String>,
    /// The last upload failure since the last successful upload.
    pub upload_error: Option<String>,
    /// Uploads that failed since start.
    pub upload_failures: u64,
}

fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

fn meta_set(conn: &Connection, key: &str, value: impl ToString) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value.to_string()])?;
    Ok(())
}

fn meta_u64(conn: &Connection, key: &str) -> Result<u64> {
    Ok(meta_get(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Starts the upload and download tasks when a cloud is configured.
pub fn start(state: &AppState) {
    let cfg = &state.config.cloud;
    if cfg.url.is_empty() {
        return;
    }
    let client =
        match cfg.client().and_then(|b| b.connect_timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client; sync is off");
                return;
            }
        };
    let base = cfg.url.trim_end_matches('/').to_owned();
    let (down_client, down_base) = (client.clone(), base.clone());
    supervise("upload", state.clone(), move |s| upload_loop(s, client.clone(), base.clone()));
    supervise("downward stream", state.clone(), move |s| down_loop(s, down_client.clone(), down_base.clone()));
}

/// Runs a sync task until shutdown, starting it again (and saying so) if it ever panics.
fn supervise<F, Fut>(name: &'static str, state: AppState, task: F)
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match tokio::spawn(task(state.clone())).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(task = name, error = %e, "a sync task stopped unexpectedly; starting it again");
                    state.sync.fail(name, format!("task restarted after: {e}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// A pseudo-random number for jitter (no cryptographic use).
fn jitter() -> u64 {
    uuid::Uuid::new_v4().as_u128() as u64
}

#[derive(Deserialize)]
struct UploadAck {
    applied_through: u64,
    gap: bool,
}

async fn upload_loop(state: AppState, client: reqwest::Client, base: String) {
    let url = format!("{base}/api/v1/sync/up");
    let key = state.config.cloud.api_key.clone();
    let limits = BatchLimits::default();
    let hint = state.store.read(|c| meta_u64(c, "sync_acked")).await.unwrap_or(0);
    // What the cloud acknowledged before a restart counts as acknowledged now: a restarted edge
    // whose whole log was acknowledged has nothing to send and nothing pending.
    state.sync.update(|l| l.acked = l.acked.max(hint));
    let mut up = Uploader::resume(state.store.origin(), hint, limits, Backoff { base_ms: 500, max_ms: 30_000 });
    let mut wake = state.store.events.subscribe();
    let mut closing = state.closing.subscribe();
    // When the uploader backs off: until then the log is not read at all (new sales while the
    // link is down do not wake it), only the link coming back or shutdown do.
    let mut retry_at = 0u64;
    loop {
        if *closing.borrow() {
            return;
        }
        let wait = retry_at.saturating_sub(now_ms() as u64);
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {},
                _ = state.sync.back.notified() => {
                    up.retry_now();
                    retry_at = 0;
                },
                _ = closing.wait_for(|c| *c) => return,
            }
            continue;
        }
        let acked = up.acked();
        let pending = match state.store.read(move |c| read_after(c, acked, limits.max_entries as u32)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "reading the change log failed");
                Vec::new()
            }
        };
        let now = now_ms() as u64;
        let Some(batch) = up.next_batch(&pending, now, |e| postcard::experimental::serialized_size(e).unwrap_or(64))
        else {
            // Nothing to send: wait for a write (or, at worst, a few seconds) or shutdown.
            let wait = if pending.is_empty() { Duration::from_secs(5) } else { Duration::from_millis(200) };
            tokio::select! {
                _ = wake.recv() => {},
                _ = tokio::time::sleep(wait) => {},
                _ = state.sync.back.notified() => up.retry_now(),
                _ = closing.wait_for(|c| *c) => return,
            }
            continue;
        };
        let body = patty_sync::wire::encode_batch(&batch.entries);
        let len = body.len() as u64;
        let attempt = async {
            let sent = client
                .post(&url)
                .header("x-api-key", &key)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .timeout(UPLOAD_TIMEOUT)
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => r.json::<UploadAck>().await.map_err(|e| e.to_string()),
                Ok(r) => {
                    let status = r.status();
                    Err(format!("{status}: {}", r.text().await.unwrap_or_default()))
                }
                Err(e) => Err(patty_service::error::with_causes(&e)),
            }
        };
        // The client's timeout covers the exchange; this one bounds the attempt whatever happens.
        let answer = tokio::time::timeout(UPLOAD_TIMEOUT + Duration::from_secs(5), attempt)
            .await
            .unwrap_or_else(|_| Err("no answer in time".into()));
        match answer {
            Ok(a) => {
                up.on_ack(if a.gap {
                    Ack::Gap { applied_through: a.applied_through }
                } else {
                    Ack::AppliedThrough(a.applied_through)
                });
                let acked = up.acked();
                state.sync.update(|l| {
                    l.up_ok = true;
                    l.acked = acked;
                    l.bytes_up += len;
                    l.upload_error = None;
                });
                if let Err(e) = state.store.write(move |ctx| meta_set(ctx.conn, "sync_acked", acked)).await {
                    tracing::warn!(error = %e, "saving the upload cursor failed");
                }
            }
            Err(e) => {
                let retry = up.on_failure(now_ms() as u64, jitter());
                retry_at = retry;
                let first = state.sync.snapshot().map(|l| l.upload_error.is_none()).unwrap_or(true);
                if first {
                    tracing::warn!(error = %e, retry_in_ms = retry.saturating_sub(now_ms() as u64), "upload failed; retrying with backoff");
                }
                state.sync.fail("upload", e);
            }
        }
    }
}

async fn down_loop(state: AppState, client: reqwest::Client, base: String) {
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
            insert_online(ctx, state, *order)?;
            Ok(None)
        }
        DownV1::OrderCancelled { order_id, reason } => {
            let Ok((mut order, recalled)) = crate::orders::load(ctx.conn, order_id) else { return Ok(None) };
            if order.status == OrderStatus::Placed {
                let m = crate::orders::StatusChange::reported(OrderStatus::Cancelled, reason);
                crate::orders::move_status(ctx, menu, &mut order, recalled, m)?;
            }
            Ok(None)
        }
        DownV1::Threshold { ingredient_id, reorder_level } => {
            ctx.conn
                .prepare_cached("UPDATE ingredients SET reorder_level = ?2 WHERE id = ?1")?
                .execute(params![ingredient_id.to_string(), reorder_level])?;
            crate::inventory::check_alert(ctx, ingredient_id)?;
            Ok(None)
        }
        DownV1::ConflictRaised { conflict } => {
            store_conflict(ctx.conn, &conflict)?;
            Ok(None)
        }
        DownV1::ConflictResolved { id, resolution } => {
            settle(ctx.conn, id, &resolution)?;
            Ok(None)
        }
        DownV1::Staff { staff } => {
            // A new member gets a PIN no digest can equal: they sign in once a manager sets one.
            ctx.conn
                .prepare_cached(
                    "INSERT INTO staff (id, name, role, pin_hash, active) VALUES (?1, ?2, ?3, 'unset:' || ?1, ?4)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, active = excluded.active",
                )?
                .execute(params![staff.id.to_string(), staff.name, staff.role.as_str(), staff.active])?;
            // Open sessions carry the old role: they end, so the change takes effect at once.
            state.sessions.close_all_of(staff.id)?;
            Ok(None)
        }
        DownV1::OrderMoved { order_id, status } => {
            let Ok((mut order, recalled)) = crate::orders::load(ctx.conn, order_id) else { return Ok(None) };
            use patty_sync::merge::{StatusMerge, merge_status};
            match merge_status(order_id, order.status, status, order.fulfilment) {
                StatusMerge::Take(to) => {
                    let m = crate::orders::StatusChange::reported(to, None);
                    crate::orders::apply_status(ctx, menu, &mut order, recalled, m)?;
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
        let Ok((mut order, recalled)) = crate::orders::load(ctx.conn, id) else { continue };
        order.erase_personal();
        crate::orders::save(ctx, &mut order, recalled)?;
        // postcard writes the id as its 16 bytes: only entries holding them are decoded.
        let logged: Vec<(i64, Vec<u8>)> = ctx
            .conn
            .prepare_cached(
                "SELECT seq, payload FROM change_log WHERE kind = 'order_upserted' AND instr(payload, ?1) > 0",
            )?
            .query_map([id.0.as_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (seq, payload) in logged {
            let mut entry: patty_protocol::change::ChangeEntry =
                postcard::from_bytes(&payload).map_err(|e| Error::Internal(format!("decode change {seq}: {e}")))?;
            let ChangeV1::OrderUpserted { order } = &mut entry.change else { continue };
            if order.id != id {
                continue;
            }
            order.erase_personal();
            let payload = postcard::to_stdvec(&entry).map_err(|e| Error::Internal(format!("encode change: {e}")))?;
            ctx.conn
                .prepare_cached("UPDATE change_log SET payload = ?2 WHERE seq = ?1")?
                .execute(params![seq, payload])?;
        }
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
            if crate::inventory::level(ctx.conn, line.ingredient_id)?.is_none() {
                let ingredient = Ingredient {
                    id: line.ingredient_id,
                    name: format!("ingredient {}", line.ingredient_id),
                    unit: Unit::Piece,
                    reorder_level: 0,
                };
                crate::inventory::upsert_ingredient(ctx, &ingredient)?;
            }
        }
    }
    let changed: Vec<_> = new
        .items
        .iter()
        .filter_map(|n| old.item(n.id).filter(|o| o.price != n.price).map(|o| (n.id, o.price, n.price, n.name.clone())))
        .collect();
    if !changed.is_empty() {
        let open: Vec<String> = ctx
            .conn
            .prepare_cached(
                "SELECT doc FROM orders WHERE status NOT IN ('completed', 'cancelled', 'voided') ORDER BY created_ms",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for doc in open {
            let order: Order = serde_json::from_str(&doc)?;
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
                    store_conflict(ctx.conn, &conflict)?;
                    ctx.log(ChangeV1::ConflictRaised { conflict })?;
                }
            }
        }
    }
    ctx.conn
        .prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('menu', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute([serde_json::to_string(new)?])?;
    meta_set(ctx.conn, "catalog_version", version)?;
    crate::menu::refresh_stock_availability(ctx, new, |_| true)?;
    Ok(())
}

/// Takes in an online order as `placed` (once: a repeat is ignored).
fn insert_online(ctx: &mut WriteCtx<'_>, state: &AppState, mut order: Order) -> Result<()> {
    if order.outlet_id != ctx.origin() {
        tracing::warn!(order = %order.id, "an online order for another outlet; ignored");
        return Ok(());
    }
    let exists = ctx
        .conn
        .prepare_cached("SELECT 1 FROM orders WHERE id = ?1")?
        .query_row([order.id.to_string()], |_| Ok(()))
        .optional()?
        .is_some();
    if exists {
        return Ok(());
    }
    order.number = crate::orders::next_number(ctx, &state.config.outlet)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO orders (id, number, status, created_ms, updated_ms, idempotency_key, request_hash, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
        )?
        .execute(params![
            order.id.to_string(),
            order.number,
            order.status.as_str(),
            order.created_ms,
            ctx.now_ms,
            format!("cloud:{}", order.id),
            serde_json::to_string(&order)?
        ])?;
    ctx.emit(Event::Order { order: Arc::new(order), recalled: false });
    Ok(())
}

fn store_conflict(conn: &Connection, c: &Conflict) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO conflicts (id, kind, raised_ms, resolved_ms, doc) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        c.id.to_string(),
        c.kind.as_str(),
        c.raised_ms,
        c.resolution.as_ref().map(|r| r.at_ms),
        serde_json::to_string(c)?
    ])?;
    Ok(())
}

/// Settles an open conflict; the settled record, or `None` if there is no such open one.
fn settle(conn: &Connection, id: ConflictId, r: &Resolution) -> Result<Option<Conflict>> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM conflicts WHERE id = ?1 AND resolved_ms IS NULL")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(doc) = doc else { return Ok(None) };
    let mut c: Conflict = serde_json::from_str(&doc)?;
    c.resolution = Some(r.clone());
    conn.prepare_cached("UPDATE conflicts SET resolved_ms = ?2, doc = ?3 WHERE id = ?1")?.execute(params![
        id.to_string(),
        r.at_ms,
        serde_json::to_string(&c)?
    ])?;
    Ok(Some(c))
}

/// The link to the cloud and what waits to go up (any signed-in staff).
#[utoipa::path(get, path = "/api/v1/sync/status", tag = "sync", security(("pin_session" = [])),
    responses((status = 200, body = SyncStatus)))]
async fn status(State(state): State<AppState>, _session: Session) -> Result<Json<SyncStatus>> {
    Ok(Json(current_status(&state).await?))
}

/// The sync status now.
pub async fn current_status(state: &AppState) -> Result<SyncStatus> {
    let (down_position, catalog_version, last_seq) = state
        .store
        .read(|c| {
            let last: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) FROM change_log", [], |r| r.get(0))?;
            Ok((
                meta_u64(c, "down_position")?,
                meta_get(c, "catalog_version")?.and_then(|v| v.parse().ok()),
                last as u64,
            ))
        })
        .await?;
    let enabled = !state.config.cloud.url.is_empty();
    let l = state.sync.snapshot()?;
    Ok(SyncStatus {
        enabled,
        link: if !enabled {
            "disabled"
        } else if l.online {
            "online"
        } else {
            "offline"
        }
        .into(),
        since_ms: l.since_ms,
        acked: l.acked,
        last_seq,
        pending: last_seq.saturating_sub(l.acked),
        down_position,
        catalog_version,
        bytes_up: l.bytes_up,
        last_error: l.last_error.clone(),
        upload_error: l.upload_error.clone(),
        upload_failures: l.upload_failures,
    })
}

/// Conflicts at this outlet, open ones first, newest first (manager).
#[utoipa::path(get, path = "/api/v1/conflicts", tag = "sync", security(("pin_session" = [])),
    responses((status = 200, body = Vec<Conflict>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn list(State(state): State<AppState>, session: Session) -> Result<Json<Vec<Conflict>>> {
    session.require_manager()?;
    let docs = state
        .store
        .read(|c| {
            let mut st = c.prepare_cached(
                "SELECT doc FROM conflicts ORDER BY resolved_ms IS NOT NULL, raised_ms DESC LIMIT 500",
            )?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await?;
    Ok(Json(docs.iter().map(|d| Ok(serde_json::from_str(d)?)).collect::<Result<_>>()?))
}

/// How a conflict is settled.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What was decided (1 to 500 characters).
    pub note: String,
}

/// Settle a conflict (manager); HQ hears of it.
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/resolve", tag = "sync", security(("pin_session" = [])), request_body = Resolve,
    params(("id" = String, Path, description = "conflict id")),
    responses((status = 200, body = Conflict), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn resolve(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<ConflictId>,
    Json(req): Json<Resolve>,
) -> Result<Json<Conflict>> {
    session.require_manager()?;
    let note = req.note.trim().to_owned();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(Error::Validation("a note of 1 to 500 characters says what was decided".into()));
    }
    let by = format!("outlet:{}", session.staff.id);
    let c = state
        .store
        .write(move |ctx| {
            let r = Resolution { at_ms: ctx.now_ms, by, note };
            let c = settle(ctx.conn, id, &r)?.ok_or_else(|| Error::NotFound(format!("no open conflict {id}")))?;
            ctx.log(ChangeV1::ConflictResolved { id, resolution: r })?;
            Ok(c)
        })
        .await?;
    Ok(Json(c))
}

/// A delivery taken at the counter, as the cloud dispatches it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CounterDelivery {
    /// The delivery's id at the cloud.
    pub id: String,
    /// The job number drivers see.
    pub job: u32,
    /// Where it stands: `waiting`, `assigned`, `at_pickup`, `picked_up`, `near_dropoff`,
    /// `delivered` or `cancelled`.
    pub status: String,
    /// The driver on it.
    #[serde(default)]
    pub driver_id: Option<String>,
    /// Seconds to the door, when a driver is on the way.
    #[serde(default)]
    pub eta_dropoff_s: Option<u32>,
    /// The one-time code the customer gives the driver at the door.
    pub handover_code: String,
}

/// The delivery of an order taken at the counter, with the code to give its customer (cashier,
/// manager). The cloud dispatches it once the order is ready, so this asks the cloud; while the
/// link is down the answer is 409 `unavailable`, and selling goes on regardless.
#[utoipa::path(get, path = "/api/v1/orders/{id}/delivery", tag = "sync", security(("pin_session" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = CounterDelivery), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
async fn counter_delivery(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<patty_protocol::ids::OrderId>,
) -> Result<Json<CounterDelivery>> {
    session.require(&[patty_protocol::staff::Role::Cashier])?;
    let order = state.store.read(move |c| Ok(crate::orders::load(c, id)?)).await?.0;
    if order.fulfilment != patty_protocol::order::Fulfilment::Delivery {
        return Err(Error::Conflict(format!("order {} is not a delivery", order.number)));
    }
    if order.customer_id.is_some() {
        return Err(Error::Forbidden("an online order's code is for its customer alone".into()));
    }
    let cloud = &state.config.cloud;
    if cloud.url.is_empty() {
        return Err(Error::Unavailable("this outlet has no cloud link: deliveries are dispatched by the cloud".into()));
    }
    let offline = |e: &dyn std::fmt::Display| {
        Error::Unavailable(format!("the cloud is out of reach ({e}); try again once the link is back"))
    };
    let client = cloud
        .client()
        .map_err(Error::Internal)?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let r = client
        .get(format!("{}/api/v1/orders/{id}/delivery", cloud.url.trim_end_matches('/')))
        .header("x-api-key", &cloud.api_key)
        .send()
        .await
        .map_err(|e| offline(&e))?;
    match r.status() {
        s if s.is_success() => Ok(Json(r.json().await.map_err(|e| offline(&e))?)),
        reqwest::StatusCode::NOT_FOUND => Err(Error::NotFound(format!(
            "order {} has no delivery yet: the cloud dispatches it once the order is ready and synced",
            order.number
        ))),
        reqwest::StatusCode::FORBIDDEN => {
            Err(Error::Forbidden("the cloud keeps this order's code from the outlet".into()))
        }
        s => Err(offline(&s)),
    }
}

/// The sync routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(list))
        .routes(routes!(resolve))
        .routes(routes!(counter_delivery))
}
