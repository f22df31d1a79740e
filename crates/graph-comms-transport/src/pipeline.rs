//! The request pipeline shared by Graph calls and token requests: per-attempt timeout,
//! redirects, and retries, on top of any [`Transport`].

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Method, StatusCode};
use url::Url;

use crate::error::{Error, GraphError, OutcomeUnknownReason, Result};
use crate::retry::{retry_after, RetryPolicy};
use crate::transport::{HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind};

/// The header carrying the retry number on retries (Graph SDKs' name).
pub(crate) const RETRY_ATTEMPT: &str = "retry-attempt";
/// The header carrying the id of one logical request.
pub(crate) const CLIENT_REQUEST_ID: &str = "client-request-id";

/// Whether a request may be performed twice without harm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// A transfer: only retried when Graph certainly did not act (429, 503, connect failure).
    Unsafe,
    /// A token request or a read: also retried after timeouts, resets, 500, 502 and 504.
    Safe,
}

/// Timeout, redirects and retries around a transport.
#[derive(Clone, Debug)]
pub(crate) struct Pipeline {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_redirects: u32,
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Pipeline {
    /// Sends `request` until a response that is final under the retry rules, and returns it
    /// whatever its status (a 504 to an unsafe request excepted: that is
    /// [`Error::OutcomeUnknown`]).
    pub(crate) async fn execute(
        &self,
        mut request: HttpRequest,
        idempotency: Idempotency,
    ) -> Result<HttpResponse> {
        let client_request_id = request
            .headers
            .get(CLIENT_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let safe = idempotency == Idempotency::Safe;
        let mut retries: u32 = 0;
        let mut waited = Duration::ZERO;
        // Bounded: every pass either returns or increments `retries`, capped by max_retries.
        loop {
            if retries > 0 {
                request
                    .headers
                    .insert(RETRY_ATTEMPT, HeaderValue::from(retries));
            }
            let exhausted = |delay: Duration| {
                retries >= self.retry.max_retries
                    || waited.saturating_add(delay) > self.retry.max_total_delay
            };
            let delay = match self.send_following_redirects(&request).await {
                Ok(response) => {
                    let status = response.status.as_u16();
                    let retriable =
                        matches!(status, 429 | 503) || (safe && matches!(status, 500 | 502 | 504));
                    if !retriable {
                        if status == 504 {
                            return Err(Error::OutcomeUnknown {
                                reason: OutcomeUnknownReason::GatewayTimeout,
                                response: Some(Box::new(GraphError::from_response(
                                    &response,
                                    Some(&client_request_id),
                                    retry_after(&response),
                                ))),
                                client_request_id,
                                source: None,
                            });
                        }
                        return Ok(response);
                    }
                    let delay =
                        retry_after(&response).unwrap_or_else(|| self.retry.backoff(retries + 1));
                    if exhausted(delay) {
                        tracing::debug!(status, retries, "not retrying: limit reached");
                        return Ok(response);
                    }
                    tracing::debug!(
                        status,
                        retry = retries + 1,
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    delay
                }
                Err(Error::Transport(e)) => {
                    let retriable = e.kind() == TransportErrorKind::Connect
                        || (safe && e.kind() != TransportErrorKind::Other);
                    if !retriable {
                        return Err(Self::unsent_or_unknown(e, safe, client_request_id));
                    }
                    let delay = self.retry.backoff(retries + 1);
                    if exhausted(delay) {
                        return Err(Self::unsent_or_unknown(e, safe, client_request_id));
                    }
                    tracing::debug!(error = %e, retry = retries + 1, "retrying after transport error");
                    delay
                }
                Err(other) => return Err(other),
            };
            tokio::time::sleep(delay).await;
            waited += delay;
            retries += 1;
        }
    }

    /// A transport failure as the caller sees it: plain for safe requests or when nothing was
    /// sent, "outcome unknown" when an unsafe request may have reached Graph.
    fn unsent_or_unknown(e: TransportError, safe: bool, client_request_id: String) -> Error {
        let reason = match e.kind() {
            _ if safe || e.is_not_sent() => return Error::Transport(e),
            TransportErrorKind::Timeout => OutcomeUnknownReason::Timeout,
            _ => OutcomeUnknownReason::ConnectionLost,
        };
        Error::OutcomeUnknown {
            reason,
            client_request_id,
            response: None,
            source: Some(e),
        }
    }

    async fn send_once(&self, request: HttpRequest) -> Result<HttpResponse> {
        let send = self.transport.send(request);
        let result = match self.timeout {
            Some(limit) => match tokio::time::timeout(limit, send).await {
                Ok(r) => r,
                Err(_) => Err(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("no response within {} ms", limit.as_millis()),
                )),
            },
            None => send.await,
        };
        result.map_err(Error::Transport)
    }

    /// One attempt: sends, then follows up to `max_redirects` redirects. `Authorization` is
    /// dropped when the origin (scheme, host, port) changes; https to http is refused; a 303
    /// turns the request into a GET without a body.
    async fn send_following_redirects(&self, original: &HttpRequest) -> Result<HttpResponse> {
        let mut hops: u32 = 0;
        // The request of the current hop; cloned only when a redirect changes it.
        let mut redirected: Option<HttpRequest> = None;
        // Bounded: each pass returns or increments `hops`, capped by max_redirects.
        loop {
            let request = redirected.as_ref().unwrap_or(original);
            let response = self.send_once(request.clone()).await?;
            if !is_redirect(response.status) {
                return Ok(response);
            }
            let mut request = request.clone();
            let from = request.url.to_string();
            let Some(location) = response.header("location") else {
                return Err(Error::InvalidRedirect {
                    from,
                    reason: format!(
                        "HTTP {} without a readable Location",
                        response.status.as_u16()
                    ),
                });
            };
            let target = request
                .url
                .join(location)
                .map_err(|e| Error::InvalidRedirect {
                    from: from.clone(),
                    reason: format!("Location {location:?}: {e}"),
                })?;
            if target.scheme() != "http" && target.scheme() != "https" {
                return Err(Error::InvalidRedirect {
                    from,
                    reason: format!("Location {location:?} is not http or https"),
                });
            }
            if request.url.scheme() == "https" && target.scheme() == "http" {
                return Err(Error::InsecureRedirect {
                    from,
                    to: target.to_string(),
                });
            }
            hops += 1;
            if hops > self.max_redirects {
                return Err(Error::TooManyRedirects {
                    max: self.max_redirects,
                    location: target.to_string(),
                });
            }
            if !same_origin(&request.url, &target) {
                request.headers.remove(header::AUTHORIZATION);
            }
            if response.status == StatusCode::SEE_OTHER && request.method != Method::HEAD {
                request.method = Method::GET;
                request.body = bytes::Bytes::new();
                request.headers.remove(header::CONTENT_TYPE);
                request.headers.remove(header::CONTENT_LENGTH);
            }
            tracing::debug!(status = response.status.as_u16(), to = %target, "following redirect");
            request.url = target;
            redirected = Some(request);
        }
    }
}
