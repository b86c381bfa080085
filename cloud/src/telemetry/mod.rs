//! Telemetry ingest: fixes from drivers' agents (and OwnTracks apps) arrive over MQTT, are
//! judged ([`crate::fleet::judge`]), kept as each device's latest position, produced to Kafka and
//! handed to delivery tracking.
//!
//! May use `fleet`, `delivery`, `events` and `infra`; nothing uses it but `app` (which runs it).
//!
//! - Ingest subscribes with a shared subscription (`$share/GROUP/patty/v1/devices/#`), so
//!   several replicas in one group split the fleet. The session is persistent and acknowledgements
//!   are manual: a fix is acknowledged to the broker only after Kafka acknowledged it (or, with
//!   Kafka off, once it is judged), so a replica that dies mid-stream leaves its unacknowledged
//!   fixes with the broker for redelivery, and nothing is dropped silently.
//! - Tracking (geofences, ETAs, milestones) is delivery's worker: an accepted fix is sent to it
//!   over a channel (`delivery::track`) that keeps each device's order. Tracking's outcome never
//!   decided an acknowledgement (its failures are logged and the fix acknowledged all the same),
//!   so the acknowledgement still rests on Kafka alone. What the channel changes: a fix may be
//!   acknowledged before it is tracked, and a replica that dies leaves the fixes still queued for
//!   tracking untracked (the device's next fix is tracked as usual; zone presence lives in memory
//!   and starts afresh after a restart anyway).
//! - A fix is accepted when its device is an active device key (the topic names the key's id),
//!   its bytes decode, its coordinates and heading are in range and its time is not more than two
//!   minutes ahead. A fix whose implied speed from the last one is impossible for a car (over
//!   70 m/s) is kept but flagged as a jump. A repeat (sequence not above the last) is dropped.
//!   Every rejection is counted by reason and logged at most once a minute per device.
//! - Accepted fixes go to `delivery.location.updates` (10 partitions), keyed by the delivery (or
//!   the device between deliveries), so each delivery's fixes stay in order in their partition.
//! - The loop that reads the broker hands each message to one of several workers chosen by its
//!   device (a device's messages keep their order; the fleet's use every core), and acknowledges
//!   in arrival order as each settles.
//!
//! # Layout
//! [`worker`] (the MQTT loop, the shards, the ordered acknowledgements), [`ingest`] (one message
//! judged; the outcome), [`owntracks`] (the app's messages), [`store`] (device keys, OwnTracks
//! links), [`http`] (linking OwnTracks).

pub mod http;
pub mod ingest;
pub mod owntracks;
pub mod store;
pub mod worker;

pub use worker::run;

use crate::delivery::DeliveryState;
use crate::infra::error::{Error, Result};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Why linking an OwnTracks app is refused.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A user or device name that cannot be an MQTT topic level.
    #[error("user and device are 1 to 64 characters without '/', '+' or '#'")]
    BadName,
    /// No active device key with this id.
    #[error("no active device key {0}")]
    NoDevice(String),
    /// The app's user and device are linked to another device key.
    #[error("owntracks/{user}/{device} is linked to another device")]
    Linked {
        /// The app's user.
        user: String,
        /// The app's device.
        device: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Error),
}

/// This replica's MQTT client id when the configuration names none: `patty-cloud-GROUP-XXXXXXXX`,
/// the suffix drawn once and kept in `data_dir/mqtt-client.id`. Replicas each have their own
/// (a broker drops the older of two connections with one id), and a restarted replica comes back
/// as itself, to the persistent session holding what it had not acknowledged.
pub fn client_id(share_group: &str, data_dir: &std::path::Path) -> Result<String> {
    let path = data_dir.join("mqtt-client.id");
    let suffix = match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
        Ok(_) => return Err(Error::Internal(format!("{} is empty", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)
                .map_err(|e| Error::Internal(format!("create {}: {e}", data_dir.display())))?;
            let suffix = patty_service::secret::token()[..8].to_owned();
            std::fs::write(&path, &suffix).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
            suffix
        }
        Err(e) => return Err(Error::Internal(format!("{}: {e}", path.display()))),
    };
    Ok(if share_group.is_empty() {
        format!("patty-cloud-{suffix}")
    } else {
        format!("patty-cloud-{share_group}-{suffix}")
    })
}

/// The TLS an `mqtts://` link takes (rustls on ring, as everywhere): the broker's certificate
/// must chain to `ca_file`, or else to the system's roots. `None` for `mqtt://`.
pub fn tls(cfg: &crate::infra::config::MqttConfig) -> Result<Option<Arc<rustls::ClientConfig>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    if !cfg.host_port().is_some_and(|(_, _, tls)| tls) {
        return Ok(None);
    }
    let bad = |m: String| Error::Validation(format!("mqtt.ca_file: {m}"));
    let certs = match &cfg.ca_file {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| bad(format!("{}: {e}", path.display())))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(bad("no CA certificate to trust the broker by".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

/// The telemetry routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    DeliveryState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(http::link_owntracks))
}

#[cfg(test)]
mod tests {
    use super::ingest::parse_topic;
    use super::*;

    #[test]
    fn each_data_directory_is_a_replica_with_a_client_id_of_its_own() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = client_id("fleet", one.path()).unwrap();
        assert!(first.starts_with("patty-cloud-fleet-") && first.len() == "patty-cloud-fleet-".len() + 8, "{first}");
        assert_eq!(client_id("fleet", one.path()).unwrap(), first, "a restart resumes its session");
        assert_ne!(client_id("fleet", two.path()).unwrap(), first, "another replica");
        assert!(
            client_id("", one.path()).unwrap().starts_with("patty-cloud-")
                && !client_id("", one.path()).unwrap().contains("--")
        );
    }

    #[test]
    fn only_device_topics_parse() {
        assert_eq!(parse_topic("patty/v1/devices/abc/fix"), Some(("abc", "fix")));
        assert_eq!(parse_topic("patty/v1/devices//fix"), None);
        assert_eq!(parse_topic("patty/v1/devices/abc/fix/more"), None);
        assert_eq!(parse_topic("owntracks/u/d"), None);
    }
}
