//! The default [`Transport`], built on reqwest with rustls.

use std::time::Duration;

use async_trait::async_trait;

use crate::transport::{
    HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind,
    DEFAULT_MAX_RESPONSE_BODY,
};

/// A [`Transport`] on a [`reqwest::Client`] (rustls, HTTP/1.1, connection pooling).
///
/// Response bodies are read as they stream in and never past a limit: a `Content-Length`
/// above it is refused before a byte of the body is read, and a body that grows past it while
/// streaming is dropped there (the connection is closed). [`send`](Transport::send) uses the
/// transport's own limit ([`DEFAULT_MAX_RESPONSE_BODY`], 1 MiB, unless set with
/// [`with_max_response_body`](Self::with_max_response_body));
/// [`send_with_body_limit`](Transport::send_with_body_limit) the one it is given.
///
/// Redirects are switched off in the client built by [`ReqwestTransport::new`]: the
/// [`GraphCommsClient`](crate::GraphCommsClient) follows them itself, with rules that hold for
/// every transport. A client passed to [`ReqwestTransport::from_client`] must be built with
/// `redirect(reqwest::redirect::Policy::none())` too.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    max_response_body: usize,
}

impl ReqwestTransport {
    /// A transport with a 10 s connect timeout and redirects off.
    ///
    /// # Errors
    /// When reqwest cannot set up its TLS backend.
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| {
                TransportError::new(TransportErrorKind::Other, "cannot build the HTTP client")
                    .with_source(e)
            })?;
        Ok(Self::from_client(client))
    }

    /// A transport on a client you built (it must not follow redirects).
    pub fn from_client(client: reqwest::Client) -> Self {
        Self {
            client,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }

    /// The same transport with another limit on the bodies [`send`](Transport::send) reads
    /// (default [`DEFAULT_MAX_RESPONSE_BODY`]).
    pub fn with_max_response_body(mut self, limit: usize) -> Self {
        self.max_response_body = limit;
        self
    }

    /// The limit on the bodies [`send`](Transport::send) reads.
    pub fn max_response_body(&self) -> usize {
        self.max_response_body
    }
}

fn classify(e: reqwest::Error) -> TransportError {
    // A connect error (refused, DNS, TLS, connect timeout) means no byte of the request left.
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_builder() {
        TransportErrorKind::Other
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Interrupted
    };
    let mut message = e.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    let mut depth = 0;
    while let Some(s) = source {
        if depth >= 8 {
            break;
        }
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
        depth += 1;
    }
    TransportError::new(kind, message).with_source(e)
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.send_with_body_limit(request, self.max_response_body)
            .await
    }

    async fn send_with_body_limit(
        &self,
        request: HttpRequest,
        limit: usize,
    ) -> Result<HttpResponse, TransportError> {
        // Built whole rather than through a `RequestBuilder`, which would insert the headers
        // one by one into a map of its own.
        let mut outgoing = reqwest::Request::new(request.method, request.url);
        *outgoing.headers_mut() = request.headers;
        *outgoing.body_mut() = Some(request.body.into());
        let mut response = self.client.execute(outgoing).await.map_err(classify)?;
        let status = response.status();
        let declared = response.content_length();
        // Taken, not cloned: the body is read through the response without its headers.
        let headers = std::mem::take(response.headers_mut());
        // A declared length past the limit: refused before reading (dropping the response
        // closes the connection).
        if declared.is_some_and(|declared| declared > limit as u64) {
            return Err(TransportError::body_too_large(status, headers, limit));
        }
        // The status line is Graph's answer: a body cut short afterwards (a connection lost
        // mid-body) keeps that answer, with the bytes that did arrive, rather than turning an
        // accepted transfer or a typed refusal into "outcome unknown".
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if chunk.len() > limit.saturating_sub(body.len()) {
                        return Err(TransportError::body_too_large(status, headers, limit));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(
                        status = status.as_u16(),
                        received = body.len(),
                        error = %e,
                        "response body cut short; keeping the status"
                    );
                    break;
                }
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body: body.into(),
        })
    }
}
