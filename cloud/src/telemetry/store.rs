//! Telemetry's SQL: the driver behind a device key, and OwnTracks links.

use crate::infra::db::{Db, is_unique_violation};
use crate::infra::error::Result;
use sqlx::Row;

/// The driver (subject) of the active device key `device`, if there is one.
#[tracing::instrument(skip_all, fields(device))]
pub async fn driver_of(db: &Db, device: &str) -> Result<Option<String>> {
    Ok(sqlx::query("SELECT subject FROM api_keys WHERE id = $1 AND kind = 'device' AND revoked_ms IS NULL")
        .bind(device)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.try_get::<String, _>("subject"))
        .transpose()?)
}

/// The device key linked to OwnTracks' `user` and `device`, if any.
#[tracing::instrument(skip_all)]
pub async fn owntracks_device(db: &Db, user: &str, device: &str) -> Result<Option<String>> {
    Ok(sqlx::query("SELECT device_id FROM owntracks_links WHERE ot_user = $1 AND ot_device = $2")
        .bind(user)
        .bind(device)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.try_get::<String, _>("device_id"))
        .transpose()?)
}

/// Links OwnTracks' `user` and `device` to the device key `device_id`, replacing its earlier
/// link. `false` when that user and device are linked to another device key.
#[tracing::instrument(skip_all, fields(device = device_id), err(level = "warn"))]
pub async fn link_owntracks(db: &Db, device_id: &str, user: &str, device: &str, now_ms: i64) -> Result<bool> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM owntracks_links WHERE device_id = $1").bind(device_id).execute(&mut *tx).await?;
    let inserted =
        sqlx::query("INSERT INTO owntracks_links (ot_user, ot_device, device_id, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(user)
            .bind(device)
            .bind(device_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await;
    match inserted {
        Ok(_) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
