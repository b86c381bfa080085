//! Notifications over HTTP: a person's inbox (its unread count, marking read) and its live stream,
//! their preferences, their browsers' push subscriptions, the signed one-click unsubscribe link,
//! and HQ's view of every message with its dead letters to send again. No SQL: the handlers call
//! [`super::store`] and [`super::flow`].

use super::rules::{Category, Prefs};
use super::store::{self, Message};
use super::{NotifyState, flow, templates};
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Query, Result};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One message in the inbox, rendered in its language.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InboxItem {
    /// Id.
    pub id: String,
    /// The template (`order.accepted`…).
    pub template: String,
    /// The title.
    pub title: String,
    /// The text.
    pub body: String,
    /// Where it points, if anywhere.
    pub link: Option<String>,
    /// When it came, Unix ms.
    pub created_ms: i64,
    /// When it was read, Unix ms.
    pub read_ms: Option<i64>,
}

fn item(m: &Message) -> InboxItem {
    let vars: templates::Vars = serde_json::from_value(m.vars.clone()).unwrap_or_default();
    let mut with_name = vars.clone();
    with_name.entry("name".into()).or_insert_with(|| "there".into());
    let (title, body) = match templates::render(&m.template, &m.lang, &with_name, None) {
        Ok(r) => (r.subject, r.text.replace("\r\n", "\n")),
        Err(e) => (m.template.clone(), format!("({e})")),
    };
    InboxItem {
        id: m.id.clone(),
        template: m.template.clone(),
        title,
        body,
        link: vars.get("link").cloned(),
        created_ms: m.created_ms,
        read_ms: m.read_ms,
    }
}

/// The inbox.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Inbox {
    /// How many are unread.
    pub unread: i64,
    /// The newest messages first.
    pub items: Vec<InboxItem>,
}

/// How many to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// Most to return, newest first (default 50, at most 200).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// My inbox: the in-app messages, newest first, and the unread count (anyone signed in).
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "notifications", security(("bearer" = [])),
    params(InboxQuery), responses((status = 200, body = Inbox)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn inbox(
    State(state): State<NotifyState>,
    who: Principal,
    Query(q): Query<InboxQuery>,
) -> Result<Json<Inbox>> {
    let limit = patty_service::http::page_limit(q.limit, 50, 200)?;
    let items = store::inbox(&state.db, &who.subject, None, limit).await?;
    Ok(Json(Inbox { unread: store::unread(&state.db, &who.subject).await?, items: items.iter().map(item).collect() }))
}

/// How many were marked.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Marked {
    /// Messages marked read.
    pub marked: u64,
    /// Unread after.
    pub unread: i64,
}

/// Marks every message of my inbox read.
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Marked)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn read_all(State(state): State<NotifyState>, who: Principal) -> Result<Json<Marked>> {
    let marked = store::mark_read(&state.db, &who.subject, None, now_ms()).await?;
    Ok(Json(Marked { marked, unread: store::unread(&state.db, &who.subject).await? }))
}

/// Marks one message of my inbox read (again: no change).
#[utoipa::path(post, path = "/api/v1/me/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses((status = 200, body = Marked), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(notification.id = %id))]
pub async fn read_one(
    State(state): State<NotifyState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Marked>> {
    if !store::owns(&state.db, &who.subject, &id).await? {
        return Err(Error::NotFound(format!("no notification {id} in your inbox")));
    }
    let marked = store::mark_read(&state.db, &who.subject, Some(&id), now_ms()).await?;
    Ok(Json(Marked { marked, unread: store::unread(&state.db, &who.subject).await? }))
}

/// My inbox live (Server-Sent Events): each new message as a `notification` event whose id is its
/// time, so a reconnecting client (`Last-Event-ID`) misses none.
#[utoipa::path(get, path = "/api/v1/me/notifications/stream", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of InboxItem", content_type = "text/event-stream")))]
#[tracing::instrument(skip_all)]
pub async fn stream(
    State(state): State<NotifyState>,
    who: Principal,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse> {
    use axum::response::sse::{Event, KeepAlive};
    let mut after = crate::events::http::resumed_after(&headers).unwrap_or_else(now_ms);
    let mut mine = state.inbox.subscribe();
    let mut closing = state.closing.subscribe();
    let user = who.subject;
    let events = crate::events::http::async_stream(move |tx| async move {
        loop {
            match store::inbox(&state.db, &user, Some(after), 100).await {
                Ok(items) => {
                    for m in items {
                        after = after.max(m.created_ms);
                        let ev =
                            Event::default().id(m.created_ms.to_string()).event("notification").json_data(item(&m));
                        if tx.send(ev.unwrap_or_default()).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "inbox stream read failed"),
            }
            tokio::select! {
                _ = mine.recv() => {},
                // A notifier elsewhere writes without waking us: look again now and then.
                _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                _ = closing.wait_for(|c| *c) => return,
            }
        }
    });
    Ok(axum::response::Sse::new(events).keep_alive(KeepAlive::default()))
}

/// My notification preferences (the defaults filled in).
#[utoipa::path(get, path = "/api/v1/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Prefs)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn get_prefs(State(state): State<NotifyState>, who: Principal) -> Result<Json<Prefs>> {
    let mut p = store::prefs(&state.db, &who.subject).await?;
    for c in Category::SETTABLE {
        p.channels.entry(c).or_insert_with(|| c.default_channels());
    }
    Ok(Json(p))
}

/// Replaces my notification preferences: the channels per category (`orders`, `loyalty`,
/// `marketing`, `operations`, `jobs`; security messages cannot be turned off), the language,
/// the time zone and quiet hours.
#[utoipa::path(put, path = "/api/v1/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    request_body = Prefs, responses((status = 200, body = Prefs), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn put_prefs(State(state): State<NotifyState>, who: Principal, Json(p): Json<Prefs>) -> Result<Json<Prefs>> {
    p.check().map_err(|e| Error::Validation(e.to_string()))?;
    store::set_prefs(&state.db, &who.subject, &p, now_ms()).await?;
    get_prefs(State(state), who).await
}

/// The key browsers subscribe with.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PushKey {
    /// The VAPID public key, base64url (`applicationServerKey`).
    pub public_key: String,
}

/// The web push key (anyone: the apps ask before subscribing).
#[utoipa::path(get, path = "/api/v1/notifications/push-key", tag = "notifications",
    responses((status = 200, body = PushKey), (status = 503, body = patty_protocol::ErrorBody)))]
pub async fn push_key(State(state): State<NotifyState>) -> Result<Json<PushKey>> {
    match &state.channels.vapid_public {
        Some(k) => Ok(Json(PushKey { public_key: k.clone() })),
        None => Err(Error::Unavailable("web push is not configured".into())),
    }
}

/// A browser's push subscription, as `PushManager.subscribe()` gives it.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct PushSubscriptionIn {
    /// The push service's URL for this browser (`https://…`).
    pub endpoint: String,
    /// Its keys.
    pub keys: PushKeys,
}

/// A subscription's keys.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// Its authentication secret, base64url.
    pub auth: String,
}

/// A kept subscription.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PushSubscriptionOut {
    /// Id.
    pub id: String,
    /// Its push service's URL.
    pub endpoint: String,
}

fn decoded_len(s: &str) -> Option<usize> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok().map(|b| b.len())
}

/// Keeps this browser's push subscription for me (the same endpoint again replaces it).
#[utoipa::path(post, path = "/api/v1/me/push-subscriptions", tag = "notifications", security(("bearer" = [])),
    request_body = PushSubscriptionIn,
    responses((status = 201, body = PushSubscriptionOut), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn add_push(
    State(state): State<NotifyState>,
    who: Principal,
    Json(s): Json<PushSubscriptionIn>,
) -> Result<(StatusCode, Json<PushSubscriptionOut>)> {
    let url = reqwest::Url::parse(&s.endpoint).map_err(|_| Error::Validation("endpoint is not a URL".into()))?;
    if !matches!(url.scheme(), "https" | "http") || s.endpoint.len() > 2048 {
        return Err(Error::Validation("endpoint must be an http(s) URL of at most 2048 characters".into()));
    }
    if decoded_len(&s.keys.p256dh) != Some(65) || decoded_len(&s.keys.auth) != Some(16) {
        return Err(Error::Validation(
            "keys.p256dh must be a base64url P-256 point (65 bytes) and keys.auth 16 bytes".into(),
        ));
    }
    let doc = serde_json::to_string(&s)?;
    let id = format!("psub_{}", uuid::Uuid::now_v7().simple());
    let id = store::add_subscription(&state.db, &id, &who.subject, &s.endpoint, &doc, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(PushSubscriptionOut { id, endpoint: s.endpoint })))
}

/// My push subscriptions.
#[utoipa::path(get, path = "/api/v1/me/push-subscriptions", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Vec<PushSubscriptionOut>)))]
pub async fn list_push(State(state): State<NotifyState>, who: Principal) -> Result<Json<Vec<PushSubscriptionOut>>> {
    let subs = store::subscriptions_of(&state.db, &who.subject).await?;
    Ok(Json(
        subs.into_iter()
            .map(|s| {
                let endpoint =
                    serde_json::from_str::<PushSubscriptionIn>(&s.doc).map(|d| d.endpoint).unwrap_or_default();
                PushSubscriptionOut { id: s.id, endpoint }
            })
            .collect(),
    ))
}

/// Forgets one of my push subscriptions.
#[utoipa::path(delete, path = "/api/v1/me/push-subscriptions/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "subscription id")),
    responses((status = 204), (status = 404, body = patty_protocol::ErrorBody)))]
pub async fn remove_push(
    State(state): State<NotifyState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if store::remove_subscription(&state.db, &id, Some(&who.subject)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound(format!("no push subscription {id}")))
    }
}

/// An unsubscribe link's parts.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeQuery {
    /// The person.
    pub u: String,
    /// The category (`marketing`, `loyalty`…).
    pub c: Category,
    /// The link's signature.
    pub s: String,
}

async fn do_unsubscribe(state: &NotifyState, q: &UnsubscribeQuery) -> Result<()> {
    let want = super::link_signature(state, &q.u, q.c);
    if q.c == Category::Security || !patty_service::secret::constant_time_eq(want.as_bytes(), q.s.as_bytes()) {
        return Err(Error::BadSignature("this unsubscribe link is not valid".into()));
    }
    let mut p = store::prefs(&state.db, &q.u).await?;
    // Only the inbox stays: it never buzzes, and it is where the person can turn things back on.
    p.channels.insert(q.c, vec![super::rules::Via::InApp]);
    store::set_prefs(&state.db, &q.u, &p, now_ms()).await
}

/// The one-click unsubscribe link of a marketing email: no sign-in; the signature proves the link
/// was ours for this person. Turns the category off on every channel but the inbox.
#[utoipa::path(get, path = "/api/v1/notifications/unsubscribe", tag = "notifications", params(UnsubscribeQuery),
    responses((status = 200, description = "a page saying it is done", content_type = "text/html"),
        (status = 400, description = "a link that is not ours (bad_signature)", body = patty_protocol::ErrorBody),
        (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn unsubscribe(State(state): State<NotifyState>, Query(q): Query<UnsubscribeQuery>) -> Result<Html<String>> {
    do_unsubscribe(&state, &q).await?;
    Ok(Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head><body>\
         <h1>You are unsubscribed</h1><p>You will get no more of these messages by email, push or SMS. \
         You can turn them back on in your account's notification settings.</p></body></html>"
            .into(),
    ))
}

/// The same, as RFC 8058's one-click `POST` a mail program sends.
#[utoipa::path(post, path = "/api/v1/notifications/unsubscribe", tag = "notifications", params(UnsubscribeQuery),
    responses((status = 204), (status = 400, description = "a link that is not ours (bad_signature)", body = patty_protocol::ErrorBody),
        (status = 422, body = patty_protocol::ErrorBody)))]
pub async fn unsubscribe_post(
    State(state): State<NotifyState>,
    Query(q): Query<UnsubscribeQuery>,
) -> Result<StatusCode> {
    do_unsubscribe(&state, &q).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A message's state.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting to be sent (now, after quiet hours, or after a failed try).
    Queued,
    /// Taken by the email, push or SMS server.
    Sent,
    /// In the inbox.
    Delivered,
    /// Given up: a dead letter.
    Failed,
    /// Not sent: the person's preferences, or no server for the channel.
    Suppressed,
}

impl MessageState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
        }
    }
}

/// Which messages HQ lists.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only those in this state (`failed`: the dead letters).
    #[serde(default)]
    #[param(inline)]
    pub state: Option<MessageState>,
    /// Only this person's.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Most to return, newest first (default 100, at most 1000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Every message, newest first, with its state and the reason it failed (HQ).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<Message>), (status = 422, body = patty_protocol::ErrorBody),
        (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(
    State(state): State<NotifyState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Message>>> {
    who.require(&[Role::HqAdmin])?;
    let limit = patty_service::http::page_limit(q.limit, 100, 1000)?;
    Ok(Json(store::list(&state.db, q.state.map(MessageState::as_str), q.recipient.as_deref(), limit).await?))
}

/// Sends a dead letter again (HQ).
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses((status = 202), (status = 403, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(notification.id = %id))]
pub async fn retry(State(state): State<NotifyState>, who: Principal, Path(id): Path<String>) -> Result<StatusCode> {
    who.require(&[Role::HqAdmin])?;
    flow::retry(&state, &id).await?;
    Ok(StatusCode::ACCEPTED)
}
