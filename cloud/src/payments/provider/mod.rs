//! The payment providers behind one trait: [`Provider`]. Each adapter speaks its provider's REST
//! API and verifies its signed webhooks; the rest of `payments` sees only the normalised types
//! here. Every call that changes money carries an idempotency key the caller derives from the
//! payment and the attempt, so a retry after a timeout never takes money twice.
//!
//! - [`test`]: the embedded default. It authorises every payment at once, in-process, so a fresh
//!   clone and the demo run with no provider configured.
//! - [`stripe`]: PaymentIntents with manual capture, refunds, customers and payment methods;
//!   `Stripe-Signature` webhooks.
//! - [`razorpay`]: orders and payments; `X-Razorpay-Signature` webhooks and the checkout's
//!   `order_id|payment_id` signature.

pub mod razorpay;
pub mod signature;
pub mod stripe;
pub mod test;

use futures::future::BoxFuture;
use std::time::Duration;

/// Where a payment stands at its provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Created; the customer has still to confirm it (or the provider is asking for more).
    Open,
    /// Authorised: the amount is held on the customer's card, not yet taken.
    Authorised,
    /// Captured (in part or whole).
    Captured,
    /// The authorisation was released (or the payment abandoned) before any capture.
    Cancelled,
    /// Declined or failed for good.
    Failed,
}

/// A payment to create at the provider.
#[derive(Clone, Debug)]
pub struct Create {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, upper case (`EUR`).
    pub currency: String,
    /// The idempotency key (the payment's id and the attempt number).
    pub key: String,
    /// Whether the provider captures by itself once authorised (wallet top-ups) rather than
    /// waiting for [`Provider::capture`] (orders: captured when the outlet accepts).
    pub auto_capture: bool,
    /// The provider's customer id, when paying with a stored method.
    pub customer: Option<String>,
    /// A stored payment method's token, to charge it without the customer's client.
    pub method: Option<String>,
    /// A description the provider shows (the order number; never personal data).
    pub description: String,
}

/// What the provider says about a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The provider's id for the payment (`pi_…`, Razorpay's `order_…`).
    pub reference: String,
    /// The provider's id of the money movement, once there is one (Stripe's latest charge
    /// `ch_…`, Razorpay's payment `pay_…`); capture and refund act on it where the provider needs.
    pub charge: Option<String>,
    /// Where it stands.
    pub stage: Stage,
    /// Authorised (capturable or captured) amount, minor units.
    pub authorised: i64,
    /// Captured so far.
    pub captured: i64,
    /// Refunded so far.
    pub refunded: i64,
    /// The provider's fee, when it reports one.
    pub fee: i64,
    /// What the customer's client needs to confirm it (Stripe's `client_secret`; Razorpay's
    /// order id). A secret of the customer's: never logged, never put in an event.
    pub client_secret: Option<String>,
}

/// A refund the provider took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundMade {
    /// The provider's refund id (`re_…`, `rfnd_…`).
    pub reference: String,
    /// Settled already (true), or still pending at the provider (a webhook settles it).
    pub settled: bool,
}

/// A stored card as the provider describes it: never the number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Method {
    /// The provider's token (`pm_…`, `token_…`).
    pub token: String,
    /// Brand (`visa`).
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month, 1 to 12.
    pub exp_month: u32,
    /// Expiry year (four digits).
    pub exp_year: u32,
}

/// What a verified webhook reports, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The provider's event id: webhooks are deduplicated by it.
    pub event_id: String,
    /// The payment's provider id ([`Remote::reference`]).
    pub reference: String,
    /// What happened.
    pub what: Happened,
}

/// What a webhook says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happened {
    /// The amount is authorised; `charge` is the money movement's id when the provider names it.
    Authorised {
        /// Amount authorised.
        amount: i64,
        /// Stripe's charge, Razorpay's payment id.
        charge: Option<String>,
    },
    /// Captured.
    Captured {
        /// Amount captured in all.
        amount: i64,
        /// Fee, when reported.
        fee: i64,
        /// The money movement's id.
        charge: Option<String>,
    },
    /// Declined or failed for good.
    Failed {
        /// The provider's reason (a code, never card data).
        reason: String,
    },
    /// The authorisation was released.
    Cancelled,
    /// A refund settled (or failed).
    Refund {
        /// The provider's refund id.
        refund: String,
        /// Amount.
        amount: i64,
        /// True when it succeeded, false when it failed.
        succeeded: bool,
    },
    /// An event kind payments does not act on (acknowledged, recorded, ignored).
    Other(String),
}

/// What can go wrong talking to a provider.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time: the provider may or may not have acted (retry with the same key).
    #[error("the payment provider did not answer in time")]
    Timeout,
    /// The provider is failing (5xx, connection refused): retry later with the same key.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (declined card, bad state, bad request): do not retry.
    #[error("the payment provider refused: {0}")]
    Refused(String),
}

/// Why a webhook was not accepted. Each is a 400 and writes nothing.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature header.
    #[error("the webhook carries no signature")]
    Unsigned,
    /// The signature does not match.
    #[error("the webhook's signature does not match")]
    BadSignature,
    /// Signed too long ago (Stripe: more than 300 s).
    #[error("the webhook's signature is too old")]
    Stale,
    /// The body is not an event of the provider's.
    #[error("the webhook's body is not a {0} event")]
    Malformed(&'static str),
}

/// A payment provider. Object-safe: the cloud holds `Arc<dyn Provider>` per configured name.
pub trait Provider: Send + Sync {
    /// `test`, `stripe` or `razorpay`.
    fn name(&self) -> &'static str;

    /// Creates a payment for `req.amount` (manual capture unless `auto_capture`).
    fn create<'a>(&'a self, req: &'a Create) -> BoxFuture<'a, Result<Remote, ProviderError>>;

    /// Finds the payment made under idempotency key `key` (the reconciler's question after a
    /// create that timed out): `None` if the provider never made one.
    fn find<'a>(&'a self, key: &'a str, req: &'a Create) -> BoxFuture<'a, Result<Option<Remote>, ProviderError>>;

    /// The payment's state now.
    fn fetch<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>>;

    /// Captures `amount` of an authorised payment (`charge` from [`Remote::charge`]).
    fn capture<'a>(
        &'a self,
        reference: &'a str,
        charge: Option<&'a str>,
        amount: i64,
        currency: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Remote, ProviderError>>;

    /// Releases an authorisation that was never captured.
    fn cancel<'a>(&'a self, reference: &'a str, key: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>>;

    /// Refunds `amount` of what was captured.
    fn refund<'a>(
        &'a self,
        reference: &'a str,
        charge: Option<&'a str>,
        amount: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<RefundMade, ProviderError>>;

    /// The provider's customer for our customer, made once under `key` (our customer's id hashed:
    /// nothing personal is sent).
    fn customer<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// Attaches a payment method token the customer's client made to the provider's customer,
    /// returning what may be stored of it.
    fn attach<'a>(&'a self, customer: &'a str, token: &'a str) -> BoxFuture<'a, Result<Method, ProviderError>>;

    /// Detaches a stored payment method at the provider.
    fn detach<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Verifies a webhook's signature over its raw body (headers as received, `now_s` the Unix
    /// time in seconds) and normalises it.
    fn verify(&self, headers: &axum::http::HeaderMap, body: &[u8], now_s: i64) -> Result<Notice, WebhookError>;
}

/// How long a provider call may take before it counts as [`ProviderError::Timeout`].
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A request that got no answer, as a [`ProviderError`]: a timeout is [`ProviderError::Timeout`]
/// (the provider may have acted), anything else (refused connection, reset, unreadable answer)
/// [`ProviderError::Unavailable`]. The URL is left out of the message; no header (and so no key)
/// is ever in it.
fn transport_error(provider: &str, e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Unavailable(format!("{provider}: {}", e.without_url()))
    }
}
