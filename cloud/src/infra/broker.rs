//! The embedded MQTT broker (rumqttd): with no broker configured, the cloud runs one in-process,
//! so a single binary on embedded defaults carries the drivers' telemetry too. A production
//! fleet uses its own broker (Mosquitto, with the settings in `docs/ARCHITECTURE.md`).
//!
//! It listens on `mqtt.embedded_listen` (127.0.0.1:1883 by default). When that port is taken (by
//! another broker already on the machine) it takes a free port instead and says which; the
//! address is in `/healthz`, and the ingest connects to it.
//!
//! It takes anonymous clients, so it listens on loopback only, and refuses to start on any other
//! address: rumqttd can neither keep a device to its own topics (it has no ACL, so any client could
//! publish fixes as any device) nor offer TLS without a TLS stack on the advisory-laden
//! `rustls-webpki` 0.102 line, and a device's key sent in the clear over a shop's network is a key
//! given away. Devices on a network connect to Mosquitto with the shipped configuration.

use crate::infra::error::{Error, Result};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Starts the broker on `want`, or on a free port of the same address when `want` is taken.
/// Returns the address it listens on.
pub fn start(want: SocketAddr) -> Result<SocketAddr> {
    if !want.ip().is_loopback() {
        return Err(Error::Internal(format!(
            "mqtt.embedded_listen {want} is not a loopback address: the embedded MQTT broker takes anonymous clients and listens on loopback only; for devices on a network run Mosquitto (deploy/mosquitto) and set mqtt.url"
        )));
    }
    let addr = match std::net::TcpListener::bind(want) {
        Ok(probe) => probe.local_addr().map_err(|e| Error::Internal(e.to_string()))?,
        Err(e) => {
            let probe = std::net::TcpListener::bind(SocketAddr::new(want.ip(), 0))
                .map_err(|e| Error::Internal(format!("the embedded MQTT broker found no free port: {e}")))?;
            let addr = probe.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
            tracing::warn!(wanted = %want, listening = %addr, error = %e, "the MQTT port is taken; the embedded broker takes a free one");
            addr
        }
    };
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 64 * 1024,
        max_inflight_count: 1_000,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 1_000,
            max_segment_size: 10 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the embedded MQTT broker stopped");
            }
        })
        .map_err(|e| Error::Internal(format!("starting the embedded MQTT broker: {e}")))?;
    tracing::info!(mqtt = %addr, "embedded MQTT broker started");
    Ok(addr)
}
