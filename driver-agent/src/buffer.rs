//! The store-and-forward buffer: fixes wait here, in order, until the broker acknowledged them.
//! SQLite in WAL mode with `synchronous = NORMAL` (a power cut may lose the last moments, never
//! the order); bounded: past `max` fixes the oldest are dropped and counted. The device's fix
//! counter lives here too, so sequence numbers keep growing across restarts.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// The buffer.
pub struct Buffer {
    conn: Connection,
    max: u64,
    /// Fixes dropped because the buffer was full, since start.
    pub dropped: u64,
}

impl Buffer {
    /// Opens (creating if needed) the buffer at `path`, holding at most `max` fixes.
    pub fn open(path: &Path, max: u64) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // AUTOINCREMENT: ids are never reused, even once the table is empty, so a fix buffered
        // after the last one was acknowledged still sorts after the link's cursor.
        let old: Option<String> = conn
            .query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'fixes'", [], |r| r.get(0))
            .optional()?;
        if old.as_deref().is_some_and(|sql| !sql.contains("AUTOINCREMENT")) {
            conn.execute_batch(
                "BEGIN;
                 ALTER TABLE fixes RENAME TO fixes_old;
                 CREATE TABLE fixes (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL);
                 INSERT INTO fixes (id, payload) SELECT id, payload FROM fixes_old ORDER BY id;
                 DROP TABLE fixes_old;
                 COMMIT;",
            )?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS fixes (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )?;
        Ok(Self { conn, max: max.max(1), dropped: 0 })
    }

    /// The next fix sequence number (from 1), kept across restarts.
    pub fn next_seq(&self) -> rusqlite::Result<u32> {
        let n: i64 = self.conn.query_row(
            "INSERT INTO meta (key, value) VALUES ('seq', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u32)
    }

    /// Appends a payload; drops the oldest beyond the bound. Returns its id.
    pub fn push(&mut self, payload: &[u8]) -> rusqlite::Result<i64> {
        self.conn.execute("INSERT INTO fixes (payload) VALUES (?1)", [payload])?;
        let id = self.conn.last_insert_rowid();
        let len = self.len()?;
        if len > self.max {
            let over = len - self.max;
            self.conn
                .execute("DELETE FROM fixes WHERE id IN (SELECT id FROM fixes ORDER BY id LIMIT ?1)", [over as i64])?;
            self.dropped += over;
        }
        Ok(id)
    }

    /// Up to `n` fixes after id `after`, oldest first.
    pub fn after(&self, after: i64, n: usize) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
        let mut st = self.conn.prepare_cached("SELECT id, payload FROM fixes WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = st.query_map(params![after, n as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Forgets an acknowledged fix.
    pub fn remove(&self, id: i64) -> rusqlite::Result<()> {
        self.conn.execute("DELETE FROM fixes WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Fixes waiting.
    pub fn len(&self) -> rusqlite::Result<u64> {
        self.conn.query_row("SELECT COUNT(*) FROM fixes", [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> rusqlite::Result<bool> {
        Ok(self.conn.query_row("SELECT id FROM fixes LIMIT 1", [], |r| r.get::<_, i64>(0)).optional()?.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_wait_in_order_across_a_restart_and_the_oldest_go_first_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buffer.db");
        let mut b = Buffer::open(&path, 3).unwrap();
        assert_eq!((b.next_seq().unwrap(), b.next_seq().unwrap()), (1, 2));
        let ids: Vec<i64> = (0..4u8).map(|i| b.push(&[i]).unwrap()).collect();
        assert_eq!(b.dropped, 1);
        b.remove(ids[1]).unwrap();
        drop(b);
        let b = Buffer::open(&path, 3).unwrap();
        assert_eq!(b.next_seq().unwrap(), 3, "the counter survives a restart");
        let left: Vec<Vec<u8>> = b.after(0, 10).unwrap().into_iter().map(|(_, p)| p).collect();
        assert_eq!(left, vec![vec![2], vec![3]]);
        assert_eq!(b.after(ids[2], 10).unwrap().len(), 1);
        assert!(!b.is_empty().unwrap());
    }

    #[test]
    fn an_emptied_buffer_never_reuses_an_id_and_an_old_file_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // A buffer as an earlier agent made it, holding one fix.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE fixes (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
             CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             INSERT INTO fixes (id, payload) VALUES (7, x'01');",
        )
        .unwrap();
        drop(conn);
        let mut b = Buffer::open(&path, 10).unwrap();
        assert_eq!(b.after(0, 10).unwrap(), vec![(7, vec![1])], "kept through the upgrade");
        b.remove(7).unwrap();
        // Acknowledged, the buffer is empty; the next fix still sorts after the link's cursor.
        let next = b.push(&[2]).unwrap();
        assert!(next > 7, "{next}");
        assert_eq!(b.after(7, 10).unwrap().len(), 1);
    }
}
