//! The payment rules against a model of a provider: random interleavings of checkout, the
//! customer confirming, webhooks (repeated, reordered, late), the outlet taking the order on, the
//! order withdrawn, refunds asked and settled, and the reconciler asking. Whatever the order, the
//! cloud never captures more than was authorised, never refunds more than was captured, every
//! ledger posting balances, no wallet goes below zero, and once everything has been delivered the
//! cloud agrees with the provider.

use super::*;
use proptest::prelude::*;

fn money(purpose: Purpose, amount: i64, wallet: i64) -> Money {
    Money { purpose, state: State::Created, amount, authorised: 0, captured: 0, wallet, fee: 0 }
}

#[test]
fn an_authorisation_then_its_capture() {
    let p = money(Purpose::Order, 1_000, 0);
    let auth = Report { stage: Stage::Authorised, authorised: 1_000, captured: 0, fee: 0, reason: None };
    let o = report(&p, &auth, false);
    assert_eq!(o.next.state, State::Authorised);
    assert_eq!(o.changes, vec![Change::Authorised]);
    assert!(o.commands.is_empty());
    // The same webhook again changes nothing.
    let again = report(&o.next, &auth, false);
    assert_eq!((again.next.clone(), again.changes.len(), again.commands.len()), (o.next.clone(), 0, 0));
    let taken = order_step(&o.next, OrderStep::TakenOn);
    assert_eq!(taken.commands, vec![Command::Capture { amount: 1_000 }]);
    let cap = Report { stage: Stage::Captured, authorised: 1_000, captured: 1_000, fee: 30, reason: None };
    let c = report(&o.next, &cap, false);
    assert_eq!(c.next.state, State::Captured);
    assert!(c.changes.contains(&Change::Captured { delta: 1_000 }));
    assert!(c.changes.contains(&Change::Fee { delta: 30 }));
    // A late authorisation after the capture moves nothing back.
    let late = report(&c.next, &auth, false);
    assert_eq!(late.next.state, State::Captured);
    assert!(late.changes.is_empty() && late.commands.is_empty());
}

#[test]
fn an_authorisation_after_the_order_was_withdrawn_is_released() {
    let p = money(Purpose::Order, 500, 200);
    let w = order_step(&p, OrderStep::Withdrawn);
    assert_eq!(w.next.state, State::Cancelled);
    assert!(w.changes.contains(&Change::WalletReleased { amount: 200 }));
    assert_eq!(w.commands, vec![Command::Cancel]);
    let auth = Report { stage: Stage::Authorised, authorised: 500, captured: 0, fee: 0, reason: None };
    let late = report(&w.next, &auth, true);
    assert_eq!(late.next.state, State::Cancelled);
    assert_eq!(late.commands, vec![Command::Cancel]);
}

#[test]
fn refunds_stay_within_what_was_taken() {
    let mut p = money(Purpose::Order, 1_000, 300);
    p.state = State::Captured;
    p.authorised = 1_000;
    p.captured = 1_000;
    assert_eq!(check_refund(&p, 1_000, Destination::Card, 0, 0), Ok(()));
    assert_eq!(check_refund(&p, 1_001, Destination::Card, 0, 0), Err(RefundRefused::TooMuch { left: 1_000 }));
    assert_eq!(check_refund(&p, 1_300, Destination::Wallet, 0, 0), Ok(()));
    assert_eq!(check_refund(&p, 301, Destination::Wallet, 0, 1_000), Err(RefundRefused::TooMuch { left: 300 }));
    assert_eq!(check_refund(&p, 0, Destination::Card, 0, 0), Err(RefundRefused::NotPositive));
    p.state = State::Authorised;
    assert_eq!(check_refund(&p, 1, Destination::Card, 0, 0), Err(RefundRefused::NotCaptured));
}

/// The provider's side of one payment.
#[derive(Clone, Debug, Default)]
struct Remote {
    authorised: i64,
    captured: i64,
    refunded: i64,
    cancelled: bool,
    /// Webhooks sent, in order; delivered in any order, any number of times.
    sent: Vec<Report>,
}

impl Remote {
    fn report(&self) -> Report {
        let stage = if self.captured > 0 {
            Stage::Captured
        } else if self.cancelled {
            Stage::Cancelled
        } else if self.authorised > 0 {
            Stage::Authorised
        } else {
            Stage::Open
        };
        Report { stage, authorised: self.authorised, captured: self.captured, fee: self.captured / 50, reason: None }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Confirm,
    Deliver(usize),
    TakeOn,
    Withdraw,
    RunCommand,
    Refund(i64, bool),
    SettleRefund,
    Reconcile,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Confirm),
        (0usize..8).prop_map(Op::Deliver),
        Just(Op::TakeOn),
        Just(Op::Withdraw),
        Just(Op::RunCommand),
        Just(Op::RunCommand),
        (1i64..1_500, any::<bool>()).prop_map(|(a, w)| Op::Refund(a, w)),
        Just(Op::SettleRefund),
        Just(Op::Reconcile),
    ]
}

/// The cloud's side: the payment, what it owes the provider, its refunds, its ledger.
struct Cloud {
    p: Money,
    owed: Vec<Command>,
    withdrawn: bool,
    /// (amount, to card, settled)
    refunds: Vec<(i64, bool, bool)>,
    postings: Vec<Posting>,
}

impl Cloud {
    fn apply(&mut self, o: Outcome) {
        for c in &o.changes {
            if let Some(posting) = posting(c, self.p.purpose, "stripe", "c1") {
                self.postings.push(posting);
            }
        }
        self.owed.extend(o.commands);
        self.p = o.next;
    }

    fn wallet(&self) -> i64 {
        self.postings.iter().map(|p| p.into_wallet("c1")).sum()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn no_interleaving_takes_or_gives_back_too_much(
        amount in 1i64..1_000,
        wallet_part in 0i64..500,
        top_up in any::<bool>(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let purpose = if top_up { Purpose::TopUp } else { Purpose::Order };
        let wallet_part = if top_up { 0 } else { wallet_part };
        // The customer's wallet starts with what the order holds of it.
        let mut cloud = Cloud { p: money(purpose, amount, wallet_part), owed: vec![], withdrawn: false, refunds: vec![], postings: vec![] };
        cloud.postings.push(Posting::pair("top_up", account::provider("stripe"), account::wallet("c1"), wallet_part));
        if wallet_part > 0 {
            cloud.postings.push(hold("c1", wallet_part));
        }
        let mut remote = Remote::default();
        for op in ops {
            match op {
                Op::Confirm => {
                    if !remote.cancelled && remote.authorised == 0 {
                        remote.authorised = amount;
                        if purpose == Purpose::TopUp {
                            remote.captured = amount;
                        }
                        remote.sent.push(remote.report());
                    }
                }
                Op::Deliver(i) => {
                    if let Some(r) = remote.sent.get(i % remote.sent.len().max(1)).cloned() {
                        let o = report(&cloud.p, &r, cloud.withdrawn);
                        cloud.apply(o);
                    }
                }
                Op::TakeOn => {
                    if !cloud.withdrawn && purpose == Purpose::Order {
                        let o = order_step(&cloud.p, OrderStep::TakenOn);
                        cloud.apply(o);
                    }
                }
                Op::Withdraw => {
                    if !cloud.withdrawn && purpose == Purpose::Order {
                        cloud.withdrawn = true;
                        let o = order_step(&cloud.p, OrderStep::Withdrawn);
                        cloud.apply(o);
                    }
                }
                Op::RunCommand => {
                    if cloud.owed.is_empty() { continue; }
                    match cloud.owed.remove(0) {
                        Command::Capture { amount: a } => {
                            // The provider takes at most what it holds, and only once.
                            if !remote.cancelled && remote.captured == 0 && remote.authorised > 0 {
                                remote.captured = a.min(remote.authorised);
                                remote.sent.push(remote.report());
                            }
                            let o = report(&cloud.p, &remote.report(), cloud.withdrawn);
                            cloud.apply(o);
                        }
                        Command::Cancel => {
                            if remote.captured == 0 {
                                remote.cancelled = true;
                                remote.sent.push(remote.report());
                            }
                            let o = report(&cloud.p, &remote.report(), true);
                            cloud.apply(o);
                        }
                        Command::RefundRest => {
                            let card: i64 = cloud.refunds.iter().filter(|r| r.1).map(|r| r.0).sum();
                            let all: i64 = cloud.refunds.iter().map(|r| r.0).sum();
                            let card_left = cloud.p.captured - card;
                            let wallet_left = cloud.p.captured + cloud.p.wallet - all - card_left;
                            if card_left > 0 && check_refund(&cloud.p, card_left, Destination::Card, card, all).is_ok() {
                                cloud.refunds.push((card_left, true, false));
                            }
                            let all: i64 = cloud.refunds.iter().map(|r| r.0).sum();
                            if wallet_left > 0 && check_refund(&cloud.p, wallet_left, Destination::Wallet, card + card_left.max(0), all).is_ok() {
                                cloud.refunds.push((wallet_left, false, true));
                                cloud.postings.push(refund_posting(Destination::Wallet, "stripe", "c1", wallet_left));
                            }
                        }
                    }
                }
                Op::Refund(a, to_wallet) => {
                    if purpose == Purpose::TopUp { continue; }
                    let card: i64 = cloud.refunds.iter().filter(|r| r.1).map(|r| r.0).sum();
                    let all: i64 = cloud.refunds.iter().map(|r| r.0).sum();
                    let to = if to_wallet { Destination::Wallet } else { Destination::Card };
                    if check_refund(&cloud.p, a, to, card, all).is_ok() {
                        cloud.refunds.push((a, !to_wallet, to_wallet));
                        if to_wallet {
                            cloud.postings.push(refund_posting(to, "stripe", "c1", a));
                        }
                    }
                }
                Op::SettleRefund => {
                    if let Some(r) = cloud.refunds.iter_mut().find(|r| r.1 && !r.2) {
                        r.2 = true;
                        remote.refunded += r.0;
                        cloud.postings.push(refund_posting(Destination::Card, "stripe", "c1", r.0));
                    }
                }
                Op::Reconcile => {
                    let o = report(&cloud.p, &remote.report(), cloud.withdrawn);
                    cloud.apply(o);
                }
            }
            // Never more taken than held, never more given back than taken.
            prop_assert!(cloud.p.captured <= cloud.p.authorised, "{:?}", cloud.p);
            prop_assert!(remote.captured <= remote.authorised);
            let refunded: i64 = cloud.refunds.iter().map(|r| r.0).sum();
            let card_refunded: i64 = cloud.refunds.iter().filter(|r| r.1).map(|r| r.0).sum();
            prop_assert!(refunded <= cloud.p.captured + cloud.p.wallet, "refunded {refunded} of {:?}", cloud.p);
            prop_assert!(card_refunded <= remote.captured);
            prop_assert!(remote.refunded <= remote.captured);
            prop_assert!(cloud.postings.iter().all(Posting::balances));
            prop_assert!(cloud.wallet() >= 0, "wallet {}", cloud.wallet());
        }
        // Quiesce: every webhook delivered, every owed call made, the reconciler asked.
        for _ in 0..4 {
            for r in remote.sent.clone() {
                let o = report(&cloud.p, &r, cloud.withdrawn);
                cloud.apply(o);
            }
            while !cloud.owed.is_empty() {
                match cloud.owed.remove(0) {
                    Command::Capture { amount: a } => {
                        if !remote.cancelled && remote.captured == 0 && remote.authorised > 0 {
                            remote.captured = a.min(remote.authorised);
                        }
                    }
                    Command::Cancel => {
                        if remote.captured == 0 {
                            remote.cancelled = true;
                        }
                    }
                    Command::RefundRest => {}
                }
                let o = report(&cloud.p, &remote.report(), cloud.withdrawn);
                cloud.apply(o);
            }
        }
        prop_assert_eq!(cloud.p.captured, remote.captured, "the cloud agrees with the provider: {:?}", cloud.p);
        if cloud.withdrawn && remote.captured == 0 {
            prop_assert!(remote.cancelled || remote.authorised == 0, "a withdrawn order's authorisation is released");
        }
        // Sales: what was taken (card and wallet) less what was refunded; never negative.
        let sales: i64 = -cloud.postings.iter().flat_map(|p| &p.entries).filter(|(a, _)| a == account::SALES).map(|(_, x)| x).sum::<i64>();
        prop_assert!(sales >= 0, "sales {sales}");
    }
}
