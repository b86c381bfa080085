//! Customers' rights over their data: export everything held about them, and erasure
//! (crypto-shredding their data key, anonymising their orders and deliveries, telling each outlet
//! that holds their orders). It orchestrates: every table is changed through its own domain's
//! function (identity, customers, ordering, delivery), in one transaction.
//!
//! # Layout
//! - [`http`]: the export and erasure handlers.
//! - [`erasure`]: erasure's one transaction across the domains.
//!
//! May use the domains it orchestrates, `events` and `infra`; no domain uses it.

pub mod erasure;
pub mod http;

use crate::identity::IdentityState;
use crate::infra::state::Shared;
use axum::extract::FromRef;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The export and erasure routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Shared: FromRef<S>,
    IdentityState: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(http::export)).routes(routes!(http::erase))
}
