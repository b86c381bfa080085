//! The refund rules, pure: whether an order's money was taken online, how a refund of it splits
//! over its payment's card and wallet parts within what is left, and what an answer of the cloud
//! makes of a request. No store, no clock, no I/O: the caller passes the time and new ids.

use super::error::RefundError;
use patty_protocol::ids::{OrderId, StaffId, TenderId};
use patty_protocol::order::{Order, OrderStatus, Tender, TenderKind};
use serde::{Deserialize, Serialize};

/// Where the cloud sends a refund: the cloud's own names (`to` in its refund API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// Back to the card, through the payment provider.
    Card,
    /// Into the customer's wallet.
    Wallet,
}

impl Destination {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Wallet => "wallet",
        }
    }
}

/// Where a refund request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Kept at the outlet, not yet accepted by the cloud (the link is down, or the cloud has not
    /// captured the payment yet).
    Queued,
    /// The cloud has it; the payment provider has yet to settle it.
    Sent,
    /// The money went back; the order carries the refund tender.
    Succeeded,
    /// Refused by the cloud or the provider (see `message`); nothing went back.
    Failed,
}

impl RequestState {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The state stored as `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// Whether it still counts against what is left to refund (all but a failed one).
    pub fn counts(self) -> bool {
        self != Self::Failed
    }
}

/// A refund of money taken online, asked at the till and carried to the cloud.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundRequest {
    /// Stable id, minted at the till; the `Idempotency-Key` of every send to the cloud.
    pub id: String,
    /// The order refunded.
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    /// The cloud's payment, from the order's online or wallet tender.
    pub payment_id: String,
    /// Back to the card or into the wallet, as the payment was made.
    pub destination: Destination,
    /// Minor units, positive.
    pub amount: i64,
    /// Why.
    pub reason: String,
    /// The manager who asked.
    #[schema(value_type = String, format = Uuid)]
    pub staff_id: StaffId,
    /// Where it stands.
    pub state: RequestState,
    /// Why it failed (the cloud's words), or the last problem reaching the cloud while queued.
    pub message: Option<String>,
    /// The cloud's refund, once the cloud has it.
    pub cloud_refund_id: Option<String>,
    /// The `Refund` tender the order gets when it succeeds.
    #[schema(value_type = String, format = Uuid)]
    pub tender_id: TenderId,
    /// Times the cloud was asked about it.
    pub attempts: u32,
    /// When the sender next asks the cloud, Unix ms.
    pub next_ms: i64,
    /// Asked, Unix ms.
    pub created_ms: i64,
    /// Last changed, Unix ms.
    pub updated_ms: i64,
}

/// Whether `order`'s money was taken online (a tender of kind `online` or `wallet`): then only
/// the cloud can refund it.
pub fn paid_online(order: &Order) -> bool {
    order.tenders.iter().any(|t| online_part(t).is_some())
}

/// The payment and destination an online tender was taken from.
fn online_part(t: &Tender) -> Option<(&str, Destination)> {
    match &t.kind {
        TenderKind::Online { payment_id, .. } => Some((payment_id, Destination::Card)),
        TenderKind::Wallet { payment_id } => Some((payment_id, Destination::Wallet)),
        _ => None,
    }
}

/// A share of a refund: so much from one payment, to one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Portion {
    /// The cloud's payment.
    pub payment_id: String,
    /// Card or wallet.
    pub destination: Destination,
    /// Minor units.
    pub amount: i64,
}

/// What is left to refund of `order`'s online payments, given its refund requests so far: what
/// was taken online, less what requests not failed ask, less refunds the till recorded itself
/// (never below zero).
pub fn left(order: &Order, requests: &[RefundRequest]) -> i64 {
    let taken: i64 = order.tenders.iter().filter(|t| online_part(t).is_some()).map(|t| t.amount).sum();
    let asked: i64 = requests.iter().filter(|r| r.state.counts()).map(|r| r.amount).sum();
    // Refund tenders of requests that succeeded are in `asked` already.
    let at_till: i64 = order
        .tenders
        .iter()
        .filter(|t| matches!(t.kind, TenderKind::Refund { .. }) && !requests.iter().any(|r| r.tender_id == t.id))
        .map(|t| -t.amount)
        .sum();
    (taken - asked - at_till).max(0)
}

/// How a refund of `amount` of `order` splits over its online payments: the card parts first,
/// then the wallet parts, each within what its requests so far left of it. Refused when the
/// amount is not positive or more than [`left`], or when the order is not taken on yet.
pub fn plan(order: &Order, requests: &[RefundRequest], amount: i64) -> Result<Vec<Portion>, RefundError> {
    if order.status == OrderStatus::Placed {
        return Err(RefundError::NotTakenOn);
    }
    let left = left(order, requests);
    if amount <= 0 || amount > left {
        return Err(RefundError::Invalid(format!("a refund must be 1 to what is left of the online payment ({left})")));
    }
    let mut parts: Vec<Portion> = Vec::new();
    for dest in [Destination::Card, Destination::Wallet] {
        for t in &order.tenders {
            let Some((payment, d)) = online_part(t) else { continue };
            if d != dest {
                continue;
            }
            match parts.iter_mut().find(|p| p.payment_id == payment && p.destination == d) {
                Some(p) => p.amount += t.amount,
                None => parts.push(Portion { payment_id: payment.to_owned(), destination: d, amount: t.amount }),
            }
        }
    }
    let mut want = amount;
    let mut out = Vec::new();
    for mut p in parts {
        let asked: i64 = requests
            .iter()
            .filter(|r| r.state.counts() && r.payment_id == p.payment_id && r.destination == p.destination)
            .map(|r| r.amount)
            .sum();
        let take = (p.amount - asked).clamp(0, want);
        if take > 0 {
            p.amount = take;
            want -= take;
            out.push(p);
        }
    }
    if want > 0 {
        return Err(RefundError::Invalid(format!("a refund must be 1 to what is left of the online payment ({left})")));
    }
    Ok(out)
}

/// What the cloud said of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudAnswer {
    /// The cloud's refund for it, in its state (`pending`, `succeeded`, `failed`).
    Refund {
        /// The cloud's refund id.
        id: String,
        /// Its state at the cloud.
        state: String,
    },
    /// The cloud refused it for good (409, 404, 422): its message.
    Refused(String),
    /// Not now: the payment is not captured yet. Why.
    NotYet(String),
    /// The cloud could not be reached or failed (network, 5xx, a key it refused). Why.
    Unreachable(String),
}

/// What an answer makes of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Its next state.
    pub state: RequestState,
    /// Its message from now on.
    pub message: Option<String>,
    /// The cloud's refund id, when the answer named one.
    pub cloud_refund_id: Option<String>,
    /// When to ask again, Unix ms (a settled request is never asked again).
    pub next_ms: i64,
    /// The refund tender the order gets now that the money went back.
    pub tender: Option<Tender>,
}

/// How long to wait before asking the cloud again after `attempts` asks: 1 s, doubling, at
/// most 5 minutes (a card refund can take days to settle at a real provider).
pub fn retry_in_ms(attempts: u32) -> i64 {
    (1000i64 << attempts.min(9)).min(300_000)
}

/// What `answer`, heard at `now_ms`, makes of `r`.
pub fn step(r: &RefundRequest, answer: CloudAnswer, now_ms: i64) -> Step {
    let again = now_ms + retry_in_ms(r.attempts);
    let keep = |message: String| Step {
        state: r.state,
        message: Some(message),
        cloud_refund_id: r.cloud_refund_id.clone(),
        next_ms: again,
        tender: None,
    };
    match answer {
        CloudAnswer::Refund { id, state } => match state.as_str() {
            "succeeded" => Step {
                state: RequestState::Succeeded,
                message: None,
                cloud_refund_id: Some(id),
                next_ms: now_ms,
                tender: Some(Tender {
                    id: r.tender_id,
                    amount: -r.amount,
                    kind: TenderKind::Refund { reason: r.reason.clone() },
                    staff_id: Some(r.staff_id),
                    at_ms: now_ms,
                }),
            },
            "failed" => Step {
                state: RequestState::Failed,
                message: Some("the payment provider refused the refund".into()),
                cloud_refund_id: Some(id),
                next_ms: now_ms,
                tender: None,
            },
            _ => Step {
                state: RequestState::Sent,
                message: None,
                cloud_refund_id: Some(id),
                next_ms: again,
                tender: None,
            },
        },
        CloudAnswer::Refused(m) => Step {
            state: RequestState::Failed,
            message: Some(m),
            cloud_refund_id: r.cloud_refund_id.clone(),
            next_ms: now_ms,
            tender: None,
        },
        CloudAnswer::NotYet(m) | CloudAnswer::Unreachable(m) => keep(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, tenders: serde_json::Value) -> Order {
        let tenders: Vec<Tender> = serde_json::from_value(tenders).unwrap();
        let paid = tenders.iter().map(|t| t.amount).sum::<i64>();
        serde_json::from_value(serde_json::json!({
            "id": OrderId::new(), "outlet_id": patty_protocol::ids::OutletId::new(),
            "number": 1, "channel": "online", "fulfilment": "takeaway", "status": status,
            "lines": [], "notes": "", "currency": "EUR", "subtotal": 1000, "discounts": [], "tax": 0,
            "total": 1000, "tenders": tenders, "paid": paid, "staff_id": null, "created_ms": 0,
            "updated_ms": 0, "closed_reason": null, "closed_by": null
        }))
        .unwrap()
    }

    fn tender(amount: i64, kind: serde_json::Value) -> serde_json::Value {
        serde_json::json!({ "id": TenderId::new(), "amount": amount, "kind": kind, "staff_id": null, "at_ms": 0 })
    }

    fn card(amount: i64) -> serde_json::Value {
        tender(amount, serde_json::json!({ "online": { "provider": "test", "payment_id": "pay_1" } }))
    }

    fn wallet(amount: i64) -> serde_json::Value {
        tender(amount, serde_json::json!({ "wallet": { "payment_id": "pay_1" } }))
    }

    fn request(o: &Order, p: &Portion, state: RequestState) -> RefundRequest {
        RefundRequest {
            id: "r".into(),
            order_id: o.id,
            payment_id: p.payment_id.clone(),
            destination: p.destination,
            amount: p.amount,
            reason: "cold".into(),
            staff_id: StaffId::new(),
            state,
            message: None,
            cloud_refund_id: None,
            tender_id: TenderId::new(),
            attempts: 0,
            next_ms: 0,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn only_money_taken_online_goes_through_the_cloud() {
        assert!(paid_online(&order("completed", serde_json::json!([card(1000)]))));
        assert!(paid_online(&order("completed", serde_json::json!([wallet(1000)]))));
        let cash = tender(1000, serde_json::json!({ "cash": { "tendered": 1000, "change": 0 } }));
        assert!(!paid_online(&order("completed", serde_json::json!([cash]))));
        assert!(!paid_online(&order("accepted", serde_json::json!([]))));
    }

    #[test]
    fn a_refund_is_positive_and_at_most_what_is_left() {
        let o = order("completed", serde_json::json!([card(1000)]));
        for bad in [0, -1, 1001] {
            assert!(matches!(plan(&o, &[], bad), Err(RefundError::Invalid(_))), "{bad}");
        }
        let first = plan(&o, &[], 400).unwrap();
        assert_eq!(first, vec![Portion { payment_id: "pay_1".into(), destination: Destination::Card, amount: 400 }]);
        // Requests not failed count against what is left, whatever their state; failed ones do not.
        for state in [RequestState::Queued, RequestState::Sent, RequestState::Succeeded] {
            let asked = [request(&o, &first[0], state)];
            assert_eq!(left(&o, &asked), 600, "{state:?}");
            assert!(plan(&o, &asked, 601).is_err());
            assert_eq!(plan(&o, &asked, 600).unwrap()[0].amount, 600);
        }
        let failed = [request(&o, &first[0], RequestState::Failed)];
        assert_eq!(left(&o, &failed), 1000);
    }

    #[test]
    fn a_succeeded_request_is_counted_once_and_a_refund_at_the_till_too() {
        let o = order("completed", serde_json::json!([card(1000)]));
        let p = Portion { payment_id: "pay_1".into(), destination: Destination::Card, amount: 300 };
        let done = request(&o, &p, RequestState::Succeeded);
        let mut settled = o.clone();
        settled
            .tenders
            .push(step(&done, CloudAnswer::Refund { id: "rf_1".into(), state: "succeeded".into() }, 5).tender.unwrap());
        assert_eq!(left(&settled, std::slice::from_ref(&done)), 700, "its tender is not counted again");
        let at_till = tender(-200, serde_json::json!({ "refund": { "reason": "old" } }));
        let mut both = settled.clone();
        both.tenders.push(serde_json::from_value(at_till).unwrap());
        assert_eq!(left(&both, &[done]), 500);
    }

    #[test]
    fn the_card_part_goes_first_then_the_wallet() {
        let o = order("completed", serde_json::json!([card(600), wallet(400)]));
        let parts = plan(&o, &[], 800).unwrap();
        assert_eq!(
            parts.iter().map(|p| (p.destination, p.amount)).collect::<Vec<_>>(),
            [(Destination::Card, 600), (Destination::Wallet, 200)]
        );
        let asked: Vec<_> = parts.iter().map(|p| request(&o, p, RequestState::Sent)).collect();
        assert_eq!(plan(&o, &asked, 200).unwrap()[0].destination, Destination::Wallet);
        assert!(plan(&o, &asked, 201).is_err());
    }

    #[test]
    fn an_order_not_taken_on_is_voided_not_refunded() {
        let o = order("placed", serde_json::json!([card(1000)]));
        assert!(matches!(plan(&o, &[], 100), Err(RefundError::NotTakenOn)));
    }

    #[test]
    fn the_clouds_answers_move_a_request_and_nothing_is_retried_forever() {
        let o = order("completed", serde_json::json!([card(1000)]));
        let p = Portion { payment_id: "pay_1".into(), destination: Destination::Card, amount: 250 };
        let r = request(&o, &p, RequestState::Queued);
        let pending = step(&r, CloudAnswer::Refund { id: "rf_1".into(), state: "pending".into() }, 10);
        assert_eq!(
            (pending.state, pending.cloud_refund_id.as_deref(), pending.tender),
            (RequestState::Sent, Some("rf_1"), None)
        );
        assert_eq!(pending.next_ms, 1010);
        let done = step(&r, CloudAnswer::Refund { id: "rf_1".into(), state: "succeeded".into() }, 20);
        let t = done.tender.unwrap();
        assert_eq!((done.state, t.id, t.amount), (RequestState::Succeeded, r.tender_id, -250));
        let failed = step(&r, CloudAnswer::Refund { id: "rf_1".into(), state: "failed".into() }, 20);
        assert_eq!((failed.state, failed.tender), (RequestState::Failed, None));
        let refused = step(&r, CloudAnswer::Refused("at most 0 can be refunded".into()), 30);
        assert_eq!(
            (refused.state, refused.message.as_deref()),
            (RequestState::Failed, Some("at most 0 can be refunded"))
        );
        for answer in
            [CloudAnswer::Unreachable("connection refused".into()), CloudAnswer::NotYet("not captured".into())]
        {
            let kept = step(&r, answer, 40);
            assert_eq!((kept.state, kept.tender), (RequestState::Queued, None));
        }
        assert_eq!(retry_in_ms(0), 1000);
        assert_eq!(retry_in_ms(3), 8000);
        assert_eq!(retry_in_ms(40), 300_000);
    }
}
