//! Encryption at rest for secrets we must be able to read back (OAuth tokens): AES-256-GCM
//! with a key from `TANDEM_SECRET_KEY`, or generated once into the data folder.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::path::Path;

/// The 32-byte master key. Never derives `Debug` or `Serialize`.
#[derive(Clone)]
pub struct SecretKey(Key<Aes256Gcm>);

const KEY_FILE: &str = "secret.key";

impl SecretKey {
    /// `TANDEM_SECRET_KEY` (base64 of 32 bytes) when set; otherwise the key file in the
    /// data folder, created on first use.
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        if let Ok(v) = std::env::var("TANDEM_SECRET_KEY") {
            if !v.trim().is_empty() {
                return Self::from_base64(v.trim()).context("TANDEM_SECRET_KEY");
            }
        }
        let path = data_dir.join(KEY_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            return Self::from_base64(text.trim()).with_context(|| path.display().to_string());
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let key = Aes256Gcm::generate_key(OsRng);
        write_private(&path, &B64.encode(key))?;
        Ok(SecretKey(key))
    }

    pub fn from_base64(text: &str) -> anyhow::Result<Self> {
        let bytes = B64
            .decode(text)
            .map_err(|e| anyhow!("the secret key is not base64: {e}"))?;
        if bytes.len() != 32 {
            bail!(
                "the secret key must be 32 bytes (base64 of 32 random bytes), got {}",
                bytes.len()
            );
        }
        Ok(SecretKey(*Key::<Aes256Gcm>::from_slice(&bytes)))
    }

    /// `v2:` and base64 of nonce ‖ ciphertext, bound to where it is stored.
    pub fn encrypt(&self, plaintext: &str, at: &Slot) -> anyhow::Result<String> {
        let cipher = Aes256Gcm::new(&self.0);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: plaintext.as_bytes(),
                        aad: at.0.as_bytes(),
                    },
                )
                .map_err(|_| anyhow!("encryption failed"))?,
        );
        Ok(format!("{BOUND}{}", B64.encode(out)))
    }

    /// Opens a value sealed for `at`; one sealed for another slot does not open.
    ///
    /// Values sealed before slots existed (bare base64, no associated data) still open
    /// anywhere, so that an upgrade keeps every stored token working; every write seals
    /// in the bound format, so they are replaced at their next write (a token refresh, a
    /// reconnect, a new webhook subscription; install states live ten minutes). A bound
    /// value cannot pass for an old one: without its prefix, its tag does not verify.
    pub fn decrypt(&self, sealed: &str, at: &Slot) -> anyhow::Result<String> {
        let (encoded, aad) = match sealed.strip_prefix(BOUND) {
            Some(rest) => (rest, at.0.as_bytes()),
            None => (sealed, &b""[..]),
        };
        let bytes = B64.decode(encoded).context("sealed secret is not base64")?;
        if bytes.len() < 12 {
            bail!("sealed secret is too short");
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = Aes256Gcm::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| {
                anyhow!("cannot decrypt a stored secret: was TANDEM_SECRET_KEY changed, or the value copied from another row?")
            })?;
        String::from_utf8(plain).context("decrypted secret is not UTF-8")
    }
}

/// Marks values sealed with their [`Slot`] as associated data.
const BOUND: &str = "v2:";

/// Where a sealed value is stored: its table, column and row. It is the value's
/// associated data, so a ciphertext copied into another row or column does not open.
pub struct Slot(String);

impl Slot {
    pub fn new(table: &str, column: &str, row: impl std::fmt::Display) -> Slot {
        Slot(format!("{table}\0{column}\0{row}"))
    }
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        Slot::new("connections", "access_token_enc", "row-1")
    }

    #[test]
    fn round_trip_and_ciphertext_differs_from_plaintext() {
        let key = SecretKey::from_base64(&B64.encode([7u8; 32])).unwrap();
        let sealed = key.encrypt("access-token-123", &slot()).unwrap();
        assert!(!sealed.contains("access-token-123"));
        assert_eq!(key.decrypt(&sealed, &slot()).unwrap(), "access-token-123");
        // A fresh nonce each time.
        assert_ne!(sealed, key.encrypt("access-token-123", &slot()).unwrap());
    }

    #[test]
    fn a_value_opens_only_in_its_slot() {
        let key = SecretKey::from_base64(&B64.encode([7u8; 32])).unwrap();
        let sealed = key.encrypt("t", &slot()).unwrap();
        for other in [
            Slot::new("connections", "access_token_enc", "row-2"),
            Slot::new("connections", "refresh_token_enc", "row-1"),
            Slot::new("oauth_states", "access_token_enc", "row-1"),
        ] {
            assert!(key.decrypt(&sealed, &other).is_err());
        }
        // Nor does it pass for an old, unbound value.
        let stripped = sealed.strip_prefix(BOUND).unwrap();
        assert!(key.decrypt(stripped, &slot()).is_err());
    }

    #[test]
    fn values_sealed_before_slots_still_open() {
        let key = SecretKey::from_base64(&B64.encode([7u8; 32])).unwrap();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut old = nonce.to_vec();
        old.extend(
            Aes256Gcm::new(&key.0)
                .encrypt(&nonce, b"legacy".as_slice())
                .unwrap(),
        );
        assert_eq!(key.decrypt(&B64.encode(old), &slot()).unwrap(), "legacy");
    }

    #[test]
    fn wrong_key_is_a_clear_error() {
        let a = SecretKey::from_base64(&B64.encode([1u8; 32])).unwrap();
        let b = SecretKey::from_base64(&B64.encode([2u8; 32])).unwrap();
        let err = b
            .decrypt(&a.encrypt("x", &slot()).unwrap(), &slot())
            .unwrap_err();
        assert!(err.to_string().contains("TANDEM_SECRET_KEY"));
    }

    #[test]
    fn key_must_be_32_bytes() {
        assert!(SecretKey::from_base64(&B64.encode([1u8; 16])).is_err());
        assert!(SecretKey::from_base64("not base64!").is_err());
    }
}
