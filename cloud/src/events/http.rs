//! The event log over HTTP: a resumable cursor and a live stream (Server-Sent Events).

use super::store::{OutboxEvent, read_after};
use crate::infra::access::Principal;
use crate::infra::error::{Error, Json, Query, Result};
use crate::infra::state::Shared;
use axum::extract::State;
use serde::Deserialize;
use std::time::Duration;

/// Which events.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Events with a position above this (default 0).
    #[serde(default)]
    #[param(minimum = 0)]
    pub after: i64,
    /// Most to return (default 500, at most 5000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<i64>,
}

/// The relayed events in order, with a resumable cursor (HQ). With Kafka off, this is how other
/// systems read the events. Customers' personal fields are shown while their key exists
/// (sealed, see `privacy.rs`, once they are erased).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, body = Vec<OutboxEvent>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(after = q.after))]
pub async fn list(
    State(state): State<Shared>,
    who: Principal,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<OutboxEvent>>> {
    who.require(&[])?;
    if q.after < 0 {
        return Err(Error::Validation("after is 0 or more".into()));
    }
    let mut events = read_after(&state.db, q.after, None, patty_service::http::page_limit(q.limit, 500, 5000)?).await?;
    state.vault.open(&state.db.pool, events.iter_mut().map(|e| &mut e.payload).collect()).await?;
    Ok(Json(events))
}

/// Live events (Server-Sent Events) from a cursor (HQ): every relayed event after `after`, each
/// with its position as the SSE id, so a reconnecting client resumes where it stopped (its
/// `Last-Event-ID` takes the place of `after`).
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, description = "text/event-stream of events", content_type = "text/event-stream")))]
#[tracing::instrument(skip_all, fields(after = q.after))]
pub async fn stream(
    State(state): State<Shared>,
    who: Principal,
    headers: axum::http::HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<impl axum::response::IntoResponse> {
    who.require(&[])?;
    // A stream has no pages; a limit given is still held to its documented range.
    patty_service::http::page_limit(q.limit, 500, 5000)?;
    if q.after < 0 {
        return Err(Error::Validation("after is 0 or more".into()));
    }
    Ok(follow(state, resumed_after(&headers).unwrap_or(q.after), None))
}

/// The position a reconnecting client last saw (`Last-Event-ID`, which the stream's ids are), if
/// it sent one; anything else is ignored, as a fresh connection.
pub fn resumed_after(headers: &axum::http::HeaderMap) -> Option<i64> {
    headers.get("last-event-id")?.to_str().ok()?.trim().parse().ok().filter(|p: &i64| *p >= 0)
}

/// An SSE stream of relayed events after `after` (of one `key` when given), until shutdown.
pub fn follow(
    state: Shared,
    after: i64,
    key: Option<String>,
) -> axum::response::Sse<
    impl futures::Stream<Item = std::result::Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive};
    let mut relayed = state.relayed.subscribe();
    let mut closing = state.closing.subscribe();
    let stream = async_stream(move |tx| async move {
        let mut cursor = after;
        loop {
            let read = async {
                let mut events = read_after(&state.db, cursor, key.as_deref(), 500).await?;
                state.vault.open(&state.db.pool, events.iter_mut().map(|e| &mut e.payload).collect()).await?;
                Ok::<_, Error>(events)
            };
            match read.await {
                Ok(events) => {
                    for e in events {
                        cursor = e.position;
                        let ev = Event::default()
                            .id(cursor.to_string())
                            .event(e.kind.clone())
                            .json_data(&e.payload)
                            .unwrap_or_default();
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event stream read failed"),
            }
            tokio::select! {
                _ = relayed.changed() => {},
                // Another replica may be the one relaying: look again now and then.
                _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                _ = closing.wait_for(|c| *c) => return,
            }
        }
    });
    axum::response::Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A stream fed by a task through a small channel; the task stops when the client goes.
pub fn async_stream<F, Fut>(
    f: F,
) -> impl futures::Stream<Item = std::result::Result<axum::response::sse::Event, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<axum::response::sse::Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}
