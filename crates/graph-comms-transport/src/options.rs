//! [`HttpOptions`]: how requests are sent, shared by the client and the token provider builders.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::pipeline::{Pipeline, Redirects};
use crate::retry::RetryPolicy;
use crate::transport::{Transport, DEFAULT_MAX_RESPONSE_BODY};

/// How requests are sent: the transport, retries, the time allowed per attempt and the longest
/// response read. [`GraphCommsClientBuilder`](crate::GraphCommsClientBuilder) and
/// [`ClientCredentialsBuilder`](crate::ClientCredentialsBuilder) take the same options, whole
/// (`http_options`) or one setter at a time.
///
/// ```
/// use std::time::Duration;
/// use graph_comms_transport::{HttpOptions, RetryPolicy};
///
/// let options = HttpOptions {
///     timeout: Some(Duration::from_secs(10)),
///     retry: RetryPolicy { max_retries: 1, ..RetryPolicy::default() },
///     ..HttpOptions::default()
/// };
/// assert_eq!(options.max_response_body, 1024 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The transport (default: [`ReqwestTransport`](crate::ReqwestTransport), with the
    /// `reqwest` feature).
    pub transport: Option<Arc<dyn Transport>>,
    /// The retry policy (default [`RetryPolicy::default`]: 3 retries, 60 s in all). Actions are
    /// never sent twice whatever it says; token requests are safe to repeat.
    pub retry: RetryPolicy,
    /// Time allowed for one attempt, redirects included (default 30 s; `None` for no limit). An
    /// action whose attempt runs out surfaces as [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown).
    pub timeout: Option<Duration>,
    /// The longest response body read (default [`DEFAULT_MAX_RESPONSE_BODY`], 1 MiB), enforced
    /// while the body streams in. Past it the body is dropped: a transfer's `202` stays
    /// accepted, an error status keeps its typed error (without the body), and a read that
    /// needs the body is [`Error::ResponseTooLarge`](crate::Error::ResponseTooLarge) (for a token
    /// response, [`Error::InvalidTokenResponse`](crate::Error::InvalidTokenResponse)).
    pub max_response_body: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            transport: None,
            retry: RetryPolicy::default(),
            timeout: Some(Duration::from_secs(30)),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }
}

impl HttpOptions {
    /// The send path these options describe, with the given redirect rules.
    pub(crate) fn into_pipeline(
        self,
        max_redirects: u32,
        redirects: Redirects,
    ) -> Result<Pipeline> {
        let transport = match self.transport {
            Some(t) => t,
            None => crate::client::default_transport()?,
        };
        Ok(Pipeline {
            transport,
            retry: self.retry,
            timeout: self.timeout,
            max_redirects,
            redirects,
            max_response_body: self.max_response_body,
        })
    }
}

/// The [`HttpOptions`] setters, the same on every builder that sends requests (a builder with an
/// `http: HttpOptions` field).
macro_rules! http_option_setters {
    () => {
        /// How requests are sent, all at once (the same [`HttpOptions`](crate::HttpOptions) the
        /// client and the token provider take).
        pub fn http_options(mut self, http: crate::HttpOptions) -> Self {
            self.http = http;
            self
        }

        /// Sets [`HttpOptions::transport`](crate::HttpOptions::transport).
        pub fn transport(mut self, transport: std::sync::Arc<dyn crate::Transport>) -> Self {
            self.http.transport = Some(transport);
            self
        }

        /// Sets [`HttpOptions::retry`](crate::HttpOptions::retry).
        pub fn retry_policy(mut self, retry: crate::RetryPolicy) -> Self {
            self.http.retry = retry;
            self
        }

        /// Sets [`HttpOptions::timeout`](crate::HttpOptions::timeout).
        pub fn timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.http.timeout = timeout;
            self
        }

        /// Sets [`HttpOptions::max_response_body`](crate::HttpOptions::max_response_body).
        pub fn max_response_body(mut self, limit: usize) -> Self {
            self.http.max_response_body = limit;
            self
        }
    };
}
pub(crate) use http_option_setters;
