//! The double-entry ledger's SQL: a transaction's entries are written together and never
//! changed; a balance is the sum of an account's entries; a wallet is locked while money leaves
//! it, so it can never go below zero. The posting rules (which accounts a change moves) are pure,
//! in [`super::rules`].

use super::PaymentError;
use super::rules::{Posting, account};
use crate::infra::db::{Backend, Db, now_ms};
use crate::infra::error::Result;
use sqlx::Row;

/// What one posting is about.
pub struct About<'a> {
    /// The customer whose wallet or payment it concerns.
    pub customer: &'a str,
    /// The payment.
    pub payment: Option<&'a str>,
    /// The refund.
    pub refund: Option<&'a str>,
    /// ISO 4217.
    pub currency: &'a str,
}

/// Writes `posting` as one ledger transaction in the caller's database transaction; returns its id.
pub async fn post(conn: &mut sqlx::AnyConnection, posting: &Posting, about: &About<'_>) -> Result<String> {
    debug_assert!(posting.balances(), "an unbalanced posting: {posting:?}");
    let id = format!("txn_{}", uuid::Uuid::now_v7().simple());
    let at = now_ms();
    sqlx::query(
        "INSERT INTO ledger_txns (id, kind, customer_id, payment_id, refund_id, currency, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(posting.kind)
    .bind(about.customer)
    .bind(about.payment)
    .bind(about.refund)
    .bind(about.currency)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    for (acct, amount) in &posting.entries {
        sqlx::query("INSERT INTO ledger_entries (txn_id, account, amount, at_ms) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(acct)
            .bind(amount)
            .bind(at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// Locks `customer`'s wallet row until the transaction ends (making it on first use), so two
/// spends of one balance are one after the other.
pub async fn lock_wallet(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    customer: &str,
    currency: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO wallets (customer_id, currency, created_ms) VALUES ($1, $2, $3) ON CONFLICT (customer_id) DO NOTHING")
        .bind(customer)
        .bind(currency)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT customer_id FROM wallets WHERE customer_id = $1 FOR UPDATE")
            .bind(customer)
            .fetch_one(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `customer`'s wallet balance: minus the sum of its account's entries.
pub async fn balance(conn: &mut sqlx::AnyConnection, customer: &str) -> Result<i64> {
    let row =
        sqlx::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM ledger_entries WHERE account = $1")
            .bind(account::wallet(customer))
            .fetch_one(&mut *conn)
            .await?;
    Ok(-row.try_get::<i64, _>("s")?)
}

/// Takes `amount` out of `customer`'s wallet with `posting`, refusing with
/// [`PaymentError::WalletShort`] (and writing nothing) if the balance cannot cover it. Returns
/// the transaction's id and the balance after.
pub async fn spend(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    posting: &Posting,
    about: &About<'_>,
) -> Result<(String, i64)> {
    lock_wallet(conn, backend, about.customer, about.currency).await?;
    let before = balance(conn, about.customer).await?;
    let after = before + posting.into_wallet(about.customer);
    if after < 0 {
        return Err(PaymentError::WalletShort { balance: before }.into());
    }
    Ok((post(conn, posting, about).await?, after))
}

/// One ledger entry as shown.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// The ledger transaction.
    pub txn_id: String,
    /// Its kind.
    pub kind: String,
    /// The payment it belongs to.
    pub payment_id: Option<String>,
    /// Into the wallet (positive) or out of it (negative), minor units.
    pub amount: i64,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// The movements of `customer`'s wallet, newest first.
pub async fn wallet_entries(db: &Db, customer: &str, limit: i64) -> Result<Vec<Entry>> {
    let rows = sqlx::query(
        "SELECT e.txn_id, t.kind, t.payment_id, e.amount, e.at_ms FROM ledger_entries e JOIN ledger_txns t ON t.id = e.txn_id
          WHERE e.account = $1 ORDER BY e.id DESC LIMIT $2",
    )
    .bind(account::wallet(customer))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry {
                txn_id: r.try_get("txn_id")?,
                kind: r.try_get("kind")?,
                payment_id: r.try_get("payment_id")?,
                amount: -r.try_get::<i64, _>("amount")?,
                at_ms: r.try_get("at_ms")?,
            })
        })
        .collect()
}

/// Ledger transactions whose entries do not sum to zero (none, unless something wrote around
/// [`post`]).
pub async fn unbalanced(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT txn_id FROM ledger_entries GROUP BY txn_id HAVING SUM(amount) <> 0")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("txn_id")?)).collect()
}

/// One provider's day, from both sides.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ProviderDay {
    /// `stripe`, `razorpay`, `test`.
    pub provider: String,
    /// Captured that day, as the payments record it (what the provider reported).
    pub captured: i64,
    /// Refunded that day (settled), as the refunds record it.
    pub refunded: i64,
    /// Fees reported on that day's captures.
    pub fees: i64,
    /// The ledger's movements of the provider's account from captures that day.
    pub ledger_captured: i64,
    /// The ledger's refunds to cards through the provider that day.
    pub ledger_refunded: i64,
    /// The ledger's fees that day.
    pub ledger_fees: i64,
}

/// A payment whose ledger does not match what its provider reported.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Difference {
    /// The payment.
    pub payment_id: String,
    /// The provider.
    pub provider: String,
    /// Captured, as reported.
    pub captured: i64,
    /// Captured, as the ledger has it.
    pub ledger_captured: i64,
    /// Refunded to the card, as settled.
    pub refunded: i64,
    /// Refunded to the card, as the ledger has it.
    pub ledger_refunded: i64,
}

/// The day `[from_ms, to_ms)` per provider, and every payment of the day whose ledger differs.
pub async fn reconcile(db: &Db, from_ms: i64, to_ms: i64) -> Result<(Vec<ProviderDay>, Vec<Difference>)> {
    let mut c = db.pool.acquire().await?;
    let rows = sqlx::query(
        "SELECT p.id, p.provider, p.captured, p.fee,
                CAST(COALESCE((SELECT SUM(r.amount) FROM refunds r WHERE r.payment_id = p.id AND r.state = 'succeeded' AND r.destination = 'card'), 0) AS BIGINT) AS refunded,
                CAST(COALESCE((SELECT SUM(e.amount) FROM ledger_entries e JOIN ledger_txns t ON t.id = e.txn_id
                           WHERE t.payment_id = p.id AND t.kind = 'capture' AND e.account = 'provider:' || p.provider), 0) AS BIGINT) AS l_captured,
                CAST(COALESCE((SELECT SUM(e.amount) FROM ledger_entries e JOIN ledger_txns t ON t.id = e.txn_id
                           WHERE t.payment_id = p.id AND t.kind = 'top_up' AND e.account = 'provider:' || p.provider), 0) AS BIGINT) AS l_topped,
                CAST(COALESCE((SELECT -SUM(e.amount) FROM ledger_entries e JOIN ledger_txns t ON t.id = e.txn_id
                           WHERE t.payment_id = p.id AND t.kind = 'refund' AND e.account = 'provider:' || p.provider), 0) AS BIGINT) AS l_refunded,
                CAST(COALESCE((SELECT SUM(e.amount) FROM ledger_entries e JOIN ledger_txns t ON t.id = e.txn_id
                           WHERE t.payment_id = p.id AND t.kind = 'fee' AND e.account = 'fees:' || p.provider), 0) AS BIGINT) AS l_fees
           FROM payments p
          WHERE p.provider <> 'wallet' AND p.captured_ms >= $1 AND p.captured_ms < $2
          ORDER BY p.provider, p.id",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(&mut *c)
    .await?;
    let mut days: Vec<ProviderDay> = vec![];
    let mut differences = vec![];
    for r in rows {
        let provider: String = r.try_get("provider")?;
        let captured: i64 = r.try_get("captured")?;
        let fee: i64 = r.try_get("fee")?;
        let refunded: i64 = r.try_get("refunded")?;
        let l_captured = r.try_get::<i64, _>("l_captured")? + r.try_get::<i64, _>("l_topped")?;
        let l_refunded: i64 = r.try_get("l_refunded")?;
        let l_fees: i64 = r.try_get("l_fees")?;
        if days.last().is_none_or(|d| d.provider != provider) {
            days.push(ProviderDay { provider: provider.clone(), ..Default::default() });
        }
        let d = days.last_mut().expect("pushed");
        d.captured += captured;
        d.refunded += refunded;
        d.fees += fee;
        d.ledger_captured += l_captured;
        d.ledger_refunded += l_refunded;
        d.ledger_fees += l_fees;
        if captured != l_captured || refunded != l_refunded {
            differences.push(Difference {
                payment_id: r.try_get("id")?,
                provider,
                captured,
                ledger_captured: l_captured,
                refunded,
                ledger_refunded: l_refunded,
            });
        }
    }
    Ok((days, differences))
}
