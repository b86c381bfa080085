//! Ordering's SQL: reading orders, inserting a placed order with its event and the customer's
//! activity (one transaction on SQLite, one statement on PostgreSQL), replaying an idempotent
//! retry, the conditional status move, the outlet's search, and erasure.

use super::{OrderError, rules};
use crate::events::{self};
use crate::infra::db::{Backend, Db, MAX_PARAMS, Val, insert_rows, is_unique_violation, now_ms, placeholders};
use crate::infra::error::{Error, Result};
use crate::infra::state::Shared;
use crate::infra::vault::Vault;
use patty_protocol::events::{OrderMoved, OrderPlaced};
use patty_protocol::ids::{OrderId, OutletId};
use patty_protocol::order::{Order, OrderStatus};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

fn decode(r: &sqlx::any::AnyRow) -> Result<Order> {
    Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)
}

/// Reads an order; [`OrderError::NotFound`] if unknown.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn load(db: &Db, id: OrderId) -> Result<Order> {
    let row = sqlx::query("SELECT doc FROM orders WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
        .ok_or(OrderError::NotFound(id))?;
    decode(&row)
}

/// A customer's orders, newest first.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn of_customer(db: &Db, customer: &str, limit: i64) -> Result<Vec<Order>> {
    let rows = sqlx::query("SELECT doc FROM orders WHERE customer_id = $1 ORDER BY created_ms DESC LIMIT $2")
        .bind(customer)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// The `order.placed` event of `order`, its personal fields sealed, for its outlet.
pub async fn placed_event(conn: &mut sqlx::AnyConnection, vault: &Vault, order: &Order) -> Result<events::NewEvent> {
    let placed = OrderPlaced { order: order.clone(), recorded: false };
    Ok(events::NewEvent::sealed(conn, vault, order.customer_id.as_deref(), &placed).await?.down_to(order.outlet_id))
}

/// Stores a placed order with its `order.placed` event and the customer's activity, atomically,
/// under the customer's idempotency `key` and the basket's `hash`. False if an order with that
/// key is there already (a retry, or a twin request that won the race).
#[tracing::instrument(skip_all, fields(order.id = %order.id, outlet.id = %order.outlet_id))]
pub async fn insert_placed(
    db: &Db,
    vault: &Vault,
    order: &Order,
    customer: &str,
    key: &str,
    hash: &str,
) -> Result<bool> {
    let inserted = match db.backend {
        Backend::Postgres => insert_placed_postgres(db, vault, order, customer, key, hash).await,
        Backend::Sqlite => insert_placed_tx(db, vault, order, customer, key, hash).await,
    };
    match inserted {
        Err(Error::Db(e)) if is_unique_violation(&e) => Ok(false),
        r => r.map(|()| true),
    }
}

/// Inserts a placed order, its `order.placed` event and the customer's activity in one transaction.
async fn insert_placed_tx(db: &Db, vault: &Vault, order: &Order, customer: &str, key: &str, hash: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    insert_in(&mut tx, vault, order, customer, key, hash).await?;
    tx.commit().await?;
    Ok(())
}

/// A placed order's row: id, customer, outlet, status, idempotency key, basket hash, time (created
/// and updated), document.
const INSERT_ORDER: &str = "INSERT INTO orders (id, customer_id, outlet_id, status, idempotency_key, request_hash, created_ms, updated_ms, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)";

/// Inserts `order` in the caller's transaction with the customer's activity and, unless it waits
/// for its payment (`payment_pending`: the outlet must not hear of it yet), its `order.placed`
/// event. A unique violation (the idempotency key used already) is the caller's to handle.
pub async fn insert_in(
    conn: &mut sqlx::AnyConnection,
    vault: &Vault,
    order: &Order,
    customer: &str,
    key: &str,
    hash: &str,
) -> Result<()> {
    sqlx::query(INSERT_ORDER)
        .bind(order.id.to_string())
        .bind(customer)
        .bind(order.outlet_id.to_string())
        .bind(order.status.as_str())
        .bind(key)
        .bind(hash)
        .bind(order.created_ms)
        .bind(serde_json::to_string(order)?)
        .execute(&mut *conn)
        .await?;
    if order.status != OrderStatus::PaymentPending {
        placed_event(conn, vault, order).await?.insert(conn).await?;
    }
    crate::identity::log_activity(conn, customer, "order_placed", &order.id.to_string()).await?;
    Ok(())
}

/// An order waiting for its payment, now paid (`tenders`): moved to placed and sent to its
/// outlet, in the caller's transaction. `None` if it was not waiting (already placed, or
/// cancelled meanwhile).
pub async fn release_paid(
    conn: &mut sqlx::AnyConnection,
    vault: &Vault,
    id: OrderId,
    tenders: Vec<patty_protocol::order::Tender>,
) -> Result<Option<Order>> {
    let row =
        sqlx::query("SELECT doc FROM orders WHERE id = $1").bind(id.to_string()).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let mut order = decode(&row)?;
    if order.status != OrderStatus::PaymentPending {
        return Ok(None);
    }
    order.status = OrderStatus::Placed;
    order.paid = tenders.iter().map(|t| t.amount).sum();
    order.tenders = tenders;
    order.updated_ms = now_ms();
    if !set_status(conn, &order, OrderStatus::PaymentPending).await? {
        return Ok(None);
    }
    placed_event(conn, vault, &order).await?.insert(conn).await?;
    Ok(Some(order))
}

/// An order waiting for its payment whose payment failed: cancelled with `reason`, in the
/// caller's transaction (its outlet never heard of it). `None` if it was not waiting.
pub async fn cancel_unpaid(
    conn: &mut sqlx::AnyConnection,
    vault: &Vault,
    id: OrderId,
    reason: &str,
) -> Result<Option<Order>> {
    let row =
        sqlx::query("SELECT doc FROM orders WHERE id = $1").bind(id.to_string()).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let before = decode(&row)?;
    if before.status != OrderStatus::PaymentPending {
        return Ok(None);
    }
    let order = rules::moved(&before, OrderStatus::Cancelled, Some(reason.to_owned()), now_ms())?;
    if !set_status(conn, &order, OrderStatus::PaymentPending).await? {
        return Ok(None);
    }
    let moved = OrderMoved { order_id: id, from: before.status, to: order.status, order: order.clone() };
    events::NewEvent::sealed(conn, vault, order.customer_id.as_deref(), &moved).await?.insert(conn).await?;
    Ok(Some(order))
}

/// The same three inserts as [`insert_placed_tx`] in one PostgreSQL statement (data-modifying
/// CTEs): one round trip, atomic by itself, instead of five. This is the hottest write path.
async fn insert_placed_postgres(
    db: &Db,
    vault: &Vault,
    order: &Order,
    customer: &str,
    key: &str,
    hash: &str,
) -> Result<()> {
    let id = order.id.to_string();
    // The customer's key is made (once) on a connection of its own: an unused key is harmless.
    let e = placed_event(&mut *db.pool.acquire().await?, vault, order).await?;
    let sql = format!(
        "WITH o AS ({INSERT_ORDER}),
              e AS ({})
         INSERT INTO activity (user_id, at_ms, kind, detail) VALUES ($2, $7, 'order_placed', $1)",
        events::outbox::insert_sql(9, 1)
    );
    let q = sqlx::query(&sql)
        .bind(&id)
        .bind(customer)
        .bind(order.outlet_id.to_string())
        .bind(order.status.as_str())
        .bind(key)
        .bind(hash)
        .bind(order.created_ms)
        .bind(serde_json::to_string(order)?);
    e.bind(q).execute(&db.pool).await?;
    // One statement outside a transaction: it committed by itself, so the relay is told here.
    db.committed_alone();
    Ok(())
}

/// The order `customer` placed under idempotency `key`, if any; [`OrderError::KeyReused`] if
/// that key was used for a different basket.
#[tracing::instrument(skip_all)]
pub async fn replay(db: &Db, customer: &str, key: &str, hash: &str) -> Result<Option<Order>> {
    let row = sqlx::query("SELECT request_hash, doc FROM orders WHERE customer_id = $1 AND idempotency_key = $2")
        .bind(customer)
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<String, _>("request_hash")? != hash {
        return Err(OrderError::KeyReused.into());
    }
    Ok(Some(decode(&row)?))
}

/// Stores `order` in its new status if it is still in `from`; false if it moved meanwhile.
#[tracing::instrument(skip_all, fields(order.id = %order.id, to = order.status.as_str()))]
pub async fn set_status(conn: &mut sqlx::AnyConnection, order: &Order, from: OrderStatus) -> Result<bool> {
    let moved = sqlx::query("UPDATE orders SET status = $1, updated_ms = $2, doc = $3 WHERE id = $4 AND status = $5")
        .bind(order.status.as_str())
        .bind(order.updated_ms)
        .bind(serde_json::to_string(order)?)
        .bind(order.id.to_string())
        .bind(from.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(moved.rows_affected() == 1)
}

/// Moves `id` to `to` if the state machine allows it, in one transaction with its event. The
/// status check is in the UPDATE itself, so a racing move (a customer's cancel against the
/// outlet's accept) has exactly one winner; the loser gets 409.
#[tracing::instrument(skip_all, err(level = "warn"), fields(order.id = %id, to = to.as_str()))]
pub(crate) async fn move_order(
    state: &Shared,
    id: OrderId,
    to: OrderStatus,
    reason: Option<String>,
    tell_outlet: bool,
    check: impl Fn(&Order) -> Result<()>,
) -> Result<Order> {
    let order = load(&state.db, id).await?;
    check(&order)?;
    let from = order.status;
    let order = rules::moved(&order, to, reason, now_ms())?;
    let mut tx = state.db.begin().await?;
    if !set_status(&mut tx, &order, from).await? {
        return Err(OrderError::Changed.into());
    }
    let moved = OrderMoved { order_id: id, from, to, order: order.clone() };
    let event = events::NewEvent::sealed(&mut tx, &state.vault, order.customer_id.as_deref(), &moved).await?;
    if tell_outlet { event.down_to(order.outlet_id) } else { event }.insert(&mut tx).await?;
    tx.commit().await?;
    Ok(order)
}

/// Which of an outlet's orders to find (each filter given narrows it).
#[derive(Default)]
pub struct Search {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only the order with this number.
    pub number: Option<i32>,
    /// Only orders whose document contains this text (lower case).
    pub text: Option<String>,
    /// Only orders taken at or after this time, Unix ms.
    pub from_ms: Option<i64>,
    /// Only orders taken before this time, Unix ms.
    pub to_ms: Option<i64>,
    /// Most to return.
    pub limit: i64,
}

/// `outlet`'s orders matching `q`, newest first.
#[tracing::instrument(skip_all, fields(outlet.id = %outlet))]
pub async fn search(db: &Db, outlet: OutletId, q: Search) -> Result<Vec<Order>> {
    // Each filter given adds a condition, its `?` numbered in turn; the number and the text are
    // matched in the stored document (serialised the same way every time).
    enum Bind {
        Text(String),
        Int(i64),
    }
    let mut conds: Vec<(&str, Bind)> = vec![];
    match q.status {
        Some(st) => conds.push(("status = ?", Bind::Text(st.as_str().to_owned()))),
        // An order waiting for its payment is not the outlet's yet: listed only when asked for.
        None => conds.push(("status <> ?", Bind::Text(OrderStatus::PaymentPending.as_str().to_owned()))),
    }
    if let Some(n) = q.number {
        conds.push(("doc LIKE ?", Bind::Text(format!("%\"number\":{n},%"))));
    }
    if let Some(t) = &q.text {
        let escaped = t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        conds.push(("LOWER(doc) LIKE ? ESCAPE '\\'", Bind::Text(format!("%{escaped}%"))));
    }
    if let Some(t) = q.from_ms {
        conds.push(("created_ms >= ?", Bind::Int(t)));
    }
    if let Some(t) = q.to_ms {
        conds.push(("created_ms < ?", Bind::Int(t)));
    }
    let mut sql = String::from("SELECT doc FROM orders WHERE outlet_id = $1");
    for (i, (cond, _)) in conds.iter().enumerate() {
        sql.push_str(&format!(" AND {}", cond.replace('?', &format!("${}", i + 2))));
    }
    sql.push_str(&format!(" ORDER BY created_ms DESC LIMIT ${}", conds.len() + 2));
    let mut query = sqlx::query(&sql).bind(outlet.to_string());
    for (_, bind) in conds {
        query = match bind {
            Bind::Text(t) => query.bind(t),
            Bind::Int(n) => query.bind(n),
        };
    }
    let rows = query.bind(q.limit).fetch_all(&db.pool).await?;
    rows.iter().map(decode).collect()
}

/// Erasure: `customer`'s orders stay, as financial records, without the delivery address, notes
/// or any link to a person; they get a fresh opaque owner, so they stay apart from other erased
/// customers' orders but lead to no one. Refused while an order is still open (the kitchen and the
/// driver still need the address). Returns the orders erased, by outlet.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn erase_customer(
    conn: &mut sqlx::AnyConnection,
    customer: &str,
) -> Result<BTreeMap<OutletId, Vec<OrderId>>> {
    let open = sqlx::query(
        "SELECT COUNT(*) AS n FROM orders WHERE customer_id = $1 AND status NOT IN ('completed', 'cancelled', 'voided')",
    )
    .bind(customer)
    .fetch_one(&mut *conn)
    .await?
    .try_get::<i64, _>("n")?;
    if open > 0 {
        return Err(OrderError::StillOpen(open).into());
    }
    let anonymous = format!("erased-{}", uuid::Uuid::now_v7());
    let rows =
        sqlx::query("SELECT id, doc FROM orders WHERE customer_id = $1").bind(customer).fetch_all(&mut *conn).await?;
    let mut by_outlet: BTreeMap<OutletId, Vec<OrderId>> = Default::default();
    for r in rows {
        let mut order = decode(&r)?;
        order.erase_personal();
        by_outlet.entry(order.outlet_id).or_default().push(order.id);
        sqlx::query("UPDATE orders SET doc = $1, customer_id = $2 WHERE id = $3")
            .bind(serde_json::to_string(&order)?)
            .bind(&anonymous)
            .bind(r.try_get::<String, _>("id")?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(by_outlet)
}

// --- For sync: an outlet's orders applied in batches ---

/// The orders among `ids` the cloud holds, locked until commit on PostgreSQL.
#[tracing::instrument(skip_all, fields(count = ids.len()))]
pub async fn lock_orders(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    ids: &[String],
) -> Result<HashMap<OrderId, Order>> {
    let lock = if backend == Backend::Postgres { " FOR UPDATE" } else { "" };
    let mut held: HashMap<OrderId, Order> = HashMap::new();
    for chunk in ids.chunks(MAX_PARAMS) {
        let sql = format!("SELECT doc FROM orders WHERE id IN ({}){lock}", placeholders(chunk.len()));
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let o: Order = serde_json::from_str(&row.try_get::<String, _>("doc")?)?;
            held.insert(o.id, o);
        }
    }
    Ok(held)
}

/// Writes orders whole (new ones inserted, known ones' status and document replaced).
#[tracing::instrument(skip_all, fields(count = orders.len()))]
pub async fn upsert_orders(conn: &mut sqlx::AnyConnection, orders: &[Order]) -> Result<()> {
    let mut rows = Vec::with_capacity(orders.len() * 9);
    for order in orders {
        let key = order.id.to_string();
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
        conn,
        "INSERT INTO orders (id, customer_id, outlet_id, status, idempotency_key, request_hash, created_ms, updated_ms, doc)",
        "ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_ms = excluded.updated_ms, doc = excluded.doc",
        9,
        rows,
    )
    .await?;
    Ok(())
}
