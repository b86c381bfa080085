//! The Stripe and Razorpay adapters against the providers' double (`tests/payments-double`):
//! each payment's life (create, the customer confirming, fetch, capture, refund, cancel), stored
//! cards, a create that timed out and is found again under its key, a 500, and webhooks the
//! double sends to a listener of the test's, verified by the adapters. Stripe's webhooks are
//! signed by Stripe's own library inside the double; Razorpay's signatures are checked by
//! Razorpay's own Python library too, so both sides agree.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use patty_cloud::infra::config::{RazorpayConfig, StripeConfig};
use patty_cloud::payments::provider::razorpay::Razorpay;
use patty_cloud::payments::provider::stripe::Stripe;
use patty_cloud::payments::provider::{Create, Happened, Provider, ProviderError, Stage, WebhookError, signature};
use patty_tests::payments::{Double, RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET, STRIPE_KEY};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STRIPE_WEBHOOK_SECRET: &str = "whsec_providers_test_secret";
const RAZORPAY_WEBHOOK_SECRET: &str = "rzp_webhook_providers_test";
const WAIT: Duration = Duration::from_secs(20);

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn stripe_at(base: &str, key: &str, timeout: Duration) -> Stripe {
    let cfg = StripeConfig {
        api_base: base.to_owned(),
        secret_key: key.to_owned(),
        webhook_secret: STRIPE_WEBHOOK_SECRET.to_owned(),
        ..Default::default()
    };
    Stripe::new(&cfg, timeout).expect("a Stripe adapter")
}

fn stripe(double: &Double) -> Stripe {
    stripe_at(&double.stripe_base(), STRIPE_KEY, Duration::from_secs(10))
}

fn razorpay_at(base: &str, secret: &str, timeout: Duration) -> Razorpay {
    let cfg = RazorpayConfig {
        api_base: base.to_owned(),
        key_id: RAZORPAY_KEY_ID.to_owned(),
        key_secret: secret.to_owned(),
        webhook_secret: RAZORPAY_WEBHOOK_SECRET.to_owned(),
        ..Default::default()
    };
    Razorpay::new(&cfg, timeout).expect("a Razorpay adapter")
}

fn razorpay(double: &Double) -> Razorpay {
    razorpay_at(&double.razorpay_base(), RAZORPAY_KEY_SECRET, Duration::from_secs(10))
}

fn order(key: &str, amount: i64, currency: &str) -> Create {
    Create {
        amount,
        currency: currency.to_owned(),
        key: key.to_owned(),
        auto_capture: false,
        customer: None,
        method: None,
        description: "Order 1042".to_owned(),
    }
}

/// A webhook as the test's listener received it.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A listener of the test's own on a free loopback port that keeps every webhook's raw body
/// and headers, answering 200 after `delay`.
struct Sink {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Sink {
    async fn start(delay: Duration) -> Sink {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = received.clone();
        let app = axum::Router::new().route(
            "/{provider}",
            axum::routing::post(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push(Received { path: uri.path().to_owned(), headers, body });
                    tokio::time::sleep(delay).await;
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Sink { url, received }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until a webhook whose body has `"type"`/`"event"` `kind` and mentions `reference`
    /// has arrived `count` times; returns the first.
    async fn wait(&self, kind: &str, reference: &str, count: usize) -> Received {
        let until = tokio::time::Instant::now() + WAIT;
        loop {
            let found: Vec<Received> = self
                .all()
                .into_iter()
                .filter(|r| {
                    let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                    (v["type"] == kind || v["event"] == kind) && String::from_utf8_lossy(&r.body).contains(reference)
                })
                .collect();
            if found.len() >= count {
                return found[0].clone();
            }
            assert!(
                tokio::time::Instant::now() < until,
                "no {kind} webhook for {reference} ({} of {count}); received: {:?}",
                found.len(),
                self.all()
                    .iter()
                    .map(|r| String::from_utf8_lossy(&r.body).chars().take(120).collect::<String>())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn configure_webhooks(double: &Double, sink: &Sink) {
    double
        .config(json!({
            "stripe_webhook_url": format!("{}/stripe", sink.url),
            "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
            "razorpay_webhook_url": format!("{}/razorpay", sink.url),
            "razorpay_webhook_secret": RAZORPAY_WEBHOOK_SECRET,
        }))
        .await;
}

fn posts<'a>(calls: &'a [Value], path: &str) -> Vec<&'a Value> {
    calls.iter().filter(|c| c["method"] == "POST" && c["path"] == path).collect()
}

#[tokio::test]
async fn stripe_payment_from_create_to_refund_and_a_cancel() {
    let double = Double::start();
    let s = stripe(&double);

    let req = order("pay-1:1", 1200, "EUR");
    let created = s.create(&req).await.unwrap();
    assert!(created.reference.starts_with("pi_"), "{created:?}");
    assert_eq!((created.stage, created.authorised, created.captured), (Stage::Open, 0, 0));
    assert!(created.client_secret.as_deref().is_some_and(|c| c.starts_with(&created.reference)), "{created:?}");

    let confirmed = double.confirm(&created.reference, "authorise").await;
    assert_eq!(confirmed["status"], "requires_capture", "{confirmed}");
    let fetched = s.fetch(&created.reference).await.unwrap();
    assert_eq!((fetched.stage, fetched.authorised, fetched.captured), (Stage::Authorised, 1200, 0));
    assert_eq!(fetched.charge.as_deref(), confirmed["charge"].as_str());

    // Capture less than authorised: the rest is released, not counted as refunded.
    let captured =
        s.capture(&created.reference, fetched.charge.as_deref(), 1000, "EUR", "pay-1:capture").await.unwrap();
    assert_eq!((captured.stage, captured.captured, captured.refunded), (Stage::Captured, 1000, 0));
    // A retry under the same key is answered the same, without a second capture.
    let again = s.capture(&created.reference, fetched.charge.as_deref(), 1000, "EUR", "pay-1:capture").await.unwrap();
    assert_eq!(again, captured);

    let refund = s.refund(&created.reference, captured.charge.as_deref(), 300, "pay-1:refund-1").await.unwrap();
    assert!(refund.reference.starts_with("re_") && refund.settled, "{refund:?}");
    let after = s.fetch(&created.reference).await.unwrap();
    assert_eq!((after.stage, after.captured, after.refunded), (Stage::Captured, 1000, 300));
    let too_much = s.refund(&created.reference, None, 5000, "pay-1:refund-2").await;
    assert!(matches!(&too_much, Err(ProviderError::Refused(m)) if m.contains("amount_too_large")), "{too_much:?}");
    let late_cancel = s.cancel(&created.reference, "pay-1:cancel").await;
    assert!(
        matches!(&late_cancel, Err(ProviderError::Refused(m)) if m.contains("payment_intent_unexpected_state")),
        "{late_cancel:?}"
    );

    // A second payment is authorised and then released.
    let other = s.create(&order("pay-2:1", 800, "EUR")).await.unwrap();
    double.confirm(&other.reference, "authorise").await;
    let cancelled = s.cancel(&other.reference, "pay-2:cancel").await.unwrap();
    assert_eq!((cancelled.stage, cancelled.captured, cancelled.refunded), (Stage::Cancelled, 0, 0));

    // A declined card leaves the intent open for another try.
    let third = s.create(&order("pay-3:1", 500, "EUR")).await.unwrap();
    double.confirm(&third.reference, "decline").await;
    assert_eq!(s.fetch(&third.reference).await.unwrap().stage, Stage::Open);

    // A wallet top-up captures by itself.
    let topup = s.create(&Create { auto_capture: true, ..order("top-1:1", 2000, "EUR") }).await.unwrap();
    double.confirm(&topup.reference, "authorise").await;
    let topped = s.fetch(&topup.reference).await.unwrap();
    assert_eq!((topped.stage, topped.authorised, topped.captured), (Stage::Captured, 2000, 2000));

    // Every POST carried an idempotency key.
    let calls = double.calls().await;
    let unkeyed: Vec<&Value> =
        calls.iter().filter(|c| c["method"] == "POST" && c["idempotency_key"].is_null()).collect();
    assert!(unkeyed.is_empty(), "POSTs without an Idempotency-Key: {unkeyed:?}");
    assert!(calls.iter().all(|c| c["status"] != 401), "{calls:?}");
}

#[tokio::test]
async fn stripe_customer_and_stored_card() {
    let double = Double::start();
    let s = stripe(&double);
    let customer = s.customer("cust-digest-1").await.unwrap();
    assert!(customer.starts_with("cus_"), "{customer}");
    assert_eq!(s.customer("cust-digest-1").await.unwrap(), customer, "the same key makes no second customer");

    let pm = double.payment_method("visa", "4242", 8, 2031).await;
    let pm = pm["stripe"].as_str().unwrap();
    let method = s.attach(&customer, pm).await.unwrap();
    assert_eq!((method.token.as_str(), method.brand.as_str(), method.last4.as_str()), (pm, "visa", "4242"));
    assert_eq!((method.exp_month, method.exp_year), (8, 2031));

    // Paying with the stored card needs no client: authorised at once.
    let req = Create {
        customer: Some(customer.clone()),
        method: Some(method.token.clone()),
        ..order("pay-9:1", 1500, "EUR")
    };
    let paid = s.create(&req).await.unwrap();
    assert_eq!((paid.stage, paid.authorised), (Stage::Authorised, 1500), "{paid:?}");

    s.detach(&method.token).await.unwrap();
    let twice = s.detach(&method.token).await;
    assert!(matches!(twice, Err(ProviderError::Refused(_))), "{twice:?}");
    let stranger = s.attach(&customer, "pm_doesnotexist").await;
    assert!(matches!(&stranger, Err(ProviderError::Refused(m)) if m.contains("resource_missing")), "{stranger:?}");
}

#[tokio::test]
async fn stripe_create_that_timed_out_is_found_under_its_key() {
    let double = Double::start();
    double.faults(json!({"timeout_next_create": true, "hang_ms": 5000})).await;
    let s = stripe_at(&double.stripe_base(), STRIPE_KEY, Duration::from_millis(700));
    let req = order("pay-5:1", 990, "EUR");
    let first = s.create(&req).await;
    assert!(matches!(first, Err(ProviderError::Timeout)), "{first:?}");

    let found = s.find(&req.key, &req).await.unwrap().expect("the intent Stripe made");
    assert_eq!((found.stage, found.authorised), (Stage::Open, 0));
    // One intent, not two: both calls carried the key, and the double made one intent.
    let calls = double.calls().await;
    let creates = posts(&calls, "/v1/payment_intents");
    assert_eq!(creates.len(), 2, "{calls:?}");
    assert!(creates.iter().all(|c| c["idempotency_key"] == "pay-5:1"), "{creates:?}");
    let made: Vec<Value> =
        double.events().await.into_iter().filter(|e| e["type"] == "payment_intent.created").collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["reference"], found.reference.as_str());
}

#[tokio::test]
async fn failures_map_to_unavailable_and_refused() {
    let double = Double::start();
    let s = stripe(&double);
    let r = razorpay(&double);
    double.faults(json!({"fail_next": 2})).await;
    let a = s.create(&order("pay-6:1", 700, "EUR")).await;
    assert!(matches!(a, Err(ProviderError::Unavailable(_))), "{a:?}");
    let b = r.create(&order("pay-6:1", 700, "INR")).await;
    assert!(matches!(b, Err(ProviderError::Unavailable(_))), "{b:?}");
    // The next try goes through: a 500 is not remembered under the key.
    assert_eq!(s.create(&order("pay-6:1", 700, "EUR")).await.unwrap().stage, Stage::Open);
    assert_eq!(r.create(&order("pay-6:1", 700, "INR")).await.unwrap().stage, Stage::Open);

    // A wrong key is refused, and the error does not repeat it.
    let wrong = stripe_at(&double.stripe_base(), "sk_test_wrong_key_value", Duration::from_secs(5));
    let e = wrong.fetch("pi_123").await.unwrap_err();
    assert!(matches!(e, ProviderError::Refused(_)) && !e.to_string().contains("wrong_key_value"), "{e}");
    let wrong = razorpay_at(&double.razorpay_base(), "wrong_secret_value", Duration::from_secs(5));
    let e = wrong.fetch("order_123").await.unwrap_err();
    assert!(matches!(e, ProviderError::Refused(_)) && !e.to_string().contains("wrong_secret_value"), "{e}");

    // Nobody listening: unavailable.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone = stripe_at(&format!("http://127.0.0.1:{closed}"), STRIPE_KEY, Duration::from_secs(5));
    let e = gone.fetch("pi_123").await.unwrap_err();
    assert!(matches!(e, ProviderError::Unavailable(_)), "{e}");
}

#[tokio::test]
async fn stripe_webhooks_verify_as_signed_by_stripes_library() {
    let double = Double::start();
    let sink = Sink::start(Duration::ZERO).await;
    configure_webhooks(&double, &sink).await;
    let s = stripe(&double);

    let p = s.create(&order("pay-7:1", 1200, "EUR")).await.unwrap();
    double.confirm(&p.reference, "authorise").await;
    let got = sink.wait("payment_intent.amount_capturable_updated", &p.reference, 1).await;
    assert_eq!(got.path, "/stripe");
    let notice = s.verify(&got.headers, &got.body, now_s()).unwrap();
    assert_eq!(notice.reference, p.reference);
    assert!(notice.event_id.starts_with("evt_"), "{notice:?}");
    assert!(
        matches!(notice.what, Happened::Authorised { amount: 1200, charge: Some(ref c) } if c.starts_with("ch_")),
        "{notice:?}"
    );

    // A tampered body.
    let tampered = String::from_utf8(got.body.to_vec()).unwrap().replace("1200", "9200");
    assert_ne!(tampered.as_bytes(), &got.body[..]);
    assert_eq!(s.verify(&got.headers, tampered.as_bytes(), now_s()), Err(WebhookError::BadSignature));
    // No header.
    assert_eq!(s.verify(&HeaderMap::new(), &got.body, now_s()), Err(WebhookError::Unsigned));
    // Signed by Stripe's library, 400 s ago.
    let body = std::str::from_utf8(&got.body).unwrap();
    let old = double.sign_stripe(body, STRIPE_WEBHOOK_SECRET, Some(now_s() - 400)).await;
    let mut headers = HeaderMap::new();
    headers.insert("stripe-signature", old.parse().unwrap());
    assert_eq!(s.verify(&headers, &got.body, now_s()), Err(WebhookError::Stale));
    // Two v1 signatures (a secret being rolled), one of them wrong: accepted.
    let fresh = double.sign_stripe(body, STRIPE_WEBHOOK_SECRET, None).await;
    let (t, v1) = fresh.split_once(",v1=").unwrap();
    let two = format!("{t},v1={},v1={v1}", "0f".repeat(32));
    headers.insert("stripe-signature", two.parse().unwrap());
    assert!(s.verify(&headers, &got.body, now_s()).is_ok(), "{two}");
    // Signed with another secret.
    let other = double.sign_stripe(body, "whsec_someone_else", None).await;
    headers.insert("stripe-signature", other.parse().unwrap());
    assert_eq!(s.verify(&headers, &got.body, now_s()), Err(WebhookError::BadSignature));
    assert_eq!(
        signature::stripe(&fresh, &got.body, STRIPE_WEBHOOK_SECRET, now_s(), 300),
        Ok(()),
        "the pure check agrees"
    );

    // Capture and refund report themselves; every webhook the double sent was answered 200.
    let captured = s.capture(&p.reference, None, 1200, "EUR", "pay-7:capture").await.unwrap();
    let got = sink.wait("payment_intent.succeeded", &p.reference, 1).await;
    let n = s.verify(&got.headers, &got.body, now_s()).unwrap();
    assert_eq!(n.what, Happened::Captured { amount: 1200, fee: 0, charge: captured.charge.clone() });
    let refund = s.refund(&p.reference, None, 400, "pay-7:refund").await.unwrap();
    let got = sink.wait("refund.created", &p.reference, 1).await;
    let n = s.verify(&got.headers, &got.body, now_s()).unwrap();
    assert_eq!(
        (n.reference.as_str(), n.what),
        (p.reference.as_str(), Happened::Refund { refund: refund.reference.clone(), amount: 400, succeeded: true })
    );
    let got = sink.wait("charge.refunded", &p.reference, 1).await;
    assert_eq!(
        s.verify(&got.headers, &got.body, now_s()).unwrap().what,
        Happened::Refund { refund: refund.reference, amount: 400, succeeded: true }
    );

    // A declined payment.
    let d = s.create(&order("pay-8:1", 300, "EUR")).await.unwrap();
    double.confirm(&d.reference, "decline").await;
    let got = sink.wait("payment_intent.payment_failed", &d.reference, 1).await;
    assert_eq!(
        s.verify(&got.headers, &got.body, now_s()).unwrap().what,
        Happened::Failed { reason: "card_declined".into() }
    );

    let events =
        double.wait_events("every Stripe webhook answered", WAIT, |es| es.iter().all(|e| e["status"] == 200)).await;
    // A webhook sent again later carries the same event id, signed afresh.
    let first = events.iter().find(|e| e["type"] == "payment_intent.succeeded").unwrap();
    let id = first["id"].as_str().unwrap();
    assert_eq!(double.resend(id).await["status"], 200);
    let resent: Vec<Received> =
        sink.all().into_iter().filter(|r| String::from_utf8_lossy(&r.body).contains(id)).collect();
    assert_eq!(resent.len(), 2);
    let (a, b) = (
        s.verify(&resent[0].headers, &resent[0].body, now_s()).unwrap(),
        s.verify(&resent[1].headers, &resent[1].body, now_s()).unwrap(),
    );
    assert_eq!(a, b);
}

#[tokio::test]
async fn webhook_faults_duplicates_and_before_the_answer() {
    let double = Double::start();
    let sink = Sink::start(Duration::from_millis(300)).await;
    configure_webhooks(&double, &sink).await;
    let s = stripe(&double);
    let p = s.create(&order("pay-10:1", 1000, "EUR")).await.unwrap();
    double.confirm(&p.reference, "authorise").await;
    sink.wait("payment_intent.amount_capturable_updated", &p.reference, 1).await;

    // The capture's webhook is answered before the capture is.
    double.faults(json!({"webhook_before_response": true})).await;
    s.capture(&p.reference, None, 1000, "EUR", "pay-10:capture").await.unwrap();
    let events = double.events().await;
    let succeeded = events.iter().find(|e| e["type"] == "payment_intent.succeeded").expect("the capture's webhook");
    assert_eq!(succeeded["status"], 200, "answered before the capture returned: {succeeded}");

    // Every webhook twice, with the same event id.
    double.faults(json!({"reset": true, "duplicate_webhooks": true})).await;
    let r = razorpay(&double);
    let o = r.create(&order("pay-11:1", 1000, "INR")).await.unwrap();
    double.confirm(&o.reference, "authorise").await;
    let got = sink.wait("payment.authorized", &o.reference, 2).await;
    let both: Vec<Received> = sink
        .all()
        .into_iter()
        .filter(|x| x.headers.get("x-razorpay-event-id") == got.headers.get("x-razorpay-event-id"))
        .collect();
    assert_eq!(both.len(), 2);
    assert_eq!(
        r.verify(&both[0].headers, &both[0].body, now_s()).unwrap(),
        r.verify(&both[1].headers, &both[1].body, now_s()).unwrap()
    );
}

#[tokio::test]
async fn razorpay_order_from_create_to_refund_and_a_cancel() {
    let double = Double::start();
    let r = razorpay(&double);

    let req = order("pay-20:1", 5000, "INR");
    let created = r.create(&req).await.unwrap();
    assert!(created.reference.starts_with("order_"), "{created:?}");
    assert_eq!((created.stage, created.client_secret.as_deref()), (Stage::Open, Some(created.reference.as_str())));
    assert_eq!(r.find(&req.key, &req).await.unwrap().map(|f| f.reference), Some(created.reference.clone()));

    let confirmed = double.confirm(&created.reference, "authorise").await;
    let pay_id = confirmed["razorpay_payment_id"].as_str().unwrap();
    let sig = confirmed["razorpay_signature"].as_str().unwrap();
    assert!(r.checkout_signature_ok(&created.reference, pay_id, sig));
    assert!(!r.checkout_signature_ok(&created.reference, "pay_someoneelse", sig));

    let fetched = r.fetch(&created.reference).await.unwrap();
    assert_eq!((fetched.stage, fetched.authorised, fetched.charge.as_deref()), (Stage::Authorised, 5000, Some(pay_id)));
    let captured = r.capture(&created.reference, Some(pay_id), 5000, "INR", "pay-20:capture").await.unwrap();
    assert_eq!((captured.stage, captured.captured), (Stage::Captured, 5000));
    assert!(captured.fee > 0, "{captured:?}");
    // A capture retried after a timeout: Razorpay refuses it as done already; the state is answered.
    let again = r.capture(&created.reference, Some(pay_id), 5000, "INR", "pay-20:capture").await.unwrap();
    assert_eq!((again.stage, again.captured), (Stage::Captured, 5000));
    let wrong_amount = r.capture(&created.reference, Some(pay_id), 4000, "INR", "pay-20:capture-2").await;
    assert!(matches!(wrong_amount, Err(ProviderError::Refused(_))), "{wrong_amount:?}");

    let refund = r.refund(&created.reference, None, 1500, "pay-20:refund-1").await.unwrap();
    assert!(refund.reference.starts_with("rfnd_") && refund.settled, "{refund:?}");
    let after = r.fetch(&created.reference).await.unwrap();
    assert_eq!((after.stage, after.captured, after.refunded), (Stage::Captured, 5000, 1500));
    assert!(matches!(r.cancel(&created.reference, "pay-20:cancel").await, Err(ProviderError::Refused(_))));

    // An authorisation released: Razorpay has no call for it, so none is made.
    let other = r.create(&order("pay-21:1", 2500, "INR")).await.unwrap();
    double.confirm(&other.reference, "authorise").await;
    let before = double.calls().await.len();
    let cancelled = r.cancel(&other.reference, "pay-21:cancel").await.unwrap();
    assert_eq!((cancelled.stage, cancelled.captured), (Stage::Cancelled, 0));
    let calls = double.calls().await;
    assert!(calls[before..].iter().all(|c| c["method"] == "GET"), "{:?}", &calls[before..]);

    // A declined card, and a key too long for a receipt.
    let long_key = format!("pay-22:{}", "x".repeat(60));
    let third = r.create(&order(&long_key, 900, "INR")).await.unwrap();
    double.confirm(&third.reference, "decline").await;
    assert_eq!(r.fetch(&third.reference).await.unwrap().stage, Stage::Failed);
    let found = r.find(&long_key, &order(&long_key, 900, "INR")).await.unwrap().unwrap();
    assert_eq!((found.reference.as_str(), found.stage), (third.reference.as_str(), Stage::Failed));
    assert_eq!(r.find("never-made", &order("never-made", 900, "INR")).await.unwrap(), None);

    let refund_keys: Vec<Value> = double
        .calls()
        .await
        .into_iter()
        .filter(|c| c["path"].as_str().is_some_and(|p| p.ends_with("/refund")))
        .collect();
    assert!(refund_keys.iter().all(|c| c["idempotency_key"] == "pay-20:refund-1"), "{refund_keys:?}");
}

#[tokio::test]
async fn razorpay_create_that_timed_out_is_found_by_its_receipt() {
    let double = Double::start();
    double.faults(json!({"timeout_next_create": true, "hang_ms": 5000})).await;
    let r = razorpay_at(&double.razorpay_base(), RAZORPAY_KEY_SECRET, Duration::from_millis(700));
    let req = order("pay-23:1", 1200, "INR");
    let first = r.create(&req).await;
    assert!(matches!(first, Err(ProviderError::Timeout)), "{first:?}");
    let found = r.find(&req.key, &req).await.unwrap().expect("the order Razorpay made");
    assert!(found.reference.starts_with("order_"));
    let calls = double.calls().await;
    assert_eq!(posts(&calls, "/v1/orders").len(), 1, "one order, not two: {calls:?}");
    assert!(
        calls.iter().any(|c| c["path"] == "/v1/orders" && c["method"] == "GET" && c["query"] == "receipt=pay-23%3A1"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn razorpay_customer_and_saved_card() {
    let double = Double::start();
    let r = razorpay(&double);
    let customer = r.customer("cust-digest-2").await.unwrap();
    assert!(customer.starts_with("cust_"), "{customer}");
    assert_eq!(r.customer("cust-digest-2").await.unwrap(), customer, "fail_existing=0 gives the same customer back");

    let made = double.payment_method_with(json!({"brand": "mastercard", "last4": "4444", "exp_month": 3, "exp_year": 2031, "razorpay_customer": customer})).await;
    let token = made["razorpay"].as_str().unwrap();
    let method = r.attach(&customer, token).await.unwrap();
    assert_eq!(method.token, format!("{customer}/{token}"));
    assert_eq!(
        (method.brand.as_str(), method.last4.as_str(), method.exp_month, method.exp_year),
        ("mastercard", "4444", 3, 2031)
    );
    r.detach(&method.token).await.unwrap();
    assert!(matches!(r.attach(&customer, token).await, Err(ProviderError::Refused(_))));
    assert!(matches!(r.detach(token).await, Err(ProviderError::Refused(_))), "a token without its customer");
}

/// Razorpay's own Python library's verdicts: `webhook BODY SIG SECRET` or `payment ORDER PAY SIG`.
fn razorpay_python(check: &str, args: [&str; 3]) -> bool {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        let present =
            std::process::Command::new("python3").args(["-c", "import razorpay"]).status().is_ok_and(|s| s.success());
        if !present {
            let status = std::process::Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--root-user-action=ignore", "razorpay"])
                .status()
                .expect("run pip");
            assert!(status.success(), "pip install razorpay failed");
        }
    });
    let script = r#"
import os, sys, razorpay
a, b, c = os.environ["A"], os.environ["B"], os.environ["C"]
try:
    if sys.argv[1] == "webhook":
        razorpay.Utility(None).verify_webhook_signature(a, b, c)
    else:
        client = razorpay.Client(auth=(os.environ["KEY_ID"], os.environ["KEY_SECRET"]))
        client.utility.verify_payment_signature({"razorpay_order_id": a, "razorpay_payment_id": b, "razorpay_signature": c})
    print("ok")
except razorpay.errors.SignatureVerificationError:
    print("bad")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, check])
        .env("A", args[0])
        .env("B", args[1])
        .env("C", args[2])
        .env("KEY_ID", RAZORPAY_KEY_ID)
        .env("KEY_SECRET", RAZORPAY_KEY_SECRET)
        .output()
        .expect("run python3");
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        said == "ok" || said == "bad",
        "razorpay's library said {said:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    said == "ok"
}

#[tokio::test]
async fn razorpay_webhooks_and_checkout_agree_with_razorpays_library() {
    let double = Double::start();
    let sink = Sink::start(Duration::ZERO).await;
    configure_webhooks(&double, &sink).await;
    let r = razorpay(&double);

    let o = r.create(&order("pay-30:1", 3000, "INR")).await.unwrap();
    let confirmed = double.confirm(&o.reference, "authorise").await;
    let pay_id = confirmed["razorpay_payment_id"].as_str().unwrap().to_owned();
    let got = sink.wait("payment.authorized", &o.reference, 1).await;
    assert_eq!(got.path, "/razorpay");
    let n = r.verify(&got.headers, &got.body, now_s()).unwrap();
    assert_eq!(Some(n.event_id.as_str()), got.headers.get("x-razorpay-event-id").and_then(|v| v.to_str().ok()));
    assert_eq!(
        (n.reference.as_str(), n.what),
        (o.reference.as_str(), Happened::Authorised { amount: 3000, charge: Some(pay_id.clone()) })
    );

    let body = std::str::from_utf8(&got.body).unwrap();
    let sig = got.headers["x-razorpay-signature"].to_str().unwrap();
    // Both sides accept the double's webhook, and both refuse it tampered.
    assert_eq!(signature::razorpay_webhook(sig, body.as_bytes(), RAZORPAY_WEBHOOK_SECRET), Ok(()));
    assert!(razorpay_python("webhook", [body, sig, RAZORPAY_WEBHOOK_SECRET]));
    let tampered = body.replace("3000", "1");
    assert_eq!(r.verify(&got.headers, tampered.as_bytes(), now_s()), Err(WebhookError::BadSignature));
    assert!(!razorpay_python("webhook", [&tampered, sig, RAZORPAY_WEBHOOK_SECRET]));
    assert!(!razorpay_python("webhook", [body, sig, "another secret"]));
    assert_eq!(r.verify(&HeaderMap::new(), &got.body, now_s()), Err(WebhookError::Unsigned));
    let mut no_id = got.headers.clone();
    no_id.remove("x-razorpay-event-id");
    assert_eq!(r.verify(&no_id, &got.body, now_s()), Err(WebhookError::Malformed("Razorpay")));

    // The checkout's signature, as the double's checkout made it: both sides agree.
    let checkout = confirmed["razorpay_signature"].as_str().unwrap();
    assert!(r.checkout_signature_ok(&o.reference, &pay_id, checkout));
    assert!(razorpay_python("payment", [&o.reference, &pay_id, checkout]));
    assert!(!r.checkout_signature_ok(&o.reference, "pay_other", checkout));
    assert!(!razorpay_python("payment", [&o.reference, "pay_other", checkout]));

    // Capture and refund report themselves.
    r.capture(&o.reference, Some(&pay_id), 3000, "INR", "pay-30:capture").await.unwrap();
    let got = sink.wait("payment.captured", &o.reference, 1).await;
    let n = r.verify(&got.headers, &got.body, now_s()).unwrap();
    assert!(
        matches!(n.what, Happened::Captured { amount: 3000, fee, charge: Some(ref c) } if fee > 0 && *c == pay_id),
        "{n:?}"
    );
    let got = sink.wait("order.paid", &o.reference, 1).await;
    assert!(matches!(
        r.verify(&got.headers, &got.body, now_s()).unwrap().what,
        Happened::Captured { amount: 3000, .. }
    ));
    let refund = r.refund(&o.reference, Some(&pay_id), 1000, "pay-30:refund").await.unwrap();
    let got = sink.wait("refund.processed", &o.reference, 1).await;
    let n = r.verify(&got.headers, &got.body, now_s()).unwrap();
    assert_eq!(
        (n.reference.as_str(), n.what),
        (o.reference.as_str(), Happened::Refund { refund: refund.reference, amount: 1000, succeeded: true })
    );

    // A declined payment.
    let d = r.create(&order("pay-31:1", 700, "INR")).await.unwrap();
    double.confirm(&d.reference, "decline").await;
    let got = sink.wait("payment.failed", &d.reference, 1).await;
    assert_eq!(
        r.verify(&got.headers, &got.body, now_s()).unwrap().what,
        Happened::Failed { reason: "card_declined".into() }
    );
    double.wait_events("every Razorpay webhook answered", WAIT, |es| es.iter().all(|e| e["status"] == 200)).await;
}
