//! Notifier benchmarks on PostgreSQL, each next to a baseline measured in the same run, against
//! the local test servers (maildev for SMTP, web-push-testing for web push):
//! - `email`: emails per second through the notifier: N `order.accepted` emails queued in the
//!   cloud's database from a second handle on it (the last as a dead letter HQ sends again, which
//!   wakes the notifier), timed until all are `sent` (claimed, rendered, sent over SMTP, settled);
//!   baseline: the same multipart emails sent by a plain `lettre` loop to the same maildev, with
//!   the notifier's concurrency (`notify.parallel`); for scale, lettre on as many SMTP connections
//!   kept open.
//! - `push`: web pushes per second through the notifier to a subscription made through the API;
//!   baseline: the same `WebPush` channel called directly, with the same concurrency.
//! - `delay`: an order's acceptance to its email, one order after another: from the accept
//!   request returning (the `order.accepted` event is committed) until the email is `sent` in the
//!   cloud (the SMTP server took it); baseline: from the same moment until the event is on
//!   `GET /api/v1/events` (the relay's delay, which every follower of the log pays first); for
//!   scale, one plain lettre send after another.
//!
//! `cargo bench -p patty-cloud --bench notify [email|push|delay]`. Needs PostgreSQL
//! (`PATTY_TEST_POSTGRES`) and Node (the test servers); PATTY_BENCH_EMAILS and PATTY_BENCH_PUSHES
//! set the counts (default 500 each), PATTY_BENCH_ORDERS the orders of `delay` (default 100).

use futures::StreamExt;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use patty_cloud::app::state::AppState;
use patty_cloud::infra::config::Config;
use patty_cloud::notify::channel::push::{VapidKey, WebPush};
use patty_cloud::notify::channel::{Channel, Outgoing, email};
use patty_cloud::notify::rules::Via;
use patty_cloud::notify::store::{self, NewMessage};
use patty_cloud::notify::templates;
use patty_tests::bench::{Figures, env_or};
use patty_tests::mail::MailDev;
use patty_tests::postgres::postgres_schema;
use patty_tests::push::PushService;
use serde_json::{Value, json};
use sqlx::Row;
use std::time::{Duration, Instant};

const OUTLET: &str = "01900000-0000-7000-8000-00000000c002";
const PUBLIC: &str = "https://pattypalace.example";
const TEMPLATE: &str = "order.accepted";
/// How long any one wait may take before the bench gives up.
const WAIT: Duration = Duration::from_secs(300);

struct Bench {
    base: String,
    http: reqwest::Client,
    admin: String,
    staff: String,
    /// The customers' tokens and user ids: 0 orders (email only), 1 is subscribed to push.
    customers: Vec<(String, String)>,
    item: Value,
    /// A second handle on the cloud's database, as a second replica would have.
    handle: AppState,
    /// The notifier's `notify.parallel`.
    parallel: usize,
    from: lettre::message::Mailbox,
}

impl Bench {
    async fn call(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        self.call(token, reqwest::Method::GET, path, None).await
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        self.call(token, reqwest::Method::POST, path, Some(body)).await
    }

    /// Messages on `via` sent, failed and queued, from the database.
    async fn counts(&self, via: Via) -> (i64, i64, i64) {
        let all = store::counts(&self.handle.shared.db).await.unwrap();
        let n = |s: &str| all.iter().filter(|(c, st, _)| c == via.as_str() && st == s).map(|r| r.2).sum::<i64>();
        (n("sent"), n("failed"), n("queued"))
    }
}

async fn start(mail: &MailDev) -> (Bench, patty_tests::fixtures::Served) {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut config = Config::for_data_dir(dir);
    config.database.url = postgres_schema().await;
    config.database.max_connections = 32;
    config.http.rate_per_minute = 10_000_000;
    config.http.rate_burst = 1_000_000;
    config.http.sign_in_per_address_per_minute = 1_000_000;
    config.http.sign_in_per_account_per_minute = 1_000_000;
    config.notify.smtp_url = mail.smtp_url();
    config.notify.public_url = PUBLIC.into();
    let mut second = config.clone();
    second.mqtt.embedded = false;
    config.auth.bootstrap_admin = "hq@bench.example:bench-password".into();
    let parallel = config.notify.parallel;
    let from = config.mail.from.parse().unwrap();
    let server = patty_tests::fixtures::Served::start(|l, stop| patty_cloud::run(config, l, stop)).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let handle = patty_cloud::app::open(second).await.unwrap();
    let admin = patty_tests::fixtures::login(&http, &base, "hq@bench.example", "bench-password").await;
    let mut b =
        Bench { base, http, admin, staff: String::new(), customers: vec![], item: Value::Null, handle, parallel, from };
    let admin = b.admin.clone();
    b.post(&admin, "/api/v1/outlets", patty_tests::fixtures::outlet(OUTLET)).await;
    let seed: Value = serde_json::from_str(include_str!("../../outlet-edge/sample/seed.json")).unwrap();
    b.call(&admin, reqwest::Method::PUT, "/api/v1/catalog/draft", Some(json!({ "menu": seed["menu"] }))).await;
    b.post(&admin, "/api/v1/catalog/publish", json!({})).await;
    b.item =
        seed["menu"]["items"].as_array().unwrap().iter().find(|i| i["name"] == "Cheese Palace").unwrap()["id"].clone();
    let staff = json!({ "email": "till@bench.example", "password": "bench-password", "name": "Till",
                        "role": "outlet_staff", "outlet_id": OUTLET });
    b.post(&admin, "/api/v1/users", staff).await;
    b.staff = patty_tests::fixtures::login(&b.http, &b.base, "till@bench.example", "bench-password").await;
    for c in 0..2 {
        let body = json!({ "email": format!("k{c}@bench.example"), "password": "bench-password", "name": "K" });
        let r: Value = b
            .http
            .post(format!("{}/api/v1/auth/register", b.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = r["access_token"].as_str().unwrap().to_owned();
        let id = b.get(&token, "/api/v1/auth/whoami").await["id"].as_str().unwrap().to_owned();
        b.customers.push((token, id));
    }
    // The registrations' verification emails go first, so the queue is empty when timing starts.
    let until = Instant::now() + WAIT;
    while b.counts(Via::Email).await.0 < 2 || b.counts(Via::Email).await.2 > 0 {
        assert!(Instant::now() < until, "the verification emails were not sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (b, server)
}

/// `order.accepted` rendered from the sample values, to `to`, as message `id`.
fn outgoing(id: String, to: String, via: Via) -> Outgoing {
    let vars = templates::sample_vars();
    let r = templates::render(TEMPLATE, "en", &vars, None).unwrap();
    Outgoing {
        id,
        to,
        subject: r.subject,
        text: r.text,
        html: (via == Via::Email).then_some(r.html),
        unsubscribe: None,
        link: vars.get("link").cloned(),
        template: TEMPLATE.into(),
    }
}

/// Writes `n` messages on `via` into the cloud's database (one transaction), `address(i)` each,
/// all due now, and has HQ send the last one (written as a dead letter) again, which wakes the
/// notifier at once; returns when that was asked (and the wall clock then, Unix ms).
async fn queue(b: &Bench, via: Via, tag: &str, n: usize, address: impl Fn(usize) -> String) -> (Instant, i64) {
    let now = patty_cloud::infra::db::now_ms();
    let vars = serde_json::to_value(templates::sample_vars()).unwrap();
    let mut tx = b.handle.shared.db.pool.begin().await.unwrap();
    for i in 0..n {
        let last = i + 1 == n;
        let row = NewMessage {
            id: format!("ntf_bench_{tag}_{i}"),
            dedup: format!("bench:{tag}:{i}"),
            event_id: None,
            recipient: b.customers[0].1.clone(),
            channel: via,
            template: TEMPLATE.into(),
            lang: "en".into(),
            address: Some(address(i)),
            vars: vars.clone(),
            secret: None,
            state: if last { "failed" } else { "queued" },
            reason: last.then(|| "the kick".to_owned()),
            due_ms: now,
        };
        assert!(store::insert(&mut tx, &row, now).await.unwrap());
    }
    tx.commit().await.unwrap();
    let (start, wall) = (Instant::now(), patty_cloud::infra::db::now_ms());
    let r = b
        .http
        .post(format!("{}/api/v1/notifications/ntf_bench_{tag}_{}/retry", b.base, n - 1))
        .bearer_auth(&b.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    (start, wall)
}

/// When the first and the last of the messages `tag` were sent, ms after `wall`.
async fn spread(b: &Bench, tag: &str, wall: i64) -> (i64, i64) {
    let r = sqlx::query("SELECT MIN(sent_ms) AS a, MAX(sent_ms) AS z FROM notifications WHERE dedup LIKE $1")
        .bind(format!("bench:{tag}:%"))
        .fetch_one(&b.handle.shared.db.pool)
        .await
        .unwrap();
    (r.try_get::<i64, _>("a").unwrap() - wall, r.try_get::<i64, _>("z").unwrap() - wall)
}

/// Waits until `n` more messages on `via` than `before` are sent; per second since `start`.
async fn until_sent(b: &Bench, via: Via, before: (i64, i64, i64), n: usize, start: Instant) -> f64 {
    loop {
        let (sent, failed, _) = b.counts(via).await;
        if sent >= before.0 + n as i64 {
            return n as f64 / start.elapsed().as_secs_f64();
        }
        if failed > before.1 {
            let dead = store::list(&b.handle.shared.db, Some("failed"), None, 3).await.unwrap();
            panic!("{} {} messages failed: {dead:#?}", failed - before.1, via.as_str());
        }
        assert!(start.elapsed() < WAIT, "{} of {n} sent within {WAIT:?}", sent - before.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `messages` through `channel`, `parallel` at once; per second.
async fn direct(channel: &dyn Channel, messages: Vec<Outgoing>, parallel: usize) -> f64 {
    let n = messages.len();
    let start = Instant::now();
    futures::stream::iter(messages)
        .for_each_concurrent(parallel, |m| async move { channel.send(&m).await.unwrap() })
        .await;
    n as f64 / start.elapsed().as_secs_f64()
}

/// A plain lettre transport to maildev, as a `Channel`: the same multipart email the notifier
/// builds, sent the way a lettre example would.
struct PlainLettre {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Channel for PlainLettre {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send<'a>(
        &'a self,
        m: &'a Outgoing,
    ) -> futures::future::BoxFuture<'a, Result<(), patty_cloud::notify::channel::SendError>> {
        Box::pin(async move {
            let email = email::build(&self.from, m)?;
            self.transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|e| patty_cloud::notify::channel::SendError::Retry(e.to_string()))
        })
    }
}

/// The same emails through `parallel` SMTP connections kept open (lettre's `AsyncSmtpConnection`,
/// one per sender, each taking the next email); per second.
async fn kept_open(b: &Bench, port: u16, messages: Vec<Outgoing>) -> f64 {
    use lettre::transport::smtp::client::AsyncSmtpConnection;
    use lettre::transport::smtp::extension::ClientId;
    let emails: Vec<_> = messages.iter().map(|m| email::build(&b.from, m).unwrap()).collect();
    let (emails, next) = (&emails, &std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    futures::future::join_all((0..b.parallel).map(|_| async move {
        let timeout = Some(Duration::from_secs(10));
        let mut c = AsyncSmtpConnection::connect_tokio1(("127.0.0.1", port), timeout, &ClientId::default(), None, None)
            .await
            .unwrap();
        while let Some(e) = emails.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            c.send(e.envelope(), &e.formatted()).await.unwrap();
        }
        c.quit().await.unwrap();
    }))
    .await;
    emails.len() as f64 / start.elapsed().as_secs_f64()
}

/// Emails per second: the plain lettre loop, the same on connections kept open, then the notifier
/// (and when its first and last emails went, ms after the kick).
async fn email_rate(b: &Bench, mail: &MailDev, n: usize) -> ([f64; 3], (i64, i64), usize) {
    let plain = PlainLettre {
        transport: AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(mail.smtp_port).build(),
        from: b.from.clone(),
    };
    let size = email::build(&b.from, &outgoing("ntf_x".into(), "w@bench.example".into(), Via::Email))
        .unwrap()
        .formatted()
        .len();
    let warm = (0..b.parallel).map(|i| outgoing(format!("w{i}"), format!("w{i}@bench.example"), Via::Email)).collect();
    direct(&plain, warm, b.parallel).await;
    let all = (0..n).map(|i| outgoing(format!("b{i}"), format!("b{i}@bench.example"), Via::Email)).collect();
    let baseline = direct(&plain, all, b.parallel).await;
    let all = (0..n).map(|i| outgoing(format!("c{i}"), format!("c{i}@bench.example"), Via::Email)).collect();
    let kept = kept_open(b, mail.smtp_port, all).await;
    let before = b.counts(Via::Email).await;
    let (start, wall) = queue(b, Via::Email, "email", n, |i| format!("n{i}@bench.example")).await;
    let notifier = until_sent(b, Via::Email, before, n, start).await;
    ([baseline, kept, notifier], spread(b, "email", wall).await, size)
}

/// Pushes per second: the `WebPush` channel called directly, then the notifier (and when its
/// first and last pushes went, ms after the kick).
async fn push_rate(b: &Bench, push: &PushService, n: usize) -> (f64, f64, (i64, i64)) {
    // The direct channel: its own key and subscription.
    let key = VapidKey::generate();
    let (sub, direct_hash) = push.subscribe(&key.public_base64url()).await;
    let channel =
        WebPush::new(key, "mailto:ops@pattypalace.example", reqwest::Client::new(), Duration::from_secs(10)).unwrap();
    let warm = (0..b.parallel).map(|i| outgoing(format!("pw{i}"), sub.to_string(), Via::Push)).collect();
    direct(&channel, warm, b.parallel).await;
    let all = (0..n).map(|i| outgoing(format!("pb{i}"), sub.to_string(), Via::Push)).collect();
    let baseline = direct(&channel, all, b.parallel).await;
    assert_eq!(push.notifications(&direct_hash).await.len(), n + b.parallel, "every direct push arrived");
    // The notifier: customer 1's browser subscribes with the cloud's key, through the API.
    let token = b.customers[1].0.clone();
    let cloud_key = b.get(&token, "/api/v1/notifications/push-key").await["public_key"].as_str().unwrap().to_owned();
    let (sub, hash) = push.subscribe(&cloud_key).await;
    let kept = b.post(&token, "/api/v1/me/push-subscriptions", sub).await;
    let id = kept["id"].as_str().unwrap().to_owned();
    let before = b.counts(Via::Push).await;
    let (start, wall) = queue(b, Via::Push, "push", n, |_| id.clone()).await;
    let notifier = until_sent(b, Via::Push, before, n, start).await;
    assert_eq!(push.notifications(&hash).await.len(), n, "every push through the notifier arrived");
    (baseline, notifier, spread(b, "push", wall).await)
}

/// Relayed events after `after`.
async fn events_after(b: &Bench, after: i64) -> Vec<Value> {
    b.get(&b.admin, &format!("/api/v1/events?after={after}&limit=5000")).await.as_array().unwrap().clone()
}

/// `orders` orders placed and accepted one after another: for each, from the accept returning to
/// its event on the log (the relay), and to its email `sent`; then, for scale, as many single
/// sends of the same email by the plain lettre transport, one after another.
async fn delay(b: &Bench, mail: &MailDev, orders: usize) -> (Figures, Figures, Figures) {
    let mut cursor = 0;
    loop {
        let page = events_after(b, cursor).await;
        match page.last() {
            Some(e) => cursor = e["position"].as_i64().unwrap(),
            None => break,
        }
    }
    let (token, _) = &b.customers[0];
    let (mut relayed, mut sent) = (vec![], vec![]);
    let started = Instant::now();
    for i in 0..orders {
        let body = json!({ "outlet_id": OUTLET, "fulfilment": "takeaway", "lines": [{ "item_id": b.item, "quantity": 1 }],
                           "payment": { "method": "at_outlet" } });
        let r = b
            .http
            .post(format!("{}/api/v1/orders", b.base))
            .bearer_auth(token)
            .header("idempotency-key", format!("delay-{i}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        let order: Value = r.json().await.unwrap();
        assert_eq!(order["status"], "placed", "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/outlets/{OUTLET}/orders/{id}/status");
        b.post(&b.staff, &path, json!({ "status": "accepted" })).await;
        let t0 = Instant::now();
        let event = 'found: loop {
            for e in events_after(b, cursor).await {
                cursor = e["position"].as_i64().unwrap();
                if e["kind"] == "order.accepted" && e["key"] == id.as_str() {
                    break 'found e["event_id"].as_str().unwrap().to_owned();
                }
            }
            assert!(t0.elapsed() < WAIT, "order {id}'s event was not relayed");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        relayed.push(t0.elapsed());
        loop {
            let row = sqlx::query("SELECT state FROM notifications WHERE event_id = $1 AND channel = 'email'")
                .bind(&event)
                .fetch_optional(&b.handle.shared.db.pool)
                .await
                .unwrap();
            match row.map(|r| r.try_get::<String, _>("state").unwrap()).as_deref() {
                Some("sent") => break,
                Some("failed" | "suppressed") => panic!("order {id}'s email was not sent"),
                _ => {}
            }
            assert!(t0.elapsed() < WAIT, "order {id}'s email was not sent");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sent.push(t0.elapsed());
    }
    let elapsed = started.elapsed();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(mail.smtp_port).build();
    let mut smtp = vec![];
    let t = Instant::now();
    for i in 0..orders {
        let e = email::build(&b.from, &outgoing(format!("d{i}"), format!("d{i}@bench.example"), Via::Email)).unwrap();
        let one = Instant::now();
        transport.send(e).await.unwrap();
        smtp.push(one.elapsed());
    }
    let smtp = Figures::from_latencies(smtp, t.elapsed());
    (Figures::from_latencies(relayed, elapsed), Figures::from_latencies(sent, elapsed), smtp)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |w: &str| which.is_empty() || which.iter().any(|x| x == w);
    let mail = MailDev::start().await;
    let push = PushService::start();
    let (bench, server) = start(&mail).await;
    let p = bench.parallel;
    if wants("email") {
        let n = env_or("PATTY_BENCH_EMAILS", 500) as usize;
        let ([plain, kept, notifier], (first, last), size) = email_rate(&bench, &mail, n).await;
        println!("email to maildev over SMTP, {n} multipart `{TEMPLATE}` emails ({size} bytes), {p} at once");
        println!("  baseline (a plain lettre loop, the same emails): {plain:>7.0} /s");
        println!("  through the notifier (queued, claimed, rendered, sent, settled): {notifier:>7.0} /s");
        println!("  ratio notifier/baseline: {:.2}x", notifier / plain);
        println!("  for scale: lettre on {p} SMTP connections kept open: {kept:>7.0} /s");
        println!("  the notifier's first email sent {first} ms after the kick, its last {last} ms");
    }
    if wants("push") {
        let n = env_or("PATTY_BENCH_PUSHES", 500) as usize;
        let (direct, notifier, (first, last)) = push_rate(&bench, &push, n).await;
        println!("web push to web-push-testing, {n} `{TEMPLATE}` pushes to one subscription, {p} at once");
        println!("  baseline (the WebPush channel called directly): {direct:>7.0} /s");
        println!("  through the notifier (queued, claimed, rendered, sent, settled): {notifier:>7.0} /s");
        println!("  ratio notifier/baseline: {:.2}x", notifier / direct);
        println!("  the notifier's first push sent {first} ms after the kick, its last {last} ms");
    }
    if wants("delay") {
        let n = env_or("PATTY_BENCH_ORDERS", 100) as usize;
        let (relay, email, smtp) = delay(&bench, &mail, n).await;
        println!("an order accepted to its email sent, {n} orders one after another");
        println!(
            "  baseline (accept returned to the event on GET /api/v1/events): p50 {:>7.2} ms  p99 {:>7.2} ms",
            relay.p50_ms, relay.p99_ms
        );
        println!(
            "  accept returned to the email sent (the SMTP server took it): p50 {:>7.2} ms  p99 {:>7.2} ms",
            email.p50_ms, email.p99_ms
        );
        println!("  ratio p50 email/relay: {:.2}x", email.p50_ms / relay.p50_ms);
        println!(
            "  for scale: one plain lettre send, one after another: p50 {:>7.2} ms  p99 {:>7.2} ms",
            smtp.p50_ms, smtp.p99_ms
        );
    }
    server.stop().await;
}
