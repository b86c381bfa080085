//! `OrderUpserted`, `OrderStatus` and the order side of `TenderAdded`: each order's changes in the
//! batch folded onto what the cloud holds ([`rules::fold_order`]: the outlet's lines and tenders,
//! the status forward only), an erased customer kept erased, items sold after HQ withdrew them
//! raised, and an event for each order first heard of or moved.

use super::Apply;
use crate::catalog::Published;
use crate::events::NewEvent;
use crate::infra::error::Result;
use crate::sync::rules;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::OrderId;
use patty_protocol::order::Order;
use std::collections::BTreeMap;

/// The batch's order changes, per order, in log order.
#[derive(Default)]
pub struct Orders<'a>(BTreeMap<OrderId, Vec<&'a ChangeV1>>);

impl<'a> Orders<'a> {
    /// Takes an `OrderUpserted`, an `OrderStatus` or a `TenderAdded`.
    pub fn parse(&mut self, change: &'a ChangeV1) {
        let id = match change {
            ChangeV1::OrderUpserted { order } => order.id,
            ChangeV1::OrderStatus { order_id, .. } | ChangeV1::TenderAdded { order_id, .. } => *order_id,
            _ => return,
        };
        self.0.entry(id).or_default().push(change);
    }

    /// Folds each order's changes onto what the cloud holds and writes the orders.
    pub async fn apply(
        self,
        batch: &mut Apply,
        tx: &mut sqlx::AnyConnection,
        latest: Option<&Published>,
    ) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = self.0.keys().map(|id| id.to_string()).collect();
        let mut held = crate::ordering::store::lock_orders(tx, batch.backend, &ids).await?;
        let menu = latest.map(|p| (p.published_ms, p.catalog.menu_for(batch.outlet)));
        let mut orders = Vec::with_capacity(self.0.len());
        for (id, list) in self.0 {
            let before = held.remove(&id);
            let erased = before.as_ref().is_some_and(Order::is_erased);
            let before_status = before.as_ref().map(|o| o.status);
            let folded = rules::fold_order(id, before, &list);
            for _ in 0..folded.orphan_statuses {
                tracing::warn!(order = %id, outlet = %batch.outlet, "a status for an order the cloud never heard of");
            }
            for r in folded.raised {
                batch.raise(r);
            }
            let Some(mut order) = folded.order else { continue };
            // The customer was erased here: the outlet's copy (or an upload older than the
            // erasure) brings nothing of them back.
            if erased {
                order.erase_personal();
            }
            if before_status.is_none()
                && let Some((published_ms, menu)) = &menu
            {
                for r in rules::withdrawn_items(&order, *published_ms, menu) {
                    batch.raise(r);
                }
            }
            if let Some(event) = rules::order_event(before_status, &order) {
                let customer = order.customer_id.as_deref();
                batch.events.push(NewEvent::sealed(tx, &batch.vault, customer, &event).await?);
            }
            orders.push(order);
        }
        crate::ordering::store::upsert_orders(tx, &orders).await
    }
}
