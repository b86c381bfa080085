//! The change log's reads and its one rewrite (erasure).

use crate::infra::error::{Error, Result};
use crate::infra::store::decode_change;
use patty_protocol::change::{ChangeEntry, ChangeV1};
use patty_protocol::ids::OrderId;

/// Reads entries after `after`, in sequence order.
#[tracing::instrument(skip_all, fields(after = after, limit = limit))]
pub fn read_after(conn: &rusqlite::Connection, after: u64, limit: u32) -> Result<Vec<ChangeEntry>> {
    let mut st = conn.prepare_cached("SELECT payload FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = st.query_map(rusqlite::params![after as i64, limit], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(decode_change(&row?)?);
    }
    Ok(out)
}

/// Blanks the personal data in the change log's copies of order `id` (its erased customer's).
#[tracing::instrument(skip_all, fields(order.id = %id))]
pub fn erase_order_in_log(conn: &rusqlite::Connection, id: OrderId) -> Result<()> {
    // postcard writes the id as its 16 bytes: only entries holding them are decoded.
    let logged: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, payload FROM change_log WHERE kind = 'order_upserted' AND instr(payload, ?1) > 0")?
        .query_map([id.0.as_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (seq, payload) in logged {
        let mut entry: ChangeEntry =
            postcard::from_bytes(&payload).map_err(|e| Error::Internal(format!("decode change {seq}: {e}")))?;
        let ChangeV1::OrderUpserted { order } = &mut entry.change else { continue };
        if order.id != id {
            continue;
        }
        order.erase_personal();
        let payload = postcard::to_stdvec(&entry).map_err(|e| Error::Internal(format!("encode change: {e}")))?;
        conn.prepare_cached("UPDATE change_log SET payload = ?2 WHERE seq = ?1")?
            .execute(rusqlite::params![seq, payload])?;
    }
    Ok(())
}

/// The highest sequence in the change log (0 when empty).
pub fn last_seq(c: &rusqlite::Connection) -> Result<u64> {
    let last: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) FROM change_log", [], |r| r.get(0))?;
    Ok(last as u64)
}
