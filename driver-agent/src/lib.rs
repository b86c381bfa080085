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

/// Great-circle distance in metres (haversine on a sphere of the Earth's mean radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dla = la2 - la1;
    let dlo = (b.1 - a.1).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().asin()
}

/// Initial bearing from `a` to `b`, degrees from north in [0, 360).
pub fn bearing_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dlo = (b.1 - a.1).to_radians();
    let y = dlo.sin() * la2.cos();
    let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlo.cos();
    (y.atan2(x).to_degrees() + 360.0) % 360.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_bearings_match_known_values() {
        // Dam Square to Amsterdam Centraal: about 1 km, roughly north-north-east.
        let dam = (52.373_1, 4.892_6);
        let centraal = (52.378_9, 4.900_3);
        let d = distance_m(dam, centraal);
        assert!((800.0..900.0).contains(&d), "{d}");
        let b = bearing_deg(dam, centraal);
        assert!((35.0..45.0).contains(&b), "{b}");
        assert!(distance_m(dam, dam) < 1e-6);
        assert!((bearing_deg((0.0, 0.0), (0.0, -1.0)) - 270.0).abs() < 1e-9);
    }
}
