//! The server's secret key: from `PARTNERSYNC_SECRET_KEY` (64 hex digits), or
//! generated on first run into `<data dir>/secret.key`, readable only by the
//! owner. It keys session hashes now and encrypts stored credentials later.

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
}
