//! Customers: their profile, addresses with positions, preferences, an activity log, a data
//! export, and erasure, which removes personal data while keeping orders' financial records.
//!
//! # Layout
//! - [`http`]: the handlers and their request types (no SQL).
//! - [`store`]: profiles, addresses and the activity log in SQL, with the types other rooms read
//!   ([`Profile`], [`Address`], [`Activity`]).
//!
//! May use `infra` and `identity` (the account, names, the activity log).

pub mod http;
pub mod store;

pub use store::{Activity, Address, Profile, activity_of, addresses_of, erase_addresses, load_address, profile};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What can go wrong with customers' data; [`http`] maps each to its status (404, 422).
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// The caller has no account (an API key, or an account since erased).
    #[error("no such account")]
    NoAccount,
    /// No such address of the caller's.
    #[error("no such address")]
    NoAddress,
    /// A value breaks a rule (phone, preferences, label, address).
    #[error("{0}")]
    Invalid(String),
    /// The database, a stored document, or anything else.
    #[error(transparent)]
    Other(#[from] crate::infra::error::Error),
}

/// The customer routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    crate::infra::state::Shared: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::me, http::patch_me))
        .routes(routes!(http::list_addresses, http::add_address))
        .routes(routes!(http::delete_address))
        .routes(routes!(http::activity))
}
