//! Access tokens and passwords: the signing [`Keys`], what a token says ([`Claims`]), signing and
//! verifying one, argon2id hashing, and the rules for emails, names and passwords. No SQL.

use super::IdentityError;
use crate::infra::access::Role;
use crate::infra::error::{Error, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use patty_protocol::ids::OutletId;
use patty_service::secret;
use serde::{Deserialize, Serialize};

/// The signing keys for access tokens, and who issues them for whom.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

/// Clock difference tolerated between the replica that signed a token and the one checking it.
const LEEWAY_SECS: u64 = 5;

impl Keys {
    /// Keys from a shared secret, for tokens issued by `issuer` to `audience`: a token is accepted
    /// only with both, so one signed for another service sharing the secret is refused. An empty
    /// secret is refused.
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Result<Self> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let bad = |e: jsonwebtoken::errors::Error| Error::Internal(format!("access-token key: {e}"));
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(bad)?,
            decoding: DecodingKey::from_secret(secret).map_err(bad)?,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// A signed access token for `subject` in `role` (of `outlet`), issued at `now_ms`, valid for
    /// `ttl_secs`.
    pub fn sign(
        &self,
        subject: &str,
        role: Role,
        outlet: Option<OutletId>,
        now_ms: i64,
        ttl_secs: u64,
    ) -> Result<String> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            role,
            outlet,
            iat: now_ms / 1000,
            exp: now_ms / 1000 + ttl_secs as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// What `token` says, if it is ours, for our audience, and not expired.
    pub fn verify(&self, token: &str) -> std::result::Result<Claims, IdentityError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|_| IdentityError::BadAccessToken)
    }
}

/// What an access token says.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    iss: String,
    aud: String,
    /// The user (or subject).
    pub sub: String,
    /// Their role.
    pub role: Role,
    /// The outlet of a staff member or manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlet: Option<OutletId>,
    iat: i64,
    exp: i64,
}

fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&secret::key_bytes()[..16]).map_err(|e| Error::Internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hash: {e}")))
}

/// Whether `password` matches the `stored` hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A real hash of nothing anyone can type, verified against when the email is unknown.
pub fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&secret::token()).unwrap_or_default()).clone()
}

/// Hashes on the blocking pool: argon2id takes tens of milliseconds by design.
pub async fn hash_password_async(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| Error::Internal(e.to_string()))?
}

/// An email address as the documents' pattern states it: printable ASCII without spaces, one
/// `@`, a domain with a dot inside; stored in lower case.
pub fn validate_email(email: &str) -> std::result::Result<String, IdentityError> {
    let e = email.to_ascii_lowercase();
    let part = |s: &str| s.chars().all(|c| c.is_ascii_graphic() && c != '@');
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && part(l) && part(d) && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        });
    if ok { Ok(e) } else { Err(IdentityError::Invalid("not a valid email address")) }
}

/// A person's name: 1 to 100 characters, not all white space; trimmed.
pub fn validate_name(name: &str) -> Result<&str> {
    if patty_protocol::blank(name) || name.chars().count() > 100 {
        return Err(IdentityError::Invalid("a name is 1 to 100 characters").into());
    }
    Ok(name.trim())
}

/// A password: 8 to 128 characters.
pub fn validate_password(p: &str) -> std::result::Result<(), IdentityError> {
    if (8..=128).contains(&p.chars().count()) {
        Ok(())
    } else {
        Err(IdentityError::Invalid("a password is 8 to 128 characters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_issuer_and_audience() {
        let keys = Keys::new(b"secret", "patty", "cloud").unwrap();
        let now = crate::infra::db::now_ms();
        let token = keys.sign("u1", Role::Customer, None, now, 60).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("u1", Role::Customer));
        let other = Keys::new(b"secret", "patty", "elsewhere").unwrap();
        assert!(matches!(other.verify(&token), Err(IdentityError::BadAccessToken)));
        let expired = keys.sign("u1", Role::Customer, None, now - 3_600_000, 60).unwrap();
        assert!(matches!(keys.verify(&expired), Err(IdentityError::BadAccessToken)));
    }

    #[test]
    fn emails_names_and_passwords_follow_their_rules() {
        assert_eq!(validate_email("Ann@Example.com").unwrap(), "ann@example.com");
        for bad in ["ann", "ann@example", "@example.com", "ann@.example.com", "a b@example.com"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_name("  Ann ").unwrap(), "Ann");
        assert!(validate_name("   ").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
    }
}
