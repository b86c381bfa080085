//! Identity and access: customers register and sign in (argon2id), short-lived signed access
//! tokens (JWT, HS256) and rotating refresh tokens whose reuse revokes their whole family, email
//! verification and password reset by single-use expiring tokens (mailed through [`crate::infra::mail`];
//! the notification event names only the user and the purpose),
//! staff accounts created by HQ, and API keys for edge nodes and driver devices.
//!
//! Every route states its roles through [`Principal::require`]; staff and managers are scoped to
//! their outlet ([`Principal::require_outlet`]); a customer only ever reaches their own data.
//!
//! # Layout
//! - [`http`]: the handlers and their request and response types (no SQL).
//! - [`store`]: all of identity's SQL: users, refresh and one-time tokens, API keys, the activity
//!   log, erasure, the bootstrap administrator.
//! - [`tokens`]: signing keys, access tokens, password hashing and the rules for emails, names
//!   and passwords.
//! - [`door`]: the front door every request passes ([`front_door`]).
//!
//! May use `infra`, `events` and `outlets` (an outlet named by a staff account or an edge key
//! must exist).
//!
//! [`Principal::require`]: crate::infra::access::Principal::require
//! [`Principal::require_outlet`]: crate::infra::access::Principal::require_outlet

pub mod door;
pub mod http;
pub mod store;
pub mod tokens;

pub use door::{authenticate, front_door};
pub use http::Tokens;
pub use store::{User, bootstrap_admin, erase_account, insert_user, load_user, log_activity};
pub use tokens::{Keys, validate_name};

use crate::infra::state::Shared;
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

/// What can go wrong in identity; [`http`] maps each to its status (401, 404, 409, 422).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// An `X-Api-Key` that is unknown, revoked or not text.
    #[error("unknown or revoked API key")]
    UnknownApiKey,
    /// An `Authorization` header that is not `Bearer …`.
    #[error("the Authorization header takes a bearer access token")]
    NotBearer,
    /// An access token that does not verify or has expired.
    #[error("the access token is invalid or has expired")]
    BadAccessToken,
    /// A still-valid access token of an erased customer.
    #[error("this account no longer exists")]
    AccountErased,
    /// Sign-in with an unknown email or a wrong password (which one is not said).
    #[error("wrong email or password")]
    WrongCredentials,
    /// A refresh token never issued.
    #[error("unknown refresh token")]
    UnknownRefreshToken,
    /// A refresh token presented a second time.
    #[error("this refresh token was already used; sign in again")]
    RefreshTokenUsed,
    /// A refresh token past its time, or revoked.
    #[error("the refresh token has expired or was revoked; sign in again")]
    RefreshTokenExpired,
    /// A refresh token whose account was erased meanwhile.
    #[error("the account no longer exists")]
    AccountGone,
    /// A mailed one-time token that is unknown, used or expired.
    #[error("the link is invalid, used or expired")]
    LinkUsedOrExpired,
    /// Registration or a staff account with an email already taken.
    #[error("an account with this email exists")]
    EmailTaken,
    /// Revoking an API key that is not active.
    #[error("no such active API key")]
    NoSuchApiKey,
    /// The caller has no account (an API key, or an account since erased).
    #[error("no such user")]
    NoSuchUser,
    /// A value breaks a rule (email, name, password, role, key kind).
    #[error("{0}")]
    Invalid(&'static str),
    /// The database, a stored document, or anything else.
    #[error(transparent)]
    Other(#[from] crate::infra::error::Error),
}

/// The identity routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    IdentityState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::register))
        .routes(routes!(http::login))
        .routes(routes!(http::refresh))
        .routes(routes!(http::logout))
        .routes(routes!(http::verify_email))
        .routes(routes!(http::request_reset))
        .routes(routes!(http::confirm_reset))
        .routes(routes!(http::whoami))
        .routes(routes!(http::create_user))
        .routes(routes!(http::create_key, http::list_keys))
        .routes(routes!(http::revoke_key))
}
