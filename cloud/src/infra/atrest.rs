//! Encryption at rest for the payment columns that identify a person or a card (the provider's
//! customer id, a payment method token, a billing name), with key rotation in the background.
//!
//! - **Keys.** An [`AtRest`] ring holds the current key and the older ones, each AES-256-GCM under
//!   an id (`payments.at_rest_key` and `payments.old_at_rest_keys`, as `ID:BASE64` of 32 bytes).
//!   With no key configured, one is generated once in the data directory (`at-rest.key`, mode
//!   0600), so one node works with no configuration; its id is `local-` and eight hex digits
//!   derived from the key, the same on every start.
//! - **Sealed values.** [`AtRest::seal`] writes `ID:BASE64(nonce ‖ ciphertext)`, with a random
//!   96-bit nonce. The associated data binds a value to its place: **every writer passes
//!   [`aad`]`(table, column, row id)`, i.e. `"{table}.{column}:{id}"`** (for instance
//!   `"payment_methods.token:pm_1"`), so a ciphertext copied to another row or column does not
//!   open. [`rotate`] relies on the same convention.
//! - **Rotation.** Configuring a new key and moving the previous one to `old_at_rest_keys` is
//!   enough: values under an old key still open, and [`rotate_forever`] re-encrypts them under the
//!   current key, a batch at a time, each row with a conditional UPDATE so a concurrent writer wins.
//!   Once no value is under an old key it can be dropped from the configuration.

use crate::infra::config::{ConfigError, PaymentsConfig, read_secret};
use crate::infra::db::Db;
use crate::infra::error::{Error, Result};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Nonce, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sqlx::Row;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The file in the data directory holding the generated key (32 raw bytes) when none is configured.
pub const KEY_FILE: &str = "at-rest.key";

/// How many rows [`rotate_forever`] reads at a time.
pub const ROTATE_BATCH: usize = 500;

const NONCE: usize = 12;
const KEY_LEN: usize = 32;
const MAX_ID: usize = 32;

/// A key ring: the key new values are sealed with, and the older keys values may still be under.
pub struct AtRest {
    current: (String, Aes256Gcm),
    old: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for AtRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut old: Vec<&str> = self.old.keys().map(String::as_str).collect();
        old.sort_unstable();
        f.debug_struct("AtRest").field("current", &self.current.0).field("old", &old).finish_non_exhaustive()
    }
}

/// The associated data of the value of `column` in the row `id` of `table`:
/// `"{table}.{column}:{id}"`. Every writer of a sealed column seals with it, and [`rotate`] opens
/// and reseals with it.
pub fn aad(table: &str, column: &str, id: &str) -> String {
    format!("{table}.{column}:{id}")
}

fn valid_id(id: &str) -> bool {
    (1..=MAX_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses `ID:BASE64` of 32 bytes; `what` names the setting in errors, which never show the key.
fn parse_key(spec: &str, what: &str) -> Result<(String, Aes256Gcm), ConfigError> {
    let bad = |why: String| ConfigError::Invalid(format!("{what}: {why}"));
    let Some((id, b64)) = spec.trim().split_once(':') else {
        return Err(bad("expected ID:BASE64 of 32 bytes".into()));
    };
    if !valid_id(id) {
        return Err(bad(format!("the key id must be 1 to {MAX_ID} characters of A-Z, a-z, 0-9, '_' and '-'")));
    }
    let raw = B64.decode(b64.trim()).map_err(|_| bad(format!("key {id} is not valid base64")))?;
    if raw.len() != KEY_LEN {
        return Err(bad(format!("key {id} is {} bytes, {KEY_LEN} are needed", raw.len())));
    }
    Ok((id.to_owned(), cipher(&raw)))
}

fn cipher(raw: &[u8]) -> Aes256Gcm {
    let mut key = Key::<Aes256Gcm>::default();
    key.copy_from_slice(raw);
    Aes256Gcm::new(&key)
}

/// The stable id of a generated key: `local-` and eight hex digits of a MAC of the key (so two
/// nodes that each generated their own are told apart, and nothing of the key is shown).
fn local_id(raw: &[u8]) -> String {
    let mac = patty_service::secret::mac(raw, b"patty at-rest key id");
    format!("local-{}", &mac[..8])
}

/// The generated key in `data_dir`, made there the first time.
fn local_key(data_dir: &Path) -> Result<(String, Aes256Gcm), ConfigError> {
    let path = data_dir.join(KEY_FILE);
    let failed = |e: std::io::Error| ConfigError::Invalid(format!("the at-rest key file {}: {e}", path.display()));
    std::fs::create_dir_all(data_dir).map_err(failed)?;
    let raw = patty_service::secret::load_or_create_key(&path).map_err(failed)?;
    if raw.len() != KEY_LEN {
        return Err(ConfigError::Invalid(format!(
            "the at-rest key file {} holds {} bytes, {KEY_LEN} are needed",
            path.display(),
            raw.len()
        )));
    }
    Ok((local_id(&raw), cipher(&raw)))
}

impl AtRest {
    /// The ring from `payments`: the current key from `at_rest_key` (or `at_rest_key_file`),
    /// or, when both are empty, the key generated in `data_dir`; the old keys from
    /// `old_at_rest_keys`. When a key is configured and a generated key is left in `data_dir`, that
    /// one is kept as an old key, so what a node wrote before it was configured still opens and is
    /// rotated (delete the file once rotation is done to retire it).
    pub fn from_config(cfg: &PaymentsConfig, data_dir: &Path) -> Result<Self, ConfigError> {
        let configured = read_secret(&cfg.at_rest_key, &cfg.at_rest_key_file)?;
        if configured.trim().is_empty() {
            return Self::with_old(local_key(data_dir)?, &cfg.old_at_rest_keys);
        }
        let mut ring = Self::from_keys(&configured, &cfg.old_at_rest_keys)?;
        if data_dir.join(KEY_FILE).exists() {
            let (id, key) = local_key(data_dir)?;
            if id != ring.current.0 {
                ring.old.entry(id).or_insert(key);
            }
        }
        Ok(ring)
    }

    /// The ring of `current` and `old` keys, each `ID:BASE64` of 32 bytes, with distinct ids.
    pub fn from_keys(current: &str, old: &[String]) -> Result<Self, ConfigError> {
        Self::with_old(parse_key(current, "payments.at_rest_key")?, old)
    }

    fn with_old(current: (String, Aes256Gcm), old: &[String]) -> Result<Self, ConfigError> {
        let mut ring = Self { current, old: HashMap::new() };
        for (i, spec) in old.iter().enumerate() {
            let what = format!("payments.old_at_rest_keys[{i}]");
            let (id, key) = parse_key(spec, &what)?;
            if id == ring.current.0 || ring.old.contains_key(&id) {
                return Err(ConfigError::Invalid(format!("{what}: the key id {id} is used by another at-rest key")));
            }
            ring.old.insert(id, key);
        }
        Ok(ring)
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current.0
    }

    /// `plain` encrypted under the current key, bound to `aad` (see [`aad`]), as
    /// `ID:BASE64(nonce ‖ ciphertext)`.
    pub fn seal(&self, plain: &str, aad: &str) -> Result<String> {
        let (id, cipher) = &self.current;
        let nonce = Nonce::<Aes256Gcm>::try_generate().map_err(|e| Error::Internal(format!("random nonce: {e}")))?;
        let ct = cipher
            .encrypt(&nonce, Payload { msg: plain.as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| Error::Internal("at-rest encryption failed".into()))?;
        let mut raw = nonce.to_vec();
        raw.extend(ct);
        Ok(format!("{id}:{}", B64.encode(raw)))
    }

    /// The plain text of `sealed`, opened with the key it names (current or old) and the same
    /// `aad` it was sealed with. Fails, saying nothing of the value, when the key is unknown or
    /// the value does not open (another key under that id, another row or column, tampering).
    pub fn open(&self, sealed: &str, aad: &str) -> Result<String> {
        let (id, enc) = split(sealed).ok_or_else(|| Error::Internal("a sealed value is malformed".into()))?;
        let cipher = if id == self.current.0 { Some(&self.current.1) } else { self.old.get(id) };
        let cipher =
            cipher.ok_or_else(|| Error::Internal(format!("a sealed value is under an unknown at-rest key {id}")))?;
        let failed = || Error::Internal(format!("a sealed value does not open with at-rest key {id}"));
        let raw = B64.decode(enc).map_err(|_| failed())?;
        if raw.len() < NONCE {
            return Err(failed());
        }
        let (nonce, ct) = raw.split_at(NONCE);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| failed())?;
        let plain = cipher.decrypt(&nonce, Payload { msg: ct, aad: aad.as_bytes() }).map_err(|_| failed())?;
        String::from_utf8(plain).map_err(|_| Error::Internal("a sealed value is not text".into()))
    }

    /// Whether `sealed` is not under the current key (an old one, an unknown one, or malformed).
    pub fn needs_rotation(&self, sealed: &str) -> bool {
        split(sealed).is_none_or(|(id, _)| id != self.current.0)
    }
}

fn split(sealed: &str) -> Option<(&str, &str)> {
    sealed.split_once(':').filter(|(id, _)| valid_id(id))
}

/// The sealed columns of one table: what [`rotate`] goes through.
#[derive(Clone, Copy, Debug)]
pub struct SealedColumns {
    /// The table.
    pub table: &'static str,
    /// Its key column, text: the row id in each value's [`aad`].
    pub id: &'static str,
    /// The columns holding sealed values (text, nullable).
    pub columns: &'static [&'static str],
}

fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One column of a row to rewrite: the column, the value read, the value to write.
type Change<'a> = (&'a str, String, String);

/// Writes `changes` into the row `id` only where every column still holds the value read; returns
/// how many values were written (all of them, or none when a writer came in between).
async fn rewrite_row(
    conn: &mut sqlx::AnyConnection,
    set: &SealedColumns,
    id: &str,
    changes: &[Change<'_>],
) -> Result<u64> {
    if changes.is_empty() {
        return Ok(0);
    }
    let n = changes.len();
    let sets: Vec<String> = changes.iter().enumerate().map(|(i, (c, ..))| format!("{c} = ${}", i + 1)).collect();
    let checks: Vec<String> =
        changes.iter().enumerate().map(|(i, (c, ..))| format!(" AND {c} = ${}", n + 2 + i)).collect();
    let sql = format!("UPDATE {} SET {} WHERE {} = ${}{}", set.table, sets.join(", "), set.id, n + 1, checks.concat());
    let mut q = sqlx::query(&sql);
    for (_, _, new) in changes {
        q = q.bind(new.as_str());
    }
    q = q.bind(id);
    for (_, old, _) in changes {
        q = q.bind(old.as_str());
    }
    let done = q.execute(&mut *conn).await?.rows_affected();
    Ok(if done == 1 { n as u64 } else { 0 })
}

/// Re-encrypts under the current key every value of `set`'s columns that is under another key,
/// `batch` rows at a time (one transaction each). Each row is rewritten only if its values are
/// still those read, so a concurrent writer wins (and its value, sealed under the current key, needs
/// nothing). Values that open with no key of the ring are left as they are (and counted in a
/// warning). Returns how many values were rewritten.
pub async fn rotate(db: &Db, ring: &AtRest, set: &SealedColumns, batch: usize) -> Result<u64> {
    if !plain_name(set.table)
        || !plain_name(set.id)
        || set.columns.is_empty()
        || !set.columns.iter().all(|c| plain_name(c))
    {
        return Err(Error::Internal(format!("sealed columns of {:?}: not plain SQL names", set.table)));
    }
    let batch = batch.max(1);
    let prefix = format!("{}:", ring.current_id());
    // Rows with a value not under the current key, after the last row seen (ids are text, and the
    // key column orders them): `$1` the last id, `$2…` the current key's prefix, once per column.
    let wanted: Vec<String> = set
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("({c} IS NOT NULL AND {c} <> '' AND substr({c}, 1, {}) <> ${})", prefix.len(), i + 2))
        .collect();
    let sql = format!(
        "SELECT {id}, {cols} FROM {table} WHERE {id} > $1 AND ({wanted}) ORDER BY {id} LIMIT {batch}",
        id = set.id,
        cols = set.columns.join(", "),
        table = set.table,
        wanted = wanted.join(" OR "),
    );
    let (mut after, mut rewritten, mut unreadable) = (String::new(), 0u64, 0u64);
    loop {
        let mut tx = db.pool.begin().await?;
        let mut q = sqlx::query(&sql).bind(after.as_str());
        for _ in set.columns {
            q = q.bind(prefix.as_str());
        }
        let rows = q.fetch_all(&mut *tx).await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let mut changes: Vec<Change<'_>> = Vec::new();
            for (i, column) in set.columns.iter().enumerate() {
                let Some(old) = row.try_get::<Option<String>, _>(i + 1)? else { continue };
                if old.is_empty() || !ring.needs_rotation(&old) {
                    continue;
                }
                let aad = aad(set.table, column, &id);
                match ring.open(&old, &aad) {
                    Ok(plain) => {
                        let new = ring.seal(&plain, &aad)?;
                        changes.push((column, old, new));
                    }
                    Err(_) => unreadable += 1,
                }
            }
            rewritten += rewrite_row(&mut tx, set, &id, &changes).await?;
            after = id;
        }
        tx.commit().await?;
        if rows.len() < batch {
            break;
        }
    }
    if unreadable > 0 {
        tracing::warn!(
            table = set.table,
            unreadable,
            "sealed values that open with no at-rest key were left as they are"
        );
    }
    Ok(rewritten)
}

/// Runs [`rotate`] over each of `sets`, then again every `every`, until `closing` turns true (or
/// its sender is gone). Logs counts only.
pub async fn rotate_forever(
    db: Db,
    ring: Arc<AtRest>,
    sets: Vec<SealedColumns>,
    every: Duration,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        for set in &sets {
            if *closing.borrow() {
                return;
            }
            match rotate(&db, &ring, set, ROTATE_BATCH).await {
                Ok(0) => {}
                Ok(rewritten) => {
                    tracing::info!(
                        table = set.table,
                        rewritten,
                        key = ring.current_id(),
                        "re-encrypted under the current at-rest key"
                    )
                }
                Err(e) => tracing::warn!(table = set.table, error = %e, "at-rest key rotation failed; retrying later"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = closing.wait_for(|c| *c) => return,
        }
    }
}

#[cfg(test)]
mod tests;
