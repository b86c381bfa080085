//! Fixtures for tests that drive Patty Palace the way a user would: real binaries started on free
//! loopback ports, and a reader for the Server-Sent Events streams.
//!
//! # Layout
//! - [`bench`]: closed-loop load for the benchmarks and their figures.
//! - [`chain`]: the cloud, edges and driver agents as the real binaries, and links to cut.
//! - [`fixtures`]: the sample outlet, waiting for a service to answer.
//! - [`kafka`]: a tansu broker and the independent consumer.
//! - [`link`]: a TCP relay between an edge and the cloud that can be cut (the demo's too).
//! - [`mail`]: an SMTP server that shows what it received (`maildev`).
//! - [`mqtt`]: a Mosquitto of the test's own with the fleet's broker settings.
//! - [`payments`]: the payment providers' double (Stripe and Razorpay on loopback).
//! - [`postgres`]: a fresh schema per test on the PostgreSQL server.
//! - [`push`]: a web push service that decrypts what it is sent (`web-push-testing`).
//! - [`process`]: start a service binary and learn the address it listens on.
//! - [`sms`]: a Kannel SMS gateway with a fake SMS centre behind it.
//! - [`sse`]: read events from a streaming HTTP response with deadlines.
#![forbid(unsafe_code)]

pub mod bench;
pub mod chain;
pub mod fixtures;
pub mod kafka;
pub mod link;
pub mod mail;
pub mod mqtt;
pub mod payments;
pub mod postgres;
pub mod process;
pub mod push;
pub mod sms;
pub mod sse;

pub use process::spawn_service;
pub use sse::SseReader;
