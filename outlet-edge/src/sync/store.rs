//! Sync's own SQL: its cursors in `meta` (the upload hint, the downward position, the catalog
//! version) and the figures the status reads.

use crate::changes::last_seq;
use crate::infra::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// A value in `meta`.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

/// Sets a value in `meta`.
pub fn meta_set(conn: &Connection, key: &str, value: impl ToString) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value.to_string()])?;
    Ok(())
}

/// A number in `meta` (0 when absent).
pub fn meta_u64(conn: &Connection, key: &str) -> Result<u64> {
    Ok(meta_get(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// (downward position, catalog version, last change-log sequence), for the status.
#[tracing::instrument(skip_all)]
pub fn figures(c: &Connection) -> Result<(u64, Option<i64>, u64)> {
    Ok((meta_u64(c, "down_position")?, meta_get(c, "catalog_version")?.and_then(|v| v.parse().ok()), last_seq(c)?))
}
