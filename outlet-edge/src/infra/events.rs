//! Events published on the live streams after their write is committed.

use patty_protocol::order::Order;
use serde::Serialize;
use std::sync::Arc;

/// Something the kitchen display or the stock screen should see now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An order was taken or changed (status, lines, recall).
    Order {
        /// The order as it now is.
        #[schema(value_type = Order)]
        order: Arc<Order>,
        /// The kitchen recalled it to the screen after bumping it.
        recalled: bool,
    },
    /// A low-stock alert was raised or cleared.
    StockAlert {
        /// The alert.
        alert: StockAlert,
    },
    /// A terminal was locked after wrong PINs.
    SignInAlert {
        /// The alert.
        alert: SignInAlert,
    },
}

/// A terminal locked after repeated wrong PINs, for the manager's attention.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SignInAlert {
    /// The terminal's address.
    pub terminal: String,
    /// Wrong PINs it has made in the last hour or more.
    pub failures: u32,
    /// How long it is locked, seconds.
    pub locked_secs: u64,
    /// When, Unix milliseconds.
    pub at_ms: i64,
}

/// An ingredient at or below its reorder level.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StockAlert {
    /// Alert id.
    pub id: i64,
    /// The ingredient.
    #[schema(value_type = String, format = Uuid)]
    pub ingredient_id: patty_protocol::ids::IngredientId,
    /// Its name.
    pub ingredient_name: String,
    /// Stock when the alert was raised or cleared.
    pub on_hand: i64,
    /// The level that raised it.
    pub reorder_level: i64,
    /// When raised, Unix milliseconds.
    pub raised_ms: i64,
    /// When cleared (stock back above the level), Unix milliseconds.
    pub cleared_ms: Option<i64>,
}

/// A Server-Sent Events stream, ending when the server closes: `initial` first (the snapshot a screen starts from), then every
/// committed event that `keep` accepts. A client too slow to keep up gets a `resync` event and
/// should fetch the snapshot again.
pub fn sse(
    rx: tokio::sync::broadcast::Receiver<Event>,
    mut closing: tokio::sync::watch::Receiver<bool>,
    initial: Vec<Event>,
    keep: impl Fn(&Event) -> bool + Send + 'static,
) -> axum::response::Sse<impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>> {
    use axum::response::sse::{Event as SseEvent, KeepAlive};
    use futures::StreamExt;
    use tokio_stream::wrappers::BroadcastStream;
    use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
    let to_sse = |e: &Event| {
        let name = match e {
            Event::Order { .. } => "order",
            Event::StockAlert { .. } => "stock_alert",
            Event::SignInAlert { .. } => "sign_in_alert",
        };
        SseEvent::default().event(name).json_data(e).unwrap_or_else(|_| SseEvent::default().event("resync"))
    };
    let head = futures::stream::iter(initial.iter().map(to_sse).map(Ok).collect::<Vec<_>>());
    let live = BroadcastStream::new(rx).filter_map(move |r| {
        let out = match r {
            Ok(e) if keep(&e) => Some(Ok(to_sse(&e))),
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(_)) => Some(Ok(SseEvent::default().event("resync").data("{}"))),
        };
        futures::future::ready(out)
    });
    let closed = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    axum::response::Sse::new(head.chain(live).take_until(closed)).keep_alive(KeepAlive::default())
}
