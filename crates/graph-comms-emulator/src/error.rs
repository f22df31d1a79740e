//! The emulator's error type, and the Graph-shaped error bodies its HTTP API answers with.

use std::borrow::Cow;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Everything that can go wrong in the emulator's library API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot bind the emulator to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The RSA signing key could not be generated, parsed or encoded.
    #[error("signing key: {0}")]
    Key(String),
    /// A JWT could not be signed.
    #[error("cannot sign a JWT: {0}")]
    Sign(String),
    /// No call with this id exists (or it has ended).
    #[error("call `{0}` does not exist in the emulator (unknown id, or the call has ended)")]
    UnknownCall(String),
    /// A callback URI that the emulator refuses: not a URL, or plain `http` to a non-loopback host.
    #[error("callbackUri `{uri}` is not allowed: {reason}")]
    InvalidCallback {
        /// The URI given.
        uri: String,
        /// Which rule it broke.
        reason: String,
    },
    /// A request to the emulator's control API that breaks one of its rules.
    #[error("{0}")]
    InvalidRequest(String),
    /// The configuration breaks a rule (`tenant_id` must be a GUID, ...).
    #[error("emulator configuration: {field}: {rule}")]
    Config {
        /// The field of [`EmulatorConfig`](crate::EmulatorConfig).
        field: &'static str,
        /// The rule broken.
        rule: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Graph-shaped HTTP error: `{"error":{"code","message","innerError":{"request-id","date"}}}`.
///
/// Answered with the `request-id` and `client-request-id` headers Graph sets, and `Retry-After` on
/// `429`. Handlers return it as their `Err`; the [`stamp`] layer then renders it again with the
/// request's ids, so the body's `innerError.request-id` is the header's.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub(crate) status: StatusCode,
    pub(crate) code: Cow<'static, str>,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
    pub(crate) request_id: String,
    pub(crate) client_request_id: Option<String>,
}

impl GraphError {
    pub(crate) fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        GraphError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            request_id: uuid::Uuid::new_v4().to_string(),
            client_request_id: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "itemNotFound", message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    pub(crate) fn throttled(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!(
                "Too many requests; retry after {retry_after} seconds (emulator throttling script)"
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub(crate) fn with_ids(mut self, ids: &RequestIds) -> Self {
        self.request_id = ids.request_id.clone();
        self.client_request_id = ids.client_request_id.clone();
        self
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> serde_json::Value {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let mut inner = json!({ "request-id": self.request_id, "date": date });
        if let Some(c) = &self.client_request_id {
            inner["client-request-id"] = json!(c);
        }
        json!({ "error": { "code": self.code, "message": self.message, "innerError": inner } })
    }
}

impl IntoResponse for GraphError {
    /// The rendered error, carrying itself as a response extension for the [`stamp`] layer.
    fn into_response(self) -> Response {
        let mut resp = self.render();
        resp.extensions_mut().insert(self);
        resp
    }
}

impl GraphError {
    fn render(&self) -> Response {
        let body = self.body().to_string();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        insert_ids(h, &self.request_id, self.client_request_id.as_deref());
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// Sets `request-id` and, when the caller sent one, `client-request-id` (a value that is not a
/// valid header is left out).
fn insert_ids(h: &mut HeaderMap, request_id: &str, client_request_id: Option<&str>) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    if let Some(c) = client_request_id.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert("client-request-id", c);
    }
}

/// The ids of one API request: a fresh `request-id`, and the caller's `client-request-id` echoed.
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    pub(crate) request_id: String,
    pub(crate) client_request_id: Option<String>,
}

impl RequestIds {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        RequestIds {
            request_id: uuid::Uuid::new_v4().to_string(),
            client_request_id: headers
                .get("client-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// Adds `request-id` / `client-request-id` to a successful response.
    pub(crate) fn stamp(&self, mut resp: Response) -> Response {
        insert_ids(
            resp.headers_mut(),
            &self.request_id,
            self.client_request_id.as_deref(),
        );
        resp
    }
}

/// The response layer of the Graph API and the control API (`axum::middleware::map_response`):
/// every answer gets a fresh `request-id` and the caller's `client-request-id` back; an error is
/// rendered again with those ids in its `innerError`.
pub(crate) async fn stamp(headers: HeaderMap, mut resp: Response) -> Response {
    let ids = RequestIds::from_headers(&headers);
    match resp.extensions_mut().remove::<GraphError>() {
        Some(e) => {
            tracing::debug!(status = %e.status, code = %e.code, message = ?e.message, "Graph error answered");
            e.with_ids(&ids).render()
        }
        None => ids.stamp(resp),
    }
}
