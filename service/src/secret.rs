//! Secret tokens (session tokens, refresh tokens, API keys, one-time codes) and their digests.
//! A token is shown once; only its SHA-256 is stored, so a copied database reveals none.

use sha2::{Digest, Sha256};

/// A fresh random token: 256 bits from the operating system's generator, as 64 lower-case hex
/// characters (URL-safe, and the same shape as before, so stored digests and clients are unchanged).
pub fn token() -> String {
    key_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes from the operating system's generator, for keys and tokens.
///
/// Panics if the operating system cannot give randomness: nothing secret may be made without it,
/// and on the platforms served (Linux `getrandom(2)`) it does not fail once the system has booted.
pub fn key_bytes() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random generator");
    bytes
}

/// HMAC-SHA256 of `message` under `key`, as lower-case hex: a digest only the key's holder can
/// make or check, so a copied table of them reveals nothing without the key.
pub fn mac(key: &[u8], message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(message);
    m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths (for comparing a
/// signature a caller sent with the one we make).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SHA-256 of `parts` concatenated, as lower-case hex.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a key file, creating it with fresh random bytes (mode 0600) if it does not exist.
pub fn load_or_create_key(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    match std::fs::read(path) {
        Ok(k) if k.len() >= 32 => Ok(k),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is too short to be a key", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = key_bytes();
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(path)?;
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            mac(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_are_256_random_bits_in_hex() {
        let tokens: std::collections::HashSet<String> = (0..1000).map(|_| token()).collect();
        assert_eq!(tokens.len(), 1000, "1000 tokens are distinct");
        for t in &tokens {
            assert_eq!(t.len(), 64, "{t}");
            assert!(t.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{t}");
        }
        // Two v4 UUIDs carry fixed version and variant bits at these places (244 random bits); 1000
        // tokens that all hold them there are not 256 random bits.
        let fixed = |t: &String| t.as_bytes()[12] == b'4' && t.as_bytes()[44] == b'4';
        assert!(!tokens.iter().all(fixed), "no fixed UUID version digits");
        assert_eq!(key_bytes().len(), 32);
    }

    #[test]
    fn digests_are_stable() {
        assert_eq!(digest(&[b"a", b"b"]), digest(&[b"ab"]));
        assert_eq!(digest(&[b""]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn a_key_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let a = load_or_create_key(&p).unwrap();
        assert_eq!(load_or_create_key(&p).unwrap(), a);
    }
}
