//! The outlet edge node: the server every POS terminal and kitchen screen of one outlet talks to.
//! It keeps selling with no internet: every write is durable in the outlet's SQLite before it is
//! acknowledged, and appends a change-log entry that sync ships to the cloud later.
//!
//! # Layout
//! Three kinds of room; imports go one way, `app` → domains → `infra`.
//! - [`infra`]: the leaves, which import nothing outside `infra`: [`config`], the error type, the
//!   store (a group-committing single writer and a pool of readers), the live events and their
//!   Server-Sent Events plumbing, metrics, the session table and the `Session` extractor, the
//!   cloud link's state, and the shared `AppState` made of these alone.
//! - Domains, which may use `infra` and each other's public functions, never `app`, and never in a
//!   circle (`staff` → `audit`; `inventory` → `menu`, `audit`; `orders` → `inventory`, `menu`,
//!   `audit`; `kitchen` → `orders`, `menu`; `reports` → `orders`; `refunds` → `orders`, `audit`;
//!   `sync` → `orders`, `inventory`, `menu`, `staff`, `changes`):
//!   - [`staff`]: PIN sign-in, roles, the staff list.
//!   - [`menu`]: the local menu, live availability, pricing.
//!   - [`orders`]: taking, editing, moving, cancelling, voiding, paying and searching orders;
//!     receipts.
//!   - [`refunds`]: the refund endpoint; refunds of money taken online, kept as requests and
//!     sent to the cloud by a sender while the link is up.
//!   - [`kitchen`]: the kitchen queue, live, with bump and recall.
//!   - [`inventory`]: stock levels, movements, low-stock alerts.
//!   - [`reports`]: the end-of-day report.
//!   - [`audit`]: the trail of manager-only actions.
//!   - [`changes`]: the change log over HTTP.
//!   - [`sync`]: the link to the cloud: the log goes up, catalogs and online orders come down;
//!     conflicts.
//! - [`app`](mod@app): the router merging every domain's `router()`, the [`seed`] of an empty store,
//!   [`open`] and [`run`]: the only code that names every domain.
//!
//! A domain folder has, where it applies: `mod.rs` (its doc, its public functions, `router()`),
//! `http.rs` (handlers and request types, no SQL; the only place the domain's error enum becomes
//! an HTTP status), `store.rs` (its SQL and its writes), `rules.rs` (pure decisions: no store, no
//! clock), and `error.rs`. `store.rs` and `rules.rs` never use `http.rs`.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod changes;
pub mod infra;
pub mod inventory;
pub mod kitchen;
pub mod menu;
pub mod orders;
pub mod refunds;
pub mod reports;
pub mod staff;
pub mod sync;

pub use app::{app, open, routes, run, seed};
pub use infra::config;
