//! The kitchen's writes: bump and recall, each one write through the orders' own functions.

use super::Ticket;
use super::rules::{self, Bump};
use crate::infra::error::Result;
use crate::infra::session::Session;
use crate::infra::state::AppState;
use crate::infra::store::Store;
use crate::menu::item_states;
use crate::orders::{self, StatusChange, check_can_take_on, load, move_status, pricing_ctx, save};
use patty_protocol::ids::OrderId;
use patty_protocol::order::OrderStatus;

/// The tickets on screen, oldest first.
#[tracing::instrument(skip_all)]
pub async fn queue(store: &Store) -> Result<Vec<Ticket>> {
    let rows = store.read(orders::store::kitchen_queue).await?;
    Ok(rows.into_iter().map(|(order, recalled)| Ticket { order, recalled }).collect())
}

/// Bumps order `id`'s ticket for `session`'s staff member.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn bump(state: &AppState, session: Session, id: OrderId) -> Result<Ticket> {
    let by = session.staff.id;
    let menu = state.menu();
    let st = state.clone();
    state
        .store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            match rules::bump(&order, recalled)? {
                Bump::Dismiss => save(ctx, &mut order, false)?,
                Bump::Ready => {
                    let states = item_states(ctx.conn)?;
                    check_can_take_on(&pricing_ctx(&st, &menu, &states, &session), &order)?;
                    move_status(ctx, &menu, &mut order, false, StatusChange::by_staff(OrderStatus::Ready, by, None))?;
                }
            }
            Ok(Ticket { order, recalled: false })
        })
        .await
}

/// Recalls order `id`'s bumped ticket to the screen.
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub async fn recall(store: &Store, id: OrderId) -> Result<Ticket> {
    store
        .write(move |ctx| {
            let (mut order, recalled) = load(ctx.conn, id)?;
            rules::check_recall(&order, recalled)?;
            save(ctx, &mut order, true)?;
            Ok(Ticket { order, recalled: true })
        })
        .await
}
