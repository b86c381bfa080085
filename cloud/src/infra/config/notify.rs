//! The notifications section of the configuration: whether the notifier runs inside the cloud,
//! the links it writes, the defaults for people who set none, and each channel's server.

use super::{ConfigError, read_secret, redacted};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Notifications.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Run the notifier inside the cloud (the embedded default). Off: run `patty-notifier`
    /// beside it, on the same database, as many as wanted.
    pub embedded: bool,
    /// Where the notifier reads events: `log` (the relayed event log, from the shared cursor; works
    /// with Kafka off) or `kafka` (a consumer group of its own, `kafka_group`).
    pub source: String,
    /// The consumer group when `source = "kafka"` (behind `kafka.topic_prefix`).
    pub kafka_group: String,
    /// Where the customer and driver apps live: the base of every link a message carries (the
    /// tracking page, the unsubscribe link).
    pub public_url: String,
    /// The language of people who chose none (`en` or `nl`).
    pub default_lang: String,
    /// The time zone quiet hours are read in for people who chose none.
    pub default_time_zone: String,
    /// The SMTP server (`smtp://host:port` with STARTTLS when offered, `smtp://host:port?tls=required`,
    /// `smtps://host:port` for TLS from the start; `user:password@` for AUTH). Empty: email goes
    /// to `mail.pickup_dir`, else it is not sent.
    pub smtp_url: String,
    /// A file holding `smtp_url` (it carries the password).
    pub smtp_url_file: Option<PathBuf>,
    /// How long one SMTP or HTTP send may take, milliseconds.
    pub send_timeout_ms: u64,
    /// The VAPID key (the base64url private scalar). Empty: one kept in the data directory.
    pub vapid_key: String,
    /// Whom push services may contact about our pushes (`mailto:` or `https:`).
    pub vapid_subject: String,
    /// The SMS gateway.
    pub sms: SmsConfig,
    /// The key unsubscribe links are signed with. Empty: one kept in the data directory.
    pub link_secret: String,
    /// Messages sent side by side.
    pub parallel: usize,
    /// Sends tried before a message is a dead letter (2, 4, 8… seconds apart, at most 5 minutes).
    pub max_attempts: u32,
    /// An outlet not heard from for this long is reported offline, seconds.
    pub offline_after_secs: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            embedded: true,
            source: "log".into(),
            kafka_group: "patty-notifier".into(),
            public_url: "http://localhost:8080".into(),
            default_lang: "en".into(),
            default_time_zone: "Europe/Amsterdam".into(),
            smtp_url: String::new(),
            smtp_url_file: None,
            send_timeout_ms: 10_000,
            vapid_key: String::new(),
            vapid_subject: "mailto:ops@pattypalace.example".into(),
            sms: SmsConfig::default(),
            link_secret: String::new(),
            parallel: 16,
            max_attempts: 8,
            offline_after_secs: 600,
        }
    }
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("embedded", &self.embedded)
            .field("public_url", &self.public_url)
            .field("smtp_url", &redacted(&self.smtp_url))
            .field("vapid_key", &redacted(&self.vapid_key))
            .field("sms", &self.sms)
            .field("link_secret", &redacted(&self.link_secret))
            .finish_non_exhaustive()
    }
}

impl NotifyConfig {
    /// The SMTP URL, from its file when one is given.
    pub fn smtp_url(&self) -> Result<String, ConfigError> {
        read_secret(&self.smtp_url, &self.smtp_url_file)
    }

    /// Checks what can be checked without a server.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !["en", "nl"].contains(&self.default_lang.as_str()) {
            return bad(format!("notify.default_lang must be en or nl, not {:?}", self.default_lang));
        }
        if self.default_time_zone.parse::<chrono_tz::Tz>().is_err() {
            return bad(format!("notify.default_time_zone {:?} is not an IANA time zone", self.default_time_zone));
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return bad("notify.public_url must be an http(s) URL".into());
        }
        let smtp = self.smtp_url()?;
        if !(smtp.is_empty() || smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
            return bad("notify.smtp_url must start with smtp:// or smtps://".into());
        }
        if !["log", "kafka"].contains(&self.source.as_str()) {
            return bad(format!("notify.source is log or kafka, not {:?}", self.source));
        }
        if !["", "kannel", "twilio"].contains(&self.sms.gateway.as_str()) {
            return bad(format!("notify.sms.gateway is kannel, twilio or empty, not {:?}", self.sms.gateway));
        }
        if self.parallel == 0 || self.max_attempts == 0 {
            return bad("notify.parallel and notify.max_attempts must be at least 1".into());
        }
        Ok(())
    }
}

/// The SMS gateway: Kannel's smsbox, or a Twilio-style messages API.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// `kannel`, `twilio`, or empty: SMS is not sent.
    pub gateway: String,
    /// Kannel's sendsms interface.
    pub kannel: KannelConfig,
    /// A Twilio-style API.
    pub twilio: TwilioConfig,
}

/// Kannel's sendsms interface.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KannelConfig {
    /// The smsbox's sendsms base URL (`http://127.0.0.1:13013`): `/cgi-bin/sendsms` is added.
    pub url: String,
    /// The `sendsms-user`'s username.
    pub username: String,
    /// Its password.
    pub password: String,
    /// A file holding `password` (wins over it).
    pub password_file: Option<PathBuf>,
    /// The sender shown on the phone (`from`): a number, or up to 11 letters and digits.
    pub from: String,
    /// The most SMS one message may take; longer texts are cut. The sendsms user's
    /// `max-messages` should be at least this, with `concatenation = true`.
    pub max_parts: usize,
    /// How long a request may take, seconds.
    pub timeout_s: u64,
}

impl Default for KannelConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:13013".into(),
            username: String::new(),
            password: String::new(),
            password_file: None,
            from: String::new(),
            max_parts: 3,
            timeout_s: 10,
        }
    }
}

impl std::fmt::Debug for KannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KannelConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("password_file", &self.password_file)
            .field("from", &self.from)
            .field("max_parts", &self.max_parts)
            .field("timeout_s", &self.timeout_s)
            .finish()
    }
}

/// A Twilio-style messages API.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioConfig {
    /// The API's base URL.
    pub api_base: String,
    /// The account SID (`AC…`): the basic auth user and a path segment.
    pub account_sid: String,
    /// The auth token: the basic auth password.
    pub auth_token: String,
    /// A file holding `auth_token` (wins over it).
    pub auth_token_file: Option<PathBuf>,
    /// The sender: a number of the account's in E.164, or an alphanumeric sender id.
    pub from: String,
    /// How long a request may take, seconds.
    pub timeout_s: u64,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.twilio.com".into(),
            account_sid: String::new(),
            auth_token: String::new(),
            auth_token_file: None,
            from: String::new(),
            timeout_s: 10,
        }
    }
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("api_base", &self.api_base)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("auth_token_file", &self.auth_token_file)
            .field("from", &self.from)
            .field("timeout_s", &self.timeout_s)
            .finish()
    }
}
