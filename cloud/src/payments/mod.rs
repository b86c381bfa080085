//! Online payments: checkout through a provider, capture when the outlet accepts, release when
//! it refuses or the customer cancels, refunds, stored payment methods, the wallet and its
//! double-entry ledger, the transaction history and the daily reconciliation.
//!
//! # Layout
//! - [`provider`]: the [`provider::Provider`] trait and its adapters (test, Stripe, Razorpay).

pub mod provider;
