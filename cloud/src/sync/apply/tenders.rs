//! `TenderAdded`: a tender applied at the outlet, kept by its id (its effect on the order's paid
//! amount is folded in [`super::orders`]).

use super::Apply;
use crate::infra::error::Result;
use crate::sync::store;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::OrderId;
use patty_protocol::order::Tender;

/// The batch's tenders, in log order.
#[derive(Default)]
pub struct Tenders<'a>(Vec<(OrderId, &'a Tender)>);

impl<'a> Tenders<'a> {
    /// Takes a `TenderAdded`.
    pub fn parse(&mut self, change: &'a ChangeV1) {
        if let ChangeV1::TenderAdded { order_id, tender } = change {
            self.0.push((*order_id, tender));
        }
    }

    /// Records the tenders not seen before.
    pub async fn apply(self, batch: &mut Apply, tx: &mut sqlx::AnyConnection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        store::insert_tenders(tx, batch.outlet, &self.0).await
    }
}
