//! Security messages (email verification, password reset): the only place a one-time token goes.
//!
//! The identity domain hands each message here directly, after its transaction commits, and never
//! through the events table: a token that lets someone act as a user must not enter an event, a
//! log line or Kafka, where every consumer could read it. The event of the request names only the
//! user and the purpose. What takes the message from here is an [`Outbox`]: the notifier, which
//! keeps the token sealed at rest until the message is sent, then drops it.

use futures::future::BoxFuture;
use std::sync::Arc;

/// Why a security message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm that the address belongs to the account.
    EmailVerification,
    /// Set a new password.
    PasswordReset,
    /// The account was signed in to from somewhere new (no token: a warning).
    NewSignIn,
}

impl Purpose {
    /// The snake_case name, as events and stored tokens name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
            Self::NewSignIn => "new_sign_in",
        }
    }
}

/// A message for one user carrying a one-time token. Its `Debug` never shows the token.
pub struct SecurityMessage {
    /// The account (named in the warning when the message cannot be sent).
    pub user_id: String,
    /// The address the message goes to.
    pub to: String,
    /// Why.
    pub purpose: Purpose,
    /// How long the token works, seconds (said in the message).
    pub valid_secs: u64,
    /// What else the message says (a new sign-in's address and time).
    pub vars: std::collections::BTreeMap<String, String>,
    token: String,
}

impl SecurityMessage {
    /// A message carrying `token` to `to`.
    pub fn new(user_id: &str, to: &str, purpose: Purpose, token: String, valid_secs: u64) -> Self {
        Self { user_id: user_id.to_owned(), to: to.to_owned(), purpose, valid_secs, vars: Default::default(), token }
    }

    /// The message with `key` saying `value` too.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.insert(key.to_owned(), value.into());
        self
    }

    /// The one-time token, for the message's body alone.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for SecurityMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityMessage")
            .field("user_id", &self.user_id)
            .field("purpose", &self.purpose)
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// What takes security messages for sending: the notifier.
pub trait Outbox: Send + Sync + 'static {
    /// Takes `message` (queues it; sending comes after).
    fn accept(&self, message: SecurityMessage) -> BoxFuture<'_, Result<(), String>>;
}

/// The handle the identity domain sends security messages through; cheap to clone.
#[derive(Clone, Default)]
pub struct Mailer {
    out: Option<Arc<dyn Outbox>>,
}

impl Mailer {
    /// A mailer handing messages to `out` (none: nothing is sent).
    pub fn new(out: Option<Arc<dyn Outbox>>) -> Self {
        Self { out }
    }

    /// Hands `message` over. It never fails its caller (the request it belongs to has committed):
    /// a message that cannot be queued is a warning naming the user and the purpose, never the
    /// token.
    pub async fn send(&self, message: SecurityMessage) {
        let (user_id, purpose) = (message.user_id.clone(), message.purpose.as_str());
        let Some(out) = self.out.clone() else {
            tracing::warn!(user_id, purpose, "no notifier takes security messages: the message is not sent");
            return;
        };
        match out.accept(message).await {
            Ok(()) => tracing::info!(user_id, purpose, "security message queued"),
            Err(error) => tracing::warn!(user_id, purpose, %error, "the security message could not be queued"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_messages_debug_hides_the_token() {
        let msg = SecurityMessage::new("u1", "ada@example.com", Purpose::PasswordReset, "s3cr3t-token".into(), 3600);
        assert!(!format!("{msg:?}").contains("s3cr3t-token"));
        assert_eq!(msg.token(), "s3cr3t-token");
    }
}
