//! The email channel: a message built as an RFC 5322 `multipart/alternative` (plain text and
//! HTML), sent to an SMTP server with `lettre` (STARTTLS or TLS as the URL says), or written into a
//! pickup directory a mail system reads. Its `Message-ID` is the message's id, so a copy sent
//! twice (a crash between the server's yes and our record of it) is one message to the reader's
//! mail program; marketing mail carries RFC 8058's one-click `List-Unsubscribe`.

use super::{Channel, Outgoing, SendError};
use futures::future::BoxFuture;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, FileTransport, Tokio1Executor, Transport};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Builds the email for `m` from `from`.
pub fn build(from: &Mailbox, m: &Outgoing) -> Result<Message, SendError> {
    let to: Mailbox = m.to.parse().map_err(|e| SendError::Refused(format!("the address: {e}")))?;
    let header = |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
    let mut b = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&m.subject)
        .message_id(Some(format!("<{}@pattypalace>", m.id)))
        .raw_header(header("X-Patty-Template", m.template.clone()));
    if let Some(link) = &m.unsubscribe {
        b = b
            .raw_header(header("List-Unsubscribe", format!("<{link}>")))
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
    }
    let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(m.text.clone());
    let built = match &m.html {
        Some(html) => b.multipart(
            MultiPart::alternative()
                .singlepart(text)
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
        ),
        None => b.singlepart(text),
    };
    built.map_err(|e| SendError::Refused(format!("the message: {e}")))
}

/// An SMTP server.
pub struct Smtp {
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    /// The server `url` names (`smtp://`, `smtp://…?tls=required`, `smtps://`), sending from
    /// `from`, each send within `timeout`.
    pub fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("notify.smtp_url: {}", e.to_string().replace(url, "[the URL]")))?
            .timeout(Some(timeout))
            .build();
        Ok(Self { from, transport })
    }
}

impl Channel for Smtp {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send<'a>(&'a self, m: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let email = build(&self.from, m)?;
            match self.transport.send(email).await {
                Ok(_) => Ok(()),
                // 5xx: the server will never take it (a mailbox that does not exist, say).
                Err(e) if e.is_permanent() => Err(SendError::Refused(format!("the SMTP server: {e}"))),
                Err(e) => Err(SendError::Retry(format!("the SMTP server: {e}"))),
            }
        })
    }
}

/// A pickup directory: each message is written whole into `.staging/` beside it, then renamed
/// in, so whatever reads the directory never sees half a message.
pub struct Pickup {
    from: Mailbox,
    dir: PathBuf,
    staging: FileTransport,
    staging_dir: PathBuf,
}

impl Pickup {
    /// Opens `dir` (and its staging directory), creating them when missing.
    pub fn open(dir: &Path, from: Mailbox) -> std::io::Result<Self> {
        let staging_dir = dir.join(".staging");
        std::fs::create_dir_all(&staging_dir)?;
        Ok(Self { from, dir: dir.to_owned(), staging: FileTransport::new(&staging_dir), staging_dir })
    }

    /// Writes `email` on the blocking pool (file I/O never runs on the runtime's threads).
    async fn write(&self, email: Message) -> Result<(), SendError> {
        let (staging, staging_dir, dir) = (self.staging.clone(), self.staging_dir.clone(), self.dir.clone());
        let fail = |e: String| SendError::Retry(format!("the pickup directory: {e}"));
        tokio::task::spawn_blocking(move || {
            let id = staging.send(&email).map_err(|e| fail(e.to_string()))?;
            let name = format!("{id}.eml");
            std::fs::rename(staging_dir.join(&name), dir.join(&name)).map_err(|e| fail(e.to_string()))
        })
        .await
        .map_err(|e| fail(e.to_string()))?
    }
}

impl Channel for Pickup {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send<'a>(&'a self, m: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let email = build(&self.from, m)?;
            self.write(email).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing() -> Outgoing {
        Outgoing {
            id: "ntf_1".into(),
            to: "ada@example.com".into(),
            subject: "Reset your password".into(),
            text: "Your code:\r\n\r\ns3cr3t-token\r\n".into(),
            html: Some("<p>Your code: s3cr3t-token</p>".into()),
            unsubscribe: Some("https://pattypalace.example/u?t=1".into()),
            link: None,
            template: "security.password_reset".into(),
        }
    }

    #[tokio::test]
    async fn a_message_is_a_whole_rfc5322_file_with_both_parts() {
        let dir = tempfile::tempdir().unwrap();
        let pickup = Pickup::open(dir.path(), "Patty Palace <no-reply@pattypalace.example>".parse().unwrap()).unwrap();
        pickup.send(&outgoing()).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        assert_eq!(files.len(), 1, "one message, moved out of staging");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        for needle in [
            "To: ada@example.com",
            "Subject: Reset your password",
            "Message-ID: <ntf_1@pattypalace>",
            "X-Patty-Template: security.password_reset",
            "List-Unsubscribe: <https://pattypalace.example/u?t=1>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "multipart/alternative",
            "text/html",
            "\r\ns3cr3t-token\r\n",
        ] {
            assert!(text.contains(needle), "{needle:?} in {text}");
        }
        assert_eq!(std::fs::read_dir(dir.path().join(".staging")).unwrap().count(), 0);
    }

    #[test]
    fn a_bad_address_is_refused() {
        let m = Outgoing { to: "not an address".into(), ..outgoing() };
        assert!(matches!(build(&"a@b.example".parse().unwrap(), &m), Err(SendError::Refused(_))));
    }
}
