//! Online payments: a payment per order made with a provider for the amount the cloud computed,
//! captured when the outlet takes the order on and released when it is withdrawn; refunds (never
//! more than is left, concurrent ones included); stored payment methods (only the provider's
//! token, brand, last four digits and expiry, sealed at rest); the wallet, whose every movement is
//! a balanced transaction of the double-entry ledger; histories and the daily reconciliation.
//! What a provider says (API answers, signed webhooks in any order, any number of times) is
//! merged by the pure [`rules`]; `checkout` ties payments to orders.
//!
//! # Layout
//! - [`provider`]: the [`provider::Provider`] trait and its adapters (test, Stripe, Razorpay).
//! - [`rules`]: pure: a report merged into a payment, the order's steps, refund limits, postings.
//! - [`flow`]: the shells: a rules outcome recorded (row, ledger, events), the provider asked
//!   (capture, cancel, refund), refunds asked and settled, the wallet topped up.
//! - [`store`]: payments, webhooks seen, refunds, methods; [`ledger`]: the ledger's SQL.
//! - [`http`]: history, refunds, stored methods, the wallet, reconciliation.
//!
//! May use `infra` and `events`.

pub mod flow;
pub mod http;
pub mod ledger;
pub mod provider;
pub mod rules;
pub mod store;

use crate::infra::atrest::AtRest;
use crate::infra::state::Shared;
use patty_protocol::ids::{OrderId, OutletId};
use provider::Provider;
use rules::{Destination, Money};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What payments' handlers and shells use.
#[derive(Clone)]
pub struct PaymentsState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The configured provider (and the others, for webhooks of payments made before a change).
    pub providers: Arc<Providers>,
    /// The key ring for payment columns at rest.
    pub ring: Arc<AtRest>,
}
crate::shared_state!(PaymentsState);

/// The providers the cloud talks to.
pub struct Providers {
    /// New payments go to this one.
    pub active: Arc<dyn Provider>,
    /// Every configured one, by name (the active one included).
    pub all: Vec<Arc<dyn Provider>>,
}

impl Providers {
    /// The provider named `name`.
    pub fn named(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.all.iter().find(|p| p.name() == name)
    }

    /// From the configuration: the `test` provider always, Stripe and Razorpay when configured
    /// (the active one must be).
    pub fn from_config(c: &crate::infra::config::PaymentsConfig) -> Result<Self, crate::infra::config::ConfigError> {
        let timeout = std::time::Duration::from_millis(c.call_timeout_ms);
        let mut all: Vec<Arc<dyn Provider>> = vec![Arc::new(provider::test::TestProvider)];
        if c.provider == "stripe" || !c.stripe.secret_key.is_empty() || c.stripe.secret_key_file.is_some() {
            all.push(Arc::new(
                provider::stripe::Stripe::new(&c.stripe, timeout)?.with_tolerance(c.webhook_tolerance_secs),
            ));
        }
        if c.provider == "razorpay" || !c.razorpay.key_secret.is_empty() || c.razorpay.key_secret_file.is_some() {
            all.push(Arc::new(provider::razorpay::Razorpay::new(&c.razorpay, timeout)?));
        }
        let active = all.iter().find(|p| p.name() == c.provider).cloned().ok_or_else(|| {
            crate::infra::config::ConfigError::Invalid(format!("payments.provider {} is not configured", c.provider))
        })?;
        Ok(Self { active, all })
    }
}

/// A payment as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    /// `pay_…`.
    pub id: String,
    /// The order it pays for (none for a wallet top-up).
    pub order_id: Option<OrderId>,
    /// Who pays.
    pub customer_id: String,
    /// The order's outlet.
    pub outlet_id: Option<OutletId>,
    /// `test`, `stripe`, `razorpay`, or `wallet` (an order paid from the wallet alone).
    pub provider: String,
    /// The provider's id.
    pub reference: Option<String>,
    /// The provider's money movement.
    pub charge: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// Refunds settled.
    pub refunded: i64,
    /// Refunds asked, not yet settled.
    pub refunding: i64,
    /// The stored method it was made with.
    pub method_id: Option<String>,
    /// The provider's reason, when declined.
    pub failure: Option<String>,
    /// A provider call owed (`capture`, `cancel`, `refund_rest`): written with the change that
    /// asks for it, cleared once the provider has answered, retried by the worker until then.
    pub due: Option<String>,
    /// When the owed call is (next) due, Unix ms.
    pub due_ms: Option<i64>,
    /// When it was first captured, Unix ms.
    pub captured_ms: Option<i64>,
    /// Made, Unix ms.
    pub created_ms: i64,
    /// Last changed, Unix ms.
    pub updated_ms: i64,
    /// What the rules move.
    pub money: Money,
}

impl Payment {
    /// A new payment, `created`, of `amount` at `provider` (and `wallet` from the wallet).
    pub fn new(
        purpose: rules::Purpose,
        customer: &str,
        provider: &str,
        currency: &str,
        amount: i64,
        wallet: i64,
    ) -> Self {
        let now = crate::infra::db::now_ms();
        Self {
            id: flow::new_id(),
            order_id: None,
            customer_id: customer.to_owned(),
            outlet_id: None,
            provider: provider.to_owned(),
            reference: None,
            charge: None,
            currency: currency.to_owned(),
            refunded: 0,
            refunding: 0,
            method_id: None,
            failure: None,
            due: None,
            due_ms: None,
            captured_ms: None,
            created_ms: now,
            updated_ms: now,
            money: Money { purpose, state: rules::State::Created, amount, authorised: 0, captured: 0, wallet, fee: 0 },
        }
    }

    /// The idempotency key of the provider call `what` (`create`, `capture`…) for this payment.
    pub fn key(&self, what: &str) -> String {
        format!("{}:{what}", self.id)
    }
}

/// A refund as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRow {
    /// `rf_…`.
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// Its order.
    pub order_id: Option<OrderId>,
    /// Minor units.
    pub amount: i64,
    /// Card or wallet.
    pub destination: Destination,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub by_user: String,
    /// `pending`, `succeeded`, `failed`.
    pub state: String,
    /// The provider's refund id.
    pub reference: Option<String>,
    /// Asked, Unix ms.
    pub created_ms: i64,
    /// Last changed, Unix ms.
    pub updated_ms: i64,
}

/// A stored card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMethod {
    /// `pm_…` (ours).
    pub id: String,
    /// The provider holding it.
    pub provider: String,
    /// The provider's token (sealed at rest; never shown).
    pub token: String,
    /// Brand.
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u32,
    /// Expiry year.
    pub exp_year: u32,
    /// The name on the card, when given (sealed at rest).
    pub billing_name: Option<String>,
    /// Added, Unix ms.
    pub created_ms: i64,
}

/// What can go wrong in payments; [`http`] maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No such payment (or not the caller's).
    #[error("no payment {0}")]
    NotFound(String),
    /// No such stored method.
    #[error("no stored payment method {0}")]
    NoMethod(String),
    /// The wallet cannot cover it.
    #[error("the wallet holds {balance}, not enough")]
    WalletShort {
        /// The balance.
        balance: i64,
    },
    /// A refund the rules refuse.
    #[error(transparent)]
    Refund(#[from] rules::RefundRefused),
    /// An idempotency key reused for another request.
    #[error("this Idempotency-Key was used for a different refund")]
    KeyReused,
    /// A webhook refused.
    #[error(transparent)]
    Webhook(#[from] provider::WebhookError),
    /// The provider refused or failed.
    #[error(transparent)]
    Provider(#[from] provider::ProviderError),
    /// A value breaks a rule.
    #[error("{0}")]
    Invalid(String),
}

/// A payment as its customer, the outlet and HQ see it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentView {
    /// `pay_…`.
    pub id: String,
    /// The order paid for.
    #[schema(value_type = Option<String>)]
    pub order_id: Option<OrderId>,
    /// `order` or `top_up`.
    pub purpose: String,
    /// The provider.
    pub provider: String,
    /// The provider's id for it (Stripe's `pi_…`, Razorpay's `order_…`), once made there.
    pub reference: Option<String>,
    /// Where it stands.
    pub state: rules::State,
    /// ISO 4217.
    pub currency: String,
    /// Asked of the provider.
    pub amount: i64,
    /// Paid from the wallet.
    pub wallet_amount: i64,
    /// Authorised.
    pub authorised: i64,
    /// Captured.
    pub captured: i64,
    /// Refunded (settled).
    pub refunded: i64,
    /// Refunds pending.
    pub refunding: i64,
    /// The provider's reason, if declined.
    pub failure: Option<String>,
    /// Made, Unix ms.
    pub created_ms: i64,
    /// Last changed, Unix ms.
    pub updated_ms: i64,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        Self {
            id: p.id.clone(),
            order_id: p.order_id,
            purpose: match p.money.purpose {
                rules::Purpose::Order => "order".into(),
                rules::Purpose::TopUp => "top_up".into(),
            },
            provider: p.provider.clone(),
            reference: p.reference.clone(),
            state: p.money.state,
            currency: p.currency.clone(),
            amount: p.money.amount,
            wallet_amount: p.money.wallet,
            authorised: p.money.authorised,
            captured: p.money.captured,
            refunded: p.refunded,
            refunding: p.refunding,
            failure: p.failure.clone(),
            created_ms: p.created_ms,
            updated_ms: p.updated_ms,
        }
    }
}

/// The payments routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    PaymentsState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::my_payments))
        .routes(routes!(http::outlet_payments))
        .routes(routes!(http::all_payments))
        .routes(routes!(http::one))
        .routes(routes!(http::refund))
        .routes(routes!(http::methods, http::add_method))
        .routes(routes!(http::remove_method))
        .routes(routes!(http::wallet))
        .routes(routes!(http::top_up))
        .routes(routes!(http::reconciliation))
}
