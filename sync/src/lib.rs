//! The reconciliation engine. A pure state machine: methods take the inputs (including the wall
//! clock's reading) and return what to record or send; the services own sockets, databases and time.
//!
//! # Layout
//! - [`hlc`]: the hybrid logical clock that stamps every change-log entry.
//! - [`log`]: the change-log sequencer that hands out gap-free sequence numbers with HLC stamps.
//! - [`merge`]: merge rules: stock as a sum of distinct movements, order status forward only, conflicts.
//! - [`upload`]: the upward path: the edge's batching uploader and the cloud's per-origin cursor.
//! - [`wire`]: the bytes on the wire: compressed batches up, length-prefixed frames down.
#![forbid(unsafe_code)]

pub mod hlc;
pub mod log;
pub mod merge;
pub mod upload;
pub mod wire;

pub use hlc::{Clock, ClockError};
pub use log::Sequencer;
pub use upload::{Ack, Admit, Backoff, BatchLimits, Cursor, Uploader};
