//! The web push channel against a real push service run locally (`web-push-testing`, from
//! `tests/notify-servers`): it checks each push's VAPID token against the key the subscription
//! was made with, decrypts the `aes128gcm` body with the subscription's private key, and hands
//! back the plaintext, so what a service worker would read is asserted here byte for byte.

use patty_cloud::notify::channel::push::{MAX_PLAINTEXT, VapidKey, WebPush};
use patty_cloud::notify::channel::{Channel, Outgoing, SendError};
use patty_tests::push::PushService;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn channel(key: VapidKey) -> Arc<dyn Channel> {
    let http = reqwest::Client::new();
    Arc::new(WebPush::new(key, "mailto:ops@pattypalace.example", http, Duration::from_secs(5)).expect("a channel"))
}

fn message(id: &str, to: &Value, text: &str) -> Outgoing {
    Outgoing {
        id: id.to_owned(),
        to: to.to_string(),
        subject: "Your order is on its way".into(),
        text: text.to_owned(),
        html: Some("<p>not for push</p>".into()),
        unsubscribe: None,
        link: Some("https://pattypalace.example/orders/o-17".into()),
        template: "order.dispatched".into(),
    }
}

#[tokio::test]
async fn a_push_arrives_decrypted_with_its_title_body_link_and_tag() {
    let service = PushService::start();
    let key = VapidKey::generate();
    let (subscription, hash) = service.subscribe(&key.public_base64url()).await;
    let push = channel(key);
    assert_eq!(push.name(), "push");

    let first = message("m-1", &subscription, "Driver Sam is 5 minutes away — 2 × Double Patty 🍔");
    push.send(&first).await.expect("the push service takes it");
    let got = service.wait_notifications(&hash, 1, WAIT).await;
    assert_eq!(
        got,
        vec![json!({
            "id": "m-1",
            "title": "Your order is on its way",
            "body": "Driver Sam is 5 minutes away — 2 × Double Patty 🍔",
            "url": "https://pattypalace.example/orders/o-17",
            "tag": "order.dispatched",
        })]
    );

    // A body too long for one push is cut to fit, and still decrypts.
    let mut long = message("m-2", &subscription, &"Extra pickles, no onions. ".repeat(400));
    long.link = None;
    push.send(&long).await.expect("the long one is taken too");
    let got = service.wait_notifications(&hash, 2, WAIT).await;
    let second = &got[1];
    assert_eq!(
        (&second["id"], &second["url"], &second["tag"]),
        (&json!("m-2"), &Value::Null, &json!("order.dispatched"))
    );
    let body = second["body"].as_str().expect("a body");
    assert!(body.starts_with("Extra pickles, no onions. Extra") && body.ends_with('…'), "{body}");
    let size = second.to_string().len();
    assert!(size <= MAX_PLAINTEXT && size > MAX_PLAINTEXT - 10, "{size} bytes");
}

#[tokio::test]
async fn an_expired_subscription_is_gone() {
    let service = PushService::start();
    let key = VapidKey::generate();
    let (subscription, hash) = service.subscribe(&key.public_base64url()).await;
    let push = channel(key);
    push.send(&message("m-1", &subscription, "before")).await.expect("delivered while subscribed");
    service.expire(&hash).await;
    let err = push.send(&message("m-2", &subscription, "after")).await.expect_err("expired");
    let SendError::Gone(why) = err else { panic!("expected Gone, got {err:?}") };
    assert!(why.contains("410"), "{why}");
    let got = service.notifications(&hash).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["body"], "before");
}

#[tokio::test]
async fn a_malformed_subscription_is_refused_and_nothing_is_sent() {
    let service = PushService::start();
    let key = VapidKey::generate();
    let (subscription, hash) = service.subscribe(&key.public_base64url()).await;
    let auth = subscription["keys"]["auth"].as_str().expect("an auth secret").to_owned();
    let push = channel(key);
    let mut short_key = subscription.clone();
    short_key["keys"]["p256dh"] = json!("BCVxsr7N_eNgVRqvHtD0zTZsEc6");
    let mut short_auth = subscription.clone();
    short_auth["keys"]["auth"] = json!("AAAA");
    let mut no_keys = subscription.clone();
    no_keys["keys"] = json!({});
    for to in [json!("not a subscription"), no_keys, short_key, short_auth, json!({ "endpoint": "mailto:x@y.z" })] {
        let mut m = message("m-1", &to, "hello");
        if to.is_string() {
            m.to = "{not json".into();
        }
        let err = push.send(&m).await.expect_err("malformed");
        let SendError::Refused(why) = err else { panic!("expected Refused for {to}, got {err:?}") };
        assert!(!why.contains(&auth), "the auth secret is in {why}");
    }
    assert_eq!(service.notifications(&hash).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_push_signed_with_another_key_is_refused_with_the_status() {
    let service = PushService::start();
    let (subscription, hash) = service.subscribe(&VapidKey::generate().public_base64url()).await;
    let auth = subscription["keys"]["auth"].as_str().expect("an auth secret").to_owned();
    let err = channel(VapidKey::generate()).send(&message("m-1", &subscription, "hello")).await.expect_err("wrong key");
    let SendError::Refused(why) = err else { panic!("expected Refused, got {err:?}") };
    assert!(why.contains("400"), "{why}");
    assert!(!why.contains(&auth) && !why.contains(&hash), "{why}");
    assert_eq!(service.notifications(&hash).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_push_service_that_is_away_is_worth_a_retry() {
    let key = VapidKey::generate();
    // A subscription shaped like a real one, its endpoint on a port nobody listens on.
    let port = patty_tests::chain::free_port();
    let ua = VapidKey::generate();
    let to = json!({
        "endpoint": format!("http://127.0.0.1:{port}/notify/abc"),
        "keys": { "p256dh": ua.public_base64url(), "auth": "BTBZMqHH6r4Tts7J_aSIgg" },
    });
    let err = channel(key).send(&message("m-1", &to, "hello")).await.expect_err("nobody listens");
    let SendError::Retry(why) = err else { panic!("expected Retry, got {err:?}") };
    assert!(why.contains(&format!("127.0.0.1:{port}")) && !why.contains("/notify/abc"), "{why}");
}

#[test]
fn the_subject_must_be_a_contact() {
    let (http, t) = (reqwest::Client::new(), Duration::from_secs(5));
    assert!(WebPush::new(VapidKey::generate(), "mailto:ops@example.com", http.clone(), t).is_ok());
    assert!(WebPush::new(VapidKey::generate(), "https://example.com/contact", http.clone(), t).is_ok());
    assert!(WebPush::new(VapidKey::generate(), "ops@example.com", http.clone(), t).is_err());
    assert!(WebPush::new(VapidKey::generate(), "mailto:", http, t).is_err());
}
