//! The downward stream: the events an outlet must hear of, read after the position it last
//! applied, each turned into a [`DownV1`] message and a length-prefixed postcard frame carrying
//! its position; live (woken by the relay), with a keep-alive when idle.

use super::{KEEPALIVE, SyncState, store};
use crate::infra::error::Result;
use axum::body::{Body, Bytes};
use patty_protocol::change::{DownFrame, DownV1};
use patty_protocol::conflict::Conflict;
use patty_protocol::ids::OutletId;
use patty_protocol::order::{Order, OrderStatus};

/// The stream of `outlet`'s frames after `after`, until the client goes or the cloud closes.
pub fn stream(state: SyncState, outlet: OutletId, after: i64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(16);
    let mut relayed = state.relayed.subscribe();
    let mut closing = state.closing.subscribe();
    state.figures.connect(outlet);
    tokio::spawn(async move {
        let mut cursor = after;
        loop {
            match frames_after(&state, outlet, cursor).await {
                Ok((frames, top)) => {
                    cursor = top;
                    if !frames.is_empty() && tx.send(Ok(Bytes::from(frames))).await.is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, %outlet, "downward stream read failed"),
            }
            let idle = tokio::select! {
                _ = relayed.changed() => false,
                _ = tokio::time::sleep(KEEPALIVE) => true,
                _ = closing.wait_for(|c| *c) => break,
            };
            if idle {
                if tx.send(Ok(Bytes::from_static(&[0, 0, 0, 0]))).await.is_err() {
                    break;
                }
                // An open stream is the outlet being there, uploads or not (the notifier reports an
                // outlet offline from this).
                if let Err(e) = store::touch(&state.db, &outlet.to_string(), crate::infra::db::now_ms()).await {
                    tracing::warn!(error = %e, %outlet, "noting the outlet seen failed");
                }
            }
        }
        state.figures.disconnect(outlet);
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// The encoded frames for `outlet` after `after`, and the position read up to.
async fn frames_after(state: &SyncState, outlet: OutletId, after: i64) -> Result<(Vec<u8>, i64)> {
    let mut events = store::events_after(&state.db, outlet, after).await?;
    // The outlet reads its customers' orders whole while their keys exist; an erased customer's
    // order arrives blank.
    state.vault.open(&state.db.pool, events.iter_mut().map(|e| &mut e.payload).collect()).await?;
    let mut out = Vec::new();
    let mut top = after;
    for e in events {
        top = e.position;
        if let Some(msg) = down_message(state, outlet, &e.kind, e.payload["data"].clone()).await? {
            out.extend(patty_sync::wire::encode_frame(&DownFrame { position: e.position as u64, msg }));
        }
    }
    Ok((out, top))
}

/// What an event means for one outlet's edge.
async fn down_message(
    state: &SyncState,
    outlet: OutletId,
    kind: &str,
    data: serde_json::Value,
) -> Result<Option<DownV1>> {
    Ok(match kind {
        "order.placed" => Some(DownV1::OnlineOrder { order: Box::new(serde_json::from_value(data)?) }),
        "order.cancelled" => {
            let order: Order = serde_json::from_value(data["order"].clone())?;
            Some(DownV1::OrderCancelled { order_id: order.id, reason: order.closed_reason })
        }
        "catalog.published" => {
            let version = data["version"].as_i64().unwrap_or(0);
            let catalog = crate::catalog::store::version(&state.db, version)
                .await?
                .ok_or_else(|| crate::infra::error::Error::Internal(format!("catalog version {version} is gone")))?
                .catalog;
            Some(DownV1::Catalog { version, menu_json: serde_json::to_string(&catalog.menu_for(outlet))? })
        }
        "stock.threshold_set" => Some(DownV1::Threshold {
            ingredient_id: serde_json::from_value(data["ingredient_id"].clone())?,
            reorder_level: data["reorder_level"].as_i64().unwrap_or(0),
        }),
        "staff.upserted" => Some(DownV1::Staff { staff: serde_json::from_value(data)? }),
        "conflict.raised" => Some(DownV1::ConflictRaised { conflict: serde_json::from_value(data)? }),
        "customer.orders_erased" => {
            Some(DownV1::OrdersErased { order_ids: serde_json::from_value(data["order_ids"].clone())? })
        }
        "conflict.resolved" => {
            let c: Conflict = serde_json::from_value(data)?;
            c.resolution.map(|resolution| DownV1::ConflictResolved { id: c.id, resolution })
        }
        // Every other status move the cloud tags for the outlet (out for delivery, completed).
        k => match k.strip_prefix("order.").and_then(OrderStatus::parse) {
            Some(status) if !matches!(status, OrderStatus::Placed) => {
                Some(DownV1::OrderMoved { order_id: serde_json::from_value(data["order_id"].clone())?, status })
            }
            _ => None,
        },
    })
}
