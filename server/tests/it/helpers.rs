//! `spawn_app()`: a real server on a loopback port with its own database.

use std::net::SocketAddr;
use std::str::FromStr;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use server::config::Config;
use server::state::AppState;
use sqlx::Connection;

pub const ADMIN: (&str, &str) = ("anna.admin", "correct horse battery");
pub const SUPERVISOR: (&str, &str) = ("sven.supervisor", "staple battery horse");

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    /// Anonymous client with its own cookie jar.
    pub anon: Client,
    pub backend: &'static str,
    pub database_url: String,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub login_max_per_account: u32,
    pub login_max_per_client: u32,
    pub max_body_bytes: usize,
    pub session_idle_secs: u64,
    pub session_max_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            login_max_per_account: 50,
            login_max_per_client: 500,
            max_body_bytes: 64 * 1024,
            session_idle_secs: 1800,
            session_max_secs: 12 * 3600,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

/// A fresh PostgreSQL database on the test server, or `None` for SQLite.
pub async fn fresh_postgres_database() -> Option<String> {
    let server = std::env::var("PARTNERSYNC_TEST_DATABASE_URL").ok()?;
    let name = format!(
        "ps_test_{}",
        server::auth::new_token()
            .to_lowercase()
            .replace(['-', '_'], "")
    );
    let name = &name[..40.min(name.len())];
    let mut conn = sqlx::PgConnection::connect(&server)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
    Some(format!("{base}/{name}"))
}

/// A new, empty database of the backend under test.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.join("partnersync.db").display()),
    }
}

pub async fn spawn_with(o: Options) -> TestApp {
    spawn_full(o, None).await
}

/// A second server instance on an existing database (as behind a load
/// balancer).
pub async fn spawn_on(database_url: &str) -> TestApp {
    spawn_full(Options::default(), Some(database_url.to_string())).await
}

async fn spawn_full(o: Options, database_url: Option<String>) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::defaults(dir.path().to_path_buf());
    config.database_url = match database_url {
        Some(u) => u,
        None => fresh_database_url(dir.path()).await,
    };
    config.secret_key = Some("7".repeat(64));
    let backend = if config.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    config.addr = SocketAddr::from_str("127.0.0.1:0").expect("addr");
    config.argon2_memory_kib = 1024;
    config.login_max_per_account = o.login_max_per_account;
    config.login_max_per_client = o.login_max_per_client;
    config.max_body_bytes = o.max_body_bytes;
    config.session_idle = std::time::Duration::from_secs(o.session_idle_secs);
    config.session_max = std::time::Duration::from_secs(o.session_max_secs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (router, state) = server::build(config).await.expect("build the app");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    TestApp {
        base: format!("http://{addr}"),
        database_url: state.config.database_url.clone(),
        state,
        anon: client(),
        backend,
        _dir: dir,
    }
}

pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("http client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn setup_token(&self) -> String {
        self.state
            .setup_token
            .lock()
            .expect("lock")
            .clone()
            .expect("set-up token present")
    }

    /// Creates the first administrator through the set-up API; returns a
    /// client signed in as them.
    pub async fn setup_admin(&self) -> Client {
        let c = client();
        let r = c
            .post(self.url("/api/v1/setup"))
            .json(&json!({"token": self.setup_token(), "username": ADMIN.0, "password": ADMIN.1}))
            .send()
            .await
            .expect("setup");
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{}",
            r.text().await.unwrap_or_default()
        );
        c
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> (Client, Response) {
        let c = client();
        let r = c
            .post(self.url("/api/v1/session"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("sign in");
        (c, r)
    }

    /// An administrator's and a supervisor's signed-in clients.
    pub async fn admin_and_supervisor(&self) -> (Client, Client) {
        let admin = self.setup_admin().await;
        let r = admin
            .post(self.url("/api/v1/users"))
            .json(
                &json!({"username": SUPERVISOR.0, "role": "supervisor", "password": SUPERVISOR.1}),
            )
            .send()
            .await
            .expect("add supervisor");
        assert_eq!(r.status(), StatusCode::CREATED);
        let (sup, r) = self.sign_in(SUPERVISOR.0, SUPERVISOR.1).await;
        assert_eq!(r.status(), StatusCode::OK);
        (admin, sup)
    }

    pub async fn call(
        &self,
        c: &Client,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = c.request(method, self.url(path));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

pub fn customer(number: &str, name: &str) -> Value {
    json!({"number": number, "name": name, "email": "", "city": "Bergen"})
}
