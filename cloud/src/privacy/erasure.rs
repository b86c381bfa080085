//! Erasure in one transaction: each domain's own erasure function, the customer's data key
//! shredded, and the events that tell the outlets and the chain. No SQL of its own; every table
//! is changed through the domain (or `infra::vault`) that owns it.

use crate::events::{self, NewEvent};
use crate::infra::db::Db;
use crate::infra::error::Result;
use crate::infra::vault::Vault;
use patty_protocol::events::{CustomerErased, OrdersErased};

/// Erases customer `id`'s personal data in one transaction; refused
/// while one of their orders is open.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn erase_customer(db: &Db, id: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    // An order under way still needs its address (the kitchen, the driver at the door): erasure
    // waits until every order is closed, as the contract's performance allows.
    let by_outlet = crate::ordering::erase_customer(&mut tx, id).await?;
    crate::identity::erase_account(&mut tx, id).await?;
    crate::customers::erase_addresses(&mut tx, id).await?;
    crate::delivery::erase_customer(&mut tx, id).await?;
    crate::notify::erase(&mut tx, id).await?;
    // Every copy of what their events sealed becomes unreadable with the key; events from before
    // sealing are blanked where they are kept.
    Vault::shred(&mut tx, id).await?;
    crate::events::store::blank_unsealed(&mut tx, id).await?;
    // Each outlet blanks its copies of the customer's orders when this reaches it.
    for (outlet, order_ids) in by_outlet {
        let erased = OrdersErased { outlet_id: Some(outlet), order_ids };
        NewEvent::of(&erased)?.down_to(outlet).insert(&mut tx).await?;
    }
    events::record_event(&mut tx, &CustomerErased { user_id: id.to_owned() }).await?;
    tx.commit().await
}
