//! The payments shells: a rules [`Outcome`] recorded in the caller's transaction (the payment
//! saved with the provider call it owes, each change's ledger posting, the events), the owed
//! calls made to the provider, refunds asked and settled, and wallet top-ups. Every provider call
//! is made after the change asking for it committed, under an idempotency key derived from the
//! payment and the call, and is retried by [`super::worker`] until the provider answers.

use super::ledger::{self, About};
use super::provider::{Create, Happened, Notice, ProviderError};
use super::rules::{self, Change, Command, Destination, OrderStep, Outcome, Purpose, Report};
use super::{Payment, PaymentError, PaymentsState, RefundRow, store};
use crate::events::NewEvent;
use crate::infra::db::{Backend, now_ms};
use crate::infra::error::{Error, Result};
use crate::infra::vault::Vault;
use patty_protocol::events::{PaymentChanged, WalletMoved};
use std::time::Duration;

/// How long after a failed provider call it is tried again.
pub const RETRY: Duration = Duration::from_secs(5);

/// A new payment's id.
pub fn new_id() -> String {
    format!("pay_{}", uuid::Uuid::now_v7().simple())
}

/// The payment event `what` of `p` concerning `amount`.
async fn changed(
    conn: &mut sqlx::AnyConnection,
    vault: &Vault,
    p: &Payment,
    what: &str,
    amount: i64,
    refund: Option<&RefundRow>,
    reason: Option<String>,
) -> Result<()> {
    let e = PaymentChanged {
        what: what.into(),
        payment_id: p.id.clone(),
        order_id: p.order_id,
        customer_id: p.customer_id.clone(),
        provider: p.provider.clone(),
        currency: p.currency.clone(),
        amount,
        captured: p.money.captured,
        refunded: p.refunded,
        refund_id: refund.map(|r| r.id.clone()),
        reason,
    };
    NewEvent::sealed(conn, vault, Some(&p.customer_id), &e).await?.insert(conn).await
}

/// Posts `posting` and, when it moves the customer's wallet, tells of it.
pub async fn post(
    conn: &mut sqlx::AnyConnection,
    vault: &Vault,
    p: &Payment,
    posting: &rules::Posting,
    refund: Option<&str>,
) -> Result<()> {
    let about = About { customer: &p.customer_id, payment: Some(&p.id), refund, currency: &p.currency };
    let txn = ledger::post(conn, posting, &about).await?;
    let moved = posting.into_wallet(&p.customer_id);
    if moved != 0 {
        let balance = ledger::balance(conn, &p.customer_id).await?;
        let e = WalletMoved {
            txn_id: txn,
            kind: posting.kind.into(),
            customer_id: p.customer_id.clone(),
            currency: p.currency.clone(),
            amount: moved,
            balance,
        };
        NewEvent::sealed(conn, vault, Some(&p.customer_id), &e).await?.insert(conn).await?;
    }
    Ok(())
}

/// Records `outcome` of `before` in the caller's transaction: the payment saved (owing the
/// outcome's provider call, if any), the ledger postings and the events. Returns the payment now.
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    vault: &Vault,
    before: &Payment,
    outcome: &Outcome,
) -> Result<Payment> {
    let now = now_ms();
    let mut p = before.clone();
    p.money = outcome.next.clone();
    p.updated_ms = now;
    if let Some(c) = outcome.commands.last() {
        p.due = Some(
            match c {
                Command::Capture { .. } => "capture",
                Command::Cancel => "cancel",
                Command::RefundRest => "refund_rest",
            }
            .into(),
        );
        p.due_ms = Some(now);
    }
    for change in &outcome.changes {
        if let Some(posting) = rules::posting(change, p.money.purpose, &p.provider, &p.customer_id) {
            post(conn, vault, &p, &posting, None).await?;
        }
        match change {
            Change::Authorised => changed(conn, vault, &p, "authorised", p.money.authorised, None, None).await?,
            Change::Captured { delta } => {
                p.captured_ms.get_or_insert(now);
                changed(conn, vault, &p, "captured", *delta, None, None).await?
            }
            Change::Failed { reason } => {
                p.failure = Some(reason.clone());
                changed(conn, vault, &p, "failed", p.money.amount, None, Some(reason.clone())).await?
            }
            Change::Cancelled => changed(conn, vault, &p, "cancelled", p.money.authorised, None, None).await?,
            Change::WalletSpent { .. } | Change::WalletReleased { .. } | Change::Fee { .. } => {}
        }
    }
    store::save(conn, &p).await?;
    Ok(p)
}

/// Merges a provider's report into payment `id` in one transaction; `withdrawn`: its order was
/// cancelled or voided. Returns the payment before and the outcome.
pub async fn merge(state: &PaymentsState, id: &str, report: &Report, withdrawn: bool) -> Result<(Payment, Outcome)> {
    let mut tx = state.db.begin().await?;
    let before = store::lock(&mut tx, state.db.backend, id).await?;
    let outcome = rules::report(&before.money, report, withdrawn || before.due.as_deref() == Some("cancel"));
    let after = record(&mut tx, &state.vault, &before, &outcome).await?;
    tx.commit().await?;
    let _ = after;
    Ok((before, outcome))
}

/// The order's step, applied to its payment in the caller's transaction (the order's move and
/// this are one change). Returns the payment after, if the order has one.
pub async fn order_step(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    vault: &Vault,
    payment: &str,
    step: OrderStep,
) -> Result<Payment> {
    let before = store::lock(conn, backend, payment).await?;
    let outcome = rules::order_step(&before.money, step);
    record(conn, vault, &before, &outcome).await
}

/// The provider's create request for `p`.
pub fn create_request(p: &Payment, method: Option<(String, String)>) -> Create {
    Create {
        amount: p.money.amount,
        currency: p.currency.to_uppercase(),
        key: p.key("create"),
        auto_capture: p.money.purpose == Purpose::TopUp,
        customer: method.as_ref().map(|m| m.0.clone()),
        method: method.map(|m| m.1),
        description: match p.order_id {
            Some(o) => format!("Patty Palace order {o}"),
            None => "Patty Palace wallet top-up".into(),
        },
    }
}

/// The create request `p` was first made with, its stored method included (asked again under
/// the same key, the provider must see the same request).
pub async fn create_request_again(state: &PaymentsState, p: &Payment) -> Result<Create> {
    let method = match p.method_id.as_deref() {
        Some(id) => match store::method(&state.db, &state.ring, &p.customer_id, id).await {
            Ok(m) => store::provider_customer(&state.db, &state.ring, &p.customer_id, &m.provider)
                .await?
                .map(|c| (c, m.token)),
            // Removed since: asked without it.
            Err(_) => None,
        },
        None => None,
    };
    Ok(create_request(p, method))
}

/// Makes the owed provider call of `p` (if still owed) and records what the provider answered;
/// a failure leaves it owed, due again after [`RETRY`].
pub async fn settle_due(state: &PaymentsState, id: &str) -> Result<()> {
    let p = store::load(&state.db, id).await?;
    let Some(due) = p.due.clone() else { return Ok(()) };
    // One caller makes it (the worker's round, the step that asked, a webhook arriving meanwhile),
    // held for longer than its calls may take.
    let now = now_ms();
    let hold = RETRY.as_millis() as i64 + 2 * state.config.payments.call_timeout_ms as i64;
    if !store::claim_due(&state.db, id, &due, now, now + hold).await? {
        return Ok(());
    }
    let Some(provider) = state.providers.named(&p.provider).cloned() else {
        return clear_due(state, id, &due).await;
    };
    let answer = match (due.as_str(), p.reference.as_deref()) {
        ("capture", Some(reference)) => {
            let amount = p.money.authorised.min(p.money.amount);
            provider.capture(reference, p.charge.as_deref(), amount, &p.currency, &p.key("capture")).await.map(Some)
        }
        ("cancel", Some(reference)) => provider.cancel(reference, &p.key("cancel")).await.map(Some),
        ("cancel", None) if p.money.amount > 0 => {
            // Never answered: whatever the provider made under our key is found and released.
            match provider.find(&p.key("create"), &create_request_again(state, &p).await?).await {
                Ok(Some(remote)) => {
                    set_reference(state, &p, &remote.reference, remote.charge.as_deref()).await?;
                    provider.cancel(&remote.reference, &p.key("cancel")).await.map(Some)
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        }
        ("refund_rest", _) => {
            refund_rest(state, &p).await?;
            Ok(None)
        }
        _ => Ok(None),
    };
    match answer {
        Ok(remote) => {
            if let Some(remote) = remote {
                merge(state, id, &Report::of_remote(&remote), due != "capture").await?;
            }
            clear_due(state, id, &due).await
        }
        Err(ProviderError::Refused(why)) => {
            tracing::warn!(payment = %id, call = %due, reason = %why, "payments: the provider refused an owed call");
            clear_due(state, id, &due).await
        }
        Err(e) => {
            tracing::warn!(payment = %id, call = %due, error = %e, "payments: an owed provider call failed; it is retried");
            store::set_due(&state.db, id, &due, now_ms() + RETRY.as_millis() as i64).await
        }
    }
}

async fn clear_due(state: &PaymentsState, id: &str, due: &str) -> Result<()> {
    store::clear_due(&state.db, id, due).await
}

/// Remembers the provider's ids of `p` (first answer, or found by the reconciler).
pub async fn set_reference(state: &PaymentsState, p: &Payment, reference: &str, charge: Option<&str>) -> Result<()> {
    store::set_reference(&state.db, &p.id, reference, charge).await
}

/// Gives back all that is left of a withdrawn order's payment: the card part to the card, the
/// wallet part to the wallet (each once: the refunds carry keys of the payment's).
async fn refund_rest(state: &PaymentsState, p: &Payment) -> Result<()> {
    let mut c = state.db.pool.acquire().await?;
    let (card, all) = store::refund_sums(&mut c, &p.id).await?;
    drop(c);
    let card_left = p.money.captured - card;
    let wallet_left = (p.money.captured + p.money.wallet - all) - card_left;
    let why = "the order was withdrawn after payment";
    if card_left > 0 {
        refund(state, &p.id, card_left, Destination::Card, why, "system", Some(&p.key("refund_rest"))).await?;
    }
    if wallet_left > 0 {
        refund(state, &p.id, wallet_left, Destination::Wallet, why, "system", Some(&p.key("refund_rest_wallet")))
            .await?;
    }
    Ok(())
}

/// Asks for a refund of `amount` of payment `id` to `to`. Checked against what is left under
/// the payment's lock (so concurrent refunds cannot pass together); a wallet refund is settled at
/// once, a card refund is sent to the provider after commit and settled by its answer or webhook.
/// `request_key`: the asker's idempotency key (a repeat returns the first refund).
pub async fn refund(
    state: &PaymentsState,
    id: &str,
    amount: i64,
    to: Destination,
    reason: &str,
    by: &str,
    request_key: Option<&str>,
) -> Result<RefundRow> {
    let mut tx = state.db.begin().await?;
    let mut p = store::lock(&mut tx, state.db.backend, id).await?;
    if let Some(k) = request_key
        && let Some(earlier) = store::refund_by_key(&mut tx, k).await?
    {
        if earlier.payment_id != id || earlier.amount != amount || earlier.destination != to {
            return Err(PaymentError::KeyReused.into());
        }
        return Ok(earlier);
    }
    let (card, all) = store::refund_sums(&mut tx, id).await?;
    rules::check_refund(&p.money, amount, to, card, all).map_err(PaymentError::from)?;
    let now = now_ms();
    let mut r = RefundRow {
        id: format!("rf_{}", uuid::Uuid::now_v7().simple()),
        payment_id: id.to_owned(),
        order_id: p.order_id,
        amount,
        destination: to,
        reason: reason.to_owned(),
        by_user: by.to_owned(),
        state: "pending".into(),
        reference: None,
        created_ms: now,
        updated_ms: now,
    };
    if to == Destination::Wallet {
        r.state = "succeeded".into();
    }
    store::insert_refund(&mut tx, &r, request_key).await?;
    match to {
        Destination::Wallet => {
            p.refunded += amount;
            post(
                &mut tx,
                &state.vault,
                &p,
                &rules::refund_posting(to, &p.provider, &p.customer_id, amount),
                Some(&r.id),
            )
            .await?;
            changed(&mut tx, &state.vault, &p, "refunded", amount, Some(&r), Some(reason.to_owned())).await?;
        }
        Destination::Card => p.refunding += amount,
    }
    p.updated_ms = now;
    store::save(&mut tx, &p).await?;
    tx.commit().await?;
    if to == Destination::Card {
        send_refund(state, &p, &r).await?;
    }
    store::refund(&state.db, &r.id).await
}

/// Sends a pending card refund to the provider (under the refund's own id as key) and records
/// the answer; a timeout leaves it pending for the worker.
pub async fn send_refund(state: &PaymentsState, p: &Payment, r: &RefundRow) -> Result<()> {
    let Some(provider) = state.providers.named(&p.provider).cloned() else { return Ok(()) };
    let Some(reference) = p.reference.as_deref() else { return Ok(()) };
    match provider.refund(reference, p.charge.as_deref(), r.amount, &r.id).await {
        Ok(made) => {
            let mut tx = state.db.begin().await?;
            if made.settled {
                settle_refund(&mut tx, state.db.backend, &state.vault, r, true, Some(&made.reference)).await?;
            } else {
                store::set_refund_reference(&mut tx, &r.id, &made.reference).await?;
            }
            tx.commit().await
        }
        Err(ProviderError::Refused(why)) => {
            tracing::warn!(refund = %r.id, reason = %why, "payments: the provider refused a refund");
            let mut tx = state.db.begin().await?;
            settle_refund(&mut tx, state.db.backend, &state.vault, r, false, None).await?;
            tx.commit().await
        }
        Err(e) => {
            tracing::warn!(refund = %r.id, error = %e, "payments: a refund is left pending; it is sent again");
            Ok(())
        }
    }
}

/// Settles pending refund `r` (once: a repeat does nothing): its hold on the payment given up,
/// and if it succeeded, counted as refunded and posted to the ledger.
pub async fn settle_refund(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    vault: &Vault,
    r: &RefundRow,
    succeeded: bool,
    reference: Option<&str>,
) -> Result<()> {
    let state = if succeeded { "succeeded" } else { "failed" };
    if !store::settle_refund(conn, &r.id, state, reference).await? {
        return Ok(());
    }
    let mut p = store::lock(conn, backend, &r.payment_id).await?;
    p.refunding -= r.amount;
    if succeeded {
        p.refunded += r.amount;
        post(
            conn,
            vault,
            &p,
            &rules::refund_posting(r.destination, &p.provider, &p.customer_id, r.amount),
            Some(&r.id),
        )
        .await?;
    }
    p.updated_ms = now_ms();
    store::save(conn, &p).await?;
    let what = if succeeded { "refunded" } else { "refund_failed" };
    changed(conn, vault, &p, what, r.amount, Some(r), Some(r.reason.clone())).await
}

/// A webhook to remember as seen with the change it makes (so a repeat changes nothing).
pub struct Seen<'a> {
    /// The provider.
    pub provider: &'a str,
    /// Its event id.
    pub event_id: &'a str,
    /// Its kind.
    pub kind: &'a str,
}

/// Applies a verified refund webhook (or one payments does not act on) of payment `p`, recorded
/// as `seen` in the same transaction; false if it was seen before.
pub async fn refund_notice(state: &PaymentsState, p: &Payment, notice: &Notice, seen: Seen<'_>) -> Result<bool> {
    let mut tx = state.db.begin().await?;
    if !store::first_sight(&mut tx, seen.provider, seen.event_id, seen.kind, Some(&p.id)).await? {
        return Ok(false);
    }
    let Happened::Refund { refund, amount, succeeded } = &notice.what else {
        tx.commit().await?;
        return Ok(true);
    };
    let r = match store::pending_refund(&mut tx, refund).await? {
        Some(r) => Some(r),
        None => store::unnamed_refund(&mut tx, &p.id, *amount).await?,
    };
    if let Some(r) = r {
        settle_refund(&mut tx, state.db.backend, &state.vault, &r, *succeeded, Some(refund)).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Puts `amount` into `customer`'s wallet through the active provider: a top-up payment, taken
/// at once. With the test provider it is credited before this returns; with a real one, when the
/// provider's webhook says it was taken. Returns the payment and, for one the customer still has
/// to confirm, what the provider's client needs to confirm it (its client secret).
pub async fn top_up(
    state: &PaymentsState,
    customer: &str,
    amount: i64,
    currency: &str,
) -> Result<(Payment, Option<String>)> {
    if !(1..=100_000_000).contains(&amount) {
        return Err(PaymentError::Invalid("a top-up is 1 to 100000000 minor units".into()).into());
    }
    let provider = state.providers.active.clone();
    let p = Payment::new(Purpose::TopUp, customer, provider.name(), currency, amount, 0);
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &p).await?;
    ledger::lock_wallet(&mut tx, state.db.backend, customer, currency).await?;
    tx.commit().await?;
    let mut client_secret = None;
    match provider.create(&create_request(&p, None)).await {
        Ok(remote) => {
            set_reference(state, &p, &remote.reference, remote.charge.as_deref()).await?;
            merge(state, &p.id, &Report::of_remote(&remote), false).await?;
            if remote.stage == super::provider::Stage::Open {
                client_secret = remote.client_secret;
            }
        }
        Err(ProviderError::Refused(why)) => {
            merge(
                state,
                &p.id,
                &Report {
                    stage: super::provider::Stage::Failed,
                    authorised: 0,
                    captured: 0,
                    fee: 0,
                    reason: Some(why),
                },
                false,
            )
            .await?;
        }
        Err(e) => tracing::warn!(payment = %p.id, error = %e, "payments: a top-up is left pending for the reconciler"),
    }
    Ok((store::load(&state.db, &p.id).await?, client_secret))
}

/// The payment's error as the API's.
pub fn not_found(id: &str) -> Error {
    PaymentError::NotFound(id.to_owned()).into()
}

/// The chain's currency, which wallets hold.
pub async fn currency(state: &PaymentsState) -> Result<String> {
    Ok(state.config.payments.currency.clone())
}

/// Keeps a card the customer's client made with the provider: attached to the customer at the
/// provider (made there once), stored as the provider describes it.
pub async fn add_method(
    state: &PaymentsState,
    customer: &str,
    token: &str,
    billing_name: Option<String>,
) -> Result<super::StoredMethod> {
    let provider = state.providers.active.clone();
    let their = match store::provider_customer(&state.db, &state.ring, customer, provider.name()).await? {
        Some(c) => c,
        None => {
            let key = format!("customer:{}", patty_service::secret::digest(&[customer.as_bytes()]));
            let made = provider.customer(&key).await.map_err(PaymentError::from)?;
            store::remember_customer(&state.db, &state.ring, customer, provider.name(), &made).await?;
            // Two racing first adds keep the first one stored.
            store::provider_customer(&state.db, &state.ring, customer, provider.name()).await?.unwrap_or(made)
        }
    };
    let m = provider.attach(&their, token).await.map_err(PaymentError::from)?;
    let stored = super::StoredMethod {
        id: format!("pm_{}", uuid::Uuid::now_v7().simple()),
        provider: provider.name().into(),
        token: m.token,
        brand: m.brand,
        last4: m.last4,
        exp_month: m.exp_month,
        exp_year: m.exp_year,
        billing_name: billing_name.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()),
        created_ms: now_ms(),
    };
    store::insert_method(&state.db, &state.ring, customer, &stored).await?;
    Ok(stored)
}

/// Removes a stored card: detached at the provider first (a provider that fails leaves it
/// stored, and says so).
pub async fn remove_method(state: &PaymentsState, customer: &str, id: &str) -> Result<()> {
    let m = store::method(&state.db, &state.ring, customer, id).await?;
    if let Some(provider) = state.providers.named(&m.provider) {
        provider.detach(&m.token).await.map_err(PaymentError::from)?;
    }
    store::delete_method(&state.db, customer, id).await
}
