//! When and how long to wait before sending a request again.
//!
//! The rules, for a transfer (which must never be performed twice):
//! - 429 and 503 are retried (Graph did not act), after `Retry-After` (seconds or an HTTP date)
//!   when given, else after an exponential backoff with jitter;
//! - a connection that failed before the request was sent is retried with the same backoff;
//! - a 504, a timeout or a connection broken after sending are never retried: they surface as
//!   [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown);
//! - at most [`RetryPolicy::max_retries`] retries, and no retry whose wait would take the total
//!   waited past [`RetryPolicy::max_total_delay`].

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::transport::HttpResponse;

/// How many times, and how patiently, to retry a request Graph did not act on.
///
/// ```
/// use std::time::Duration;
/// use graph_comms_transport::RetryPolicy;
///
/// let policy = RetryPolicy { max_retries: 5, ..RetryPolicy::default() };
/// assert_eq!(policy.max_total_delay, Duration::from_secs(60));
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// The first backoff when Graph gives no `Retry-After` (default 1 s); each retry doubles it.
    pub initial_backoff: Duration,
    /// The largest single backoff (default 30 s). `Retry-After` is honoured beyond it, up to the
    /// total cap.
    pub max_backoff: Duration,
    /// The most time spent waiting across all retries of one request (default 60 s). A retry
    /// whose wait would pass it is not made; the last error is returned instead.
    pub max_total_delay: Duration,
    /// Whether backoffs are randomised (default true): each is drawn from `[d/2, d]`, so many
    /// clients throttled together do not come back together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_total_delay: Duration::from_secs(60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The backoff before retry number `retry` (1-based) when Graph gave no `Retry-After`:
    /// `initial_backoff * 2^(retry-1)`, capped at `max_backoff`, then jittered into `[d/2, d]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let full = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        if !self.jitter || full.is_zero() {
            return full;
        }
        let nanos = u64::try_from(full.as_nanos()).unwrap_or(u64::MAX);
        let low = nanos / 2;
        Duration::from_nanos(rand::thread_rng().gen_range(low..=nanos))
    }
}

/// The delay a response asks for in `Retry-After`: delta-seconds, or an HTTP date measured
/// against the response's own `Date` header (so clock skew between us and Graph does not
/// matter), else against this machine's clock. A date in the past means no wait. `None` when
/// the header is absent or unreadable.
pub(crate) fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let value = response.header("retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = response
        .header("date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or_else(SystemTime::now);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn with(headers: &[(&'static str, &str)]) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        HttpResponse {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: map,
            body: Bytes::new(),
        }
    }

    #[test]
    fn retry_after_forms() {
        const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
        type Case = (&'static [(&'static str, &'static str)], Option<u64>);
        let cases: [Case; 7] = [
            (&[("retry-after", "2")], Some(2)),
            (&[("retry-after", " 0 ")], Some(0)),
            (
                &[
                    ("retry-after", "Wed, 21 Oct 2015 07:28:05 GMT"),
                    ("date", DATE),
                ],
                Some(5),
            ),
            (
                &[
                    ("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT"),
                    ("date", DATE),
                ],
                Some(0),
            ),
            (&[("retry-after", "soon")], None),
            (&[("retry-after", "-3")], None),
            (&[], None),
        ];
        for (headers, expect) in cases {
            assert_eq!(
                retry_after(&with(headers)),
                expect.map(Duration::from_secs),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn retry_after_date_without_date_header_uses_the_local_clock() {
        let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        let d = retry_after(&with(&[("retry-after", &at)])).unwrap();
        assert!(
            d > Duration::from_secs(3500) && d <= Duration::from_secs(3600),
            "{d:?}"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            jitter: false,
            max_backoff: Duration::from_secs(5),
            ..Default::default()
        };
        let got: Vec<u64> = (1..=5).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 5, 5]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let p = RetryPolicy::default();
        for n in 1..=4 {
            let full = Duration::from_secs(1 << (n - 1));
            for _ in 0..50 {
                let d = p.backoff(n);
                assert!(d >= full / 2 && d <= full, "retry {n}: {d:?}");
            }
        }
    }
}
