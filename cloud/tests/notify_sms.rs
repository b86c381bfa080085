//! The SMS channel against a real Kannel (bearerbox, smsbox, and Kannel's fake SMS centre on
//! loopback): what the channel sends is what the SMS centre gets, a refusal is `Refused` without
//! the password in it, and a gateway away is `Retry` until it is back. And the Twilio-style
//! adapter against a stand-in for the messages API.

use patty_cloud::infra::config::{KannelConfig, TwilioConfig};
use patty_cloud::notify::channel::sms::{Kannel, Twilio, fit};
use patty_cloud::notify::channel::{Channel, Outgoing, SendError};
use patty_tests::sms::{self, Received};
use std::time::Duration;

const FROM: &str = "PattyPalace";
const WAIT: Duration = Duration::from_secs(10);

fn channel(gateway: &sms::Kannel, password: &str) -> Kannel {
    let (username, _) = gateway.credentials();
    let cfg = KannelConfig {
        url: gateway.sendsms_url(),
        username: username.into(),
        password: password.into(),
        from: FROM.into(),
        max_parts: sms::MAX_PARTS,
        timeout_s: 5,
        ..Default::default()
    };
    Kannel::new(&cfg).expect("the Kannel channel")
}

fn sms_to(to: &str, text: &str) -> Outgoing {
    Outgoing {
        id: "msg-1".into(),
        to: to.into(),
        subject: String::new(),
        text: text.into(),
        html: None,
        unsubscribe: None,
        link: None,
        template: "order.on_its_way".into(),
    }
}

fn got(from: &str, to: &str, text: &str) -> Received {
    Received { from: from.into(), to: to.into(), text: text.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_reach_the_sms_centre_as_sent() {
    let gateway = sms::Kannel::start();
    let (_, password) = gateway.credentials();
    let kannel = channel(&gateway, password);
    assert_eq!(kannel.name(), "sms");

    // GSM alphabet (é is in it), a number typed with spaces; then text GSM lacks (û, a burger)
    // with the characters a query must encode.
    kannel.send(&sms_to("+31 6 1234 5678", "Your order is on its way. Café & co: 100% +1")).await.unwrap();
    kannel.send(&sms_to("+442079460958", "Crème brûlée 🍔 ready = yes?")).await.unwrap();
    let received = gateway.wait_received(2, WAIT);
    assert_eq!(
        received,
        [
            got(FROM, "+31612345678", "Your order is on its way. Café & co: 100% +1"),
            got(FROM, "+442079460958", "Crème brûlée 🍔 ready = yes?"),
        ],
        "{}",
        gateway.logs()
    );

    // Not a phone number: refused here, Kannel never asked.
    let err = kannel.send(&sms_to("0612345678", "hello")).await.unwrap_err();
    assert!(matches!(err, SendError::Refused(_)), "{err:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(gateway.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_arrive_whole_up_to_the_parts_allowed() {
    let gateway = sms::Kannel::start();
    let (_, password) = gateway.credentials();
    let kannel = channel(&gateway, password);
    let to = "+31612345678";
    // Two GSM parts; two UCS-2 parts; and a text longer than three parts, cut here.
    let gsm = format!("Your order #1042 is on its way. {}Enjoy, Café Patty.", "Fries, shake and a burger. ".repeat(8));
    let ucs2 = "Crème brûlée and a shake. ".repeat(4);
    let long = "Eat at Patty Palace. ".repeat(30);
    for text in [&gsm, &ucs2, &long] {
        kannel.send(&sms_to(to, text)).await.unwrap();
    }
    let cut = fit(&long, sms::MAX_PARTS).0;
    assert!(cut.len() < long.len() && cut.ends_with("..."), "{cut}");
    let received = gateway.wait_received(3, WAIT);
    assert_eq!(received, [got(FROM, to, &gsm), got(FROM, to, &ucs2), got(FROM, to, &cut)], "{}", gateway.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_refused_and_keeps_the_password() {
    let gateway = sms::Kannel::start();
    let wrong = "wrong-pass-91c2";
    let err = channel(&gateway, wrong).send(&sms_to("+31612345678", "hello")).await.unwrap_err();
    let SendError::Refused(said) = &err else { panic!("not refused: {err:?}") };
    assert!(said.contains("403") && said.contains("Authorization failed"), "{said}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(wrong) && !shown.contains("password="), "{shown}");
    assert!(gateway.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_away_is_retried_until_it_is_back() {
    let mut gateway = sms::Kannel::start();
    let (_, password) = gateway.credentials();
    let kannel = channel(&gateway, password);
    let message = sms_to("+14155550132", "Your burger is ready");

    gateway.stop_smsbox();
    let err = kannel.send(&message).await.unwrap_err();
    let SendError::Retry(said) = &err else { panic!("not retry: {err:?}") };
    let shown = format!("{err} {err:?}");
    assert!(said.contains("cannot connect"), "{said}");
    assert!(!shown.contains(password) && !shown.contains("password="), "{shown}");
    assert!(gateway.received().is_empty());

    gateway.start_smsbox();
    kannel.send(&message).await.unwrap();
    assert_eq!(gateway.wait_received(1, WAIT), [got(FROM, "+14155550132", "Your burger is ready")]);
}

#[test]
fn fakesmsc_lines_decode() {
    let log = "2026-12-01 22:40:26 [1] [0] INFO: fakesmsc: sent message 1\n\
        2026-12-01 22:40:29 [1] [0] DEBUG: Got message 2: <PattyPalace +31612345678 ucs-2 %00C%00a%00f%00%E9%00+%00%26%00+%00%2B%00+%001%000%000%00%25>\n\
        2026-12-01 22:40:29 [1] [0] DEBUG: Got message 3: <PattyPalace +31612345678 text Your order is on its way>\n\
        2026-12-01 22:40:58 [1] [0] DEBUG: Got message 4: <PattyPalace +31612345678 text Café <x>>\n\
        2026-12-01 22:40:58 [1] [0] DEBUG: Got message 5: <next line>\n\
        2026-12-01 22:40:58 [1] [0] DEBUG: Got message 6: <P +1 ucs-2 %D8%3C%DFT%00+%00B>\n";
    let texts: Vec<String> = sms::parse_received(log).into_iter().map(|r| r.text).collect();
    assert_eq!(texts, ["Café & + 100%", "Your order is on its way", "Café <x>\nnext line", "🍔 B"]);
    assert_eq!(sms::url_decode("a%2"), b"a%2");
    // The parts of concatenated messages, out of order, in UTF-8 (GSM) and UTF-16BE (UCS-2).
    let parts = "x [0] DEBUG: Got message 7: <P +1 udh %05%00%03%07%02%02 data %C3%A9+END>\n\
        x [0] DEBUG: Got message 8: <P +1 udh %05%00%03%08%02%01 data %00%E8%00+>\n\
        x [0] DEBUG: Got message 9: <P +1 udh %05%00%03%07%02%01 data Caf>\n\
        x [0] DEBUG: Got message 10: <P +1 udh %05%00%03%08%02%02 data %00%FB>\n";
    let texts: Vec<String> = sms::parse_received(parts).into_iter().map(|r| r.text).collect();
    assert_eq!(texts, ["Café END", "è û"]);
    assert_eq!(sms::url_decode("%41+%zz"), b"A %zz");
}

/// What the Twilio stand-in was sent: the `Authorization` header and the form.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, std::collections::HashMap<String, String>)>>>;

/// A stand-in for Twilio's messages API on a free port: answers 201 to `To` numbers but
/// `+15005550001` (400, Twilio's invalid number) and `+15005550002` (503).
async fn twilio_standin(seen: Seen) -> String {
    use axum::extract::{Form, Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use std::collections::HashMap;
    async fn messages(
        State(seen): State<Seen>,
        Path(sid): Path<String>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> (StatusCode, String) {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let to = form.get("To").cloned().unwrap_or_default();
        seen.lock().unwrap().push((auth, form));
        match to.as_str() {
            "+15005550001" => (
                StatusCode::BAD_REQUEST,
                r#"{"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}"#.into(),
            ),
            "+15005550002" => (StatusCode::SERVICE_UNAVAILABLE, "busy".into()),
            _ => (StatusCode::CREATED, format!(r#"{{"sid": "SM1", "account_sid": "{sid}", "status": "queued"}}"#)),
        }
    }
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", axum::routing::post(messages))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_posts_the_form_and_maps_its_answers() {
    use base64::Engine;
    let seen = Seen::default();
    let base = twilio_standin(seen.clone()).await;
    let token = "tw-token-5e1d";
    let cfg = TwilioConfig {
        api_base: base,
        account_sid: "AC123".into(),
        auth_token: token.into(),
        from: "+15005550006".into(),
        timeout_s: 5,
        ..Default::default()
    };
    let twilio = Twilio::new(&cfg).unwrap();
    assert_eq!(twilio.name(), "sms");

    twilio.send(&sms_to("+31 6 1234 5678", "Crème brûlée & a shake = 100%")).await.unwrap();
    {
        let seen = seen.lock().unwrap();
        let (auth, form) = &seen[0];
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("AC123:{token}"));
        assert_eq!(auth, &format!("Basic {basic}"));
        let field = |k: &str| form.get(k).map(String::as_str);
        assert_eq!(
            (field("To"), field("From"), field("Body")),
            (Some("+31612345678"), Some("+15005550006"), Some("Crème brûlée & a shake = 100%"))
        );
    }

    let err = twilio.send(&sms_to("+15005550001", "hello")).await.unwrap_err();
    let SendError::Refused(said) = &err else { panic!("not refused: {err:?}") };
    assert!(said.contains("400") && said.contains("21211") && !said.contains(token), "{said}");
    let err = twilio.send(&sms_to("+15005550002", "hello")).await.unwrap_err();
    assert!(matches!(&err, SendError::Retry(s) if s.contains("503")), "{err:?}");

    // Nobody listening: retry, without the token.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let away = Twilio::new(&TwilioConfig { api_base: format!("http://127.0.0.1:{port}"), ..cfg }).unwrap();
    let err = away.send(&sms_to("+31612345678", "hello")).await.unwrap_err();
    assert!(matches!(&err, SendError::Retry(s) if s.contains("cannot connect") && !s.contains(token)), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 3);
}
