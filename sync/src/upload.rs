//! The upward path, edge to cloud, as two pure state machines.
//!
//! - [`Uploader`] (edge): takes the change log's entries after what the cloud acknowledged, cuts
//!   them into ordered, size-bounded batches, keeps one batch in flight, and backs off with jitter
//!   after a failure. It persists nothing itself: after a restart it resumes from the cloud's last
//!   acknowledgement, so a crash at any point only causes a resend.
//! - [`Cursor`] (cloud): per origin, the highest sequence applied. [`Cursor::admit`] says which
//!   entries of a batch are new; the cloud applies those and advances the cursor in one
//!   transaction, so a retried or duplicated batch has no second effect, and a batch that would
//!   leave a gap is refused (the edge resends from the acknowledged point).

use patty_protocol::change::ChangeEntry;
use patty_protocol::ids::OutletId;
use std::ops::RangeInclusive;

/// Limits on one batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most entries.
    pub max_entries: usize,
    /// Most encoded bytes, before compression (an entry larger than this still travels, alone); the
    /// default keeps an uncompressed body under the cloud's 256 KiB request limit.
    pub max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self { max_entries: 2000, max_bytes: 192 * 1024 }
    }
}

/// Retry timing after a failed upload: exponential, capped, with jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay, milliseconds.
    pub base_ms: u64,
    /// Largest delay, milliseconds.
    pub max_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base_ms: 500, max_ms: 60_000 }
    }
}

impl Backoff {
    /// The delay before attempt `failures + 1`, with "full jitter" from `random` (any u64).
    pub fn delay_ms(&self, failures: u32, random: u64) -> u64 {
        let ceiling = self.base_ms.saturating_mul(1u64 << failures.min(20)).min(self.max_ms).max(1);
        ceiling / 2 + random % (ceiling / 2 + 1)
    }
}

/// What the cloud answers to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Everything up to and including this sequence is applied.
    AppliedThrough(u64),
    /// The batch started past the next expected sequence; resend from after `applied_through`.
    Gap {
        /// What the cloud has applied.
        applied_through: u64,
    },
}

/// The edge's upload state for one origin.
#[derive(Debug, Clone)]
pub struct Uploader {
    origin: OutletId,
    acked: u64,
    in_flight: Option<RangeInclusive<u64>>,
    failures: u32,
    retry_at_ms: u64,
    limits: BatchLimits,
    backoff: Backoff,
}

/// A batch to send.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadBatch {
    /// The origin.
    pub origin: OutletId,
    /// Entries in sequence order, contiguous.
    pub entries: Vec<ChangeEntry>,
}

impl Uploader {
    /// Resumes after what the cloud acknowledged (0 for a new outlet).
    pub fn resume(origin: OutletId, acked: u64, limits: BatchLimits, backoff: Backoff) -> Self {
        Self { origin, acked, in_flight: None, failures: 0, retry_at_ms: 0, limits, backoff }
    }

    /// The highest sequence the cloud acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The next batch to send now, from `pending` (log entries after [`Uploader::acked`], in order),
    /// or `None` while a batch is in flight, while backing off, or when there is nothing to send.
    /// `size` gives an entry's encoded size.
    pub fn next_batch(
        &mut self,
        pending: &[ChangeEntry],
        now_ms: u64,
        size: impl Fn(&ChangeEntry) -> usize,
    ) -> Option<UploadBatch> {
        if self.in_flight.is_some() || now_ms < self.retry_at_ms {
            return None;
        }
        let start = pending.iter().position(|e| e.seq == self.acked + 1)?;
        let mut bytes = 0;
        let mut entries = Vec::new();
        for e in &pending[start..] {
            let expected = self.acked + 1 + entries.len() as u64;
            if e.seq != expected || entries.len() == self.limits.max_entries {
                break;
            }
            let s = size(e);
            if !entries.is_empty() && bytes + s > self.limits.max_bytes {
                break;
            }
            bytes += s;
            entries.push(e.clone());
        }
        let first = entries.first()?.seq;
        let last = entries.last()?.seq;
        self.in_flight = Some(first..=last);
        Some(UploadBatch { origin: self.origin, entries })
    }

    /// The cloud answered.
    pub fn on_ack(&mut self, ack: Ack) {
        self.in_flight = None;
        self.failures = 0;
        self.retry_at_ms = 0;
        match ack {
            // Acks only move forward: a late duplicate answer cannot rewind the cursor.
            Ack::AppliedThrough(seq) => self.acked = self.acked.max(seq),
            // The cloud holds less than the edge was told (restored from a backup): resend from
            // what it holds. A cloud that keeps what it acknowledged never answers this.
            Ack::Gap { applied_through } => self.acked = applied_through,
        }
    }

    /// The link is known to be back (the downward stream reconnected): stop backing off, so the
    /// backlog starts moving at once instead of after the current delay.
    pub fn retry_now(&mut self) {
        self.retry_at_ms = 0;
        self.failures = 0;
    }

    /// The upload failed or timed out: back off before trying again. Returns when to retry.
    pub fn on_failure(&mut self, now_ms: u64, random: u64) -> u64 {
        self.in_flight = None;
        self.retry_at_ms = now_ms + self.backoff.delay_ms(self.failures, random);
        self.failures = self.failures.saturating_add(1);
        self.retry_at_ms
    }
}

/// The cloud's record of what it applied from one origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Highest sequence applied.
    pub applied_through: u64,
}

/// Which entries of a batch to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Apply the entries at these indexes of the batch (possibly none: all were applied before),
    /// then store the cursor at `through`.
    Apply {
        /// Index of the first new entry in the batch.
        from_index: usize,
        /// The cursor after applying.
        through: u64,
    },
    /// The batch skips entries the cloud has not seen: apply nothing.
    Gap,
}

impl Cursor {
    /// Decides what of `batch` (contiguous, in order) is new.
    pub fn admit(&self, batch: &[ChangeEntry]) -> Admit {
        let Some(first) = batch.first() else { return Admit::Apply { from_index: 0, through: self.applied_through } };
        if first.seq > self.applied_through + 1 {
            return Admit::Gap;
        }
        let from_index = batch.iter().position(|e| e.seq > self.applied_through).unwrap_or(batch.len());
        let through = batch.last().map_or(self.applied_through, |e| e.seq.max(self.applied_through));
        Admit::Apply { from_index, through }
    }

    /// The acknowledgement for a decision.
    pub fn ack(&self) -> Ack {
        Ack::AppliedThrough(self.applied_through)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patty_protocol::change::{ChangeV1, HlcTimestamp};
    use patty_protocol::ids::ItemId;
    use proptest::prelude::*;

    fn log(origin: OutletId, n: u64) -> Vec<ChangeEntry> {
        (1..=n)
            .map(|seq| ChangeEntry {
                origin,
                seq,
                hlc: HlcTimestamp::new(seq, 0),
                change: ChangeV1::ItemSoldOut { item_id: ItemId::new(), sold_out: seq % 2 == 0 },
            })
            .collect()
    }

    #[test]
    fn batches_are_bounded_ordered_and_one_at_a_time() {
        let o = OutletId::new();
        let entries = log(o, 10);
        let mut up = Uploader::resume(o, 0, BatchLimits { max_entries: 4, max_bytes: 1000 }, Backoff::default());
        let b = up.next_batch(&entries, 0, |_| 100).unwrap();
        assert_eq!(b.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(up.next_batch(&entries, 0, |_| 100).is_none(), "one batch in flight");
        up.on_ack(Ack::AppliedThrough(4));
        let b = up.next_batch(&entries[4..], 0, |_| 400).unwrap();
        assert_eq!(b.entries.len(), 2, "bytes bound the batch");
    }

    #[test]
    fn a_link_known_to_be_back_ends_the_backoff() {
        let o = OutletId::new();
        let entries = log(o, 3);
        let mut up = Uploader::resume(o, 0, BatchLimits::default(), Backoff { base_ms: 1000, max_ms: 60_000 });
        assert!(up.next_batch(&entries, 0, |_| 10).is_some());
        for _ in 0..10 {
            up.on_failure(0, 7);
        }
        assert!(up.next_batch(&entries, 1000, |_| 10).is_none(), "backing off");
        up.retry_now();
        assert!(up.next_batch(&entries, 1000, |_| 10).is_some());
    }

    #[test]
    fn failures_back_off_with_jitter_and_a_cap() {
        let b = Backoff { base_ms: 100, max_ms: 1000 };
        for failures in 0..30 {
            for r in [0, 7, u64::MAX] {
                let d = b.delay_ms(failures, r);
                let ceiling = (100u64 << failures.min(20)).min(1000);
                assert!(d >= ceiling / 2 && d <= ceiling, "{failures} {r} {d}");
            }
        }
    }

    #[test]
    fn the_cursor_skips_repeats_and_refuses_gaps() {
        let o = OutletId::new();
        let entries = log(o, 6);
        let c = Cursor { applied_through: 3 };
        assert_eq!(c.admit(&entries[1..5]), Admit::Apply { from_index: 2, through: 5 });
        assert_eq!(c.admit(&entries[0..2]), Admit::Apply { from_index: 2, through: 3 });
        assert_eq!(c.admit(&entries[4..]), Admit::Gap);
    }

    /// One step of a random schedule between one edge and the cloud.
    #[derive(Debug, Clone)]
    enum Step {
        /// The outlet writes `n` more changes.
        Write(u8),
        /// The edge sends what `next_batch` gives.
        Send,
        /// The network delivers the message at this index of the in-transit list (modulo).
        Deliver(usize),
        /// It also delivers a copy and keeps the original (duplication).
        Duplicate(usize),
        /// It loses a message.
        Lose(usize),
        /// The edge times out its request.
        Timeout,
        /// The edge process crashes and restarts from the cloud's last acknowledgement it saw.
        CrashEdge,
        /// Time passes.
        Tick(u16),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (1u8..8).prop_map(Step::Write),
            4 => Just(Step::Send),
            4 => any::<usize>().prop_map(Step::Deliver),
            1 => any::<usize>().prop_map(Step::Duplicate),
            1 => any::<usize>().prop_map(Step::Lose),
            1 => Just(Step::Timeout),
            1 => Just(Step::CrashEdge),
            2 => (1u16..5000).prop_map(Step::Tick),
        ]
    }

    enum Msg {
        Batch(UploadBatch),
        Ack(Ack),
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
        /// Whatever the network and the edge do, after healing the cloud has applied every entry
        /// of the edge's log exactly once, in order.
        #[test]
        fn every_change_is_applied_exactly_once(steps in prop::collection::vec(step(), 1..120), seed in any::<u64>()) {
            let o = OutletId::new();
            let limits = BatchLimits { max_entries: 5, max_bytes: 10_000 };
            let backoff = Backoff { base_ms: 10, max_ms: 100 };
            let mut edge_log: Vec<ChangeEntry> = Vec::new();
            let mut up = Uploader::resume(o, 0, limits, backoff);
            let mut cursor = Cursor::default();
            let mut applied: Vec<u64> = Vec::new();
            let mut transit: Vec<Msg> = Vec::new();
            let mut now = 0u64;
            let mut rnd = seed;
            let deliver = |m: Msg, up: &mut Uploader, cursor: &mut Cursor, applied: &mut Vec<u64>, transit: &mut Vec<Msg>| match m {
                Msg::Batch(b) => {
                    if let Admit::Apply { from_index, through } = cursor.admit(&b.entries) {
                        applied.extend(b.entries[from_index..].iter().map(|e| e.seq));
                        cursor.applied_through = through;
                    }
                    transit.push(Msg::Ack(cursor.ack()));
                }
                Msg::Ack(a) => up.on_ack(a),
            };
            for s in steps {
                match s {
                    Step::Write(n) => {
                        let next = edge_log.len() as u64 + 1;
                        edge_log.extend(log(o, next + u64::from(n) - 1).into_iter().skip(next as usize - 1));
                    }
                    Step::Send => {
                        let pending: Vec<ChangeEntry> = edge_log.iter().filter(|e| e.seq > up.acked()).cloned().collect();
                        if let Some(b) = up.next_batch(&pending, now, |_| 100) {
                            transit.push(Msg::Batch(b));
                        }
                    }
                    Step::Deliver(i) if !transit.is_empty() => {
                        let m = transit.remove(i % transit.len());
                        deliver(m, &mut up, &mut cursor, &mut applied, &mut transit);
                    }
                    Step::Duplicate(i) if !transit.is_empty() => {
                        let i = i % transit.len();
                        let copy = match &transit[i] {
                            Msg::Batch(b) => Msg::Batch(b.clone()),
                            Msg::Ack(a) => Msg::Ack(*a),
                        };
                        deliver(copy, &mut up, &mut cursor, &mut applied, &mut transit);
                    }
                    Step::Lose(i) if !transit.is_empty() => {
                        transit.remove(i % transit.len());
                    }
                    Step::Timeout => {
                        rnd = rnd.wrapping_mul(6364136223846793005).wrapping_add(1);
                        up.on_failure(now, rnd);
                    }
                    Step::CrashEdge => up = Uploader::resume(o, up.acked(), limits, backoff),
                    Step::Tick(ms) => now += u64::from(ms),
                    _ => {}
                }
            }
            // Healing: the network works again; the edge times out whatever it waited for and
            // sends until the cloud has everything.
            let mut rounds = 0;
            while cursor.applied_through < edge_log.len() as u64 || !transit.is_empty() {
                rounds += 1;
                prop_assert!(rounds < 10_000, "no convergence");
                while let Some(m) = transit.pop() {
                    deliver(m, &mut up, &mut cursor, &mut applied, &mut transit);
                }
                now += 1_000;
                let pending: Vec<ChangeEntry> = edge_log.iter().filter(|e| e.seq > up.acked()).cloned().collect();
                match up.next_batch(&pending, now, |_| 100) {
                    Some(b) => transit.push(Msg::Batch(b)),
                    None if cursor.applied_through < edge_log.len() as u64 => { up.on_failure(now, 0); }
                    None => {}
                }
            }
            prop_assert_eq!(applied, (1..=edge_log.len() as u64).collect::<Vec<_>>());
        }
    }
}
