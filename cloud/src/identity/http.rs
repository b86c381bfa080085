//! Identity over HTTP: register, sign in, refresh, sign out, email verification, password reset,
//! staff accounts, API keys and whoami, with their request and response types. No SQL: the
//! handlers call [`super::store`] and [`super::tokens`].

use super::store::{self, ApiKey, User};
use super::tokens::{
    dummy_hash, hash_password_async, validate_email, validate_name, validate_password, verify_password,
};
use super::{IdentityError, IdentityState};
use crate::events::{self};
use crate::infra::access::{ClientAddr, Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::mail::{Purpose, SecurityMessage};
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::events::CustomerRegistered;
use patty_protocol::ids::OutletId;
use patty_service::secret;
use serde::{Deserialize, Serialize};

impl From<IdentityError> for Error {
    fn from(e: IdentityError) -> Self {
        use IdentityError as I;
        match e {
            I::UnknownApiKey
            | I::NotBearer
            | I::BadAccessToken
            | I::AccountErased
            | I::WrongCredentials
            | I::UnknownRefreshToken
            | I::RefreshTokenUsed
            | I::RefreshTokenExpired
            | I::AccountGone => Self::Unauthorized(e.to_string()),
            I::Invalid(_) | I::LinkUsedOrExpired => Self::Validation(e.to_string()),
            I::EmailTaken => Self::Conflict(e.to_string()),
            I::NoSuchApiKey | I::NoSuchUser => Self::NotFound(e.to_string()),
            I::Other(e) => e,
        }
    }
}

/// Access and refresh tokens.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tokens {
    /// The user.
    pub user: User,
    /// Send as `Authorization: Bearer …`; short-lived.
    pub access_token: String,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Signs an access token for `user` and stores a fresh refresh token in `family` (a new family
/// when `None`: a sign-in).
async fn issue(
    state: &IdentityState,
    user: User,
    family: Option<String>,
    conn: &mut sqlx::AnyConnection,
) -> Result<Tokens> {
    let now = now_ms();
    let auth = &state.config.auth;
    let access_token = state.keys.sign(&user.id, user.role, user.outlet_id, now, auth.access_ttl_secs)?;
    let refresh_token = secret::token();
    let family = family.unwrap_or_else(secret::token);
    let expires = now + auth.refresh_ttl_secs as i64 * 1000;
    store::insert_refresh_token(conn, &secret::digest(&[refresh_token.as_bytes()]), &user.id, &family, now, expires)
        .await?;
    Ok(Tokens { user, access_token, refresh_token, expires_in: auth.access_ttl_secs })
}

/// A new customer account.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// Email address (the sign-in name).
    #[schema(max_length = 254, pattern = "^[!-?A-~]+@[!--/-?A-~][!-?A-~]*\\.[!-?A-~]*[!--/-?A-~]$")]
    pub email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: String,
}

/// Register as a customer; an email verification is queued.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "identity", request_body = Register,
    responses((status = 201, body = Tokens), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn register(
    State(state): State<IdentityState>,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<Register>,
) -> Result<(StatusCode, Json<Tokens>)> {
    state.limits.sign_in(addr, &req.email)?;
    let email = validate_email(&req.email)?;
    validate_password(&req.password)?;
    let name = validate_name(&req.name)?;
    let hash = hash_password_async(req.password).await?;
    let mut tx = state.db.begin().await?;
    let user = store::insert_user(&mut tx, &email, &hash, name, Role::Customer, None).await?;
    events::record_event(&mut tx, &CustomerRegistered { user_id: user.id.clone() }).await?;
    let ttl = state.config.auth.one_time_ttl_secs;
    let message = store::one_time_token(&mut tx, ttl, &user, Purpose::EmailVerification).await?;
    store::log_activity(&mut tx, &user.id, "registered", "").await?;
    let tokens = issue(&state, user, None, &mut tx).await?;
    tx.commit().await?;
    if let Some(m) = message {
        state.mail.send(m).await;
    }
    Ok((StatusCode::CREATED, Json(tokens)))
}

/// Email and password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = SignIn,
    responses((status = 200, body = Tokens), (status = 401, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn login(
    State(state): State<IdentityState>,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<SignIn>,
) -> Result<Json<Tokens>> {
    state.limits.sign_in(addr, &req.email)?;
    let email = req.email.trim().to_ascii_lowercase();
    let (id, stored) = store::credentials_of(&state.db, &email).await?.unwrap_or_default();
    let ok = tokio::task::spawn_blocking(move || {
        // Same work for an unknown email, so timing does not reveal which emails exist.
        let stored = if stored.is_empty() { dummy_hash() } else { stored };
        verify_password(&req.password, &stored)
    })
    .await
    .unwrap_or(false);
    let user = match (ok, store::load_user(&state.db.pool, &id).await?) {
        (true, Some(u)) => u,
        _ => return Err(IdentityError::WrongCredentials.into()),
    };
    let mut conn = state.db.pool.acquire().await?;
    // Where from, as a digest (the activity log keeps no address); somewhere new after earlier
    // sign-ins is worth a warning to the account's owner.
    let place = secret::digest(&[b"sign-in:", addr.to_string().as_bytes()]);
    let new_place = store::new_sign_in_place(&mut conn, &user.id, &place).await?;
    store::log_activity(&mut conn, &user.id, "signed_in", &place).await?;
    let warn = new_place.then(|| user.email.clone()).flatten().map(|email| {
        let when = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
        SecurityMessage::new(&user.id, &email, Purpose::NewSignIn, String::new(), 0)
            .with("address", addr.to_string())
            .with("when", when)
    });
    let tokens = issue(&state, user, None, &mut conn).await?;
    drop(conn);
    if let Some(m) = warn {
        state.mail.send(m).await;
    }
    Ok(Json(tokens))
}

/// A refresh token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last sign-in or refresh.
    pub refresh_token: String,
}

/// Exchange a refresh token for a new pair. Each refresh token works once: presenting a used one
/// again (a stolen copy) revokes every token of its family.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity", request_body = RefreshRequest,
    responses((status = 200, body = Tokens), (status = 401, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn refresh(State(state): State<IdentityState>, Json(req): Json<RefreshRequest>) -> Result<Json<Tokens>> {
    let hash = secret::digest(&[req.refresh_token.as_bytes()]);
    let mut tx = state.db.begin().await?;
    let token = store::refresh_token(&mut tx, &hash).await?.ok_or(IdentityError::UnknownRefreshToken)?;
    if token.used {
        store::revoke_family(&mut tx, &token.family).await?;
        tx.commit().await?;
        tracing::warn!(user_id = token.user_id, "a used refresh token was presented again; its family is revoked");
        return Err(IdentityError::RefreshTokenUsed.into());
    }
    if token.revoked || token.expires_ms < now_ms() {
        return Err(IdentityError::RefreshTokenExpired.into());
    }
    if !store::mark_refresh_used(&mut tx, &hash).await? {
        return Err(IdentityError::RefreshTokenUsed.into());
    }
    let user = store::load_user(&mut *tx, &token.user_id).await?.ok_or(IdentityError::AccountGone)?;
    let tokens = issue(&state, user, Some(token.family), &mut tx).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// Sign out: revokes the refresh token's whole family.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity", request_body = RefreshRequest,
    responses((status = 204)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn logout(State(state): State<IdentityState>, Json(req): Json<RefreshRequest>) -> Result<StatusCode> {
    store::revoke_family_of(&state.db, &secret::digest(&[req.refresh_token.as_bytes()])).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A single-use token from an email.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token.
    pub token: String,
}

/// Confirm an email address with the token that was mailed.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "identity", request_body = TokenRequest,
    responses((status = 204), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn verify_email(State(state): State<IdentityState>, Json(req): Json<TokenRequest>) -> Result<StatusCode> {
    let mut tx = state.db.begin().await?;
    let user_id = store::use_one_time(&mut tx, &req.token, Purpose::EmailVerification).await?;
    store::mark_email_verified(&mut tx, &user_id).await?;
    store::log_activity(&mut tx, &user_id, "email_verified", "").await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whose password to reset.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's email.
    pub email: String,
}

/// Ask for a password reset. Always 202, so the answer does not reveal which emails have accounts.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "identity", request_body = ResetRequest, responses((status = 202)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn request_reset(
    State(state): State<IdentityState>,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<ResetRequest>,
) -> Result<StatusCode> {
    state.limits.sign_in(addr, &req.email)?;
    let email = req.email.trim().to_ascii_lowercase();
    let id = store::credentials_of(&state.db, &email).await?.map(|(id, _)| id);
    if let Some(id) = id
        && let Some(user) = store::load_user(&state.db.pool, &id).await?
    {
        let mut tx = state.db.begin().await?;
        let ttl = state.config.auth.one_time_ttl_secs;
        let message = store::one_time_token(&mut tx, ttl, &user, Purpose::PasswordReset).await?;
        tx.commit().await?;
        if let Some(m) = message {
            state.mail.send(m).await;
        }
    }
    Ok(StatusCode::ACCEPTED)
}

/// A new password with the mailed token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The mailed token.
    pub token: String,
    /// The new password, 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// Set a new password with the mailed token; every refresh token of the account is revoked.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "identity", request_body = ResetConfirm,
    responses((status = 204), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn confirm_reset(State(state): State<IdentityState>, Json(req): Json<ResetConfirm>) -> Result<StatusCode> {
    validate_password(&req.password)?;
    let hash = hash_password_async(req.password).await?;
    let mut tx = state.db.begin().await?;
    let user_id = store::use_one_time(&mut tx, &req.token, Purpose::PasswordReset).await?;
    store::set_password(&mut tx, &user_id, &hash).await?;
    store::revoke_refresh_of(&mut tx, &user_id).await?;
    store::log_activity(&mut tx, &user_id, "password_reset", "").await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff, manager, driver or HQ account.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Email.
    #[schema(max_length = 254, pattern = "^[!-?A-~]+@[!--/-?A-~][!-?A-~]*\\.[!-?A-~]*[!--/-?A-~]$")]
    pub email: String,
    /// Initial password, 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: String,
    /// Role (not customer: customers register themselves).
    pub role: Role,
    /// The outlet, required for outlet staff and managers.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub outlet_id: Option<OutletId>,
}

/// Create a staff, manager, driver or HQ account (HQ).
#[utoipa::path(post, path = "/api/v1/users", tag = "identity", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(role = req.role.as_str()))]
pub async fn create_user(
    State(state): State<IdentityState>,
    who: Principal,
    Json(req): Json<NewUser>,
) -> Result<(StatusCode, Json<User>)> {
    who.require(&[])?;
    let email = validate_email(&req.email)?;
    validate_password(&req.password)?;
    let scoped = matches!(req.role, Role::OutletStaff | Role::OutletManager);
    match (req.role, req.outlet_id) {
        (Role::Customer | Role::Edge | Role::Device, _) => {
            return Err(IdentityError::Invalid("that role is not created here").into());
        }
        (_, None) if scoped => return Err(IdentityError::Invalid("outlet staff and managers need an outlet_id").into()),
        (_, Some(_)) if !scoped => {
            return Err(IdentityError::Invalid("only outlet staff and managers have an outlet").into());
        }
        _ => {}
    }
    if let Some(o) = req.outlet_id {
        crate::outlets::load(&state.db, o).await?;
    }
    let hash = hash_password_async(req.password).await?;
    let mut tx = state.db.begin().await?;
    let user = store::insert_user(&mut tx, &email, &hash, validate_name(&req.name)?, req.role, req.outlet_id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// An API key to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// `edge` (for an outlet's edge node) or `device` (for a driver's phone or vehicle agent).
    #[schema(pattern = "^(edge|device)$")]
    pub kind: String,
    /// The outlet id (edge) or the driver's user id (device).
    pub subject: String,
    /// A label.
    pub name: String,
}

/// A new API key: the secret is shown this once.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key as listed.
    pub api_key: ApiKey,
    /// Send as `X-Api-Key`; stored only as a digest.
    pub secret: String,
}

/// Create an API key for an edge node or a driver device (HQ).
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "identity", security(("bearer" = [])), request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(kind = %req.kind))]
pub async fn create_key(
    State(state): State<IdentityState>,
    who: Principal,
    Json(req): Json<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    who.require(&[])?;
    match req.kind.as_str() {
        "edge" => {
            let outlet: OutletId =
                req.subject.parse().map_err(|_| IdentityError::Invalid("an edge key's subject is an outlet id"))?;
            crate::outlets::load(&state.db, outlet).await?;
        }
        "device" => {
            let user = store::load_user(&state.db.pool, &req.subject).await?;
            if !user.is_some_and(|u| u.role == Role::Driver) {
                return Err(IdentityError::Invalid("a device key's subject is a driver's user id").into());
            }
        }
        _ => return Err(IdentityError::Invalid("kind is edge or device").into()),
    }
    let secret_value = format!("pp_{}", secret::token());
    let key = ApiKey {
        id: uuid::Uuid::now_v7().to_string(),
        kind: req.kind,
        subject: req.subject,
        name: req.name,
        created_ms: now_ms(),
        revoked_ms: None,
    };
    store::insert_api_key(&state.db, &key, &secret::digest(&[secret_value.as_bytes()])).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { api_key: key, secret: secret_value })))
}

/// List API keys (HQ).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKey>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_keys(State(state): State<IdentityState>, who: Principal) -> Result<Json<Vec<ApiKey>>> {
    who.require(&[])?;
    Ok(Json(store::api_keys(&state.db).await?))
}

/// Revoke an API key (HQ).
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "identity", security(("bearer" = [])),
    params(("id" = String, Path, description = "key id")),
    responses((status = 204), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(key.id = %id))]
pub async fn revoke_key(
    State(state): State<IdentityState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    who.require(&[])?;
    if !store::revoke_api_key(&state.db, &id).await? {
        return Err(IdentityError::NoSuchApiKey.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Who the access token belongs to (any signed-in person; API keys are not people).
#[utoipa::path(get, path = "/api/v1/auth/whoami", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = patty_protocol::ErrorBody), (status = 403, body = patty_protocol::ErrorBody),
        (status = 404, description = "the caller has no account (an API key, or an account since erased)", body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(user.id = %who.subject))]
pub async fn whoami(State(state): State<IdentityState>, who: Principal) -> Result<Json<User>> {
    who.require(&[Role::Customer, Role::OutletStaff, Role::OutletManager, Role::Driver])?;
    Ok(Json(store::load_user(&state.db.pool, &who.subject).await?.ok_or(IdentityError::NoSuchUser)?))
}
