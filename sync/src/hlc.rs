//! A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): timestamps that
//! follow wall time, never go backwards on one node, and order causally related events across
//! nodes even when their wall clocks disagree.

use patty_protocol::change::HlcTimestamp;

/// How far ahead of our wall clock a remote timestamp may be before we refuse it (one hour), so a
/// peer with a broken clock cannot drag ours into the future.
pub const MAX_DRIFT_MS: u64 = 60 * 60 * 1000;

/// A remote timestamp could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The remote clock is too far ahead of ours.
    #[error("remote clock is {ahead_ms} ms ahead, more than the {MAX_DRIFT_MS} ms allowed")]
    TooFarAhead {
        /// By how much.
        ahead_ms: u64,
    },
}

/// One node's hybrid logical clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    last: HlcTimestamp,
}

impl Clock {
    /// A clock that will never issue a timestamp at or below `last` (restore it from storage).
    pub fn resume(last: HlcTimestamp) -> Self {
        Self { last }
    }

    /// The last timestamp issued or observed.
    pub fn last(&self) -> HlcTimestamp {
        self.last
    }

    /// A new timestamp for a local event, given the wall clock's reading in Unix milliseconds.
    pub fn now(&mut self, wall_ms: u64) -> HlcTimestamp {
        let last_phys = self.last.physical_ms();
        self.last = if wall_ms > last_phys {
            HlcTimestamp::new(wall_ms, 0)
        } else {
            Self::bump(last_phys, self.last.counter())
        };
        self.last
    }

    /// Merges a timestamp received from another node, returning the receive event's timestamp.
    pub fn observe(&mut self, remote: HlcTimestamp, wall_ms: u64) -> Result<HlcTimestamp, ClockError> {
        let remote_phys = remote.physical_ms();
        if remote_phys > wall_ms + MAX_DRIFT_MS {
            return Err(ClockError::TooFarAhead { ahead_ms: remote_phys - wall_ms });
        }
        let last_phys = self.last.physical_ms();
        let phys = wall_ms.max(last_phys).max(remote_phys);
        self.last = if phys == wall_ms && wall_ms > last_phys && wall_ms > remote_phys {
            HlcTimestamp::new(phys, 0)
        } else {
            let counter = match (phys == last_phys, phys == remote_phys) {
                (true, true) => self.last.counter().max(remote.counter()),
                (true, false) => self.last.counter(),
                (false, true) => remote.counter(),
                (false, false) => return Ok(self.set(HlcTimestamp::new(phys, 0))),
            };
            Self::bump(phys, counter)
        };
        Ok(self.last)
    }

    fn set(&mut self, ts: HlcTimestamp) -> HlcTimestamp {
        self.last = ts;
        ts
    }

    /// The next logical tick; a full counter carries into the physical part (one millisecond).
    fn bump(phys: u64, counter: u16) -> HlcTimestamp {
        match counter.checked_add(1) {
            Some(c) => HlcTimestamp::new(phys, c),
            None => HlcTimestamp::new(phys + 1, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn follows_wall_time_and_ticks_when_it_stalls() {
        let mut c = Clock::default();
        assert_eq!(c.now(1000), HlcTimestamp::new(1000, 0));
        assert_eq!(c.now(1000), HlcTimestamp::new(1000, 1));
        assert_eq!(c.now(999), HlcTimestamp::new(1000, 2));
        assert_eq!(c.now(1001), HlcTimestamp::new(1001, 0));
    }

    #[test]
    fn observing_a_later_remote_moves_past_it() {
        let mut c = Clock::default();
        c.now(1000);
        let t = c.observe(HlcTimestamp::new(5000, 4), 1000).unwrap();
        assert_eq!(t, HlcTimestamp::new(5000, 5));
        assert!(c.now(1000) > t);
    }

    #[test]
    fn refuses_a_remote_far_in_the_future() {
        let mut c = Clock::default();
        assert!(c.observe(HlcTimestamp::new(10 + MAX_DRIFT_MS + 1, 0), 10).is_err());
        assert_eq!(c.last(), HlcTimestamp::default());
    }

    #[test]
    fn counter_overflow_carries() {
        let mut c = Clock::resume(HlcTimestamp::new(7, u16::MAX));
        assert_eq!(c.now(7), HlcTimestamp::new(8, 0));
    }

    proptest! {
        #[test]
        fn strictly_monotonic_under_any_schedule(events in prop::collection::vec((any::<bool>(), 0u64..10_000, 0u64..10_000, any::<u16>()), 1..200)) {
            let mut c = Clock::default();
            let mut prev = c.last();
            for (local, wall, remote_phys, remote_ctr) in events {
                let remote = HlcTimestamp::new(remote_phys, remote_ctr);
                let t = if local { c.now(wall) } else { c.observe(remote, wall).unwrap() };
                prop_assert!(t > prev);
                if !local { prop_assert!(t > remote); }
                prop_assert!(t.physical_ms() >= wall.min(t.physical_ms()));
                prev = t;
            }
        }
    }
}
