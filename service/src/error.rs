//! The one error type of the HTTP services. Domain code returns it; HTTP renders it as the shared
//! JSON error body ([`patty_protocol::ErrorBody`]). A 5xx tells the client only "internal error"
//! and logs the cause. The storage variants exist with the `rusqlite` and `sqlx` features.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use patty_protocol::ErrorCode;

/// Result alias for the services.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value breaks a rule (quantity zero, unknown modifier, out of range).
    #[error("{0}")]
    Validation(String),
    /// No such thing (or not the caller's to see).
    #[error("{0}")]
    NotFound(String),
    /// The current state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// Sold out, outside its window, not enough stock, outside the delivery zone.
    #[error("{0}")]
    Unavailable(String),
    /// No valid session or token.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller's role or scope may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts or requests; the client may try again after `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        /// What was refused.
        message: String,
        /// Seconds until a new attempt can succeed (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// A signed request whose signature is missing, wrong or stale (400).
    #[error("{0}")]
    BadSignature(String),
    /// A payment provider refused (422) or failed (502); nothing was taken.
    #[error("{message}")]
    Provider {
        /// What the provider said.
        message: String,
        /// It refused (the request will not succeed as it is) rather than failed.
        refused: bool,
    },
    /// SQLite failed (the edge).
    #[cfg(feature = "rusqlite")]
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database failed (the cloud).
    #[cfg(feature = "sqlx")]
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored document could not be decoded.
    #[error("stored document: {0}")]
    Decode(#[from] serde_json::Error),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status and machine-readable code this error answers with.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Validation),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::Unavailable(_) => (StatusCode::CONFLICT, ErrorCode::Unavailable),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::BadSignature(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadSignature),
            Self::Provider { refused: true, .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PaymentProvider),
            Self::Provider { refused: false, .. } => (StatusCode::BAD_GATEWAY, ErrorCode::PaymentProvider),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

/// `e` and its causes on one line (`a: b: c`): an HTTP client's error says only "error sending
/// request" until its sources (a refused certificate, a refused connection) are added.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.ends_with(&text) {
            line = format!("{line}: {text}");
        }
        source = s.source();
    }
    line
}

impl From<patty_protocol::pricing::PricingError> for Error {
    fn from(e: patty_protocol::pricing::PricingError) -> Self {
        use patty_protocol::pricing::PricingError as P;
        match e {
            P::Invalid(m) => Self::Validation(m),
            P::Unavailable(m) => Self::Unavailable(m),
            P::Forbidden(m) => Self::Forbidden(m),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut resp = crate::http::error_response(status, code, message);
        if let Self::RateLimited { retry_after_secs, .. } = self {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_secs.max(1).into());
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_cause() {
        let r = Error::Internal("disk on fire".into()).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(Error::Unavailable("x".into()).status_and_code(), (StatusCode::CONFLICT, ErrorCode::Unavailable));
    }
}
