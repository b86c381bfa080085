//! Telemetry's handler: linking an OwnTracks user and device to a device key.

use super::ingest::driver_of;
use super::{TelemetryError, store};
use crate::delivery::DeliveryState;
use crate::infra::access::Principal;
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use axum::extract::State;
use serde::{Deserialize, Serialize};

impl From<TelemetryError> for Error {
    fn from(e: TelemetryError) -> Self {
        let text = e.to_string();
        match e {
            TelemetryError::BadName => Error::Validation(text),
            TelemetryError::NoDevice(_) => Error::NotFound(text),
            TelemetryError::Linked { .. } => Error::Conflict(text),
            TelemetryError::Store(e) => e,
        }
    }
}

/// An OwnTracks user and device, as the app is set up (its topic is `owntracks/USER/DEVICE`).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnTracksLink {
    /// The app's user name (1 to 64 characters, no `/`, `+` or `#`).
    #[schema(pattern = "^[^/+#]{1,64}$")]
    pub user: String,
    /// The app's device name (1 to 64 characters, no `/`, `+` or `#`).
    #[schema(pattern = "^[^/+#]{1,64}$")]
    pub device: String,
}

/// Links an OwnTracks user and device to a device key (HQ): that app's locations then count as the
/// device's fixes. A link replaces the device's earlier one.
#[utoipa::path(put, path = "/api/v1/fleet/devices/{id}/owntracks", tag = "fleet", security(("bearer" = [])), request_body = OwnTracksLink,
    params(("id" = String, Path, description = "device id (a device key's id)")),
    responses((status = 200, body = OwnTracksLink), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(device = %id))]
pub(super) async fn link_owntracks(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<String>,
    Json(link): Json<OwnTracksLink>,
) -> Result<Json<OwnTracksLink>> {
    who.require(&[])?;
    let name_ok = |s: &str| (1..=64).contains(&s.chars().count()) && !s.contains(['/', '+', '#']);
    if !name_ok(&link.user) || !name_ok(&link.device) {
        return Err(TelemetryError::BadName.into());
    }
    if driver_of(&state, &id).await?.is_none() {
        return Err(TelemetryError::NoDevice(id).into());
    }
    if !store::link_owntracks(&state.db, &id, &link.user, &link.device, now_ms()).await? {
        return Err(TelemetryError::Linked { user: link.user, device: link.device }.into());
    }
    state.fleet.owntracks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    Ok(Json(link))
}
