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

/// `GET BASE + path` as bytes, with the value of `header` in the answer.
/// The bytes stay in JavaScript ([`crate::browser::JsBytes`]): the preview
/// fingerprint is 25 MB for a million linked records, and copying it into
/// WebAssembly memory, out again and into the worker's message would take
/// three copies on the page's main thread (and leave the page's WebAssembly
/// memory 25 MB larger for good). It is transferred to the worker instead.
/// With `if_none_match` (an ETag the caller holds), `None` when the server
/// answers 304: what the caller holds is current.
pub async fn get_bytes(
    path: &str,
    header: &str,
    if_none_match: Option<&str>,
) -> Result<Option<(crate::browser::JsBytes, Option<String>)>, ApiError> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let mut req = gloo_net::http::Request::get(&format!("{BASE}{path}"));
        if let Some(etag) = if_none_match {
            req = req.header("If-None-Match", etag);
        }
        let r = req.send().await.map_err(network_error)?;
        let status = r.status();
        if status == 304 && if_none_match.is_some() {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            let text = r.text().await.unwrap_or_default();
            return Err(serde_json::from_str(&text).unwrap_or_else(|_| ApiError {
                code: format!("http_{status}"),
                message: format!("The server answered {status}."),
                fields: vec![],
            }));
        }
        let h = r.headers().get(header);
        let js_error = |e: wasm_bindgen::JsValue| network_error(format!("{e:?}"));
        let raw: web_sys::Response = r.into();
        let promise = raw.array_buffer().map_err(js_error)?;
        let buffer = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(js_error)?
            .dyn_into::<js_sys::ArrayBuffer>()
            .map_err(js_error)?;
        Ok(Some((buffer, h)))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, header, if_none_match);
        Err(network_error("not in a browser"))
    }
}

/// `POST BASE + path` with a file as the body (sent as it is, streamed by
/// the browser).
pub async fn upload<T: DeserializeOwned>(
    path: &str,
    file: &crate::browser::PickedFile,
) -> Result<T, ApiError> {
    #[cfg(feature = "hydrate")]
    {
        let r = gloo_net::http::RequestBuilder::new(&format!("{BASE}{path}"))
            .method(gloo_net::http::Method::POST)
            .header("content-type", "application/octet-stream")
            .body(wasm_bindgen::JsValue::from(file.clone()))
            .map_err(network_error)?
            .send()
            .await;
        finish::<T>(r)
            .await?
            .ok_or_else(|| network_error("empty answer"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, file);
        Err(network_error("not in a browser"))
    }
}

/// A POST whose answer the caller reads by status (e.g. 409 with rows).
/// `key` goes out as the `Idempotency-Key`.
pub async fn post_raw<B: Serialize>(
    path: &str,
    body: &B,
    key: Option<&str>,
) -> Result<(u16, String), ApiError> {
    #[cfg(feature = "hydrate")]
    {
        let mut b = gloo_net::http::RequestBuilder::new(&format!("{BASE}{path}"))
            .method(gloo_net::http::Method::POST);
        if let Some(k) = key {
            b = b.header("idempotency-key", k);
        }
        let r = b
            .json(body)
            .map_err(|e| network_error(e.to_string()))?
            .send()
            .await
            .map_err(network_error)?;
        let status = r.status();
        let text = r.text().await.map_err(network_error)?;
        Ok((status, text))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, body, key);
        Err(network_error("not in a browser"))
    }
}
