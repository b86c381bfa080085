//! The change-log sequencer: every write at an outlet takes the next gap-free sequence number and
//! an HLC stamp from here, inside the transaction that makes the write. If that transaction rolls
//! back, the caller rolls the sequencer back too ([`Sequencer::rollback_to`]), so numbers stay
//! gap-free.

use crate::hlc::Clock;
use patty_protocol::change::{ChangeEntry, ChangeV1, HlcTimestamp};
use patty_protocol::ids::OutletId;

/// Hands out change-log entries for one origin.
#[derive(Debug, Clone)]
pub struct Sequencer {
    origin: OutletId,
    next_seq: u64,
    clock: Clock,
}

impl Sequencer {
    /// Resumes after the last stored entry (`last_seq` 0 and a default stamp for an empty log).
    pub fn resume(origin: OutletId, last_seq: u64, last_hlc: HlcTimestamp) -> Self {
        Self { origin, next_seq: last_seq + 1, clock: Clock::resume(last_hlc) }
    }

    /// The origin this sequencer stamps.
    pub fn origin(&self) -> OutletId {
        self.origin
    }

    /// The sequence number the next entry will take.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Stamps `change` as the next entry.
    pub fn append(&mut self, change: ChangeV1, wall_ms: u64) -> ChangeEntry {
        let seq = self.next_seq;
        self.next_seq += 1;
        ChangeEntry { origin: self.origin, seq, hlc: self.clock.now(wall_ms), change }
    }

    /// Forgets entries from `next_seq` on, after the transaction holding them rolled back. The
    /// clock keeps its reading: HLC stamps need only be monotonic, not dense.
    pub fn rollback_to(&mut self, next_seq: u64) {
        debug_assert!(next_seq <= self.next_seq);
        self.next_seq = next_seq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patty_protocol::ids::ItemId;

    fn change() -> ChangeV1 {
        ChangeV1::ItemSoldOut { item_id: ItemId::new(), sold_out: true }
    }

    #[test]
    fn sequence_is_gap_free_across_a_rollback() {
        let mut s = Sequencer::resume(OutletId::new(), 0, HlcTimestamp::default());
        assert_eq!(s.append(change(), 10).seq, 1);
        let mark = s.next_seq();
        assert_eq!(s.append(change(), 10).seq, 2);
        s.rollback_to(mark);
        let e = s.append(change(), 11);
        assert_eq!(e.seq, 2);
        assert_eq!(e.hlc.physical_ms(), 11);
    }

    #[test]
    fn resumes_after_the_stored_tail() {
        let mut s = Sequencer::resume(OutletId::new(), 41, HlcTimestamp::new(500, 3));
        let e = s.append(change(), 100);
        assert_eq!(e.seq, 42);
        assert!(e.hlc > HlcTimestamp::new(500, 3));
    }
}
