//! Delivery's SQL: deliveries by id, job and order, the conditional save of a transition with its
//! events, the dispatcher's queries, the hand-over code, restricted areas, kept fixes, erasure.

use super::rules::Delivery;
use crate::events::NewEvent;
use crate::fleet::DevicePosition;
use crate::infra::db::{Db, is_unique_violation};
use crate::infra::error::{Error, Result};
use patty_protocol::ids::{DeliveryId, OrderId};
use sqlx::Row;

/// The statuses of a delivery a driver is on, as SQL.
const DRIVING: &str = "('assigned', 'at_pickup', 'picked_up', 'near_dropoff')";

fn decode(doc: &str) -> Result<Delivery> {
    Ok(serde_json::from_str(doc)?)
}

fn doc_of(r: &sqlx::any::AnyRow) -> Result<Delivery> {
    decode(&r.try_get::<String, _>("doc")?)
}

/// The delivery with job number `job`.
#[tracing::instrument(skip_all, fields(job))]
pub async fn by_job(db: &Db, job: u32) -> Result<Option<Delivery>> {
    let row =
        sqlx::query("SELECT doc FROM deliveries WHERE job = $1").bind(i64::from(job)).fetch_optional(&db.pool).await?;
    row.as_ref().map(doc_of).transpose()
}

/// The delivery `id`.
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub async fn load(db: &Db, id: DeliveryId) -> Result<Option<Delivery>> {
    let row =
        sqlx::query("SELECT doc FROM deliveries WHERE id = $1").bind(id.to_string()).fetch_optional(&db.pool).await?;
    row.as_ref().map(doc_of).transpose()
}

/// The delivery of order `id`, with its hand-over code.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn of_order(db: &Db, id: OrderId) -> Result<Option<(Delivery, String)>> {
    let row = sqlx::query("SELECT doc, code FROM deliveries WHERE order_id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok((doc_of(&r)?, r.try_get("code")?))).transpose()
}

/// The hand-over code of delivery `id`.
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub async fn code_of(db: &Db, id: DeliveryId) -> Result<String> {
    Ok(sqlx::query("SELECT code FROM deliveries WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&db.pool)
        .await?
        .try_get("code")?)
}

/// The job of the delivery `driver` is on, if any.
#[tracing::instrument(skip_all)]
pub async fn active_job_of(db: &Db, driver: &str) -> Result<Option<u32>> {
    let row = sqlx::query(&format!(
        "SELECT job FROM deliveries WHERE driver_id = $1 AND status IN {DRIVING} ORDER BY created_ms DESC LIMIT 1"
    ))
    .bind(driver)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| r.try_get::<i64, _>("job")).transpose()?.and_then(|j| u32::try_from(j).ok()))
}

/// Writes `next` with `events` if the row is still as `old` left it (its status and its offer):
/// racing replicas move a delivery once. Returns whether this call won.
#[tracing::instrument(skip_all, fields(delivery = %next.id, status = next.status.as_str()), err(level = "warn"))]
pub async fn save(db: &Db, old: &Delivery, next: &Delivery, events: Vec<NewEvent>) -> Result<bool> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query(
        "UPDATE deliveries SET status = $1, driver_id = $2, offered_to = $3, offer_deadline_ms = $4, doc = $5, updated_ms = $6 \
         WHERE id = $7 AND status = $8 AND COALESCE(offered_to, '') = $9",
    )
    .bind(next.status.as_str())
    .bind(next.driver_id.clone())
    .bind(next.offered_to.clone())
    .bind(next.offer_deadline_ms)
    .bind(serde_json::to_string(next)?)
    .bind(next.updated_ms)
    .bind(next.id.to_string())
    .bind(old.status.as_str())
    .bind(old.offered_to.clone().unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    crate::events::record_all(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

/// Records `events` on their own, in one transaction.
#[tracing::instrument(skip_all, fields(events = events.len()), err(level = "warn"))]
pub async fn record(db: &Db, events: Vec<NewEvent>) -> Result<()> {
    let mut tx = db.begin().await?;
    crate::events::record_all(&mut tx, events).await?;
    tx.commit().await
}

/// How storing a new delivery went.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    /// Stored, with its job number.
    Stored,
    /// The order has a delivery already (another replica made it first).
    OrderHasOne,
    /// Another replica took the job number meanwhile: draw again.
    JobTaken,
}

/// Stores the new delivery `d` under the next job number (set in `d`), with its hand-over `code`
/// and its `delivery.created` event from `event`. Idempotent per order: the order's delivery is
/// unique, so a second attempt (a replica racing, an event read twice) stores nothing.
#[tracing::instrument(skip_all, fields(order = %d.order_id), err(level = "warn"))]
pub async fn insert(
    db: &Db,
    d: &mut Delivery,
    code: &str,
    event: impl FnOnce(&Delivery) -> Result<NewEvent>,
) -> Result<Created> {
    let mut tx = db.begin().await?;
    let next: i64 = sqlx::query("SELECT COALESCE(MAX(job), 0) + 1 AS next FROM deliveries")
        .fetch_one(&mut *tx)
        .await?
        .try_get("next")?;
    d.job = u32::try_from(next).map_err(|_| Error::Internal("job numbers ran out".into()))?;
    let inserted = sqlx::query(
        "INSERT INTO deliveries (id, job, order_id, outlet_id, customer_id, status, code, doc, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(d.id.to_string())
    .bind(next)
    .bind(d.order_id.to_string())
    .bind(d.outlet_id.to_string())
    .bind(d.customer_id.clone().unwrap_or_default())
    .bind(d.status.as_str())
    .bind(code)
    .bind(serde_json::to_string(d)?)
    .bind(d.created_ms)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            drop(tx);
            let has_one = sqlx::query("SELECT 1 AS one FROM deliveries WHERE order_id = $1")
                .bind(d.order_id.to_string())
                .fetch_optional(&db.pool)
                .await?
                .is_some();
            return Ok(if has_one { Created::OrderHasOne } else { Created::JobTaken });
        }
        Err(e) => return Err(e.into()),
    }
    event(d)?.insert(&mut tx).await?;
    tx.commit().await?;
    Ok(Created::Stored)
}

/// Waiting deliveries without an open offer, oldest first.
#[tracing::instrument(skip_all)]
pub async fn waiting(db: &Db) -> Result<Vec<Delivery>> {
    let rows =
        sqlx::query("SELECT doc FROM deliveries WHERE status = 'waiting' AND offered_to IS NULL ORDER BY created_ms")
            .fetch_all(&db.pool)
            .await?;
    rows.iter().map(doc_of).collect()
}

/// Waiting deliveries whose offer lapsed before `now`, oldest first.
#[tracing::instrument(skip_all)]
pub async fn lapsed(db: &Db, now: i64) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT doc FROM deliveries WHERE status = 'waiting' AND offered_to IS NOT NULL AND offer_deadline_ms < $1 ORDER BY created_ms",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(doc_of).collect()
}

/// Drivers who are busy: on a delivery, or holding an offer.
#[tracing::instrument(skip_all)]
pub async fn busy_drivers(db: &Db) -> Result<std::collections::HashSet<String>> {
    Ok(sqlx::query(&format!(
        "SELECT driver_id AS d FROM deliveries WHERE status IN {DRIVING} \
         UNION SELECT offered_to AS d FROM deliveries WHERE status = 'waiting' AND offered_to IS NOT NULL"
    ))
    .fetch_all(&db.pool)
    .await?
    .iter()
    .filter_map(|r| r.try_get::<Option<String>, _>("d").ok().flatten())
    .collect())
}

/// Whose deliveries a list shows.
pub enum Seen {
    /// Every delivery (HQ).
    All,
    /// A driver's: on it or offered it.
    Driver(String),
    /// An outlet's.
    Outlet(String),
}

/// Deliveries, newest first: `active` ones only (not final) or all, as `seen`, at most `limit`.
#[tracing::instrument(skip_all, fields(active, limit))]
pub async fn list(db: &Db, active: bool, seen: Seen, limit: i64) -> Result<Vec<Delivery>> {
    let mut sql = String::from("SELECT doc FROM deliveries WHERE 1 = 1");
    if active {
        sql.push_str(" AND status NOT IN ('delivered', 'cancelled')");
    }
    let bind = match seen {
        Seen::All => None,
        Seen::Driver(driver) => {
            sql.push_str(" AND (driver_id = $1 OR offered_to = $1)");
            Some(driver)
        }
        Seen::Outlet(outlet) => {
            sql.push_str(" AND outlet_id = $1");
            Some(outlet)
        }
    };
    sql.push_str(&format!(" ORDER BY created_ms DESC LIMIT {limit}"));
    let mut query = sqlx::query(&sql);
    if let Some(b) = bind {
        query = query.bind(b);
    }
    query.fetch_all(&db.pool).await?.iter().map(doc_of).collect()
}

/// Blanks `customer`'s deliveries (erasure, in the caller's transaction; their orders are all
/// closed): no customer, and a drop-off that names no street and points at the outlet instead of
/// their door.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn erase_customer(conn: &mut sqlx::AnyConnection, customer: &str) -> Result<()> {
    let rows = sqlx::query("SELECT id, doc FROM deliveries WHERE customer_id = $1")
        .bind(customer)
        .fetch_all(&mut *conn)
        .await?;
    for r in rows {
        let mut d = doc_of(&r)?;
        d.customer_id = None;
        d.dropoff = patty_protocol::delivery::Place { name: String::new(), position: d.pickup.position };
        sqlx::query("UPDATE deliveries SET customer_id = '', doc = $1 WHERE id = $2")
            .bind(serde_json::to_string(&d)?)
            .bind(r.try_get::<String, _>("id")?)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A restricted area as stored: its ring is JSON (`[[lon, lat], …]`).
pub struct AreaRow {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its ring, as JSON.
    pub ring: String,
}

/// The restricted areas, oldest first (a row that cannot be read is left out).
#[tracing::instrument(skip_all)]
pub async fn areas(db: &Db) -> Result<Vec<AreaRow>> {
    let rows =
        sqlx::query("SELECT id, name, ring FROM restricted_areas ORDER BY created_ms").fetch_all(&db.pool).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(AreaRow { id: r.try_get("id").ok()?, name: r.try_get("name").ok()?, ring: r.try_get("ring").ok()? })
        })
        .collect())
}

/// Adds a restricted area.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn insert_area(db: &Db, area: &AreaRow, created_ms: i64) -> Result<()> {
    sqlx::query("INSERT INTO restricted_areas (id, name, ring, created_ms) VALUES ($1, $2, $3, $4)")
        .bind(&area.id)
        .bind(&area.name)
        .bind(&area.ring)
        .bind(created_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Keeps a delivery's fix for its replay (once per sequence number).
#[tracing::instrument(skip_all, fields(delivery = %delivery))]
pub async fn keep_fix(db: &Db, delivery: DeliveryId, position: &DevicePosition) -> Result<()> {
    sqlx::query("INSERT INTO delivery_fixes (delivery_id, seq, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(delivery.to_string())
        .bind(i64::from(position.seq))
        .bind(serde_json::to_string(position)?)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A delivery's kept fixes, by sequence.
#[tracing::instrument(skip_all, fields(delivery = %delivery))]
pub async fn fixes_of(db: &Db, delivery: DeliveryId) -> Result<Vec<DevicePosition>> {
    sqlx::query("SELECT doc FROM delivery_fixes WHERE delivery_id = $1 ORDER BY seq")
        .bind(delivery.to_string())
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?))
        .collect()
}

/// The delivery of order `id` that is not over yet, if any.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn open_of_order(db: &Db, id: OrderId) -> Result<Option<Delivery>> {
    let row =
        sqlx::query("SELECT doc FROM deliveries WHERE order_id = $1 AND status NOT IN ('delivered', 'cancelled')")
            .bind(id.to_string())
            .fetch_optional(&db.pool)
            .await?;
    row.as_ref().map(doc_of).transpose()
}
