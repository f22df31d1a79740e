//! The request pipeline shared by Graph calls and token requests: per-attempt timeout,
//! redirects, and retries, on top of any [`Transport`].

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderName, HeaderValue, Method, StatusCode};
use url::Url;

use crate::error::{Error, GraphError, OutcomeUnknownReason, Result};
use crate::retry::{retry_after, RetryPolicy};
use crate::transport::{HttpRequest, HttpResponse, Transport, TransportError, TransportErrorKind};

/// The header carrying the retry number on retries (Graph SDKs' name).
pub(crate) const RETRY_ATTEMPT: &str = "retry-attempt";
/// The header carrying the id of one logical request.
pub(crate) const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Whether a request may be performed twice without harm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// A transfer: only retried when Graph certainly did not act (429, 503, connect failure).
    Unsafe,
    /// A token request or a read: also retried after timeouts, resets, 500, 502 and 504.
    Safe,
}

/// Which redirects a pipeline follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Redirects {
    /// None: a 3xx is returned to the caller as it is (token requests: the credentials go to
    /// the authority and nowhere else).
    Never,
    /// Same-origin only: a GET or HEAD follows 301, 302, 303, 307 and 308; any other method
    /// (POST, DELETE, ...) follows only 307 and 308, which keep the method and body. Anything
    /// else is [`Error::RedirectNotFollowed`].
    SameOrigin,
}

/// Timeout, redirects and retries around a transport.
#[derive(Clone, Debug)]
pub(crate) struct Pipeline {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_redirects: u32,
    pub(crate) redirects: Redirects,
    /// The longest response body read; a longer one is dropped.
    pub(crate) max_response_body: usize,
}

/// A final response, and whether its body was dropped for being longer than the limit (the
/// body is then empty).
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) response: HttpResponse,
    pub(crate) body_dropped: bool,
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// True for a loopback host: `127.0.0.0/8`, `::1` or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.eq_ignore_ascii_case("localhost.")
        }
        None => false,
    }
}

/// Refuses plain http to a host other than loopback for a request carrying `what` (a bearer
/// token, a client secret).
pub(crate) fn check_secure(url: &Url, what: &'static str) -> Result<()> {
    if url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)) {
        return Ok(());
    }
    Err(Error::InsecureUrl {
        url: url.to_string(),
        what,
    })
}

/// At most this many characters of an attacker-controlled header in an error message.
const SHOWN_HEADER: usize = 200;

/// A response header as shown in errors: lossy text, cut to [`SHOWN_HEADER`] characters.
/// Callers print it with `{:?}`, which escapes control characters.
pub(crate) fn shown_header(response: &HttpResponse, name: &str) -> Option<String> {
    let value = response.headers.get(name)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let mut shown: String = text.chars().take(SHOWN_HEADER).collect();
    if text.chars().count() > SHOWN_HEADER {
        shown.push('…');
    }
    Some(shown)
}

impl Pipeline {
    /// Sends `request` until a response that is final under the retry rules, and returns it
    /// whatever its status (a 504 to an unsafe request excepted: that is
    /// [`Error::OutcomeUnknown`]).
    pub(crate) async fn execute(
        &self,
        mut request: HttpRequest,
        idempotency: Idempotency,
    ) -> Result<Received> {
        let client_request_id = request
            .headers
            .get(&CLIENT_REQUEST_ID)
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
                Ok(received) => {
                    let response = &received.response;
                    let status = response.status.as_u16();
                    let retriable =
                        matches!(status, 429 | 503) || (safe && matches!(status, 500 | 502 | 504));
                    if !retriable {
                        if status == 504 {
                            return Err(Error::OutcomeUnknown {
                                reason: OutcomeUnknownReason::GatewayTimeout,
                                response: Some(Box::new(GraphError::from_response(
                                    response,
                                    Some(&client_request_id),
                                    retry_after(response),
                                ))),
                                client_request_id,
                                source: None,
                            });
                        }
                        return Ok(received);
                    }
                    let delay =
                        retry_after(response).unwrap_or_else(|| self.retry.backoff(retries + 1));
                    if exhausted(delay) {
                        tracing::debug!(status, retries, "not retrying: limit reached");
                        return Ok(received);
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

    /// One exchange under the timeout and the body limit. A body past the limit is dropped and
    /// the response kept: its status is the server's answer.
    async fn send_once(&self, request: HttpRequest) -> Result<Received> {
        let send = self
            .transport
            .send_with_body_limit(request, self.max_response_body);
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
        match result {
            Ok(response) => Ok(Received {
                response,
                body_dropped: false,
            }),
            Err(e) if e.kind() == TransportErrorKind::BodyTooLarge => match e.response() {
                Some(head) => {
                    tracing::warn!(
                        status = head.status.as_u16(),
                        limit = self.max_response_body,
                        "response body longer than the limit; dropped"
                    );
                    Ok(Received {
                        response: head.clone(),
                        body_dropped: true,
                    })
                }
                None => Err(Error::Transport(e)),
            },
            Err(e) => Err(Error::Transport(e)),
        }
    }

    /// One attempt: sends, then follows up to `max_redirects` redirects under the
    /// [`Redirects`] rule. Every hop stays on the origin of the first, so `Authorization` never
    /// crosses origins; https to http is refused; a bearer token never goes over plain http to
    /// a host other than loopback.
    async fn send_following_redirects(&self, original: &HttpRequest) -> Result<Received> {
        let mut hops: u32 = 0;
        // The request of the current hop; cloned only when a redirect changes it.
        let mut redirected: Option<HttpRequest> = None;
        // Bounded: each pass returns or increments `hops`, capped by max_redirects.
        loop {
            let request = redirected.as_ref().unwrap_or(original);
            if request.headers.contains_key(header::AUTHORIZATION) {
                check_secure(&request.url, "a bearer token")?;
            }
            let received = self.send_once(request.clone()).await?;
            let response = &received.response;
            if !is_redirect(response.status) || self.redirects == Redirects::Never {
                return Ok(received);
            }
            let status = response.status.as_u16();
            let from = request.url.to_string();
            let Some(location) = response.header("location") else {
                return Err(Error::InvalidRedirect {
                    from,
                    reason: format!("HTTP {status} without a readable Location"),
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
            let reading = request.method == Method::GET || request.method == Method::HEAD;
            let rule = if !same_origin(&request.url, &target) {
                Some(if reading {
                    "a redirect to another origin is not followed"
                } else {
                    "a redirect to another origin is not followed, so nothing was sent there and Graph did not act on the request (nothing was transferred)"
                })
            } else if !reading && !matches!(status, 307 | 308) {
                Some("only a 307 or 308 keeps the method and body, so the request was not sent again and Graph did not act on it (nothing was transferred)")
            } else {
                None
            };
            if let Some(rule) = rule {
                return Err(Error::RedirectNotFollowed {
                    method: request.method.to_string(),
                    from,
                    status,
                    location: shown_header(response, "location").unwrap_or_default(),
                    rule,
                });
            }
            hops += 1;
            if hops > self.max_redirects {
                return Err(Error::TooManyRedirects {
                    max: self.max_redirects,
                    location: target.to_string(),
                });
            }
            tracing::debug!(status, to = %target, "following a same-origin redirect");
            let mut next = request.clone();
            next.url = target;
            redirected = Some(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://graph.microsoft.com/v1.0",
            "https://10.0.0.1/",
            "http://127.0.0.1:8080/v1.0",
            "http://127.255.0.1/",
            "http://[::1]:9/",
            "http://localhost:9/",
            "http://LOCALHOST./",
        ] {
            assert!(
                check_secure(&Url::parse(ok).unwrap(), "a bearer token").is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://graph.microsoft.com/v1.0",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.example.com/",
            "http://0.0.0.0/",
            "ftp://127.0.0.1/",
        ] {
            assert!(
                matches!(
                    check_secure(&Url::parse(bad).unwrap(), "a bearer token"),
                    Err(Error::InsecureUrl { .. })
                ),
                "{bad}"
            );
        }
    }
}
