//! Outlets (HQ): name, position, delivery zone polygon, opening hours, time zone, status and
//! money rules. Anyone may list and read active outlets (customers choose where to order).
//!
//! # Layout
//! - [`http`]: the handlers (no SQL).
//! - [`store`]: the outlets' SQL, and [`load_recent`], an outlet as the ordering path last read it.
//! - [`sales`]: an outlet's sales figures for one of its local days.
//!
//! May use `infra` only.

pub mod http;
pub mod sales;
pub mod store;

pub use store::{all, load, load_recent};

use patty_protocol::ids::OutletId;
use patty_protocol::outlet::Outlet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Each outlet as last read, and when.
type Copies = HashMap<OutletId, (Instant, Arc<Outlet>)>;

/// Outlets as the ordering path last read them, and when.
#[derive(Clone, Default)]
pub struct Recent(Arc<Mutex<Copies>>);

/// What can go wrong with outlets; [`http`] maps each to its status (404, 409, 422).
#[derive(Debug, thiserror::Error)]
pub enum OutletError {
    /// No such outlet.
    #[error("no outlet {0}")]
    NotFound(OutletId),
    /// An outlet with this id exists already.
    #[error("outlet {0} exists")]
    Exists(OutletId),
    /// A replacement whose id is not the path's.
    #[error("the body's id must match the path")]
    IdMismatch,
    /// A value breaks a rule (the outlet's own checks, a day that is not a date).
    #[error("{0}")]
    Invalid(String),
    /// The database, a stored document, or anything else.
    #[error(transparent)]
    Other(#[from] crate::infra::error::Error),
}

/// The outlet routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    crate::infra::state::Shared: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(http::list, http::create)).routes(routes!(http::get_one, http::replace))
}
