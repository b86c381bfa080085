//! The edge's one error type. Domain code returns it; HTTP turns it into the shared JSON error
//! body ([`patty_protocol::ErrorBody`]). A 5xx tells the client only "internal error" and logs
//! the cause.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use patty_protocol::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;

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
    /// The request body or query could not be read.
    #[error("{message}")]
    Request {
        /// HTTP status to answer with.
        status: StatusCode,
        /// Machine-readable code.
        code: ErrorCode,
        /// What was wrong.
        message: String,
    },
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
            Self::Request { status, code, .. } => (*status, *code),
            Self::Sqlite(_) | Self::Decode(_) | Self::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
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
        let mut resp = (status, axum::Json(ErrorBody { message, code })).into_response();
        if code == ErrorCode::RateLimited {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("30"));
        }
        resp
    }
}

/// `Json` whose rejections are the JSON error body too (malformed JSON is 400, a wrong shape 422,
/// an oversized body 413, a wrong content type 415).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(r: JsonRejection) -> Error {
    let (status, code) = match &r {
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson),
        JsonRejection::JsonDataError(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidBody)
        }
        JsonRejection::MissingJsonContentType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
        ),
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
        }
        _ => (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson),
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body is over the size limit".to_owned(),
        _ => r.body_text(),
    };
    Error::Request {
        status,
        code,
        message,
    }
}

/// `Query` whose rejections are the JSON error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|r: QueryRejection| Error::Request {
                status: StatusCode::BAD_REQUEST,
                code: ErrorCode::Validation,
                message: r.body_text(),
            })
    }
}

/// `Path` whose rejections (a malformed id) are the JSON error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|r| Error::Request {
                status: StatusCode::NOT_FOUND,
                code: ErrorCode::NotFound,
                message: r.body_text(),
            })
    }
}
