//! Identity's SQL: users, refresh tokens, one-time tokens, API keys, the activity log, erasure,
//! and the bootstrap administrator. Small named functions over `&Db` or a connection.

use super::IdentityError;
use super::tokens::{hash_password_async, validate_email, validate_password};
use crate::events::{self};
use crate::infra::access::{Principal, Role};
use crate::infra::db::{Db, now_ms};
use crate::infra::error::{Error, Result};
use crate::infra::mail::{Purpose, SecurityMessage};
use patty_protocol::events::SecurityMessageRequested;
use patty_protocol::ids::OutletId;
use patty_service::secret;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A user as the API shows one.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: String,
    /// Email (absent once erased).
    pub email: Option<String>,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The outlet of a staff member or manager.
    #[schema(value_type = Option<String>)]
    pub outlet_id: Option<OutletId>,
    /// Whether the email address was verified.
    pub email_verified: bool,
}

/// Reads a user, through the pool or inside a transaction (on SQLite's single connection, a
/// transaction must not wait for the pool).
#[tracing::instrument(skip_all, fields(user.id = id))]
pub async fn load_user<'c>(ex: impl sqlx::Executor<'c, Database = sqlx::Any>, id: &str) -> Result<Option<User>> {
    let row = sqlx::query(
        "SELECT id, email, name, role, outlet_id, email_verified FROM users WHERE id = $1 AND erased_ms IS NULL",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?;
    row.map(|r| user_row(&r)).transpose()
}

fn user_row(r: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = r.try_get("role")?;
    let outlet: Option<String> = r.try_get("outlet_id")?;
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| Error::Internal(format!("stored role {role}")))?,
        outlet_id: outlet.and_then(|o| o.parse().ok()),
        email_verified: r.try_get::<i64, _>("email_verified")? != 0,
    })
}

/// Whether `place` (a sign-in's address digest) is new for `user`: they signed in before, never
/// from there. A first sign-in is not new (there is nothing to compare it with).
pub async fn new_sign_in_place(conn: &mut sqlx::AnyConnection, user: &str, place: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS before, COALESCE(SUM(CASE WHEN detail = $2 THEN 1 ELSE 0 END), 0) AS here \
         FROM activity WHERE user_id = $1 AND kind = 'signed_in'",
    )
    .bind(user)
    .bind(place)
    .fetch_one(&mut *conn)
    .await?;
    let (before, here): (i64, i64) = (row.try_get("before")?, row.try_get("here")?);
    Ok(before > 0 && here == 0)
}

/// A live account's phone number, if it has one.
pub async fn phone_of(db: &Db, id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT phone FROM users WHERE id = $1 AND erased_ms IS NULL")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| r.try_get::<Option<String>, _>("phone")).transpose()?.flatten())
}

/// The live accounts with `role` (at `outlet`, when given), oldest first: whom an outlet's alerts
/// go to.
#[tracing::instrument(skip_all, fields(role = role.as_str()))]
pub async fn users_with_role(db: &Db, role: Role, outlet: Option<&str>) -> Result<Vec<User>> {
    let rows = sqlx::query(
        "SELECT id, email, name, role, outlet_id, email_verified FROM users \
         WHERE role = $1 AND ($2 = '' OR outlet_id = $2) AND erased_ms IS NULL ORDER BY created_ms, id",
    )
    .bind(role.as_str())
    .bind(outlet.unwrap_or(""))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(user_row).collect()
}

/// The id and password hash of the live account with `email`, if any.
#[tracing::instrument(skip_all)]
pub async fn credentials_of(db: &Db, email: &str) -> Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1 AND erased_ms IS NULL")
        .bind(email)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("password_hash")?))).transpose()
}

/// Whether `user` is an account not erased.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn is_live(db: &Db, user: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND erased_ms IS NULL")
        .bind(user)
        .fetch_optional(&db.pool)
        .await?
        .is_some())
}

/// Inserts a user; a taken email is [`IdentityError::EmailTaken`].
#[tracing::instrument(skip_all, fields(role = role.as_str()))]
pub async fn insert_user(
    conn: &mut sqlx::AnyConnection,
    email: &str,
    password_hash: &str,
    name: &str,
    role: Role,
    outlet: Option<OutletId>,
) -> std::result::Result<User, IdentityError> {
    let user = User {
        id: uuid::Uuid::now_v7().to_string(),
        email: Some(email.to_owned()),
        name: name.to_owned(),
        role,
        outlet_id: outlet,
        email_verified: false,
    };
    let r = sqlx::query("INSERT INTO users (id, email, name, password_hash, role, outlet_id, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&user.id)
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(outlet.map(|o| o.to_string()))
        .bind(now_ms())
        .execute(&mut *conn)
        .await;
    match r {
        Err(e) if crate::infra::db::is_unique_violation(&e) => Err(IdentityError::EmailTaken),
        Err(e) => Err(Error::from(e).into()),
        Ok(_) => Ok(user),
    }
}

/// Marks `user`'s email address verified.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn mark_email_verified(conn: &mut sqlx::AnyConnection, user: &str) -> Result<()> {
    sqlx::query("UPDATE users SET email_verified = 1 WHERE id = $1").bind(user).execute(&mut *conn).await?;
    Ok(())
}

/// Sets `user`'s password hash.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn set_password(conn: &mut sqlx::AnyConnection, user: &str, hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user).execute(&mut *conn).await?;
    Ok(())
}

/// A refresh token as stored.
pub struct RefreshToken {
    /// Whose.
    pub user_id: String,
    /// The family it rotates in (one sign-in).
    pub family: String,
    /// When it expires, Unix ms.
    pub expires_ms: i64,
    /// Exchanged already.
    pub used: bool,
    /// Revoked (sign-out, reuse, password reset, erasure).
    pub revoked: bool,
}

/// Stores a refresh token's digest for `user` in `family`.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn insert_refresh_token(
    conn: &mut sqlx::AnyConnection,
    hash: &str,
    user: &str,
    family: &str,
    now: i64,
    expires_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, user_id, family, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(user)
    .bind(family)
    .bind(now)
    .bind(expires_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The refresh token with digest `hash`, if any.
#[tracing::instrument(skip_all)]
pub async fn refresh_token(conn: &mut sqlx::AnyConnection, hash: &str) -> Result<Option<RefreshToken>> {
    let row = sqlx::query("SELECT user_id, family, expires_ms, used, revoked FROM refresh_tokens WHERE hash = $1")
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(RefreshToken {
            user_id: r.try_get("user_id")?,
            family: r.try_get("family")?,
            expires_ms: r.try_get("expires_ms")?,
            used: r.try_get::<i64, _>("used")? != 0,
            revoked: r.try_get::<i64, _>("revoked")? != 0,
        })
    })
    .transpose()
}

/// Marks the refresh token used; false if it already was. Conditional, so two concurrent
/// refreshes cannot both succeed.
#[tracing::instrument(skip_all)]
pub async fn mark_refresh_used(conn: &mut sqlx::AnyConnection, hash: &str) -> Result<bool> {
    let marked = sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE hash = $1 AND used = 0")
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(marked.rows_affected() == 1)
}

/// Revokes every refresh token of `family`.
#[tracing::instrument(skip_all)]
pub async fn revoke_family(conn: &mut sqlx::AnyConnection, family: &str) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1").bind(family).execute(&mut *conn).await?;
    Ok(())
}

/// Revokes the whole family of the refresh token with digest `hash` (sign-out).
#[tracing::instrument(skip_all)]
pub async fn revoke_family_of(db: &Db, hash: &str) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked = 1 WHERE family = (SELECT family FROM refresh_tokens WHERE hash = $1)",
    )
    .bind(hash)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Revokes every refresh token of `user`.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn revoke_refresh_of(conn: &mut sqlx::AnyConnection, user: &str) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1").bind(user).execute(&mut *conn).await?;
    Ok(())
}

/// Stores a fresh one-time token for `user`, valid `ttl_secs`, and records the request's event,
/// which names the user and the purpose only. The token goes only into the returned message, for
/// the caller to hand to [`crate::infra::mail::Mailer::send`] once its transaction has committed.
#[tracing::instrument(skip_all, fields(user.id = %user.id, purpose = purpose.as_str()))]
pub async fn one_time_token(
    conn: &mut sqlx::AnyConnection,
    ttl_secs: u64,
    user: &User,
    purpose: Purpose,
) -> Result<Option<SecurityMessage>> {
    let token = secret::token();
    sqlx::query("INSERT INTO one_time_tokens (hash, user_id, purpose, expires_ms) VALUES ($1, $2, $3, $4)")
        .bind(secret::digest(&[token.as_bytes()]))
        .bind(&user.id)
        .bind(purpose.as_str())
        .bind(now_ms() + ttl_secs as i64 * 1000)
        .execute(&mut *conn)
        .await?;
    let requested = SecurityMessageRequested { user_id: user.id.clone(), purpose: purpose.as_str().to_owned() };
    events::record_event(conn, &requested).await?;
    Ok(user.email.as_deref().map(|to| SecurityMessage::new(&user.id, to, purpose, token, ttl_secs)))
}

/// Uses a one-time token for `purpose`: the user it was for, once; else
/// [`IdentityError::LinkUsedOrExpired`].
#[tracing::instrument(skip_all, fields(purpose = purpose.as_str()))]
pub async fn use_one_time(
    conn: &mut sqlx::AnyConnection,
    token: &str,
    purpose: Purpose,
) -> std::result::Result<String, IdentityError> {
    let hash = secret::digest(&[token.as_bytes()]);
    let row = sqlx::query(
        "SELECT user_id FROM one_time_tokens WHERE hash = $1 AND purpose = $2 AND used_ms IS NULL AND expires_ms > $3",
    )
    .bind(&hash)
    .bind(purpose.as_str())
    .bind(now_ms())
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::from)?
    .ok_or(IdentityError::LinkUsedOrExpired)?;
    let done = sqlx::query("UPDATE one_time_tokens SET used_ms = $1 WHERE hash = $2 AND used_ms IS NULL")
        .bind(now_ms())
        .bind(&hash)
        .execute(&mut *conn)
        .await
        .map_err(Error::from)?;
    if done.rows_affected() != 1 {
        return Err(IdentityError::LinkUsedOrExpired);
    }
    Ok(row.try_get("user_id").map_err(Error::from)?)
}

/// The caller an API key names; an unknown or revoked key is [`IdentityError::UnknownApiKey`].
#[tracing::instrument(skip_all)]
pub async fn api_key_principal(db: &Db, key: &str) -> std::result::Result<Principal, IdentityError> {
    let hash = secret::digest(&[key.as_bytes()]);
    let row = sqlx::query("SELECT kind, subject FROM api_keys WHERE hash = $1 AND revoked_ms IS NULL")
        .bind(hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(Error::from)?
        .ok_or(IdentityError::UnknownApiKey)?;
    let kind: String = row.try_get("kind").map_err(Error::from)?;
    let subject: String = row.try_get("subject").map_err(Error::from)?;
    Ok(match kind.as_str() {
        "edge" => Principal { outlet_id: subject.parse().ok(), subject, role: Role::Edge },
        _ => Principal { subject, role: Role::Device, outlet_id: None },
    })
}

/// An API key as listed (never the secret).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Id.
    pub id: String,
    /// `edge` or `device`.
    pub kind: String,
    /// Outlet or driver.
    pub subject: String,
    /// Label.
    pub name: String,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Revoked, Unix ms.
    pub revoked_ms: Option<i64>,
}

/// Stores `key` with the digest of its secret.
#[tracing::instrument(skip_all, fields(key.id = %key.id, kind = %key.kind))]
pub async fn insert_api_key(db: &Db, key: &ApiKey, digest: &str) -> Result<()> {
    sqlx::query("INSERT INTO api_keys (id, hash, kind, subject, name, created_ms) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&key.id)
        .bind(digest)
        .bind(&key.kind)
        .bind(&key.subject)
        .bind(&key.name)
        .bind(key.created_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Every API key, oldest first.
#[tracing::instrument(skip_all)]
pub async fn api_keys(db: &Db) -> Result<Vec<ApiKey>> {
    let rows = sqlx::query("SELECT id, kind, subject, name, created_ms, revoked_ms FROM api_keys ORDER BY created_ms")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ApiKey {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                subject: r.try_get("subject")?,
                name: r.try_get("name")?,
                created_ms: r.try_get("created_ms")?,
                revoked_ms: r.try_get("revoked_ms")?,
            })
        })
        .collect()
}

/// Revokes the active API key `id`; false if there is none.
#[tracing::instrument(skip_all, fields(key.id = id))]
pub async fn revoke_api_key(db: &Db, id: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL")
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() != 0)
}

/// Appends to a user's activity log in the caller's transaction.
#[tracing::instrument(skip_all, fields(user.id = user_id, kind = kind))]
pub async fn log_activity(conn: &mut sqlx::AnyConnection, user_id: &str, kind: &str, detail: &str) -> Result<()> {
    sqlx::query("INSERT INTO activity (user_id, at_ms, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(now_ms())
        .bind(kind)
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Erasure: the account keeps its id but loses its email, name, phone, password and preferences,
/// its activity, refresh and one-time tokens; it can no longer sign in.
#[tracing::instrument(skip_all, fields(user.id = user))]
pub async fn erase_account(conn: &mut sqlx::AnyConnection, user: &str) -> Result<()> {
    sqlx::query("UPDATE users SET email = NULL, name = 'erased', phone = NULL, password_hash = '', preferences = '{}', erased_ms = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(user)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM activity WHERE user_id = $1").bind(user).execute(&mut *conn).await?;
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1").bind(user).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM one_time_tokens WHERE user_id = $1").bind(user).execute(&mut *conn).await?;
    Ok(())
}

/// Creates the configured HQ administrator when the database has no user yet.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn bootstrap_admin(db: &Db, spec: &str) -> Result<()> {
    let Some((email, password)) = spec.split_once(':') else { return Ok(()) };
    let any: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&db.pool).await?.try_get("n")?;
    if any > 0 {
        return Ok(());
    }
    let email = validate_email(email)?;
    validate_password(password)?;
    let hash = hash_password_async(password.to_owned()).await?;
    let mut conn = db.pool.acquire().await?;
    insert_user(&mut conn, &email, &hash, "HQ administrator", Role::HqAdmin, None).await?;
    tracing::info!(email, "created the bootstrap HQ administrator");
    Ok(())
}
