//! Crypto-shredding: a customer's personal data in events is encrypted with a key of their own,
//! so erasing the key makes every copy unreadable at once (the `events` table, Kafka and whatever
//! its consumers kept), while the append-only log itself is never rewritten.
//!
//! - **Keys.** Each customer gets a random 256-bit data key on first use, kept in `customer_keys`
//!   wrapped (XChaCha20-Poly1305) by the cloud's master key (`privacy.master_key`, or a key file in
//!   the data directory), under a random key id that names no one. Erasure deletes the row.
//! - **Sealing** ([`DataKey::seal`]), when an event is recorded: every field named in
//!   [`PERSONAL`], at any depth of the event's data, is moved into one encrypted field
//!   `personal: {"kid": KEY ID, "enc": BASE64(nonce ‖ ciphertext)}` at the top of the data and left
//!   blank in place (`""` for text, `null` otherwise), so the payload keeps its shape and parses
//!   as before. The key id is the ciphertext's associated data.
//! - **Opening** ([`Vault::open`]), for the API's authorised readers (HQ's event feed, an order's
//!   live stream, an outlet's downward stream): while the key exists the fields are put back; once
//!   it is gone the event stays as sealed, with its blanks.

use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};
use sqlx::Row;
use std::collections::HashMap;

/// The fields that identify or describe a person, wherever they appear in an event's data: the
/// customer's id, their delivery address, free-text notes, contact details, and the name of a
/// drop-off zone (their street).
pub const PERSONAL: &[&str] = &["customer_id", "delivery_address", "notes", "email", "phone", "zone_name"];

/// The field of an event's data that holds the sealed personal fields.
pub const SEALED: &str = "personal";

const NONCE: usize = 24;

/// The master key and the `customer_keys` table it guards.
pub struct Vault {
    master: XChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

/// One customer's data key.
pub struct DataKey {
    /// The key's id: random, stored beside the wrapped key, and written in every sealed field.
    pub id: String,
    cipher: XChaCha20Poly1305,
}

fn encrypt(cipher: &XChaCha20Poly1305, plain: &[u8], aad: &str) -> Result<String> {
    let nonce = XNonce::try_generate().map_err(|e| Error::Internal(format!("random nonce: {e}")))?;
    let ct = cipher
        .encrypt(&nonce, Payload { msg: plain, aad: aad.as_bytes() })
        .map_err(|_| Error::Internal("encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend(ct);
    Ok(B64.encode(out))
}

fn decrypt(cipher: &XChaCha20Poly1305, sealed: &str, aad: &str) -> Option<Vec<u8>> {
    let raw = B64.decode(sealed).ok()?;
    if raw.len() < NONCE {
        return None;
    }
    let (nonce, ct) = raw.split_at(NONCE);
    let nonce = XNonce::try_from(nonce).ok()?;
    cipher.decrypt(&nonce, Payload { msg: ct, aad: aad.as_bytes() }).ok()
}

impl Vault {
    /// A vault whose master key is derived (SHA-256) from `secret`, at least 32 bytes of it.
    pub fn new(secret: &[u8]) -> Self {
        use sha2::Digest;
        let k: [u8; 32] = sha2::Sha256::digest(secret).into();
        Self { master: XChaCha20Poly1305::new(&Key::from(k)) }
    }

    /// `customer`'s data key, made and stored (in the caller's transaction) on first use.
    pub async fn key_for(&self, conn: &mut sqlx::AnyConnection, customer: &str) -> Result<DataKey> {
        let row = sqlx::query("SELECT key_id, wrapped FROM customer_keys WHERE customer_id = $1")
            .bind(customer)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = row {
            let id: String = r.try_get("key_id")?;
            return self.unwrap_key(id, &r.try_get::<String, _>("wrapped")?);
        }
        let key = Key::try_generate().map_err(|e| Error::Internal(format!("random key: {e}")))?;
        let id = uuid::Uuid::new_v4().to_string();
        let wrapped = encrypt(&self.master, key.as_slice(), &id)?;
        // A racing twin may have made one meanwhile: the stored key wins.
        sqlx::query(
            "INSERT INTO customer_keys (customer_id, key_id, wrapped, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (customer_id) DO NOTHING",
        )
        .bind(customer)
        .bind(&id)
        .bind(&wrapped)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        let r = sqlx::query("SELECT key_id, wrapped FROM customer_keys WHERE customer_id = $1")
            .bind(customer)
            .fetch_one(&mut *conn)
            .await?;
        self.unwrap_key(r.try_get("key_id")?, &r.try_get::<String, _>("wrapped")?)
    }

    fn unwrap_key(&self, id: String, wrapped: &str) -> Result<DataKey> {
        let raw = decrypt(&self.master, wrapped, &id)
            .ok_or_else(|| Error::Internal("a customer key does not open with the master key".into()))?;
        let key =
            Key::try_from(raw.as_slice()).map_err(|_| Error::Internal("a customer key has a bad length".into()))?;
        Ok(DataKey { id, cipher: XChaCha20Poly1305::new(&key) })
    }

    /// Destroys `customer`'s data key in the caller's transaction: every event sealed with it
    /// becomes unreadable, wherever it was copied.
    pub async fn shred(conn: &mut sqlx::AnyConnection, customer: &str) -> Result<()> {
        sqlx::query("DELETE FROM customer_keys WHERE customer_id = $1").bind(customer).execute(&mut *conn).await?;
        Ok(())
    }

    /// Puts back the sealed personal fields of each event `payload` (`{…, data}`) whose key still
    /// exists; the others stay as sealed. Keys are looked up once per call.
    pub async fn open(&self, db: &sqlx::AnyPool, payloads: Vec<&mut Value>) -> Result<()> {
        let mut keys: HashMap<String, Option<DataKey>> = HashMap::new();
        for payload in payloads {
            let Some(data) = payload.get_mut("data").and_then(Value::as_object_mut) else { continue };
            let Some((kid, enc)) = data.get(SEALED).and_then(|s| Some((s["kid"].as_str()?, s["enc"].as_str()?))) else {
                continue;
            };
            let (kid, enc) = (kid.to_owned(), enc.to_owned());
            if !keys.contains_key(&kid) {
                let row = sqlx::query("SELECT wrapped FROM customer_keys WHERE key_id = $1")
                    .bind(&kid)
                    .fetch_optional(db)
                    .await?;
                let key = match row {
                    Some(r) => Some(self.unwrap_key(kid.clone(), &r.try_get::<String, _>("wrapped")?)?),
                    None => None,
                };
                keys.insert(kid.clone(), key);
            }
            let Some(key) = keys.get(&kid).and_then(Option::as_ref) else { continue };
            let Some(personal) = decrypt(&key.cipher, &enc, &kid).and_then(|p| serde_json::from_slice(&p).ok()) else {
                tracing::warn!(kid, "a sealed event does not open with its key");
                continue;
            };
            data.remove(SEALED);
            let mut whole = Value::Object(std::mem::take(data));
            merge(&mut whole, personal);
            if let Value::Object(m) = whole {
                *data = m;
            }
        }
        Ok(())
    }
}

impl DataKey {
    /// Moves every [`PERSONAL`] field of `data` (an object) into one encrypted [`SEALED`] field,
    /// leaving blanks in their place; nothing changes when there is none.
    pub fn seal(&self, data: &mut Value) -> Result<()> {
        let Some(personal) = take_personal(data) else { return Ok(()) };
        let sealed = encrypt(&self.cipher, personal.to_string().as_bytes(), &self.id)?;
        if let Some(m) = data.as_object_mut() {
            m.insert(SEALED.into(), serde_json::json!({ "kid": self.id, "enc": sealed }));
        }
        Ok(())
    }
}

/// Blanks the personal fields of `v` and returns them in a tree of the same shape (arrays keep
/// their positions, `null` where an element had none); `None` when there were none.
pub fn take_personal(v: &mut Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, field) in m.iter_mut() {
                if PERSONAL.contains(&k.as_str()) {
                    if field.is_null() || field.as_str() == Some("") {
                        continue;
                    }
                    let blank = if field.is_string() { Value::String(String::new()) } else { Value::Null };
                    out.insert(k.clone(), std::mem::replace(field, blank));
                } else if let Some(p) = take_personal(field) {
                    out.insert(k.clone(), p);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let parts: Vec<Value> = a.iter_mut().map(|e| take_personal(e).unwrap_or(Value::Null)).collect();
            parts.iter().any(|p| !p.is_null()).then_some(Value::Array(parts))
        }
        _ => None,
    }
}

/// Puts `personal` (from [`take_personal`]) back into `v`.
fn merge(v: &mut Value, personal: Value) {
    match (v, personal) {
        (Value::Object(m), Value::Object(p)) => {
            for (k, pv) in p {
                match m.get_mut(&k) {
                    Some(field) if !PERSONAL.contains(&k.as_str()) => merge(field, pv),
                    _ => {
                        m.insert(k, pv);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(p)) => {
            for (e, pv) in a.iter_mut().zip(p) {
                if !pv.is_null() {
                    merge(e, pv);
                }
            }
        }
        (v, p) => *v = p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> DataKey {
        DataKey { id: "k1".into(), cipher: XChaCha20Poly1305::new(&Key::from([7u8; 32])) }
    }

    #[test]
    fn personal_fields_are_sealed_blank_in_place_and_put_back() {
        let order = json!({
            "order_id": "o1",
            "order": { "notes": "ring twice", "customer_id": "c1", "total": 900,
                       "delivery_address": { "line1": "Prins Hendrikkade 1", "city": "Amsterdam" },
                       "lines": [{ "name": "Classic Patty", "notes": "" }, { "name": "Fries", "notes": "no salt" }] },
        });
        let mut data = order.clone();
        key().seal(&mut data).unwrap();
        // Outside the sealed field (whose random ciphertext may spell anything in base64).
        let mut open_part = data.clone();
        open_part.as_object_mut().unwrap().remove(SEALED);
        let text = open_part.to_string();
        for secret in ["ring twice", "c1", "Prins", "Amsterdam", "no salt"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(data["order"]["notes"], "");
        assert_eq!(data["order"]["delivery_address"], Value::Null);
        assert_eq!(data["order"]["lines"][1]["name"], "Fries");
        assert_eq!(data[SEALED]["kid"], "k1");

        let k = key();
        let enc = data[SEALED]["enc"].as_str().unwrap().to_owned();
        let personal: Value = serde_json::from_slice(&decrypt(&k.cipher, &enc, "k1").unwrap()).unwrap();
        assert!(decrypt(&k.cipher, &enc, "another key id").is_none(), "the key id is bound to the ciphertext");
        data.as_object_mut().unwrap().remove(SEALED);
        merge(&mut data, personal);
        assert_eq!(data, order);
    }

    #[test]
    fn an_event_without_personal_fields_is_left_alone() {
        let mut data = json!({ "delivery_id": "d1", "status": "assigned", "notes": "" });
        let before = data.clone();
        key().seal(&mut data).unwrap();
        assert_eq!(data, before);
    }
}
