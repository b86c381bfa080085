//! The cloud's one error type, rendered as the shared JSON error body. A 5xx tells the client
//! only "internal error" and logs the cause.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use patty_protocol::ErrorCode;

pub use patty_service::http::{Json, Path, Query};

/// Result alias for the cloud.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the cloud.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value breaks a rule.
    #[error("{0}")]
    Validation(String),
    /// No such thing (or not yours to see).
    #[error("{0}")]
    NotFound(String),
    /// The current state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// An item cannot be sold now.
    #[error("{0}")]
    Unavailable(String),
    /// No valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller's role or scope may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests.
    #[error("{0}")]
    RateLimited(String),
    /// The database failed.
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
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Validation),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::Unavailable(_) => (StatusCode::CONFLICT, ErrorCode::Unavailable),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::Db(_) | Self::Decode(_) | Self::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        }
    }
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
        patty_service::http::error_response(status, code, message)
    }
}
