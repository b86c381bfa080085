//! Customers: their profile, addresses with positions, preferences, an activity log, a data
//! export, and erasure, which removes personal data while keeping orders' financial records.

use crate::identity::{User, load_user, log_activity};
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::order::DeliveryAddress;
use patty_protocol::outlet::LatLon;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// Changes to a profile.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// New name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: Option<String>,
    /// New phone number: digits, spaces and `+ - ( )`, at most 32.
    #[serde(default)]
    #[schema(max_length = 32, pattern = "^[0-9 +()-]*$")]
    pub phone: Option<String>,
    /// New preferences (replaces them; a JSON object of at most 8 KiB).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
}

/// A customer's profile.
pub async fn profile(state: &Shared, id: &str) -> Result<Profile> {
    let user = load_user(&state.db.pool, id).await?.ok_or_else(|| Error::NotFound("no such account".into()))?;
    let row =
        sqlx::query("SELECT phone, preferences FROM users WHERE id = $1").bind(id).fetch_one(&state.db.pool).await?;
    Ok(Profile {
        user,
        phone: row.try_get("phone")?,
        preferences: serde_json::from_str(&row.try_get::<String, _>("preferences")?)?,
    })
}

/// My profile (customer).
#[utoipa::path(get, path = "/api/v1/me", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = patty_protocol::ErrorBody), (status = 404, description = "the caller has no account (an API key, or an account since erased)", body = patty_protocol::ErrorBody)))]
async fn me(State(state): State<Shared>, who: Principal) -> Result<Json<Profile>> {
    who.require(&[Role::Customer])?;
    Ok(Json(profile(&state, &who.subject).await?))
}

/// Change my profile (customer).
#[utoipa::path(patch, path = "/api/v1/me", tag = "customers", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, body = Profile), (status = 422, body = patty_protocol::ErrorBody)))]
async fn patch_me(State(state): State<Shared>, who: Principal, Json(req): Json<ProfilePatch>) -> Result<Json<Profile>> {
    who.require(&[Role::Customer])?;
    if let Some(n) = &req.name {
        crate::identity::validate_name(n)?;
    }
    if let Some(p) = &req.phone
        && (p.len() > 32 || !p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)))
    {
        return Err(Error::Validation("a phone number is digits, spaces and + - ( ), at most 32".into()));
    }
    if req.preferences.as_ref().is_some_and(|p| !p.is_object() || p.to_string().len() > 8192) {
        return Err(Error::Validation("preferences are a JSON object of at most 8 KiB".into()));
    }
    let mut tx = state.db.begin().await?;
    if let Some(n) = &req.name {
        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
            .bind(n.trim())
            .bind(&who.subject)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(p) = &req.phone {
        sqlx::query("UPDATE users SET phone = $1 WHERE id = $2")
            .bind(p.trim())
            .bind(&who.subject)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(p) = &req.preferences {
        sqlx::query("UPDATE users SET preferences = $1 WHERE id = $2")
            .bind(p.to_string())
            .bind(&who.subject)
            .execute(&mut *tx)
            .await?;
    }
    log_activity(&mut tx, &who.subject, "profile_changed", "").await?;
    tx.commit().await?;
    Ok(Json(profile(&state, &who.subject).await?))
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

/// An address to save.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAddress {
    /// Label.
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085]")]
    pub label: String,
    /// Street and number.
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085]")]
    pub line1: String,
    /// City.
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085]")]
    pub city: String,
    /// Postcode.
    #[schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085]")]
    pub postcode: String,
    /// Where it is.
    pub position: LatLon,
}

/// Reads one of `user`'s addresses; someone else's is 404.
pub async fn load_address(state: &Shared, user: &str, id: &str) -> Result<Address> {
    let row = sqlx::query("SELECT doc FROM addresses WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| Error::NotFound("no such address".into()))?;
    Ok(serde_json::from_str(&row.try_get::<String, _>("doc")?)?)
}

/// A customer's saved addresses.
pub async fn addresses_of(state: &Shared, user: &str) -> Result<Vec<Address>> {
    let rows = sqlx::query("SELECT doc FROM addresses WHERE user_id = $1 ORDER BY created_ms")
        .bind(user)
        .fetch_all(&state.db.pool)
        .await?;
    rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("doc")?)?)).collect()
}

/// My addresses (customer).
#[utoipa::path(get, path = "/api/v1/me/addresses", tag = "customers", security(("bearer" = [])), responses((status = 200, body = Vec<Address>)))]
async fn list_addresses(State(state): State<Shared>, who: Principal) -> Result<Json<Vec<Address>>> {
    who.require(&[Role::Customer])?;
    Ok(Json(addresses_of(&state, &who.subject).await?))
}

/// Save an address (customer).
#[utoipa::path(post, path = "/api/v1/me/addresses", tag = "customers", security(("bearer" = [])), request_body = NewAddress,
    responses((status = 201, body = Address), (status = 422, body = patty_protocol::ErrorBody)))]
async fn add_address(
    State(state): State<Shared>,
    who: Principal,
    Json(req): Json<NewAddress>,
) -> Result<(StatusCode, Json<Address>)> {
    who.require(&[Role::Customer])?;
    if patty_protocol::blank(&req.label) || req.label.chars().count() > 200 {
        return Err(Error::Validation("label is 1 to 200 characters".into()));
    }
    let DeliveryAddress { line1, city, postcode, position } =
        DeliveryAddress { line1: req.line1, city: req.city, postcode: req.postcode, position: req.position }
            .checked()
            .map_err(|e| Error::Validation(e.into()))?;
    let a = Address {
        id: uuid::Uuid::now_v7().to_string(),
        label: req.label.trim().into(),
        line1,
        city,
        postcode,
        position,
    };
    let mut tx = state.db.begin().await?;
    sqlx::query("INSERT INTO addresses (id, user_id, doc, created_ms) VALUES ($1, $2, $3, $4)")
        .bind(&a.id)
        .bind(&who.subject)
        .bind(serde_json::to_string(&a)?)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    log_activity(&mut tx, &who.subject, "address_added", &a.label).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Delete one of my addresses (customer).
#[utoipa::path(delete, path = "/api/v1/me/addresses/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "address id")), responses((status = 204), (status = 404, body = patty_protocol::ErrorBody)))]
async fn delete_address(State(state): State<Shared>, who: Principal, Path(id): Path<String>) -> Result<StatusCode> {
    who.require(&[Role::Customer])?;
    let done = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
        .bind(&id)
        .bind(&who.subject)
        .execute(&state.db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("no such address".into()));
    }
    Ok(StatusCode::NO_CONTENT)
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
pub async fn activity_of(state: &Shared, user: &str) -> Result<Vec<Activity>> {
    let rows = sqlx::query("SELECT at_ms, kind, detail FROM activity WHERE user_id = $1 ORDER BY id DESC LIMIT 1000")
        .bind(user)
        .fetch_all(&state.db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok(Activity { at_ms: r.try_get("at_ms")?, kind: r.try_get("kind")?, detail: r.try_get("detail")? }))
        .collect()
}

/// My activity, newest first (customer).
#[utoipa::path(get, path = "/api/v1/me/activity", tag = "customers", security(("bearer" = [])), responses((status = 200, body = Vec<Activity>)))]
async fn activity(State(state): State<Shared>, who: Principal) -> Result<Json<Vec<Activity>>> {
    who.require(&[Role::Customer])?;
    Ok(Json(activity_of(&state, &who.subject).await?))
}

/// Deletes `user`'s addresses (erasure).
pub async fn erase_addresses(conn: &mut sqlx::AnyConnection, user: &str) -> Result<()> {
    sqlx::query("DELETE FROM addresses WHERE user_id = $1").bind(user).execute(&mut *conn).await?;
    Ok(())
}

/// The customer routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Shared: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(me, patch_me))
        .routes(routes!(list_addresses, add_address))
        .routes(routes!(delete_address))
        .routes(routes!(activity))
}
