//! The edge's one error type. Domain code returns it; HTTP turns it into the shared JSON error
//! body ([`patty_protocol::ErrorBody`]). A 5xx tells the client only "internal error" and logs
//! the cause. The extractors (`Json`, `Query`, `Path`) come from `patty-service`, whose rejections
//! are the same body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use patty_protocol::ErrorCode;

/// Result alias for the edge.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value breaks a rule (quantity zero, unknown modifier, limits).
    #[error("{0}")]
    Validation(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// The current state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// Sold out, outside its window, or not enough stock.
    #[error("{0}")]
    Unavailable(String),
    /// No valid session.
    #[error("{0}")]
    Unauthorized(String),
    /// The session's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts.
    #[error("{0}")]
    RateLimited(String),
    /// The database failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
            Self::Sqlite(_) | Self::Decode(_) | Self::Internal(_) => {
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

pub use patty_service::http::{Json, Path, Query};
