//! Export and erasure over HTTP.

use crate::customers::{Activity, Address, Profile, activity_of, addresses_of, profile};
use crate::identity::IdentityState;
use crate::infra::access::{Principal, Role};
use crate::infra::error::{Json, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::order::Order;
use serde::{Deserialize, Serialize};

/// Everything held about a customer.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Export {
    /// Profile.
    pub profile: Profile,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Orders.
    pub orders: Vec<Order>,
    /// Activity.
    pub activity: Vec<Activity>,
}

/// Export all my data (customer).
#[utoipa::path(get, path = "/api/v1/me/export", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = Export), (status = 404, description = "the caller has no account (an API key, or an account since erased)", body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn export(State(state): State<Shared>, who: Principal) -> Result<Json<Export>> {
    who.require(&[Role::Customer])?;
    Ok(Json(Export {
        profile: profile(&state, &who.subject).await?,
        addresses: addresses_of(&state, &who.subject).await?,
        orders: crate::ordering::of_customer(&state.db, &who.subject, 100_000).await?,
        activity: activity_of(&state, &who.subject).await?,
    }))
}

/// Erase my personal data (customer). Orders stay, as financial records, without the delivery
/// address, notes or any link to a person, and so do their deliveries (without the drop-off);
/// the customer's data key is destroyed, so what their events sealed (in the event log and on
/// Kafka) can no longer be read; each outlet that holds their orders is told to blank its copies.
/// The account can no longer sign in.
#[utoipa::path(post, path = "/api/v1/me/erasure", tag = "customers", security(("bearer" = [])),
    responses((status = 204), (status = 409, body = patty_protocol::ErrorBody, description = "an order is still open")))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn erase(State(state): State<IdentityState>, who: Principal) -> Result<StatusCode> {
    who.require(&[Role::Customer])?;
    super::erasure::erase_customer(&state.db, &who.subject).await?;
    state.forget(&who.subject);
    Ok(StatusCode::NO_CONTENT)
}
