//! The payments section of the configuration: the provider and its keys (each secret inline or
//! from a `*_file`), the at-rest key, and the reconciler's timings.

use super::{ConfigError, redacted};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A secret given inline or as a file holding it (`*_file`, for secrets mounted by an
/// orchestrator): the file wins when both are set.
pub fn read_secret(inline: &str, file: &Option<PathBuf>) -> Result<String, ConfigError> {
    match file {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| ConfigError::Invalid(format!("cannot read the secret file {}: {e}", path.display()))),
        None => Ok(inline.to_owned()),
    }
}

/// Online payments.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Which provider takes online payments: `test` (the embedded default: authorises every
    /// payment at once, for the demo and a fresh clone), `stripe` or `razorpay`.
    pub provider: String,
    /// The chain's currency (ISO 4217): wallets hold it.
    pub currency: String,
    /// Stripe's keys.
    pub stripe: StripeConfig,
    /// Razorpay's keys.
    pub razorpay: RazorpayConfig,
    /// The key payment columns that identify a person or a card are encrypted with (AES-256-GCM),
    /// as `ID:BASE64` of 32 bytes. Empty: a key generated in the data directory (one node).
    pub at_rest_key: String,
    /// A file holding `at_rest_key`.
    pub at_rest_key_file: Option<PathBuf>,
    /// Earlier at-rest keys (`ID:BASE64`), still read; rows under them are re-encrypted under
    /// `at_rest_key` in the background.
    pub old_at_rest_keys: Vec<String>,
    /// How often the reconciler asks the provider about payments left pending, seconds.
    pub reconcile_secs: u64,
    /// A payment still pending after this long is settled from the provider's state, seconds.
    pub pending_secs: u64,
    /// A provider call that takes longer counts as a timeout, milliseconds.
    pub call_timeout_ms: u64,
    /// A webhook signed longer ago than this is refused, seconds (Stripe's default: 300).
    pub webhook_tolerance_secs: i64,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            provider: "test".into(),
            currency: "EUR".into(),
            stripe: StripeConfig::default(),
            razorpay: RazorpayConfig::default(),
            at_rest_key: String::new(),
            at_rest_key_file: None,
            old_at_rest_keys: vec![],
            reconcile_secs: 15,
            pending_secs: 30,
            call_timeout_ms: 10_000,
            webhook_tolerance_secs: 300,
        }
    }
}

impl std::fmt::Debug for PaymentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentsConfig")
            .field("provider", &self.provider)
            .field("currency", &self.currency)
            .field("stripe", &self.stripe)
            .field("razorpay", &self.razorpay)
            .field("at_rest_key", &redacted(&self.at_rest_key))
            .field("at_rest_key_file", &self.at_rest_key_file)
            .field("old_at_rest_keys", &self.old_at_rest_keys.iter().map(|k| redacted(k)).collect::<Vec<_>>())
            .field("reconcile_secs", &self.reconcile_secs)
            .field("pending_secs", &self.pending_secs)
            .field("call_timeout_ms", &self.call_timeout_ms)
            .field("webhook_tolerance_secs", &self.webhook_tolerance_secs)
            .finish()
    }
}

/// Stripe's keys.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripeConfig {
    /// The API's base URL.
    pub api_base: String,
    /// The secret API key (`sk_…`).
    pub secret_key: String,
    /// A file holding `secret_key`.
    pub secret_key_file: Option<PathBuf>,
    /// The publishable key the customer's client uses (`pk_…`; not a secret).
    pub publishable_key: String,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: String,
    /// A file holding `webhook_secret`.
    pub webhook_secret_file: Option<PathBuf>,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.stripe.com".into(),
            secret_key: String::new(),
            secret_key_file: None,
            publishable_key: String::new(),
            webhook_secret: String::new(),
            webhook_secret_file: None,
        }
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base)
            .field("secret_key", &redacted(&self.secret_key))
            .field("secret_key_file", &self.secret_key_file)
            .field("publishable_key", &self.publishable_key)
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("webhook_secret_file", &self.webhook_secret_file)
            .finish()
    }
}

/// Razorpay's keys.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RazorpayConfig {
    /// The API's base URL.
    pub api_base: String,
    /// The key id (`rzp_…`; sent with the secret as HTTP basic auth, and to the checkout).
    pub key_id: String,
    /// The key secret: basic auth, and the checkout signature's key.
    pub key_secret: String,
    /// A file holding `key_secret`.
    pub key_secret_file: Option<PathBuf>,
    /// The webhook secret.
    pub webhook_secret: String,
    /// A file holding `webhook_secret`.
    pub webhook_secret_file: Option<PathBuf>,
}

impl Default for RazorpayConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.razorpay.com".into(),
            key_id: String::new(),
            key_secret: String::new(),
            key_secret_file: None,
            webhook_secret: String::new(),
            webhook_secret_file: None,
        }
    }
}

impl std::fmt::Debug for RazorpayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RazorpayConfig")
            .field("api_base", &self.api_base)
            .field("key_id", &self.key_id)
            .field("key_secret", &redacted(&self.key_secret))
            .field("key_secret_file", &self.key_secret_file)
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("webhook_secret_file", &self.webhook_secret_file)
            .finish()
    }
}
