//! The cloud's foundations, shared by every domain and importing none: the configuration, the
//! database, the error type and the extractors, Kafka, the embedded MQTT broker, rate limits, the
//! API reference, the mail transport for security messages, customers' data keys, and the key ring
//! for payment data at rest.

pub mod access;
pub mod atrest;
pub mod broker;
pub mod config;
pub mod db;
pub mod docs;
pub mod error;
pub mod kafka;
pub mod limits;
pub mod mail;
pub mod phone;
pub mod state;
pub mod vault;
