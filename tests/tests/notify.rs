//! The notifier on its own, scaled: the cloud binary with `notify.embedded = false` and two
//! `patty-notifier` binaries beside it on the same PostgreSQL database, sending to a real SMTP
//! server (maildev). Customers register at once; one notifier is stopped mid-run and started
//! again; every verification email arrives exactly once, and each replica's `/metrics` counts
//! what the table holds.

use patty_tests::chain::{Cloud, CloudOptions, Killed};
use patty_tests::fixtures::eventually;
use patty_tests::mail::{MailDev, recipient};
use patty_tests::postgres::postgres_schema;
use patty_tests::process::{spawn_service, workspace_binary};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

const CUSTOMERS: usize = 30;

fn notifier(dir: &Path, envs: &[(&str, String)]) -> (Killed, String) {
    let args = ["--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()];
    let (child, base) = spawn_service(&workspace_binary("patty-notifier"), &args, envs);
    (Killed(child), base)
}

/// Stops a notifier as an orchestrator would (SIGTERM) and waits for it to exit cleanly.
async fn terminate(n: &mut Killed) {
    let pid = n.0.id().to_string();
    let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    n.finishes(30).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_notifiers_send_every_message_once_through_a_restart() {
    let mail = MailDev::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The notifiers share the cloud's database and, through its data directory, its keys.
    let shared = vec![("PATTY_DATABASE__URL", postgres_schema().await), ("PATTY_NOTIFY__SMTP_URL", mail.smtp_url())];
    let mut envs = shared.clone();
    envs.push(("PATTY_NOTIFY__EMBEDDED", "false".into()));
    let cloud = Cloud::start(dir.path(), CloudOptions { envs, ..Default::default() }).await;
    let (mut first, _) = notifier(dir.path(), &shared);
    let (_second, second_url) = notifier(dir.path(), &shared);

    let register = |i: usize| {
        let api = &cloud.api;
        async move {
            let body =
                json!({ "email": format!("c{i}@example.com"), "password": "s3cret-pass", "name": format!("C{i}") });
            api.ok(Method::POST, "", "/api/v1/auth/register", Some(body)).await
        }
    };
    futures::future::join_all((0..CUSTOMERS).map(register)).await;

    // One notifier goes away mid-run and comes back.
    eventually("a few emails sent", 60, || async { (mail.emails().await.len() >= 5).then_some(()) }).await;
    terminate(&mut first).await;
    let (_restarted, restarted_url) = notifier(dir.path(), &shared);

    let sent = eventually("every verification email recorded sent", 60, || async {
        let all = cloud.api.ok(Method::GET, &cloud.admin, "/api/v1/notifications?state=sent&limit=1000", None).await;
        let n = all.as_array().unwrap().iter().filter(|m| m["template"] == "security.email_verification").count();
        (n == CUSTOMERS).then_some(n)
    })
    .await;
    let emails = mail.emails().await;
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for e in &emails {
        *per.entry(recipient(e)).or_default() += 1;
    }
    assert_eq!(per.len(), CUSTOMERS, "every customer got theirs: {per:?}");
    assert!(per.values().all(|n| *n == 1), "none twice: {per:?}");
    assert_eq!(emails.len(), sent);
    let queued = cloud.api.ok(Method::GET, &cloud.admin, "/api/v1/notifications?state=queued", None).await;
    assert_eq!(queued, json!([]), "nothing left to send");

    // Each running replica's metrics read the shared table.
    for base in [restarted_url, second_url] {
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        let line = format!("patty_notifications{{channel=\"email\",state=\"sent\"}} {CUSTOMERS}");
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
}
