//! Secret tokens (session tokens, refresh tokens, API keys, one-time codes) and their digests.
//! A token is shown once; only its SHA-256 is stored, so a copied database reveals none.

use sha2::{Digest, Sha256};

/// A fresh random token: 256 bits from the OS generator, as 64 hex characters.
pub fn token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// 32 random bytes, for keys.
pub fn key_bytes() -> Vec<u8> {
    uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).copied().collect()
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
    fn tokens_are_unique_and_digests_stable() {
        assert_ne!(token(), token());
        assert_eq!(token().len(), 64);
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
