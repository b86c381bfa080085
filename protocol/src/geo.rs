//! Distance and bearing on the sphere, shared by the cloud (geofences, dispatch, plausibility of
//! fixes) and the driver agent (its reporting policy and simulated routes).

/// The Earth's mean radius, metres (IUGG).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two `(lat, lon)` points (haversine).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dla = la2 - la1;
    let dlo = (b.1 - a.1).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
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
        // A quarter of the meridian.
        let q = distance_m((0.0, 0.0), (90.0, 0.0));
        assert!((q - 10_007_557.0).abs() < 10.0, "{q}");
        assert!(distance_m(dam, dam) < 1e-6);
        assert!((bearing_deg((0.0, 0.0), (0.0, -1.0)) - 270.0).abs() < 1e-9);
    }
}
