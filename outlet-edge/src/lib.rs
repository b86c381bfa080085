//! The outlet edge node: the server every POS terminal and kitchen screen of one outlet talks to.
//! It keeps selling with no internet: every write is durable in the outlet's SQLite before it is
//! acknowledged, and appends a change-log entry that sync ships to the cloud later.
//!
//! # Layout
//! - [`infra`]: the leaves, which import no domain: [`config`], the error type, the store (a
//!   group-committing single writer and a pool of readers), the live events and Server-Sent Events
//!   plumbing, metrics, the session table, the cloud link's state, and the shared state.
//! - Domains, which may use `infra` and each other's public functions (never `app`, never in a
//!   circle):
//!   - [`staff`]: PIN sign-in, roles, the staff list.
//!   - [`menu`]: the local menu, live availability, pricing.
//!   - [`orders`]: taking, editing, moving, cancelling, voiding, paying and searching orders.
//!   - [`kitchen`]: the kitchen queue, live, with bump and recall.
//!   - [`inventory`]: stock levels, movements, low-stock alerts.
//!   - [`reports`]: the end-of-day report.
//!   - [`audit`]: the trail of manager-only actions.
//!   - [`changes`]: the change log over HTTP.
//!   - [`sync`]: the link to the cloud: the log goes up, catalogs and online orders come down; conflicts.
//! - [`app`]: the router merging every domain's `router()`, the [`seed`] of an empty store,
//!   [`open`] and [`run`]: the only code that names every domain.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod changes;
pub mod infra;
pub mod inventory;
pub mod kitchen;
pub mod menu;
pub mod orders;
pub mod reports;
pub mod staff;
pub mod sync;

pub use app::{app, open, routes, run, seed};
pub use infra::config;
