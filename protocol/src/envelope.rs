//! The versioned binary envelope. postcard encodes enum variants by position, so variants only
//! ever grow at the end and old peers keep decoding what they know.

use crate::change::ChangeEntry;
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
