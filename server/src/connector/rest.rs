//! The REST connector: a JSON API by base URL and bearer token.
//!
//! - List: `GET {base}{path}?page=N&per_page=M` (pages from 1), answering a
//!   JSON array or an object with the array under `items` or `data`; a page
//!   shorter than `per_page` is the last.
//! - Create: `POST {base}{path}` with the record as a JSON object.
//! - Update: `PATCH {base}{path}/{number}` with the changed fields.
//!
//! Every write carries an `Idempotency-Key` header; transient failures
//! (connection errors, timeouts, 429, 5xx) are retried with exponential
//! backoff before the outbox takes over.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Map, Value};
use sync::protocol::Connection;
use sync::schema::{Field, Kind};
use sync::state::PendingChange;

use super::{ConnectorError, ConnectorResult, Table, change_values};

/// Tries of one request before the error goes to the caller.
const TRIES: u32 = 3;
/// The most pages one listing reads (a guard against an API that never
/// ends a listing).
const MAX_PAGES: u32 = 100_000;

pub struct RestConnector {
    client: Client,
    base: String,
    token: Option<String>,
    paths: [String; 2],
    page_size: u32,
    /// Backoff before the second try; doubled for each further one.
    backoff: Duration,
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

impl RestConnector {
    pub fn new(c: &Connection, token: Option<&str>) -> ConnectorResult<RestConnector> {
        let base = c.endpoint.base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConnectorError::Config(
                "The API's address starts with https:// (or http://).".into(),
            ));
        }
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent("Partnersync")
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {e}")))?;
        Ok(RestConnector {
            client,
            base,
            token: token.filter(|t| !t.is_empty()).map(str::to_string),
            paths: [
                c.endpoint.customers.table.trim().to_string(),
                c.endpoint.employees.table.trim().to_string(),
            ],
            page_size: c.endpoint.page_size.clamp(1, 10_000),
            backoff: Duration::from_millis(200),
        })
    }

    fn path(&self, kind: Kind) -> ConnectorResult<&str> {
        super::source(&self.paths, kind, "API path")
    }

    /// One request with retries; the answer's JSON (or `Null` for an empty
    /// body).
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> ConnectorResult<Value> {
        let mut wait = self.backoff;
        let mut last = ConnectorError::Transient("not tried".into());
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            let mut rb = self.client.request(method.clone(), url);
            if let Some(t) = &self.token {
                rb = rb.bearer_auth(t);
            }
            if let Some(k) = key {
                rb = rb.header("Idempotency-Key", k);
            }
            if let Some(b) = body {
                rb = rb.json(b);
            }
            let r = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    let host = reqwest::Url::parse(url)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_string))
                        .unwrap_or_default();
                    last = ConnectorError::Transient(if e.is_timeout() {
                        format!("{host} did not answer in time.")
                    } else {
                        format!("{host} cannot be reached ({e}).")
                    });
                    continue;
                }
            };
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let short: String = text.chars().take(300).collect();
            match status {
                s if s.is_success() => {
                    return if text.trim().is_empty() {
                        Ok(Value::Null)
                    } else {
                        serde_json::from_str(&text).map_err(|e| {
                            ConnectorError::Config(format!(
                                "The API's answer is not JSON ({e}): {short}"
                            ))
                        })
                    };
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(ConnectorError::Config(format!(
                        "The API refused the token (HTTP {}).",
                        status.as_u16()
                    )));
                }
                StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
                    last = ConnectorError::Transient(format!(
                        "The API asked to slow down (HTTP {}).",
                        status.as_u16()
                    ));
                }
                s if s.is_server_error() => {
                    last = ConnectorError::Transient(format!(
                        "The API failed (HTTP {}): {short}",
                        s.as_u16()
                    ));
                }
                StatusCode::NOT_FOUND if method == Method::GET => {
                    return Err(ConnectorError::Config(format!(
                        "The API has nothing at {url} (HTTP 404): check the base URL and path."
                    )));
                }
                s => {
                    return Err(ConnectorError::Rejected(format!(
                        "The API refused (HTTP {}): {short}",
                        s.as_u16()
                    )));
                }
            }
        }
        Err(last)
    }

    pub async fn pull(&self, kind: Kind) -> ConnectorResult<Table> {
        let url = format!("{}{}", self.base, self.path(kind)?);
        let mut columns: Vec<String> = Vec::new();
        let mut objects: Vec<Map<String, Value>> = Vec::new();
        for page in 1..=MAX_PAGES {
            let sep = if url.contains('?') { '&' } else { '?' };
            let page_url = format!("{url}{sep}page={page}&per_page={}", self.page_size);
            let v = self.send(Method::GET, &page_url, None, None).await?;
            let items = match v {
                Value::Array(a) => a,
                Value::Object(mut o) => match o.remove("items").or_else(|| o.remove("data")) {
                    Some(Value::Array(a)) => a,
                    _ => {
                        return Err(ConnectorError::Config(
                            "The API's list is neither a JSON array nor an object with items or data.".into(),
                        ));
                    }
                },
                _ => {
                    return Err(ConnectorError::Config(
                        "The API's list is not a JSON array.".into(),
                    ));
                }
            };
            let n = items.len();
            for item in items {
                let Value::Object(o) = item else {
                    return Err(ConnectorError::Config(
                        "The API lists something other than JSON objects.".into(),
                    ));
                };
                for k in o.keys() {
                    if !columns.contains(k) {
                        columns.push(k.clone());
                    }
                }
                objects.push(o);
            }
            if n < self.page_size as usize {
                break;
            }
        }
        let rows = objects
            .iter()
            .map(|o| {
                columns
                    .iter()
                    .map(|c| o.get(c).map(cell).unwrap_or_default())
                    .collect()
            })
            .collect();
        Ok(Table { columns, rows })
    }

    pub async fn write(
        &self,
        kind: Kind,
        columns: &BTreeMap<Field, String>,
        change: &PendingChange,
        key: &str,
    ) -> ConnectorResult<()> {
        let path = self.path(kind)?;
        let (_, values) = change_values(columns, change)?;
        let body: Map<String, Value> = values
            .into_iter()
            .map(|(c, v)| (c, Value::String(v)))
            .collect();
        let body = Value::Object(body);
        match change {
            PendingChange::Create { .. } => {
                let url = format!("{}{path}", self.base);
                self.send(Method::POST, &url, Some(&body), Some(key))
                    .await?;
            }
            PendingChange::Set { number, .. } => {
                let url = format!("{}{path}/{}", self.base, utf8_percent(number));
                self.send(Method::PATCH, &url, Some(&body), Some(key))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Percent-encodes a path segment.
fn utf8_percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
