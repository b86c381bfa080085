//! SMS through an HTTP gateway: [`Kannel`]'s smsbox (`GET /cgi-bin/sendsms`), which hands the
//! message to whatever SMS centre the bearerbox is connected to, or a Twilio-style messages API
//! ([`Twilio`]).
//!
//! Phone numbers are kept and sent in E.164 (`infra::phone::e164`): `+`, the country code, the number, no
//! spaces. The text is sent as UTF-8 (`charset=UTF-8`) and Kannel converts it: to the GSM 7-bit
//! alphabet when every character is in it (`coding=0`, 160 characters an SMS), else to UCS-2
//! (`coding=2`, 70 UTF-16 units an SMS). Which one is decided here ([`is_gsm`]), since Kannel
//! would otherwise turn the characters GSM lacks into `?`.
//!
//! Long texts: Kannel splits a text longer than one SMS into at most the sendsms user's
//! `max-messages` parts (sent as one concatenated message when the user has
//! `concatenation = true`) and cuts the rest; with the default `max-messages = 1` it cuts at one
//! SMS. The sendsms request has no parameter for it. So the adapter cuts the text itself at
//! `KannelConfig::max_parts` parts ([`fit`], ending it with `...`), and the gateway's user
//! should allow as many: then what arrives is what was decided here, never a silent cut.
//!
//! The rest of this applies to Kannel: Twilio takes UTF-8 and picks the coding and the parts itself
//! (up to [`TWILIO_MAX_CHARS`]).
//!
//! Kannel's password goes only into the request's query: errors carry the status, Kannel's answer
//! (with the password masked should it echo it) or the kind of transport failure, never the URL.

use super::{Channel, Outgoing, SendError};
use crate::infra::config::{ConfigError, KannelConfig, TwilioConfig, read_secret};
use crate::infra::phone::e164;
use futures::future::{BoxFuture, FutureExt};

use std::time::Duration;

/// Characters of an SMS in the GSM 7-bit alphabet (septets), alone.
pub const GSM_SINGLE: usize = 160;
/// Septets of each part of a concatenated GSM SMS (the rest of the 160 is the part's header).
pub const GSM_PART: usize = 153;
/// UTF-16 units of an SMS in UCS-2, alone.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 units of each part of a concatenated UCS-2 SMS.
pub const UCS2_PART: usize = 67;

/// How much of Kannel's answer an error quotes.
const EXCERPT: usize = 200;

/// The GSM 03.38 basic character set, one character a septet.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
    ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The GSM 03.38 extension table: two septets each (an escape, then the character).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The septets `c` takes in the GSM 7-bit alphabet, `None` if it is not in it.
fn gsm_septets(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Whether every character of `text` is in the GSM 7-bit alphabet (basic or extension table), so
/// the text can go as `coding=0`.
pub fn is_gsm(text: &str) -> bool {
    text.chars().all(|c| gsm_septets(c).is_some())
}

/// `text` cut to fit `parts` SMS (at least one), with `...` at the end where it was cut, and
/// whether it is sent as GSM (`true`) or UCS-2. GSM counts septets (the extension table's
/// characters take two), UCS-2 counts UTF-16 units (a character outside the BMP takes two); a
/// character is never split.
pub fn fit(text: &str, parts: usize) -> (String, bool) {
    let parts = parts.max(1);
    let gsm = is_gsm(text);
    let (single, part) = if gsm { (GSM_SINGLE, GSM_PART) } else { (UCS2_SINGLE, UCS2_PART) };
    let limit = if parts == 1 { single } else { part * parts };
    let size = |c: char| if gsm { gsm_septets(c).unwrap_or(1) } else { c.len_utf16() };
    if text.chars().map(size).sum::<usize>() <= limit {
        return (text.to_owned(), gsm);
    }
    let room = limit - 3;
    let mut used = 0;
    let mut cut: String = text
        .chars()
        .take_while(|&c| {
            used += size(c);
            used <= room
        })
        .collect();
    cut.push_str("...");
    (cut, gsm)
}

/// The Kannel adapter: one `GET` to the smsbox per message.
pub struct Kannel {
    http: reqwest::Client,
    sendsms: String,
    username: String,
    password: String,
    from: String,
    max_parts: usize,
}

impl std::fmt::Debug for Kannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kannel")
            .field("sendsms", &self.sendsms)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

impl Kannel {
    /// The adapter for `cfg` (the password read through [`read_secret`]). Fails if the URL is
    /// not `http(s)://…`, or the username, the password or the sender is empty: Kannel refuses a
    /// message without a sender unless it has a global one, and we always name ours.
    pub fn new(cfg: &KannelConfig) -> Result<Self, ConfigError> {
        let password = read_secret(&cfg.password, &cfg.password_file)?;
        for (name, value) in [("username", &cfg.username), ("password", &password), ("from", &cfg.from)] {
            if value.is_empty() {
                return Err(ConfigError::Invalid(format!("notify.kannel.{name} is empty")));
            }
        }
        let base = cfg.url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConfigError::Invalid("notify.kannel.url must be http://… or https://…".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_s.max(1)))
            .build()
            .map_err(|e| ConfigError::Invalid(format!("the Kannel HTTP client: {e}")))?;
        Ok(Self {
            http,
            sendsms: format!("{base}/cgi-bin/sendsms"),
            username: cfg.username.clone(),
            password,
            from: cfg.from.clone(),
            max_parts: cfg.max_parts.max(1),
        })
    }

    /// The query of the sendsms request for `message`, in order (the password among it).
    fn query(&self, to: &str, text: &str) -> Vec<(&'static str, String)> {
        let (text, gsm) = fit(text, self.max_parts);
        vec![
            ("username", self.username.clone()),
            ("password", self.password.clone()),
            ("from", self.from.clone()),
            ("to", to.to_owned()),
            ("text", text),
            ("charset", "UTF-8".into()),
            ("coding", if gsm { "0" } else { "2" }.into()),
        ]
    }

    async fn submit(&self, message: &Outgoing) -> Result<(), SendError> {
        let to = e164(&message.to).map_err(|e| SendError::Refused(format!("Kannel: {e}")))?;
        let sent = self.http.get(&self.sendsms).query(&self.query(&to, &message.text)).send().await;
        let response = sent.map_err(|e| transport_error("Kannel", e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| transport_error("Kannel", e))?;
        let said = excerpt(&body, &self.password);
        match status.as_u16() {
            200..=299 => Ok(()),
            s @ 400..=499 => Err(SendError::Refused(format!("Kannel answered {s}: {said}"))),
            s => Err(SendError::Retry(format!("Kannel answered {s}: {said}"))),
        }
    }
}

/// A transport failure as a [`SendError::Retry`], without the URL (Kannel's query holds the
/// password).
fn transport_error(gateway: &str, e: reqwest::Error) -> SendError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    SendError::Retry(format!("{gateway}: {kind}: {}", e.without_url()))
}

/// The start of Kannel's answer on one line, with `password` masked should it appear.
fn excerpt(body: &str, password: &str) -> String {
    let line: String = body.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).take(EXCERPT).collect();
    if password.is_empty() { line } else { line.replace(password, "<redacted>") }
}

impl Channel for Kannel {
    fn name(&self) -> &'static str {
        "sms"
    }

    /// Sends `message.text` to `message.to` (normalised by `e164`; a number that is not one is
    /// refused without asking Kannel). 2xx (Kannel's `202 0: Accepted for delivery`, or
    /// `3: Queued for later delivery`) is sent; 4xx (a bad password, a missing sender, a number
    /// Kannel will not take) is refused; anything else (5xx, a timeout, no connection) is
    /// worth trying again.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        self.submit(message).boxed()
    }
}

/// The most characters [`Twilio`] takes in one message body (it splits and joins the parts
/// itself); longer texts are cut.
pub const TWILIO_MAX_CHARS: usize = 1600;

/// The Twilio-style adapter: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with the form
/// `To`, `From`, `Body`, and HTTP basic auth (the SID and the auth token).
pub struct Twilio {
    http: reqwest::Client,
    messages: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twilio").field("messages", &self.messages).field("auth_token", &"<redacted>").finish()
    }
}

impl Twilio {
    /// The adapter for `cfg` (the token read through [`read_secret`]). Fails if the SID is not
    /// letters and digits, or the token or the sender is empty.
    pub fn new(cfg: &TwilioConfig) -> Result<Self, ConfigError> {
        let auth_token = read_secret(&cfg.auth_token, &cfg.auth_token_file)?;
        for (name, value) in [("auth_token", &auth_token), ("from", &cfg.from)] {
            if value.is_empty() {
                return Err(ConfigError::Invalid(format!("notify.twilio.{name} is empty")));
            }
        }
        if cfg.account_sid.is_empty() || !cfg.account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError::Invalid("notify.twilio.account_sid must be letters and digits".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_s.max(1)))
            .build()
            .map_err(|e| ConfigError::Invalid(format!("the Twilio HTTP client: {e}")))?;
        let base = cfg.api_base.trim_end_matches('/');
        Ok(Self {
            http,
            messages: format!("{base}/2010-04-01/Accounts/{}/Messages.json", cfg.account_sid),
            account_sid: cfg.account_sid.clone(),
            auth_token,
            from: cfg.from.clone(),
        })
    }

    async fn submit(&self, message: &Outgoing) -> Result<(), SendError> {
        let to = e164(&message.to).map_err(|e| SendError::Refused(format!("Twilio: {e}")))?;
        let mut body: String = message.text.chars().take(TWILIO_MAX_CHARS).collect();
        if body.len() < message.text.len() {
            body = body.chars().take(TWILIO_MAX_CHARS - 3).chain("...".chars()).collect();
        }
        let form = [("To", to.as_str()), ("From", self.from.as_str()), ("Body", body.as_str())];
        let sent = self.http.post(&self.messages).basic_auth(&self.account_sid, Some(&self.auth_token)).form(&form);
        let response = sent.send().await.map_err(|e| transport_error("Twilio", e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| transport_error("Twilio", e))?;
        // Twilio's errors are `{"code": 21211, "message": "…"}`.
        let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        let said = match json.as_ref().map(|j| (&j["code"], j["message"].as_str())) {
            Some((code, Some(m))) if !code.is_null() => format!("{code}: {m}"),
            Some((_, Some(m))) => m.to_owned(),
            _ => text,
        };
        let said = excerpt(&said, &self.auth_token);
        match status {
            200..=299 => Ok(()),
            429 => Err(SendError::Retry(format!("Twilio answered 429: {said}"))),
            400..=499 => Err(SendError::Refused(format!("Twilio answered {status}: {said}"))),
            _ => Err(SendError::Retry(format!("Twilio answered {status}: {said}"))),
        }
    }
}

impl Channel for Twilio {
    fn name(&self) -> &'static str {
        "sms"
    }

    /// Sends `message.text` (cut at [`TWILIO_MAX_CHARS`]) to `message.to` (normalised by
    /// `e164`). 2xx is sent; 429 and 5xx, timeouts and no connection are worth trying again;
    /// other 4xx (a bad number, a bad token) are refused.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        self.submit(message).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_normalise() {
        for (raw, want) in [
            ("+31612345678", "+31612345678"),
            ("+31 6 1234 5678", "+31612345678"),
            ("+1 (415) 555-0132", "+14155550132"),
            ("+44.20.7946.0958", "+442079460958"),
            ("+91-98765-43210", "+919876543210"),
            ("+12345678", "+12345678"),
            ("+123456789012345", "+123456789012345"),
        ] {
            assert_eq!(e164(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn bad_phone_numbers_are_refused_with_a_reason() {
        for (raw, why) in [
            ("0612345678", "starts with +"),
            ("", "starts with +"),
            ("0031612345678", "starts with +"),
            ("+0612345678", "does not start with 0"),
            ("+31 6 1234 567a", "only digits"),
            ("+31/612345678", "only digits"),
            ("++31612345678", "only digits"),
            ("+1234567", "8 to 15"),
            ("+1234567890123456", "8 to 15"),
            ("+", "8 to 15"),
        ] {
            let err = e164(raw).expect_err(raw);
            assert!(err.contains(why), "{raw}: {err}");
        }
    }

    #[test]
    fn the_coding_follows_the_alphabet() {
        assert!(is_gsm("Your order is on its way: 2 x Patty, €12.50 [ok]"));
        assert!(!is_gsm("Café, Ärger, niño, à bientôt?"), "ô is not GSM");
        assert!(is_gsm("Café"));
        assert!(!is_gsm("Crème brûlée"));
        assert!(!is_gsm("🍔 ready"));
        assert!(!is_gsm("Заказ готов"));
    }

    #[test]
    fn long_texts_are_cut_to_the_parts_allowed() {
        let short = "a".repeat(160);
        assert_eq!(fit(&short, 1), (short.clone(), true));
        let (one, gsm) = fit(&"a".repeat(161), 1);
        assert!(gsm);
        assert_eq!((one.len(), &one[157..]), (160, "..."));
        // Three parts of 153 septets; `€` takes two.
        let euros = "€".repeat(300);
        let (cut, _) = fit(&euros, 3);
        assert_eq!(cut.chars().map(|c| gsm_septets(c).unwrap()).sum::<usize>(), 228 * 2 + 3);
        assert_eq!(fit(&"x".repeat(459), 3).0.len(), 459);
        // UCS-2: 70 units alone, 67 a part; a burger is two units and is not split.
        let (cut, gsm) = fit(&"û".repeat(60), 1);
        assert_eq!((cut.chars().count(), gsm), (60, false));
        let (cut, gsm) = fit(&"🍔".repeat(40), 1);
        assert!(!gsm);
        assert_eq!(cut, format!("{}...", "🍔".repeat(33)));
        assert_eq!(fit("", 0), (String::new(), true));
    }

    #[test]
    fn the_query_names_everything_kannel_needs() {
        let cfg = KannelConfig {
            username: "patty".into(),
            password: "pw".into(),
            from: "PattyPalace".into(),
            ..Default::default()
        };
        let k = Kannel::new(&cfg).unwrap();
        let q = k.query("+31612345678", "Crème brûlée");
        let get = |name: &str| q.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
        assert_eq!(
            (get("from"), get("to"), get("text"), get("charset"), get("coding")),
            (Some("PattyPalace"), Some("+31612345678"), Some("Crème brûlée"), Some("UTF-8"), Some("2"))
        );
        assert_eq!(k.query("+31612345678", "Café").iter().find(|(k, _)| *k == "coding").unwrap().1, "0");
        assert_eq!(k.sendsms, "http://127.0.0.1:13013/cgi-bin/sendsms");
    }

    #[test]
    fn the_password_stays_inside() {
        let cfg = KannelConfig {
            username: "patty".into(),
            password: "pw_value".into(),
            from: "PattyPalace".into(),
            ..Default::default()
        };
        let k = Kannel::new(&cfg).unwrap();
        for shown in [format!("{k:?}"), format!("{cfg:?}")] {
            assert!(!shown.contains("pw_value") && shown.contains("patty"), "{shown}");
        }
        assert_eq!(excerpt("Bad password pw_value\nfor patty", "pw_value"), "Bad password <redacted> for patty");
        assert!(Kannel::new(&KannelConfig { from: String::new(), ..cfg.clone() }).is_err());
        assert!(Kannel::new(&KannelConfig { password: String::new(), ..cfg.clone() }).is_err());
        assert!(Kannel::new(&KannelConfig { url: "127.0.0.1:13013".into(), ..cfg }).is_err());
    }

    #[test]
    fn twilio_needs_its_keys_and_hides_the_token() {
        let cfg = TwilioConfig {
            account_sid: "AC123".into(),
            auth_token: "tok_value".into(),
            from: "+15005550006".into(),
            ..Default::default()
        };
        let t = Twilio::new(&cfg).unwrap();
        assert_eq!(t.messages, "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json");
        for shown in [format!("{t:?}"), format!("{cfg:?}")] {
            assert!(!shown.contains("tok_value") && shown.contains("AC123"), "{shown}");
        }
        assert!(Twilio::new(&TwilioConfig { account_sid: "AC1/../x".into(), ..cfg.clone() }).is_err());
        assert!(Twilio::new(&TwilioConfig { auth_token: String::new(), ..cfg }).is_err());
    }
}
