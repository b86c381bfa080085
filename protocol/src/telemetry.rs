//! Driver telemetry: the position fix a driver's agent publishes over MQTT, and the topic layout.
//!
//! A fix is postcard-encoded and small on purpose (a mobile link, every few seconds, all day):
//! coordinates in micro-degrees (about 11 cm), time in whole seconds, speed, heading and accuracy
//! in coarse units, and instead of a 16-byte delivery id a short job number the cloud handed out
//! with the assignment. The device's id is in the topic, not the payload.
//!
//! Topics, for device `D` (its id as text):
//! - `patty/v1/devices/D/fix`: fixes, QoS 1, agent to cloud.
//! - `patty/v1/devices/D/status`: `online` when connected, `offline` as the last will (retained).
//! - `patty/v1/devices/D/cmd`: commands from the cloud (JSON), QoS 1.
//! - `patty/v1/devices/D/reply`: the driver's answers (JSON), QoS 1.

use serde::{Deserialize, Serialize};

/// The topic prefix every device topic starts with.
pub const TOPIC_PREFIX: &str = "patty/v1/devices";

/// The topic of `kind` (`fix`, `status`, `cmd`, `reply`) for device `device`.
pub fn topic(device: &str, kind: &str) -> String {
    format!("{TOPIC_PREFIX}/{device}/{kind}")
}

/// One position fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    /// The device's own counter, from 1: order and repeats are judged by it.
    pub seq: u32,
    /// When the position was measured, Unix seconds.
    pub time_s: u32,
    /// Latitude, micro-degrees (−90,000,000 to 90,000,000).
    pub lat_u: i32,
    /// Longitude, micro-degrees (−180,000,000 to 180,000,000).
    pub lon_u: i32,
    /// Horizontal accuracy, metres (capped at 65,535).
    pub accuracy_m: u16,
    /// Speed, decimetres per second (0.36 km/h steps).
    pub speed_dms: u16,
    /// Heading, degrees from north, 0 to 359.
    pub heading_deg: u16,
    /// Battery, percent (255 when unknown).
    pub battery_pct: u8,
    /// The job (the delivery the cloud assigned, by its short number), if on one.
    pub job: Option<u32>,
}

impl Fix {
    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        f64::from(self.lat_u) / 1e6
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        f64::from(self.lon_u) / 1e6
    }

    /// Speed in metres per second.
    pub fn speed_mps(&self) -> f64 {
        f64::from(self.speed_dms) / 10.0
    }

    /// Whether the coordinates and heading are in range.
    pub fn in_range(&self) -> bool {
        (-90_000_000..=90_000_000).contains(&self.lat_u)
            && (-180_000_000..=180_000_000).contains(&self.lon_u)
            && self.heading_deg < 360
    }

    /// The postcard bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("postcard encodes a fix")
    }

    /// Decodes postcard bytes; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        let (fix, rest) = postcard::take_from_bytes(bytes)?;
        if rest.is_empty() { Ok(fix) } else { Err(postcard::Error::DeserializeBadEncoding) }
    }
}

/// Degrees to micro-degrees, rounded.
pub fn micro(deg: f64) -> i32 {
    (deg * 1e6).round() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix() -> Fix {
        Fix {
            seq: 48_213,
            time_s: 1_795_000_000,
            lat_u: micro(52.374_021),
            lon_u: micro(4.893_112),
            accuracy_m: 8,
            speed_dms: 139,
            heading_deg: 271,
            battery_pct: 76,
            job: Some(1_042),
        }
    }

    #[test]
    fn a_fix_round_trips_and_stays_small() {
        let f = fix();
        let bytes = f.encode();
        assert_eq!(Fix::decode(&bytes).unwrap(), f);
        assert_eq!(bytes.len(), 25, "a typical fix is 25 bytes");
        // The same fix as the JSON a generic tracker sends, with UUID ids.
        let json = serde_json::json!({
            "driver_id": "0193a5c2-7b1e-7c3a-9f21-3c4d5e6f7a8b", "delivery_id": "0193a5c2-7b1e-7c3a-9f21-3c4d5e6f7a8c",
            "latitude": 52.374021, "longitude": 4.893112, "accuracy": 8.0, "speed": 13.9, "heading": 271.0,
            "timestamp": "2026-11-18T10:13:20.000Z", "battery": 0.76
        });
        assert!(json.to_string().len() > 7 * bytes.len());
    }

    #[test]
    fn bad_bytes_and_bad_ranges_are_told_apart() {
        assert!(Fix::decode(&[]).is_err());
        let mut long = fix().encode();
        long.push(0);
        assert!(Fix::decode(&long).is_err());
        assert!(fix().in_range());
        assert!(!Fix { lat_u: 91_000_000, ..fix() }.in_range());
        assert!(!Fix { lon_u: -180_000_001, ..fix() }.in_range());
        assert!(!Fix { heading_deg: 360, ..fix() }.in_range());
    }
}
