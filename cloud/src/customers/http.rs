//! Customers over HTTP: my profile, my addresses, my activity; the request types. No SQL: the
//! handlers call [`super::store`].

use super::CustomerError;
use super::store::{self, Activity, Address, Profile};
use crate::identity::log_activity;
use crate::infra::access::{Principal, Role};
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::order::DeliveryAddress;
use patty_protocol::outlet::LatLon;
use serde::Deserialize;

impl From<CustomerError> for Error {
    fn from(e: CustomerError) -> Self {
        use CustomerError as C;
        match e {
            C::NoAccount | C::NoAddress => Self::NotFound(e.to_string()),
            C::Invalid(_) => Self::Validation(e.to_string()),
            C::Other(e) => e,
        }
    }
}

/// Changes to a profile.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// New name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: Option<String>,
    /// New phone number, with its country code (`+31 6 1234 5678`): E.164 once spaces, dashes,
    /// dots and parentheses are taken out; at most 32 characters. Empty: no phone number.
    #[serde(default)]
    #[schema(max_length = 32, pattern = "^[0-9 +()-]*$")]
    pub phone: Option<String>,
    /// New preferences (replaces them; a JSON object of at most 8 KiB).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
}

/// My profile (customer).
#[utoipa::path(get, path = "/api/v1/me", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = patty_protocol::ErrorBody), (status = 404, description = "the caller has no account (an API key, or an account since erased)", body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn me(State(state): State<Shared>, who: Principal) -> Result<Json<Profile>> {
    who.require(&[Role::Customer])?;
    Ok(Json(store::profile(&state, &who.subject).await?))
}

/// Change my profile (customer).
#[utoipa::path(patch, path = "/api/v1/me", tag = "customers", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, body = Profile), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn patch_me(
    State(state): State<Shared>,
    who: Principal,
    Json(req): Json<ProfilePatch>,
) -> Result<Json<Profile>> {
    who.require(&[Role::Customer])?;
    if let Some(n) = &req.name {
        crate::identity::validate_name(n)?;
    }
    if let Some(p) = &req.phone
        && !p.trim().is_empty()
        && (p.len() > 32 || crate::infra::phone::e164(p).is_err())
    {
        return Err(CustomerError::Invalid(
            "a phone number is + and the country code, then the number (8 to 15 digits; spaces, dashes, dots and parentheses allowed), at most 32 characters".into(),
        )
        .into());
    }
    if req.preferences.as_ref().is_some_and(|p| !p.is_object() || p.to_string().len() > 8192) {
        return Err(CustomerError::Invalid("preferences are a JSON object of at most 8 KiB".into()).into());
    }
    let mut tx = state.db.begin().await?;
    if let Some(n) = &req.name {
        store::set_name(&mut tx, &who.subject, n.trim()).await?;
    }
    if let Some(p) = &req.phone {
        store::set_phone(&mut tx, &who.subject, p.trim()).await?;
    }
    if let Some(p) = &req.preferences {
        store::set_preferences(&mut tx, &who.subject, p).await?;
    }
    log_activity(&mut tx, &who.subject, "profile_changed", "").await?;
    tx.commit().await?;
    Ok(Json(store::profile(&state, &who.subject).await?))
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

/// My addresses (customer).
#[utoipa::path(get, path = "/api/v1/me/addresses", tag = "customers", security(("bearer" = [])), responses((status = 200, body = Vec<Address>)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_addresses(State(state): State<Shared>, who: Principal) -> Result<Json<Vec<Address>>> {
    who.require(&[Role::Customer])?;
    Ok(Json(store::addresses_of(&state, &who.subject).await?))
}

/// Save an address (customer).
#[utoipa::path(post, path = "/api/v1/me/addresses", tag = "customers", security(("bearer" = [])), request_body = NewAddress,
    responses((status = 201, body = Address), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn add_address(
    State(state): State<Shared>,
    who: Principal,
    Json(req): Json<NewAddress>,
) -> Result<(StatusCode, Json<Address>)> {
    who.require(&[Role::Customer])?;
    if patty_protocol::blank(&req.label) || req.label.chars().count() > 200 {
        return Err(CustomerError::Invalid("label is 1 to 200 characters".into()).into());
    }
    let DeliveryAddress { line1, city, postcode, position } =
        DeliveryAddress { line1: req.line1, city: req.city, postcode: req.postcode, position: req.position }
            .checked()
            .map_err(|e| CustomerError::Invalid(e.into()))?;
    let a = Address {
        id: uuid::Uuid::now_v7().to_string(),
        label: req.label.trim().into(),
        line1,
        city,
        postcode,
        position,
    };
    let mut tx = state.db.begin().await?;
    store::insert_address(&mut tx, &who.subject, &a).await?;
    log_activity(&mut tx, &who.subject, "address_added", &a.label).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Delete one of my addresses (customer).
#[utoipa::path(delete, path = "/api/v1/me/addresses/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "address id")), responses((status = 204), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(address.id = %id))]
pub async fn delete_address(State(state): State<Shared>, who: Principal, Path(id): Path<String>) -> Result<StatusCode> {
    who.require(&[Role::Customer])?;
    if !store::delete_address(&state.db, &who.subject, &id).await? {
        return Err(CustomerError::NoAddress.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// My activity, newest first (customer).
#[utoipa::path(get, path = "/api/v1/me/activity", tag = "customers", security(("bearer" = [])), responses((status = 200, body = Vec<Activity>)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn activity(State(state): State<Shared>, who: Principal) -> Result<Json<Vec<Activity>>> {
    who.require(&[Role::Customer])?;
    Ok(Json(store::activity_of(&state, &who.subject).await?))
}
