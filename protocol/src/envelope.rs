//! The versioned binary envelope. postcard encodes enum variants by position, so variants only
//! ever grow at the end and old peers keep decoding what they know.

use crate::change::{ChangeEntry, ChangeV1, HlcTimestamp};
use crate::ids::OutletId;
use serde::{Deserialize, Serialize};

/// Everything that travels in postcard, by version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Envelope {
    /// Version 1.
    V1(EnvelopeV1),
}

/// Version 1 messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EnvelopeV1 {
    /// A run of change-log entries from one origin.
    Changes(Vec<ChangeEntry>),
    /// A run of change-log entries from one origin, without repeating what they share: sequence
    /// numbers count up from `first_seq`, and each stamp is a delta from the one before.
    Batch(Batch),
}

/// A compact run of contiguous change-log entries from one origin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// The origin.
    pub origin: OutletId,
    /// The first entry's sequence number; the rest follow without gaps.
    pub first_seq: u64,
    /// The stamp the first delta is taken from.
    pub base_hlc: u64,
    /// Each entry's stamp, as the difference from the previous one, and its change.
    pub entries: Vec<(u64, ChangeV1)>,
}

impl Batch {
    /// Packs contiguous entries of one origin (the first entry names the origin).
    pub fn pack(entries: &[ChangeEntry]) -> Option<Self> {
        let first = entries.first()?;
        let mut prev = first.hlc.0;
        let packed = entries
            .iter()
            .map(|e| {
                let d = e.hlc.0.saturating_sub(prev);
                prev = e.hlc.0.max(prev);
                (d, e.change.clone())
            })
            .collect();
        Some(Self { origin: first.origin, first_seq: first.seq, base_hlc: first.hlc.0, entries: packed })
    }

    /// Unpacks into entries.
    pub fn unpack(self) -> Vec<ChangeEntry> {
        let mut hlc = self.base_hlc;
        let origin = self.origin;
        self.entries
            .into_iter()
            .zip(self.first_seq..)
            .map(|((d, change), seq)| {
                hlc = hlc.saturating_add(d);
                ChangeEntry { origin, seq, hlc: HlcTimestamp(hlc), change }
            })
            .collect()
    }
}

/// The envelope could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("envelope: {0}")]
pub struct EnvelopeError(#[from] postcard::Error);

impl Envelope {
    /// Encodes to postcard bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EnvelopeError> {
        Ok(postcard::to_stdvec(self)?)
    }

    /// Decodes postcard bytes; trailing bytes are an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let (env, rest) = postcard::take_from_bytes(bytes)?;
        if rest.is_empty() { Ok(env) } else { Err(EnvelopeError(postcard::Error::DeserializeBadEncoding)) }
    }
}
