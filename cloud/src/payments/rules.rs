//! The payment rules, pure: how what a provider says (an API answer or a webhook, in any order,
//! any number of times) and what the order does (taken on, withdrawn) move a payment, which
//! changes that records (events, ledger transactions) and which calls to the provider it asks
//! for. The shells in [`super::store`] and [`super::worker`] run them.
//!
//! The amounts only grow: what the provider reports is merged with what we knew by taking the
//! larger, so a repeated, late or reordered webhook changes nothing it should not. A payment's
//! state has a rank (created < open < authorised < captured, cancelled, failed); a report of a
//! lower rank never moves it back. What the provider says is the truth: money it reports taken
//! for an order that was withdrawn is refunded, an authorisation it reports for a payment we
//! cancelled is released again.

use super::provider::{Happened, Remote, Stage};

/// Where a payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Written, not yet made at the provider (or its answer was lost: the reconciler asks).
    Created,
    /// Made at the provider; the customer has to confirm it.
    Open,
    /// The amount is held on the card (and the wallet part held in the wallet).
    Authorised,
    /// Taken.
    Captured,
    /// Released before anything was taken.
    Cancelled,
    /// Declined.
    Failed,
}

impl State {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Open => "open",
            Self::Authorised => "authorised",
            Self::Captured => "captured",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// Parses [`State::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Created, Self::Open, Self::Authorised, Self::Captured, Self::Cancelled, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Created => 0,
            Self::Open => 1,
            Self::Authorised => 2,
            Self::Captured | Self::Cancelled | Self::Failed => 3,
        }
    }

    /// No report moves it further (except the provider's word that money was taken).
    pub fn is_final(self) -> bool {
        self.rank() == 3
    }
}

/// What a payment is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// An order: captured when the outlet takes it on.
    Order,
    /// Money into the wallet: captured by the provider at once.
    TopUp,
}

/// The part of a payment the rules read and write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// What it is for.
    pub purpose: Purpose,
    /// Where it stands.
    pub state: State,
    /// Asked of the provider.
    pub amount: i64,
    /// Held at the provider.
    pub authorised: i64,
    /// Taken by the provider.
    pub captured: i64,
    /// The part paid from the wallet (held while authorised, spent once captured).
    pub wallet: i64,
    /// The provider's fee so far.
    pub fee: i64,
}

/// What happened to the payment, as the shell records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Now authorised: the order may go to its outlet.
    Authorised,
    /// `delta` more was taken by the provider.
    Captured {
        /// Newly captured.
        delta: i64,
    },
    /// The wallet part was spent (the order was taken on).
    WalletSpent {
        /// The wallet part.
        amount: i64,
    },
    /// The wallet part's hold was given back (the payment will not be taken).
    WalletReleased {
        /// The wallet part.
        amount: i64,
    },
    /// Declined by the provider.
    Failed {
        /// The provider's reason.
        reason: String,
    },
    /// Released.
    Cancelled,
    /// The provider's fee grew by `delta`.
    Fee {
        /// Newly charged fee.
        delta: i64,
    },
}

/// A call the shell makes to the provider after the change is committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Take `amount` of the authorisation.
    Capture {
        /// At most what is authorised.
        amount: i64,
    },
    /// Release the authorisation.
    Cancel,
    /// Give back all that is left of what was taken (the order was withdrawn after the money was
    /// taken): the card part to the card, the wallet part to the wallet.
    RefundRest,
}

/// What a step does: the payment after it, what to record, what to ask of the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The payment after the step.
    pub next: Money,
    /// What to record, in order.
    pub changes: Vec<Change>,
    /// What to ask of the provider.
    pub commands: Vec<Command>,
}

/// What the order did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStep {
    /// The outlet took it on (accepted, started or readied it): capture.
    TakenOn,
    /// Cancelled or voided: release, or give back what was taken.
    Withdrawn,
}

/// A report from the provider: its stage and amounts (from an API answer or a webhook).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Its stage.
    pub stage: Stage,
    /// Authorised, as it says.
    pub authorised: i64,
    /// Captured, as it says.
    pub captured: i64,
    /// Its fee.
    pub fee: i64,
    /// Why it failed.
    pub reason: Option<String>,
}

impl Report {
    /// What an API answer says.
    pub fn of_remote(r: &Remote) -> Self {
        Self { stage: r.stage, authorised: r.authorised, captured: r.captured, fee: r.fee, reason: None }
    }

    /// What a webhook says (`None`: nothing about the payment's money; refunds are settled
    /// apart).
    pub fn of_notice(h: &Happened) -> Option<Self> {
        let r = |stage, authorised, captured, fee, reason| Some(Self { stage, authorised, captured, fee, reason });
        match h {
            Happened::Authorised { amount, .. } => r(Stage::Authorised, *amount, 0, 0, None),
            Happened::Captured { amount, fee, .. } => r(Stage::Captured, *amount, *amount, *fee, None),
            Happened::Failed { reason } => r(Stage::Failed, 0, 0, 0, Some(reason.clone())),
            Happened::Cancelled => r(Stage::Cancelled, 0, 0, 0, None),
            Happened::Refund { .. } | Happened::Other(_) => None,
        }
    }
}

fn state_of(stage: Stage) -> State {
    match stage {
        Stage::Open => State::Open,
        Stage::Authorised => State::Authorised,
        Stage::Captured => State::Captured,
        Stage::Cancelled => State::Cancelled,
        Stage::Failed => State::Failed,
    }
}

/// Merges a provider's report into the payment. `withdrawn`: the order it pays for was cancelled
/// or voided meanwhile (an authorisation then is released again, a capture refunded).
pub fn report(p: &Money, r: &Report, withdrawn: bool) -> Outcome {
    let mut next = p.clone();
    let mut changes = vec![];
    let mut commands = vec![];
    let reported = state_of(r.stage);
    // Amounts only grow; what was taken was authorised.
    let captured = p.captured.max(r.captured);
    next.authorised = p.authorised.max(r.authorised).max(captured);
    next.captured = captured;
    if r.fee > p.fee {
        changes.push(Change::Fee { delta: r.fee - p.fee });
        next.fee = r.fee;
    }
    let moved = match (p.state, reported) {
        // Money taken is the truth whatever we thought.
        (from, State::Captured) if from != State::Captured => true,
        (from, to) => !from.is_final() && to.rank() > from.rank(),
    };
    if moved {
        next.state = reported;
        match reported {
            State::Authorised => {
                changes.push(Change::Authorised);
                match (withdrawn, p.purpose) {
                    (true, _) => {
                        commands.push(Command::Cancel);
                    }
                    // A top-up is taken at once.
                    (false, Purpose::TopUp) => commands.push(Command::Capture { amount: next.authorised }),
                    (false, Purpose::Order) => {}
                }
            }
            State::Captured => {
                if p.state.rank() < State::Authorised.rank() {
                    changes.push(Change::Authorised);
                }
                if p.wallet > 0 && p.purpose == Purpose::Order {
                    if p.state == State::Cancelled || p.state == State::Failed {
                        // The hold was given back when we cancelled; the card part is refunded.
                    } else {
                        changes.push(Change::WalletSpent { amount: p.wallet });
                    }
                }
                if withdrawn || matches!(p.state, State::Cancelled | State::Failed) {
                    commands.push(Command::RefundRest);
                }
            }
            State::Failed => {
                changes.push(Change::Failed { reason: r.reason.clone().unwrap_or_else(|| "declined".into()) });
                if p.wallet > 0 {
                    changes.push(Change::WalletReleased { amount: p.wallet });
                }
            }
            State::Cancelled => {
                changes.push(Change::Cancelled);
                if p.wallet > 0 {
                    changes.push(Change::WalletReleased { amount: p.wallet });
                }
            }
            State::Created | State::Open => {}
        }
    } else if reported == State::Authorised && matches!(p.state, State::Cancelled | State::Failed) {
        // An authorisation reported after we let the payment go: release it (again).
        commands.push(Command::Cancel);
    }
    if captured > p.captured {
        changes.push(Change::Captured { delta: captured - p.captured });
    }
    Outcome { next, changes, commands }
}

/// What the order's step asks of its payment.
pub fn order_step(p: &Money, step: OrderStep) -> Outcome {
    let mut next = p.clone();
    let mut changes = vec![];
    let mut commands = vec![];
    match (step, p.state) {
        (OrderStep::TakenOn, State::Authorised) => {
            if p.authorised > 0 {
                commands.push(Command::Capture { amount: p.authorised.min(p.amount) });
            } else {
                // Paid from the wallet alone: spent now, nothing to ask of a provider.
                next.state = State::Captured;
                if p.wallet > 0 {
                    changes.push(Change::WalletSpent { amount: p.wallet });
                }
            }
        }
        (OrderStep::Withdrawn, State::Created | State::Open | State::Authorised) => {
            next.state = State::Cancelled;
            changes.push(Change::Cancelled);
            if p.wallet > 0 {
                changes.push(Change::WalletReleased { amount: p.wallet });
            }
            // A card part is released at the provider (if it never answered, whatever it made under
            // our key is found and released).
            if p.amount > 0 {
                commands.push(Command::Cancel);
            }
        }
        (OrderStep::Withdrawn, State::Captured) => commands.push(Command::RefundRest),
        _ => {}
    }
    Outcome { next, changes, commands }
}

/// Why a refund is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefused {
    /// Not taken (yet): release it instead, by cancelling the order.
    #[error("nothing has been taken for this payment yet")]
    NotCaptured,
    /// More than is left.
    #[error("at most {left} can be refunded")]
    TooMuch {
        /// What is left to refund.
        left: i64,
    },
    /// Zero or less.
    #[error("a refund is a positive amount")]
    NotPositive,
}

/// Where a refund goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// Back to the card, through the provider.
    Card,
    /// Into the customer's wallet, at once.
    Wallet,
}

/// Checks a refund of `amount` to `to`, given what was taken and what is refunded or being
/// refunded already (to the card, and in all).
pub fn check_refund(
    p: &Money,
    amount: i64,
    to: Destination,
    card_refunds: i64,
    all_refunds: i64,
) -> Result<(), RefundRefused> {
    if amount <= 0 {
        return Err(RefundRefused::NotPositive);
    }
    if p.state != State::Captured {
        return Err(RefundRefused::NotCaptured);
    }
    let left_all = p.captured + p.wallet - all_refunds;
    let left = match to {
        Destination::Card => (p.captured - card_refunds).min(left_all),
        Destination::Wallet => left_all,
    };
    if amount > left {
        return Err(RefundRefused::TooMuch { left: left.max(0) });
    }
    Ok(())
}

// --- The ledger's posting rules ---

/// A ledger account's name. Debits are positive, credits negative; every transaction's entries
/// sum to zero.
pub mod account {
    /// The chain's sales paid for (a credit balance).
    pub const SALES: &str = "sales";
    /// A customer's wallet: a liability to them (its balance is minus its entries' sum).
    pub fn wallet(customer: &str) -> String {
        format!("wallet:{customer}")
    }
    /// A customer's wallet money held for an order not yet taken on.
    pub fn held(customer: &str) -> String {
        format!("held:{customer}")
    }
    /// Money the provider collected for the chain (a debit balance: owed to us by it).
    pub fn provider(name: &str) -> String {
        format!("provider:{name}")
    }
    /// The provider's fees.
    pub fn fees(name: &str) -> String {
        format!("fees:{name}")
    }
}

/// One ledger transaction: its kind and its entries (account, signed amount).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    /// `capture`, `top_up`, `hold`, `release`, `spend`, `fee`, `refund`, `refund_to_wallet`.
    pub kind: &'static str,
    /// The entries; they sum to zero.
    pub entries: Vec<(String, i64)>,
}

impl Posting {
    fn pair(kind: &'static str, debit: String, credit: String, amount: i64) -> Self {
        Self { kind, entries: vec![(debit, amount), (credit, -amount)] }
    }

    /// Whether its entries sum to zero.
    pub fn balances(&self) -> bool {
        self.entries.iter().map(|(_, a)| a).sum::<i64>() == 0
    }

    /// How much it moves into (positive) or out of (negative) `customer`'s wallet.
    pub fn into_wallet(&self, customer: &str) -> i64 {
        let w = account::wallet(customer);
        -self.entries.iter().filter(|(a, _)| *a == w).map(|(_, x)| x).sum::<i64>()
    }
}

/// The wallet part of an order held at checkout.
pub fn hold(customer: &str, amount: i64) -> Posting {
    Posting::pair("hold", account::wallet(customer), account::held(customer), amount)
}

/// What a change posts to the ledger, if anything.
pub fn posting(change: &Change, purpose: Purpose, provider: &str, customer: &str) -> Option<Posting> {
    Some(match change {
        Change::Captured { delta } => match purpose {
            Purpose::Order => Posting::pair("capture", account::provider(provider), account::SALES.into(), *delta),
            Purpose::TopUp => Posting::pair("top_up", account::provider(provider), account::wallet(customer), *delta),
        },
        Change::WalletSpent { amount } => {
            Posting::pair("spend", account::held(customer), account::SALES.into(), *amount)
        }
        Change::WalletReleased { amount } => {
            Posting::pair("release", account::held(customer), account::wallet(customer), *amount)
        }
        Change::Fee { delta } => Posting::pair("fee", account::fees(provider), account::provider(provider), *delta),
        Change::Authorised | Change::Failed { .. } | Change::Cancelled => return None,
    })
}

/// A refund settled: back to the card through the provider, or into the wallet.
pub fn refund_posting(to: Destination, provider: &str, customer: &str, amount: i64) -> Posting {
    match to {
        Destination::Card => Posting::pair("refund", account::SALES.into(), account::provider(provider), amount),
        Destination::Wallet => {
            Posting::pair("refund_to_wallet", account::SALES.into(), account::wallet(customer), amount)
        }
    }
}

#[cfg(test)]
#[path = "rules/tests.rs"]
mod tests;
