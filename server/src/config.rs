//! Configuration: defaults, then environment variables (documented in the
//! README). Secrets are redacted in `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

/// Everything the server needs to start. Built by [`Config::from_env`] or by
/// tests, which set their own database and port 0.
#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Where cargo-leptos put the site (the WASM bundle, CSS, assets).
    pub site_root: PathBuf,
    pub session_idle: Duration,
    pub session_max: Duration,
    /// Failed sign-ins allowed per account in `login_window`.
    pub login_max_per_account: u32,
    /// Sign-in attempts allowed per client address in `login_window`.
    pub login_max_per_client: u32,
    pub login_window: Duration,
    /// Mark the session cookie `Secure` (always true behind HTTPS).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a reverse proxy.
    pub trust_proxy: bool,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest uploaded file, in bytes.
    pub max_upload_bytes: usize,
    /// Argon2 memory cost in KiB (tests lower it to run quickly).
    pub argon2_memory_kib: u32,
    /// From `PARTNERSYNC_SECRET_KEY`; otherwise read or generated in the data folder.
    pub secret_key: Option<String>,
    /// From `PARTNERSYNC_SETUP_TOKEN`: a fixed first-run set-up token for
    /// unattended installs; otherwise a random one is printed in the log.
    pub setup_token: Option<String>,
    /// How often the scheduler looks for due runs and outbox entries, from
    /// `PARTNERSYNC_SCHEDULER_SECONDS` (0: no scheduler in this instance).
    pub scheduler_every: Duration,
    /// How long a connection's lease lasts unless renewed (renewed every
    /// third of it): after a crash, another instance (or the restarted one)
    /// takes the connection over within this time.
    /// `PARTNERSYNC_LEASE_SECONDS`, 30 by default.
    pub lease_ttl: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("site_root", &self.site_root)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .field("login_max_per_account", &self.login_max_per_account)
            .field("login_max_per_client", &self.login_max_per_client)
            .field("login_window", &self.login_window)
            .field("secure_cookies", &self.secure_cookies)
            .field("trust_proxy", &self.trust_proxy)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("scheduler_every", &self.scheduler_every)
            .field("lease_ttl", &self.lease_ttl)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "setup_token",
                &self.setup_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Hides the password of a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// The defaults, with the data folder and database derived from `data_dir`.
    pub fn defaults(data_dir: PathBuf) -> Config {
        let database_url = format!("sqlite://{}", data_dir.join("partnersync.db").display());
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir,
            database_url,
            site_root: PathBuf::from("target/site"),
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(12 * 3600),
            login_max_per_account: 5,
            login_max_per_client: 30,
            login_window: Duration::from_secs(15 * 60),
            secure_cookies: false,
            trust_proxy: false,
            max_body_bytes: 256 * 1024,
            max_upload_bytes: 200 * 1024 * 1024,
            argon2_memory_kib: 19 * 1024,
            secret_key: None,
            setup_token: None,
            scheduler_every: Duration::from_secs(30),
            lease_ttl: Duration::from_secs(30),
        }
    }

    /// Reads the environment over the defaults.
    pub fn from_env() -> anyhow::Result<Config> {
        let data_dir =
            PathBuf::from(var("PARTNERSYNC_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let mut c = Config::defaults(data_dir);
        if let Some(url) = var("DATABASE_URL") {
            c.database_url = url;
        }
        if let Some(a) = var("PARTNERSYNC_ADDR") {
            c.addr = a
                .parse()
                .with_context(|| format!("PARTNERSYNC_ADDR={a} is not HOST:PORT"))?;
        }
        if let Some(r) = var("LEPTOS_SITE_ROOT") {
            c.site_root = PathBuf::from(r);
        }
        if let Some(s) = parse_var::<u64>("PARTNERSYNC_LEASE_SECONDS")? {
            c.lease_ttl = Duration::from_secs(s.max(1));
        }
        if let Some(s) = parse_var::<u64>("PARTNERSYNC_SCHEDULER_SECONDS")? {
            c.scheduler_every = Duration::from_secs(s);
        }
        if let Some(m) = parse_var::<u64>("PARTNERSYNC_SESSION_IDLE_MINUTES")? {
            c.session_idle = Duration::from_secs(m * 60);
        }
        if let Some(h) = parse_var::<u64>("PARTNERSYNC_SESSION_MAX_HOURS")? {
            c.session_max = Duration::from_secs(h * 3600);
        }
        if let Some(n) = parse_var("PARTNERSYNC_LOGIN_MAX_PER_ACCOUNT")? {
            c.login_max_per_account = n;
        }
        if let Some(n) = parse_var("PARTNERSYNC_LOGIN_MAX_PER_CLIENT")? {
            c.login_max_per_client = n;
        }
        if let Some(m) = parse_var::<u64>("PARTNERSYNC_LOGIN_WINDOW_MINUTES")? {
            c.login_window = Duration::from_secs(m * 60);
        }
        if let Some(b) = parse_var("PARTNERSYNC_SECURE_COOKIES")? {
            c.secure_cookies = b;
        }
        if let Some(b) = parse_var("PARTNERSYNC_TRUST_PROXY")? {
            c.trust_proxy = b;
        }
        if let Some(n) = parse_var("PARTNERSYNC_MAX_BODY_BYTES")? {
            c.max_body_bytes = n;
        }
        if let Some(n) = parse_var("PARTNERSYNC_MAX_UPLOAD_BYTES")? {
            c.max_upload_bytes = n;
        }
        c.secret_key = var("PARTNERSYNC_SECRET_KEY");
        c.setup_token = var("PARTNERSYNC_SETUP_TOKEN");
        if c.session_idle.is_zero() || c.session_max.is_zero() {
            bail!("session lifetimes must be longer than zero");
        }
        Ok(c)
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>> {
    match var(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{name}={v} is not a valid value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://ps:secret@127.0.0.1:5432/db"),
            "postgres://ps:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
        let mut c = Config::defaults("d".into());
        c.secret_key = Some("topsecret".into());
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
