//! Merge rules: how the cloud folds what outlets report into one state, by meaning rather than by
//! last writer wins.
//!
//! - Stock is a sum of movements. [`StockLedger`] keys every movement by its id, so the sum is the
//!   same whatever the order of arrival and however often a movement is delivered.
//! - An order's status only moves forward along the protocol's state machine
//!   ([`patty_protocol::order::transition`]). [`merge_status`] takes a report that moves forward,
//!   ignores one that is behind, and turns a clash into a [`Conflict`] instead of picking by clock.
//!   The race the design names: a customer cancels online while the kitchen accepts. The rule: the
//!   outlet's acceptance stands (food is being made, the customer is told) and the cancel becomes a
//!   conflict for the manager and HQ to settle (refund or not).

use patty_protocol::ids::{IngredientId, MovementId, OrderId};
use patty_protocol::inventory::StockMovement;
use patty_protocol::order::{Fulfilment, OrderStatus, transition};
use std::collections::{BTreeMap, HashSet};

/// A business conflict, kept with both sides and listed for the outlet manager and HQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The customer cancelled online while the outlet accepted or started the order.
    CancelRacedKitchen {
        /// The order.
        order_id: OrderId,
        /// What the outlet reported.
        outlet_status: OrderStatus,
    },
    /// Two final statuses disagree (completed at the outlet, voided in the cloud, …).
    FinalStatusesDiffer {
        /// The order.
        order_id: OrderId,
        /// What the cloud holds.
        ours: OrderStatus,
        /// What was reported.
        theirs: OrderStatus,
    },
    /// Stock went below zero once every outlet's movements were counted.
    StockBelowZero {
        /// The ingredient.
        ingredient_id: IngredientId,
        /// The sum.
        on_hand: i64,
    },
}

/// What to do with a reported status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusMerge {
    /// The report is behind or equal: keep ours.
    Keep,
    /// Move to the reported status.
    Take(OrderStatus),
    /// Move to `status` and record `conflict`.
    TakeWithConflict(OrderStatus, Conflict),
    /// Keep ours and record `conflict`.
    KeepWithConflict(Conflict),
}

/// The forward order of statuses, for deciding which of two reports is further along.
fn rank(s: OrderStatus) -> u8 {
    match s {
        OrderStatus::PaymentPending | OrderStatus::Placed => 0,
        OrderStatus::Accepted => 1,
        OrderStatus::Preparing => 2,
        OrderStatus::Ready => 3,
        OrderStatus::OutForDelivery => 4,
        OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Voided => 5,
    }
}

/// Merges a status reported by the outlet (`theirs`) into the cloud's (`ours`).
pub fn merge_status(order_id: OrderId, ours: OrderStatus, theirs: OrderStatus, fulfilment: Fulfilment) -> StatusMerge {
    use OrderStatus::*;
    if ours == theirs {
        return StatusMerge::Keep;
    }
    match (ours, theirs) {
        // The race: the customer's cancel reached the cloud, the kitchen had accepted meanwhile.
        (Cancelled, Accepted | Preparing | Ready | OutForDelivery | Completed) => {
            StatusMerge::TakeWithConflict(theirs, Conflict::CancelRacedKitchen { order_id, outlet_status: theirs })
        }
        (a, b) if a.is_final() && b.is_final() => {
            StatusMerge::KeepWithConflict(Conflict::FinalStatusesDiffer { order_id, ours: a, theirs: b })
        }
        (a, _) if a.is_final() => StatusMerge::Keep,
        (a, b) if transition(a, b, fulfilment).is_ok() || (rank(b) > rank(a) && !b.is_final()) => StatusMerge::Take(b),
        // A final status reported after intermediate steps we never saw (completed, skipping
        // out-for-delivery, say) is still the outlet's truth about a finished order.
        (_, b) if b.is_final() => StatusMerge::Take(b),
        _ => StatusMerge::Keep,
    }
}

/// Stock per ingredient as the sum of distinct movements.
#[derive(Debug, Default, Clone)]
pub struct StockLedger {
    seen: HashSet<MovementId>,
    on_hand: BTreeMap<IngredientId, i64>,
}

impl StockLedger {
    /// Adds a movement; a movement seen before changes nothing. Returns whether it was new.
    pub fn apply(&mut self, m: &StockMovement) -> bool {
        if !self.seen.insert(m.id) {
            return false;
        }
        *self.on_hand.entry(m.ingredient_id).or_insert(0) += m.delta;
        true
    }

    /// Stock of one ingredient.
    pub fn on_hand(&self, ingredient: IngredientId) -> i64 {
        self.on_hand.get(&ingredient).copied().unwrap_or(0)
    }

    /// Ingredients whose stock is below zero, as conflicts.
    pub fn below_zero(&self) -> Vec<Conflict> {
        self.on_hand
            .iter()
            .filter(|(_, q)| **q < 0)
            .map(|(i, q)| Conflict::StockBelowZero { ingredient_id: *i, on_hand: *q })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;
    use patty_protocol::inventory::MovementKind;
    use proptest::prelude::*;

    #[test]
    fn forward_reports_are_taken_and_stale_ones_ignored() {
        let o = OrderId::new();
        assert_eq!(merge_status(o, Placed, Accepted, Fulfilment::Takeaway), StatusMerge::Take(Accepted));
        assert_eq!(merge_status(o, Accepted, Ready, Fulfilment::Takeaway), StatusMerge::Take(Ready));
        assert_eq!(merge_status(o, Ready, Accepted, Fulfilment::Takeaway), StatusMerge::Keep);
        assert_eq!(merge_status(o, Completed, Ready, Fulfilment::Takeaway), StatusMerge::Keep);
        assert_eq!(merge_status(o, Preparing, Completed, Fulfilment::Delivery), StatusMerge::Take(Completed));
    }

    #[test]
    fn a_cancel_racing_the_kitchen_is_shown_not_swallowed() {
        let o = OrderId::new();
        assert_eq!(
            merge_status(o, Cancelled, Preparing, Fulfilment::Delivery),
            StatusMerge::TakeWithConflict(
                Preparing,
                Conflict::CancelRacedKitchen { order_id: o, outlet_status: Preparing }
            )
        );
        assert!(matches!(
            merge_status(o, Voided, Completed, Fulfilment::DineIn),
            StatusMerge::KeepWithConflict(Conflict::FinalStatusesDiffer { .. })
        ));
    }

    fn movement(ingredient: IngredientId, delta: i64) -> StockMovement {
        StockMovement {
            id: MovementId::new(),
            ingredient_id: ingredient,
            kind: MovementKind::Sale,
            delta,
            order_id: None,
            staff_id: None,
            note: String::new(),
            at_ms: 0,
        }
    }

    proptest! {
        /// Stock is the same whatever the order of arrival and however often movements repeat.
        #[test]
        fn stock_sums_commute_and_ignore_repeats(deltas in prop::collection::vec((0usize..3, -50i64..50), 0..60), order in any::<u64>(), repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..30)) {
            let ingredients = [IngredientId::new(), IngredientId::new(), IngredientId::new()];
            let moves: Vec<StockMovement> = deltas.iter().map(|(i, d)| movement(ingredients[*i], *d)).collect();
            let mut in_order = StockLedger::default();
            for m in &moves { in_order.apply(m); }
            // A shuffled delivery with repeats.
            let mut shuffled: Vec<&StockMovement> = moves.iter().collect();
            for r in &repeats {
                if !moves.is_empty() { shuffled.push(&moves[r.index(moves.len())]); }
            }
            let mut x = order;
            for i in (1..shuffled.len()).rev() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (x >> 33) as usize % (i + 1));
            }
            let mut other = StockLedger::default();
            for m in shuffled { other.apply(m); }
            for i in ingredients {
                prop_assert_eq!(in_order.on_hand(i), other.on_hand(i));
                let expected: i64 = moves.iter().filter(|m| m.ingredient_id == i).map(|m| m.delta).sum();
                prop_assert_eq!(other.on_hand(i), expected);
            }
            prop_assert_eq!(in_order.below_zero().len(), other.below_zero().len());
        }

        /// Whatever order the outlet's reports arrive in, the merged status never moves backwards
        /// and ends at the furthest status reported (unless a conflict keeps ours).
        #[test]
        fn status_never_moves_backwards(reports in prop::collection::vec(prop::sample::select(vec![Accepted, Preparing, Ready, OutForDelivery, Completed]), 1..12)) {
            let o = OrderId::new();
            let mut ours = Placed;
            for r in &reports {
                match merge_status(o, ours, *r, Fulfilment::Delivery) {
                    StatusMerge::Take(s) | StatusMerge::TakeWithConflict(s, _) => {
                        prop_assert!(rank(s) >= rank(ours), "{ours:?} -> {s:?}");
                        ours = s;
                    }
                    StatusMerge::Keep | StatusMerge::KeepWithConflict(_) => {}
                }
            }
            let furthest = reports.iter().copied().max_by_key(|s| rank(*s)).unwrap();
            prop_assert_eq!(rank(ours), rank(furthest));
        }
    }
}
