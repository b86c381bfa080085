//! The outlet's SQLite store, and why it is fast and durable at once.
//!
//! Durability: WAL with `synchronous = FULL`, so every commit is on disk (the WAL is fsynced)
//! before any caller hears about it. A 2xx is only sent after the commit returned.
//!
//! Throughput: one writer thread owns the only write connection and commits in groups. Requests
//! queue their write as a closure; the writer takes everything queued, runs each closure inside its
//! own SAVEPOINT (so one failing request rolls back alone), and commits the group with one fsync.
//! Under load, sixteen terminals' orders share one commit instead of paying one fsync each.
//! Because there is a single writer, read-check-write sequences inside a closure cannot race: no
//! lost updates, no `SQLITE_BUSY` retries.
//!
//! Reads use a small pool of read-only connections on the blocking thread pool; WAL lets them run
//! while the writer writes.

use crate::infra::error::{Error, Result};
use crate::infra::events::Event;
use patty_protocol::change::{ChangeEntry, ChangeV1, HlcTimestamp};
use patty_protocol::ids::OutletId;
use patty_sync::Sequencer;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot};

const SCHEMA: &str = include_str!("schema.sql");
/// Each later version's migration, in order: `MIGRATIONS[0]` takes version 1 to 2.
const MIGRATIONS: &[&str] = &[include_str!("schema_2.sql"), include_str!("schema_3.sql")];
const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;
/// The most writes one commit carries; bounds the latency the first of them can see.
const MAX_GROUP: usize = 256;

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// What a write closure works with: the write connection inside the group's transaction, the
/// change-log sequencer, and the events to publish once the group is committed.
pub struct WriteCtx<'a> {
    /// The write connection, inside a transaction and this write's savepoint.
    pub conn: &'a Connection,
    /// The time this write is stamped with, in Unix milliseconds.
    pub now_ms: i64,
    seq: &'a mut Sequencer,
    events: &'a mut Vec<Event>,
}

impl WriteCtx<'_> {
    /// Appends `change` to the change log in this write's transaction.
    pub fn log(&mut self, change: ChangeV1) -> Result<u64> {
        let entry = self.seq.append(change, self.now_ms.max(0) as u64);
        let payload = postcard::to_stdvec(&entry).map_err(|e| Error::Internal(format!("encode change: {e}")))?;
        self.conn
            .prepare_cached("INSERT INTO change_log (seq, hlc, kind, payload) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![entry.seq as i64, entry.hlc.0 as i64, change_kind(&entry.change), payload])?;
        Ok(entry.seq)
    }

    /// Publishes `event` on the live streams once this write is committed (never if it rolls back).
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// The outlet's origin id.
    pub fn origin(&self) -> OutletId {
        self.seq.origin()
    }
}

/// The name stored beside each change, so the log can be read without decoding payloads.
fn change_kind(c: &ChangeV1) -> &'static str {
    match c {
        ChangeV1::OrderUpserted { .. } => "order_upserted",
        ChangeV1::OrderStatus { .. } => "order_status",
        ChangeV1::TenderAdded { .. } => "tender_added",
        ChangeV1::StockMoved { .. } => "stock_moved",
        ChangeV1::IngredientUpserted { .. } => "ingredient_upserted",
        ChangeV1::ItemSoldOut { .. } => "item_sold_out",
        ChangeV1::StaffUpserted { .. } => "staff_upserted",
        ChangeV1::Audited { .. } => "audited",
        ChangeV1::ConflictRaised { .. } => "conflict_raised",
        ChangeV1::ConflictResolved { .. } => "conflict_resolved",
    }
}

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A queued write: called with the context to run in, or with `None` when the group could not
/// start a transaction (then it only reports failure).
type Job = Box<dyn FnOnce(Option<&mut WriteCtx<'_>>) -> (bool, Completion) + Send>;

/// Group-commit figures for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Commits made.
    pub commits: std::sync::atomic::AtomicU64,
    /// Writes committed (sum of group sizes).
    pub writes: std::sync::atomic::AtomicU64,
    /// Time spent in COMMIT (fsync), in microseconds.
    pub commit_micros: std::sync::atomic::AtomicU64,
}

/// Handle to the store: cheap to clone.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    readers: Arc<ReaderPool>,
    /// Events published after each committed write.
    pub events: broadcast::Sender<Event>,
    /// Group-commit figures.
    pub stats: Arc<WriterStats>,
    origin: OutletId,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn take(&self) -> Result<Connection> {
        if let Some(c) = self.idle.lock().map_err(|_| Error::Internal("reader pool poisoned".into()))?.pop() {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(c)
    }

    fn give(&self, c: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 16
        {
            idle.push(c);
        }
    }
}

/// Opens a connection with the store's durability settings.
pub fn open_write_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Erased customers' data is overwritten in the file, not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the store at `path`, whose change log has origin `origin`
    /// unless the file already names one, and starts the writer thread.
    pub fn open(path: &Path, origin: OutletId) -> Result<Self> {
        let conn = open_write_connection(path)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == 0 {
            conn.execute_batch(&format!("BEGIN; {SCHEMA} PRAGMA user_version = 1; COMMIT;"))?;
        } else if version > SCHEMA_VERSION {
            return Err(Error::Internal(format!(
                "store schema version {version} is newer than this program's {SCHEMA_VERSION}"
            )));
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version.max(1) as usize - 1) {
            conn.execute_batch(&format!("BEGIN; {migration} PRAGMA user_version = {}; COMMIT;", i + 2))?;
        }
        let stored: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| r.get(0)).optional()?;
        let origin = match stored {
            Some(s) => s.parse().map_err(|e| Error::Internal(format!("stored origin id: {e}")))?,
            None => {
                conn.execute("INSERT INTO meta (key, value) VALUES ('origin', ?1)", [origin.to_string()])?;
                origin
            }
        };
        let seq = load_sequencer(&conn, origin)?;
        let (jobs, rx) = mpsc::channel::<Job>(4096);
        let (events, _) = broadcast::channel(1024);
        let stats = Arc::new(WriterStats::default());
        {
            let events = events.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("patty-edge-writer".into())
                .spawn(move || writer_loop(conn, seq, rx, events, stats))
                .map_err(|e| Error::Internal(format!("start writer: {e}")))?;
        }
        let readers = Arc::new(ReaderPool { path: path.to_owned(), idle: Mutex::new(Vec::new()) });
        Ok(Self { jobs, readers, events, stats, origin })
    }

    /// The outlet's origin id.
    pub fn origin(&self) -> OutletId {
        self.origin
    }

    /// Runs `f` in the writer's next group commit; returns its result once the group is durable.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |ctx| {
            let out = match ctx {
                Some(ctx) => std::panic::catch_unwind(AssertUnwindSafe(|| f(ctx)))
                    .unwrap_or_else(|_| Err(Error::Internal("a write panicked".into()))),
                None => Err(Error::Internal("the store could not start a transaction".into())),
            };
            let ok = out.is_ok();
            let done: Completion = Box::new(move |commit| {
                let res = match (out, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(Error::Internal(format!("commit failed: {e}"))),
                };
                let _ = tx.send(res);
            });
            (ok, done)
        });
        self.jobs.send(job).await.map_err(|_| Error::Internal("writer stopped".into()))?;
        rx.await.map_err(|_| Error::Internal("writer stopped".into()))?
    }

    /// Runs `f` on a read-only connection on the blocking pool.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let out = f(&conn);
            pool.give(conn);
            out
        })
        .await
        .map_err(|e| Error::Internal(format!("read task: {e}")))?
    }
}

fn load_sequencer(conn: &Connection, origin: OutletId) -> Result<Sequencer> {
    let (seq, hlc): (i64, i64) =
        conn.query_row("SELECT COALESCE(MAX(seq), 0), COALESCE(MAX(hlc), 0) FROM change_log", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(Sequencer::resume(origin, seq as u64, HlcTimestamp(hlc as u64)))
}

fn writer_loop(
    conn: Connection,
    mut seq: Sequencer,
    mut rx: mpsc::Receiver<Job>,
    events: broadcast::Sender<Event>,
    stats: Arc<WriterStats>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut pending_events = Vec::new();
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut completions = Vec::with_capacity(group.len());
        let began = conn.execute_batch("BEGIN IMMEDIATE");
        if let Err(e) = began {
            tracing::error!(error = %e, "BEGIN failed");
            for job in group.drain(..) {
                let (_, done) = job(None);
                done(Err(e.to_string()));
            }
            continue;
        }
        let n = group.len();
        for job in group.drain(..) {
            let mark = seq.next_seq();
            let events_mark = pending_events.len();
            let (ok, done) = if conn.execute_batch("SAVEPOINT w").is_ok() {
                let mut ctx = WriteCtx { conn: &conn, now_ms: now_ms(), seq: &mut seq, events: &mut pending_events };
                job(Some(&mut ctx))
            } else {
                job(None)
            };
            if ok {
                let _ = conn.execute_batch("RELEASE w");
            } else {
                let _ = conn.execute_batch("ROLLBACK TO w; RELEASE w");
                seq.rollback_to(mark);
                pending_events.truncate(events_mark);
            }
            completions.push(done);
        }
        let t = Instant::now();
        let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        stats.commit_micros.fetch_add(t.elapsed().as_micros() as u64, Relaxed);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            pending_events.clear();
            match load_sequencer(&conn, seq.origin()) {
                Ok(s) => seq = s,
                Err(e) => tracing::error!(error = %e, "reloading the change-log tail failed"),
            }
        } else {
            stats.commits.fetch_add(1, Relaxed);
            stats.writes.fetch_add(n as u64, Relaxed);
        }
        for done in completions {
            done(commit.clone());
        }
        for ev in pending_events.drain(..) {
            let _ = events.send(ev);
        }
    }
    tracing::debug!("writer stopped");
}

/// Decodes a stored change-log row.
pub fn decode_change(payload: &[u8]) -> Result<ChangeEntry> {
    postcard::from_bytes(payload).map_err(|e| Error::Internal(format!("decode change: {e}")))
}

/// Whether the database answers (for `/healthz`).
pub fn ping(conn: &Connection) -> Result<()> {
    conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
    Ok(())
}
