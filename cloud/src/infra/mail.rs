//! Security messages (email verification, password reset): the only place a one-time token goes.
//!
//! The identity domain hands each message here directly, after its transaction commits, and never
//! through the events table: a token that lets someone act as a user must not enter an event, a
//! log line or Kafka, where every consumer could read it. The event of the request names only the
//! user and the purpose.
//!
//! Today a message is written as an RFC 5322 `.eml` file into a pickup directory (as a sendmail
//! pickup directory is read by the mail system); with none configured it is not sent and a
//! warning names the user and the purpose. The notifier that speaks SMTP implements [`Outbound`]
//! and takes the pickup directory's place.

use crate::infra::config::MailConfig;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::{FileTransport, Transport};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What went wrong handing a message over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address that is not an RFC 5322 mailbox.
    #[error("address: {0}")]
    Address(#[from] lettre::address::AddressError),
    /// The message could not be built.
    #[error("message: {0}")]
    Build(#[from] lettre::error::Error),
    /// The file transport failed.
    #[error("pickup directory: {0}")]
    File(#[from] lettre::transport::file::Error),
    /// Moving the written message into the pickup directory failed.
    #[error("pickup directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a security message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm that the address belongs to the account.
    EmailVerification,
    /// Set a new password.
    PasswordReset,
}

impl Purpose {
    /// The snake_case name, as events and stored tokens name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Self::EmailVerification => "Confirm your email address",
            Self::PasswordReset => "Reset your password",
        }
    }

    fn body(self, token: &str, valid_hours: u64) -> String {
        let why = match self {
            Self::EmailVerification => "Welcome to Patty Palace.\r\nYour code to confirm this email address:",
            Self::PasswordReset => {
                "Someone asked to reset the password of your Patty Palace account.\r\nYour code to set a new one:"
            }
        };
        format!(
            "{why}\r\n\r\n{token}\r\n\r\nIt works once, for {valid_hours} hours.\r\nIf you did not ask for this, ignore this message.\r\n"
        )
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
    token: String,
}

impl SecurityMessage {
    /// A message carrying `token` to `to`.
    pub fn new(user_id: &str, to: &str, purpose: Purpose, token: String, valid_secs: u64) -> Self {
        Self { user_id: user_id.to_owned(), to: to.to_owned(), purpose, valid_secs, token }
    }

    fn build(&self, from: &Mailbox) -> Result<Message, MailError> {
        Ok(Message::builder()
            .from(from.clone())
            .to(self.to.parse()?)
            .subject(self.purpose.subject())
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Patty-Purpose"),
                self.purpose.as_str().to_owned(),
            ))
            .header(ContentType::TEXT_PLAIN)
            .body(self.purpose.body(&self.token, self.valid_secs.div_ceil(3600)))?)
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

/// Where built messages go: the seam a real mail transport (SMTP) fills.
pub trait Outbound: Send + Sync + 'static {
    /// Hands `message` over; blocking is allowed (it runs on the blocking pool).
    fn deliver(&self, message: &Message) -> Result<(), MailError>;
}

/// A pickup directory: each message is written whole into `.staging/` beside it, then renamed in,
/// so whatever reads the directory never sees half a message.
pub struct PickupDir {
    dir: PathBuf,
    staging: FileTransport,
    staging_dir: PathBuf,
}

impl PickupDir {
    /// Opens `dir` (and its staging directory), creating them when missing.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let staging_dir = dir.join(".staging");
        std::fs::create_dir_all(&staging_dir)?;
        Ok(Self { dir: dir.to_owned(), staging: FileTransport::new(&staging_dir), staging_dir })
    }
}

impl Outbound for PickupDir {
    fn deliver(&self, message: &Message) -> Result<(), MailError> {
        let id = self.staging.send(message)?;
        let name = format!("{id}.eml");
        std::fs::rename(self.staging_dir.join(&name), self.dir.join(&name))?;
        Ok(())
    }
}

/// The handle the identity domain sends security messages through; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    out: Option<Arc<dyn Outbound>>,
}

impl Mailer {
    /// The mailer `config` describes: its pickup directory, or none (messages are not sent).
    pub fn from_config(config: &MailConfig) -> Result<Self, MailError> {
        let out = match &config.pickup_dir {
            Some(dir) => Some(Arc::new(PickupDir::open(dir)?) as Arc<dyn Outbound>),
            None => None,
        };
        Ok(Self::new(config.from.parse()?, out))
    }

    /// A mailer sending from `from` through `out` (none: nothing is sent).
    pub fn new(from: Mailbox, out: Option<Arc<dyn Outbound>>) -> Self {
        Self { from, out }
    }

    /// Sends `message`. It never fails its caller (the request it belongs to has committed): a
    /// message that cannot be sent is a warning naming the user and the purpose, never the token.
    pub async fn send(&self, message: SecurityMessage) {
        let (user_id, purpose) = (message.user_id.clone(), message.purpose.as_str());
        let Some(out) = self.out.clone() else {
            tracing::warn!(user_id, purpose, "no mail pickup directory is configured: the message is not sent");
            return;
        };
        let from = self.from.clone();
        let sent = tokio::task::spawn_blocking(move || message.build(&from).and_then(|m| out.deliver(&m)))
            .await
            .map_err(|e| MailError::Io(std::io::Error::other(e.to_string())));
        match sent.and_then(|r| r) {
            Ok(()) => tracing::info!(user_id, purpose, "security message handed to the mail system"),
            Err(error) => tracing::warn!(user_id, purpose, %error, "the security message could not be sent"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_a_whole_rfc5322_file_and_its_debug_hides_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let pickup = PickupDir::open(dir.path()).unwrap();
        let msg = SecurityMessage::new("u1", "ada@example.com", Purpose::PasswordReset, "s3cr3t-token".into(), 3600);
        assert!(!format!("{msg:?}").contains("s3cr3t-token"));
        pickup.deliver(&msg.build(&"Patty Palace <no-reply@pattypalace.example>".parse().unwrap()).unwrap()).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        assert_eq!(files.len(), 1, "one message, moved out of staging");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        for needle in
            ["To: ada@example.com", "Subject: Reset your password", "X-Patty-Purpose: password_reset", "\r\n\r\n"]
        {
            assert!(text.contains(needle), "{needle:?} in {text}");
        }
        assert!(text.contains("\r\ns3cr3t-token\r\n"), "the token on a line of its own: {text}");
        assert_eq!(std::fs::read_dir(dir.path().join(".staging")).unwrap().count(), 0);
    }
}
