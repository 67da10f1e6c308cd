//! The browser's client of the REST API: JSON in and out, errors as the
//! API's own [`ApiError`]. On the server (SSR) these calls are never made:
//! data loads in the browser after hydration.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sync::protocol::ApiError;

pub const BASE: &str = "/api/v1";

fn network_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError {
        code: "network".into(),
        message: format!("The server could not be reached ({detail}). Nothing was changed."),
        fields: vec![],
    }
}

#[cfg(feature = "hydrate")]
async fn finish<T: DeserializeOwned>(
    response: Result<gloo_net::http::Response, gloo_net::Error>,
) -> Result<Option<T>, ApiError> {
    let response = response.map_err(network_error)?;
    let status = response.status();
    if status == 204 {
        return Ok(None);
    }
    let text = response.text().await.map_err(network_error)?;
    if (200..300).contains(&status) {
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| network_error(format!("unexpected answer: {e}")))
    } else {
        Err(
            serde_json::from_str::<ApiError>(&text).unwrap_or_else(|_| ApiError {
                code: format!("http_{status}"),
                message: format!("The server answered {status}."),
                fields: vec![],
            }),
        )
    }
}

/// `GET BASE + path`.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    #[cfg(feature = "hydrate")]
    {
        let r = gloo_net::http::Request::get(&format!("{BASE}{path}"))
            .send()
            .await;
        finish::<T>(r)
            .await?
            .ok_or_else(|| network_error("empty answer"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = path;
        Err(network_error("not in a browser"))
    }
}

/// A state-changing call with a JSON body; `Ok(None)` for 204 No Content.
pub async fn send<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<Option<T>, ApiError> {
    #[cfg(feature = "hydrate")]
    {
        use gloo_net::http::{Method, RequestBuilder};
        let method = match method {
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            other => return Err(network_error(format!("unsupported method {other}"))),
        };
        let builder = RequestBuilder::new(&format!("{BASE}{path}")).method(method);
        let r = match body {
            Some(b) => {
                builder
                    .json(b)
                    .map_err(|e| network_error(e.to_string()))?
                    .send()
                    .await
            }
            None => builder.send().await,
        };
        finish::<T>(r).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (method, path, body);
        Err(network_error("not in a browser"))
    }
}
