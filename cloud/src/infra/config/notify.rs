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
            max_attempts: crate::notify::rules::MAX_ATTEMPTS,
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
        if !smtp.is_empty() && !(smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
            return bad("notify.smtp_url must start with smtp:// or smtps://".into());
        }
        if self.parallel == 0 || self.max_attempts == 0 {
            return bad("notify.parallel and notify.max_attempts must be at least 1".into());
        }
        Ok(())
    }
}

/// The SMS gateway (Kannel's smsbox).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// The smsbox's sendsms base URL (`http://host:13013`). Empty: SMS is not sent.
    pub kannel_url: String,
    /// Its sendsms user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// A file holding `password`.
    pub password_file: Option<PathBuf>,
    /// The sender shown on the phone.
    pub from: String,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig")
            .field("kannel_url", &self.kannel_url)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}
