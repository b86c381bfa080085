//! The cloud's storage: one set of portable SQL statements run through sqlx's `Any` driver on
//! PostgreSQL (production) or SQLite (the embedded default), each backend with its own migrations.
//!
//! Why one implementation and not one per backend: every statement here is plain SQL that both
//! engines run unchanged (`$1` placeholders, `BIGINT` times, JSON documents as text), so two
//! copies would be the same code twice. Where the engines differ (auto-increment, pool size,
//! pragmas, relay locking) the difference is in the migrations or in [`Backend`] branches here. The
//! conformance suite (`tests/conformance.rs`) runs the same stories against both.

use crate::infra::config::Config;
use crate::infra::error::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Which engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite, in a file in the data directory.
    Sqlite,
}

/// The database handle: cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// The connection pool.
    pub pool: AnyPool,
    /// The engine.
    pub backend: Backend,
    /// Poked after every transaction begun with [`Db::begin`] commits: the outbox relay waits on
    /// it, so an event recorded in a transaction is relayed as soon as it is committed, with no
    /// writer having to wake the relay by hand.
    committed: Arc<Notify>,
}

/// A transaction that, once committed, wakes whoever waits on [`Db::committed`]. It is the
/// connection it runs on (`&mut tx` is a `&mut AnyConnection`).
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    committed: Arc<Notify>,
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Tx {
    /// Commits, then wakes the relay.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        self.committed.notify_one();
        Ok(())
    }
}

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Db {
    /// Connects as configured and brings the schema up to date.
    pub async fn connect(config: &Config) -> Result<Self> {
        install_default_drivers();
        let url = &config.database.url;
        let (url, backend) = if url.starts_with("postgres") {
            (url.clone(), Backend::Postgres)
        } else if url.is_empty() {
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|e| Error::Internal(format!("create {}: {e}", config.data_dir.display())))?;
            (format!("sqlite://{}?mode=rwc", config.data_dir.join("cloud.db").display()), Backend::Sqlite)
        } else {
            (url.clone(), Backend::Sqlite)
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let pool = match backend {
            Backend::Postgres => options.max_connections(config.database.max_connections).connect(&url).await?,
            // One connection: SQLite has one writer anyway, and a single connection never meets
            // SQLITE_BUSY. WAL with synchronous=FULL: a committed write is on disk. secure_delete:
            // an erased customer's data is overwritten in the file, not left in free pages.
            Backend::Sqlite => {
                options
                    .max_connections(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA busy_timeout = 5000").await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
        };
        let db = Self { pool, backend, committed: Default::default() };
        db.migrate().await?;
        Ok(db)
    }

    /// Whether the database answers (health checks).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Begins a transaction whose commit wakes the relay.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx { tx: self.pool.begin().await?, committed: self.committed.clone() })
    }

    /// Completes after a transaction begun with [`Db::begin`] committed (at once if one committed
    /// since the last wait).
    pub async fn committed(&self) {
        self.committed.notified().await
    }

    /// Wakes the relay after a single statement that wrote the outbox committed on its own (no
    /// [`Tx`]): the PostgreSQL order path's one-statement insert.
    pub fn committed_alone(&self) {
        self.committed.notify_one();
    }

    async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        };
        migrator.run(&self.pool).await.map_err(|e| Error::Internal(format!("migrations: {e}")))
    }
}

// --- Multi-row statements (an outlet's uploaded batch writes thousands of rows at once) ---

/// Most bind parameters in one statement (SQLite's limit is 32,766; PostgreSQL's 65,535).
pub const MAX_PARAMS: usize = 30_000;

/// A value for a multi-row statement.
pub enum Val {
    /// Text.
    T(String),
    /// An integer.
    I(i64),
    /// NULL.
    N,
}

/// Runs `head VALUES (…), (…) tail` over `rows` (each `cols` values), in as few statements as the
/// parameter limit allows, returning what `tail`'s RETURNING gives.
#[tracing::instrument(skip_all, err(level = "warn"), fields(rows = rows.len() / cols.max(1)))]
pub async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    head: &str,
    tail: &str,
    cols: usize,
    rows: Vec<Val>,
) -> Result<Vec<AnyRow>> {
    let mut out = Vec::new();
    let per = (MAX_PARAMS / cols).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Val> = rows.by_ref().take(per * cols).collect();
        let n = chunk.len() / cols;
        let mut sql = String::with_capacity(head.len() + tail.len() + n * cols * 6);
        sql.push_str(head);
        sql.push_str(" VALUES ");
        for r in 0..n {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..cols {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&(r * cols + c + 1).to_string());
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        let mut q = sqlx::query(&sql);
        for v in chunk {
            q = match v {
                Val::T(s) => q.bind(s),
                Val::I(i) => q.bind(i),
                Val::N => q.bind(None::<String>),
            };
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// `$1, $2, …` for an IN list of `n` values.
pub fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Whether `e` is a unique-constraint violation (an idempotent retry racing its twin).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
