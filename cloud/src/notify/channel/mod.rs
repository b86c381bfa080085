//! The channels a message leaves by: email (SMTP, or a pickup directory), web push (VAPID), SMS
//! (an HTTP gateway: Kannel, or a Twilio-style API). In-app messages need no channel: the inbox is
//! the message table itself.
//!
//! A channel only sends: what to send, to whom and when is decided before (`rules`, `templates`),
//! and what its answer means for the message (sent, try again later, the address is gone, a dead
//! letter) is decided after, by the worker, from [`SendError`].

pub mod email;
pub mod push;
pub mod sms;

use futures::future::BoxFuture;

/// One message, rendered, ready to go.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The message's id: also its idempotency key (an email's `Message-ID`, a push's topic).
    pub id: String,
    /// The address: an email address, a phone number in E.164, or a push subscription's JSON
    /// (`{"endpoint", "keys": {"p256dh", "auth"}}`).
    pub to: String,
    /// The subject (email), the title (push); an SMS has none.
    pub subject: String,
    /// The plain text body.
    pub text: String,
    /// The HTML body (email only).
    pub html: Option<String>,
    /// The one-click unsubscribe link (marketing email: `List-Unsubscribe`).
    pub unsubscribe: Option<String>,
    /// Where the message points (the tracking link, the order), for push's click.
    pub link: Option<String>,
    /// The template's name (`order.accepted`…), sent as push's `tag` and an email header.
    pub template: String,
}

/// Why a send did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the server is away, busy or timed out.
    #[error("{0}")]
    Retry(String),
    /// The address no longer exists (a push subscription the push service answers 404 or 410
    /// for): remove it, do not try again.
    #[error("gone: {0}")]
    Gone(String),
    /// Refused for good (a malformed address, a message the server will never take).
    #[error("refused: {0}")]
    Refused(String),
}

/// A way out. Object-safe: the notifier holds `Arc<dyn Channel>` per configured channel.
pub trait Channel: Send + Sync {
    /// `email`, `push` or `sms`.
    fn name(&self) -> &'static str;

    /// Sends `message`; `Ok` once the server took it.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>>;
}

/// The channels `config` names: email by SMTP (`notify.smtp_url`), else into `mail.pickup_dir`;
/// web push always (its key from `notify.vapid_key` or the data directory); SMS when a gateway
/// is configured.
pub fn from_config(config: &crate::infra::config::Config) -> crate::infra::error::Result<super::Channels> {
    use crate::infra::error::Error;
    use std::sync::Arc;
    let n = &config.notify;
    let from: lettre::message::Mailbox =
        config.mail.from.parse().map_err(|e| Error::Validation(format!("mail.from: {e}")))?;
    let timeout = std::time::Duration::from_millis(n.send_timeout_ms);
    let smtp = n.smtp_url().map_err(|e| Error::Validation(e.to_string()))?;
    let email: Option<Arc<dyn Channel>> = if !smtp.is_empty() {
        Some(Arc::new(email::Smtp::new(&smtp, from, timeout).map_err(Error::Validation)?))
    } else if let Some(dir) = &config.mail.pickup_dir {
        Some(Arc::new(email::Pickup::open(dir, from).map_err(|e| Error::Internal(format!("{}: {e}", dir.display())))?))
    } else {
        None
    };
    let key = if n.vapid_key.is_empty() {
        let path = config.data_dir.join("vapid.key");
        std::fs::create_dir_all(&config.data_dir)
            .and_then(|()| push::VapidKey::load_or_create(&path))
            .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?
    } else {
        push::VapidKey::from_base64url(&n.vapid_key).map_err(|e| Error::Validation(format!("notify.vapid_key: {e}")))?
    };
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Internal(format!("an HTTP client: {e}")))?;
    let push = push::WebPush::new(key, &n.vapid_subject, http.clone(), timeout)
        .map_err(|e| Error::Validation(format!("notify.vapid_subject: {e}")))?;
    let vapid_public = Some(push.public_key());
    let sms: Option<Arc<dyn Channel>> = match n.sms.gateway.as_str() {
        "kannel" => Some(Arc::new(sms::Kannel::new(&n.sms.kannel).map_err(|e| Error::Validation(e.to_string()))?)),
        "twilio" => Some(Arc::new(sms::Twilio::new(&n.sms.twilio).map_err(|e| Error::Validation(e.to_string()))?)),
        _ => None,
    };
    Ok(super::Channels { email, push: Some(Arc::new(push)), sms, vapid_public })
}
