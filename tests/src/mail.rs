//! A real SMTP server for the tests: npm's `maildev` (in `tests/notify-servers`), which takes
//! mail over SMTP and shows what arrived, parsed (subject, recipients, headers, the text and HTML
//! parts), on its HTTP API at `GET /api/email`. Started per test on free loopback ports, killed on
//! drop; `stop` and `start_again` take it away and bring it back on the same SMTP port (what
//! arrived before is forgotten by the new one: the test keeps what it read).

use crate::fixtures::ensure_node_modules;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the server may take to answer.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running maildev. Killed when dropped.
pub struct MailDev {
    /// Its SMTP port on 127.0.0.1.
    pub smtp_port: u16,
    /// Its HTTP API, `http://127.0.0.1:PORT`.
    pub api: String,
    web_port: u16,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Drop for MailDev {
    fn drop(&mut self) {
        self.stop();
    }
}

impl MailDev {
    /// Starts maildev on free loopback ports (installing the npm packages first if missing) and
    /// waits until its API answers. Panics if it does not within 30 seconds.
    pub async fn start() -> MailDev {
        ensure_node_modules(&crate::push::servers_dir(), "maildev");
        let (smtp_port, web_port) = (crate::chain::free_port(), crate::chain::free_port());
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client");
        let mut m = MailDev { smtp_port, api: format!("http://127.0.0.1:{web_port}"), web_port, child: None, http };
        m.start_again().await;
        m
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP: maildev offers no STARTTLS).
    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.smtp_port)
    }

    /// Takes the server away (SMTP connections are refused until [`MailDev::start_again`]).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server (again) on the same ports and waits until its API answers.
    pub async fn start_again(&mut self) {
        self.stop();
        let bin = crate::push::servers_dir().join("node_modules/maildev/dist/bin/maildev.js");
        let child = Command::new("node")
            .arg(&bin)
            .args(["--smtp", &self.smtp_port.to_string(), "--web", &self.web_port.to_string()])
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e} (is Node.js installed?)", bin.display()));
        self.child = Some(child);
        let until = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            let smtp = tokio::net::TcpStream::connect(("127.0.0.1", self.smtp_port)).await.is_ok();
            if smtp
                && self.http.get(format!("{}/api/email", self.api)).send().await.is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("maildev exited before listening ({status}); its stderr is above");
            }
            assert!(tokio::time::Instant::now() < until, "maildev did not answer within {START_DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every email that arrived, oldest first, as maildev parsed it (`subject`, `to`, `headers`,
    /// `text`, `html`…).
    pub async fn emails(&self) -> Vec<Value> {
        let r = self.http.get(format!("{}/api/email", self.api)).send().await.expect("maildev's /api/email");
        let all: Value = r.json().await.expect("maildev's /api/email answers JSON");
        all.as_array().cloned().unwrap_or_default()
    }

    /// The emails to `to`, waiting until at least `count` arrived; panics after `deadline`, saying
    /// what had.
    pub async fn wait_for(&self, to: &str, count: usize, deadline: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let mine: Vec<Value> = self.emails().await.into_iter().filter(|e| recipient(e) == to).collect();
            if mine.len() >= count {
                return mine;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "{} of {count} emails to {to} arrived within {deadline:?}: {:?}",
                mine.len(),
                mine.iter().map(|e| e["subject"].clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The first recipient's address of a maildev email.
pub fn recipient(email: &Value) -> String {
    email["to"][0]["address"].as_str().unwrap_or_default().to_owned()
}
