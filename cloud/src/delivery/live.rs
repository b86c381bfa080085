//! The live streams (Server-Sent Events): what tracking and the lifecycle publish ([`Live`]),
//! each stream letting through what its reader may see.

use super::DeliveryState;
use tokio::sync::broadcast;

/// Something a live stream may show, with who may see it.
#[derive(Clone, Debug)]
pub struct Live {
    /// The outlet whose delivery it is about.
    pub outlet: Option<patty_protocol::ids::OutletId>,
    /// The customer whose delivery it is about.
    pub customer: Option<String>,
    /// The delivery.
    pub delivery: Option<patty_protocol::ids::DeliveryId>,
    /// The driver.
    pub driver: Option<String>,
    /// `position`, `status`, `geofence`.
    pub kind: &'static str,
    /// The JSON sent.
    pub data: serde_json::Value,
}

/// A live stream of what `keep` lets through, as Server-Sent Events.
pub fn stream(
    state: DeliveryState,
    keep: impl Fn(&Live) -> bool + Send + 'static,
) -> axum::response::Sse<
    impl futures::Stream<Item = std::result::Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive};
    let mut rx = state.deliveries.live.subscribe();
    let mut closing = state.closing.subscribe();
    let stream = crate::events::async_stream(move |tx| async move {
        loop {
            let live = tokio::select! {
                l = rx.recv() => l,
                _ = closing.wait_for(|c| *c) => return,
            };
            match live {
                Ok(l) if keep(&l) => {
                    let ev = Event::default().event(l.kind).json_data(&l.data).unwrap_or_default();
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // A slow reader missed some: say so, and go on from the newest.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let _ = tx.send(Event::default().event("lagged").data(n.to_string())).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    axum::response::Sse::new(stream).keep_alive(KeepAlive::default())
}
