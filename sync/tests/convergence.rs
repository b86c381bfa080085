//! The engine end to end as a model: an outlet sells, moves orders along, receives stock and takes
//! payments while the network loses, duplicates and reorders messages, partitions come and go,
//! and either side crashes at any step. After healing, the cloud holds exactly the outlet's
//! orders (same statuses), stock (the sum of distinct movements) and tenders, each entry of the
//! log applied once, and nothing was flagged as a conflict because nothing conflicted.

use patty_protocol::Currency;
use patty_protocol::change::{ChangeEntry, ChangeV1, HlcTimestamp};
use patty_protocol::ids::{IngredientId, MovementId, OrderId, OutletId, TenderId};
use patty_protocol::inventory::{MovementKind, StockMovement};
use patty_protocol::order::{Channel, Fulfilment, Order, OrderStatus, Tender, TenderKind, transition};
use patty_sync::merge::{StatusMerge, StockLedger, merge_status};
use patty_sync::{Admit, Backoff, BatchLimits, Cursor, Sequencer, Uploader};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn order(id: OrderId, outlet: OutletId) -> Order {
    Order {
        id,
        outlet_id: outlet,
        number: 1,
        channel: Channel::Counter,
        fulfilment: Fulfilment::Takeaway,
        status: OrderStatus::Accepted,
        lines: vec![],
        notes: String::new(),
        currency: Currency::parse("EUR").unwrap(),
        subtotal: 0,
        discounts: vec![],
        delivery_fee: 0,
        tax: 0,
        total: 0,
        tenders: vec![],
        paid: 0,
        staff_id: None,
        created_ms: 0,
        updated_ms: 0,
        closed_reason: None,
        closed_by: None,
        customer_id: None,
        delivery_address: None,
        catalog_version: None,
    }
}

fn movement(ingredient: IngredientId, delta: i64, order: Option<OrderId>) -> ChangeV1 {
    ChangeV1::StockMoved {
        movement: StockMovement {
            id: MovementId::new(),
            ingredient_id: ingredient,
            kind: if order.is_some() { MovementKind::Sale } else { MovementKind::Receive },
            delta,
            order_id: order,
            staff_id: None,
            note: String::new(),
            at_ms: 0,
        },
    }
}

/// The outlet: its durable log and state, and its uploader (lost in a crash).
struct Edge {
    seq: Sequencer,
    log: Vec<ChangeEntry>,
    orders: BTreeMap<OrderId, OrderStatus>,
    stock: BTreeMap<IngredientId, i64>,
    tenders: BTreeMap<TenderId, i64>,
    up: Uploader,
    /// The acknowledged sequence as last saved (a hint; the cloud's cursor decides).
    saved_ack: u64,
}

impl Edge {
    fn write(&mut self, change: ChangeV1, now: u64) {
        self.log.push(self.seq.append(change, now));
    }
}

/// The cloud: what it committed (a crash keeps it) and what it has applied, per sequence.
#[derive(Default)]
struct Cloud {
    cursor: Cursor,
    orders: BTreeMap<OrderId, OrderStatus>,
    ledger: StockLedger,
    tenders: BTreeMap<TenderId, i64>,
    applied: Vec<u64>,
    conflicts: usize,
}

impl Cloud {
    /// Applies a batch and its cursor atomically; returns the acknowledgement.
    fn receive(&mut self, batch: &[ChangeEntry]) -> patty_sync::Ack {
        match self.cursor.admit(batch) {
            Admit::Gap => return patty_sync::Ack::Gap { applied_through: self.cursor.applied_through },
            Admit::Apply { from_index, through } => {
                for e in &batch[from_index..] {
                    self.applied.push(e.seq);
                    match &e.change {
                        ChangeV1::OrderUpserted { order } => {
                            self.orders.entry(order.id).or_insert(order.status);
                        }
                        ChangeV1::OrderStatus { order_id, status, .. } => {
                            let ours = self.orders[order_id];
                            match merge_status(*order_id, ours, *status, Fulfilment::Takeaway) {
                                StatusMerge::Keep => {}
                                StatusMerge::Take(s) => {
                                    self.orders.insert(*order_id, s);
                                }
                                StatusMerge::TakeWithConflict(s, _) => {
                                    self.conflicts += 1;
                                    self.orders.insert(*order_id, s);
                                }
                                StatusMerge::KeepWithConflict(_) => self.conflicts += 1,
                            }
                        }
                        ChangeV1::StockMoved { movement } => {
                            self.ledger.apply(movement);
                        }
                        ChangeV1::TenderAdded { tender, .. } => {
                            self.tenders.insert(tender.id, tender.amount);
                        }
                        _ => {}
                    }
                }
                self.cursor.applied_through = through;
            }
        }
        self.cursor.ack()
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A sale: an order, a movement per ingredient it uses, a card payment.
    Sell(u8),
    /// Move the order at this index one step along (preparing, ready, completed).
    Advance(usize),
    /// Stock received.
    Receive(u8, u8),
    /// The edge sends what its uploader gives.
    Send,
    /// The network delivers the message at this index (modulo) of those in transit.
    Deliver(usize),
    /// … delivers a copy and keeps the original.
    Duplicate(usize),
    /// … loses one.
    Lose(usize),
    /// The link goes down or comes back (while down, everything sent is lost).
    Partition,
    /// The edge's request times out.
    Timeout,
    /// The edge crashes and restarts from its saved hint.
    CrashEdge,
    /// The cloud crashes: what is in transit to or from it is lost; what it committed stays.
    CrashCloud,
    /// Time passes.
    Tick(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u8..4).prop_map(Step::Sell),
        2 => any::<usize>().prop_map(Step::Advance),
        1 => (0u8..3, 1u8..50).prop_map(|(i, q)| Step::Receive(i, q)),
        4 => Just(Step::Send),
        4 => any::<usize>().prop_map(Step::Deliver),
        1 => any::<usize>().prop_map(Step::Duplicate),
        1 => any::<usize>().prop_map(Step::Lose),
        1 => Just(Step::Partition),
        1 => Just(Step::Timeout),
        1 => Just(Step::CrashEdge),
        1 => Just(Step::CrashCloud),
        2 => (1u16..5000).prop_map(Step::Tick),
    ]
}

enum Msg {
    Batch(Vec<ChangeEntry>),
    Ack(patty_sync::Ack),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn both_sides_converge_after_any_schedule(steps in prop::collection::vec(step(), 1..150), seed in any::<u64>()) {
        let outlet = OutletId::new();
        let ingredients = [IngredientId::new(), IngredientId::new(), IngredientId::new()];
        let limits = BatchLimits { max_entries: 7, max_bytes: 10_000 };
        let backoff = Backoff { base_ms: 10, max_ms: 200 };
        let mut edge = Edge {
            seq: Sequencer::resume(outlet, 0, HlcTimestamp::default()),
            log: vec![],
            orders: BTreeMap::new(),
            stock: BTreeMap::new(),
            tenders: BTreeMap::new(),
            up: Uploader::resume(outlet, 0, limits, backoff),
            saved_ack: 0,
        };
        let mut cloud = Cloud::default();
        let mut transit: Vec<Msg> = vec![];
        let (mut now, mut rnd, mut partitioned) = (1u64, seed, false);
        let deliver = |m: Msg, edge: &mut Edge, cloud: &mut Cloud, transit: &mut Vec<Msg>| match m {
            Msg::Batch(b) => transit.push(Msg::Ack(cloud.receive(&b))),
            Msg::Ack(a) => {
                edge.up.on_ack(a);
                edge.saved_ack = edge.up.acked();
            }
        };
        for s in steps {
            match s {
                Step::Sell(n) => {
                    let id = OrderId::new();
                    edge.write(ChangeV1::OrderUpserted { order: Box::new(order(id, outlet)) }, now);
                    edge.orders.insert(id, OrderStatus::Accepted);
                    for ing in &ingredients[..n as usize] {
                        edge.write(movement(*ing, -1, Some(id)), now);
                        *edge.stock.entry(*ing).or_default() -= 1;
                    }
                    let tender = Tender { id: TenderId::new(), amount: 790, kind: TenderKind::Card { reference: "t".into(), brand: None, last4: None }, staff_id: None, at_ms: 0 };
                    edge.tenders.insert(tender.id, tender.amount);
                    edge.write(ChangeV1::TenderAdded { order_id: id, tender }, now);
                }
                Step::Advance(i) if !edge.orders.is_empty() => {
                    let (id, status) = edge.orders.iter().nth(i % edge.orders.len()).map(|(k, v)| (*k, *v)).unwrap();
                    let next = match status {
                        OrderStatus::Accepted => OrderStatus::Preparing,
                        OrderStatus::Preparing => OrderStatus::Ready,
                        OrderStatus::Ready => OrderStatus::Completed,
                        _ => continue,
                    };
                    prop_assert!(transition(status, next, Fulfilment::Takeaway).is_ok());
                    edge.orders.insert(id, next);
                    edge.write(ChangeV1::OrderStatus { order_id: id, status: next, reason: None, by: None }, now);
                }
                Step::Receive(i, q) => {
                    let ing = ingredients[i as usize];
                    edge.write(movement(ing, i64::from(q), None), now);
                    *edge.stock.entry(ing).or_default() += i64::from(q);
                }
                Step::Send => {
                    let pending: Vec<ChangeEntry> = edge.log.iter().filter(|e| e.seq > edge.up.acked()).cloned().collect();
                    if let Some(b) = edge.up.next_batch(&pending, now, |_| 100)
                        && !partitioned
                    {
                        transit.push(Msg::Batch(b.entries));
                    }
                }
                Step::Deliver(i) if !transit.is_empty() => {
                    let m = transit.remove(i % transit.len());
                    if !partitioned {
                        deliver(m, &mut edge, &mut cloud, &mut transit);
                    }
                }
                Step::Duplicate(i) if !transit.is_empty() && !partitioned => {
                    let copy = match &transit[i % transit.len()] {
                        Msg::Batch(b) => Msg::Batch(b.clone()),
                        Msg::Ack(a) => Msg::Ack(*a),
                    };
                    deliver(copy, &mut edge, &mut cloud, &mut transit);
                }
                Step::Lose(i) if !transit.is_empty() => {
                    transit.remove(i % transit.len());
                }
                Step::Partition => partitioned = !partitioned,
                Step::Timeout => {
                    rnd = rnd.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    edge.up.on_failure(now, rnd);
                }
                Step::CrashEdge => edge.up = Uploader::resume(outlet, edge.saved_ack, limits, backoff),
                Step::CrashCloud => transit.clear(),
                Step::Tick(ms) => now += u64::from(ms),
                _ => {}
            }
        }
        // Healing: the link works, the edge times out whatever it waited for and sends until the
        // cloud has everything.
        let mut rounds = 0;
        while cloud.cursor.applied_through < edge.log.len() as u64 || !transit.is_empty() {
            rounds += 1;
            prop_assert!(rounds < 10_000, "no convergence");
            while let Some(m) = transit.pop() {
                deliver(m, &mut edge, &mut cloud, &mut transit);
            }
            now += 1_000;
            let pending: Vec<ChangeEntry> = edge.log.iter().filter(|e| e.seq > edge.up.acked()).cloned().collect();
            match edge.up.next_batch(&pending, now, |_| 100) {
                Some(b) => transit.push(Msg::Batch(b.entries)),
                None if cloud.cursor.applied_through < edge.log.len() as u64 => { edge.up.on_failure(now, 0); }
                None => {}
            }
        }
        prop_assert_eq!(&cloud.applied, &(1..=edge.log.len() as u64).collect::<Vec<_>>(), "each entry applied once, in order");
        prop_assert_eq!(&cloud.orders, &edge.orders);
        prop_assert_eq!(&cloud.tenders, &edge.tenders);
        for ing in ingredients {
            prop_assert_eq!(cloud.ledger.on_hand(ing), edge.stock.get(&ing).copied().unwrap_or(0));
        }
        prop_assert_eq!(cloud.conflicts, 0);
    }
}
