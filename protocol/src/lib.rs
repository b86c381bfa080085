//! Patty Palace's shared language: the domain types every service speaks and their wire formats.
//!
//! This crate does no I/O. JSON (serde) is the encoding of the HTTP APIs; postcard is the compact
//! binary encoding used on the sync and telemetry paths, always inside a versioned [`Envelope`].
//!
//! # Layout
//! - [`ids`]: typed UUIDv7 identifiers, created where the thing is born.
//! - [`money`]: integer minor units with a currency.
//! - [`menu`]: categories, items, variants, modifiers, allergens, nutrition, availability windows.
//! - [`catalog`]: the chain's published catalog with per-outlet prices and availability.
//! - [`outlet`]: outlets, their delivery zones, opening hours and money rules.
//! - [`local`]: local time in an outlet's IANA time zone: its week, its days, its hours.
//! - [`order`]: orders, lines, tenders, and the status state machine ([`order::transition`]).
//! - [`pricing`]: pricing lines from the menu (shared by the edge and the cloud).
//! - [`inventory`]: ingredients, recipes and stock movements.
//! - [`staff`]: staff members and roles.
//! - [`telemetry`]: the position fix a driver's agent publishes, and the MQTT topic layout.
//! - [`delivery`]: delivery milestones, and the commands and replies between cloud and agent.
//! - [`topics`]: the Kafka topics, named once, with their partition counts.
//! - [`events`]: the domain events, one type per kind, each with its topic.
//! - [`geo`]: distance and bearing on the sphere.
//! - [`change`]: the change-log entry every outlet write appends, and the hybrid-logical-clock stamp.
//! - [`error`]: the JSON error body every HTTP API returns.
//! - [`envelope`]: the versioned binary envelope and its postcard encoding.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod change;
pub mod conflict;
pub mod delivery;
pub mod envelope;
pub mod error;
pub mod events;
pub mod geo;
pub mod ids;
pub mod inventory;
pub mod local;
pub mod menu;
pub mod money;
pub mod order;
pub mod outlet;
pub mod pricing;
pub mod staff;
pub mod telemetry;
pub mod topics;

pub use envelope::{Envelope, EnvelopeError};

/// Whether `s` is empty or only white space. The API documents require such text to contain a
/// character outside `[\s\u0085]` (their patterns' white space, ECMA-262's, lacks U+0085 and has
/// U+FEFF), so this counts both sets, and a server and its document agree on every string.
pub fn blank(s: &str) -> bool {
    s.chars().all(|c| c.is_whitespace() || c == '\u{feff}')
}
pub use error::{ErrorBody, ErrorCode};
pub use money::{Currency, Money};
