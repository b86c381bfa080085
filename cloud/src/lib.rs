//! The cloud core: HQ's catalog and outlets, identity and access, customers and online ordering,
//! and a transactional outbox that feeds Kafka. One service; each domain is a module with its own
//! router, where the original specification had separate services.
//!
//! # Layout
//! One folder per domain, each with its `//!` doc and `router()`; handlers in `http.rs`, SQL in
//! `store.rs`, pure transitions in `rules.rs`, background tasks in `worker.rs` where it has them.
//! - [`identity`]: registration, sign-in, JWT access and rotating refresh tokens, roles, API keys.
//! - [`outlets`]: outlets with delivery zones and opening hours; an outlet's sales for a day.
//! - [`catalog`]: the catalog draft and its immutable published versions.
//! - [`customers`]: profiles, addresses, activity.
//! - [`ordering`]: browse, quote, place, history, cancel, live status, outlet moves.
//! - [`payments`]: providers (Stripe, Razorpay, the embedded test one), refunds, stored methods,
//!   the wallet and its double-entry ledger, histories, reconciliation.
//! - [`checkout`]: an order and its payment together: placing, webhooks, capture on accept,
//!   release on withdrawal, the reconciler.
//! - [`sync`]: outlets' change logs applied once, merged by meaning; conflicts; the downward stream.
//! - [`privacy`]: export and erasure of a customer's data, across the domains that hold it.
//! - [`telemetry`]: MQTT ingest of drivers' fixes (agents and OwnTracks), produced to Kafka.
//! - [`fleet`]: drivers' latest positions, fixes judged, commands to devices.
//! - [`delivery`]: deliveries from ready to hand-over: the lifecycle, milestones, codes, zones,
//!   live streams, and the delivery event store.
//! - [`dispatch`]: deliveries created for ready orders (by event), offered to drivers.
//! - [`events`]: the transactional outbox, its relay to Kafka, and the event log over HTTP.
//! - [`infra`]: configuration, database, errors, Kafka, the embedded broker, rate limits, API
//!   docs, mail transport, customers' data keys, the at-rest key ring for payment data. Imports
//!   no domain.
//! - [`app`]: the state, the router, the workers and [`run`]: the only room naming every domain.
#![forbid(unsafe_code)]

pub mod app;
pub mod catalog;
pub mod checkout;
pub mod customers;
pub mod delivery;
pub mod dispatch;
pub mod events;
pub mod fleet;
pub mod identity;
pub mod infra;
pub mod notify;
pub mod ordering;
pub mod outlets;
pub mod payments;
pub mod privacy;
pub mod sync;
pub mod telemetry;

pub use app::{app, open, routes, run};
