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

/// What follows an attempt: the caller's answer, or a retry after a delay.
enum Step {
    Done(Result<Received>),
    Retry(Duration),
}

/// The `client-request-id` of `request`, for an error that quotes it.
fn client_request_id(request: &HttpRequest) -> String {
    request
        .headers
        .get(&CLIENT_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

// The async functions below keep only what every request runs: sending, and the test that the
// answer is final. What a retry, a redirect, a timeout or a refusal needs is in plain functions
// outside them (`#[cold]` where it is rare), so the futures' code a request runs through stays
// small.
impl Pipeline {
    /// Sends `request` until a response that is final under the retry rules, and returns it
    /// whatever its status (a 504 to an unsafe request excepted: that is
    /// [`Error::OutcomeUnknown`]).
    pub(crate) async fn execute(
        &self,
        mut request: HttpRequest,
        idempotency: Idempotency,
    ) -> Result<Received> {
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
            let result = self.send_following_redirects(&request).await;
            match self.after_attempt(result, &request, safe, retries, waited) {
                Step::Done(answer) => return answer,
                Step::Retry(delay) => {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    retries += 1;
                }
            }
        }
    }

    /// Whether an attempt's result is the answer, or calls for another attempt (and after what
    /// delay), under the retry rules.
    #[inline(never)]
    fn after_attempt(
        &self,
        result: Result<Received>,
        request: &HttpRequest,
        safe: bool,
        retries: u32,
        waited: Duration,
    ) -> Step {
        match result {
            Ok(received) => {
                let status = received.response.status.as_u16();
                let retriable =
                    matches!(status, 429 | 503) || (safe && matches!(status, 500 | 502 | 504));
                if retriable {
                    self.after_status(received, retries, waited)
                } else if status == 504 {
                    Step::Done(Err(Self::gateway_timeout(&received.response, request)))
                } else {
                    Step::Done(Ok(received))
                }
            }
            Err(Error::Transport(e)) => {
                self.after_transport_error(e, request, safe, retries, waited)
            }
            Err(other) => Step::Done(Err(other)),
        }
    }

    /// Whether the retry limits allow another attempt after `delay`.
    fn exhausted(&self, retries: u32, waited: Duration, delay: Duration) -> bool {
        retries >= self.retry.max_retries
            || waited.saturating_add(delay) > self.retry.max_total_delay
    }

    /// A retriable status (429, 503; and 500, 502, 504 to a safe request): retried after
    /// `Retry-After` or the backoff, or returned as it is when the limits are reached.
    #[cold]
    #[inline(never)]
    fn after_status(&self, received: Received, retries: u32, waited: Duration) -> Step {
        let response = &received.response;
        let status = response.status.as_u16();
        let delay = retry_after(response).unwrap_or_else(|| self.retry.backoff(retries + 1));
        if self.exhausted(retries, waited, delay) {
            tracing::debug!(status, retries, "not retrying: limit reached");
            return Step::Done(Ok(received));
        }
        tracing::debug!(
            status,
            retry = retries + 1,
            delay_ms = delay.as_millis() as u64,
            "retrying"
        );
        Step::Retry(delay)
    }

    /// A 504 to an unsafe request: Graph may have acted.
    #[cold]
    #[inline(never)]
    fn gateway_timeout(response: &HttpResponse, request: &HttpRequest) -> Error {
        let client_request_id = client_request_id(request);
        Error::OutcomeUnknown {
            reason: OutcomeUnknownReason::GatewayTimeout,
            response: Some(Box::new(GraphError::from_response(
                response,
                Some(&client_request_id),
                retry_after(response),
            ))),
            client_request_id,
            source: None,
        }
    }

    /// A transport failure: retried when nothing can have been acted on (or the request is
    /// safe), else the caller's error.
    #[cold]
    #[inline(never)]
    fn after_transport_error(
        &self,
        e: TransportError,
        request: &HttpRequest,
        safe: bool,
        retries: u32,
        waited: Duration,
    ) -> Step {
        let retriable = e.kind() == TransportErrorKind::Connect
            || (safe && e.kind() != TransportErrorKind::Other);
        if retriable {
            let delay = self.retry.backoff(retries + 1);
            if !self.exhausted(retries, waited, delay) {
                tracing::debug!(error = %e, retry = retries + 1, "retrying after transport error");
                return Step::Retry(delay);
            }
        }
        Step::Done(Err(Self::unsent_or_unknown(
            e,
            safe,
            client_request_id(request),
        )))
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
        // Through the `dyn Transport` itself: `Arc<T>`'s own implementation would box a second
        // future around the transport's.
        let transport: &dyn Transport = &*self.transport;
        let send = transport.send_with_body_limit(request, self.max_response_body);
        let result = match self.timeout {
            Some(limit) => match tokio::time::timeout(limit, send).await {
                Ok(r) => r,
                Err(_) => Err(Self::timed_out(limit)),
            },
            None => send.await,
        };
        match result {
            Ok(response) => Ok(Received {
                response,
                body_dropped: false,
            }),
            Err(e) => self.failed_exchange(e),
        }
    }

    /// No response within the attempt's time limit.
    #[cold]
    #[inline(never)]
    fn timed_out(limit: Duration) -> TransportError {
        TransportError::new(
            TransportErrorKind::Timeout,
            format!("no response within {} ms", limit.as_millis()),
        )
    }

    /// A failed exchange: a body past the limit keeps its response, without the body; any
    /// other failure is the transport's error.
    #[cold]
    #[inline(never)]
    fn failed_exchange(&self, e: TransportError) -> Result<Received> {
        if e.kind() == TransportErrorKind::BodyTooLarge {
            if let Some(head) = e.response() {
                tracing::warn!(
                    status = head.status.as_u16(),
                    limit = self.max_response_body,
                    "response body longer than the limit; dropped"
                );
                return Ok(Received {
                    response: head.clone(),
                    body_dropped: true,
                });
            }
        }
        Err(Error::Transport(e))
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
            if !is_redirect(received.response.status) || self.redirects == Redirects::Never {
                return Ok(received);
            }
            hops += 1;
            redirected = Some(self.redirect(request, &received.response, hops)?);
        }
    }

    /// The request of the next hop after `response`, a redirect, when the [`Redirects`] rule
    /// and the hop limit allow it (`hops` counts this one).
    #[cold]
    #[inline(never)]
    fn redirect(
        &self,
        request: &HttpRequest,
        response: &HttpResponse,
        hops: u32,
    ) -> Result<HttpRequest> {
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
        if hops > self.max_redirects {
            return Err(Error::TooManyRedirects {
                max: self.max_redirects,
                location: target.to_string(),
            });
        }
        tracing::debug!(status, to = %target, "following a same-origin redirect");
        let mut next = request.clone();
        next.url = target;
        Ok(next)
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
