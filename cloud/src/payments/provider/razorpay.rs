//! Razorpay: an order per payment, the customer's checkout makes the payment on it, and payments
//! are captured, refunded and read through Razorpay's REST API (JSON bodies, HTTP basic auth with
//! the key id and secret). Webhooks are verified with [`signature::razorpay_webhook`], the
//! checkout's answer with [`Razorpay::checkout_signature_ok`].
//!
//! Where Razorpay differs from the trait's picture:
//! - Orders take no idempotency key. The order's `receipt` is the key (cut to Razorpay's 40
//!   characters, deterministically), and [`Provider::find`] looks the order up by it.
//! - An authorisation cannot be voided by API: Razorpay refunds uncaptured payments by itself
//!   after a while. [`Provider::cancel`] therefore only reads the payment and answers it as
//!   [`Stage::Cancelled`] (refusing when something was captured); a later fetch shows the
//!   payment `refunded` and uncaptured, which reads as [`Stage::Cancelled`] too.
//! - Cards are saved at checkout as tokens of a Razorpay customer, and deleting one needs the
//!   customer: the stored token is `cust_…/token_…` ([`Method::token`]), which
//!   [`Provider::detach`] splits.
//!
//! Secrets stay inside: the key secret goes only into the `Authorization` header; errors carry
//! Razorpay's code and description, never the key.

use super::{
    Create, Happened, Method, Notice, Provider, ProviderError, RefundMade, Remote, Stage, WebhookError, signature,
    transport_error,
};
use crate::infra::config::{ConfigError, RazorpayConfig, read_secret};
use futures::future::{BoxFuture, FutureExt};
use serde_json::{Value, json};
use std::time::Duration;

/// Razorpay's limit on an order's (and a refund's) `receipt`.
pub const RECEIPT_MAX: usize = 40;

/// The Razorpay adapter.
pub struct Razorpay {
    http: reqwest::Client,
    base: String,
    key_id: String,
    key_secret: String,
    webhook_secret: String,
}

impl std::fmt::Debug for Razorpay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Razorpay")
            .field("base", &self.base)
            .field("key_id", &self.key_id)
            .field("key_secret", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .finish()
    }
}

/// The order's `receipt` for idempotency key `key`: the key itself when it fits in
/// [`RECEIPT_MAX`] characters, else the first 40 hex digits of its SHA-256 (the same key always
/// gives the same receipt).
pub fn receipt(key: &str) -> String {
    if key.len() <= RECEIPT_MAX && key.is_ascii() {
        key.to_owned()
    } else {
        patty_service::secret::digest(&[key.as_bytes()])[..RECEIPT_MAX].to_owned()
    }
}

impl Razorpay {
    /// The adapter for `cfg` (secrets read through [`read_secret`]), each call limited to
    /// `timeout`. Fails if the key id, the key secret or the webhook secret is empty.
    pub fn new(cfg: &RazorpayConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let key_secret = read_secret(&cfg.key_secret, &cfg.key_secret_file)?;
        let webhook_secret = read_secret(&cfg.webhook_secret, &cfg.webhook_secret_file)?;
        for (name, value) in [("key_id", &cfg.key_id), ("key_secret", &key_secret), ("webhook_secret", &webhook_secret)]
        {
            if value.is_empty() {
                return Err(ConfigError::Invalid(format!("payments.razorpay.{name} is empty")));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ConfigError::Invalid(format!("the Razorpay HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: cfg.api_base.trim_end_matches('/').to_owned(),
            key_id: cfg.key_id.clone(),
            key_secret,
            webhook_secret,
        })
    }

    /// Whether `signature` is the one Razorpay's checkout gives for payment `payment_id` on
    /// order `order_id` (HMAC-SHA256 of `order_id|payment_id` with the key secret).
    pub fn checkout_signature_ok(&self, order_id: &str, payment_id: &str, signature: &str) -> bool {
        signature::razorpay_checkout(order_id, payment_id, signature, &self.key_secret)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).basic_auth(&self.key_id, Some(&self.key_secret))
    }

    async fn get(&self, path: &str) -> Result<Value, ProviderError> {
        answer(self.request(reqwest::Method::GET, path).send().await).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, ProviderError> {
        answer(self.request(reqwest::Method::POST, path).json(body).send().await).await
    }

    async fn order_payments(&self, order_id: &str) -> Result<Vec<Value>, ProviderError> {
        let list = self.get(&format!("/v1/orders/{}/payments", segment(order_id)?)).await?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    async fn payment(&self, payment_id: &str) -> Result<Value, ProviderError> {
        self.get(&format!("/v1/payments/{}", segment(payment_id)?)).await
    }

    /// The payment to act on: `charge` when the caller knows it, else the order's current one.
    async fn charge_of(&self, reference: &str, charge: Option<&str>) -> Result<String, ProviderError> {
        match charge {
            Some(c) if !c.is_empty() => Ok(c.to_owned()),
            _ => self
                .fetch(reference)
                .await?
                .charge
                .ok_or_else(|| ProviderError::Refused(format!("Razorpay: order {reference} has no payment"))),
        }
    }
}

/// Reads Razorpay's answer: the entity on a 2xx, else the error mapped to [`ProviderError`].
async fn answer(sent: Result<reqwest::Response, reqwest::Error>) -> Result<Value, ProviderError> {
    let response = sent.map_err(|e| transport_error("Razorpay", e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport_error("Razorpay", e))?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if status.is_success() {
        return json.ok_or_else(|| ProviderError::Unavailable("Razorpay: an answer that is not JSON".into()));
    }
    let error = json.as_ref().map(|j| &j["error"]);
    let field = |name: &str| error.and_then(|e| e[name].as_str()).unwrap_or_default().to_owned();
    let (code, description) = (field("code"), field("description"));
    let what = match (code.is_empty(), description.is_empty()) {
        (false, false) => format!("{code}: {description}"),
        (true, true) => format!("HTTP {}", status.as_u16()),
        _ => format!("{code}{description}"),
    };
    Err(match status.as_u16() {
        401 => ProviderError::Refused("Razorpay refused the API key".into()),
        429 => ProviderError::Unavailable(format!("Razorpay: {what}")),
        s if s >= 500 => ProviderError::Unavailable(format!("Razorpay: {what}")),
        _ => ProviderError::Refused(format!("Razorpay: {what}")),
    })
}

fn int(v: &Value, name: &str) -> i64 {
    v[name].as_i64().unwrap_or(0)
}

/// A number Razorpay may send as a number or a string (a token's expiry).
fn number(v: &Value) -> u32 {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// How far a payment went, to pick an order's current payment among its attempts.
fn rank(payment: &Value) -> u8 {
    match (payment["status"].as_str().unwrap_or_default(), payment["captured"].as_bool().unwrap_or(false)) {
        ("captured", _) | ("refunded", true) => 5,
        ("authorized", _) => 4,
        ("refunded", false) => 3,
        ("failed", _) => 2,
        _ => 1,
    }
}

/// An order and its payments as a [`Remote`]: the payment that went furthest stands for the
/// order (a customer may fail a card, then pay with another).
fn remote(order_id: &str, payments: &[Value]) -> Remote {
    let chosen = payments.iter().filter(|p| p["entity"] == "payment" || p["id"].is_string()).max_by_key(|p| rank(p));
    let mut r = Remote {
        reference: order_id.to_owned(),
        charge: None,
        stage: Stage::Open,
        authorised: 0,
        captured: 0,
        refunded: 0,
        fee: 0,
        client_secret: Some(order_id.to_owned()),
    };
    let Some(p) = chosen else { return r };
    r.charge = p["id"].as_str().map(str::to_owned);
    let amount = int(p, "amount");
    let captured = p["captured"].as_bool().unwrap_or(false);
    match p["status"].as_str().unwrap_or_default() {
        "authorized" => {
            r.stage = Stage::Authorised;
            r.authorised = amount;
        }
        "captured" | "refunded" if captured || p["status"] == "captured" => {
            r.stage = Stage::Captured;
            r.authorised = amount;
            r.captured = amount;
            r.refunded = int(p, "amount_refunded");
            r.fee = int(p, "fee");
        }
        // Refunded but never captured: Razorpay released an authorisation by itself.
        "refunded" => r.stage = Stage::Cancelled,
        "failed" => r.stage = Stage::Failed,
        _ => {}
    }
    r
}

/// An id as one path segment: Razorpay's ids are `[A-Za-z0-9_]`; anything else is refused
/// rather than sent into the URL.
fn segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(ProviderError::Refused(format!("not a Razorpay id: {id:?}")))
    }
}

/// The order's creation body.
fn order_body(req: &Create) -> Value {
    let mut body = json!({
        "amount": req.amount,
        "currency": req.currency.to_uppercase(),
        "receipt": receipt(&req.key),
        "payment_capture": if req.auto_capture { 1 } else { 0 },
        "notes": {"key": req.key, "description": req.description},
    });
    // A stored card is paid with at checkout, the order naming the customer whose token it is.
    if let Some(customer) = &req.customer {
        body["customer_id"] = json!(customer);
    }
    body
}

/// Normalises a verified webhook body; `event_id` is the `X-Razorpay-Event-Id` header.
fn notice(event_id: &str, event: &Value) -> Result<Notice, WebhookError> {
    let malformed = || WebhookError::Malformed("Razorpay");
    let kind = event["event"].as_str().filter(|s| !s.is_empty()).ok_or_else(malformed)?;
    if event["entity"] != "event" || !event["payload"].is_object() {
        return Err(malformed());
    }
    let payment = &event["payload"]["payment"]["entity"];
    let refund = &event["payload"]["refund"]["entity"];
    let charge = payment["id"].as_str().map(str::to_owned);
    let what = match kind {
        "payment.authorized" => Happened::Authorised { amount: int(payment, "amount"), charge },
        "payment.captured" | "order.paid" => {
            Happened::Captured { amount: int(payment, "amount"), fee: int(payment, "fee"), charge }
        }
        "payment.failed" => {
            let reason = ["error_reason", "error_code"]
                .iter()
                .find_map(|k| payment[*k].as_str().filter(|s| !s.is_empty()))
                .unwrap_or("payment_failed");
            Happened::Failed { reason: reason.to_owned() }
        }
        "refund.processed" | "refund.failed" => Happened::Refund {
            refund: refund["id"].as_str().filter(|s| !s.is_empty()).ok_or_else(malformed)?.to_owned(),
            amount: int(refund, "amount"),
            succeeded: kind == "refund.processed",
        },
        _ => Happened::Other(kind.to_owned()),
    };
    let order = payment["order_id"].as_str().or_else(|| event["payload"]["order"]["entity"]["id"].as_str());
    let reference = match (&what, order) {
        (_, Some(o)) if !o.is_empty() => o.to_owned(),
        (Happened::Other(_), _) => String::new(),
        _ => return Err(malformed()),
    };
    // Razorpay sends no webhook for a new order, so a notice always follows our knowing its id.
    Ok(Notice { event_id: event_id.to_owned(), reference, key: None, what })
}

impl Provider for Razorpay {
    fn name(&self) -> &'static str {
        "razorpay"
    }

    fn create<'a>(&'a self, req: &'a Create) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let order = self.post("/v1/orders", &order_body(req)).await?;
            let id = order["id"]
                .as_str()
                .ok_or_else(|| ProviderError::Unavailable("Razorpay: an order without an id".into()))?;
            Ok(remote(id, &[]))
        }
        .boxed()
    }

    /// Looks the order up by its receipt (the key); of several (a create retried blindly), the
    /// one whose payment went furthest.
    fn find<'a>(&'a self, key: &'a str, _req: &'a Create) -> BoxFuture<'a, Result<Option<Remote>, ProviderError>> {
        async move {
            let receipt = receipt(key);
            let list =
                answer(self.request(reqwest::Method::GET, "/v1/orders").query(&[("receipt", &receipt)]).send().await)
                    .await?;
            let mut best: Option<Remote> = None;
            for order in list["items"].as_array().into_iter().flatten() {
                let Some(id) = order["id"].as_str() else { continue };
                if order["receipt"].as_str().is_some_and(|r| r != receipt) {
                    continue;
                }
                let payments = self.order_payments(id).await?;
                let r = remote(id, &payments);
                let better = best.as_ref().is_none_or(|b| stage_rank(r.stage) > stage_rank(b.stage));
                if better {
                    best = Some(r);
                }
            }
            Ok(best)
        }
        .boxed()
    }

    fn fetch<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let order = self.get(&format!("/v1/orders/{}", segment(reference)?)).await?;
            let id = order["id"].as_str().unwrap_or(reference);
            let payments = self.order_payments(id).await?;
            Ok(remote(id, &payments))
        }
        .boxed()
    }

    /// Captures the payment. A capture retried after a timeout finds the payment captured
    /// already, which Razorpay refuses: the payment's state is answered then, as the first
    /// capture's answer would have been.
    fn capture<'a>(
        &'a self,
        reference: &'a str,
        charge: Option<&'a str>,
        amount: i64,
        currency: &'a str,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let pay_id = self.charge_of(reference, charge).await?;
            let body = json!({"amount": amount, "currency": currency.to_uppercase()});
            let payment = match self.post(&format!("/v1/payments/{}/capture", segment(&pay_id)?), &body).await {
                Ok(p) => p,
                Err(ProviderError::Refused(why)) => {
                    let p = self.payment(&pay_id).await?;
                    if p["captured"].as_bool() == Some(true) && int(&p, "amount") == amount {
                        p
                    } else {
                        return Err(ProviderError::Refused(why));
                    }
                }
                Err(e) => return Err(e),
            };
            let order = payment["order_id"].as_str().unwrap_or(reference);
            Ok(remote(order, std::slice::from_ref(&payment)))
        }
        .boxed()
    }

    /// Razorpay cannot void an authorisation by API (it refunds uncaptured payments by itself):
    /// this reads the order and answers it as released, without asking Razorpay to change
    /// anything. Refused when something was captured (refund that instead).
    fn cancel<'a>(&'a self, reference: &'a str, _key: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let mut r = self.fetch(reference).await?;
            if r.captured > 0 {
                return Err(ProviderError::Refused(format!(
                    "Razorpay: order {reference} is captured: refund it instead"
                )));
            }
            r.stage = Stage::Cancelled;
            Ok(r)
        }
        .boxed()
    }

    fn refund<'a>(
        &'a self,
        reference: &'a str,
        charge: Option<&'a str>,
        amount: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<RefundMade, ProviderError>> {
        async move {
            let pay_id = self.charge_of(reference, charge).await?;
            let body = json!({"amount": amount, "receipt": receipt(key), "notes": {"key": key}});
            let sent = self
                .request(reqwest::Method::POST, &format!("/v1/payments/{}/refund", segment(&pay_id)?))
                .header("X-Razorpay-Idempotency", key)
                .json(&body)
                .send()
                .await;
            let refund = answer(sent).await?;
            let id = refund["id"]
                .as_str()
                .ok_or_else(|| ProviderError::Unavailable("Razorpay: a refund without an id".into()))?;
            match refund["status"].as_str().unwrap_or_default() {
                "failed" => Err(ProviderError::Refused(format!("Razorpay: refund {id} failed"))),
                status => Ok(RefundMade { reference: id.to_owned(), settled: status == "processed" }),
            }
        }
        .boxed()
    }

    /// Razorpay wants a name: the key's digest is sent, and the key in the notes; nothing
    /// personal.
    fn customer<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, ProviderError>> {
        async move {
            let name = format!("Patty {}", &patty_service::secret::digest(&[key.as_bytes()])[..24]);
            let body = json!({"name": name, "fail_existing": 0, "notes": {"key": key}});
            let customer = self.post("/v1/customers", &body).await?;
            customer["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ProviderError::Unavailable("Razorpay: a customer without an id".into()))
        }
        .boxed()
    }

    /// The token was made by the checkout for the customer; this finds it among the customer's
    /// tokens. The stored token is `customer/token` (see the module's notes).
    fn attach<'a>(&'a self, customer: &'a str, token: &'a str) -> BoxFuture<'a, Result<Method, ProviderError>> {
        async move {
            let token = token.rsplit('/').next().unwrap_or(token);
            let list = self.get(&format!("/v1/customers/{}/tokens", segment(customer)?)).await?;
            let found = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["id"] == token)
                .ok_or_else(|| ProviderError::Refused(format!("Razorpay: {token} is not a token of {customer}")))?;
            let card = &found["card"];
            let (brand, last4) =
                (card["network"].as_str().unwrap_or_default(), card["last4"].as_str().unwrap_or_default());
            if brand.is_empty() || last4.is_empty() {
                return Err(ProviderError::Refused("Razorpay: the token is not a card".into()));
            }
            Ok(Method {
                token: format!("{customer}/{token}"),
                brand: brand.to_lowercase(),
                last4: last4.to_owned(),
                exp_month: number(&card["expiry_month"]),
                exp_year: number(&card["expiry_year"]),
            })
        }
        .boxed()
    }

    fn detach<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            let (customer, token) = token
                .split_once('/')
                .ok_or_else(|| ProviderError::Refused("Razorpay: a stored token is customer/token".into()))?;
            let path = format!("/v1/customers/{}/tokens/{}", segment(customer)?, segment(token)?);
            answer(self.request(reqwest::Method::DELETE, &path).send().await).await.map(|_| ())
        }
        .boxed()
    }

    fn verify(&self, headers: &axum::http::HeaderMap, body: &[u8], _now_s: i64) -> Result<Notice, WebhookError> {
        let header = headers.get("x-razorpay-signature").ok_or(WebhookError::Unsigned)?;
        let header = header.to_str().map_err(|_| WebhookError::BadSignature)?;
        signature::razorpay_webhook(header, body, &self.webhook_secret)?;
        let event_id = headers
            .get("x-razorpay-event-id")
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty())
            .ok_or(WebhookError::Malformed("Razorpay"))?;
        let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed("Razorpay"))?;
        notice(event_id, &event)
    }
}

fn stage_rank(stage: Stage) -> u8 {
    match stage {
        Stage::Captured => 5,
        Stage::Authorised => 4,
        Stage::Cancelled => 3,
        Stage::Failed => 2,
        Stage::Open => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(status: &str, captured: bool) -> Value {
        json!({"id": format!("pay_{status}"), "entity": "payment", "amount": 1000, "status": status, "captured": captured,
            "order_id": "order_1", "amount_refunded": if status == "refunded" { 1000 } else { 0 }, "fee": 24})
    }

    #[test]
    fn receipts_fit_and_are_stable() {
        assert_eq!(receipt("pay_1:1"), "pay_1:1");
        let long = "x".repeat(80);
        assert_eq!(receipt(&long).len(), RECEIPT_MAX);
        assert_eq!(receipt(&long), receipt(&long));
        assert_ne!(receipt(&long), receipt(&"y".repeat(80)));
    }

    #[test]
    fn orders_map_to_stages_by_their_furthest_payment() {
        assert_eq!(remote("order_1", &[]).stage, Stage::Open);
        assert_eq!(remote("order_1", &[]).client_secret.as_deref(), Some("order_1"));
        let r = remote("order_1", &[payment("failed", false), payment("authorized", false)]);
        assert_eq!(
            (r.stage, r.authorised, r.captured, r.charge.as_deref()),
            (Stage::Authorised, 1000, 0, Some("pay_authorized"))
        );
        let r = remote("order_1", &[payment("captured", true)]);
        assert_eq!((r.stage, r.captured, r.fee), (Stage::Captured, 1000, 24));
        let r = remote("order_1", &[payment("refunded", true)]);
        assert_eq!((r.stage, r.captured, r.refunded), (Stage::Captured, 1000, 1000));
        assert_eq!(remote("order_1", &[payment("refunded", false)]).stage, Stage::Cancelled);
        assert_eq!(remote("order_1", &[payment("failed", false)]).stage, Stage::Failed);
    }

    #[test]
    fn webhooks_normalise() {
        let event =
            |kind: &str, payload: Value| json!({"entity": "event", "event": kind, "payload": payload, "created_at": 1});
        let pay = json!({"payment": {"entity": payment("captured", true)}});
        let n = notice("evt_1", &event("payment.captured", pay.clone())).unwrap();
        assert_eq!((n.event_id.as_str(), n.reference.as_str()), ("evt_1", "order_1"));
        assert_eq!(n.what, Happened::Captured { amount: 1000, fee: 24, charge: Some("pay_captured".into()) });
        assert_eq!(
            notice("e", &event("payment.authorized", pay.clone())).unwrap().what,
            Happened::Authorised { amount: 1000, charge: Some("pay_captured".into()) }
        );
        let failed = json!({"payment": {"entity": {"id": "pay_2", "order_id": "order_1", "error_code": "BAD_REQUEST_ERROR", "error_reason": "card_declined"}}});
        assert_eq!(
            notice("e", &event("payment.failed", failed)).unwrap().what,
            Happened::Failed { reason: "card_declined".into() }
        );
        let mut refund = pay.clone();
        refund["refund"] = json!({"entity": {"id": "rfnd_1", "amount": 400, "payment_id": "pay_captured"}});
        assert_eq!(
            notice("e", &event("refund.processed", refund.clone())).unwrap().what,
            Happened::Refund { refund: "rfnd_1".into(), amount: 400, succeeded: true }
        );
        assert_eq!(
            notice("e", &event("refund.failed", refund)).unwrap().what,
            Happened::Refund { refund: "rfnd_1".into(), amount: 400, succeeded: false }
        );
        assert_eq!(notice("e", &event("refund.created", pay)).unwrap().what, Happened::Other("refund.created".into()));
        assert_eq!(notice("e", &json!({"event": "payment.captured"})), Err(WebhookError::Malformed("Razorpay")));
        assert_eq!(notice("e", &event("payment.captured", json!({}))), Err(WebhookError::Malformed("Razorpay")));
    }

    #[test]
    fn debug_hides_the_secrets() {
        let cfg = RazorpayConfig {
            key_id: "rzp_test_1".into(),
            key_secret: "ks_value".into(),
            webhook_secret: "wh_value".into(),
            ..Default::default()
        };
        let r = Razorpay::new(&cfg, Duration::from_secs(1)).unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("ks_value") && !shown.contains("wh_value") && shown.contains("rzp_test_1"), "{shown}");
        assert!(Razorpay::new(&RazorpayConfig { key_secret: String::new(), ..cfg }, Duration::from_secs(1)).is_err());
        assert_eq!(number(&json!("07")), 7);
        assert_eq!(number(&json!(2030)), 2030);
    }
}
