//! Sync, the cloud's side: every outlet's change log applied exactly once in effect, merged by
//! meaning, and a downward stream per outlet.
//!
//! - Up: `POST /api/v1/sync/up` takes one compressed batch (see `patty_sync::wire`) from the
//!   outlet's edge, authenticated by its API key. The batch and the outlet's cursor are applied in
//!   one transaction: the cursor row is locked first, [`patty_sync::Cursor::admit`] picks the
//!   entries not applied yet, and the cursor moves with them, so a retried or duplicated batch has
//!   no second effect and a batch that would leave a gap is refused.
//! - Merge: stock movements are rows keyed by their id and summed per outlet and ingredient (the sum
//!   is the same in any order of arrival); an order's status only moves forward
//!   ([`patty_sync::merge::merge_status`]); tenders, audit entries and staff are keyed by id; a
//!   sold-out mark is the outlet's own (it wins there until cleared there; the cloud keeps the
//!   last one it heard, by the outlet's sequence). Nothing here is last-writer-wins by clock.
//! - Conflicts: a cancel racing the kitchen, two different final statuses, an item sold after HQ
//!   withdrew it, stock below zero (found here), and a price changed under an open order (found at
//!   the outlet) become records with both sides, listed here and at the outlet, settled by a person.
//! - Down: `GET /api/v1/sync/down?after=P` streams, in event-log order, what the outlet must hear
//!   of (catalog versions, its online orders, customer cancels, stock thresholds, conflicts), each
//!   frame with its position so the edge resumes after the last one it applied. Staff HQ sets
//!   travel down too (name, role, active; never a PIN).

use crate::catalog::{self, Published};
use crate::events::{NewEvent, Topic};
use crate::infra::access::{Principal, Role};
use crate::infra::db::{Backend, now_ms};
use crate::infra::error::{Error, Json, Path, Query, Result};
use crate::infra::state::Shared;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use patty_protocol::change::{ChangeEntry, ChangeV1, DownFrame, DownV1};
use patty_protocol::conflict::{Conflict, ConflictKind, Resolution};
use patty_protocol::ids::{ConflictId, IngredientId, OrderId, OutletId};
use patty_protocol::inventory::StockMovement;
use patty_protocol::order::{Order, OrderStatus};
use patty_sync::merge::{self, StatusMerge};
use patty_sync::{Ack, Admit, Cursor};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest upload once inflated.
pub const MAX_INFLATED: usize = 8 << 20;
/// Most entries in one upload.
pub const MAX_ENTRIES: usize = 10_000;
/// Most bind parameters in one statement (SQLite's limit is 32,766; PostgreSQL's 65,535).
const MAX_PARAMS: usize = 30_000;

/// A value for a multi-row statement.
enum Val {
    T(String),
    I(i64),
    N,
}

/// Runs `head VALUES (…), (…) tail` over `rows` (each `cols` values), in as few statements as the
/// parameter limit allows, returning what `tail`'s RETURNING gives.
async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    head: &str,
    tail: &str,
    cols: usize,
    rows: Vec<Val>,
) -> Result<Vec<AnyRow>> {
    let mut out = Vec::new();
    let per = (MAX_PARAMS / cols).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Val> = rows.by_ref().take(per * cols).collect();
        let n = chunk.len() / cols;
        let mut sql = String::with_capacity(head.len() + tail.len() + n * cols * 6);
        sql.push_str(head);
        sql.push_str(" VALUES ");
        for r in 0..n {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..cols {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&(r * cols + c + 1).to_string());
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        let mut q = sqlx::query(&sql);
        for v in chunk {
            q = match v {
                Val::T(s) => q.bind(s),
                Val::I(i) => q.bind(i),
                Val::N => q.bind(None::<String>),
            };
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// `$1, $2, …` for an IN list of `n` values.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn json_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// What applying one batch wrote, for the caller's metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    /// Entries applied (not seen before).
    pub entries: usize,
    /// Conflicts raised.
    pub conflicts: usize,
}

/// Applies `entries` (contiguous, from `outlet`'s log) and the cursor in one transaction.
pub async fn apply(state: &SyncState, outlet: OutletId, entries: &[ChangeEntry]) -> Result<(Ack, Applied)> {
    // Read before the transaction: on SQLite the pool has one connection, held by the transaction.
    let latest = catalog::latest(&state.db, &state.catalog).await?;
    let mut tx = state.db.begin().await?;
    let origin = outlet.to_string();
    let now = now_ms();
    // The upsert locks the cursor row until commit: two uploads from one outlet (a retry racing
    // its original on another replica) apply one after the other.
    let applied_through: i64 = sqlx::query(
        "INSERT INTO sync_cursors (origin, applied_through, last_hlc, seen_ms) VALUES ($1, 0, 0, $2)
         ON CONFLICT (origin) DO UPDATE SET seen_ms = excluded.seen_ms RETURNING applied_through",
    )
    .bind(&origin)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?
    .try_get("applied_through")?;
    let cursor = Cursor { applied_through: applied_through as u64 };
    let (from_index, through) = match cursor.admit(entries) {
        Admit::Gap => {
            tx.commit().await?;
            return Ok((Ack::Gap { applied_through: cursor.applied_through }, Applied::default()));
        }
        Admit::Apply { from_index, through } => (from_index, through),
    };
    let fresh = &entries[from_index..];
    let mut applied = Applied { entries: fresh.len(), conflicts: 0 };
    if !fresh.is_empty() {
        let mut batch = Apply::new(outlet, state.db.backend, state.vault.clone());
        batch.run(&mut tx, fresh, latest.as_deref()).await?;
        applied.conflicts = batch.conflicts.len();
        batch.finish(&mut tx).await?;
        let last_hlc = fresh.last().map_or(0, |e| e.hlc.0) as i64;
        sqlx::query("UPDATE sync_cursors SET applied_through = $2, last_hlc = $3 WHERE origin = $1")
            .bind(&origin)
            .bind(through as i64)
            .bind(last_hlc)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((Ack::AppliedThrough(through), applied))
}

/// One batch being applied: what it gathered, written table by table in multi-row statements.
struct Apply {
    outlet: OutletId,
    backend: Backend,
    vault: std::sync::Arc<crate::infra::vault::Vault>,
    events: Vec<NewEvent>,
    conflicts: Vec<Conflict>,
}

impl Apply {
    fn new(outlet: OutletId, backend: Backend, vault: std::sync::Arc<crate::infra::vault::Vault>) -> Self {
        Self { outlet, backend, vault, events: Vec::new(), conflicts: Vec::new() }
    }

    fn raise(&mut self, kind: ConflictKind, subject: String, outlet_side: String, cloud_side: String) {
        self.conflicts.push(Conflict {
            id: ConflictId::new(),
            outlet_id: self.outlet,
            kind,
            subject,
            outlet_side,
            cloud_side,
            raised_ms: now_ms(),
            resolution: None,
        });
    }

    async fn run(
        &mut self,
        tx: &mut sqlx::AnyConnection,
        fresh: &[ChangeEntry],
        latest: Option<&Published>,
    ) -> Result<()> {
        let outlet = self.outlet.to_string();
        let mut order_changes: BTreeMap<OrderId, Vec<&ChangeV1>> = BTreeMap::new();
        let mut movements: Vec<&StockMovement> = Vec::new();
        let mut tenders = Vec::new();
        let mut ingredients = Vec::new();
        let mut items = BTreeMap::new();
        let mut staff = BTreeMap::new();
        let mut audits = Vec::new();
        let mut raised = Vec::new();
        let mut resolved = Vec::new();
        for e in fresh {
            match &e.change {
                ChangeV1::OrderUpserted { order } => order_changes.entry(order.id).or_default().push(&e.change),
                ChangeV1::OrderStatus { order_id, .. } => order_changes.entry(*order_id).or_default().push(&e.change),
                ChangeV1::TenderAdded { order_id, tender } => {
                    tenders.push((*order_id, tender));
                    order_changes.entry(*order_id).or_default().push(&e.change);
                }
                ChangeV1::StockMoved { movement } => movements.push(movement),
                ChangeV1::IngredientUpserted { ingredient } => ingredients.push(ingredient),
                ChangeV1::ItemSoldOut { item_id, sold_out } => {
                    items.insert(*item_id, *sold_out);
                }
                ChangeV1::StaffUpserted { staff: s } => {
                    staff.insert(s.id, s);
                }
                ChangeV1::Audited { by, action, target, detail } => audits.push((e, by, action, target, detail)),
                ChangeV1::ConflictRaised { conflict } => raised.push(conflict),
                ChangeV1::ConflictResolved { id, resolution } => resolved.push((*id, resolution)),
            }
        }
        if !order_changes.is_empty() {
            self.orders(tx, order_changes, latest).await?;
        }
        if !tenders.is_empty() {
            let mut v = Vec::with_capacity(tenders.len() * 6);
            for (order_id, t) in tenders {
                v.extend([
                    Val::T(t.id.to_string()),
                    Val::T(order_id.to_string()),
                    Val::T(outlet.clone()),
                    Val::T(json_name(&t.kind)),
                    Val::I(t.amount),
                    Val::I(t.at_ms),
                ]);
            }
            insert_rows(
                tx,
                "INSERT INTO tenders (id, order_id, outlet_id, kind, amount, at_ms)",
                "ON CONFLICT (id) DO NOTHING",
                6,
                v,
            )
            .await?;
        }
        if !ingredients.is_empty() {
            let mut v = Vec::new();
            for i in ingredients {
                v.extend([
                    Val::T(outlet.clone()),
                    Val::T(i.id.to_string()),
                    Val::T(i.name.clone()),
                    Val::T(json_name(&i.unit)),
                    Val::I(0),
                    Val::I(i.reorder_level),
                ]);
            }
            insert_rows(
                tx,
                "INSERT INTO stock_levels (outlet_id, ingredient_id, name, unit, on_hand, reorder_level)",
                "ON CONFLICT (outlet_id, ingredient_id) DO UPDATE SET name = excluded.name, unit = excluded.unit, reorder_level = excluded.reorder_level",
                6,
                v,
            )
            .await?;
        }
        if !movements.is_empty() {
            self.stock(tx, &movements).await?;
        }
        if !items.is_empty() {
            let now = now_ms();
            let mut v = Vec::new();
            for (item, sold_out) in items {
                v.extend([Val::T(outlet.clone()), Val::T(item.to_string()), Val::I(sold_out as i64), Val::I(now)]);
            }
            insert_rows(
                tx,
                "INSERT INTO outlet_items (outlet_id, item_id, sold_out, updated_ms)",
                "ON CONFLICT (outlet_id, item_id) DO UPDATE SET sold_out = excluded.sold_out, updated_ms = excluded.updated_ms",
                4,
                v,
            )
            .await?;
        }
        if !staff.is_empty() {
            let mut v = Vec::new();
            for (id, s) in staff {
                v.extend([Val::T(id.to_string()), Val::T(outlet.clone()), Val::T(serde_json::to_string(s)?)]);
            }
            insert_rows(
                tx,
                "INSERT INTO outlet_staff (id, outlet_id, doc)",
                "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                3,
                v,
            )
            .await?;
        }
        if !audits.is_empty() {
            let mut v = Vec::new();
            for (e, by, action, target, detail) in audits {
                v.extend([
                    Val::T(outlet.clone()),
                    Val::I(e.seq as i64),
                    Val::I(e.hlc.physical_ms() as i64),
                    Val::T(by.to_string()),
                    Val::T(action.clone()),
                    Val::T(target.clone()),
                    Val::T(detail.clone()),
                ]);
            }
            insert_rows(
                tx,
                "INSERT INTO outlet_audit (outlet_id, seq, at_ms, staff_id, action, target, detail)",
                "ON CONFLICT (outlet_id, seq) DO NOTHING",
                7,
                v,
            )
            .await?;
        }
        for c in raised {
            // Found at the outlet: stored and published, not sent back down.
            if c.outlet_id == self.outlet && store_conflict(tx, c).await? {
                self.events.push(conflict_event("conflict.raised", c)?);
            }
        }
        for (id, r) in resolved {
            if let Some(c) = settle(tx, id, Some(self.outlet), r).await? {
                self.events.push(conflict_event("conflict.resolved", &c)?);
            }
        }
        Ok(())
    }

    /// Folds each order's changes onto what the cloud holds, status forward only.
    async fn orders(
        &mut self,
        tx: &mut sqlx::AnyConnection,
        changes: BTreeMap<OrderId, Vec<&ChangeV1>>,
        latest: Option<&Published>,
    ) -> Result<()> {
        let ids: Vec<String> = changes.keys().map(|id| id.to_string()).collect();
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let mut held: HashMap<OrderId, Order> = HashMap::new();
        for chunk in ids.chunks(MAX_PARAMS) {
            let sql = format!("SELECT doc FROM orders WHERE id IN ({}){lock}", placeholders(chunk.len()));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for row in q.fetch_all(&mut *tx).await? {
                let o: Order = serde_json::from_str(&row.try_get::<String, _>("doc")?)?;
                held.insert(o.id, o);
            }
        }
        let menu = latest.map(|p| (p.published_ms, p.catalog.menu_for(self.outlet)));
        let mut rows = Vec::new();
        let mut held_erased = std::collections::HashSet::new();
        for (id, list) in changes {
            let before = held.remove(&id);
            if before.as_ref().is_some_and(Order::is_erased) {
                held_erased.insert(id);
            }
            let before_status = before.as_ref().map(|o| o.status);
            let mut cur = before;
            for change in list {
                match change {
                    ChangeV1::OrderUpserted { order } => {
                        let mut theirs = (**order).clone();
                        if let Some(c) = &cur {
                            // The outlet's lines and tenders, the merged status.
                            theirs.status = self.merge(id, c.status, theirs.status, c);
                            if theirs.status == c.status {
                                theirs.closed_reason = c.closed_reason.clone();
                            }
                            theirs.customer_id = theirs.customer_id.or(c.customer_id.clone());
                        }
                        cur = Some(theirs);
                    }
                    ChangeV1::OrderStatus { status, reason, by, .. } => {
                        let Some(c) = cur.as_mut() else {
                            tracing::warn!(order = %id, outlet = %self.outlet, "a status for an order the cloud never heard of");
                            continue;
                        };
                        let snapshot = c.clone();
                        let to = self.merge(id, c.status, *status, &snapshot);
                        if to != c.status {
                            c.status = to;
                            if to.is_final() && *status == to {
                                c.closed_reason = reason.clone().or(c.closed_reason.take());
                                c.closed_by = by.or(c.closed_by);
                            }
                        }
                    }
                    ChangeV1::TenderAdded { tender, .. } => {
                        if let Some(c) = cur.as_mut()
                            && !c.tenders.iter().any(|t| t.id == tender.id)
                        {
                            c.paid += tender.amount;
                            c.tenders.push(tender.clone());
                        }
                    }
                    _ => {}
                }
            }
            let Some(mut order) = cur else { continue };
            // The customer was erased here: the outlet's copy (or an upload older than the
            // erasure) brings nothing of them back.
            if held_erased.contains(&id) {
                order.erase_personal();
            }
            if before_status.is_none()
                && let Some((published_ms, menu)) = &menu
                && order.created_ms >= *published_ms
            {
                for line in order.lines.iter().filter(|l| menu.item(l.item_id).is_none()) {
                    self.raise(
                        ConflictKind::ItemWithdrawn,
                        order.id.to_string(),
                        format!("order {} sold {} × {} ({})", order.number, line.quantity, line.name, line.item_id),
                        format!("the published catalog does not offer {} at this outlet", line.name),
                    );
                }
            }
            let key = order.id.to_string();
            let event = match before_status {
                None => Some(("order.recorded".to_owned(), serde_json::to_value(&order)?)),
                Some(from) if from != order.status => Some((
                    format!("order.{}", order.status.as_str()),
                    serde_json::json!({ "order_id": order.id, "from": from, "to": order.status, "order": order }),
                )),
                _ => None,
            };
            if let Some((kind, data)) = event {
                let customer = order.customer_id.as_deref();
                let e = NewEvent::about(tx, &self.vault, customer, Topic::Order, &key, &kind, data).await?;
                self.events.push(e);
            }
            rows.extend([
                Val::T(key.clone()),
                Val::T(order.customer_id.clone().unwrap_or_default()),
                Val::T(order.outlet_id.to_string()),
                Val::T(order.status.as_str().to_owned()),
                Val::T(key),
                Val::T(String::new()),
                Val::I(order.created_ms),
                Val::I(order.updated_ms),
                Val::T(serde_json::to_string(&order)?),
            ]);
        }
        insert_rows(
            tx,
            "INSERT INTO orders (id, customer_id, outlet_id, status, idempotency_key, request_hash, created_ms, updated_ms, doc)",
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_ms = excluded.updated_ms, doc = excluded.doc",
            9,
            rows,
        )
        .await?;
        Ok(())
    }

    /// The merged status of `id` when the outlet reports `theirs` and the cloud holds `ours`.
    fn merge(&mut self, id: OrderId, ours: OrderStatus, theirs: OrderStatus, held: &Order) -> OrderStatus {
        match merge::merge_status(id, ours, theirs, held.fulfilment) {
            StatusMerge::Keep => ours,
            StatusMerge::Take(s) => s,
            StatusMerge::TakeWithConflict(s, c) => {
                self.raise_merge(c, held);
                s
            }
            StatusMerge::KeepWithConflict(c) => {
                self.raise_merge(c, held);
                ours
            }
        }
    }

    fn raise_merge(&mut self, c: merge::Conflict, held: &Order) {
        match c {
            merge::Conflict::CancelRacedKitchen { order_id, outlet_status } => self.raise(
                ConflictKind::CancelRacedKitchen,
                order_id.to_string(),
                format!("the outlet moved order {} to {}", held.number, outlet_status.as_str()),
                format!(
                    "the customer cancelled it online ({})",
                    held.closed_reason.as_deref().unwrap_or("no reason given")
                ),
            ),
            merge::Conflict::FinalStatusesDiffer { order_id, ours, theirs } => self.raise(
                ConflictKind::FinalStatusesDiffer,
                order_id.to_string(),
                format!("the outlet closed order {} as {}", held.number, theirs.as_str()),
                format!("the cloud closed it as {}", ours.as_str()),
            ),
            merge::Conflict::StockBelowZero { ingredient_id, on_hand } => self.raise(
                ConflictKind::StockBelowZero,
                ingredient_id.to_string(),
                format!("the outlet's movements bring it to {on_hand}"),
                "stock cannot be below zero: a count or a delivery is missing".into(),
            ),
        }
    }

    /// Movements counted once each; the outlet's level moves by the sum of the new ones.
    async fn stock(&mut self, tx: &mut sqlx::AnyConnection, movements: &[&StockMovement]) -> Result<()> {
        let outlet = self.outlet.to_string();
        let mut v = Vec::with_capacity(movements.len() * 7);
        for m in movements {
            v.extend([
                Val::T(m.id.to_string()),
                Val::T(outlet.clone()),
                Val::T(m.ingredient_id.to_string()),
                Val::T(m.kind.as_str().to_owned()),
                Val::I(m.delta),
                m.order_id.map_or(Val::N, |o| Val::T(o.to_string())),
                Val::I(m.at_ms),
            ]);
        }
        let new = insert_rows(
            tx,
            "INSERT INTO stock_movements (id, outlet_id, ingredient_id, kind, delta, order_id, at_ms)",
            "ON CONFLICT (id) DO NOTHING RETURNING ingredient_id, delta",
            7,
            v,
        )
        .await?;
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for r in new {
            *sums.entry(r.try_get("ingredient_id")?).or_default() += r.try_get::<i64, _>("delta")?;
        }
        let mut v = Vec::with_capacity(sums.len() * 6);
        for (ingredient, sum) in &sums {
            v.extend([
                Val::T(outlet.clone()),
                Val::T(ingredient.clone()),
                Val::T(String::new()),
                Val::T(String::new()),
                Val::I(*sum),
                Val::I(0),
            ]);
        }
        let levels = insert_rows(
            tx,
            "INSERT INTO stock_levels (outlet_id, ingredient_id, name, unit, on_hand, reorder_level)",
            "ON CONFLICT (outlet_id, ingredient_id) DO UPDATE SET on_hand = stock_levels.on_hand + excluded.on_hand
             RETURNING ingredient_id, on_hand",
            6,
            v,
        )
        .await?;
        for r in levels {
            let ingredient: String = r.try_get("ingredient_id")?;
            let on_hand: i64 = r.try_get("on_hand")?;
            let sum = sums.get(&ingredient).copied().unwrap_or(0);
            // Raised when the level crosses below zero, not again while it stays there.
            if on_hand < 0 && on_hand - sum >= 0 {
                self.raise(
                    ConflictKind::StockBelowZero,
                    ingredient,
                    format!("the outlet's movements bring it to {on_hand}"),
                    "stock cannot be below zero: a count or a delivery is missing".into(),
                );
            }
        }
        Ok(())
    }

    /// Writes the conflicts found here (each also sent down to the outlet) and every event.
    async fn finish(mut self, tx: &mut sqlx::AnyConnection) -> Result<()> {
        for c in std::mem::take(&mut self.conflicts) {
            store_conflict(tx, &c).await?;
            self.events.push(conflict_event("conflict.raised", &c)?.down_to(c.outlet_id));
        }
        if self.events.is_empty() {
            return Ok(());
        }
        crate::events::record_all(tx, self.events).await?;
        Ok(())
    }
}

fn conflict_event(kind: &str, c: &Conflict) -> Result<NewEvent> {
    Ok(NewEvent::new(Topic::Sync, &c.id.to_string(), kind, &serde_json::to_value(c)?))
}

/// Stores a conflict; false if it was already there.
async fn store_conflict(tx: &mut sqlx::AnyConnection, c: &Conflict) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO conflicts (id, outlet_id, kind, raised_ms, resolved_ms, doc) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(c.id.to_string())
    .bind(c.outlet_id.to_string())
    .bind(c.kind.as_str())
    .bind(c.raised_ms)
    .bind(c.resolution.as_ref().map(|r| r.at_ms))
    .bind(serde_json::to_string(c)?)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Settles an open conflict (of `outlet`, when given); `None` when there is no such open conflict.
async fn settle(
    tx: &mut sqlx::AnyConnection,
    id: ConflictId,
    outlet: Option<OutletId>,
    r: &Resolution,
) -> Result<Option<Conflict>> {
    let Some(row) = sqlx::query("SELECT doc FROM conflicts WHERE id = $1 AND resolved_ms IS NULL")
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let mut c: Conflict = serde_json::from_str(&row.try_get::<String, _>("doc")?)?;
    if outlet.is_some_and(|o| o != c.outlet_id) {
        return Ok(None);
    }
    c.resolution = Some(r.clone());
    sqlx::query("UPDATE conflicts SET resolved_ms = $2, doc = $3 WHERE id = $1 AND resolved_ms IS NULL")
        .bind(id.to_string())
        .bind(r.at_ms)
        .bind(serde_json::to_string(&c)?)
        .execute(&mut *tx)
        .await?;
    Ok(Some(c))
}

fn edge_outlet(who: &Principal) -> Result<OutletId> {
    match (who.role, who.outlet_id) {
        (Role::Edge, Some(o)) => Ok(o),
        _ => Err(Error::Forbidden("only an outlet's edge node (its API key) syncs".into())),
    }
}

/// The cloud's answer to an upload.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadAck {
    /// Every entry up to and including this sequence is applied.
    pub applied_through: u64,
    /// The batch started past the next expected entry: resend from `applied_through + 1`.
    pub gap: bool,
}

/// Upload a batch of the outlet's change log (its edge node's API key). The body is
/// `application/octet-stream`: a tag byte (0 plain, 1 zstd) and a postcard batch.
#[utoipa::path(post, path = "/api/v1/sync/up", tag = "sync", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = UploadAck), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn up(State(state): State<SyncState>, who: Principal, body: Bytes) -> Result<Json<UploadAck>> {
    let outlet = edge_outlet(&who)?;
    let entries = patty_sync::wire::decode_batch(&body, MAX_INFLATED).map_err(|e| Error::Validation(e.to_string()))?;
    if entries.len() > MAX_ENTRIES {
        return Err(Error::Validation(format!("at most {MAX_ENTRIES} entries per batch")));
    }
    if entries.first().is_some_and(|e| e.origin != outlet) {
        return Err(Error::Forbidden("this batch is another outlet's log".into()));
    }
    if entries.first().is_some_and(|e| e.seq == 0) {
        return Err(Error::Validation("sequence numbers start at 1".into()));
    }
    let (ack, applied) = apply(&state, outlet, &entries).await?;
    state.figures.applied.fetch_add(applied.entries as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(Json(match ack {
        Ack::AppliedThrough(n) => UploadAck { applied_through: n, gap: false },
        Ack::Gap { applied_through } => UploadAck { applied_through, gap: true },
    }))
}

/// Where the downward stream starts.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownQuery {
    /// The last position the outlet applied (default 0).
    #[serde(default)]
    pub after: i64,
}

/// How often an idle downward stream sends a keep-alive (a zero-length frame).
pub const KEEPALIVE: Duration = Duration::from_secs(10);

/// The outlet's downward stream (its edge node's API key): length-prefixed postcard frames, each
/// with its position, from `after` on, live; a zero-length frame is a keep-alive.
#[utoipa::path(get, path = "/api/v1/sync/down", tag = "sync", security(("bearer" = [])), params(DownQuery),
    responses((status = 200, description = "a stream of frames", content_type = "application/octet-stream"), (status = 403, body = patty_protocol::ErrorBody)))]
async fn down(State(state): State<SyncState>, who: Principal, Query(q): Query<DownQuery>) -> Result<Response> {
    let outlet = edge_outlet(&who)?;
    if q.after < 0 {
        return Err(Error::Validation("after is 0 or more".into()));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(16);
    let mut relayed = state.relayed.subscribe();
    let mut closing = state.closing.subscribe();
    state.figures.connect(outlet);
    tokio::spawn(async move {
        let mut cursor = q.after;
        loop {
            match frames_after(&state, outlet, cursor).await {
                Ok((frames, top)) => {
                    cursor = top;
                    if !frames.is_empty() && tx.send(Ok(Bytes::from(frames))).await.is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, %outlet, "downward stream read failed"),
            }
            let idle = tokio::select! {
                _ = relayed.changed() => false,
                _ = tokio::time::sleep(KEEPALIVE) => true,
                _ = closing.wait_for(|c| *c) => break,
            };
            if idle && tx.send(Ok(Bytes::from_static(&[0, 0, 0, 0]))).await.is_err() {
                break;
            }
        }
        state.figures.disconnect(outlet);
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

/// The encoded frames for `outlet` after `after`, and the position read up to.
async fn frames_after(state: &SyncState, outlet: OutletId, after: i64) -> Result<(Vec<u8>, i64)> {
    let rows = sqlx::query(
        "SELECT position, kind, payload FROM events WHERE position > $1 AND (down = $2 OR down = '*')
         ORDER BY position LIMIT 200",
    )
    .bind(after)
    .bind(outlet.to_string())
    .fetch_all(&state.db.pool)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        let payload: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("payload")?)?;
        events.push((r.try_get::<i64, _>("position")?, r.try_get::<String, _>("kind")?, payload));
    }
    // The outlet reads its customers' orders whole while their keys exist; an erased customer's
    // order arrives blank.
    state.vault.open(&state.db.pool, events.iter_mut().map(|e| &mut e.2).collect()).await?;
    let mut out = Vec::new();
    let mut top = after;
    for (position, kind, payload) in events {
        top = position;
        if let Some(msg) = down_message(state, outlet, &kind, payload["data"].clone()).await? {
            out.extend(patty_sync::wire::encode_frame(&DownFrame { position: position as u64, msg }));
        }
    }
    Ok((out, top))
}

/// What an event means for one outlet's edge.
async fn down_message(
    state: &SyncState,
    outlet: OutletId,
    kind: &str,
    data: serde_json::Value,
) -> Result<Option<DownV1>> {
    Ok(match kind {
        "order.placed" => Some(DownV1::OnlineOrder { order: Box::new(serde_json::from_value(data)?) }),
        "order.cancelled" => {
            let order: Order = serde_json::from_value(data["order"].clone())?;
            Some(DownV1::OrderCancelled { order_id: order.id, reason: order.closed_reason })
        }
        "catalog.published" => {
            let version = data["version"].as_i64().unwrap_or(0);
            let row = sqlx::query("SELECT doc FROM catalog_versions WHERE version = $1")
                .bind(version)
                .fetch_one(&state.db.pool)
                .await?;
            let catalog: patty_protocol::catalog::Catalog = serde_json::from_str(&row.try_get::<String, _>("doc")?)?;
            Some(DownV1::Catalog { version, menu_json: serde_json::to_string(&catalog.menu_for(outlet))? })
        }
        "stock.threshold_set" => Some(DownV1::Threshold {
            ingredient_id: serde_json::from_value(data["ingredient_id"].clone())?,
            reorder_level: data["reorder_level"].as_i64().unwrap_or(0),
        }),
        "staff.upserted" => Some(DownV1::Staff { staff: serde_json::from_value(data)? }),
        "conflict.raised" => Some(DownV1::ConflictRaised { conflict: serde_json::from_value(data)? }),
        "customer.orders_erased" => {
            Some(DownV1::OrdersErased { order_ids: serde_json::from_value(data["order_ids"].clone())? })
        }
        "conflict.resolved" => {
            let c: Conflict = serde_json::from_value(data)?;
            c.resolution.map(|resolution| DownV1::ConflictResolved { id: c.id, resolution })
        }
        // Every other status move the cloud tags for the outlet (out for delivery, completed).
        k => match k.strip_prefix("order.").and_then(patty_protocol::order::OrderStatus::parse) {
            Some(status) if !matches!(status, patty_protocol::order::OrderStatus::Placed) => {
                Some(DownV1::OrderMoved { order_id: serde_json::from_value(data["order_id"].clone())?, status })
            }
            _ => None,
        },
    })
}

/// What sync's handlers use.
#[derive(Clone)]
pub struct SyncState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The latest published catalog (sent down to outlets).
    pub catalog: crate::catalog::Latest,
    /// This replica's figures and open streams.
    pub figures: std::sync::Arc<SyncFigures>,
}
crate::shared_state!(SyncState);

/// The sync figures and link state this replica keeps in memory.
#[derive(Default)]
pub struct SyncFigures {
    /// Entries applied since start.
    pub applied: std::sync::atomic::AtomicU64,
    streams: std::sync::Mutex<HashMap<OutletId, (usize, i64)>>,
}

impl SyncFigures {
    fn connect(&self, outlet: OutletId) {
        if let Ok(mut m) = self.streams.lock() {
            let e = m.entry(outlet).or_insert((0, now_ms()));
            if e.0 == 0 {
                e.1 = now_ms();
            }
            e.0 += 1;
        }
    }

    fn disconnect(&self, outlet: OutletId) {
        if let Ok(mut m) = self.streams.lock()
            && let Some(e) = m.get_mut(&outlet)
        {
            e.0 = e.0.saturating_sub(1);
            e.1 = now_ms();
        }
    }

    /// Whether the outlet's downward stream is open on this replica, and since when it is (or
    /// was last) connected or disconnected.
    pub fn link(&self, outlet: OutletId) -> (bool, Option<i64>) {
        self.streams.lock().ok().and_then(|m| m.get(&outlet).map(|e| (e.0 > 0, Some(e.1)))).unwrap_or((false, None))
    }
}

/// One outlet's sync state, for HQ.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutletSync {
    /// The outlet.
    #[schema(value_type = String)]
    pub outlet_id: OutletId,
    /// The highest change-log sequence applied.
    pub applied_through: u64,
    /// The outlet's clock at that entry, Unix ms.
    pub last_change_ms: i64,
    /// Last upload or connection, Unix ms.
    pub seen_ms: i64,
    /// "online" while its downward stream is open on this replica, else "offline".
    pub link: String,
    /// Since when the link is in that state, Unix ms (absent when this replica never saw it).
    pub since_ms: Option<i64>,
    /// Conflicts not settled yet.
    pub open_conflicts: i64,
}

/// Every outlet's sync state (HQ; an outlet's manager sees their own).
#[utoipa::path(get, path = "/api/v1/sync/outlets", tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = Vec<OutletSync>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn outlets(State(state): State<SyncState>, who: Principal) -> Result<Json<Vec<OutletSync>>> {
    who.require(&[Role::OutletManager])?;
    let rows = sqlx::query(
        "SELECT c.origin, c.applied_through, c.last_hlc, c.seen_ms,
                (SELECT COUNT(*) FROM conflicts k WHERE k.outlet_id = c.origin AND k.resolved_ms IS NULL) AS open
         FROM sync_cursors c ORDER BY c.origin",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let outlet_id: OutletId =
            r.try_get::<String, _>("origin")?.parse().map_err(|_| Error::Internal("origin id".into()))?;
        if who.role != Role::HqAdmin && who.outlet_id != Some(outlet_id) {
            continue;
        }
        let (online, since_ms) = state.figures.link(outlet_id);
        out.push(OutletSync {
            outlet_id,
            applied_through: r.try_get::<i64, _>("applied_through")? as u64,
            last_change_ms: r.try_get::<i64, _>("last_hlc")? >> 16,
            seen_ms: r.try_get("seen_ms")?,
            link: if online { "online" } else { "offline" }.into(),
            since_ms,
            open_conflicts: r.try_get("open")?,
        });
    }
    Ok(Json(out))
}

/// Which conflicts.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConflictsQuery {
    /// Only this outlet's.
    #[serde(default)]
    pub outlet: Option<OutletId>,
    /// Only open (true) or settled (false) ones; both when absent.
    #[serde(default)]
    pub open: Option<bool>,
}

/// Conflicts, newest first (HQ; an outlet's manager sees their own outlet's).
#[utoipa::path(get, path = "/api/v1/conflicts", tag = "sync", security(("bearer" = [])), params(ConflictsQuery),
    responses((status = 200, body = Vec<Conflict>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn conflicts(
    State(state): State<SyncState>,
    who: Principal,
    Query(q): Query<ConflictsQuery>,
) -> Result<Json<Vec<Conflict>>> {
    who.require(&[Role::OutletManager])?;
    let outlet = match (who.role, q.outlet) {
        (Role::HqAdmin, o) => o,
        (_, Some(o)) if who.outlet_id == Some(o) => Some(o),
        (_, None) => who.outlet_id,
        _ => return Err(Error::Forbidden("this belongs to another outlet".into())),
    };
    let rows = sqlx::query(
        "SELECT doc FROM conflicts WHERE ($1 = '' OR outlet_id = $1)
           AND ($2 = 0 OR ($2 = 1 AND resolved_ms IS NULL) OR ($2 = 2 AND resolved_ms IS NOT NULL))
         ORDER BY raised_ms DESC LIMIT 500",
    )
    .bind(outlet.map(|o| o.to_string()).unwrap_or_default())
    .bind(match q.open {
        None => 0i64,
        Some(true) => 1,
        Some(false) => 2,
    })
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect::<Result<_>>()?))
}

/// How a conflict is settled.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What was decided (refunded, written off, price honoured…).
    #[schema(min_length = 1, max_length = 500, pattern = "[^\\s\\u0085]")]
    pub note: String,
}

/// Settle a conflict (HQ, or the outlet's manager); the outlet hears of it.
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/resolve", tag = "sync", security(("bearer" = [])), request_body = Resolve,
    params(("id" = String, Path, description = "conflict id")),
    responses((status = 200, body = Conflict), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn resolve(
    State(state): State<SyncState>,
    who: Principal,
    Path(id): Path<ConflictId>,
    Json(req): Json<Resolve>,
) -> Result<Json<Conflict>> {
    who.require(&[Role::OutletManager])?;
    let note = req.note.trim();
    if patty_protocol::blank(note) || note.chars().count() > 500 {
        return Err(Error::Validation("a note of 1 to 500 characters says what was decided".into()));
    }
    let outlet = if who.role == Role::HqAdmin { None } else { who.outlet_id };
    let r = Resolution { at_ms: now_ms(), by: format!("hq:{}", who.subject), note: note.to_owned() };
    let mut tx = state.db.begin().await?;
    let c = settle(&mut tx, id, outlet, &r).await?.ok_or_else(|| Error::NotFound(format!("no open conflict {id}")))?;
    conflict_event("conflict.resolved", &c)?.down_to(c.outlet_id).insert(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// One ingredient's stock at an outlet, as the cloud sums it.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutletStock {
    /// The ingredient.
    pub ingredient_id: String,
    /// Its name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// The sum of every movement heard of.
    pub on_hand: i64,
    /// The reorder level.
    pub reorder_level: i64,
}

/// An outlet's stock, as the sum of the movements it uploaded (HQ, its manager).
#[utoipa::path(get, path = "/api/v1/outlets/{outlet}/stock", tag = "sync", security(("bearer" = [])),
    params(("outlet" = String, Path, description = "outlet id")),
    responses((status = 200, body = Vec<OutletStock>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn stock(
    State(state): State<SyncState>,
    who: Principal,
    Path(outlet): Path<OutletId>,
) -> Result<Json<Vec<OutletStock>>> {
    who.require_outlet(&[Role::OutletManager], outlet)?;
    let rows = sqlx::query(
        "SELECT ingredient_id, name, unit, on_hand, reorder_level FROM stock_levels WHERE outlet_id = $1 ORDER BY name, ingredient_id",
    )
    .bind(outlet.to_string())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(
        rows.iter()
            .map(|r| {
                Ok(OutletStock {
                    ingredient_id: r.try_get("ingredient_id")?,
                    name: r.try_get("name")?,
                    unit: r.try_get("unit")?,
                    on_hand: r.try_get("on_hand")?,
                    reorder_level: r.try_get("reorder_level")?,
                })
            })
            .collect::<Result<_>>()?,
    ))
}

/// A reorder level set by HQ.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// The level at or below which the outlet raises a low-stock alert.
    pub reorder_level: i64,
}

/// Set an ingredient's reorder level at an outlet (HQ); the outlet applies it when it hears of it.
#[utoipa::path(put, path = "/api/v1/outlets/{outlet}/stock/{ingredient}/reorder-level", tag = "sync", security(("bearer" = [])), request_body = Threshold,
    params(("outlet" = String, Path, description = "outlet id"), ("ingredient" = String, Path, description = "ingredient id")),
    responses((status = 204), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn set_threshold(
    State(state): State<SyncState>,
    who: Principal,
    Path((outlet, ingredient)): Path<(OutletId, IngredientId)>,
    Json(req): Json<Threshold>,
) -> Result<StatusCode> {
    who.require(&[])?;
    if !(0..=1_000_000_000).contains(&req.reorder_level) {
        return Err(Error::Validation("reorder_level is between 0 and 1,000,000,000".into()));
    }
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO stock_levels (outlet_id, ingredient_id, name, unit, on_hand, reorder_level) VALUES ($1, $2, '', '', 0, $3)
         ON CONFLICT (outlet_id, ingredient_id) DO UPDATE SET reorder_level = excluded.reorder_level",
    )
    .bind(outlet.to_string())
    .bind(ingredient.to_string())
    .bind(req.reorder_level)
    .execute(&mut *tx)
    .await?;
    NewEvent::new(
        Topic::Sync,
        &ingredient.to_string(),
        "stock.threshold_set",
        &serde_json::json!({ "outlet_id": outlet, "ingredient_id": ingredient, "reorder_level": req.reorder_level }),
    )
    .down_to(outlet)
    .insert(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff member of an outlet as HQ sets it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffIn {
    /// Display name (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: String,
    /// What they may do at the outlet.
    pub role: patty_protocol::staff::Role,
    /// Whether they may sign in (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Add or change a staff member of an outlet (HQ, that outlet's manager); the outlet applies it
/// when it hears of it. PINs are not set here: a manager sets a new member's PIN at the outlet.
#[utoipa::path(put, path = "/api/v1/outlets/{outlet}/staff/{id}", tag = "sync", security(("bearer" = [])), request_body = StaffIn,
    params(("outlet" = String, Path, description = "outlet id"), ("id" = String, Path, description = "staff id")),
    responses((status = 200, body = patty_protocol::staff::Staff), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn put_staff(
    State(state): State<SyncState>,
    who: Principal,
    Path((outlet, id)): Path<(OutletId, patty_protocol::ids::StaffId)>,
    Json(req): Json<StaffIn>,
) -> Result<Json<patty_protocol::staff::Staff>> {
    who.require_outlet(&[Role::OutletManager], outlet)?;
    let name = req.name.trim();
    if patty_protocol::blank(name) || name.chars().count() > 100 {
        return Err(Error::Validation("a staff name is 1 to 100 characters".into()));
    }
    let staff = patty_protocol::staff::Staff { id, name: name.to_owned(), role: req.role, active: req.active };
    let mut tx = state.db.begin().await?;
    let taken = sqlx::query("SELECT outlet_id FROM outlet_staff WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<String, _>("outlet_id"))
        .transpose()?;
    if taken.is_some_and(|o| o != outlet.to_string()) {
        return Err(Error::Conflict("this staff id belongs to another outlet".into()));
    }
    sqlx::query(
        "INSERT INTO outlet_staff (id, outlet_id, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
    )
    .bind(id.to_string())
    .bind(outlet.to_string())
    .bind(serde_json::to_string(&staff)?)
    .execute(&mut *tx)
    .await?;
    NewEvent::new(Topic::Sync, &id.to_string(), "staff.upserted", &serde_json::to_value(&staff)?)
        .down_to(outlet)
        .insert(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Json(staff))
}

/// An outlet's staff as the cloud knows them: set by HQ or reported by the outlet (HQ, its manager).
#[utoipa::path(get, path = "/api/v1/outlets/{outlet}/staff", tag = "sync", security(("bearer" = [])),
    params(("outlet" = String, Path, description = "outlet id")),
    responses((status = 200, body = Vec<patty_protocol::staff::Staff>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn list_staff(
    State(state): State<SyncState>,
    who: Principal,
    Path(outlet): Path<OutletId>,
) -> Result<Json<Vec<patty_protocol::staff::Staff>>> {
    who.require_outlet(&[Role::OutletManager], outlet)?;
    let rows = sqlx::query("SELECT doc FROM outlet_staff WHERE outlet_id = $1 ORDER BY id")
        .bind(outlet.to_string())
        .fetch_all(&state.db.pool)
        .await?;
    Ok(Json(rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect::<Result<_>>()?))
}

/// The sync routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    SyncState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(up))
        .routes(routes!(down))
        .routes(routes!(outlets))
        .routes(routes!(conflicts))
        .routes(routes!(resolve))
        .routes(routes!(stock))
        .routes(routes!(set_threshold))
        .routes(routes!(list_staff))
        .routes(routes!(put_staff))
}
