//! Customers' SQL: a profile (the identity account with phone and preferences), saved addresses,
//! and the activity log as read back.

use super::CustomerError;
use crate::identity::{User, load_user};
use crate::infra::db::{Db, now_ms};
use crate::infra::error::Result;
use crate::infra::state::Shared;
use patty_protocol::outlet::LatLon;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A customer's profile.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    /// The account.
    pub user: User,
    /// Phone number.
    pub phone: Option<String>,
    /// Preferences (free-form: dietary needs, marketing consent…).
    pub preferences: serde_json::Value,
}

/// A customer's profile.
#[tracing::instrument(skip_all, fields(user.id = id))]
pub async fn profile(state: &Shared, id: &str) -> Result<Profile> {
    let user = load_user(&state.db.pool, id).await?.ok_or(CustomerError::NoAccount)?;
    let row =
        sqlx::query("SELECT phone, preferences FROM users WHERE id = $1").bind(id).fetch_one(&state.db.pool).await?;
    Ok(Profile {
        user,
        phone: row.try_get("phone")?,
        preferences: serde_json::from_str(&row.try_get::<String, _>("preferences")?)?,
    })
}

/// Sets `user`'s name.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn set_name(conn: &mut sqlx::AnyConnection, user: &str, name: &str) -> Result<()> {
    sqlx::query("UPDATE users SET name = $1 WHERE id = $2").bind(name).bind(user).execute(&mut *conn).await?;
    Ok(())
}

/// Sets `user`'s phone number.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn set_phone(conn: &mut sqlx::AnyConnection, user: &str, phone: &str) -> Result<()> {
    sqlx::query("UPDATE users SET phone = $1 WHERE id = $2").bind(phone).bind(user).execute(&mut *conn).await?;
    Ok(())
}

/// Replaces `user`'s preferences.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn set_preferences(
    conn: &mut sqlx::AnyConnection,
    user: &str,
    preferences: &serde_json::Value,
) -> Result<()> {
    sqlx::query("UPDATE users SET preferences = $1 WHERE id = $2")
        .bind(preferences.to_string())
        .bind(user)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A saved address.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    /// Id.
    pub id: String,
    /// Label ("home", "work").
    pub label: String,
    /// Street and number.
    pub line1: String,
    /// City.
    pub city: String,
    /// Postcode.
    pub postcode: String,
    /// Where it is (the client geocodes).
    pub position: LatLon,
}

/// Reads one of `user`'s addresses; someone else's is 404.
#[tracing::instrument(skip_all, fields(address.id = id))]
pub async fn load_address(state: &Shared, user: &str, id: &str) -> Result<Address> {
    let row = sqlx::query("SELECT doc FROM addresses WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(CustomerError::NoAddress)?;
    Ok(serde_json::from_str(&row.try_get::<String, _>("doc")?)?)
}

/// A customer's saved addresses.
#[tracing::instrument(skip_all)]
pub async fn addresses_of(state: &Shared, user: &str) -> Result<Vec<Address>> {
    let rows = sqlx::query("SELECT doc FROM addresses WHERE user_id = $1 ORDER BY created_ms")
        .bind(user)
        .fetch_all(&state.db.pool)
        .await?;
    rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect()
}

/// Saves `address` for `user`.
#[tracing::instrument(skip_all, fields(address.id = %address.id))]
pub async fn insert_address(conn: &mut sqlx::AnyConnection, user: &str, address: &Address) -> Result<()> {
    sqlx::query("INSERT INTO addresses (id, user_id, doc, created_ms) VALUES ($1, $2, $3, $4)")
        .bind(&address.id)
        .bind(user)
        .bind(serde_json::to_string(address)?)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes one of `user`'s addresses; false if they have no such address.
#[tracing::instrument(skip_all, fields(address.id = id))]
pub async fn delete_address(db: &Db, user: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() != 0)
}

/// One entry of the activity log.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    /// When, Unix ms.
    pub at_ms: i64,
    /// What.
    pub kind: String,
    /// Details.
    pub detail: String,
}

/// A customer's account activity, newest first.
#[tracing::instrument(skip_all)]
pub async fn activity_of(state: &Shared, user: &str) -> Result<Vec<Activity>> {
    let rows = sqlx::query("SELECT at_ms, kind, detail FROM activity WHERE user_id = $1 ORDER BY id DESC LIMIT 1000")
        .bind(user)
        .fetch_all(&state.db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok(Activity { at_ms: r.try_get("at_ms")?, kind: r.try_get("kind")?, detail: r.try_get("detail")? }))
        .collect()
}

/// Deletes `user`'s addresses (erasure).
#[tracing::instrument(skip_all)]
pub async fn erase_addresses(conn: &mut sqlx::AnyConnection, user: &str) -> Result<()> {
    sqlx::query("DELETE FROM addresses WHERE user_id = $1").bind(user).execute(&mut *conn).await?;
    Ok(())
}
