//! Web push: a message encrypted to the browser's subscription and handed to its push service
//! (Mozilla's, Google's, Apple's…), which wakes the service worker that shows it.
//!
//! - **Identity** ([`VapidKey`], RFC 8292). One P-256 key pair identifies this server to every
//!   push service. Browsers subscribe with its public half (`applicationServerKey`), so it must
//!   stay the same across restarts: [`VapidKey::load_or_create`] keeps it in a file. Each request
//!   carries a short-lived ES256 token for the endpoint's origin, signed with it.
//! - **Encryption** ([`encrypt`], RFC 8291 with the `aes128gcm` content coding of RFC 8188). The
//!   push service only carries bytes it cannot read: the payload is encrypted to the
//!   subscription's `p256dh` key and `auth` secret, one record, with a fresh salt and a fresh
//!   sender key per message.
//! - **Sending** ([`WebPush`]). The payload is the JSON the service worker reads (`id`, `title`,
//!   `body`, `url`, `tag`), at most [`MAX_PLAINTEXT`] bytes (the body is cut to fit). The `Topic`
//!   header is derived from the message id, so a message sent again replaces the one still
//!   waiting at the push service instead of arriving twice.
//!
//! The subscription's keys and the private key never go into an error, a log line or `Debug`;
//! errors name the push service by its origin only, as the endpoint's path is a capability.

use super::{Channel, Outgoing, SendError};
use crate::infra::config::ConfigError;
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use futures::future::{BoxFuture, FutureExt};
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The largest plaintext a push service must accept (RFC 8291 §4): 4096 bytes of body less the
/// `aes128gcm` header (86), the tag (16) and the padding delimiter (1).
pub const MAX_PLAINTEXT: usize = 3993;

/// How long a push service keeps a message for a browser that is offline, seconds, by default.
pub const DEFAULT_TTL_S: u32 = 86_400;

/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The record size written in the header: one record holds any payload up to [`MAX_PLAINTEXT`].
const RECORD_SIZE: u32 = 4096;
const SALT_LEN: usize = 16;
const AUTH_LEN: usize = 16;
const POINT_LEN: usize = 65;
/// How much of a refusing push service's answer is kept in the error.
const EXCERPT: usize = 200;

/// This server's VAPID key pair (RFC 8292): a P-256 private key. `Debug` shows the public key only.
#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey").field("public", &self.public_base64url()).finish_non_exhaustive()
    }
}

impl VapidKey {
    /// A new random key pair.
    pub fn generate() -> Self {
        Self { secret: SecretKey::generate() }
    }

    /// The key from its private scalar, 32 bytes as base64url (padding allowed); the error never
    /// shows the key.
    pub fn from_base64url(private: &str) -> Result<Self, String> {
        let raw = decode_b64url(private).ok_or("the VAPID private key is not base64url")?;
        if raw.len() != 32 {
            return Err(format!("the VAPID private key is {} bytes, 32 are needed", raw.len()));
        }
        let secret = SecretKey::from_slice(&raw).map_err(|_| "the VAPID private key is not a P-256 scalar")?;
        Ok(Self { secret })
    }

    /// The private scalar as base64url without padding, for keeping in a file or a secret store.
    pub fn to_base64url(&self) -> String {
        B64URL.encode(self.secret.to_bytes())
    }

    /// The public key as the uncompressed 65-byte point in base64url without padding: what a
    /// browser passes as `applicationServerKey` when it subscribes.
    pub fn public_base64url(&self) -> String {
        B64URL.encode(public_bytes(&self.secret.public_key()))
    }

    /// The key kept in `path` (its private scalar as base64url, see [`Self::to_base64url`]), or a
    /// new one written there with mode 0600 the first time, so restarts keep the key browsers
    /// subscribed with. The errors never show the key.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        use std::io::Write;
        let invalid = |why: String| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the VAPID key file {}: {why}", path.display()),
            )
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64url(text.trim()).map_err(invalid),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let key = Self::generate();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                match opts.open(path) {
                    Ok(mut file) => {
                        file.write_all(format!("{}\n", key.to_base64url()).as_bytes())?;
                        file.sync_all()?;
                        Ok(key)
                    }
                    // Another process made it first: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::from_base64url(std::fs::read_to_string(path)?.trim()).map_err(invalid)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The `Authorization` header for a push to an endpoint of `origin`: `vapid t=<JWT>, k=<key>`,
    /// the JWT (ES256) claiming `aud` = `origin`, `sub` = `subject` and expiring at `exp` (Unix
    /// seconds).
    fn authorization(&self, origin: &str, subject: &str, exp: u64) -> String {
        let header = B64URL.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = B64URL.encode(json!({ "aud": origin, "exp": exp, "sub": subject }).to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = SigningKey::from(&self.secret).sign(signing_input.as_bytes());
        let jwt = format!("{signing_input}.{}", B64URL.encode(signature.to_bytes()));
        format!("vapid t={jwt}, k={}", self.public_base64url())
    }
}

/// The uncompressed SEC1 encoding of a public key (0x04 ‖ x ‖ y).
fn public_bytes(key: &PublicKey) -> Vec<u8> {
    key.to_sec1_point(false).as_bytes().to_vec()
}

/// Decodes base64url with or without padding (subscriptions come both ways; a few old browsers
/// sent standard base64, which is accepted too).
fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    let url_safe: String = text.trim().trim_end_matches('=').replace('+', "-").replace('/', "_");
    B64URL.decode(url_safe).ok()
}

/// Why a payload could not be encrypted to a subscription.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncryptError {
    /// The `p256dh` key is not an uncompressed P-256 point.
    #[error("the subscription's p256dh key is not an uncompressed P-256 point")]
    BadPublicKey,
    /// The `auth` secret is not 16 bytes.
    #[error("the subscription's auth secret is not {AUTH_LEN} bytes")]
    BadAuthSecret,
    /// The payload is over [`MAX_PLAINTEXT`] bytes.
    #[error("the payload is {0} bytes, more than {MAX_PLAINTEXT}")]
    TooLong(usize),
    /// The system's random source failed.
    #[error("random bytes: {0}")]
    Random(String),
}

/// Encrypts `payload` to a subscription (its `p256dh` public key `ua_public` and its `auth`
/// secret) as one `aes128gcm` record (RFC 8291 §3.4, RFC 8188 §2), from the sender key
/// `as_private` and `salt`, both to be fresh for every message ([`encrypt_fresh`] picks them).
/// The result is the request body: `salt ‖ record size ‖ key id length ‖ sender public key ‖
/// ciphertext`.
pub fn encrypt(
    payload: &[u8],
    ua_public: &[u8],
    auth_secret: &[u8],
    as_private: &SecretKey,
    salt: &[u8; SALT_LEN],
) -> Result<Vec<u8>, EncryptError> {
    if payload.len() > MAX_PLAINTEXT {
        return Err(EncryptError::TooLong(payload.len()));
    }
    if ua_public.len() != POINT_LEN || ua_public[0] != 0x04 {
        return Err(EncryptError::BadPublicKey);
    }
    let ua_key = PublicKey::from_sec1_bytes(ua_public).map_err(|_| EncryptError::BadPublicKey)?;
    if auth_secret.len() != AUTH_LEN {
        return Err(EncryptError::BadAuthSecret);
    }
    let as_public = public_bytes(&as_private.public_key());
    let shared = as_private.diffie_hellman(&ua_key);

    // The input keying material mixes the shared secret with the auth secret and both public keys.
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(&as_public);
    let ikm = expand::<32>(&Hkdf::<Sha256>::new(Some(auth_secret), shared.raw_secret_bytes()), &key_info);
    // The content encryption key and nonce, from the salt (RFC 8188 §2.2, §2.3).
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let cek = expand::<16>(&prk, b"Content-Encoding: aes128gcm\0");
    let nonce = expand::<12>(&prk, b"Content-Encoding: nonce\0");

    // One record, the last: the payload, then the delimiter 0x02 and no padding.
    let mut record = Vec::with_capacity(payload.len() + 1);
    record.extend_from_slice(payload);
    record.push(0x02);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| EncryptError::BadPublicKey)?;
    let nonce = Nonce::<Aes128Gcm>::try_from(&nonce[..]).map_err(|_| EncryptError::BadPublicKey)?;
    let sealed = cipher.encrypt(&nonce, record.as_slice()).map_err(|_| EncryptError::TooLong(payload.len()))?;

    let mut body = Vec::with_capacity(SALT_LEN + 5 + POINT_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(POINT_LEN as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// [`encrypt`] with a random salt and a new sender key, as every real message is sent.
pub fn encrypt_fresh(payload: &[u8], ua_public: &[u8], auth_secret: &[u8]) -> Result<Vec<u8>, EncryptError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| EncryptError::Random(e.to_string()))?;
    let sender = SecretKey::try_generate().map_err(|e| EncryptError::Random(e.to_string()))?;
    encrypt(payload, ua_public, auth_secret, &sender, &salt)
}

/// HKDF-Expand to `N` bytes (`N` is at most 32, far under HKDF-SHA-256's limit).
fn expand<const N: usize>(prk: &Hkdf<Sha256>, info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    // Only lengths over 255 × 32 bytes fail.
    let _ = prk.expand(info, &mut out);
    out
}

/// A browser's push subscription, as the page sent it (`PushSubscription.toJSON()`).
#[derive(serde::Deserialize)]
struct Subscription {
    endpoint: String,
    keys: SubscriptionKeys,
}

/// Deliberately without `Debug`: the keys never get printed.
#[derive(serde::Deserialize)]
struct SubscriptionKeys {
    p256dh: String,
    auth: String,
}

/// A subscription ready to push to: where, and the decoded keys.
struct Target {
    endpoint: reqwest::Url,
    origin: String,
    p256dh: Vec<u8>,
    auth: Vec<u8>,
}

/// Reads the subscription JSON in `to`; the errors never quote it.
fn target(to: &str) -> Result<Target, SendError> {
    let refused = |why: &str| SendError::Refused(format!("push subscription: {why}"));
    let sub: Subscription = serde_json::from_str(to)
        .map_err(|_| refused("not JSON of the shape {\"endpoint\", \"keys\": {\"p256dh\", \"auth\"}}"))?;
    let endpoint = reqwest::Url::parse(&sub.endpoint).map_err(|_| refused("the endpoint is not a URL"))?;
    if !matches!(endpoint.scheme(), "https" | "http") || endpoint.host_str().is_none() {
        return Err(refused("the endpoint is not an HTTP(S) URL"));
    }
    let p256dh = decode_b64url(&sub.keys.p256dh).ok_or_else(|| refused("the p256dh key is not base64url"))?;
    let auth = decode_b64url(&sub.keys.auth).ok_or_else(|| refused("the auth secret is not base64url"))?;
    let origin = endpoint.origin().ascii_serialization();
    Ok(Target { endpoint, origin, p256dh, auth })
}

/// The JSON the service worker reads, at most [`MAX_PLAINTEXT`] bytes: a body too long is cut at
/// the longest prefix (on a character boundary, with an ellipsis) that fits once escaped. Refused
/// if even an empty body does not fit.
fn payload(m: &Outgoing) -> Result<Vec<u8>, SendError> {
    let render = |body: &str| {
        json!({ "id": m.id, "title": m.subject, "body": body, "url": m.link, "tag": m.template })
            .to_string()
            .into_bytes()
    };
    let whole = render(&m.text);
    if whole.len() <= MAX_PLAINTEXT {
        return Ok(whole);
    }
    let cut = |mut keep: usize| {
        while !m.text.is_char_boundary(keep) {
            keep -= 1;
        }
        render(&format!("{}…", &m.text[..keep]))
    };
    if cut(0).len() > MAX_PLAINTEXT {
        return Err(SendError::Refused(format!("the push message is over {MAX_PLAINTEXT} bytes with no body")));
    }
    // A prefix of `lo` bytes fits, one of `hi` does not (every byte is at least a byte of JSON).
    let (mut lo, mut hi) = (0, m.text.len().min(MAX_PLAINTEXT + 1));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if cut(mid).len() <= MAX_PLAINTEXT { lo = mid } else { hi = mid }
    }
    Ok(cut(lo))
}

/// The `Topic` header for a message id (RFC 8030 §5.4: at most 32 base64url characters): the
/// first 24 bytes of its SHA-256, so a resent message replaces the one waiting.
fn topic(id: &str) -> String {
    B64URL.encode(&Sha256::digest(id.as_bytes())[..24])
}

/// The web push channel: VAPID-signed, `aes128gcm`-encrypted pushes to each subscription's
/// push service. `Debug` shows the public key only.
#[derive(Debug)]
pub struct WebPush {
    key: VapidKey,
    subject: String,
    http: reqwest::Client,
    timeout: Duration,
    ttl_s: u32,
}

impl WebPush {
    /// The channel signing as `key`, with `subject` (a `mailto:` or `https:` URI where a push
    /// service's operator can reach us) in every token, each push limited to `timeout`. Fails if
    /// the subject is neither.
    pub fn new(
        key: VapidKey,
        subject: impl Into<String>,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let subject = subject.into();
        if !(subject.starts_with("mailto:") && subject.len() > "mailto:".len() || subject.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "the web push subject {subject:?} is neither a mailto: nor an https: URI"
            )));
        }
        Ok(Self { key, subject, http, timeout, ttl_s: DEFAULT_TTL_S })
    }

    /// How long a push service keeps a message for an offline browser ([`DEFAULT_TTL_S`] unless
    /// set).
    pub fn with_ttl(mut self, seconds: u32) -> Self {
        self.ttl_s = seconds;
        self
    }

    /// The public key browsers subscribe with (`applicationServerKey`).
    pub fn public_key(&self) -> String {
        self.key.public_base64url()
    }

    async fn push(&self, m: &Outgoing) -> Result<(), SendError> {
        let to = target(&m.to)?;
        let plain = payload(m)?;
        let body = encrypt_fresh(&plain, &to.p256dh, &to.auth).map_err(|e| match e {
            EncryptError::Random(_) => SendError::Retry(e.to_string()),
            _ => SendError::Refused(e.to_string()),
        })?;
        let exp = (SystemTime::now() + TOKEN_LIFETIME).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let sent = self
            .http
            .post(to.endpoint)
            .timeout(self.timeout)
            .header("TTL", self.ttl_s.to_string())
            .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header("Urgency", "normal")
            .header("Topic", topic(&m.id))
            .header(reqwest::header::AUTHORIZATION, self.key.authorization(&to.origin, &self.subject, exp))
            .body(body)
            .send()
            .await;
        let response = sent.map_err(|e| transport_error(&to.origin, e))?;
        let status = response.status().as_u16();
        tracing::debug!(push_service = %to.origin, status, message = %m.id, "push answered");
        if response.status().is_success() {
            return Ok(());
        }
        let excerpt = excerpt(&response.bytes().await.unwrap_or_default());
        let what = format!("push service {} answered {status}: {excerpt}", to.origin);
        Err(match status {
            404 | 410 => SendError::Gone(what),
            429 => SendError::Retry(what),
            s if s >= 500 => SendError::Retry(what),
            _ => SendError::Refused(what),
        })
    }
}

/// A failed request: always worth another try (timeouts, refused or reset connections, TLS).
/// The URL is left out, as the endpoint's path is the subscription's capability.
fn transport_error(origin: &str, e: reqwest::Error) -> SendError {
    if e.is_timeout() {
        SendError::Retry(format!("push service {origin}: timed out"))
    } else {
        SendError::Retry(format!("push service {origin}: {}", e.without_url()))
    }
}

/// The start of an answer's body on one line, for an error.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(EXCERPT).collect();
    one_line.trim().to_owned()
}

impl Channel for WebPush {
    fn name(&self) -> &'static str {
        "push"
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        self.push(message).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        B64URL.decode(s).expect("base64url")
    }

    // RFC 8291 Appendix A.
    const PLAINTEXT: &str = "When I grow up, I want to be a watermelon";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const BODY: &str = concat!(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
        "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
        "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
    );

    fn message(text: &str) -> Outgoing {
        Outgoing {
            id: "msg-1".into(),
            to: String::new(),
            subject: "Your order is on its way".into(),
            text: text.into(),
            html: None,
            unsubscribe: None,
            link: Some("https://example.com/orders/1".into()),
            template: "order.dispatched".into(),
        }
    }

    #[test]
    fn the_rfc_8291_example_comes_out_byte_for_byte() {
        let key = VapidKey::from_base64url(AS_PRIVATE).expect("the RFC's key");
        assert_eq!(key.public_base64url(), AS_PUBLIC);
        let salt: [u8; 16] = b64(SALT).try_into().expect("16 bytes");
        let body = encrypt(PLAINTEXT.as_bytes(), &b64(UA_PUBLIC), &b64(AUTH), &key.secret, &salt).expect("encrypts");
        assert_eq!(B64URL.encode(body), BODY);
    }

    #[test]
    fn bad_keys_and_long_payloads_are_refused() {
        let key = VapidKey::generate();
        let salt = [0u8; 16];
        let (ua, auth) = (b64(UA_PUBLIC), b64(AUTH));
        assert_eq!(encrypt(b"x", &ua[..33], &auth, &key.secret, &salt), Err(EncryptError::BadPublicKey));
        let mut off_curve = ua.clone();
        off_curve[64] ^= 1;
        assert_eq!(encrypt(b"x", &off_curve, &auth, &key.secret, &salt), Err(EncryptError::BadPublicKey));
        assert_eq!(encrypt(b"x", &ua, &auth[..8], &key.secret, &salt), Err(EncryptError::BadAuthSecret));
        let long = vec![b'a'; MAX_PLAINTEXT + 1];
        assert_eq!(encrypt(&long, &ua, &auth, &key.secret, &salt), Err(EncryptError::TooLong(MAX_PLAINTEXT + 1)));
        let fits = encrypt_fresh(&long[1..], &ua, &auth).expect("the largest payload");
        assert_eq!(fits.len(), 4096);
    }

    #[test]
    fn the_key_round_trips_and_debug_hides_it() {
        let key = VapidKey::generate();
        let again = VapidKey::from_base64url(&key.to_base64url()).expect("round trip");
        assert_eq!(again.public_base64url(), key.public_base64url());
        assert_eq!(b64(&key.public_base64url()).len(), 65);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_base64url()), "{shown}");
        assert!(shown.contains(&key.public_base64url()), "{shown}");
        assert!(VapidKey::from_base64url("AAAA").is_err());
        assert!(VapidKey::from_base64url(&B64URL.encode([0u8; 32])).is_err(), "zero is not a key");
    }

    #[test]
    fn the_key_file_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("keys").join("vapid.key");
        let first = VapidKey::load_or_create(&path).expect("created");
        let second = VapidKey::load_or_create(&path).expect("read back");
        assert_eq!(first.public_base64url(), second.public_base64url());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").expect("overwrite");
        let err = VapidKey::load_or_create(&path).expect_err("a bad file is an error");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn the_token_verifies_under_the_public_key() {
        use p256::ecdsa::VerifyingKey;
        use p256::ecdsa::signature::Verifier;
        let key = VapidKey::generate();
        let header = key.authorization("https://push.example.net", "mailto:ops@example.com", 1_900_000_000);
        let rest = header.strip_prefix("vapid t=").expect("the vapid scheme");
        let (jwt, k) = rest.split_once(", k=").expect("t and k");
        assert_eq!(k, key.public_base64url());
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(&b64(parts[1])).expect("claims");
        assert_eq!(
            claims,
            json!({ "aud": "https://push.example.net", "exp": 1_900_000_000u64, "sub": "mailto:ops@example.com" })
        );
        let verifying = VerifyingKey::from_sec1_bytes(&b64(k)).expect("the public key");
        let signature = Signature::from_slice(&b64(parts[2])).expect("64 bytes");
        verifying.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).expect("the signature holds");
    }

    #[test]
    fn a_long_body_is_cut_to_fit() {
        let short = payload(&message("Ready in 10 minutes")).expect("fits");
        let json: serde_json::Value = serde_json::from_slice(&short).expect("JSON");
        assert_eq!(
            json,
            json!({
                "id": "msg-1", "title": "Your order is on its way", "body": "Ready in 10 minutes",
                "url": "https://example.com/orders/1", "tag": "order.dispatched"
            })
        );
        for text in ["é\"".repeat(3000), "a".repeat(5000), "\u{1}".repeat(900)] {
            let long = payload(&message(&text)).expect("cut to fit");
            assert!(long.len() <= MAX_PLAINTEXT, "{} bytes", long.len());
            let json: serde_json::Value = serde_json::from_slice(&long).expect("JSON");
            // One more character (six bytes of JSON at most) would not have fitted.
            assert!(long.len() > MAX_PLAINTEXT - 6, "{} bytes", long.len());
            assert!(json["body"].as_str().expect("a body").ends_with('…'));
        }
        let mut huge = message("");
        huge.subject = "x".repeat(MAX_PLAINTEXT);
        assert!(matches!(payload(&huge), Err(SendError::Refused(_))));
    }

    #[test]
    fn the_topic_is_short_and_stable() {
        let t = topic("01JABCDEF-some-message-id");
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(t, topic("01JABCDEF-some-message-id"));
        assert_ne!(t, topic("01JABCDEF-another"));
    }

    #[test]
    fn malformed_subscriptions_are_refused_without_quoting_them() {
        let sub = |endpoint: &str, p256dh: serde_json::Value, auth: &str| {
            json!({ "endpoint": endpoint, "keys": { "p256dh": p256dh, "auth": auth } }).to_string()
        };
        let x = "https://push.example.net/x";
        for to in [
            "not json".to_owned(),
            json!({ "endpoint": x }).to_string(),
            sub("ftp://push.example.net/x", UA_PUBLIC.into(), AUTH),
            sub(x, "%%%".into(), AUTH),
            sub(x, 5.into(), AUTH),
        ] {
            let Err(SendError::Refused(why)) = target(&to) else { panic!("{to} is not refused") };
            assert!(!why.contains(AUTH), "{why}");
        }
        let Ok(ok) = target(&sub("https://push.example.net:8443/x/y", UA_PUBLIC.into(), &format!("{AUTH}=="))) else {
            panic!("a good subscription is refused")
        };
        assert_eq!(ok.origin, "https://push.example.net:8443");
        assert_eq!(ok.auth, b64(AUTH));
    }
}
