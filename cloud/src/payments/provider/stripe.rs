//! Stripe: PaymentIntents (manual capture unless the payment captures itself), refunds, customers
//! and card payment methods, spoken as Stripe's REST API with hand-written form-encoded requests
//! (the `async-stripe` crate's build costs many minutes on a two-core machine for the handful of
//! calls made here). Every POST carries an `Idempotency-Key`; webhooks are verified with
//! [`signature::stripe`].
//!
//! Secrets stay inside: the API key goes only into the `Authorization` header, never into an
//! error, a log line or `Debug`; Stripe's own messages are passed on (they name codes and
//! parameters, not keys or card numbers), except on a 401, whose message quotes part of the key.

use super::{
    Create, Happened, Method, Notice, Provider, ProviderError, RefundMade, Remote, Stage, WebhookError, signature,
    transport_error,
};
use crate::infra::config::{ConfigError, StripeConfig, read_secret};
use futures::future::{BoxFuture, FutureExt};
use serde_json::Value;
use std::time::Duration;

/// How old a webhook's signature may be by default, seconds (Stripe's libraries' default).
pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// The Stripe adapter.
pub struct Stripe {
    http: reqwest::Client,
    base: String,
    secret_key: String,
    webhook_secret: String,
    tolerance_s: i64,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("base", &self.base)
            .field("secret_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("tolerance_s", &self.tolerance_s)
            .finish()
    }
}

impl Stripe {
    /// The adapter for `cfg` (secrets read through [`read_secret`]), each call limited to
    /// `timeout`. Fails if the secret key or the webhook secret is empty.
    pub fn new(cfg: &StripeConfig, timeout: Duration) -> Result<Self, ConfigError> {
        let secret_key = read_secret(&cfg.secret_key, &cfg.secret_key_file)?;
        let webhook_secret = read_secret(&cfg.webhook_secret, &cfg.webhook_secret_file)?;
        if secret_key.is_empty() {
            return Err(ConfigError::Invalid("payments.stripe.secret_key is empty".into()));
        }
        if webhook_secret.is_empty() {
            return Err(ConfigError::Invalid("payments.stripe.webhook_secret is empty".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ConfigError::Invalid(format!("the Stripe HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: cfg.api_base.trim_end_matches('/').to_owned(),
            secret_key,
            webhook_secret,
            tolerance_s: DEFAULT_TOLERANCE_S,
        })
    }

    /// The same adapter refusing webhooks signed more than `secs` seconds from now
    /// (`payments.webhook_tolerance_secs`).
    pub fn with_tolerance(mut self, secs: i64) -> Self {
        self.tolerance_s = secs;
        self
    }

    async fn post(&self, path: &str, form: &[(&str, String)], idempotency_key: &str) -> Result<Value, ProviderError> {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form);
        answer(request.send().await).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ProviderError> {
        let request = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.secret_key).query(query);
        answer(request.send().await).await
    }
}

/// Reads Stripe's answer: the object on a 2xx, else the error mapped to [`ProviderError`].
async fn answer(sent: Result<reqwest::Response, reqwest::Error>) -> Result<Value, ProviderError> {
    let response = sent.map_err(|e| transport_error("Stripe", e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport_error("Stripe", e))?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if status.is_success() {
        return json.ok_or_else(|| ProviderError::Unavailable("Stripe: an answer that is not JSON".into()));
    }
    let error = json.as_ref().map(|j| &j["error"]);
    let field = |name: &str| error.and_then(|e| e[name].as_str()).unwrap_or_default().to_owned();
    let (code, message) = (field("code"), field("message"));
    let what = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code,
        (true, false) => message,
        (true, true) => format!("HTTP {}", status.as_u16()),
    };
    Err(match status.as_u16() {
        // Stripe's 401 message quotes part of the key: say only what it means.
        401 => ProviderError::Refused("Stripe refused the API key".into()),
        // 409: another request under the same key is still running; 429: rate limited.
        409 | 429 => ProviderError::Unavailable(format!("Stripe: {what}")),
        s if s >= 500 => ProviderError::Unavailable(format!("Stripe: {what}")),
        _ => ProviderError::Refused(format!("Stripe: {what}")),
    })
}

fn int(v: &Value, name: &str) -> i64 {
    v[name].as_i64().unwrap_or(0)
}

/// An id field that may be a string or an expanded object.
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// Where a PaymentIntent's `status` puts it. A canceled intent that carries a payment error was
/// abandoned after a decline: failed rather than released.
fn stage(pi: &Value) -> Stage {
    match pi["status"].as_str().unwrap_or_default() {
        "requires_capture" => Stage::Authorised,
        "succeeded" => Stage::Captured,
        "canceled" if !pi["last_payment_error"].is_null() => Stage::Failed,
        "canceled" => Stage::Cancelled,
        // requires_payment_method, requires_confirmation, requires_action, processing, and any
        // status Stripe adds later: still waiting on something.
        _ => Stage::Open,
    }
}

/// A PaymentIntent as a [`Remote`]. `latest_charge` may be an id or the expanded Charge, whose
/// `amount_refunded` (and fee, when its balance transaction is expanded too) is then known.
fn remote(pi: &Value) -> Result<Remote, ProviderError> {
    let reference =
        pi["id"].as_str().filter(|id| pi["object"] == "payment_intent" || id.starts_with("pi_")).ok_or_else(|| {
            ProviderError::Unavailable("Stripe answered with something other than a PaymentIntent".into())
        })?;
    let charge = &pi["latest_charge"];
    // A partial capture (or a cancel) releases the rest of the authorisation, which Stripe counts
    // in the charge's `amount_refunded` too: only what was refunded of the captured part counts.
    let (refunded, fee) = match charge {
        Value::Object(_) => {
            let released = if charge["captured"] == true {
                int(charge, "amount") - int(charge, "amount_captured")
            } else {
                int(charge, "amount")
            };
            ((int(charge, "amount_refunded") - released.max(0)).max(0), int(&charge["balance_transaction"], "fee"))
        }
        _ => (0, 0),
    };
    Ok(Remote {
        reference: reference.to_owned(),
        charge: id_of(charge),
        stage: stage(pi),
        authorised: int(pi, "amount_capturable") + int(pi, "amount_received"),
        captured: int(pi, "amount_received"),
        refunded,
        fee,
        client_secret: pi["client_secret"].as_str().map(str::to_owned),
    })
}

/// The form of a PaymentIntent's creation. The same request is sent again by
/// [`Provider::find`], so it must depend on `req` alone.
fn create_form(req: &Create) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("amount", req.amount.to_string()),
        ("currency", req.currency.to_lowercase()),
        ("capture_method", if req.auto_capture { "automatic" } else { "manual" }.to_owned()),
        ("description", req.description.clone()),
        ("metadata[key]", req.key.clone()),
    ];
    if let Some(customer) = &req.customer {
        form.push(("customer", customer.clone()));
    }
    if let Some(method) = &req.method {
        form.push(("payment_method", method.clone()));
        form.push(("confirm", "true".to_owned()));
        form.push(("off_session", "true".to_owned()));
    }
    form
}

fn method(pm: &Value) -> Result<Method, ProviderError> {
    let card = &pm["card"];
    let token = pm["id"].as_str().unwrap_or_default();
    let brand = card["brand"].as_str().unwrap_or_default();
    let last4 = card["last4"].as_str().unwrap_or_default();
    if token.is_empty() || brand.is_empty() || last4.is_empty() {
        return Err(ProviderError::Refused("Stripe: the payment method is not a card".into()));
    }
    Ok(Method {
        token: token.to_owned(),
        brand: brand.to_owned(),
        last4: last4.to_owned(),
        exp_month: u32::try_from(int(card, "exp_month")).unwrap_or(0),
        exp_year: u32::try_from(int(card, "exp_year")).unwrap_or(0),
    })
}

/// A fresh key for calls that are idempotent by nature (attach, detach): a replayed answer from
/// an earlier attach of the same card would be wrong after a detach in between.
fn fresh_key(what: &str) -> String {
    format!("{what}:{}", uuid::Uuid::new_v4())
}

/// A Refund object as what a webhook reports: `None` while it is still pending (or waiting on
/// the customer), when only its settling matters.
fn refund_happened(refund: &Value) -> Option<Happened> {
    let succeeded = match refund["status"].as_str()? {
        "succeeded" => true,
        "failed" | "canceled" => false,
        _ => return None,
    };
    Some(Happened::Refund { refund: refund["id"].as_str()?.to_owned(), amount: int(refund, "amount"), succeeded })
}

/// Normalises a verified Event.
fn notice(event: &Value) -> Result<Notice, WebhookError> {
    let malformed = || WebhookError::Malformed("Stripe");
    let event_id = event["id"].as_str().filter(|s| !s.is_empty()).ok_or_else(malformed)?;
    let kind = event["type"].as_str().filter(|s| !s.is_empty()).ok_or_else(malformed)?;
    let object = &event["data"]["object"];
    if !object.is_object() || event["object"] != "event" {
        return Err(malformed());
    }
    let intent_id = || object["id"].as_str().map(str::to_owned);
    let intent_of = || id_of(&object["payment_intent"]);
    let other = || Happened::Other(kind.to_owned());
    let (reference, what) = match kind {
        "payment_intent.amount_capturable_updated" => (
            intent_id(),
            Happened::Authorised { amount: int(object, "amount_capturable"), charge: id_of(&object["latest_charge"]) },
        ),
        "payment_intent.succeeded" => (
            intent_id(),
            Happened::Captured {
                amount: int(object, "amount_received"),
                fee: 0,
                charge: id_of(&object["latest_charge"]),
            },
        ),
        "payment_intent.payment_failed" => {
            let error = &object["last_payment_error"];
            let reason = ["code", "decline_code"]
                .iter()
                .find_map(|k| error[*k].as_str().filter(|s| !s.is_empty()))
                .unwrap_or("payment_failed");
            (intent_id(), Happened::Failed { reason: reason.to_owned() })
        }
        "payment_intent.canceled" => (intent_id(), Happened::Cancelled),
        // The object is the Refund.
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => {
            (intent_of(), refund_happened(object).unwrap_or_else(other))
        }
        // The object is the Charge; its newest refund (Stripe lists them newest first) is the one.
        "charge.refunded" => {
            let newest = &object["refunds"]["data"][0];
            (intent_of(), if newest.is_object() { refund_happened(newest).unwrap_or_else(other) } else { other() })
        }
        _ if object["object"] == "payment_intent" => (intent_id(), other()),
        _ => (intent_of(), other()),
    };
    // An event payments does not act on may name no payment; one it acts on must.
    let reference = match (&what, reference) {
        (Happened::Other(_), reference) => reference.unwrap_or_default(),
        (_, Some(reference)) if !reference.is_empty() => reference,
        _ => return Err(malformed()),
    };
    // The key we made the intent under, which names our payment even before the API answered.
    let key = object["metadata"]["key"].as_str().map(str::to_owned);
    Ok(Notice { event_id: event_id.to_owned(), reference, key, what })
}

impl Provider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn create<'a>(&'a self, req: &'a Create) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move { remote(&self.post("/v1/payment_intents", &create_form(req), &req.key).await?) }.boxed()
    }

    /// Sends the creation again under the same key: within Stripe's 24 hours of idempotency it
    /// answers with the intent it made (no second one). If the first request never reached
    /// Stripe, this makes the intent, as a retry would: so Stripe never answers `None`.
    fn find<'a>(&'a self, key: &'a str, req: &'a Create) -> BoxFuture<'a, Result<Option<Remote>, ProviderError>> {
        async move { remote(&self.post("/v1/payment_intents", &create_form(req), key).await?).map(Some) }.boxed()
    }

    fn fetch<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let path = format!("/v1/payment_intents/{}", segment(reference)?);
            remote(&self.get(&path, &[("expand[]", "latest_charge")]).await?)
        }
        .boxed()
    }

    fn capture<'a>(
        &'a self,
        reference: &'a str,
        _charge: Option<&'a str>,
        amount: i64,
        _currency: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let path = format!("/v1/payment_intents/{}/capture", segment(reference)?);
            let form = [("amount_to_capture", amount.to_string()), ("expand[]", "latest_charge".to_owned())];
            remote(&self.post(&path, &form, &format!("capture:{key}")).await?)
        }
        .boxed()
    }

    fn cancel<'a>(&'a self, reference: &'a str, key: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let path = format!("/v1/payment_intents/{}/cancel", segment(reference)?);
            remote(&self.post(&path, &[("expand[]", "latest_charge".to_owned())], &format!("cancel:{key}")).await?)
        }
        .boxed()
    }

    fn refund<'a>(
        &'a self,
        reference: &'a str,
        _charge: Option<&'a str>,
        amount: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<RefundMade, ProviderError>> {
        async move {
            let form = [("payment_intent", reference.to_owned()), ("amount", amount.to_string())];
            let refund = self.post("/v1/refunds", &form, &format!("refund:{key}")).await?;
            let id = refund["id"]
                .as_str()
                .ok_or_else(|| ProviderError::Unavailable("Stripe: a refund without an id".into()))?;
            match refund["status"].as_str().unwrap_or_default() {
                "failed" | "canceled" => Err(ProviderError::Refused(format!(
                    "Stripe: refund {id} {}",
                    refund["failure_reason"].as_str().unwrap_or("failed")
                ))),
                status => Ok(RefundMade { reference: id.to_owned(), settled: status == "succeeded" }),
            }
        }
        .boxed()
    }

    fn customer<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, ProviderError>> {
        async move {
            let customer =
                self.post("/v1/customers", &[("metadata[key]", key.to_owned())], &format!("customer:{key}")).await?;
            customer["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ProviderError::Unavailable("Stripe: a customer without an id".into()))
        }
        .boxed()
    }

    fn attach<'a>(&'a self, customer: &'a str, token: &'a str) -> BoxFuture<'a, Result<Method, ProviderError>> {
        async move {
            let path = format!("/v1/payment_methods/{}/attach", segment(token)?);
            method(&self.post(&path, &[("customer", customer.to_owned())], &fresh_key("attach")).await?)
        }
        .boxed()
    }

    fn detach<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move {
            let path = format!("/v1/payment_methods/{}/detach", segment(token)?);
            self.post(&path, &[], &fresh_key("detach")).await.map(|_| ())
        }
        .boxed()
    }

    fn verify(&self, headers: &axum::http::HeaderMap, body: &[u8], now_s: i64) -> Result<Notice, WebhookError> {
        let header = headers.get("stripe-signature").ok_or(WebhookError::Unsigned)?;
        let header = header.to_str().map_err(|_| WebhookError::BadSignature)?;
        signature::stripe(header, body, &self.webhook_secret, now_s, self.tolerance_s)?;
        let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed("Stripe"))?;
        notice(&event)
    }
}

/// An id as one path segment: Stripe's ids are `[A-Za-z0-9_]`; anything else is refused rather
/// than sent into the URL.
fn segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(ProviderError::Refused(format!("not a Stripe id: {id:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, object: Value) -> Value {
        json!({"id": "evt_1", "object": "event", "type": kind, "data": {"object": object}})
    }

    #[test]
    fn intents_map_to_stages() {
        let pi = |status: &str, error: Value| json!({"id": "pi_1", "object": "payment_intent", "status": status, "last_payment_error": error});
        for (status, stage_) in [
            ("requires_payment_method", Stage::Open),
            ("requires_confirmation", Stage::Open),
            ("requires_action", Stage::Open),
            ("processing", Stage::Open),
            ("requires_capture", Stage::Authorised),
            ("succeeded", Stage::Captured),
            ("canceled", Stage::Cancelled),
        ] {
            assert_eq!(stage(&pi(status, Value::Null)), stage_, "{status}");
        }
        assert_eq!(stage(&pi("canceled", json!({"code": "card_declined"}))), Stage::Failed);
    }

    #[test]
    fn amounts_and_an_expanded_charge() {
        let r = remote(&json!({
            "id": "pi_1", "object": "payment_intent", "status": "succeeded", "amount": 1000,
            "amount_capturable": 0, "amount_received": 800, "client_secret": "pi_1_secret_x",
            "latest_charge": {"id": "ch_1", "object": "charge", "amount": 1000, "amount_captured": 800, "captured": true,
                "amount_refunded": 500, "balance_transaction": {"fee": 52}}
        }))
        .unwrap();
        assert_eq!((r.stage, r.authorised, r.captured, r.refunded, r.fee), (Stage::Captured, 800, 800, 300, 52));
        assert_eq!(r.charge.as_deref(), Some("ch_1"));
        let r = remote(&json!({"id": "pi_2", "status": "requires_capture", "amount_capturable": 1000, "amount_received": 0, "latest_charge": "ch_2"})).unwrap();
        assert_eq!(
            (r.stage, r.authorised, r.captured, r.charge.as_deref()),
            (Stage::Authorised, 1000, 0, Some("ch_2"))
        );
        assert!(remote(&json!({"id": "re_1", "object": "refund"})).is_err());
    }

    #[test]
    fn the_create_form_asks_for_what_the_payment_needs() {
        let mut req = Create {
            amount: 1250,
            currency: "EUR".into(),
            key: "pay_1:1".into(),
            auto_capture: false,
            customer: None,
            method: None,
            description: "Order 12".into(),
        };
        let form = create_form(&req);
        assert!(form.contains(&("currency", "eur".into())) && form.contains(&("capture_method", "manual".into())));
        assert!(!form.iter().any(|(k, _)| *k == "confirm"));
        req.auto_capture = true;
        req.customer = Some("cus_1".into());
        req.method = Some("pm_1".into());
        let form = create_form(&req);
        for pair in [
            ("capture_method", "automatic"),
            ("customer", "cus_1"),
            ("payment_method", "pm_1"),
            ("confirm", "true"),
            ("off_session", "true"),
        ] {
            assert!(form.contains(&(pair.0, pair.1.into())), "{pair:?}");
        }
    }

    #[test]
    fn events_normalise() {
        let pi = json!({"id": "pi_1", "object": "payment_intent", "amount_capturable": 900, "amount_received": 900, "latest_charge": "ch_1",
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"}});
        let n = notice(&event("payment_intent.amount_capturable_updated", pi.clone())).unwrap();
        assert_eq!((n.event_id.as_str(), n.reference.as_str()), ("evt_1", "pi_1"));
        assert_eq!(n.what, Happened::Authorised { amount: 900, charge: Some("ch_1".into()) });
        assert_eq!(
            notice(&event("payment_intent.succeeded", pi.clone())).unwrap().what,
            Happened::Captured { amount: 900, fee: 0, charge: Some("ch_1".into()) }
        );
        assert_eq!(
            notice(&event("payment_intent.payment_failed", pi.clone())).unwrap().what,
            Happened::Failed { reason: "card_declined".into() }
        );
        assert_eq!(notice(&event("payment_intent.canceled", pi.clone())).unwrap().what, Happened::Cancelled);
        assert_eq!(
            notice(&event("payment_intent.created", pi)).unwrap().what,
            Happened::Other("payment_intent.created".into())
        );

        let refund = |status: &str| json!({"id": "re_1", "object": "refund", "amount": 300, "payment_intent": "pi_1", "charge": "ch_1", "status": status});
        let n = notice(&event("refund.created", refund("succeeded"))).unwrap();
        assert_eq!(
            (n.reference.as_str(), n.what),
            ("pi_1", Happened::Refund { refund: "re_1".into(), amount: 300, succeeded: true })
        );
        assert_eq!(
            notice(&event("refund.updated", refund("failed"))).unwrap().what,
            Happened::Refund { refund: "re_1".into(), amount: 300, succeeded: false }
        );
        assert_eq!(
            notice(&event("refund.created", refund("pending"))).unwrap().what,
            Happened::Other("refund.created".into())
        );
        let charge = json!({"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount_refunded": 300, "refunds": {"object": "list", "data": [refund("succeeded")]}});
        assert_eq!(
            notice(&event("charge.refunded", charge)).unwrap().what,
            Happened::Refund { refund: "re_1".into(), amount: 300, succeeded: true }
        );

        let price = json!({"id": "price_1", "object": "plan"});
        assert_eq!(
            notice(&event("plan.created", price)).unwrap(),
            Notice {
                event_id: "evt_1".into(),
                reference: String::new(),
                key: None,
                what: Happened::Other("plan.created".into())
            }
        );
        assert_eq!(notice(&json!({"id": "evt_1", "type": "x"})), Err(WebhookError::Malformed("Stripe")));
        assert_eq!(
            notice(&event("refund.created", json!({"id": "re_1", "status": "succeeded"}))),
            Err(WebhookError::Malformed("Stripe"))
        );
    }

    #[test]
    fn debug_hides_the_keys() {
        let cfg = StripeConfig {
            secret_key: "sk_test_secret_value".into(),
            webhook_secret: "whsec_value".into(),
            ..Default::default()
        };
        let s = Stripe::new(&cfg, Duration::from_secs(1)).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk_test_secret_value") && !shown.contains("whsec_value"), "{shown}");
        assert!(
            Stripe::new(&StripeConfig { secret_key: String::new(), ..cfg.clone() }, Duration::from_secs(1)).is_err()
        );
        assert!(Stripe::new(&StripeConfig { webhook_secret: String::new(), ..cfg }, Duration::from_secs(1)).is_err());
        assert!(segment("pi_1/../x").is_err() && segment("pi_1Abc").is_ok());
    }
}
