//! Encryption at rest for secrets we must be able to read back (OAuth tokens): AES-256-GCM
//! with a key from `TANDEM_SECRET_KEY`, or generated once into the data folder.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
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

    /// nonce ‖ ciphertext, base64.
    pub fn encrypt(&self, plaintext: &str) -> anyhow::Result<String> {
        let cipher = Aes256Gcm::new(&self.0);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(&nonce, plaintext.as_bytes())
                .map_err(|_| anyhow!("encryption failed"))?,
        );
        Ok(B64.encode(out))
    }

    pub fn decrypt(&self, sealed: &str) -> anyhow::Result<String> {
        let bytes = B64.decode(sealed).context("sealed secret is not base64")?;
        if bytes.len() < 12 {
            bail!("sealed secret is too short");
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = Aes256Gcm::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| {
                anyhow!("cannot decrypt a stored secret: was TANDEM_SECRET_KEY changed?")
            })?;
        String::from_utf8(plain).context("decrypted secret is not UTF-8")
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

    #[test]
    fn round_trip_and_ciphertext_differs_from_plaintext() {
        let key = SecretKey::from_base64(&B64.encode([7u8; 32])).unwrap();
        let sealed = key.encrypt("access-token-123").unwrap();
        assert!(!sealed.contains("access-token-123"));
        assert_eq!(key.decrypt(&sealed).unwrap(), "access-token-123");
        // A fresh nonce each time.
        assert_ne!(sealed, key.encrypt("access-token-123").unwrap());
    }

    #[test]
    fn wrong_key_is_a_clear_error() {
        let a = SecretKey::from_base64(&B64.encode([1u8; 32])).unwrap();
        let b = SecretKey::from_base64(&B64.encode([2u8; 32])).unwrap();
        let err = b.decrypt(&a.encrypt("x").unwrap()).unwrap_err();
        assert!(err.to_string().contains("TANDEM_SECRET_KEY"));
    }

    #[test]
    fn key_must_be_32_bytes() {
        assert!(SecretKey::from_base64(&B64.encode([1u8; 16])).is_err());
        assert!(SecretKey::from_base64("not base64!").is_err());
    }
}
