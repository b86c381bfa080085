//! Placing an order with its payment, and a provider's report applied to a payment and its order
//! in one transaction.

use crate::infra::db::{is_unique_violation, now_ms};
use crate::infra::error::{Error, Result};
use crate::ordering::http::{PayMethod, PayWith};
use crate::ordering::store as orders;
use crate::payments::flow::{self as pay, Seen};
use crate::payments::provider::{ProviderError, Stage};
use crate::payments::rules::{self, Change, OrderStep, Purpose, Report, State};
use crate::payments::{Payment, PaymentError, PaymentsState, ledger, store};
use patty_protocol::ids::{OrderId, TenderId};
use patty_protocol::order::{Order, OrderStatus, Tender, TenderKind};

/// What the order's tenders are once its payment is authorised: the card part and the wallet part.
pub fn tenders(p: &Payment) -> Vec<Tender> {
    let mut out = vec![];
    let at_ms = now_ms();
    if p.money.amount > 0 {
        out.push(Tender {
            id: TenderId::new(),
            amount: p.money.amount,
            kind: TenderKind::Online { provider: p.provider.clone(), payment_id: p.id.clone() },
            staff_id: None,
            at_ms,
        });
    }
    if p.money.wallet > 0 {
        out.push(Tender {
            id: TenderId::new(),
            amount: p.money.wallet,
            kind: TenderKind::Wallet { payment_id: p.id.clone() },
            staff_id: None,
            at_ms,
        });
    }
    out
}

/// Pays for `order` as `with` says and stores both. The amount is the order's total, computed by
/// the cloud. Paid from the wallet alone, or through a provider that answers at once (the test
/// provider), the order is stored `placed` with its tenders; otherwise `payment_pending`, and the
/// payment is made at the provider after commit (a provider that does not answer leaves it for
/// the reconciler). `None`: the idempotency key was used already.
pub async fn place(
    state: &PaymentsState,
    mut order: Order,
    customer: &str,
    key: &str,
    hash: &str,
    with: &PayWith,
) -> Result<Option<Order>> {
    let total = order.total;
    let wallet = match with.method {
        PayMethod::Wallet => total,
        _ => with.wallet_amount.unwrap_or(0),
    };
    if !(0..=total).contains(&wallet) {
        return Err(PaymentError::Invalid(format!("wallet_amount must be 0 to the order's total, {total}")).into());
    }
    let method = match (with.method, &with.method_id) {
        (PayMethod::Saved, Some(id)) => Some(store::method(&state.db, &state.ring, customer, id).await?),
        (PayMethod::Saved, None) => {
            return Err(PaymentError::Invalid("method_id is required to pay with a saved method".into()).into());
        }
        _ => None,
    };
    let card = total - wallet;
    let provider = state.providers.active.clone();
    let name = if card == 0 { "wallet" } else { provider.name() };
    let mut p = Payment::new(Purpose::Order, customer, name, order.currency.as_str(), card, wallet);
    p.order_id = Some(order.id);
    p.outlet_id = Some(order.outlet_id);
    p.method_id = method.as_ref().map(|m| m.id.clone());
    let instant = card == 0 || provider.name() == "test";
    if instant {
        if card > 0 {
            let remote = provider.create(&pay::create_request(&p, None)).await.map_err(PaymentError::from)?;
            p.reference = Some(remote.reference);
            p.charge = remote.charge;
        }
        p.money.state = State::Authorised;
        p.money.authorised = card;
        order.status = OrderStatus::Placed;
        order.tenders = tenders(&p);
        order.paid = total;
    } else {
        order.status = OrderStatus::PaymentPending;
    }
    let mut tx = state.db.begin().await?;
    match orders::insert_in(&mut tx, &state.vault, &order, customer, key, hash).await {
        Err(Error::Db(e)) if is_unique_violation(&e) => return Ok(None),
        r => r?,
    }
    store::insert(&mut tx, &p).await?;
    if wallet > 0 {
        ledger::lock_wallet(&mut tx, state.db.backend, customer, &p.currency).await?;
        let before = ledger::balance(&mut tx, customer).await?;
        if before < wallet {
            return Err(PaymentError::WalletShort { balance: before }.into());
        }
        pay::post(&mut tx, &state.vault, &p, &rules::hold(customer, wallet), None).await?;
    }
    if instant {
        let authorised = rules::Outcome { next: p.money.clone(), changes: vec![Change::Authorised], commands: vec![] };
        pay::record(&mut tx, &state.vault, &p, &authorised).await?;
    }
    tx.commit().await?;
    if instant {
        return Ok(Some(order));
    }
    let customer_method = match &method {
        Some(m) => {
            store::provider_customer(&state.db, &state.ring, customer, &m.provider).await?.map(|c| (c, m.token.clone()))
        }
        None => None,
    };
    match provider.create(&pay::create_request(&p, customer_method)).await {
        Ok(remote) => {
            pay::set_reference(state, &p, &remote.reference, remote.charge.as_deref()).await?;
            apply(state, &p.id, &Report::of_remote(&remote), None).await?;
        }
        Err(ProviderError::Refused(why)) => {
            let failed = Report { stage: Stage::Failed, authorised: 0, captured: 0, fee: 0, reason: Some(why) };
            apply(state, &p.id, &failed, None).await?;
        }
        Err(e) => {
            tracing::warn!(payment = %p.id, error = %e, "checkout: the provider did not answer; the reconciler settles the payment")
        }
    }
    Ok(Some(orders::load(&state.db, order.id).await?))
}

/// Applies a provider's `report` to payment `id` and its order, in one transaction: the payment
/// merged by the rules; authorised sends a waiting order to its outlet, declined or cancelled
/// cancels it. `seen`: the webhook it came from, recorded in the same transaction (false: seen
/// before, nothing done). The provider calls the change owes are made after commit.
pub async fn apply(state: &PaymentsState, id: &str, report: &Report, seen: Option<Seen<'_>>) -> Result<bool> {
    let mut tx = state.db.begin().await?;
    if let Some(s) = &seen
        && !store::first_sight(&mut tx, s.provider, s.event_id, s.kind, Some(id)).await?
    {
        return Ok(false);
    }
    let before = store::lock(&mut tx, state.db.backend, id).await?;
    // Read in the transaction: on SQLite it holds the pool's one connection.
    let order = match before.order_id {
        Some(o) => orders::lock_orders(&mut tx, state.db.backend, &[o.to_string()]).await?.remove(&o),
        None => None,
    };
    let withdrawn = order.as_ref().is_some_and(|o| matches!(o.status, OrderStatus::Cancelled | OrderStatus::Voided));
    let outcome = rules::report(&before.money, report, withdrawn);
    let after = pay::record(&mut tx, &state.vault, &before, &outcome).await?;
    if let Some(order) = before.order_id {
        order_effects(&mut tx, state, &after, order, &outcome.changes).await?;
    }
    tx.commit().await?;
    if after.due.is_some() {
        pay::settle_due(state, id).await?;
    }
    Ok(true)
}

async fn order_effects(
    conn: &mut sqlx::AnyConnection,
    state: &PaymentsState,
    p: &Payment,
    order: OrderId,
    changes: &[Change],
) -> Result<()> {
    for c in changes {
        match c {
            Change::Authorised => {
                orders::release_paid(conn, &state.vault, order, tenders(p)).await?;
            }
            Change::Failed { reason } => {
                orders::cancel_unpaid(conn, &state.vault, order, &format!("the payment was declined ({reason})"))
                    .await?;
            }
            Change::Cancelled => {
                orders::cancel_unpaid(conn, &state.vault, order, "the payment was cancelled").await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The order's step (taken on, withdrawn) applied to its payment, then the owed call made.
pub async fn order_step(state: &PaymentsState, order: OrderId, step: OrderStep) -> Result<()> {
    let Some(p) = store::of_order(&state.db, order).await? else { return Ok(()) };
    let mut tx = state.db.begin().await?;
    let after = pay::order_step(&mut tx, state.db.backend, &state.vault, &p.id, step).await?;
    tx.commit().await?;
    if after.due.is_some() {
        pay::settle_due(state, &p.id).await?;
    }
    Ok(())
}
