//! Which positions to report: every `interval_s` by default; sooner after `distance_m` or a turn
//! of `turn_deg` (so a route's corners are on the map); at once when it stops, then every
//! `parked_interval_s` while slower than `parked_mps`. Judged on the positions' own time, so a replayed or simulated drive reports
//! the same way however fast it is fed.

use crate::{Position, distance_m};

/// The reporting policy.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// The usual time between reports, seconds.
    pub interval_s: u64,
    /// Report sooner once this far from the last report, metres (0: never).
    pub distance_m: f64,
    /// Report sooner once the heading turned this much since the last report, degrees (0: never).
    pub turn_deg: f64,
    /// Below this speed the vehicle counts as parked, metres per second.
    pub parked_mps: f64,
    /// The time between reports while parked, seconds.
    pub parked_interval_s: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self { interval_s: 10, distance_m: 200.0, turn_deg: 30.0, parked_mps: 0.5, parked_interval_s: 60 }
    }
}

/// Applies the policy to a stream of positions.
#[derive(Debug, Default)]
pub struct Reporter {
    policy: Policy,
    last: Option<Position>,
}

impl Reporter {
    /// A reporter with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self { policy, last: None }
    }

    /// Whether `p` is to be reported; if so it becomes the last reported position.
    pub fn offer(&mut self, p: &Position) -> bool {
        let send = match &self.last {
            None => true,
            Some(last) => {
                let dt = p.time_s.saturating_sub(last.time_s);
                let parked = p.speed_mps < self.policy.parked_mps;
                let turn = {
                    let d = (p.heading_deg - last.heading_deg).rem_euclid(360.0);
                    d.min(360.0 - d)
                };
                if parked {
                    // The moment it stops is news (at the pickup, at the door); then rarely.
                    last.speed_mps >= self.policy.parked_mps || dt >= self.policy.parked_interval_s
                } else {
                    dt >= self.policy.interval_s
                        || (self.policy.distance_m > 0.0
                            && distance_m((last.lat, last.lon), (p.lat, p.lon)) >= self.policy.distance_m)
                        || (self.policy.turn_deg > 0.0 && dt >= 1 && turn >= self.policy.turn_deg)
                }
            }
        };
        if send {
            self.last = Some(*p);
        }
        send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: u64, lat: f64, heading: f64, speed: f64) -> Position {
        Position { lat, lon: 4.9, accuracy_m: 5.0, speed_mps: speed, heading_deg: heading, time_s: t }
    }

    #[test]
    fn reports_on_interval_distance_turn_and_slowly_when_parked() {
        let mut r = Reporter::new(Policy::default());
        assert!(r.offer(&at(0, 52.0, 0.0, 10.0)), "the first position");
        assert!(!r.offer(&at(5, 52.0002, 0.0, 10.0)));
        assert!(r.offer(&at(10, 52.0004, 0.0, 10.0)), "the interval");
        assert!(r.offer(&at(12, 52.0030, 0.0, 10.0)), "200 m on");
        assert!(r.offer(&at(13, 52.0031, 45.0, 10.0)), "a turn");
        assert!(!r.offer(&at(14, 52.0032, 50.0, 10.0)));
        // Parked: once a minute.
        assert!(r.offer(&at(30, 52.0032, 50.0, 0.0)));
        assert!(!r.offer(&at(80, 52.0032, 50.0, 0.0)));
        assert!(r.offer(&at(90, 52.0032, 50.0, 0.0)));
        // A heading that wraps through north is a small turn, not a big one.
        let mut r = Reporter::new(Policy::default());
        r.offer(&at(0, 52.0, 355.0, 10.0));
        assert!(!r.offer(&at(2, 52.0001, 5.0, 10.0)));
    }
}
