//! All of sync's SQL, as small named functions: outlets' cursors, conflicts, stock levels, staff,
//! and the events after a position for the downward stream; what an uploaded batch writes is in
//! [`batch`], through the multi-row insert helper ([`crate::infra::db::insert_rows`]).

pub mod batch;

pub use batch::*;

use crate::infra::db::Db;
use crate::infra::error::{Error, Result};
use patty_protocol::conflict::{Conflict, Resolution};
use patty_protocol::ids::{ConflictId, IngredientId, OutletId, StaffId};
use patty_protocol::staff::Staff;
use sqlx::Row;

// --- Cursors ---

/// Creates or touches `origin`'s cursor and returns how far it is applied. The upsert locks the
/// cursor row until commit: two uploads from one outlet (a retry racing its original on another
/// replica) apply one after the other.
#[tracing::instrument(skip_all, fields(outlet = origin))]
pub async fn lock_cursor(conn: &mut sqlx::AnyConnection, origin: &str, now: i64) -> Result<u64> {
    let applied_through: i64 = sqlx::query(
        "INSERT INTO sync_cursors (origin, applied_through, last_hlc, seen_ms) VALUES ($1, 0, 0, $2)
         ON CONFLICT (origin) DO UPDATE SET seen_ms = excluded.seen_ms RETURNING applied_through",
    )
    .bind(origin)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?
    .try_get("applied_through")?;
    Ok(applied_through as u64)
}

/// Moves `origin`'s cursor to `through`, at the outlet's clock `last_hlc`.
#[tracing::instrument(skip_all, fields(outlet = origin, through))]
pub async fn advance_cursor(conn: &mut sqlx::AnyConnection, origin: &str, through: u64, last_hlc: i64) -> Result<()> {
    sqlx::query("UPDATE sync_cursors SET applied_through = $2, last_hlc = $3 WHERE origin = $1")
        .bind(origin)
        .bind(through as i64)
        .bind(last_hlc)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One outlet's progress as its cursor row says.
pub struct Progress {
    /// The outlet.
    pub outlet_id: OutletId,
    /// The highest sequence applied.
    pub applied_through: u64,
    /// The outlet's hybrid clock at that entry.
    pub last_hlc: i64,
    /// Last upload or connection, Unix ms.
    pub seen_ms: i64,
    /// Conflicts not settled yet.
    pub open_conflicts: i64,
}

/// Every outlet's progress, by outlet id.
#[tracing::instrument(skip_all)]
pub async fn progress(db: &Db) -> Result<Vec<Progress>> {
    let rows = sqlx::query(
        "SELECT c.origin, c.applied_through, c.last_hlc, c.seen_ms,
                (SELECT COUNT(*) FROM conflicts k WHERE k.outlet_id = c.origin AND k.resolved_ms IS NULL) AS open
         FROM sync_cursors c ORDER BY c.origin",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Progress {
                outlet_id: r
                    .try_get::<String, _>("origin")?
                    .parse()
                    .map_err(|_| Error::Internal("origin id".into()))?,
                applied_through: r.try_get::<i64, _>("applied_through")? as u64,
                last_hlc: r.try_get("last_hlc")?,
                seen_ms: r.try_get("seen_ms")?,
                open_conflicts: r.try_get("open")?,
            })
        })
        .collect()
}

/// Notes `origin` seen at `now` (its downward stream is open), if it has a cursor.
pub async fn touch(db: &Db, origin: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE sync_cursors SET seen_ms = $1 WHERE origin = $2 AND seen_ms < $1")
        .bind(now)
        .bind(origin)
        .execute(&db.pool)
        .await?;
    Ok(())
}

// --- Conflicts ---

/// Stores a conflict; false if it was already there.
#[tracing::instrument(skip_all, fields(conflict = %c.id))]
pub async fn insert_conflict(conn: &mut sqlx::AnyConnection, c: &Conflict) -> Result<bool> {
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
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Settles an open conflict (of `outlet`, when given); `None` when there is no such open conflict.
#[tracing::instrument(skip_all, fields(conflict = %id))]
pub async fn settle(
    conn: &mut sqlx::AnyConnection,
    id: ConflictId,
    outlet: Option<OutletId>,
    r: &Resolution,
) -> Result<Option<Conflict>> {
    let Some(row) = sqlx::query("SELECT doc FROM conflicts WHERE id = $1 AND resolved_ms IS NULL")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
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
        .execute(&mut *conn)
        .await?;
    Ok(Some(c))
}

/// Conflicts, newest first (at most 500): of `outlet` when given; open only (`Some(true)`),
/// settled only (`Some(false)`) or both.
#[tracing::instrument(skip_all)]
pub async fn conflicts(db: &Db, outlet: Option<OutletId>, open: Option<bool>) -> Result<Vec<Conflict>> {
    let rows = sqlx::query(
        "SELECT doc FROM conflicts WHERE ($1 = '' OR outlet_id = $1)
           AND ($2 = 0 OR ($2 = 1 AND resolved_ms IS NULL) OR ($2 = 2 AND resolved_ms IS NOT NULL))
         ORDER BY raised_ms DESC LIMIT 500",
    )
    .bind(outlet.map(|o| o.to_string()).unwrap_or_default())
    .bind(match open {
        None => 0i64,
        Some(true) => 1,
        Some(false) => 2,
    })
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect()
}

// --- Stock ---

/// One ingredient's stock level at an outlet.
pub struct Level {
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

/// An outlet's stock levels, by name.
#[tracing::instrument(skip_all, fields(outlet = %outlet))]
pub async fn levels(db: &Db, outlet: OutletId) -> Result<Vec<Level>> {
    let rows = sqlx::query(
        "SELECT ingredient_id, name, unit, on_hand, reorder_level FROM stock_levels WHERE outlet_id = $1 ORDER BY name, ingredient_id",
    )
    .bind(outlet.to_string())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Level {
                ingredient_id: r.try_get("ingredient_id")?,
                name: r.try_get("name")?,
                unit: r.try_get("unit")?,
                on_hand: r.try_get("on_hand")?,
                reorder_level: r.try_get("reorder_level")?,
            })
        })
        .collect()
}

/// Sets an ingredient's reorder level at an outlet (creating the level if the cloud has not heard
/// of the ingredient yet).
#[tracing::instrument(skip_all, fields(outlet = %outlet, ingredient = %ingredient))]
pub async fn set_reorder_level(
    conn: &mut sqlx::AnyConnection,
    outlet: OutletId,
    ingredient: IngredientId,
    level: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO stock_levels (outlet_id, ingredient_id, name, unit, on_hand, reorder_level) VALUES ($1, $2, '', '', 0, $3)
         ON CONFLICT (outlet_id, ingredient_id) DO UPDATE SET reorder_level = excluded.reorder_level",
    )
    .bind(outlet.to_string())
    .bind(ingredient.to_string())
    .bind(level)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// --- Staff ---

/// The outlet a staff id belongs to, if the cloud knows it.
#[tracing::instrument(skip_all, fields(staff = %id))]
pub async fn staff_outlet(conn: &mut sqlx::AnyConnection, id: StaffId) -> Result<Option<String>> {
    Ok(sqlx::query("SELECT outlet_id FROM outlet_staff WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<String, _>("outlet_id"))
        .transpose()?)
}

/// Writes one staff member of an outlet, whole.
#[tracing::instrument(skip_all, fields(outlet = %outlet, staff = %staff.id))]
pub async fn put_staff(conn: &mut sqlx::AnyConnection, outlet: OutletId, staff: &Staff) -> Result<()> {
    sqlx::query(
        "INSERT INTO outlet_staff (id, outlet_id, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
    )
    .bind(staff.id.to_string())
    .bind(outlet.to_string())
    .bind(serde_json::to_string(staff)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An outlet's staff, by id.
#[tracing::instrument(skip_all, fields(outlet = %outlet))]
pub async fn staff_of(db: &Db, outlet: OutletId) -> Result<Vec<Staff>> {
    let rows = sqlx::query("SELECT doc FROM outlet_staff WHERE outlet_id = $1 ORDER BY id")
        .bind(outlet.to_string())
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect()
}

// --- The downward stream ---

/// One event of the log: its position, kind and payload.
pub struct LoggedEvent {
    /// Its position in the event log.
    pub position: i64,
    /// Its kind (`order.placed`…).
    pub kind: String,
    /// Its payload (sealed personal fields as stored).
    pub payload: serde_json::Value,
}

/// Up to 200 events after `after` that travel down to `outlet` (its own and everyone's).
#[tracing::instrument(skip_all, fields(outlet = %outlet, after))]
pub async fn events_after(db: &Db, outlet: OutletId, after: i64) -> Result<Vec<LoggedEvent>> {
    let rows = sqlx::query(
        "SELECT position, kind, payload FROM events WHERE position > $1 AND (down = $2 OR down = '*')
         ORDER BY position LIMIT 200",
    )
    .bind(after)
    .bind(outlet.to_string())
    .fetch_all(&db.pool)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        let payload: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("payload")?)?;
        events.push(LoggedEvent { position: r.try_get("position")?, kind: r.try_get("kind")?, payload });
    }
    Ok(events)
}
