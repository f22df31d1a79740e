//! The [`Transport`] trait: one HTTP exchange, with no policy of its own.
//!
//! Everything cross-cutting (authentication, `client-request-id`, retries, redirects, error
//! typing) lives in [`GraphCommsClient`](crate::GraphCommsClient), so a transport only has to move
//! bytes and say honestly whether a failed request could have reached the server.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use url::Url;

/// The default limit on a response body: 1 MiB. Graph's answers to the calls API, token
/// responses and OpenID documents are a few KiB; anything past this is dropped.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// A request as handed to a [`Transport`]: method, absolute URL, headers and the whole body.
///
/// `Debug` output never shows secrets: the `Authorization` header is marked sensitive (shown as
/// `Sensitive`), and the body, which for a token request holds the client secret or assertion,
/// is shown only by its length.
#[derive(Clone)]
pub struct HttpRequest {
    /// The HTTP method.
    pub method: Method,
    /// The absolute URL.
    pub url: Url,
    /// The request headers, in the order they are to be sent.
    pub headers: HeaderMap,
    /// The request body (empty for none).
    pub body: Bytes,
}

/// A raw response as returned by a [`Transport`]: status, headers and the whole body.
///
/// `Debug` shows the body only by its length (a token response holds an access token).
#[derive(Clone)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response body (empty for none).
    pub body: Bytes,
}

/// The body as `Debug` shows it: its length only.
struct BodyLen(usize);

impl fmt::Debug for BodyLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .field("body", &BodyLen(self.body.len()))
            .finish()
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &BodyLen(self.body.len()))
            .finish()
    }
}

impl HttpResponse {
    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How far a failed exchange got, which decides whether it may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (refused, DNS, TLS handshake, connect timeout): the request
    /// never left this process, so sending it again cannot act twice.
    Connect,
    /// The exchange timed out after the request may have been sent.
    Timeout,
    /// The connection broke (reset, closed, malformed response) after the request may have been
    /// sent.
    Interrupted,
    /// Anything else, such as a request the transport could not build. Nothing was sent.
    Other,
    /// The server answered, but the response body was longer than the limit and was dropped
    /// unread. The request was sent and answered: [`TransportError::response`] holds the status
    /// and headers (with an empty body).
    BodyTooLarge,
}

/// A failed exchange, as reported by a [`Transport`].
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    response: Option<Box<HttpResponse>>,
}

impl TransportError {
    /// A new error of `kind` with a human-readable `message`.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
            response: None,
        }
    }

    /// A [`TransportErrorKind::BodyTooLarge`] error: the server answered `status` with
    /// `headers`, and a body longer than `limit` bytes that was dropped.
    pub fn body_too_large(status: StatusCode, headers: HeaderMap, limit: usize) -> Self {
        Self {
            kind: TransportErrorKind::BodyTooLarge,
            message: format!(
                "HTTP {} with a response body longer than the limit of {limit} bytes; the body was dropped",
                status.as_u16()
            ),
            source: None,
            response: Some(Box::new(HttpResponse {
                status,
                headers,
                body: Bytes::new(),
            })),
        }
    }

    /// For [`TransportErrorKind::BodyTooLarge`]: the response as received, without its body.
    pub fn response(&self) -> Option<&HttpResponse> {
        self.response.as_deref()
    }

    /// The same error, keeping `source` as its cause.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// How far the exchange got.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// True when the request certainly did not reach the server, so a retry cannot act twice.
    pub fn is_not_sent(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Connect | TransportErrorKind::Other
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TransportErrorKind::Connect => "connect failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Interrupted => "connection interrupted",
            TransportErrorKind::Other => "request failed",
            TransportErrorKind::BodyTooLarge => "response too large",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// One HTTP exchange: send a request, return the raw response.
///
/// Implementations must not follow redirects (the client does, with its own rules), must not
/// retry, and must report a failure's [`TransportErrorKind`] honestly: only
/// [`TransportErrorKind::Connect`] and [`TransportErrorKind::Other`] are ever retried for a
/// transfer.
///
/// Response bodies are bounded: [`send_with_body_limit`](Transport::send_with_body_limit) reads
/// at most `limit` bytes and answers [`TransportErrorKind::BodyTooLarge`] (keeping the status and
/// headers) past it. Its default implementation checks the length after [`send`](Transport::send)
/// returned, which bounds nothing in memory; a transport that reads from the network (like
/// [`ReqwestTransport`](crate::ReqwestTransport)) overrides it to stop reading at the limit, and
/// bounds [`send`](Transport::send) by a limit of its own.
///
/// # Example: a closure transport for tests
///
/// ```
/// use async_trait::async_trait;
/// use graph_comms_transport::{HttpRequest, HttpResponse, Transport, TransportError};
///
/// #[derive(Debug)]
/// struct Always202;
///
/// #[async_trait]
/// impl Transport for Always202 {
///     async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
///         Ok(HttpResponse {
///             status: http::StatusCode::ACCEPTED,
///             headers: http::HeaderMap::new(),
///             body: bytes::Bytes::new(),
///         })
///     }
/// }
/// ```
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request` and returns the response, whatever its status.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Sends `request` and returns the response, whatever its status, reading at most `limit`
    /// bytes of its body: past that, the body is dropped and the answer is a
    /// [`TransportErrorKind::BodyTooLarge`] error carrying the status and headers.
    ///
    /// The default implementation calls [`send`](Transport::send) and checks the length
    /// afterwards.
    async fn send_with_body_limit(
        &self,
        request: HttpRequest,
        limit: usize,
    ) -> Result<HttpResponse, TransportError> {
        let response = self.send(request).await?;
        if response.body.len() > limit {
            return Err(TransportError::body_too_large(
                response.status,
                response.headers,
                limit,
            ));
        }
        Ok(response)
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }

    async fn send_with_body_limit(
        &self,
        request: HttpRequest,
        limit: usize,
    ) -> Result<HttpResponse, TransportError> {
        (**self).send_with_body_limit(request, limit).await
    }
}
