//! Plumbing every Patty Palace service shares, so each idea is written once: layered
//! configuration, extractors whose rejections are the shared JSON error body, HTTP metrics in the
//! Prometheus format, the shutdown signal, and secret tokens.
//!
//! # Layout
//! - [`config`]: defaults, then a TOML file, then `PATTY_SECTION__KEY` variables.
//! - [`error`]: the one error type of the HTTP services, rendered as the JSON error body.
//! - [`http`]: `Json`, `Query` and `Path` extractors and the [`http::Rejection`] they answer with.
//! - [`metrics`]: request counters and latency histograms by route.
//! - [`openapi`]: the error answers shared layers give, added to the API document.
//! - [`secret`]: random tokens and their digests.
//! - [`run`]: the shutdown signal and tracing set-up for binaries.
//! - [`tls`]: HTTPS served by the service itself, and the files it is configured with.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod run;
pub mod secret;
pub mod tls;
