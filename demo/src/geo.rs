//! Where things are: the outlets' sites around Amsterdam (real coordinates), their delivery
//! zones, customers' doors, and moving along a straight line.

pub use patty_driver::{bearing_deg, distance_m};

/// An outlet's site.
#[derive(Clone, Debug)]
pub struct Site {
    /// The outlet's name (a neighbourhood).
    pub name: String,
    /// A short name for its data directory.
    pub slug: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

impl Site {
    /// (lat, lon).
    pub fn at(&self) -> (f64, f64) {
        (self.lat, self.lon)
    }
}

/// The first sites, in the order outlets are opened: the sample outlet on Damrak first, then
/// neighbourhoods a couple of kilometres away: (name, slug, lat, lon).
const NEIGHBOURHOODS: [(&str, &str, f64, f64); 8] = [
    ("Damrak", "damrak", 52.3740, 4.8930),
    ("De Pijp", "de-pijp", 52.3557, 4.8940),
    ("Oost", "oost", 52.3628, 4.9279),
    ("Westerpark", "westerpark", 52.3836, 4.8745),
    ("Oud-West", "oud-west", 52.3663, 4.8680),
    ("Noord", "noord", 52.3890, 4.9160),
    ("Zuid", "zuid", 52.3445, 4.8770),
    ("Plantage", "plantage", 52.3665, 4.9110),
];

/// Outlet `i`'s site (from 0): the neighbourhoods first; past them (a chain larger than the
/// demo's city centre, for measuring what one machine carries) outlets numbered from 9 on a
/// spiral around Damrak, each about a kilometre and a half from its nearest neighbours.
pub fn site(i: usize) -> Site {
    if let Some(&(name, slug, lat, lon)) = NEIGHBOURHOODS.get(i) {
        return Site { name: name.into(), slug: slug.into(), lat, lon };
    }
    let k = (i - NEIGHBOURHOODS.len()) as f64;
    let (lat, lon) = towards((NEIGHBOURHOODS[0].2, NEIGHBOURHOODS[0].3), k * 137.508, 4_000.0 + 1_300.0 * k.sqrt());
    Site { name: format!("Outlet {}", i + 1), slug: format!("outlet-{}", i + 1), lat, lon }
}

/// How far an outlet delivers, metres (its zone is a polygon around this circle).
pub const ZONE_RADIUS_M: f64 = 1_800.0;
/// How far from their outlet customers live, metres (inside the zone, not at the door).
pub const DOORS_M: (f64, f64) = (300.0, 1_400.0);

const METRES_PER_DEGREE: f64 = 111_320.0;

/// The point `north_m` metres north and `east_m` metres east of `p`.
pub fn offset(p: (f64, f64), north_m: f64, east_m: f64) -> (f64, f64) {
    (p.0 + north_m / METRES_PER_DEGREE, p.1 + east_m / (METRES_PER_DEGREE * p.0.to_radians().cos()))
}

/// The point `metres` from `p` towards bearing `deg` (flat, fine at a city's scale).
pub fn towards(p: (f64, f64), deg: f64, metres: f64) -> (f64, f64) {
    let r = deg.to_radians();
    offset(p, metres * r.cos(), metres * r.sin())
}

/// A delivery zone: a closed ring of `[lon, lat]` pairs (GeoJSON order) around `centre`, 24
/// corners on a circle of `radius_m`.
pub fn zone_ring(centre: (f64, f64), radius_m: f64) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..24)
        .map(|i| {
            let (lat, lon) = towards(centre, f64::from(i) * 15.0, radius_m);
            [lon, lat]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// One step of `metres` from `from` straight towards `to`: the new position and whether it is
/// there.
pub fn step(from: (f64, f64), to: (f64, f64), metres: f64) -> ((f64, f64), bool) {
    let left = distance_m(from, to);
    if left <= metres {
        return (to, true);
    }
    let f = metres / left;
    ((from.0 + (to.0 - from.0) * f, from.1 + (to.1 - from.1) * f), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlets_are_a_couple_of_kilometres_apart_and_zones_hold_their_doors() {
        let damrak = site(0).at();
        for s in (1..8).map(site) {
            let d = distance_m(damrak, s.at());
            assert!((1_000.0..4_500.0).contains(&d), "{}: {d} m", s.name);
        }
        // Past the neighbourhoods, a spiral: no two outlets closer than a kilometre.
        let far: Vec<Site> = (0..120).map(site).collect();
        for (i, a) in far.iter().enumerate() {
            for b in &far[i + 1..] {
                assert!(distance_m(a.at(), b.at()) > 1_000.0, "{} and {}", a.name, b.name);
            }
        }
        let ring = zone_ring(damrak, ZONE_RADIUS_M);
        assert_eq!(ring.first(), ring.last());
        for [lon, lat] in &ring[..24] {
            let d = distance_m(damrak, (*lat, *lon));
            assert!((d - ZONE_RADIUS_M).abs() < 5.0, "{d}");
        }
        let door = towards(damrak, 70.0, DOORS_M.1);
        assert!((distance_m(damrak, door) - DOORS_M.1).abs() < 5.0);
    }

    #[test]
    fn steps_arrive_exactly() {
        let (a, b) = (site(0).at(), site(1).at());
        let mut p = a;
        let mut steps = 0;
        loop {
            let (next, there) = step(p, b, 250.0);
            p = next;
            steps += 1;
            if there {
                break;
            }
        }
        assert_eq!(p, b);
        assert_eq!(steps, (distance_m(a, b) / 250.0).ceil() as usize);
    }
}
