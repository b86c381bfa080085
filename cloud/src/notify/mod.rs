//! Notifications: the domain events turned into messages for the people concerned (customers,
//! outlet managers, HQ, drivers), on the channels each allows, recorded, sent at least once and
//! at most once in effect.
//!
//! The notifier follows the relayed event log (so it works with Kafka off), as one cursor shared
//! by every replica: inside the cloud (`notify.embedded`, the default) or as `patty-notifier`
//! beside it, as many as wanted, on the same database. Each event becomes messages (one per
//! person, channel and push subscription) under an idempotency key, so reading an event twice,
//! a restart or a second replica never makes a second message; a message is claimed (leased)
//! before it is sent, so two replicas never send it at once, and a message whose send keeps
//! failing ends as a dead letter HQ can see and send again. Security messages (verification,
//! reset) come straight from identity, never through an event: their token is sealed at rest
//! and dropped once sent.
//!
//! # Layout
//! - [`rules`]: pure: kinds, categories, preferences, quiet hours, backoff.
//! - [`templates`]: the messages per kind and language, rendered.
//! - [`plan`]: who hears of an event, with which values.
//! - [`flow`]: messages written, security messages queued, due messages sent.
//! - [`channel`]: email (SMTP, a pickup directory), web push, SMS.
//! - [`store`]: the messages, preferences, push subscriptions.
//! - [`worker`]: the loop: the event log, the offline outlets, the sends.
//! - [`kafka`]: the other source: a consumer group of its own, when `notify.source = "kafka"`.
//! - [`http`]: the inbox and its live stream, preferences, push subscriptions, the unsubscribe
//!   link, HQ's dead letters.
//!
//! May use `infra`, `events`, and the public functions of `identity` (people), `ordering`,
//! `delivery`, `payments`, `outlets` and `sync` (what an event is about).

pub mod channel;
pub mod flow;
pub mod http;
pub mod kafka;
pub mod plan;
pub mod rules;
pub mod store;
pub mod templates;
pub mod worker;

use crate::infra::atrest::AtRest;
use crate::infra::state::Shared;
use channel::Channel;
use rules::{Category, Via};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What notifications' handlers and workers use.
#[derive(Clone)]
pub struct NotifyState {
    /// The leaves every domain shares.
    pub shared: Shared,
    /// The key ring security messages' tokens are sealed with.
    pub ring: Arc<AtRest>,
    /// The configured channels.
    pub channels: Arc<Channels>,
    /// The key unsubscribe links are signed with.
    pub link_key: Arc<Vec<u8>>,
    /// Woken when a message is queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// The people whose inbox just got a message (for the live streams here).
    pub inbox: tokio::sync::broadcast::Sender<String>,
}
crate::shared_state!(NotifyState);

/// The channels messages leave by; a channel left out is not configured here.
#[derive(Default)]
pub struct Channels {
    /// Email.
    pub email: Option<Arc<dyn Channel>>,
    /// Web push.
    pub push: Option<Arc<dyn Channel>>,
    /// SMS.
    pub sms: Option<Arc<dyn Channel>>,
    /// The VAPID public key browsers subscribe with, when push is configured.
    pub vapid_public: Option<String>,
}

impl Channels {
    /// The channel for `via` (in-app needs none).
    pub fn get(&self, via: Via) -> Option<&Arc<dyn Channel>> {
        match via {
            Via::Email => self.email.as_ref(),
            Via::Push => self.push.as_ref(),
            Via::Sms => self.sms.as_ref(),
            Via::InApp => None,
        }
    }

    /// Whether messages on `via` can be sent here.
    pub fn has(&self, via: Via) -> bool {
        via == Via::InApp || self.get(via).is_some()
    }
}

impl NotifyState {
    /// The state for `shared`, with the channels its configuration names.
    pub fn open(shared: Shared, ring: Arc<AtRest>) -> crate::infra::error::Result<Self> {
        let channels = channel::from_config(&shared.config)?;
        let key =
            crate::infra::config::key_or_file(&shared.config.notify.link_secret, &shared.config.data_dir, "links.key")?;
        Ok(Self {
            shared,
            ring,
            channels: Arc::new(channels),
            link_key: Arc::new(key),
            wake: Default::default(),
            inbox: tokio::sync::broadcast::channel(1024).0,
        })
    }
}

/// The signature of an unsubscribe link for `user` and `category`.
fn link_signature(state: &NotifyState, user: &str, category: Category) -> String {
    let category = serde_json::to_value(category).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    patty_service::secret::mac(&state.link_key, format!("unsubscribe:{user}:{category}").as_bytes())
}

/// The one-click link that turns `category` off for `user` on every channel but the inbox: signed,
/// so it needs no sign-in and cannot be made for someone else.
pub fn unsubscribe_link(state: &NotifyState, user: &str, category: Category) -> String {
    let base = state.config.notify.public_url.trim_end_matches('/');
    let c = serde_json::to_value(category).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    format!("{base}/api/v1/notifications/unsubscribe?u={user}&c={c}&s={}", link_signature(state, user, category))
}

/// Security messages from identity, queued by the notifier.
pub struct SecurityQueue(pub NotifyState);

impl crate::infra::mail::Outbox for SecurityQueue {
    fn accept(
        &self,
        message: crate::infra::mail::SecurityMessage,
    ) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { flow::enqueue_security(&self.0, message).await.map(|_| ()).map_err(|e| e.to_string()) })
    }
}

/// Deletes what is kept about an erased person (privacy's erasure).
pub use store::erase;

/// The routes: a person's inbox, its live stream, preferences and push subscriptions; the
/// unsubscribe link; HQ's view of messages and dead letters.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    NotifyState: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(http::inbox))
        .routes(routes!(http::read_all))
        .routes(routes!(http::read_one))
        .routes(routes!(http::stream))
        .routes(routes!(http::get_prefs, http::put_prefs))
        .routes(routes!(http::push_key))
        .routes(routes!(http::add_push, http::list_push))
        .routes(routes!(http::remove_push))
        .routes(routes!(http::unsubscribe, http::unsubscribe_post))
        .routes(routes!(http::list))
        .routes(routes!(http::retry))
}
