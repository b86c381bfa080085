//! The sender: one task that, while the link to the cloud is up, takes the requests whose time
//! has come to the cloud ([`Cloud::ask`]), lets [`rules::step`] say what the answer makes of each,
//! and keeps that ([`store::apply_step`]). While the link is down it asks nothing: requests stay
//! queued, and every queued one goes as soon as the link is back.

use super::cloud::Cloud;
use super::{rules, store};
use crate::infra::state::AppState;
use crate::infra::store::now_ms;
use std::time::Duration;

/// How often the sender looks at the link and the queue.
const TICK: Duration = Duration::from_secs(1);

/// Starts the sender when a cloud is configured.
pub fn start(state: &AppState) {
    let cfg = &state.config.cloud;
    if cfg.url.is_empty() {
        return;
    }
    let client = match cfg.http_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client; refunds of online payments stay queued");
            return;
        }
    };
    let cloud = Cloud { client, base: cfg.url.trim_end_matches('/').to_owned(), key: cfg.api_key.clone() };
    tokio::spawn(run(state.clone(), cloud));
}

async fn run(state: AppState, cloud: Cloud) {
    let mut closing = state.closing.subscribe();
    let mut was_online = false;
    loop {
        if *closing.borrow() {
            return;
        }
        let online = state.sync.online();
        if online {
            send_due(&state, &cloud, !was_online).await;
        }
        was_online = online;
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {},
            _ = closing.wait_for(|c| *c) => return,
        }
    }
}

/// One pass: asks the cloud about every request due (every queued one when `all_queued`) and
/// keeps what each answer makes of it; how many were asked about.
async fn send_due(state: &AppState, cloud: &Cloud, all_queued: bool) -> usize {
    let due = match state.store.read(move |c| store::due(c, now_ms(), all_queued)).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "reading the refund requests failed");
            return 0;
        }
    };
    let n = due.len();
    for r in due {
        let answer = cloud.ask(&r).await;
        let step = rules::step(&r, answer, now_ms());
        let (id, from, to) = (r.id.clone(), r.state, step.state);
        match store::apply_step(state, r, step).await {
            Ok(Some(now)) if from != to => {
                tracing::info!(request = %id, from = from.as_str(), to = to.as_str(), message = now.message.as_deref().unwrap_or(""), "refund request")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(request = %id, error = %e, "keeping a refund request's answer failed"),
        }
    }
    n
}
