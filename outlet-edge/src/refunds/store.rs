//! The `refund_requests` table and the writes that keep what [`super::rules`] decide: a request
//! recorded with its audit entry, and an answer of the cloud applied (with the order's refund
//! tender once the money went back), each in one write. Every change to a request publishes its
//! order on the live streams, so screens that follow orders look again.

use super::rules::{self, Destination, RefundRequest, RequestState, Step};
use crate::audit;
use crate::infra::error::Result;
use crate::infra::events::Event;
use crate::infra::state::AppState;
use crate::infra::store::WriteCtx;
use crate::orders;
use patty_protocol::ids::{OrderId, StaffId, TenderId};
use patty_protocol::order::Order;
use rusqlite::{Connection, Row, params};
use std::sync::Arc;

const COLUMNS: &str = "id, order_id, payment_id, destination, amount, reason, staff_id, state, message, \
                       cloud_refund_id, tender_id, attempts, next_ms, created_ms, updated_ms";

fn parsed<T: std::str::FromStr>(i: usize, s: String) -> rusqlite::Result<T> {
    s.parse().map_err(|_| rusqlite::Error::InvalidColumnType(i, format!("stored {s}"), rusqlite::types::Type::Text))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<RefundRequest> {
    let destination: String = r.get(3)?;
    let state: String = r.get(7)?;
    let bad =
        |i: usize, s: &str| rusqlite::Error::InvalidColumnType(i, format!("stored {s}"), rusqlite::types::Type::Text);
    Ok(RefundRequest {
        id: r.get(0)?,
        order_id: parsed(1, r.get(1)?)?,
        payment_id: r.get(2)?,
        destination: match destination.as_str() {
            "card" => Destination::Card,
            "wallet" => Destination::Wallet,
            other => return Err(bad(3, other)),
        },
        amount: r.get(4)?,
        reason: r.get(5)?,
        staff_id: parsed(6, r.get(6)?)?,
        state: RequestState::parse(&state).ok_or_else(|| bad(7, &state))?,
        message: r.get(8)?,
        cloud_refund_id: r.get(9)?,
        tender_id: parsed(10, r.get(10)?)?,
        attempts: r.get(11)?,
        next_ms: r.get(12)?,
        created_ms: r.get(13)?,
        updated_ms: r.get(14)?,
    })
}

/// Order `id`'s refund requests, oldest first.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub fn of_order(conn: &Connection, id: OrderId) -> Result<Vec<RefundRequest>> {
    let sql = format!("SELECT {COLUMNS} FROM refund_requests WHERE order_id = ?1 ORDER BY created_ms, id");
    Ok(conn.prepare_cached(&sql)?.query_map([id.to_string()], from_row)?.collect::<rusqlite::Result<_>>()?)
}

/// The newest `limit` requests (of order `order` if given), newest first.
#[tracing::instrument(skip_all)]
pub fn recent(conn: &Connection, order: Option<OrderId>, limit: i64) -> Result<Vec<RefundRequest>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM refund_requests WHERE (?1 IS NULL OR order_id = ?1)
         ORDER BY created_ms DESC, id DESC LIMIT ?2"
    );
    let order = order.map(|o| o.to_string());
    Ok(conn.prepare_cached(&sql)?.query_map(params![order, limit], from_row)?.collect::<rusqlite::Result<_>>()?)
}

/// The requests the sender should take to the cloud now: queued or sent ones whose time has come
/// (every queued one when `all_queued`, as when the link has just come back), oldest first.
#[tracing::instrument(skip_all)]
pub fn due(conn: &Connection, now_ms: i64, all_queued: bool) -> Result<Vec<RefundRequest>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM refund_requests
         WHERE state IN ('queued', 'sent') AND (next_ms <= ?1 OR (?2 AND state = 'queued'))
         ORDER BY created_ms, id LIMIT 100"
    );
    Ok(conn.prepare_cached(&sql)?.query_map(params![now_ms, all_queued], from_row)?.collect::<rusqlite::Result<_>>()?)
}

fn insert(ctx: &WriteCtx<'_>, r: &RefundRequest) -> Result<()> {
    ctx.conn
        .prepare_cached(&format!(
            "INSERT INTO refund_requests ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))?
        .execute(params![
            r.id,
            r.order_id.to_string(),
            r.payment_id,
            r.destination.as_str(),
            r.amount,
            r.reason,
            r.staff_id.to_string(),
            r.state.as_str(),
            r.message,
            r.cloud_refund_id,
            r.tender_id.to_string(),
            r.attempts,
            r.next_ms,
            r.created_ms,
            r.updated_ms
        ])?;
    Ok(())
}

/// Publishes order `id` as it is (its refund requests changed).
fn publish(ctx: &mut WriteCtx<'_>, id: OrderId) -> Result<Order> {
    let (order, recalled) = orders::load(ctx.conn, id)?;
    ctx.emit(Event::Order { order: Arc::new(order.clone()), recalled });
    Ok(order)
}

/// Records a refund of `amount` of order `id`'s online payment asked by `by` for `why`: one
/// queued request per payment part it takes (card first, then wallet), audited, in one write.
/// The order itself does not change until the money went back.
#[tracing::instrument(skip_all, fields(order.id = %id, staff.id = %by))]
pub async fn request(
    state: &AppState,
    id: OrderId,
    by: StaffId,
    amount: i64,
    why: String,
) -> Result<(Order, Vec<RefundRequest>)> {
    state
        .store
        .write(move |ctx| {
            let (order, _) = orders::load(ctx.conn, id)?;
            let earlier = of_order(ctx.conn, id)?;
            let parts = rules::plan(&order, &earlier, amount)?;
            let mut made = Vec::with_capacity(parts.len());
            for p in parts {
                let r = RefundRequest {
                    id: uuid::Uuid::now_v7().to_string(),
                    order_id: id,
                    payment_id: p.payment_id,
                    destination: p.destination,
                    amount: p.amount,
                    reason: why.clone(),
                    staff_id: by,
                    state: RequestState::Queued,
                    message: None,
                    cloud_refund_id: None,
                    tender_id: TenderId::new(),
                    attempts: 0,
                    next_ms: ctx.now_ms,
                    created_ms: ctx.now_ms,
                    updated_ms: ctx.now_ms,
                };
                insert(ctx, &r)?;
                made.push(r);
            }
            let to: Vec<&str> = made.iter().map(|r| r.destination.as_str()).collect();
            let detail = format!("{amount} online, to the {} through the cloud: {why}", to.join(" and "));
            audit::record(ctx, by, "refund_request", &id.to_string(), &detail)?;
            let order = publish(ctx, id)?;
            Ok((order, made))
        })
        .await
}

/// Applies `step` to request `was` (as the sender read it), unless it changed meanwhile; when
/// the money went back, the order gets its refund tender in the same write. The request as it
/// now is, or `None` when it had changed.
#[tracing::instrument(skip_all, fields(order.id = %was.order_id, request.id = %was.id, to = step.state.as_str()))]
pub async fn apply_step(state: &AppState, was: RefundRequest, step: Step) -> Result<Option<RefundRequest>> {
    let cfg = state.config.outlet.clone();
    state
        .store
        .write(move |ctx| {
            let changed = ctx
                .conn
                .prepare_cached(
                    "UPDATE refund_requests SET state = ?3, message = ?4, cloud_refund_id = ?5, attempts = attempts + 1,
                            next_ms = ?6, updated_ms = ?7
                     WHERE id = ?1 AND state = ?2 AND attempts = ?8",
                )?
                .execute(params![
                    was.id,
                    was.state.as_str(),
                    step.state.as_str(),
                    step.message,
                    step.cloud_refund_id,
                    step.next_ms,
                    ctx.now_ms,
                    was.attempts
                ])?;
            if changed == 0 {
                return Ok(None);
            }
            match step.tender {
                Some(tender) => {
                    orders::record_refund(ctx, &cfg, was.order_id, tender)?;
                }
                None if step.state != was.state => {
                    publish(ctx, was.order_id)?;
                }
                None => {}
            }
            let now = of_order(ctx.conn, was.order_id)?.into_iter().find(|r| r.id == was.id);
            Ok(now)
        })
        .await
}
