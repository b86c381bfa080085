//! The driver agent: reads positions from a source, decides which to report, keeps them in a
//! bounded on-disk buffer, and publishes them over MQTT (QoS 1) in order, deleting each only once
//! the broker acknowledged it. Small on purpose: it runs on a phone-class device or a vehicle's
//! little computer.
//!
//! # Layout
//! - [`source`]: positions from a simulated drive, JSON lines, NMEA 0183 sentences, or gpsd.
//! - [`policy`]: which positions to report (interval, distance, turns, parked).
//! - [`buffer`]: the store-and-forward queue on disk (SQLite), bounded, kept across restarts.
//! - [`console`]: commands from the cloud shown to the driver, answers read from stdin.
//! - [`link`]: the MQTT session: status and last will, publishing from the buffer, acknowledgements.
//! - [`tls`]: TLS to the broker (rustls): its CA, and the device's own certificate.
#![forbid(unsafe_code)]

pub mod buffer;
pub mod console;
pub mod link;
pub mod policy;
pub mod source;
pub mod tls;

/// A position as a source reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Horizontal accuracy, metres.
    pub accuracy_m: f64,
    /// Speed over ground, metres per second.
    pub speed_mps: f64,
    /// Course over ground, degrees from north.
    pub heading_deg: f64,
    /// When it was measured, Unix seconds.
    pub time_s: u64,
}

pub use patty_protocol::geo::{bearing_deg, distance_m};
