//! Sync's pure decisions: whether an upload is admitted, how an order's changes fold onto what the
//! cloud holds (its status only forward, through [`patty_sync::merge`]), and when a conflict is
//! raised and what its two sides say. No SQL, no I/O: the apply path reads, calls these, writes.

use super::{MAX_ENTRIES, SyncError};
use patty_protocol::change::{ChangeEntry, ChangeV1};
use patty_protocol::conflict::ConflictKind;
use patty_protocol::events::{OrderEvent, OrderMoved, OrderPlaced};
use patty_protocol::ids::{OrderId, OutletId};
use patty_protocol::menu::Menu;
use patty_protocol::order::{Order, OrderStatus};
use patty_sync::merge::{self, StatusMerge};

/// A conflict to raise: its kind, subject and both sides (the caller gives it an id and a time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raise {
    /// What kind of conflict.
    pub kind: ConflictKind,
    /// What it is about (an order id, an ingredient id).
    pub subject: String,
    /// What the outlet did.
    pub outlet_side: String,
    /// What the cloud holds.
    pub cloud_side: String,
}

/// Whether `outlet`'s edge may upload `entries` (already decoded).
pub fn admit_batch(outlet: OutletId, entries: &[ChangeEntry]) -> Result<(), SyncError> {
    if entries.len() > MAX_ENTRIES {
        return Err(SyncError::TooManyEntries);
    }
    if entries.first().is_some_and(|e| e.origin != outlet) {
        return Err(SyncError::OtherOutletsLog);
    }
    if entries.first().is_some_and(|e| e.seq == 0) {
        return Err(SyncError::SequenceZero);
    }
    Ok(())
}

/// One order's changes folded onto what the cloud held.
#[derive(Debug)]
pub struct Folded {
    /// The order as it now is (`None`: the cloud never heard of it and the changes did not say).
    pub order: Option<Order>,
    /// The conflicts the merge found, in the order found.
    pub raised: Vec<Raise>,
    /// Status changes for an order the cloud never heard of (ignored; worth a log line).
    pub orphan_statuses: usize,
}

/// Folds `changes` (the batch's order upserts, status moves and tenders for order `id`, in log
/// order) onto `before`: the outlet's lines and tenders, the merged status.
pub fn fold_order(id: OrderId, before: Option<Order>, changes: &[&ChangeV1]) -> Folded {
    let mut raised = Vec::new();
    let mut orphan_statuses = 0;
    let mut cur = before;
    for change in changes {
        match change {
            ChangeV1::OrderUpserted { order } => {
                let mut theirs = (**order).clone();
                if let Some(c) = &cur {
                    // The outlet's lines and tenders, the merged status.
                    theirs.status = merge_status(id, c.status, theirs.status, c, &mut raised);
                    if theirs.status == c.status {
                        theirs.closed_reason = c.closed_reason.clone();
                    }
                    theirs.customer_id = theirs.customer_id.or(c.customer_id.clone());
                }
                cur = Some(theirs);
            }
            ChangeV1::OrderStatus { status, reason, by, .. } => {
                let Some(c) = cur.as_mut() else {
                    orphan_statuses += 1;
                    continue;
                };
                let snapshot = c.clone();
                let to = merge_status(id, c.status, *status, &snapshot, &mut raised);
                if to != c.status {
                    c.status = to;
                    if to.is_final() && *status == to {
                        c.closed_reason = reason.clone().or(c.closed_reason.take());
                        c.closed_by = by.or(c.closed_by);
                    }
                }
            }
            ChangeV1::TenderAdded { tender, .. } => {
                if let Some(c) = cur.as_mut()
                    && !c.tenders.iter().any(|t| t.id == tender.id)
                {
                    c.paid += tender.amount;
                    c.tenders.push(tender.clone());
                }
            }
            _ => {}
        }
    }
    Folded { order: cur, raised, orphan_statuses }
}

/// The merged status of `id` when the outlet reports `theirs` and the cloud holds `ours`; a
/// conflict the merge finds goes to `raised`.
fn merge_status(
    id: OrderId,
    ours: OrderStatus,
    theirs: OrderStatus,
    held: &Order,
    raised: &mut Vec<Raise>,
) -> OrderStatus {
    match merge::merge_status(id, ours, theirs, held.fulfilment) {
        StatusMerge::Keep => ours,
        StatusMerge::Take(s) => s,
        StatusMerge::TakeWithConflict(s, c) => {
            raised.push(merge_conflict(c, held));
            s
        }
        StatusMerge::KeepWithConflict(c) => {
            raised.push(merge_conflict(c, held));
            ours
        }
    }
}

/// What a conflict found by the status merge says.
fn merge_conflict(c: merge::Conflict, held: &Order) -> Raise {
    match c {
        merge::Conflict::CancelRacedKitchen { order_id, outlet_status } => Raise {
            kind: ConflictKind::CancelRacedKitchen,
            subject: order_id.to_string(),
            outlet_side: format!("the outlet moved order {} to {}", held.number, outlet_status.as_str()),
            cloud_side: format!(
                "the customer cancelled it online ({})",
                held.closed_reason.as_deref().unwrap_or("no reason given")
            ),
        },
        merge::Conflict::FinalStatusesDiffer { order_id, ours, theirs } => Raise {
            kind: ConflictKind::FinalStatusesDiffer,
            subject: order_id.to_string(),
            outlet_side: format!("the outlet closed order {} as {}", held.number, theirs.as_str()),
            cloud_side: format!("the cloud closed it as {}", ours.as_str()),
        },
        merge::Conflict::StockBelowZero { ingredient_id, on_hand } => below_zero(ingredient_id.to_string(), on_hand),
    }
}

/// The items a newly heard-of order sold that the published catalog (published at
/// `published_ms`, as `menu` at this outlet) no longer offers, for an order taken after it.
pub fn withdrawn_items(order: &Order, published_ms: i64, menu: &Menu) -> Vec<Raise> {
    if order.created_ms < published_ms {
        return Vec::new();
    }
    order
        .lines
        .iter()
        .filter(|l| menu.item(l.item_id).is_none())
        .map(|line| Raise {
            kind: ConflictKind::ItemWithdrawn,
            subject: order.id.to_string(),
            outlet_side: format!("order {} sold {} × {} ({})", order.number, line.quantity, line.name, line.item_id),
            cloud_side: format!("the published catalog does not offer {} at this outlet", line.name),
        })
        .collect()
}

/// What an order's fold tells the rest of the cloud: `order.recorded` when first heard of,
/// `order.<status>` when its status moved, nothing otherwise.
pub fn order_event(before: Option<OrderStatus>, order: &Order) -> Option<OrderEvent> {
    match before {
        None => Some(OrderEvent::Placed(OrderPlaced { order: order.clone(), recorded: true })),
        Some(from) if from != order.status => {
            Some(OrderEvent::Moved(OrderMoved { order_id: order.id, from, to: order.status, order: order.clone() }))
        }
        _ => None,
    }
}

/// Whether a stock level that moved by `sum` to `on_hand` has just crossed below zero (raised
/// when it crosses, not again while it stays there).
pub fn crossed_below_zero(on_hand: i64, sum: i64) -> bool {
    on_hand < 0 && on_hand - sum >= 0
}

/// The conflict of an ingredient's stock below zero.
pub fn below_zero(ingredient: String, on_hand: i64) -> Raise {
    Raise {
        kind: ConflictKind::StockBelowZero,
        subject: ingredient,
        outlet_side: format!("the outlet's movements bring it to {on_hand}"),
        cloud_side: "stock cannot be below zero: a count or a delivery is missing".into(),
    }
}

/// Whether a level now `on_hand`, moved by `sum`, went from at or above `reorder_level` to below
/// it (once per crossing; no reorder level set, no crossing).
pub fn crossed_below(on_hand: i64, sum: i64, reorder_level: i64) -> bool {
    reorder_level > 0 && on_hand < reorder_level && on_hand - sum >= reorder_level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_crosses_its_reorder_level_once() {
        assert!(crossed_below(9, -2, 10), "11 to 9");
        assert!(crossed_below(0, -10, 10), "10 to 0");
        assert!(!crossed_below(8, -1, 10), "already below");
        assert!(!crossed_below(12, -3, 10), "still above");
        assert!(!crossed_below(-5, -5, 0), "no reorder level");
        assert!(!crossed_below(11, 4, 10), "a delivery");
    }

    #[test]
    fn a_level_is_raised_below_zero_once_when_it_crosses() {
        assert!(crossed_below_zero(-1, -3));
        assert!(crossed_below_zero(-5, -5));
        assert!(!crossed_below_zero(-2, -1), "already below zero");
        assert!(!crossed_below_zero(0, -4));
        assert!(!crossed_below_zero(-1, 2));
    }
}
