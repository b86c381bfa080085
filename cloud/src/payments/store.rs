//! Payments' SQL: the payment rows (written, locked, saved), the webhooks seen, refunds, the
//! provider's customers and stored payment methods (their identifying columns sealed at rest),
//! and the histories. The ledger's SQL is in [`super::ledger`].

use super::rules::{Destination, Money, Purpose, State};
use super::{Payment, PaymentError, RefundRow, StoredMethod};
use crate::infra::atrest::{AtRest, aad};
use crate::infra::db::{Backend, Db, now_ms};
use crate::infra::error::Result;
use patty_protocol::ids::{OrderId, OutletId};
use sqlx::Row;

const COLUMNS: &str = "id, purpose, order_id, customer_id, outlet_id, provider, reference, charge, state, currency, amount, authorised, captured, refunded, refunding, fee, wallet_amount, method_id, failure, due, due_ms, captured_ms, created_ms, updated_ms";

fn decode(r: &sqlx::any::AnyRow) -> Result<Payment> {
    let text = |c: &str| r.try_get::<Option<String>, _>(c);
    let purpose = match r.try_get::<String, _>("purpose")?.as_str() {
        "top_up" => Purpose::TopUp,
        _ => Purpose::Order,
    };
    let state = r.try_get::<String, _>("state")?;
    Ok(Payment {
        id: r.try_get("id")?,
        order_id: text("order_id")?.and_then(|s| s.parse().ok()),
        customer_id: r.try_get("customer_id")?,
        outlet_id: text("outlet_id")?.and_then(|s| s.parse().ok()),
        provider: r.try_get("provider")?,
        reference: text("reference")?,
        charge: text("charge")?,
        currency: r.try_get("currency")?,
        refunded: r.try_get("refunded")?,
        refunding: r.try_get("refunding")?,
        method_id: text("method_id")?,
        failure: text("failure")?,
        due: text("due")?,
        due_ms: r.try_get("due_ms")?,
        captured_ms: r.try_get("captured_ms")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        money: Money {
            purpose,
            state: State::parse(&state).unwrap_or(State::Created),
            amount: r.try_get("amount")?,
            authorised: r.try_get("authorised")?,
            captured: r.try_get("captured")?,
            wallet: r.try_get("wallet_amount")?,
            fee: r.try_get("fee")?,
        },
    })
}

/// Writes a new payment.
#[tracing::instrument(skip_all, fields(payment.id = %p.id))]
pub async fn insert(conn: &mut sqlx::AnyConnection, p: &Payment) -> Result<()> {
    let sql = format!(
        "INSERT INTO payments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
    );
    sqlx::query(&sql)
        .bind(&p.id)
        .bind(match p.money.purpose {
            Purpose::Order => "order",
            Purpose::TopUp => "top_up",
        })
        .bind(p.order_id.map(|o| o.to_string()))
        .bind(&p.customer_id)
        .bind(p.outlet_id.map(|o| o.to_string()))
        .bind(&p.provider)
        .bind(&p.reference)
        .bind(&p.charge)
        .bind(p.money.state.as_str())
        .bind(&p.currency)
        .bind(p.money.amount)
        .bind(p.money.authorised)
        .bind(p.money.captured)
        .bind(p.refunded)
        .bind(p.refunding)
        .bind(p.money.fee)
        .bind(p.money.wallet)
        .bind(&p.method_id)
        .bind(&p.failure)
        .bind(&p.due)
        .bind(p.due_ms)
        .bind(p.captured_ms)
        .bind(p.created_ms)
        .bind(p.updated_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Saves a payment's moving parts (state, amounts, the provider's ids, the failure).
#[tracing::instrument(skip_all, fields(payment.id = %p.id, state = p.money.state.as_str()))]
pub async fn save(conn: &mut sqlx::AnyConnection, p: &Payment) -> Result<()> {
    sqlx::query(
        "UPDATE payments SET state = $1, authorised = $2, captured = $3, refunded = $4, refunding = $5, fee = $6,
                reference = $7, charge = $8, failure = $9, captured_ms = $10, updated_ms = $11, due = $12, due_ms = $13,
                wallet_amount = $14
          WHERE id = $15",
    )
    .bind(p.money.state.as_str())
    .bind(p.money.authorised)
    .bind(p.money.captured)
    .bind(p.refunded)
    .bind(p.refunding)
    .bind(p.money.fee)
    .bind(&p.reference)
    .bind(&p.charge)
    .bind(&p.failure)
    .bind(p.captured_ms)
    .bind(p.updated_ms)
    .bind(&p.due)
    .bind(p.due_ms)
    .bind(p.money.wallet)
    .bind(&p.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One payment; [`PaymentError::NotFound`] if unknown.
pub async fn load(db: &Db, id: &str) -> Result<Payment> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| PaymentError::NotFound(id.to_owned()))?;
    decode(&row)
}

/// One payment read in the caller's transaction and locked until it ends (PostgreSQL; SQLite
/// has one writer).
pub async fn lock(conn: &mut sqlx::AnyConnection, backend: Backend, id: &str) -> Result<Payment> {
    let lock = if backend == Backend::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| PaymentError::NotFound(id.to_owned()))?;
    decode(&row)
}

/// The payment of an order (its latest attempt).
pub async fn of_order(db: &Db, order: OrderId) -> Result<Option<Payment>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1 ORDER BY created_ms DESC, id DESC LIMIT 1"
    ))
    .bind(order.to_string())
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(decode).transpose()
}

/// The payment a provider knows by `reference`.
pub async fn by_reference(db: &Db, provider: &str, reference: &str) -> Result<Option<Payment>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE provider = $1 AND reference = $2"))
        .bind(provider)
        .bind(reference)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Payments not settled (created, open) last changed before `before_ms`: the reconciler's work.
pub async fn unsettled(db: &Db, before_ms: i64, limit: i64) -> Result<Vec<Payment>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE state IN ('created', 'open') AND updated_ms < $1 AND provider <> 'wallet'
         ORDER BY updated_ms LIMIT $2"
    ))
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(decode).collect()
}

/// Payments owing a provider call due before `now_ms`, oldest first.
pub async fn due(db: &Db, now_ms: i64, limit: i64) -> Result<Vec<Payment>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE due_ms <= $1 ORDER BY due_ms LIMIT $2"))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// Refunds to cards still pending, asked before `before_ms` (the provider never answered).
pub async fn stuck_refunds(db: &Db, before_ms: i64, limit: i64) -> Result<Vec<RefundRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE state = 'pending' AND destination = 'card' AND updated_ms < $1 ORDER BY updated_ms LIMIT $2"
    ))
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(decode_refund).collect()
}

/// A pending refund of `payment` for `amount` the provider has not named yet (its webhook came
/// before its API answer).
pub async fn unnamed_refund(conn: &mut sqlx::AnyConnection, payment: &str, amount: i64) -> Result<Option<RefundRow>> {
    let row = sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 AND amount = $2 AND state = 'pending' AND reference IS NULL ORDER BY created_ms LIMIT 1"
    ))
    .bind(payment)
    .bind(amount)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode_refund).transpose()
}

/// Records webhook `event_id` of `provider` as seen; false if it was seen before (a repeat).
pub async fn first_sight(
    conn: &mut sqlx::AnyConnection,
    provider: &str,
    event_id: &str,
    kind: &str,
    payment: Option<&str>,
) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO payment_webhooks (provider, event_id, kind, payment_id, received_ms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(kind)
    .bind(payment)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Which payments to list.
#[derive(Default)]
pub struct Listing {
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only this outlet's.
    pub outlet: Option<OutletId>,
    /// Made at or after, Unix ms.
    pub from_ms: Option<i64>,
    /// Made before, Unix ms.
    pub to_ms: Option<i64>,
    /// Most to return.
    pub limit: i64,
}

/// Payments, newest first.
pub async fn list(db: &Db, q: &Listing) -> Result<Vec<Payment>> {
    let mut sql = format!("SELECT {COLUMNS} FROM payments WHERE created_ms >= $1 AND created_ms < $2");
    if q.customer.is_some() {
        sql.push_str(" AND customer_id = $4");
    }
    if q.outlet.is_some() {
        sql.push_str(if q.customer.is_some() { " AND outlet_id = $5" } else { " AND outlet_id = $4" });
    }
    sql.push_str(" ORDER BY created_ms DESC LIMIT $3");
    let mut query = sqlx::query(&sql).bind(q.from_ms.unwrap_or(0)).bind(q.to_ms.unwrap_or(i64::MAX)).bind(q.limit);
    if let Some(c) = &q.customer {
        query = query.bind(c.clone());
    }
    if let Some(o) = q.outlet {
        query = query.bind(o.to_string());
    }
    query.fetch_all(&db.pool).await?.iter().map(decode).collect()
}

// --- Refunds ---

fn decode_refund(r: &sqlx::any::AnyRow) -> Result<RefundRow> {
    Ok(RefundRow {
        id: r.try_get("id")?,
        payment_id: r.try_get("payment_id")?,
        order_id: r.try_get::<Option<String>, _>("order_id")?.and_then(|s| s.parse().ok()),
        amount: r.try_get("amount")?,
        destination: if r.try_get::<String, _>("destination")? == "wallet" {
            Destination::Wallet
        } else {
            Destination::Card
        },
        reason: r.try_get("reason")?,
        by_user: r.try_get("by_user")?,
        state: r.try_get("state")?,
        reference: r.try_get("reference")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

const REFUND_COLUMNS: &str = "id, payment_id, order_id, amount, destination, reason, by_user, request_key, state, reference, created_ms, updated_ms";

/// Writes a refund.
pub async fn insert_refund(conn: &mut sqlx::AnyConnection, r: &RefundRow, request_key: Option<&str>) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&r.id)
    .bind(&r.payment_id)
    .bind(r.order_id.map(|o| o.to_string()))
    .bind(r.amount)
    .bind(match r.destination {
        Destination::Card => "card",
        Destination::Wallet => "wallet",
    })
    .bind(&r.reason)
    .bind(&r.by_user)
    .bind(request_key)
    .bind(&r.state)
    .bind(&r.reference)
    .bind(r.created_ms)
    .bind(r.updated_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The refund asked under `request_key`, if any.
pub async fn refund_by_key(conn: &mut sqlx::AnyConnection, request_key: &str) -> Result<Option<RefundRow>> {
    let row = sqlx::query(&format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE request_key = $1"))
        .bind(request_key)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(decode_refund).transpose()
}

/// A pending refund by the provider's id or ours.
pub async fn pending_refund(conn: &mut sqlx::AnyConnection, id_or_reference: &str) -> Result<Option<RefundRow>> {
    let row = sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE (reference = $1 OR id = $1) AND state = 'pending'"
    ))
    .bind(id_or_reference)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode_refund).transpose()
}

/// Sets a refund's state (and the provider's id), if it is still pending; false if it was not.
pub async fn settle_refund(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    state: &str,
    reference: Option<&str>,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE refunds SET state = $1, reference = COALESCE($2, reference), updated_ms = $3 WHERE id = $4 AND state = 'pending'",
    )
    .bind(state)
    .bind(reference)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets a pending refund's provider id.
pub async fn set_refund_reference(conn: &mut sqlx::AnyConnection, id: &str, reference: &str) -> Result<()> {
    sqlx::query("UPDATE refunds SET reference = $1 WHERE id = $2").bind(reference).bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// What is refunded or being refunded of a payment: to the card, and in all.
pub async fn refund_sums(conn: &mut sqlx::AnyConnection, payment: &str) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN destination = 'card' THEN amount ELSE 0 END), 0) AS BIGINT) AS card,
                CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total
           FROM refunds WHERE payment_id = $1 AND state <> 'failed'",
    )
    .bind(payment)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("card")?, row.try_get("total")?))
}

/// A payment's refunds, oldest first.
pub async fn refunds_of(db: &Db, payment: &str) -> Result<Vec<RefundRow>> {
    let rows =
        sqlx::query(&format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_ms, id"))
            .bind(payment)
            .fetch_all(&db.pool)
            .await?;
    rows.iter().map(decode_refund).collect()
}

// --- The provider's customers and stored methods (sealed at rest) ---

/// The columns sealed at rest, for the key rotation.
pub const SEALED: [crate::infra::atrest::SealedColumns; 2] = [
    crate::infra::atrest::SealedColumns { table: "payment_methods", id: "id", columns: &["token", "billing_name"] },
    crate::infra::atrest::SealedColumns {
        table: "payment_customers",
        id: "customer_id",
        columns: &["provider_customer"],
    },
];

/// Our customer's customer id at `provider`, if made.
pub async fn provider_customer(db: &Db, ring: &AtRest, customer: &str, provider: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT provider_customer FROM payment_customers WHERE customer_id = $1 AND provider = $2")
        .bind(customer)
        .bind(provider)
        .fetch_optional(&db.pool)
        .await?;
    match row {
        Some(r) => Ok(Some(ring.open(
            &r.try_get::<String, _>("provider_customer")?,
            &aad("payment_customers", "provider_customer", customer),
        )?)),
        None => Ok(None),
    }
}

/// Remembers our customer's customer id at `provider` (sealed); the first one stays.
pub async fn remember_customer(db: &Db, ring: &AtRest, customer: &str, provider: &str, id: &str) -> Result<()> {
    let sealed = ring.seal(id, &aad("payment_customers", "provider_customer", customer))?;
    sqlx::query(
        "INSERT INTO payment_customers (customer_id, provider, provider_customer) VALUES ($1, $2, $3)
         ON CONFLICT (customer_id, provider) DO NOTHING",
    )
    .bind(customer)
    .bind(provider)
    .bind(sealed)
    .execute(&db.pool)
    .await?;
    Ok(())
}

fn decode_method(r: &sqlx::any::AnyRow, ring: &AtRest) -> Result<StoredMethod> {
    let id: String = r.try_get("id")?;
    let token = ring.open(&r.try_get::<String, _>("token")?, &aad("payment_methods", "token", &id))?;
    let billing_name = r
        .try_get::<Option<String>, _>("billing_name")?
        .map(|b| ring.open(&b, &aad("payment_methods", "billing_name", &id)))
        .transpose()?;
    Ok(StoredMethod {
        id,
        provider: r.try_get("provider")?,
        token,
        brand: r.try_get("brand")?,
        last4: r.try_get("last4")?,
        exp_month: r.try_get::<i32, _>("exp_month")? as u32,
        exp_year: r.try_get::<i32, _>("exp_year")? as u32,
        billing_name,
        created_ms: r.try_get("created_ms")?,
    })
}

/// Stores a method for `customer`, its token and billing name sealed.
pub async fn insert_method(db: &Db, ring: &AtRest, customer: &str, m: &StoredMethod) -> Result<()> {
    sqlx::query(
        "INSERT INTO payment_methods (id, customer_id, provider, token, brand, last4, exp_month, exp_year, billing_name, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&m.id)
    .bind(customer)
    .bind(&m.provider)
    .bind(ring.seal(&m.token, &aad("payment_methods", "token", &m.id))?)
    .bind(&m.brand)
    .bind(&m.last4)
    .bind(m.exp_month as i32)
    .bind(m.exp_year as i32)
    .bind(m.billing_name.as_ref().map(|b| ring.seal(b, &aad("payment_methods", "billing_name", &m.id))).transpose()?)
    .bind(m.created_ms)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// `customer`'s stored methods, newest first.
pub async fn methods(db: &Db, ring: &AtRest, customer: &str) -> Result<Vec<StoredMethod>> {
    let rows = sqlx::query("SELECT * FROM payment_methods WHERE customer_id = $1 ORDER BY created_ms DESC, id")
        .bind(customer)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| decode_method(r, ring)).collect()
}

/// One of `customer`'s methods; [`PaymentError::NoMethod`] if not theirs.
pub async fn method(db: &Db, ring: &AtRest, customer: &str, id: &str) -> Result<StoredMethod> {
    let row = sqlx::query("SELECT * FROM payment_methods WHERE customer_id = $1 AND id = $2")
        .bind(customer)
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| PaymentError::NoMethod(id.to_owned()))?;
    decode_method(&row, ring)
}

/// Forgets one of `customer`'s methods.
pub async fn delete_method(db: &Db, customer: &str, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM payment_methods WHERE customer_id = $1 AND id = $2")
        .bind(customer)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Owes provider call `due` on payment `id` at `at_ms`.
pub async fn set_due(db: &Db, id: &str, due: &str, at_ms: i64) -> Result<()> {
    sqlx::query("UPDATE payments SET due = $1, due_ms = $2 WHERE id = $3")
        .bind(due)
        .bind(at_ms)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Claims owed call `due` on payment `id` if it is due at `now_ms` (and not being made by
/// another caller): its due time is moved to `until_ms`, so a caller that dies mid-call leaves it
/// to be retried then. False if it is not owed, not due, or claimed already.
pub async fn claim_due(db: &Db, id: &str, due: &str, now_ms: i64, until_ms: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE payments SET due_ms = $1 WHERE id = $2 AND due = $3 AND due_ms <= $4")
        .bind(until_ms)
        .bind(id)
        .bind(due)
        .bind(now_ms)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The owed call `due` was made: cleared, unless another was asked for meanwhile.
pub async fn clear_due(db: &Db, id: &str, due: &str) -> Result<()> {
    sqlx::query("UPDATE payments SET due = NULL, due_ms = NULL WHERE id = $1 AND due = $2")
        .bind(id)
        .bind(due)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Remembers the provider's ids for payment `id` (the first answer's stay).
pub async fn set_reference(db: &Db, id: &str, reference: &str, charge: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE payments SET reference = COALESCE(reference, $1), charge = COALESCE($2, charge) WHERE id = $3")
        .bind(reference)
        .bind(charge)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// One refund.
pub async fn refund(db: &Db, id: &str) -> Result<RefundRow> {
    let row = sqlx::query(&format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| PaymentError::NotFound(id.to_owned()))?;
    decode_refund(&row)
}

/// Marks payment `id` as looked at now (the reconciler comes back to it later).
pub async fn touch(db: &Db, id: &str) -> Result<()> {
    sqlx::query("UPDATE payments SET updated_ms = $1 WHERE id = $2 AND state IN ('created', 'open')")
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Marks refund `id` as sent again now.
pub async fn touch_refund(db: &Db, id: &str) -> Result<()> {
    sqlx::query("UPDATE refunds SET updated_ms = $1 WHERE id = $2 AND state = 'pending'")
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}
