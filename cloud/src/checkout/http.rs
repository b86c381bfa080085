//! Checkout over HTTP: the providers' signed webhooks, and an order's payment as the customer's
//! client needs it to confirm the payment with the provider. No SQL: the handlers call
//! [`super::flow`] and the payments store.

use super::flow;
use crate::infra::access::{Principal, Role};
use crate::infra::error::{Error, Json, Path, Result};
use crate::payments::flow::Seen;
use crate::payments::provider::Happened;
use crate::payments::rules::{Report, State};
use crate::payments::{PaymentError, PaymentView, PaymentsState, store};
use axum::body::Bytes;
use axum::extract::State as St;
use axum::http::HeaderMap;
use patty_protocol::ids::OrderId;
use serde::{Deserialize, Serialize};

impl From<PaymentError> for Error {
    fn from(e: PaymentError) -> Self {
        use PaymentError as P;
        match e {
            P::NotFound(_) | P::NoMethod(_) => Self::NotFound(e.to_string()),
            P::WalletShort { .. } | P::Refund(_) | P::KeyReused => Self::Conflict(e.to_string()),
            P::Webhook(_) => Self::BadSignature(e.to_string()),
            P::Provider(ref p) => Self::Provider {
                refused: matches!(p, crate::payments::provider::ProviderError::Refused(_)),
                message: e.to_string(),
            },
            P::Invalid(_) => Self::Validation(e.to_string()),
        }
    }
}

/// What a webhook's answer says.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookAck {
    /// True when this event had been received before (nothing was done again).
    pub duplicate: bool,
    /// True when it concerns no payment of ours (acknowledged, ignored).
    pub unknown: bool,
}

/// A provider's signed webhook (`stripe`: `Stripe-Signature`; `razorpay`: `X-Razorpay-Signature`).
/// Verified over the raw body before anything is read; a bad or stale signature is 400 and
/// writes nothing. Deduplicated by the provider's event id: a repeat, a late or a reordered one
/// changes nothing it should not.
#[utoipa::path(post, path = "/api/v1/payments/webhooks/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "stripe or razorpay")),
    request_body(content = String, description = "the provider's event, as it sent it", content_type = "application/json"),
    responses((status = 200, body = WebhookAck), (status = 400, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(provider = %name))]
pub async fn webhook(
    St(state): St<PaymentsState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAck>> {
    let provider = state
        .providers
        .named(&name)
        .filter(|p| p.name() != "test")
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("no payment provider {name} is configured")))?;
    let now_s = crate::infra::db::now_ms() / 1000;
    let notice = provider.verify(&headers, &body, now_s).map_err(PaymentError::from)?;
    let payment = match store::by_reference(&state.db, provider.name(), &notice.reference).await? {
        Some(p) => Some(p),
        // Before the provider's API answer arrived: the key we sent names our payment.
        None => match notice.key.as_deref().and_then(|k| k.split(':').next()) {
            Some(id) => match store::load(&state.db, id).await {
                Ok(p) if p.provider == provider.name() => Some(p),
                _ => None,
            },
            None => None,
        },
    };
    let Some(p) = payment else {
        tracing::info!(event = %notice.event_id, "payments: a webhook about no payment of ours");
        return Ok(Json(WebhookAck { duplicate: false, unknown: true }));
    };
    if p.reference.is_none() {
        crate::payments::flow::set_reference(&state, &p, &notice.reference, None).await?;
    }
    let kind = match &notice.what {
        Happened::Authorised { .. } => "authorised",
        Happened::Captured { .. } => "captured",
        Happened::Failed { .. } => "failed",
        Happened::Cancelled => "cancelled",
        Happened::Refund { .. } => "refund",
        Happened::Other(k) => k.as_str(),
    };
    let seen = Seen { provider: provider.name(), event_id: &notice.event_id, kind };
    let fresh = match Report::of_notice(&notice.what) {
        Some(report) => flow::apply(&state, &p.id, &report, Some(seen)).await?,
        None => crate::payments::flow::refund_notice(&state, &p, &notice, seen).await?,
    };
    Ok(Json(WebhookAck { duplicate: !fresh, unknown: false }))
}

/// What the customer's client needs to pay for an order.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderPayment {
    /// The payment.
    #[serde(flatten)]
    pub payment: PaymentView,
    /// For a payment the customer still has to confirm: what the provider's client needs
    /// (Stripe's client secret; Razorpay's order id). The customer's own; shown only to them.
    pub client_secret: Option<String>,
    /// The provider's public key for its client (Stripe's publishable key, Razorpay's key id).
    pub public_key: Option<String>,
}

/// An order's payment (its customer; the outlet's staff and HQ without the client secret).
#[utoipa::path(get, path = "/api/v1/orders/{id}/payment", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderPayment), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(order.id = %id))]
pub async fn order_payment(
    St(state): St<PaymentsState>,
    who: Principal,
    Path(id): Path<OrderId>,
) -> Result<Json<OrderPayment>> {
    let p = store::of_order(&state.db, id).await?.ok_or_else(|| PaymentError::NotFound(format!("for order {id}")))?;
    let own = who.role == Role::Customer && who.subject == p.customer_id;
    let staff = match p.outlet_id {
        Some(o) => who.require_outlet(&[Role::OutletStaff, Role::OutletManager, Role::Edge], o).is_ok(),
        None => false,
    };
    if !own && !staff {
        return Err(PaymentError::NotFound(format!("for order {id}")).into());
    }
    let mut client_secret = None;
    if own
        && matches!(p.money.state, State::Open | State::Created)
        && let (Some(provider), Some(reference)) = (state.providers.named(&p.provider), p.reference.as_deref())
        && let Ok(remote) = provider.fetch(reference).await
    {
        client_secret = remote.client_secret;
    }
    let c = &state.config.payments;
    let public_key = match p.provider.as_str() {
        "stripe" => Some(c.stripe.publishable_key.clone()),
        "razorpay" => Some(c.razorpay.key_id.clone()),
        _ => None,
    };
    Ok(Json(OrderPayment { payment: PaymentView::from(&p), client_secret, public_key }))
}

/// Razorpay's checkout handler's answer.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RazorpayCheckout {
    /// `razorpay_order_id`.
    pub razorpay_order_id: String,
    /// `razorpay_payment_id`.
    pub razorpay_payment_id: String,
    /// `razorpay_signature`: HMAC-SHA256 of `order_id|payment_id` under the key secret.
    pub razorpay_signature: String,
}

/// The customer's client hands over Razorpay checkout's answer. Its signature is checked (a bad
/// one is 400); the payment's outcome still comes from Razorpay's webhook, not from this.
#[utoipa::path(post, path = "/api/v1/orders/{id}/payment/razorpay", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")), request_body = RazorpayCheckout,
    responses((status = 200, body = PaymentView), (status = 400, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(order.id = %id))]
pub async fn razorpay_confirm(
    St(state): St<PaymentsState>,
    who: Principal,
    Path(id): Path<OrderId>,
    Json(req): Json<RazorpayCheckout>,
) -> Result<Json<PaymentView>> {
    who.require(&[Role::Customer])?;
    let p = store::of_order(&state.db, id)
        .await?
        .filter(|p| p.customer_id == who.subject && p.provider == "razorpay")
        .ok_or_else(|| PaymentError::NotFound(format!("for order {id}")))?;
    let secret = crate::infra::config::read_secret(
        &state.config.payments.razorpay.key_secret,
        &state.config.payments.razorpay.key_secret_file,
    )
    .map_err(|e| Error::Internal(e.to_string()))?;
    let ok = p.reference.as_deref() == Some(req.razorpay_order_id.as_str())
        && crate::payments::provider::signature::razorpay_checkout(
            &req.razorpay_order_id,
            &req.razorpay_payment_id,
            &req.razorpay_signature,
            &secret,
        );
    if !ok {
        return Err(Error::BadSignature("the checkout's signature does not match".into()));
    }
    crate::payments::flow::set_reference(&state, &p, &req.razorpay_order_id, Some(&req.razorpay_payment_id)).await?;
    Ok(Json(PaymentView::from(&store::load(&state.db, &p.id).await?)))
}
