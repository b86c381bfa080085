//! The leaves every room stands on: configuration, the error type, the store (the single writer
//! with group commit), the live event bus and its Server-Sent Events plumbing, metrics, the session
//! table, the cloud link's state, and the shared [`state::AppState`] made of these alone.
//!
//! May use: nothing of this crate outside `infra` (only other crates). Every domain and `app` may
//! use it.

pub mod config;
pub mod error;
pub mod events;
pub mod link;
pub mod metrics;
pub mod session;
pub mod state;
pub mod store;
