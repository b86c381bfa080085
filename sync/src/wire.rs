//! The bytes on the wire. An upload is one [`Batch`] of contiguous entries in postcard, compressed
//! with zstd when that makes it smaller (a one-byte tag says which). The downward stream is a run
//! of length-prefixed postcard [`DownFrame`]s. Decoding is bounded: a body that would inflate past
//! the limit is refused before it is inflated.

use patty_protocol::Envelope;
use patty_protocol::change::{ChangeEntry, DownFrame};
use patty_protocol::envelope::{Batch, EnvelopeV1};

/// Tag byte: the rest is postcard.
const PLAIN: u8 = 0;
/// Tag byte: the rest is zstd-compressed postcard.
const ZSTD: u8 = 1;
/// zstd level: cheap to compress on an outlet's small computer, and most of the gain.
const LEVEL: i32 = 3;

/// Bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// Empty, unknown tag, corrupt compression, or not a batch.
    #[error("malformed sync body: {0}")]
    Malformed(String),
    /// Inflates past the limit.
    #[error("sync body inflates past {0} bytes")]
    TooLarge(usize),
}

/// Encodes contiguous entries of one origin as an upload body (empty input gives an empty body).
pub fn encode_batch(entries: &[ChangeEntry]) -> Vec<u8> {
    let Some(batch) = Batch::pack(entries) else { return Vec::new() };
    let plain = Envelope::V1(EnvelopeV1::Batch(batch)).to_bytes().expect("postcard encodes to a Vec");
    let packed = zstd::bulk::compress(&plain, LEVEL).unwrap_or_default();
    let mut out = Vec::with_capacity(1 + plain.len().min(packed.len()));
    if !packed.is_empty() && packed.len() < plain.len() {
        out.push(ZSTD);
        out.extend_from_slice(&packed);
    } else {
        out.push(PLAIN);
        out.extend_from_slice(&plain);
    }
    out
}

/// Decodes an upload body, refusing one that inflates past `max_inflated` bytes.
pub fn decode_batch(body: &[u8], max_inflated: usize) -> Result<Vec<ChangeEntry>, WireError> {
    let (&tag, rest) = body.split_first().ok_or_else(|| WireError::Malformed("empty body".into()))?;
    let inflated;
    let plain = match tag {
        PLAIN => rest,
        ZSTD => {
            let size = zstd::zstd_safe::get_frame_content_size(rest)
                .map_err(|_| WireError::Malformed("corrupt zstd frame".into()))?
                .ok_or_else(|| WireError::Malformed("zstd frame without a content size".into()))?;
            if size > max_inflated as u64 {
                return Err(WireError::TooLarge(max_inflated));
            }
            inflated = zstd::bulk::decompress(rest, size as usize)
                .map_err(|e| WireError::Malformed(format!("corrupt zstd frame: {e}")))?;
            &inflated
        }
        t => return Err(WireError::Malformed(format!("unknown body tag {t}"))),
    };
    if plain.len() > max_inflated {
        return Err(WireError::TooLarge(max_inflated));
    }
    match Envelope::from_bytes(plain).map_err(|e| WireError::Malformed(e.to_string()))? {
        Envelope::V1(EnvelopeV1::Batch(b)) => Ok(b.unpack()),
        Envelope::V1(_) => Err(WireError::Malformed("not a batch".into())),
    }
}

/// Encodes one downward frame with its length prefix (u32, little-endian).
pub fn encode_frame(frame: &DownFrame) -> Vec<u8> {
    let body = postcard::to_stdvec(frame).expect("postcard encodes to a Vec");
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Splits complete frames off the front of `buf` (bytes as they arrive), leaving a partial one.
/// A zero-length frame is a keep-alive and yields nothing. A frame longer than `max_frame` is an
/// error: the stream is then abandoned and reopened.
pub fn take_frames(buf: &mut Vec<u8>, max_frame: usize) -> Result<Vec<DownFrame>, WireError> {
    let mut frames = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        if len > max_frame {
            return Err(WireError::TooLarge(max_frame));
        }
        if buf.len() - at - 4 < len {
            break;
        }
        if len == 0 {
            // A keep-alive.
            at += 4;
            continue;
        }
        let frame =
            postcard::from_bytes(&buf[at + 4..at + 4 + len]).map_err(|e| WireError::Malformed(e.to_string()))?;
        frames.push(frame);
        at += 4 + len;
    }
    buf.drain(..at);
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use patty_protocol::change::{ChangeV1, DownV1, HlcTimestamp};
    use patty_protocol::ids::{ItemId, OrderId, OutletId};

    fn entries(n: u64) -> Vec<ChangeEntry> {
        let origin = OutletId::new();
        (1..=n)
            .map(|seq| ChangeEntry {
                origin,
                seq: 40 + seq,
                hlc: HlcTimestamp::new(1_700_000_000_000 + seq * 7, (seq % 3) as u16),
                change: ChangeV1::ItemSoldOut { item_id: ItemId::new(), sold_out: seq % 2 == 0 },
            })
            .collect()
    }

    #[test]
    fn batches_round_trip_compressed_or_not() {
        for n in [1, 2, 50, 2000] {
            let e = entries(n);
            assert_eq!(decode_batch(&encode_batch(&e), 1 << 24).unwrap(), e);
        }
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert!(matches!(decode_batch(&[], 100), Err(WireError::Malformed(_))));
        assert!(matches!(decode_batch(&[9, 1, 2], 100), Err(WireError::Malformed(_))));
        assert!(matches!(decode_batch(&[ZSTD, 1, 2, 3], 100), Err(WireError::Malformed(_))));
        let body = encode_batch(&entries(500));
        assert_eq!(decode_batch(&body, 1000), Err(WireError::TooLarge(1000)));
        let mut cut = body.clone();
        cut.truncate(body.len() / 2);
        assert!(decode_batch(&cut, 1 << 24).is_err());
    }

    #[test]
    fn frames_split_wherever_the_bytes_break() {
        let frames: Vec<DownFrame> = (1..=5)
            .map(|p| DownFrame { position: p, msg: DownV1::OrderCancelled { order_id: OrderId::new(), reason: None } })
            .collect();
        let mut bytes: Vec<u8> = frames.iter().flat_map(encode_frame).collect();
        bytes.splice(0..0, [0, 0, 0, 0]);
        for cut in 0..bytes.len() {
            let mut buf = bytes[..cut].to_vec();
            let mut got = take_frames(&mut buf, 1024).unwrap();
            buf.extend_from_slice(&bytes[cut..]);
            got.extend(take_frames(&mut buf, 1024).unwrap());
            assert_eq!(got, frames);
            assert!(buf.is_empty());
        }
        let mut huge = 5000u32.to_le_bytes().to_vec();
        assert_eq!(take_frames(&mut huge, 1024), Err(WireError::TooLarge(1024)));
    }
}
