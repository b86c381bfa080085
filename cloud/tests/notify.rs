//! Notifications end to end: a real cloud (in this process, on SQLite or PostgreSQL) whose
//! notifier sends email to a real SMTP server (maildev on loopback) and web push to a real push
//! service (web-push-testing), driven through the HTTP API as the customer, the outlet and HQ
//! would.

mod common;
#[allow(dead_code)]
#[path = "checkout/shop.rs"]
mod shop;

use common::*;
use patty_tests::mail::MailDev;
use patty_tests::push::PushService;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shop::*;
use std::time::Duration;

const PUBLIC: &str = "https://pattypalace.example";

async fn shop_mailing_to(backend: Backend, mail: &MailDev) -> Shop {
    let smtp = mail.smtp_url();
    Shop::start_with(backend, "test", move |c| {
        c.notify.smtp_url = smtp;
        c.notify.public_url = PUBLIC.into();
        // The tests stand in front of the cloud as its proxy, to sign in "from" other addresses.
        c.http.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await
}

/// Signs Ada in as if from `address` (the proxy's `X-Forwarded-For`).
async fn sign_in_from(shop: &Shop, address: &str) {
    let r = shop
        .cloud
        .http
        .post(shop.cloud.url("/api/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({ "email": "ada@example.com", "password": "s3cret-pass" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

/// HQ's view of the messages, newest first.
async fn messages(shop: &Shop, query: &str) -> Vec<Value> {
    shop.get(&shop.admin, &format!("/api/v1/notifications?{query}")).await.as_array().unwrap().clone()
}

/// The messages once `done` holds for them.
async fn messages_until(shop: &Shop, query: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let all = messages(shop, query).await;
        if done(&all) {
            return all;
        }
        assert!(tokio::time::Instant::now() < until, "{what} within {WAIT:?}: {all:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn about_order<'a>(all: &'a [Value], order: &str, channel: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|m| m["channel"] == channel && m["vars"]["link"].as_str().is_some_and(|l| l.ends_with(order)))
        .collect()
}

/// An order placed and taken on by the outlet; its id and number.
async fn accepted_order(shop: &Shop, key: &str) -> (String, i64) {
    let order = shop.place(key, json!({ "method": "card" })).await;
    let id = order["id"].as_str().unwrap().to_owned();
    shop.order_reaches(&id, "placed").await;
    shop.outlet_moves(&id, "accepted").await;
    (id, order["number"].as_i64().unwrap())
}

/// Security messages and order news by email over SMTP and in the inbox, in the customer's
/// language; the SMTP server going away loses nothing and sends nothing twice.
async fn email_and_inbox(backend: Backend) {
    let mut mail = MailDev::start().await;
    let shop = shop_mailing_to(backend, &mail).await;

    // The shop registered ada@example.com: her verification email came over SMTP.
    let first = mail.wait_for("ada@example.com", 1, WAIT).await;
    let verify = &first[0];
    assert_eq!(verify["subject"], "Confirm your email address", "{verify}");
    let text = verify["text"].as_str().unwrap();
    let html = verify["html"].as_str().unwrap();
    let link = text.lines().find(|l| l.starts_with(PUBLIC)).unwrap_or_else(|| panic!("a link in {text}"));
    let token = link.split("token=").nth(1).unwrap().trim().to_owned();
    assert!(text.lines().any(|l| l.trim() == token), "the token on a line of its own: {text}");
    assert!(html.contains(&format!("href=\"{PUBLIC}/account/verify-email?token={token}\"")), "{html}");
    assert_eq!(verify["headers"]["x-patty-template"], "security.email_verification");
    let r = shop.cloud.send(Method::POST, None, "/api/v1/auth/verify-email", Some(&json!({ "token": token }))).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "the mailed token works");
    let events = shop.all_events().await;
    assert!(!serde_json::to_string(&events).unwrap().contains(&token), "no event carries the token");
    let sent = messages(&shop, "state=sent").await;
    assert!(sent.iter().any(|m| m["template"] == "security.email_verification"), "{sent:#?}");
    assert!(!serde_json::to_string(&sent).unwrap().contains(&token), "HQ's list shows no token");

    // In Dutch from now on: the accepted order's email has both parts, in Dutch.
    let prefs = json!({ "lang": "nl" });
    shop.cloud
        .json(shop.cloud.put(&shop.customer, "/api/v1/me/notification-preferences", &prefs).await, StatusCode::OK)
        .await;
    let (order, number) = accepted_order(&shop, "mail-1").await;
    let all = mail.wait_for("ada@example.com", 2, WAIT).await;
    let accepted =
        all.iter().find(|e| e["subject"] == format!("Damrak maakt je bestelling #{number}")).unwrap_or_else(|| {
            panic!("the Dutch acceptance among {:?}", all.iter().map(|e| &e["subject"]).collect::<Vec<_>>())
        });
    let text = accepted["text"].as_str().unwrap();
    assert!(
        text.contains("Hallo Ada Customer,")
            && text.contains(&format!("Totaal EUR {},{:02}", BURGER_PRICE / 100, BURGER_PRICE % 100)),
        "{text}"
    );
    assert!(text.contains("1 × Classic Patty"), "{text}");
    assert!(accepted["html"].as_str().unwrap().contains(&format!("<a href=\"{PUBLIC}/orders/{order}\">")));

    // The same news in the inbox, read once.
    let inbox = shop.get(&shop.customer, "/api/v1/me/notifications").await;
    assert_eq!(inbox["unread"], 1, "{inbox}");
    let item = &inbox["items"][0];
    assert_eq!(
        (item["template"].as_str(), item["title"].as_str()),
        (Some("order.accepted"), Some(format!("Damrak maakt je bestelling #{number}").as_str()))
    );
    let read = shop
        .cloud
        .json(
            shop.cloud
                .post(
                    &shop.customer,
                    &format!("/api/v1/me/notifications/{}/read", item["id"].as_str().unwrap()),
                    &json!({}),
                )
                .await,
            StatusCode::OK,
        )
        .await;
    assert_eq!((read["marked"].as_u64(), read["unread"].as_i64()), (Some(1), Some(0)));
    let (status, body) = shop
        .call(
            Method::POST,
            &shop.staff,
            &format!("/api/v1/me/notifications/{}/read", item["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not someone else's: {body}");

    // The SMTP server goes away: the next message waits, retried, and goes once it is back.
    mail.stop();
    let (order, number) = accepted_order(&shop, "mail-2").await;
    let waiting = messages_until(&shop, "state=queued", "the email queued after a failed try", |all| {
        about_order(all, &order, "email").iter().any(|m| m["attempts"].as_i64() >= Some(1))
    })
    .await;
    let m = about_order(&waiting, &order, "email")[0];
    assert!(m["reason"].as_str().unwrap().contains("SMTP"), "{m}");
    mail.start_again().await;
    let after = mail.wait_for("ada@example.com", 1, WAIT).await;
    assert_eq!(after[0]["subject"], format!("Damrak maakt je bestelling #{number}"));
    messages_until(&shop, "", "the queued email sent", |all| {
        about_order(all, &order, "email").iter().all(|m| m["state"] == "sent")
    })
    .await;
    assert_eq!(mail.wait_for("ada@example.com", 1, WAIT).await.len(), 1, "sent once");
    shop.cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn email_and_inbox_on_sqlite() {
    email_and_inbox(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn email_and_inbox_on_postgres() {
    email_and_inbox(Backend::Postgres).await;
}

async fn put_prefs(shop: &Shop, body: Value) -> (StatusCode, Value) {
    shop.call(Method::PUT, &shop.customer, "/api/v1/me/notification-preferences", Some(&body)).await
}

/// Preferences decide the channels; quiet hours hold a message until they end; bad preferences
/// and bad phone numbers are refused with the reason; the signed unsubscribe link works without
/// signing in and a forged one does not.
#[tokio::test(flavor = "multi_thread")]
async fn preferences_quiet_hours_and_unsubscribing() {
    let mail = MailDev::start().await;
    let shop = shop_mailing_to(Backend::Sqlite, &mail).await;

    // Bad preferences: 400 with the shared body, nothing kept.
    for (bad, says) in [
        (json!({ "lang": "fr" }), "lang"),
        (json!({ "time_zone": "Mars/Olympus" }), "time_zone"),
        (json!({ "quiet_hours": { "from": "25:00", "to": "07:00" } }), "HH:MM"),
        (json!({ "channels": { "security": [] } }), "security"),
        (json!({ "channels": { "orders": ["pigeon"] } }), "pigeon"),
    ] {
        let (status, body) = put_prefs(&shop, bad.clone()).await;
        assert!(matches!(status.as_u16(), 400 | 422), "{bad}: {status} {body}");
        assert!(body["message"].as_str().unwrap().contains(says) && body["code"].is_string(), "{bad}: {body}");
    }
    let kept = shop.get(&shop.customer, "/api/v1/me/notification-preferences").await;
    assert_eq!(kept["lang"], Value::Null, "nothing kept: {kept}");
    assert_eq!(kept["channels"]["orders"], json!(["email", "push", "in_app"]));
    let (status, body) =
        shop.call(Method::PATCH, &shop.customer, "/api/v1/me", Some(&json!({ "phone": "0612345678" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a number without its country code: {body}");

    // Order news in the inbox only: the email is recorded as suppressed, with the reason.
    let (status, _) = put_prefs(&shop, json!({ "channels": { "orders": ["in_app"] } })).await;
    assert_eq!(status, StatusCode::OK);
    let (order, _) = accepted_order(&shop, "prefs-1").await;
    let all =
        messages_until(&shop, "", "the order's messages", |all| about_order(all, &order, "in_app").len() == 1).await;
    let email = about_order(&all, &order, "email");
    assert_eq!(email.len(), 1, "{all:#?}");
    assert_eq!(email[0]["state"], "suppressed");
    assert!(email[0]["reason"].as_str().unwrap().contains("email is off"), "{}", email[0]);

    // Quiet hours now, in Amsterdam: the email waits for their end.
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Amsterdam);
    let from = (now - chrono::Duration::hours(1)).format("%H:%M").to_string();
    let to = (now + chrono::Duration::hours(2)).format("%H:%M").to_string();
    let (status, body) =
        put_prefs(&shop, json!({ "time_zone": "Europe/Amsterdam", "quiet_hours": { "from": from, "to": to } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (order, _) = accepted_order(&shop, "prefs-2").await;
    let all = messages_until(&shop, "", "the held email", |all| about_order(all, &order, "email").len() == 1).await;
    let held = about_order(&all, &order, "email")[0];
    assert_eq!(held["state"], "queued", "{held}");
    let due = held["due_ms"].as_i64().unwrap();
    let wanted = (now + chrono::Duration::hours(2)).timestamp_millis();
    assert!((due - wanted).abs() < 61_000, "due at the end of quiet hours: {due} vs {wanted}");
    assert_eq!(about_order(&all, &order, "in_app")[0]["state"], "delivered", "the inbox is never quiet");

    // The unsubscribe link: a forged one is refused; the signed one turns marketing off.
    let me = shop.get(&shop.customer, "/api/v1/auth/whoami").await;
    let user = me["id"].as_str().unwrap().to_owned();
    let forged = format!("/api/v1/notifications/unsubscribe?u={user}&c=marketing&s=00");
    let r = shop.cloud.send(Method::GET, None, &forged, None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let key = std::fs::read(shop.cloud.dir.path().join("links.key")).unwrap();
    let signature = patty_service::secret::mac(&key, format!("unsubscribe:{user}:marketing").as_bytes());
    let link = format!("/api/v1/notifications/unsubscribe?u={user}&c=marketing&s={signature}");
    let r = shop.cloud.send(Method::GET, None, &link, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("You are unsubscribed"));
    let prefs = shop.get(&shop.customer, "/api/v1/me/notification-preferences").await;
    assert_eq!(prefs["channels"]["marketing"], json!(["in_app"]), "{prefs}");
    assert_eq!(prefs["time_zone"], "Europe/Amsterdam", "the rest kept");

    // A sign-in from somewhere new is a security message: sent at once, quiet hours or not.
    sign_in_from(&shop, "198.51.100.4").await;
    sign_in_from(&shop, "198.51.100.4").await;
    sign_in_from(&shop, "203.0.113.7").await;
    sign_in_from(&shop, "203.0.113.7").await;
    let warned = mail.wait_for("ada@example.com", 2, WAIT).await;
    let warned: Vec<&Value> = warned.iter().filter(|e| e["subject"] == "A new sign-in to your account").collect();
    assert_eq!(warned.len(), 1, "once, for the one new address after the first: {warned:?}");
    assert!(warned[0]["text"].as_str().unwrap().contains("(203.0.113.7)"), "{}", warned[0]);
    shop.cloud.stop().await;
}

/// Web push through a real push service: the customer's browser subscribes with the cloud's
/// VAPID key, the order's news arrives decrypted; a subscription the push service says is gone
/// is removed.
#[tokio::test(flavor = "multi_thread")]
async fn web_push_reaches_the_browser_and_a_gone_subscription_is_removed() {
    let push = PushService::start();
    let shop = Shop::start_with(Backend::Sqlite, "test", |c| c.notify.public_url = PUBLIC.into()).await;
    let key =
        shop.get(&shop.customer, "/api/v1/notifications/push-key").await["public_key"].as_str().unwrap().to_owned();
    let (subscription, client) = push.subscribe(&key).await;
    let r = shop.cloud.post(&shop.customer, "/api/v1/me/push-subscriptions", &subscription).await;
    let kept = shop.cloud.json(r, StatusCode::CREATED).await;
    let bad = json!({ "endpoint": "not a url", "keys": subscription["keys"] });
    let (status, body) = shop.call(Method::POST, &shop.customer, "/api/v1/me/push-subscriptions", Some(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (order, number) = accepted_order(&shop, "push-1").await;
    let got = push.wait_notifications(&client, 1, WAIT).await;
    assert_eq!(got[0]["title"], format!("Damrak is making your order #{number}"), "{got:?}");
    assert_eq!(got[0]["url"], format!("{PUBLIC}/orders/{order}"));
    assert_eq!(got[0]["tag"], "order.accepted");

    push.expire(&client).await;
    let (order, _) = accepted_order(&shop, "push-2").await;
    let all = messages_until(&shop, "state=failed", "the push to a gone subscription", |all| {
        about_order(all, &order, "push").len() == 1
    })
    .await;
    assert!(about_order(&all, &order, "push")[0]["reason"].as_str().unwrap().contains("gone"));
    let left = shop.get(&shop.customer, "/api/v1/me/push-subscriptions").await;
    assert_eq!(left, json!([]), "removed: {left} (was {kept})");
    shop.cloud.stop().await;
}

/// A message whose template cannot be rendered is a dead letter with the reason, and the notifier
/// goes on; one that failed every try is a dead letter HQ sends again once its cause is gone.
#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_kept_with_their_reason_and_hq_sends_them_again() {
    let mail = MailDev::start().await;
    let smtp = mail.smtp_url();
    let shop = Shop::start_with(Backend::Sqlite, "test", move |c| {
        c.notify.smtp_url = smtp;
        c.notify.public_url = PUBLIC.into();
        c.notify.max_attempts = 2;
    })
    .await;
    // A second handle on the same database writes a message missing its hand-over code.
    let mut config = patty_cloud::infra::config::Config::for_data_dir(shop.cloud.dir.path());
    config.mqtt.embedded = false;
    let state = patty_cloud::app::open(config).await.unwrap();
    let user = shop.get(&shop.customer, "/api/v1/auth/whoami").await;
    let user = user["id"].as_str().unwrap().to_owned();
    let row = patty_cloud::notify::store::NewMessage {
        id: "ntf_broken".into(),
        dedup: "test:broken".into(),
        event_id: None,
        recipient: user,
        channel: patty_cloud::notify::rules::Via::Email,
        template: "order.out_for_delivery".into(),
        lang: "en".into(),
        address: Some("ada@example.com".into()),
        vars: json!({ "outlet": "Damrak", "order_no": "7", "link": "https://pattypalace.example/track/x" }),
        secret: None,
        state: "queued",
        reason: None,
        due_ms: 0,
    };
    let mut conn = state.shared.db.pool.acquire().await.unwrap();
    assert!(patty_cloud::notify::store::insert(&mut conn, &row, 0).await.unwrap());
    drop(conn);
    let dead =
        messages_until(&shop, "state=failed", "the dead letter", |all| all.iter().any(|m| m["id"] == "ntf_broken"))
            .await;
    let m = dead.iter().find(|m| m["id"] == "ntf_broken").unwrap();
    assert!(m["reason"].as_str().unwrap().contains("\"code\""), "the reason names the missing value: {m}");
    // HQ sends a dead letter again once its cause is gone: here the SMTP server, away for every try.
    let mut mail = mail;
    mail.stop();
    let (order, number) = accepted_order(&shop, "dead-smtp").await;
    let dead =
        messages_until(&shop, "state=failed", "the email given up", |all| about_order(all, &order, "email").len() == 1)
            .await;
    let m = about_order(&dead, &order, "email")[0].clone();
    assert_eq!(m["attempts"], 2, "notify.max_attempts tries: {m}");
    mail.start_again().await;
    let id = m["id"].as_str().unwrap();
    let (status, _) = shop.call(Method::POST, &shop.admin, &format!("/api/v1/notifications/{id}/retry"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let got = mail.wait_for("ada@example.com", 1, WAIT).await;
    assert_eq!(got[0]["subject"], format!("Damrak is making your order #{number}"));
    let (status, body) = shop.call(Method::POST, &shop.staff, "/api/v1/notifications/ntf_broken/retry", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "HQ only: {body}");
    let (status, _) = shop.call(Method::POST, &shop.admin, "/api/v1/notifications/ntf_nothing/retry", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The notifier went on: the next order's email is sent.
    let (order, _) = accepted_order(&shop, "after-dead").await;
    messages_until(&shop, "state=sent", "the next email", |all| about_order(all, &order, "email").len() == 1).await;
    shop.cloud.stop().await;
}

/// SMS through a real Kannel: a customer who wants order news by SMS gets it at the number they
/// saved, and the SMS centre receives exactly that text.
#[tokio::test(flavor = "multi_thread")]
async fn sms_through_kannel_reaches_the_sms_centre() {
    let gateway = patty_tests::sms::Kannel::start();
    let (username, password) = gateway.credentials();
    let url = gateway.sendsms_url();
    let shop = Shop::start_with(Backend::Sqlite, "test", move |c| {
        c.notify.public_url = PUBLIC.into();
        c.notify.sms.gateway = "kannel".into();
        c.notify.sms.kannel.url = url;
        c.notify.sms.kannel.username = username.into();
        c.notify.sms.kannel.password = password.into();
        c.notify.sms.kannel.from = "PattyPalace".into();
        c.notify.sms.kannel.max_parts = patty_tests::sms::MAX_PARTS;
    })
    .await;
    let r = shop
        .cloud
        .send(Method::PATCH, Some(&shop.customer), "/api/v1/me", Some(&json!({ "phone": "+31 6 1234 5678" })))
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (status, body) = put_prefs(&shop, json!({ "channels": { "orders": ["sms", "in_app"] } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (order, number) = accepted_order(&shop, "sms-1").await;
    let got = gateway.wait_received(1, WAIT);
    let sms = got.iter().find(|m| m.text.contains(&format!("#{number}"))).unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!((sms.from.as_str(), sms.to.as_str()), ("PattyPalace", "+31612345678"), "{sms:?}");
    assert!(
        sms.text.contains("Damrak accepted your order") && sms.text.contains(&format!("{PUBLIC}/orders/{order}")),
        "{sms:?}"
    );
    messages_until(&shop, "state=sent", "the SMS recorded sent", |all| about_order(all, &order, "sms").len() == 1)
        .await;
    shop.cloud.stop().await;
}

/// An outlet not heard from for longer than `notify.offline_after_secs` is reported to its
/// manager and to HQ, once per silence: heard from again and silent again, it is reported again.
#[tokio::test(flavor = "multi_thread")]
async fn an_outlet_silent_too_long_is_reported_once_per_silence() {
    let shop = Shop::start_with(Backend::Sqlite, "test", |c| c.notify.offline_after_secs = 1).await;
    let url = format!("sqlite://{}?mode=rw", shop.cloud.dir.path().join("cloud.db").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    // The outlet's sync cursor, as its first upload leaves it: last seen five seconds ago.
    let seen = chrono::Utc::now().timestamp_millis() - 5_000;
    sqlx::query("INSERT INTO sync_cursors (origin, applied_through, last_hlc, seen_ms) VALUES ($1, 0, 0, $2)")
        .bind(OUTLET)
        .bind(seen)
        .execute(&mut db)
        .await
        .unwrap();
    let offline = |inbox: &Value| {
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["template"] == "outlet.offline")
            .cloned()
            .collect::<Vec<_>>()
    };
    let until = tokio::time::Instant::now() + WAIT;
    let reported = loop {
        let inbox = shop.get(&shop.manager, "/api/v1/me/notifications").await;
        if !offline(&inbox).is_empty() {
            break offline(&inbox);
        }
        assert!(tokio::time::Instant::now() < until, "the manager was not told: {inbox}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reported[0]["title"], "Damrak has been offline for 0 minutes", "{reported:?}");
    let until = tokio::time::Instant::now() + WAIT;
    while offline(&shop.get(&shop.admin, "/api/v1/me/notifications").await).is_empty() {
        assert!(tokio::time::Instant::now() < until, "HQ was not told");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several checks later, still one report for this silence, to each.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(offline(&shop.get(&shop.manager, "/api/v1/me/notifications").await).len(), 1);
    assert_eq!(offline(&shop.get(&shop.admin, "/api/v1/me/notifications").await).len(), 1);
    // Heard from, then silent again: a second report.
    sqlx::query("UPDATE sync_cursors SET seen_ms = $1 WHERE origin = $2")
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(OUTLET)
        .execute(&mut db)
        .await
        .unwrap();
    let until = tokio::time::Instant::now() + WAIT;
    while offline(&shop.get(&shop.manager, "/api/v1/me/notifications").await).len() < 2 {
        assert!(tokio::time::Instant::now() < until, "the second silence was not reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shop.cloud.stop().await;
}

/// The customer's order news in the inbox: accepted, a refund (with its amount), and an order the
/// outlet cancelled; a driver-less order has no delivery news.
#[tokio::test(flavor = "multi_thread")]
async fn order_news_reaches_the_inbox() {
    let shop = Shop::start_with(Backend::Sqlite, "test", |c| c.notify.public_url = PUBLIC.into()).await;
    let (order, number) = accepted_order(&shop, "news-1").await;
    let taken = shop.order_reaches(&order, "accepted").await;
    let pay =
        taken["tenders"][0]["kind"]["online"]["payment_id"].as_str().unwrap_or_else(|| panic!("{taken}")).to_owned();
    shop.payment_until(&pay, "captured", |p| p["state"] == "captured").await;
    let (status, body) = shop.refund(&pay, 250, "card").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cancelled = shop.place("news-2", json!({ "method": "card" })).await;
    let other = cancelled["id"].as_str().unwrap().to_owned();
    shop.order_reaches(&other, "placed").await;
    let path = format!("/api/v1/outlets/{OUTLET}/orders/{other}/status");
    let body = json!({ "status": "cancelled", "reason": "out of buns" });
    shop.cloud.json(shop.cloud.post(&shop.staff, &path, &body).await, StatusCode::OK).await;
    let until = tokio::time::Instant::now() + WAIT;
    let inbox = loop {
        let inbox = shop.get(&shop.customer, "/api/v1/me/notifications").await;
        let templates: Vec<&str> =
            inbox["items"].as_array().unwrap().iter().map(|i| i["template"].as_str().unwrap()).collect();
        if ["order.accepted", "payment.refunded", "order.refused"].iter().all(|t| templates.contains(t)) {
            break inbox;
        }
        assert!(tokio::time::Instant::now() < until, "the order news: {inbox}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let item = |t: &str| inbox["items"].as_array().unwrap().iter().find(|i| i["template"] == t).unwrap().clone();
    let refund = item("payment.refunded");
    assert_eq!(refund["title"], "EUR 2.50 is on its way back to you", "{refund}");
    assert!(refund["body"].as_str().unwrap().contains(&format!("order #{number}")), "{refund}");
    let refused = item("order.refused");
    assert!(refused["link"].as_str().unwrap().ends_with(&other), "{refused}");
    assert_eq!(inbox["unread"], 3, "{inbox}");
    shop.cloud.stop().await;
}
