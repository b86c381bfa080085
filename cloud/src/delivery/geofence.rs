//! Geofences and ETAs, pure: zones (circles and polygons), an R-tree over their bounding boxes
//! so a fix is tested only against the few zones near it, a per-device tracker that turns fixes
//! into enter/exit transitions with hysteresis, and the ETA estimate.
//!
//! # Hysteresis
//! A zone's signed distance `d` is negative inside (metres to its boundary). With the fix's
//! accuracy `a` capped at [`ACCURACY_CAP_M`], a device outside enters when `d ≤ −a` (inside by at
//! least its uncertainty), and a device inside leaves when `d ≥ a + BAND_M`. Between the two
//! nothing changes, so a fix jittering across the boundary does not flap. A fix worse than
//! [`IGNORE_ACCURACY_M`] changes nothing at all.

use geo::{Contains, Coord, Distance, Euclidean, LineString, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use std::collections::{HashMap, HashSet};

/// Accuracy beyond this is capped when judging a boundary (so small zones can still be entered).
pub const ACCURACY_CAP_M: f64 = 25.0;
/// The extra margin before a device inside is judged to have left.
pub const BAND_M: f64 = 15.0;
/// Fixes less accurate than this move no zone.
pub const IGNORE_ACCURACY_M: f64 = 150.0;
/// Road distance over straight-line distance, for ETAs in a city.
pub const DETOUR: f64 = 1.35;
/// The speed assumed while the driver is stopped or slow, metres per second (about 25 km/h).
pub const CITY_MPS: f64 = 7.0;

/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_320.0;

/// A zone's shape, in degrees.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A circle: centre (lat, lon) and radius in metres.
    Circle {
        /// (lat, lon).
        centre: (f64, f64),
        /// Metres.
        radius_m: f64,
    },
    /// A polygon ring of (lon, lat) points (GeoJSON order).
    Polygon(Vec<[f64; 2]>),
}

impl Shape {
    /// Signed distance from `p` (lat, lon) to the boundary, metres: negative inside.
    pub fn signed_distance_m(&self, p: (f64, f64)) -> f64 {
        match self {
            Self::Circle { centre, radius_m } => crate::fleet::distance_m(p, *centre) - radius_m,
            Self::Polygon(ring) => {
                // A local flat projection around the point: metres east and north of it.
                let k = p.0.to_radians().cos() * M_PER_DEG;
                let pts: Vec<Coord> =
                    ring.iter().map(|[lon, lat]| Coord { x: (lon - p.1) * k, y: (lat - p.0) * M_PER_DEG }).collect();
                let poly = Polygon::new(LineString::from(pts), vec![]);
                let origin = Point::new(0.0, 0.0);
                let d = Euclidean.distance(&origin, poly.exterior());
                if poly.contains(&origin) { -d } else { d }
            }
        }
    }

    /// The bounding box in degrees, widened by `margin_m`: [min_lon, min_lat], [max_lon, max_lat].
    fn bbox(&self, margin_m: f64) -> ([f64; 2], [f64; 2]) {
        let (lo, hi) = match self {
            Self::Circle { centre, radius_m } => {
                let dlat = radius_m / M_PER_DEG;
                let dlon = radius_m / (M_PER_DEG * centre.0.to_radians().cos().max(0.01));
                ([centre.1 - dlon, centre.0 - dlat], [centre.1 + dlon, centre.0 + dlat])
            }
            Self::Polygon(ring) => ring
                .iter()
                .fold(([f64::INFINITY, f64::INFINITY], [f64::NEG_INFINITY, f64::NEG_INFINITY]), |(lo, hi), [x, y]| {
                    ([lo[0].min(*x), lo[1].min(*y)], [hi[0].max(*x), hi[1].max(*y)])
                }),
        };
        let mid_lat = (lo[1] + hi[1]) / 2.0;
        let dlat = margin_m / M_PER_DEG;
        let dlon = margin_m / (M_PER_DEG * mid_lat.to_radians().cos().max(0.01));
        ([lo[0] - dlon, lo[1] - dlat], [hi[0] + dlon, hi[1] + dlat])
    }
}

pub use patty_protocol::delivery::ZoneKind;

/// A zone.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Its id (an outlet's, a delivery's, a restricted area's).
    pub id: String,
    /// What it is for.
    pub kind: ZoneKind,
    /// Its name, for alerts.
    pub name: String,
    /// Its shape.
    pub shape: Shape,
}

/// A crossing of a zone's boundary.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The zone's id.
    pub zone: String,
    /// What the zone is for.
    pub kind: ZoneKind,
    /// The zone's name.
    pub name: String,
    /// Entered (true) or left (false).
    pub entered: bool,
}

/// The margin the index adds around each zone, so a device near the edge is still tested for a
/// departure.
const INDEX_MARGIN_M: f64 = ACCURACY_CAP_M + BAND_M + 10.0;

/// Many zones, indexed by their bounding boxes.
#[derive(Default)]
pub struct ZoneIndex {
    zones: Vec<Zone>,
    by_id: HashMap<String, usize>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl ZoneIndex {
    /// Indexes `zones` (bulk-loaded).
    pub fn new(zones: Vec<Zone>) -> Self {
        let boxes = zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let (lo, hi) = z.shape.bbox(INDEX_MARGIN_M);
                GeomWithData::new(Rectangle::from_corners(lo, hi), i)
            })
            .collect();
        let by_id = zones.iter().enumerate().map(|(i, z)| (z.id.clone(), i)).collect();
        Self { zones, by_id, tree: RTree::bulk_load(boxes) }
    }

    /// How many zones.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The zones whose widened box holds `p` (lat, lon).
    pub fn near(&self, p: (f64, f64)) -> impl Iterator<Item = &Zone> {
        self.tree.locate_in_envelope_intersecting(&AABB::from_point([p.1, p.0])).map(|g| &self.zones[g.data])
    }

    /// The zone with this id.
    pub fn get(&self, id: &str) -> Option<&Zone> {
        self.by_id.get(id).map(|i| &self.zones[*i])
    }
}

/// Which zones one device is inside.
#[derive(Default, Debug, Clone)]
pub struct Presence {
    inside: HashSet<String>,
}

impl Presence {
    /// Whether the device is inside zone `id`.
    pub fn is_inside(&self, id: &str) -> bool {
        self.inside.contains(id)
    }

    /// Judges one fix at `p` with `accuracy_m` against `zone`; returns the crossing, if any.
    pub fn judge(&mut self, zone: &Zone, p: (f64, f64), accuracy_m: f64) -> Option<Transition> {
        if accuracy_m > IGNORE_ACCURACY_M {
            return None;
        }
        let a = accuracy_m.clamp(0.0, ACCURACY_CAP_M);
        let d = zone.shape.signed_distance_m(p);
        let inside = self.inside.contains(&zone.id);
        let entered = if !inside && d <= -a {
            true
        } else if inside && d >= a + BAND_M {
            false
        } else {
            return None;
        };
        if entered {
            self.inside.insert(zone.id.clone());
        } else {
            self.inside.remove(&zone.id);
        }
        Some(Transition { zone: zone.id.clone(), kind: zone.kind, name: zone.name.clone(), entered })
    }

    /// Judges a fix against every zone of `index` near it and every indexed zone the device is
    /// inside (a device that jumped far away still leaves).
    pub fn judge_all(&mut self, index: &ZoneIndex, p: (f64, f64), accuracy_m: f64) -> Vec<Transition> {
        let mut ids: Vec<&str> = index.near(p).map(|z| z.id.as_str()).collect();
        let held: Vec<String> = self.inside.iter().filter(|id| index.get(id).is_some()).cloned().collect();
        ids.extend(held.iter().map(String::as_str));
        ids.sort_unstable();
        ids.dedup();
        let zones: Vec<Zone> = ids.iter().filter_map(|id| index.get(id).cloned()).collect();
        zones.iter().filter_map(|z| self.judge(z, p, accuracy_m)).collect()
    }
}

/// Seconds to cover `metres` of straight line in a city, at the driver's `speed_mps` when they are
/// moving, else at [`CITY_MPS`].
pub fn eta_s(metres: f64, speed_mps: f64) -> u32 {
    let speed = if speed_mps >= 2.0 { speed_mps.min(20.0) } else { CITY_MPS };
    (metres * DETOUR / speed).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAM: (f64, f64) = (52.373_1, 4.892_6);

    fn circle(id: &str, centre: (f64, f64), r: f64) -> Zone {
        Zone { id: id.into(), kind: ZoneKind::Pickup, name: id.into(), shape: Shape::Circle { centre, radius_m: r } }
    }

    /// A point `m` metres north of `p`.
    fn north(p: (f64, f64), m: f64) -> (f64, f64) {
        (p.0 + m / M_PER_DEG, p.1)
    }

    #[test]
    fn a_jittery_fix_at_the_boundary_does_not_flap() {
        let zone = circle("z", DAM, 60.0);
        let mut presence = Presence::default();
        // Approach, then wander ±20 m around the boundary many times, with 10 m accuracy.
        let mut crossings = vec![];
        for m in [300.0, 150.0, 80.0] {
            crossings.extend(presence.judge(&zone, north(DAM, m), 10.0));
        }
        assert!(crossings.is_empty());
        for i in 0..100 {
            let jitter = if i % 2 == 0 { 45.0 } else { 75.0 };
            crossings.extend(presence.judge(&zone, north(DAM, jitter), 10.0));
        }
        assert_eq!(crossings.len(), 1, "one enter, no flapping: {crossings:?}");
        assert!(crossings[0].entered);
        // Clearly out.
        crossings.extend(presence.judge(&zone, north(DAM, 200.0), 10.0));
        assert_eq!(crossings.len(), 2);
        assert!(!crossings[1].entered);
        // A wild fix inside does nothing.
        assert_eq!(presence.judge(&zone, DAM, 400.0), None);
    }

    #[test]
    fn polygons_are_measured_in_metres_both_ways() {
        // A square about 222 m a side around Dam Square.
        let (lat, lon) = DAM;
        let dlat = 0.001;
        let dlon = 0.001 / lat.to_radians().cos();
        let ring = vec![
            [lon - dlon, lat - dlat],
            [lon + dlon, lat - dlat],
            [lon + dlon, lat + dlat],
            [lon - dlon, lat + dlat],
        ];
        let shape = Shape::Polygon(ring);
        let centre = shape.signed_distance_m(DAM);
        assert!((-112.0..-110.0).contains(&centre), "{centre}");
        let outside = shape.signed_distance_m(north(DAM, 161.3));
        assert!((49.0..51.0).contains(&outside), "{outside}");
    }

    #[test]
    fn the_index_finds_the_near_zones_among_thousands() {
        // A 100 × 100 grid of 40 m circles, 500 m apart.
        let mut zones = vec![];
        for i in 0..100 {
            for j in 0..100 {
                let c = (DAM.0 + f64::from(i) * 0.0045, DAM.1 + f64::from(j) * 0.0074);
                zones.push(circle(&format!("{i}-{j}"), c, 40.0));
            }
        }
        let target = zones[5 * 100 + 7].clone();
        let index = ZoneIndex::new(zones);
        assert_eq!(index.len(), 10_000);
        let Shape::Circle { centre, .. } = target.shape else { unreachable!() };
        let near: Vec<&str> = index.near(centre).map(|z| z.id.as_str()).collect();
        assert_eq!(near, vec!["5-7"]);
        let mut presence = Presence::default();
        let t = presence.judge_all(&index, centre, 5.0);
        assert_eq!(t.len(), 1);
        assert!(t[0].entered);
        // Far away in one jump: still leaves.
        let t = presence.judge_all(&index, (0.0, 0.0), 5.0);
        assert_eq!(t.len(), 1);
        assert!(!t[0].entered && t[0].zone == "5-7");
    }

    #[test]
    fn etas_use_the_speed_when_moving_and_a_city_speed_when_not() {
        assert_eq!(eta_s(1000.0, 10.0), 135);
        assert_eq!(eta_s(1000.0, 0.0), (1350.0_f64 / CITY_MPS).round() as u32);
        assert_eq!(eta_s(0.0, 5.0), 0);
    }
}
