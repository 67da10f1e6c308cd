//! The server's secret key: from `PARTNERSYNC_SECRET_KEY` (64 hex digits), or
//! generated on first run into `<data dir>/secret.key`, readable only by the
//! owner. It keys session hashes and, through a key derived from it,
//! encrypts the stored credentials of integrated systems (`Vault`).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use rand::RngCore;

use crate::config::Config;

pub fn load_or_create(config: &Config) -> anyhow::Result<[u8; 32]> {
    if let Some(hexkey) = &config.secret_key {
        return parse(hexkey).context("PARTNERSYNC_SECRET_KEY must be 64 hex digits");
    }
    let path = config.data_dir.join("secret.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return parse(text.trim()).with_context(|| format!("{} is damaged", path.display()));
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    write_private(&path, hex::encode(key).as_bytes())?;
    tracing::info!("generated a new secret key in {}", path.display());
    Ok(key)
}

/// Encrypts and decrypts stored credentials with XChaCha20-Poly1305 under a
/// key derived from the server's secret key (so the session key and the
/// credential key are never the same bytes). A sealed value is base64 of a
/// random 24-byte nonce followed by the ciphertext.
#[derive(Clone)]
pub struct Vault {
    key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

impl Vault {
    pub fn new(secret: &[u8; 32]) -> Vault {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"partnersync credentials v1");
        h.update(secret);
        Vault {
            key: h.finalize().into(),
        }
    }

    pub fn seal(&self, plain: &str) -> anyhow::Result<String> {
        use base64::Engine;
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = b"partnersync connection secret";
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("cannot encrypt the credentials"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        use base64::Engine;
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .context("stored credentials are damaged")?;
        if bytes.len() < 24 + 16 {
            bail!("stored credentials are damaged");
        }
        let (nonce, body) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let aad = b"partnersync connection secret";
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
            .map_err(|_| {
                anyhow::anyhow!(
                    "the stored credentials cannot be decrypted with this server's key \
                     (was PARTNERSYNC_SECRET_KEY or secret.key changed?); enter them again"
                )
            })?;
        String::from_utf8(plain).context("stored credentials are damaged")
    }
}

fn parse(hexkey: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(hexkey.trim())?;
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(k) => Ok(k),
        Err(_) => bail!("expected 32 bytes, got {}", bytes.len()),
    }
}

fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(content)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_private_and_stable() {
        let dir = std::env::temp_dir().join(format!("ps-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = Config::defaults(dir.clone());
        let a = load_or_create(&config).expect("created");
        let b = load_or_create(&config).expect("read back");
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret.key"))
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(parse("abc").is_err());
    }

    #[test]
    fn sealed_credentials_open_only_with_the_key_and_connection() {
        let v = Vault::new(&[7u8; 32]);
        let a = v.seal("postgres://erp:s3cret@db/erp").expect("sealed");
        let b = v.seal("postgres://erp:s3cret@db/erp").expect("sealed");
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(!a.contains("s3cret"));
        assert_eq!(v.open(&a).expect("opens"), "postgres://erp:s3cret@db/erp");
        assert!(Vault::new(&[8u8; 32]).open(&a).is_err(), "bound to the key");
        assert!(v.open("not base64!").is_err());
        assert!(v.open("AAAA").is_err());
    }
}
