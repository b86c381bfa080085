//! A shop for the checkout stories: a real cloud (in this process, on SQLite or PostgreSQL)
//! whose payments go to a providers' double of its own, with an outlet, a published menu, a
//! customer, the outlet's staff and manager, and the double's webhooks pointed at the cloud.

use crate::common::*;
use patty_tests::payments::{Double, RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET, STRIPE_KEY};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// The Stripe webhook secret the cloud and the double share.
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_checkout_stories_secret";
/// The Razorpay webhook secret the cloud and the double share.
pub const RAZORPAY_WEBHOOK_SECRET: &str = "rzp_webhook_checkout_stories";
/// Stripe's publishable key (not a secret).
pub const PUBLISHABLE_KEY: &str = "pk_test_checkout_stories";
/// The one outlet.
pub const OUTLET: &str = "01900000-0000-7000-8000-00000000a001";
/// How long a story waits for anything.
pub const WAIT: Duration = Duration::from_secs(30);
/// One Classic Patty, prices including tax.
pub const BURGER_PRICE: i64 = 790;

/// The cloud's payments configuration pointed at `double`, with `provider` active.
pub fn payments_config(c: &mut patty_cloud::infra::config::Config, double: &Double, provider: &str) {
    let p = &mut c.payments;
    p.provider = provider.to_owned();
    p.call_timeout_ms = 1500;
    p.stripe.api_base = double.stripe_base();
    p.stripe.secret_key = STRIPE_KEY.to_owned();
    p.stripe.webhook_secret = STRIPE_WEBHOOK_SECRET.to_owned();
    p.stripe.publishable_key = PUBLISHABLE_KEY.to_owned();
    p.razorpay.api_base = double.razorpay_base();
    p.razorpay.key_id = RAZORPAY_KEY_ID.to_owned();
    p.razorpay.key_secret = RAZORPAY_KEY_SECRET.to_owned();
    p.razorpay.webhook_secret = RAZORPAY_WEBHOOK_SECRET.to_owned();
}

/// A cloud, its double, and the people who use it.
pub struct Shop {
    pub cloud: Cloud,
    pub double: Double,
    pub admin: String,
    pub customer: String,
    pub staff: String,
    pub manager: String,
}

impl Shop {
    /// A shop whose payments go to `provider` at the double, the reconciler at its defaults.
    pub async fn start(backend: Backend, provider: &str) -> Shop {
        Self::start_with(backend, provider, |_| {}).await
    }

    /// [`Shop::start`], the configuration tweaked further by `tweak`.
    pub async fn start_with(
        backend: Backend,
        provider: &str,
        tweak: impl FnOnce(&mut patty_cloud::infra::config::Config),
    ) -> Shop {
        let double = Double::start();
        let cloud = Cloud::start_with(backend, |c| {
            payments_config(c, &double, provider);
            tweak(c);
        })
        .await;
        Self::open(cloud, double).await
    }

    /// Sets up the outlet, the menu and the people on a running `cloud`, and points `double`'s
    /// webhooks at it.
    pub async fn open(cloud: Cloud, double: Double) -> Shop {
        double
            .config(json!({
                "stripe_webhook_url": cloud.url("/api/v1/payments/webhooks/stripe"),
                "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
                "razorpay_webhook_url": cloud.url("/api/v1/payments/webhooks/razorpay"),
                "razorpay_webhook_secret": RAZORPAY_WEBHOOK_SECRET,
            }))
            .await;
        let admin = cloud.admin().await;
        cloud.json(cloud.post(&admin, "/api/v1/outlets", &outlet(OUTLET)).await, StatusCode::CREATED).await;
        cloud.json(cloud.put(&admin, "/api/v1/catalog/draft", &catalog(None)).await, StatusCode::OK).await;
        cloud.json(cloud.post(&admin, "/api/v1/catalog/publish", &json!({})).await, StatusCode::CREATED).await;
        let customer = cloud.register("ada@example.com").await["access_token"].as_str().unwrap().to_owned();
        let staff = cloud.staff(&admin, "till@example.com", "outlet_staff", Some(OUTLET)).await;
        let manager = cloud.staff(&admin, "boss@example.com", "outlet_manager", Some(OUTLET)).await;
        Shop { cloud, double, admin, customer, staff, manager }
    }

    /// `POST /api/v1/orders` of `burgers` Classic Patties (takeaway) paid as `payment` says.
    pub async fn order_as(&self, token: &str, key: &str, burgers: u32, payment: Value) -> Response {
        let body = json!({ "outlet_id": OUTLET, "fulfilment": "takeaway",
                           "lines": [{ "item_id": BURGER, "quantity": burgers }], "payment": payment });
        let r =
            self.cloud.http.post(self.cloud.url("/api/v1/orders")).bearer_auth(token).header("idempotency-key", key);
        r.json(&body).send().await.unwrap()
    }

    /// An order of one burger, paid as `payment` says: 201 or panic.
    pub async fn place(&self, key: &str, payment: Value) -> Value {
        let r = self.order_as(&self.customer, key, 1, payment).await;
        self.cloud.json(r, StatusCode::CREATED).await
    }

    /// Answers `(status, body)`.
    pub async fn call(&self, method: Method, token: &str, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let r = self.cloud.send(method, Some(token), path, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// GET `path` as `token`: 200 or panic.
    pub async fn get(&self, token: &str, path: &str) -> Value {
        self.cloud.json(self.cloud.get(token, path).await, StatusCode::OK).await
    }

    /// The order as its customer sees it.
    pub async fn order(&self, id: &str) -> Value {
        self.get(&self.customer, &format!("/api/v1/orders/{id}")).await
    }

    /// The order once it is in `status`.
    pub async fn order_reaches(&self, id: &str, status: &str) -> Value {
        let mut last = Value::Null;
        let until = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < until {
            last = self.order(id).await;
            if last["status"] == status {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("order {id} did not become {status} within {WAIT:?}: {last}");
    }

    /// The order's payment as its customer's client gets it (with the client secret while open).
    pub async fn order_payment(&self, order: &str) -> Value {
        self.get(&self.customer, &format!("/api/v1/orders/{order}/payment")).await
    }

    /// The provider's reference of the order's payment, from its client secret (Stripe's
    /// `pi_…_secret_…`; Razorpay's order id), once the cloud has one.
    pub async fn reference(&self, order: &str) -> String {
        let until = tokio::time::Instant::now() + WAIT;
        loop {
            let p = self.order_payment(order).await;
            if let Some(secret) = p["client_secret"].as_str() {
                return secret.split("_secret_").next().unwrap().to_owned();
            }
            assert!(tokio::time::Instant::now() < until, "no client secret for order {order}: {p}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One payment with its refunds (HQ).
    pub async fn payment(&self, id: &str) -> Value {
        self.get(&self.admin, &format!("/api/v1/payments/{id}")).await
    }

    /// The payment once `done` holds for it.
    pub async fn payment_until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let until = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < until {
            last = self.payment(id).await;
            if done(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("payment {id} is not {what} within {WAIT:?}: {last}");
    }

    /// The outlet moves the order to `status`.
    pub async fn outlet_moves(&self, order: &str, status: &str) -> Value {
        let path = format!("/api/v1/outlets/{OUTLET}/orders/{order}/status");
        self.cloud.json(self.cloud.post(&self.staff, &path, &json!({ "status": status })).await, StatusCode::OK).await
    }

    /// A refund asked by the outlet's manager: `(status, body)`.
    pub async fn refund(&self, payment: &str, amount: i64, to: &str) -> (StatusCode, Value) {
        let body = json!({ "amount": amount, "reason": "cold fries", "to": to });
        self.call(Method::POST, &self.manager, &format!("/api/v1/payments/{payment}/refunds"), Some(&body)).await
    }

    /// The relayed events once `done` holds for them.
    pub async fn events_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        self.cloud.events_until(&self.admin, what, done).await
    }

    /// Every event written so far, relayed: a fresh registration's event is waited for, and the
    /// log (relayed in order) read up to it.
    pub async fn all_events(&self) -> Vec<Value> {
        let email = format!("barrier-{}@example.com", uuid::Uuid::now_v7().simple());
        let user = self.cloud.register(&email).await["user"]["id"].as_str().unwrap().to_owned();
        self.events_until("the barrier's registration", |all| {
            all.iter().any(|e| e["kind"] == "notification.email_verification_requested" && e["key"] == user.as_str())
        })
        .await
    }

    /// The wallet balance of the customer.
    pub async fn balance(&self) -> i64 {
        self.get(&self.customer, "/api/v1/me/wallet").await["balance"].as_i64().unwrap()
    }

    /// The day's reconciliation (HQ), today.
    pub async fn reconciliation(&self) -> Value {
        let day = chrono::Utc::now().format("%Y-%m-%d");
        self.get(&self.admin, &format!("/api/v1/payments/reconciliation?day={day}")).await
    }

    /// Asserts the ledger is balanced and matches what the providers reported.
    pub async fn assert_reconciled(&self) -> Value {
        let r = self.reconciliation().await;
        assert_eq!(r["differences"], json!([]), "{r}");
        assert_eq!(r["unbalanced"], json!([]), "{r}");
        r
    }

    /// The payment events (`payment.*`) of payment `id` in `events`.
    pub fn payment_events<'a>(events: &'a [Value], id: &str, kind: &str) -> Vec<&'a Value> {
        events.iter().filter(|e| e["kind"] == kind && e["key"] == id).collect()
    }

    /// The double's API calls `method path`.
    pub async fn calls(&self, method: &str, path: &str) -> Vec<Value> {
        self.double.calls().await.into_iter().filter(|c| c["method"] == method && c["path"] == path).collect()
    }

    /// The Stripe intent as the double holds it.
    pub async fn intent(&self, reference: &str) -> Value {
        let r = self.cloud.http.get(format!("{}/v1/payment_intents/{reference}", self.double.stripe_base()));
        r.bearer_auth(STRIPE_KEY).send().await.unwrap().json().await.unwrap()
    }

    /// The double's webhooks of `kind` about `reference`.
    pub async fn webhooks(&self, kind: &str, reference: &str) -> Vec<Value> {
        self.double.events().await.into_iter().filter(|e| e["type"] == kind && e["reference"] == reference).collect()
    }

    /// Waits until every webhook the double made was answered by the cloud with 200.
    pub async fn webhooks_answered(&self) -> Vec<Value> {
        self.double
            .wait_events("every webhook answered 200", WAIT, |es| {
                es.iter().all(|e| e["status"] == 200 && e["deliveries"].as_array().is_some_and(|d| !d.is_empty()))
            })
            .await
    }

    /// Posts a raw webhook body with `headers` to the cloud: `(status, body)`.
    pub async fn post_webhook(&self, provider: &str, headers: &[(&str, String)], body: &str) -> (StatusCode, Value) {
        let mut r = self.cloud.http.post(self.cloud.url(&format!("/api/v1/payments/webhooks/{provider}")));
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        let r = r.body(body.to_owned()).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Places a card order and has the customer authorise it at the double: (order, payment id,
    /// reference) once the order is `placed`.
    pub async fn paid_order(&self, key: &str) -> (Value, String, String) {
        let order = self.place(key, json!({ "method": "card" })).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let reference = self.reference(&id).await;
        self.double.confirm(&reference, "authorise").await;
        let order = self.order_reaches(&id, "placed").await;
        let pay = self.order_payment(&id).await["id"].as_str().unwrap().to_owned();
        (order, pay, reference)
    }

    /// [`Shop::paid_order`], then taken on by the outlet and captured.
    pub async fn captured_order(&self, key: &str) -> (Value, String, String) {
        let (order, pay, reference) = self.paid_order(key).await;
        self.outlet_moves(order["id"].as_str().unwrap(), "accepted").await;
        self.payment_until(&pay, "captured", |p| p["state"] == "captured").await;
        (order, pay, reference)
    }
}

/// The tender of `kind` (`online`, `wallet`) in `order`.
pub fn tender<'a>(order: &'a Value, kind: &str) -> Option<&'a Value> {
    order["tenders"].as_array()?.iter().find(|t| !t["kind"][kind].is_null() || t["kind"] == kind)
}

/// The code of an error body.
pub fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}
