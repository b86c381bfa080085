//! The catalog (HQ): a draft that is edited whole, and publishing, which freezes the draft into
//! an immutable, numbered version. Outlets sync versions; online orders are priced from the
//! latest and record which one.
//!
//! # Layout
//! - [`http`]: the handlers (no SQL).
//! - [`store`]: the draft and the versions in SQL, and [`latest`], the cached newest version.
//!
//! May use `infra`, `events` and `outlets` (a draft names only outlets that exist).

pub mod http;
pub mod store;

pub use store::latest;

use crate::infra::state::Shared;
use patty_protocol::catalog::Catalog;
use patty_protocol::ids::OutletId;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A published version.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Published {
    /// The version number, from 1.
    pub version: i64,
    /// When, Unix ms.
    pub published_ms: i64,
    /// By whom.
    pub published_by: String,
    /// The catalog as published.
    pub catalog: Catalog,
}

/// The newest version as last read, and when it was confirmed.
type Cached = Option<(std::time::Instant, Arc<Published>)>;

/// The latest published catalog, parsed once per version, and when it was last confirmed.
#[derive(Clone, Default)]
pub struct Latest(Arc<std::sync::RwLock<Cached>>);

impl Latest {
    /// Forgets the cached version, so the next read asks the database (after a publish).
    pub fn forget(&self) {
        if let Ok(mut c) = self.0.write() {
            *c = None;
        }
    }
}

/// What the catalog's handlers use.
#[derive(Clone)]
pub struct CatalogState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The latest published version.
    pub catalog: Latest,
}
crate::shared_state!(CatalogState);

/// What can go wrong with the catalog; [`http`] maps each to its status (404, 409, 422).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No draft has been saved.
    #[error("no draft yet")]
    NoDraft,
    /// Publishing with no draft saved.
    #[error("nothing to publish: no draft yet")]
    NothingToPublish,
    /// No such published version.
    #[error("no catalog version {0}")]
    NoVersion(i64),
    /// Two publishes raced for the same number.
    #[error("another publish won the race; try again")]
    PublishRace,
    /// The draft names an outlet that does not exist.
    #[error("the draft names unknown outlet {0}")]
    UnknownOutlet(OutletId),
    /// The draft breaks a catalog rule.
    #[error("{0}")]
    Invalid(String),
    /// The database, a stored document, or anything else.
    #[error(transparent)]
    Other(#[from] crate::infra::error::Error),
}

/// The catalog routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    CatalogState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::get_draft, http::put_draft))
        .routes(routes!(http::publish))
        .routes(routes!(http::versions))
        .routes(routes!(http::version))
}
