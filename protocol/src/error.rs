//! The JSON error body every HTTP API returns: a human message and a machine-readable code.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes shared by every service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON.
    MalformedJson,
    /// The body is JSON but not of the expected shape (wrong types, unknown fields).
    InvalidBody,
    /// A value is out of range or breaks a rule.
    Validation,
    /// The body is over the size limit.
    PayloadTooLarge,
    /// The content type is not JSON.
    UnsupportedMediaType,
    /// No valid session or token.
    Unauthorized,
    /// The caller's role may not do this.
    Forbidden,
    /// No such thing.
    NotFound,
    /// The thing's state does not allow this (a status move the state machine refuses).
    Conflict,
    /// An item is sold out, out of its window, or cannot be made from stock.
    Unavailable,
    /// Too many attempts.
    RateLimited,
    /// A signed request (a payment provider's webhook) whose signature is missing, wrong or stale.
    BadSignature,
    /// A payment provider refused or failed; nothing was taken.
    PaymentProvider,
    /// Something broke on the server; details are in its log.
    Internal,
}

/// The body of every 4xx and 5xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub message: String,
    /// What went wrong, for a program.
    pub code: ErrorCode,
}
