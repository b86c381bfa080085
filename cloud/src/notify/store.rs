//! Notifications' SQL: the messages (queue, history, inbox and dead letters in one table), the
//! preferences, the push subscriptions.

use super::rules::{Prefs, Via};
use crate::infra::db::Db;
use crate::infra::error::Result;
use serde::Serialize;
use sqlx::Row;

/// A message about to be written.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// `ntf_…`.
    pub id: String,
    /// The idempotency key: event, person, channel (and subscription).
    pub dedup: String,
    /// The event it came from, if any.
    pub event_id: Option<String>,
    /// The person.
    pub recipient: String,
    /// The channel.
    pub channel: Via,
    /// The template.
    pub template: String,
    /// Its language.
    pub lang: String,
    /// Where: email, phone, push subscription id (none in-app).
    pub address: Option<String>,
    /// The values (JSON object).
    pub vars: serde_json::Value,
    /// The sealed one-time token of a security message.
    pub secret: Option<String>,
    /// `queued`, `delivered` (in-app), `suppressed` or `failed`.
    pub state: &'static str,
    /// Why, when suppressed or failed.
    pub reason: Option<String>,
    /// When to send.
    pub due_ms: i64,
}

/// A stored message.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// Id.
    pub id: String,
    /// The event it came from.
    pub event_id: Option<String>,
    /// The person.
    pub recipient: String,
    /// The channel.
    pub channel: Via,
    /// The template.
    pub template: String,
    /// Its language.
    pub lang: String,
    /// Where it goes (an email address, a phone number, a push subscription's id).
    pub address: Option<String>,
    /// The values it is rendered from.
    pub vars: serde_json::Value,
    /// `queued`, `sent`, `delivered`, `failed` or `suppressed`.
    pub state: String,
    /// Why it failed or was suppressed (the last error, while retried).
    pub reason: Option<String>,
    /// Sends tried.
    pub attempts: i64,
    /// When it is (or was) due, Unix ms.
    pub due_ms: i64,
    /// When it was read (in-app), Unix ms.
    pub read_ms: Option<i64>,
    /// When it was written, Unix ms.
    pub created_ms: i64,
    /// When it was sent, Unix ms.
    pub sent_ms: Option<i64>,
    /// The sealed token (security messages, until sent).
    #[serde(skip)]
    pub secret: Option<String>,
}

/// The column sealed under the at-rest key (re-encrypted in the background when the key changes).
pub const SEALED: crate::infra::atrest::SealedColumns =
    crate::infra::atrest::SealedColumns { table: "notifications", id: "id", columns: &["secret"] };

const COLUMNS: &str = "id, event_id, recipient, channel, template, lang, address, vars, secret, state, reason, \
                       attempts, due_ms, read_ms, created_ms, sent_ms";

fn message(r: &sqlx::any::AnyRow) -> Result<Message> {
    let channel: String = r.try_get("channel")?;
    Ok(Message {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        recipient: r.try_get("recipient")?,
        channel: Via::parse(&channel).unwrap_or(Via::InApp),
        template: r.try_get("template")?,
        lang: r.try_get("lang")?,
        address: r.try_get("address")?,
        vars: serde_json::from_str(&r.try_get::<String, _>("vars")?)?,
        secret: r.try_get("secret")?,
        state: r.try_get("state")?,
        reason: r.try_get("reason")?,
        attempts: r.try_get("attempts")?,
        due_ms: r.try_get("due_ms")?,
        read_ms: r.try_get("read_ms")?,
        created_ms: r.try_get("created_ms")?,
        sent_ms: r.try_get("sent_ms")?,
    })
}

/// Writes `m` unless a message with its idempotency key exists, or its person is erased (the
/// check holds the person's row, so an erasure running now either comes first or deletes this
/// message too); returns whether it was written.
#[tracing::instrument(skip_all, fields(notification.id = m.id, template = m.template))]
pub async fn insert(conn: &mut sqlx::AnyConnection, m: &NewMessage, now: i64) -> Result<bool> {
    let lock = if conn.backend_name() == "PostgreSQL" { " FOR SHARE" } else { "" };
    let done = sqlx::query(&format!(
        "INSERT INTO notifications (id, dedup, event_id, recipient, channel, template, lang, address, vars, secret, \
         state, reason, attempts, due_ms, created_ms) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14 \
         WHERE EXISTS (SELECT 1 FROM users WHERE id = $4 AND erased_ms IS NULL{lock}) \
         ON CONFLICT (dedup) DO NOTHING"
    ))
    .bind(&m.id)
    .bind(&m.dedup)
    .bind(&m.event_id)
    .bind(&m.recipient)
    .bind(m.channel.as_str())
    .bind(&m.template)
    .bind(&m.lang)
    .bind(&m.address)
    .bind(m.vars.to_string())
    .bind(&m.secret)
    .bind(m.state)
    .bind(&m.reason)
    .bind(m.due_ms)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims up to `limit` due messages for `lease_ms` from `now`, in one statement: a row another
/// notifier holds is skipped (its lease is re-checked on the row itself, so two notifiers racing
/// for the same rows split them), and a row whose holder died is taken once its lease lapsed.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn claim_due(db: &Db, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<Message>> {
    let rows = sqlx::query(&format!(
        "UPDATE notifications SET lease_ms = $1 WHERE id IN (SELECT id FROM notifications \
         WHERE state = 'queued' AND due_ms <= $2 AND (lease_ms IS NULL OR lease_ms < $2) ORDER BY due_ms LIMIT $3) \
         AND state = 'queued' AND (lease_ms IS NULL OR lease_ms < $2) RETURNING {COLUMNS}"
    ))
    .bind(now + lease_ms)
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut claimed = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
    claimed.sort_by_key(|m| m.due_ms);
    Ok(claimed)
}

/// The earliest time a queued message falls due (to sleep until), if any.
pub async fn next_due(db: &Db) -> Result<Option<i64>> {
    let row =
        sqlx::query("SELECT MIN(due_ms) AS due FROM notifications WHERE state = 'queued'").fetch_one(&db.pool).await?;
    Ok(row.try_get("due")?)
}

/// Records the outcome of a send: `state` (`sent`, `queued` again at `due_ms`, `failed`,
/// `suppressed`), the attempt counted, the lease let go; a sent message's token is dropped (a
/// dead letter keeps it, sealed, so HQ can send it again while it is still valid).
#[tracing::instrument(skip_all, fields(notification.id = id, state))]
pub async fn settle(db: &Db, id: &str, state: &str, reason: Option<&str>, due_ms: i64, now: i64) -> Result<()> {
    let keep_secret = state != "sent";
    sqlx::query(
        "UPDATE notifications SET state = $1, reason = $2, due_ms = $3, lease_ms = NULL, attempts = attempts + 1, \
         sent_ms = CASE WHEN $1 = 'sent' THEN $4 ELSE sent_ms END, \
         secret = CASE WHEN $5 = 1 THEN secret ELSE NULL END WHERE id = $6",
    )
    .bind(state)
    .bind(reason)
    .bind(due_ms)
    .bind(now)
    .bind(i64::from(keep_secret))
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Puts a dead letter back in the queue, due now, its attempts counted from zero; whether it was
/// one.
pub async fn retry(db: &Db, id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE notifications SET state = 'queued', attempts = 0, due_ms = $1, lease_ms = NULL WHERE id = $2 AND state = 'failed'",
    )
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One message.
pub async fn load(db: &Db, id: &str) -> Result<Option<Message>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(message).transpose()
}

/// Messages in `state` (every state when `None`), newest first, optionally one person's.
pub async fn list(db: &Db, state: Option<&str>, recipient: Option<&str>, limit: i64) -> Result<Vec<Message>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE ($1 = '' OR state = $1) AND ($2 = '' OR recipient = $2) \
         ORDER BY created_ms DESC, id DESC LIMIT $3"
    ))
    .bind(state.unwrap_or(""))
    .bind(recipient.unwrap_or(""))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(message).collect()
}

/// A person's inbox, newest first, those written after `after_ms` (for the live stream: oldest
/// first).
pub async fn inbox(db: &Db, user: &str, after_ms: Option<i64>, limit: i64) -> Result<Vec<Message>> {
    let (order, after) = match after_ms {
        Some(t) => ("ASC", t),
        None => ("DESC", -1),
    };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE recipient = $1 AND channel = 'in_app' AND state = 'delivered' \
         AND created_ms > $2 ORDER BY created_ms {order}, id {order} LIMIT $3"
    ))
    .bind(user)
    .bind(after)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(message).collect()
}

/// How many of a person's in-app messages are unread.
pub async fn unread(db: &Db, user: &str) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM notifications WHERE recipient = $1 AND channel = 'in_app' AND state = 'delivered' AND read_ms IS NULL",
    )
    .bind(user)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get("n")?)
}

/// Marks a person's in-app message read (`None`: all of them); how many changed.
pub async fn mark_read(db: &Db, user: &str, id: Option<&str>, now: i64) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE notifications SET read_ms = $1 WHERE recipient = $2 AND channel = 'in_app' AND read_ms IS NULL \
         AND ($3 = '' OR id = $3)",
    )
    .bind(now)
    .bind(user)
    .bind(id.unwrap_or(""))
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected())
}

/// Whether a person has an in-app message `id`.
pub async fn owns(db: &Db, user: &str, id: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM notifications WHERE id = $1 AND recipient = $2 AND channel = 'in_app'")
        .bind(id)
        .bind(user)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}

/// A person's preferences (the defaults when never set).
pub async fn prefs(db: &Db, user: &str) -> Result<Prefs> {
    let row = sqlx::query("SELECT doc FROM notification_prefs WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(r) => serde_json::from_str(&r.try_get::<String, _>("doc")?)?,
        None => Prefs::default(),
    })
}

/// Replaces a person's preferences.
pub async fn set_prefs(db: &Db, user: &str, prefs: &Prefs, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO notification_prefs (user_id, doc, updated_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET doc = excluded.doc, updated_ms = excluded.updated_ms",
    )
    .bind(user)
    .bind(serde_json::to_string(prefs)?)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A push subscription.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// Id.
    pub id: String,
    /// Whose.
    pub user_id: String,
    /// The subscription's JSON (`endpoint`, `keys`).
    pub doc: String,
}

/// Keeps a subscription (the same endpoint again replaces its keys and owner); returns its id.
pub async fn add_subscription(db: &Db, id: &str, user: &str, endpoint: &str, doc: &str, now: i64) -> Result<String> {
    let row = sqlx::query(
        "INSERT INTO push_subscriptions (id, user_id, endpoint, doc, created_ms) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, doc = excluded.doc RETURNING id",
    )
    .bind(id)
    .bind(user)
    .bind(endpoint)
    .bind(doc)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get("id")?)
}

/// A person's subscriptions.
pub async fn subscriptions_of(db: &Db, user: &str) -> Result<Vec<Subscription>> {
    let rows = sqlx::query("SELECT id, user_id, doc FROM push_subscriptions WHERE user_id = $1 ORDER BY created_ms")
        .bind(user)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok(Subscription { id: r.try_get("id")?, user_id: r.try_get("user_id")?, doc: r.try_get("doc")? }))
        .collect()
}

/// One subscription.
pub async fn subscription(db: &Db, id: &str) -> Result<Option<Subscription>> {
    let row = sqlx::query("SELECT id, user_id, doc FROM push_subscriptions WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok(Subscription { id: r.try_get("id")?, user_id: r.try_get("user_id")?, doc: r.try_get("doc")? }))
        .transpose()
}

/// Removes a subscription (a person's own, when `user` is given); whether there was one.
pub async fn remove_subscription(db: &Db, id: &str, user: Option<&str>) -> Result<bool> {
    let done = sqlx::query("DELETE FROM push_subscriptions WHERE id = $1 AND ($2 = '' OR user_id = $2)")
        .bind(id)
        .bind(user.unwrap_or(""))
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes everything kept about an erased person: messages, preferences, subscriptions.
pub async fn erase(conn: &mut sqlx::AnyConnection, user: &str) -> Result<()> {
    for table in
        ["notifications WHERE recipient", "notification_prefs WHERE user_id", "push_subscriptions WHERE user_id"]
    {
        sqlx::query(&format!("DELETE FROM {table} = $1")).bind(user).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Counts of messages by channel and state (for `/metrics` and the benchmark).
pub async fn counts(db: &Db) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT channel, state, COUNT(*) AS n FROM notifications GROUP BY channel, state ORDER BY channel, state",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("channel")?, r.try_get("state")?, r.try_get("n")?))).collect()
}
