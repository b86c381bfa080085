//! Payments over HTTP: the transaction history (a customer's, an outlet's, HQ's), one payment
//! with its refunds, refunds by an outlet manager or HQ, stored payment methods, the wallet and
//! its top-ups, and the daily reconciliation. No SQL: the handlers call [`super::store`],
//! [`super::ledger`] and [`super::flow`].

use super::ledger::{self, Difference, Entry, ProviderDay};
use super::rules::Destination;
use super::{PaymentError, PaymentView, PaymentsState, RefundRow, StoredMethod, flow, store};
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Json, Path, Query, Result};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use patty_protocol::ids::OutletId;
use serde::{Deserialize, Serialize};

/// Which payments to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Made at or after, Unix ms.
    #[serde(default)]
    pub from_ms: Option<i64>,
    /// Made before, Unix ms.
    #[serde(default)]
    pub to_ms: Option<i64>,
    /// Most to return, newest first (default 50, at most 500).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

fn listing(q: &HistoryQuery, customer: Option<String>, outlet: Option<OutletId>) -> Result<store::Listing> {
    Ok(store::Listing {
        customer,
        outlet,
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        limit: patty_service::http::page_limit(q.limit, 50, 500)?,
    })
}

/// My payments, newest first (customer).
#[utoipa::path(get, path = "/api/v1/me/payments", tag = "payments", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Vec<PaymentView>)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn my_payments(
    State(state): State<PaymentsState>,
    who: Principal,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<PaymentView>>> {
    who.require(&[Role::Customer])?;
    let list = store::list(&state.db, &listing(&q, Some(who.subject.clone()), None)?).await?;
    Ok(Json(list.iter().map(PaymentView::from).collect()))
}

/// An outlet's payments, newest first (its managers, HQ).
#[utoipa::path(get, path = "/api/v1/outlets/{outlet}/payments", tag = "payments", security(("bearer" = [])),
    params(("outlet" = String, Path, description = "outlet id"), HistoryQuery),
    responses((status = 200, body = Vec<PaymentView>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet.id = %outlet))]
pub async fn outlet_payments(
    State(state): State<PaymentsState>,
    who: Principal,
    Path(outlet): Path<OutletId>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<PaymentView>>> {
    who.require_outlet(&[Role::OutletManager, Role::Edge], outlet)?;
    let list = store::list(&state.db, &listing(&q, None, Some(outlet))?).await?;
    Ok(Json(list.iter().map(PaymentView::from).collect()))
}

/// Every payment, newest first (HQ).
#[utoipa::path(get, path = "/api/v1/payments", tag = "payments", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Vec<PaymentView>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn all_payments(
    State(state): State<PaymentsState>,
    who: Principal,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<PaymentView>>> {
    who.require(&[Role::HqAdmin])?;
    let list = store::list(&state.db, &listing(&q, None, None)?).await?;
    Ok(Json(list.iter().map(PaymentView::from).collect()))
}

/// A refund as shown.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundView {
    /// `rf_…`.
    pub id: String,
    /// The payment.
    pub payment_id: String,
    /// Minor units.
    pub amount: i64,
    /// Card or wallet.
    pub destination: Destination,
    /// Why.
    pub reason: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    /// Asked, Unix ms.
    pub created_ms: i64,
    /// Last changed, Unix ms.
    pub updated_ms: i64,
}

impl From<&RefundRow> for RefundView {
    fn from(r: &RefundRow) -> Self {
        Self {
            id: r.id.clone(),
            payment_id: r.payment_id.clone(),
            amount: r.amount,
            destination: r.destination,
            reason: r.reason.clone(),
            state: r.state.clone(),
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        }
    }
}

/// A payment with its refunds.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentDetail {
    /// The payment.
    #[serde(flatten)]
    pub payment: PaymentView,
    /// Its refunds, oldest first.
    pub refunds: Vec<RefundView>,
}

/// Loads a payment the caller may see: its customer, its outlet's managers, HQ.
async fn visible(state: &PaymentsState, who: &Principal, id: &str) -> Result<super::Payment> {
    let p = store::load(&state.db, id).await?;
    let own = who.role == Role::Customer && who.subject == p.customer_id;
    let outlet = p.outlet_id.is_some_and(|o| who.require_outlet(&[Role::OutletManager, Role::Edge], o).is_ok());
    if own || outlet || who.role == Role::HqAdmin { Ok(p) } else { Err(flow::not_found(id)) }
}

/// One payment with its refunds.
#[utoipa::path(get, path = "/api/v1/payments/{id}", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "payment id")),
    responses((status = 200, body = PaymentDetail), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(payment.id = %id))]
pub async fn one(
    State(state): State<PaymentsState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<PaymentDetail>> {
    let p = visible(&state, &who, &id).await?;
    let refunds = store::refunds_of(&state.db, &p.id).await?;
    Ok(Json(PaymentDetail { payment: PaymentView::from(&p), refunds: refunds.iter().map(RefundView::from).collect() }))
}

/// A refund to ask for.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units; at most what was taken less what is refunded or being refunded.
    #[schema(minimum = 1)]
    pub amount: i64,
    /// Why (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
    /// Back to the card (default) or into the customer's wallet.
    #[serde(default)]
    pub to: Option<Destination>,
}

/// Refund all or part of a payment (the order's outlet's manager, HQ), with a reason. An
/// `Idempotency-Key` header makes a retry return the first refund. More than is left is 409.
#[utoipa::path(post, path = "/api/v1/payments/{id}/refunds", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "payment id"),
           ("Idempotency-Key" = Option<String>, Header, description = "unique per refund; retries reuse it", min_length = 1, max_length = 128, pattern = "^[!-~]+$")),
    request_body = RefundRequest,
    responses((status = 201, body = RefundView), (status = 404, body = patty_protocol::ErrorBody), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(payment.id = %id))]
pub async fn refund(
    State(state): State<PaymentsState>,
    who: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<RefundRequest>,
) -> Result<(StatusCode, Json<RefundView>)> {
    let p = store::load(&state.db, &id).await?;
    match p.outlet_id {
        Some(o) => who.require_outlet(&[Role::OutletManager, Role::Edge], o)?,
        None => who.require(&[Role::HqAdmin])?,
    }
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(PaymentError::Invalid("a refund needs a reason of 1 to 200 characters".into()).into());
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    PaymentError::Invalid("an Idempotency-Key is 1 to 128 visible ASCII characters".into())
                })?,
        ),
    };
    let key = key.map(|k| format!("{}:{k}", who.subject));
    let r = flow::refund(
        &state,
        &id,
        req.amount,
        req.to.unwrap_or(Destination::Card),
        reason,
        &who.subject,
        key.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(RefundView::from(&r))))
}

/// A stored card as shown: never its token.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct MethodView {
    /// Our id (to pay with it, or remove it).
    pub id: String,
    /// The provider holding it.
    pub provider: String,
    /// Brand.
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u32,
    /// Expiry year.
    pub exp_year: u32,
    /// Added, Unix ms.
    pub created_ms: i64,
}

impl From<&StoredMethod> for MethodView {
    fn from(m: &StoredMethod) -> Self {
        Self {
            id: m.id.clone(),
            provider: m.provider.clone(),
            brand: m.brand.clone(),
            last4: m.last4.clone(),
            exp_month: m.exp_month,
            exp_year: m.exp_year,
            created_ms: m.created_ms,
        }
    }
}

/// My stored payment methods (customer).
#[utoipa::path(get, path = "/api/v1/me/payment-methods", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = Vec<MethodView>)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn methods(State(state): State<PaymentsState>, who: Principal) -> Result<Json<Vec<MethodView>>> {
    who.require(&[Role::Customer])?;
    let list = store::methods(&state.db, &state.ring, &who.subject).await?;
    Ok(Json(list.iter().map(MethodView::from).collect()))
}

/// A method the customer's client made with the provider's own client (the card number goes
/// only to the provider).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMethod {
    /// The provider's token (Stripe's `pm_…`, Razorpay's `token_…`).
    #[schema(min_length = 1, max_length = 255)]
    pub token: String,
    /// The name on the card, if the customer gave one.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub billing_name: Option<String>,
}

/// Keep a card for later (customer): attached to the customer at the provider; only the token
/// (encrypted at rest), brand, last four digits and expiry are stored, as the provider reports them.
#[utoipa::path(post, path = "/api/v1/me/payment-methods", tag = "payments", security(("bearer" = [])), request_body = NewMethod,
    responses((status = 201, body = MethodView), (status = 422, body = patty_protocol::ErrorBody), (status = 502, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn add_method(
    State(state): State<PaymentsState>,
    who: Principal,
    Json(req): Json<NewMethod>,
) -> Result<(StatusCode, Json<MethodView>)> {
    who.require(&[Role::Customer])?;
    let token = req.token.trim();
    if token.is_empty() || token.len() > 255 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            PaymentError::Invalid("token must be the provider's token, 1 to 255 visible characters".into()).into()
        );
    }
    if req.billing_name.as_ref().is_some_and(|b| b.chars().count() > 200) {
        return Err(PaymentError::Invalid("billing_name is at most 200 characters".into()).into());
    }
    let m = flow::add_method(&state, &who.subject, token, req.billing_name).await?;
    Ok((StatusCode::CREATED, Json(MethodView::from(&m))))
}

/// Remove a stored card (customer): detached at the provider, then forgotten.
#[utoipa::path(delete, path = "/api/v1/me/payment-methods/{id}", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "method id")),
    responses((status = 204), (status = 404, body = patty_protocol::ErrorBody), (status = 502, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn remove_method(
    State(state): State<PaymentsState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    who.require(&[Role::Customer])?;
    flow::remove_method(&state, &who.subject, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A wallet: its balance and latest movements.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct WalletView {
    /// Balance, minor units (never below zero).
    pub balance: i64,
    /// ISO 4217.
    pub currency: String,
    /// The latest movements, newest first.
    pub entries: Vec<Entry>,
}

/// My wallet (customer).
#[utoipa::path(get, path = "/api/v1/me/wallet", tag = "payments", security(("bearer" = [])),
    responses((status = 200, body = WalletView)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn wallet(State(state): State<PaymentsState>, who: Principal) -> Result<Json<WalletView>> {
    who.require(&[Role::Customer])?;
    let mut c = state.db.pool.acquire().await?;
    let balance = ledger::balance(&mut c, &who.subject).await?;
    drop(c);
    let entries = ledger::wallet_entries(&state.db, &who.subject, 100).await?;
    Ok(Json(WalletView { balance, currency: flow::currency(&state).await?, entries }))
}

/// A top-up to ask for.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    /// Minor units, 1 to 100000000.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub amount: i64,
}

/// A top-up as its customer's client gets it.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopUpView {
    /// The top-up's payment.
    #[serde(flatten)]
    pub payment: PaymentView,
    /// For a top-up the customer still has to confirm: what the provider's client needs (Stripe's
    /// client secret; Razorpay's order id). The customer's own; shown only to them.
    pub client_secret: Option<String>,
    /// The provider's public key for its client (Stripe's publishable key, Razorpay's key id).
    pub public_key: Option<String>,
}

/// Put money into my wallet through the payment provider (customer). The wallet is credited
/// once the provider has taken it (at once with the test provider; on its webhook otherwise,
/// after the customer confirmed it with the `client_secret` answered here).
#[utoipa::path(post, path = "/api/v1/me/wallet/top-ups", tag = "payments", security(("bearer" = [])), request_body = TopUp,
    responses((status = 201, body = TopUpView), (status = 422, body = patty_protocol::ErrorBody), (status = 502, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn top_up(
    State(state): State<PaymentsState>,
    who: Principal,
    Json(req): Json<TopUp>,
) -> Result<(StatusCode, Json<TopUpView>)> {
    who.require(&[Role::Customer])?;
    let currency = flow::currency(&state).await?;
    let (p, client_secret) = flow::top_up(&state, &who.subject, req.amount, &currency).await?;
    let c = &state.config.payments;
    let public_key = match p.provider.as_str() {
        "stripe" => Some(c.stripe.publishable_key.clone()),
        "razorpay" => Some(c.razorpay.key_id.clone()),
        _ => None,
    };
    Ok((StatusCode::CREATED, Json(TopUpView { payment: PaymentView::from(&p), client_secret, public_key })))
}

/// Which day to reconcile.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// The day, `YYYY-MM-DD` (UTC); default today.
    #[serde(default)]
    #[param(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub day: Option<String>,
}

/// A day's reconciliation.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// The day (UTC).
    pub day: String,
    /// Per provider: captured, refunded and fees as the provider reported them, beside the ledger.
    pub providers: Vec<ProviderDay>,
    /// Every payment of the day whose ledger does not match what its provider reported.
    pub differences: Vec<Difference>,
    /// Ledger transactions whose entries do not sum to zero (always empty unless the ledger was
    /// written around its rules).
    pub unbalanced: Vec<String>,
}

/// The daily reconciliation (HQ): captured, refunded and fees per provider against the ledger,
/// payments captured that day, any difference listed.
#[utoipa::path(get, path = "/api/v1/payments/reconciliation", tag = "payments", security(("bearer" = [])), params(DayQuery),
    responses((status = 200, body = Reconciliation), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn reconciliation(
    State(state): State<PaymentsState>,
    who: Principal,
    Query(q): Query<DayQuery>,
) -> Result<Json<Reconciliation>> {
    who.require(&[Role::HqAdmin])?;
    let day = match q.day.as_deref() {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| PaymentError::Invalid("day must be YYYY-MM-DD".into()))?,
        None => chrono::DateTime::from_timestamp_millis(now_ms()).map(|t| t.date_naive()).unwrap_or_default(),
    };
    let from = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0);
    let (providers, differences) = ledger::reconcile(&state.db, from, from + 86_400_000).await?;
    let unbalanced = ledger::unbalanced(&state.db).await?;
    Ok(Json(Reconciliation { day: day.to_string(), providers, differences, unbalanced }))
}
