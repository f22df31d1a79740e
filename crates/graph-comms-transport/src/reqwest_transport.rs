//! The default [`Transport`], built on reqwest with rustls.

use std::time::Duration;

use async_trait::async_trait;

use crate::transport::{HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind};

/// A [`Transport`] on a [`reqwest::Client`] (rustls, HTTP/1.1, connection pooling).
///
/// Redirects are switched off in the client built by [`ReqwestTransport::new`]: the
/// [`GraphCommsClient`](crate::GraphCommsClient) follows them itself, with rules that hold for
/// every transport. A client passed to [`ReqwestTransport::from_client`] must be built with
/// `redirect(reqwest::redirect::Policy::none())` too.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
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
        Ok(Self { client })
    }

    /// A transport on a client you built (it must not follow redirects).
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
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
        let response = self
            .client
            .request(request.method, request.url)
            .headers(request.headers)
            .body(request.body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let headers = response.headers().clone();
        // The status line is Graph's answer: a body cut short afterwards (a connection lost
        // mid-body) keeps that answer, with the bytes that did arrive, rather than turning an
        // accepted transfer or a typed refusal into "outcome unknown".
        let mut response = response;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
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
