//! Identity and access: customers register and sign in (argon2id), short-lived signed access
//! tokens (JWT, HS256) and rotating refresh tokens whose reuse revokes their whole family, email
//! verification and password reset by single-use expiring tokens (mailed through [`crate::infra::mail`];
//! the notification event names only the user and the purpose),
//! staff accounts created by HQ, and API keys for edge nodes and driver devices.
//!
//! Every route states its roles through [`Principal::require`]; staff and managers are scoped to
//! their outlet ([`Principal::require_outlet`]); a customer only ever reaches their own data.

use crate::events::{self, Topic};
use crate::infra::access::{ClientAddr, Principal, Role};
use crate::infra::db::{Db, now_ms};
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::limits::Client;
use crate::infra::mail::{Purpose, SecurityMessage};
use crate::infra::state::Shared;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use patty_protocol::ids::OutletId;
use patty_service::http::RemoteAddr;
use patty_service::secret;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::net::IpAddr;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What identity's handlers and the front door use.
#[derive(Clone)]
pub struct IdentityState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// Access-token signing keys.
    pub keys: Arc<Keys>,
    /// Rate limits and the proxies trusted to name a client.
    pub limits: Arc<crate::infra::limits::Limits>,
    /// Where security messages (verification, password reset) are handed, never through events.
    pub mail: crate::infra::mail::Mailer,
    /// Customers last confirmed not erased, and when.
    pub live_customers: Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
}
crate::shared_state!(IdentityState);

impl IdentityState {
    /// Forgets that `user` was live, so this replica refuses their tokens at once (erasure).
    pub fn forget(&self, user: &str) {
        if let Ok(mut m) = self.live_customers.lock() {
            m.remove(user);
        }
    }
}

/// The signing keys for access tokens, and who issues them for whom.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

/// Clock difference tolerated between the replica that signed a token and the one checking it.
const LEEWAY_SECS: u64 = 5;

impl Keys {
    /// Keys from a shared secret, for tokens issued by `issuer` to `audience`: a token is accepted
    /// only with both, so one signed for another service sharing the secret is refused. An empty
    /// secret is refused.
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Result<Self> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let bad = |e: jsonwebtoken::errors::Error| Error::Internal(format!("access-token key: {e}"));
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(bad)?,
            decoding: DecodingKey::from_secret(secret).map_err(bad)?,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }
}

/// What an access token says.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outlet: Option<OutletId>,
    iat: i64,
    exp: i64,
}

/// The caller the request's credentials name: `None` without credentials, an error when they do
/// not verify (an unknown API key, a bad or expired token, an erased account).
async fn authenticate(headers: &HeaderMap, state: &IdentityState) -> Result<Option<Principal>> {
    if let Some(key) = headers.get("x-api-key") {
        let key = key.to_str().map_err(|_| Error::Unauthorized("unknown or revoked API key".into()))?;
        return api_key_principal(&state.db, key).await.map(Some);
    }
    let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) else { return Ok(None) };
    let token = auth
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Error::Unauthorized("the Authorization header takes a bearer access token".into()))?;
    let data = jsonwebtoken::decode::<Claims>(token, &state.keys.decoding, &state.keys.validation)
        .map_err(|_| Error::Unauthorized("the access token is invalid or has expired".into()))?;
    if data.claims.role == Role::Customer {
        ensure_not_erased(state, &data.claims.sub).await?;
    }
    Ok(Some(Principal { subject: data.claims.sub, role: data.claims.role, outlet_id: data.claims.outlet }))
}

/// The front door of every request: names the client (verified principal, else address), counts
/// the request against it, and answers 401 for credentials that do not verify (counted against
/// the address, so invented tokens buy no fresh buckets) and 429 over the limit. What it verified
/// rides on the request for [`Principal`] and [`ClientAddr`].
pub async fn front_door(State(state): State<IdentityState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<RemoteAddr>>().map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.0.ip());
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let addr = state.limits.client_address(peer, &forwarded);
    let who = authenticate(req.headers(), &state).await;
    let client = match &who {
        Ok(Some(p)) => Client::Principal(format!("{}:{}", p.role.as_str(), p.subject)),
        _ => Client::Address(addr),
    };
    if let Err(e) = state.limits.request(&client) {
        return e.into_response();
    }
    match who {
        Err(e) => return e.into_response(),
        Ok(Some(p)) => {
            req.extensions_mut().insert(p);
        }
        Ok(None) => {}
    }
    req.extensions_mut().insert(ClientAddr(addr));
    next.run(req).await
}

/// How long a replica trusts that a customer account still exists before asking again.
const LIVE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Refuses a still-valid access token whose customer erased their account (checked at most once a
/// second per customer and replica; the replica that erases forgets the customer at once).
async fn ensure_not_erased(state: &IdentityState, user_id: &str) -> Result<()> {
    let fresh =
        state.live_customers.lock().ok().and_then(|m| m.get(user_id).copied()).is_some_and(|t| t.elapsed() < LIVE_TTL);
    if fresh {
        return Ok(());
    }
    let live = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND erased_ms IS NULL")
        .bind(user_id)
        .fetch_optional(&state.db.pool)
        .await?
        .is_some();
    if !live {
        return Err(Error::Unauthorized("this account no longer exists".into()));
    }
    if let Ok(mut m) = state.live_customers.lock() {
        if m.len() > 100_000 {
            m.retain(|_, t| t.elapsed() < LIVE_TTL);
        }
        m.insert(user_id.to_owned(), std::time::Instant::now());
    }
    Ok(())
}

async fn api_key_principal(db: &Db, key: &str) -> Result<Principal> {
    let hash = secret::digest(&[key.as_bytes()]);
    let row = sqlx::query("SELECT kind, subject FROM api_keys WHERE hash = $1 AND revoked_ms IS NULL")
        .bind(hash)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| Error::Unauthorized("unknown or revoked API key".into()))?;
    let kind: String = row.try_get("kind")?;
    let subject: String = row.try_get("subject")?;
    Ok(match kind.as_str() {
        "edge" => Principal { outlet_id: subject.parse().ok(), subject, role: Role::Edge },
        _ => Principal { subject, role: Role::Device, outlet_id: None },
    })
}

fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&secret::key_bytes()[..16]).map_err(|e| Error::Internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hash: {e}")))
}

fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A real hash of nothing anyone can type, verified against when the email is unknown.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&secret::token()).unwrap_or_default()).clone()
}

/// Hashes on the blocking pool: argon2id takes tens of milliseconds by design.
async fn hash_password_async(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| Error::Internal(e.to_string()))?
}

/// An email address as the documents' pattern states it: printable ASCII without spaces, one
/// `@`, a domain with a dot inside; stored in lower case.
fn validate_email(email: &str) -> Result<String> {
    let e = email.to_ascii_lowercase();
    let part = |s: &str| s.chars().all(|c| c.is_ascii_graphic() && c != '@');
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && part(l) && part(d) && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        });
    if ok { Ok(e) } else { Err(Error::Validation("not a valid email address".into())) }
}

/// A person's name: 1 to 100 characters, not all white space; trimmed.
pub fn validate_name(name: &str) -> Result<&str> {
    if patty_protocol::blank(name) || name.chars().count() > 100 {
        return Err(Error::Validation("a name is 1 to 100 characters".into()));
    }
    Ok(name.trim())
}

fn validate_password(p: &str) -> Result<()> {
    if (8..=128).contains(&p.chars().count()) {
        Ok(())
    } else {
        Err(Error::Validation("a password is 8 to 128 characters".into()))
    }
}

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

async fn issue(
    state: &IdentityState,
    user: User,
    family: Option<String>,
    conn: &mut sqlx::AnyConnection,
) -> Result<Tokens> {
    let now = now_ms();
    let claims = Claims {
        iss: state.keys.issuer.clone(),
        aud: state.keys.audience.clone(),
        sub: user.id.clone(),
        role: user.role,
        outlet: user.outlet_id,
        iat: now / 1000,
        exp: now / 1000 + state.config.auth.access_ttl_secs as i64,
    };
    let access_token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &state.keys.encoding)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let refresh_token = secret::token();
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, user_id, family, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(secret::digest(&[refresh_token.as_bytes()]))
    .bind(&user.id)
    .bind(family.unwrap_or_else(secret::token))
    .bind(now)
    .bind(now + state.config.auth.refresh_ttl_secs as i64 * 1000)
    .execute(&mut *conn)
    .await?;
    Ok(Tokens { user, access_token, refresh_token, expires_in: state.config.auth.access_ttl_secs })
}

/// Inserts a user; a taken email is 409.
pub async fn insert_user(
    conn: &mut sqlx::AnyConnection,
    email: &str,
    password_hash: &str,
    name: &str,
    role: Role,
    outlet: Option<OutletId>,
) -> Result<User> {
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
        Err(e) if crate::infra::db::is_unique_violation(&e) => {
            Err(Error::Conflict("an account with this email exists".into()))
        }
        Err(e) => Err(e.into()),
        Ok(_) => Ok(user),
    }
}

/// Stores a fresh one-time token for `user` and records the request's event, which names the user
/// and the purpose only. The token goes only into the returned message, for the caller to hand to
/// [`crate::infra::mail::Mailer::send`] once its transaction has committed.
async fn one_time_token(
    conn: &mut sqlx::AnyConnection,
    state: &IdentityState,
    user: &User,
    purpose: Purpose,
) -> Result<Option<SecurityMessage>> {
    let token = secret::token();
    let ttl = state.config.auth.one_time_ttl_secs;
    sqlx::query("INSERT INTO one_time_tokens (hash, user_id, purpose, expires_ms) VALUES ($1, $2, $3, $4)")
        .bind(secret::digest(&[token.as_bytes()]))
        .bind(&user.id)
        .bind(purpose.as_str())
        .bind(now_ms() + ttl as i64 * 1000)
        .execute(&mut *conn)
        .await?;
    let data = serde_json::json!({ "user_id": user.id, "purpose": purpose.as_str() });
    events::record(conn, Topic::Notification, &user.id, &format!("notification.{}_requested", purpose.as_str()), &data)
        .await?;
    Ok(user.email.as_deref().map(|to| SecurityMessage::new(&user.id, to, purpose, token, ttl)))
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
async fn register(
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
    let user = insert_user(&mut tx, &email, &hash, name, Role::Customer, None).await?;
    events::record(
        &mut tx,
        Topic::Customer,
        &user.id,
        "customer.registered",
        &serde_json::json!({ "user_id": user.id }),
    )
    .await?;
    let message = one_time_token(&mut tx, &state, &user, Purpose::EmailVerification).await?;
    log_activity(&mut tx, &user.id, "registered", "").await?;
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
async fn login(
    State(state): State<IdentityState>,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<SignIn>,
) -> Result<Json<Tokens>> {
    state.limits.sign_in(addr, &req.email)?;
    let email = req.email.trim().to_ascii_lowercase();
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1 AND erased_ms IS NULL")
        .bind(&email)
        .fetch_optional(&state.db.pool)
        .await?;
    let (id, stored) = match row {
        Some(r) => (r.try_get::<String, _>("id")?, r.try_get::<String, _>("password_hash")?),
        None => (String::new(), String::new()),
    };
    let ok = tokio::task::spawn_blocking(move || {
        // Same work for an unknown email, so timing does not reveal which emails exist.
        let stored = if stored.is_empty() { dummy_hash() } else { stored };
        verify_password(&req.password, &stored)
    })
    .await
    .unwrap_or(false);
    let user = match (ok, load_user(&state.db.pool, &id).await?) {
        (true, Some(u)) => u,
        _ => return Err(Error::Unauthorized("wrong email or password".into())),
    };
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(issue(&state, user, None, &mut conn).await?))
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
async fn refresh(State(state): State<IdentityState>, Json(req): Json<RefreshRequest>) -> Result<Json<Tokens>> {
    let hash = secret::digest(&[req.refresh_token.as_bytes()]);
    let mut tx = state.db.begin().await?;
    let row = sqlx::query("SELECT user_id, family, expires_ms, used, revoked FROM refresh_tokens WHERE hash = $1")
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::Unauthorized("unknown refresh token".into()))?;
    let family: String = row.try_get("family")?;
    let user_id: String = row.try_get("user_id")?;
    if row.try_get::<i64, _>("used")? != 0 {
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1").bind(&family).execute(&mut *tx).await?;
        tx.commit().await?;
        tracing::warn!(user_id, "a used refresh token was presented again; its family is revoked");
        return Err(Error::Unauthorized("this refresh token was already used; sign in again".into()));
    }
    if row.try_get::<i64, _>("revoked")? != 0 || row.try_get::<i64, _>("expires_ms")? < now_ms() {
        return Err(Error::Unauthorized("the refresh token has expired or was revoked; sign in again".into()));
    }
    // Marking it used is conditional, so two concurrent refreshes cannot both succeed.
    let marked = sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE hash = $1 AND used = 0")
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    if marked.rows_affected() != 1 {
        return Err(Error::Unauthorized("this refresh token was already used; sign in again".into()));
    }
    let user = load_user(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("the account no longer exists".into()))?;
    let tokens = issue(&state, user, Some(family), &mut tx).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// Sign out: revokes the refresh token's whole family.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity", request_body = RefreshRequest,
    responses((status = 204)))]
async fn logout(State(state): State<IdentityState>, Json(req): Json<RefreshRequest>) -> Result<StatusCode> {
    let hash = secret::digest(&[req.refresh_token.as_bytes()]);
    sqlx::query(
        "UPDATE refresh_tokens SET revoked = 1 WHERE family = (SELECT family FROM refresh_tokens WHERE hash = $1)",
    )
    .bind(hash)
    .execute(&state.db.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A single-use token from an email.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token.
    pub token: String,
}

async fn use_one_time(conn: &mut sqlx::AnyConnection, token: &str, purpose: Purpose) -> Result<String> {
    let hash = secret::digest(&[token.as_bytes()]);
    let row = sqlx::query(
        "SELECT user_id FROM one_time_tokens WHERE hash = $1 AND purpose = $2 AND used_ms IS NULL AND expires_ms > $3",
    )
    .bind(&hash)
    .bind(purpose.as_str())
    .bind(now_ms())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::Validation("the link is invalid, used or expired".into()))?;
    let done = sqlx::query("UPDATE one_time_tokens SET used_ms = $1 WHERE hash = $2 AND used_ms IS NULL")
        .bind(now_ms())
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Err(Error::Validation("the link is invalid, used or expired".into()));
    }
    Ok(row.try_get("user_id")?)
}

/// Confirm an email address with the token that was mailed.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "identity", request_body = TokenRequest,
    responses((status = 204), (status = 422, body = patty_protocol::ErrorBody)))]
async fn verify_email(State(state): State<IdentityState>, Json(req): Json<TokenRequest>) -> Result<StatusCode> {
    let mut tx = state.db.begin().await?;
    let user_id = use_one_time(&mut tx, &req.token, Purpose::EmailVerification).await?;
    sqlx::query("UPDATE users SET email_verified = 1 WHERE id = $1").bind(&user_id).execute(&mut *tx).await?;
    log_activity(&mut tx, &user_id, "email_verified", "").await?;
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
async fn request_reset(
    State(state): State<IdentityState>,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<ResetRequest>,
) -> Result<StatusCode> {
    state.limits.sign_in(addr, &req.email)?;
    let email = req.email.trim().to_ascii_lowercase();
    let id: Option<String> = sqlx::query("SELECT id FROM users WHERE email = $1 AND erased_ms IS NULL")
        .bind(&email)
        .fetch_optional(&state.db.pool)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
    if let Some(id) = id
        && let Some(user) = load_user(&state.db.pool, &id).await?
    {
        let mut tx = state.db.begin().await?;
        let message = one_time_token(&mut tx, &state, &user, Purpose::PasswordReset).await?;
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
async fn confirm_reset(State(state): State<IdentityState>, Json(req): Json<ResetConfirm>) -> Result<StatusCode> {
    validate_password(&req.password)?;
    let hash = hash_password_async(req.password).await?;
    let mut tx = state.db.begin().await?;
    let user_id = use_one_time(&mut tx, &req.token, Purpose::PasswordReset).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1").bind(&user_id).execute(&mut *tx).await?;
    log_activity(&mut tx, &user_id, "password_reset", "").await?;
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
async fn create_user(
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
            return Err(Error::Validation("that role is not created here".into()));
        }
        (_, None) if scoped => return Err(Error::Validation("outlet staff and managers need an outlet_id".into())),
        (_, Some(_)) if !scoped => {
            return Err(Error::Validation("only outlet staff and managers have an outlet".into()));
        }
        _ => {}
    }
    if let Some(o) = req.outlet_id {
        crate::outlets::load(&state.db, o).await?;
    }
    let hash = hash_password_async(req.password).await?;
    let mut tx = state.db.begin().await?;
    let user = insert_user(&mut tx, &email, &hash, validate_name(&req.name)?, req.role, req.outlet_id).await?;
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
async fn create_key(
    State(state): State<IdentityState>,
    who: Principal,
    Json(req): Json<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    who.require(&[])?;
    match req.kind.as_str() {
        "edge" => {
            let outlet: OutletId =
                req.subject.parse().map_err(|_| Error::Validation("an edge key's subject is an outlet id".into()))?;
            crate::outlets::load(&state.db, outlet).await?;
        }
        "device" => {
            let user = load_user(&state.db.pool, &req.subject).await?;
            if !user.is_some_and(|u| u.role == Role::Driver) {
                return Err(Error::Validation("a device key's subject is a driver's user id".into()));
            }
        }
        _ => return Err(Error::Validation("kind is edge or device".into())),
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
    sqlx::query("INSERT INTO api_keys (id, hash, kind, subject, name, created_ms) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&key.id)
        .bind(secret::digest(&[secret_value.as_bytes()]))
        .bind(&key.kind)
        .bind(&key.subject)
        .bind(&key.name)
        .bind(key.created_ms)
        .execute(&state.db.pool)
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { api_key: key, secret: secret_value })))
}

/// List API keys (HQ).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKey>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn list_keys(State(state): State<IdentityState>, who: Principal) -> Result<Json<Vec<ApiKey>>> {
    who.require(&[])?;
    let rows = sqlx::query("SELECT id, kind, subject, name, created_ms, revoked_ms FROM api_keys ORDER BY created_ms")
        .fetch_all(&state.db.pool)
        .await?;
    let keys = rows
        .iter()
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
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(keys))
}

/// Revoke an API key (HQ).
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "identity", security(("bearer" = [])),
    params(("id" = String, Path, description = "key id")),
    responses((status = 204), (status = 404, body = patty_protocol::ErrorBody)))]
async fn revoke_key(State(state): State<IdentityState>, who: Principal, Path(id): Path<String>) -> Result<StatusCode> {
    who.require(&[])?;
    let done = sqlx::query("UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL")
        .bind(now_ms())
        .bind(&id)
        .execute(&state.db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("no such active API key".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Who the access token belongs to (any signed-in person; API keys are not people).
#[utoipa::path(get, path = "/api/v1/auth/whoami", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = patty_protocol::ErrorBody), (status = 403, body = patty_protocol::ErrorBody),
        (status = 404, description = "the caller has no account (an API key, or an account since erased)", body = patty_protocol::ErrorBody)))]
async fn whoami(State(state): State<IdentityState>, who: Principal) -> Result<Json<User>> {
    who.require(&[Role::Customer, Role::OutletStaff, Role::OutletManager, Role::Driver])?;
    load_user(&state.db.pool, &who.subject).await?.map(Json).ok_or_else(|| Error::NotFound("no such user".into()))
}

/// Creates the configured HQ administrator when the database has no user yet.
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

/// The identity routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    IdentityState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify_email))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(whoami))
        .routes(routes!(create_user))
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

/// Appends to a user's activity log in the caller's transaction.
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
