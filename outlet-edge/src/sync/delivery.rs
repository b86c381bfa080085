//! A counter delivery's code, asked of the cloud: the cloud dispatches deliveries, so only it
//! knows the delivery and its hand-over code.

use super::error::SyncError;
use crate::infra::config::CloudConfig;
use crate::infra::error::Error;
use patty_protocol::order::Order;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A delivery taken at the counter, as the cloud dispatches it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CounterDelivery {
    /// The delivery's id at the cloud.
    pub id: String,
    /// The job number drivers see.
    pub job: u32,
    /// Where it stands: `waiting`, `assigned`, `at_pickup`, `picked_up`, `near_dropoff`,
    /// `delivered` or `cancelled`.
    pub status: String,
    /// The driver on it.
    #[serde(default)]
    pub driver_id: Option<String>,
    /// Seconds to the door, when a driver is on the way.
    #[serde(default)]
    pub eta_dropoff_s: Option<u32>,
    /// The one-time code the customer gives the driver at the door.
    pub handover_code: String,
}

/// Asks the cloud for `order`'s delivery; `unavailable` while the link is down or absent.
#[tracing::instrument(skip_all, fields(order.id = %order.id))]
pub async fn fetch(cloud: &CloudConfig, order: &Order) -> Result<CounterDelivery, SyncError> {
    if cloud.url.is_empty() {
        return Err(SyncError::NoCloud);
    }
    let offline = |e: &dyn std::fmt::Display| SyncError::Offline(e.to_string());
    let client = cloud
        .client()
        .map_err(Error::Internal)?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let r = client
        .get(format!("{}/api/v1/orders/{}/delivery", cloud.url.trim_end_matches('/'), order.id))
        .header("x-api-key", &cloud.api_key)
        .send()
        .await
        .map_err(|e| offline(&e))?;
    match r.status() {
        s if s.is_success() => Ok(r.json().await.map_err(|e| offline(&e))?),
        reqwest::StatusCode::NOT_FOUND => Err(SyncError::NoDeliveryYet(order.number)),
        reqwest::StatusCode::FORBIDDEN => Err(SyncError::CloudKeepsCode),
        s => Err(offline(&s)),
    }
}
