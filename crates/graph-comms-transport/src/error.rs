//! The crate's error type, and [`GraphError`]: what Graph said when it refused a request.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;

use crate::transport::{HttpResponse, TransportError};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many bytes of a body that is not Graph's JSON error shape are kept in messages.
const BODY_PREFIX: usize = 200;

/// An error response from Graph: the status, Graph's `error.code` and `error.message`, the ids
/// that let Microsoft support find the request, and the raw body.
#[derive(Clone, PartialEq, Eq)]
pub struct GraphError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `error.code`, such as `Forbidden` or `7505` (`None` when the body is not Graph's shape).
    pub code: Option<String>,
    /// `error.message`.
    pub message: Option<String>,
    /// `error.innerError.code`, when present.
    pub inner_code: Option<String>,
    /// `error.innerError.request-id`, else the `request-id` response header.
    pub request_id: Option<String>,
    /// `error.innerError.client-request-id`, else the `client-request-id` response header, else
    /// the id this client sent.
    pub client_request_id: Option<String>,
    /// `error.innerError.date`, else the `Date` response header, as given.
    pub date: Option<String>,
    /// The delay asked for in `Retry-After`, when present and valid.
    pub retry_after: Option<Duration>,
    /// The raw response body.
    pub body: Bytes,
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    code: Option<serde_json::Value>,
    message: Option<serde_json::Value>,
    #[serde(rename = "innerError", alias = "innererror")]
    inner_error: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    code: Option<serde_json::Value>,
    date: Option<serde_json::Value>,
    #[serde(rename = "request-id")]
    request_id: Option<serde_json::Value>,
    #[serde(rename = "client-request-id")]
    client_request_id: Option<serde_json::Value>,
}

/// A JSON scalar as text: strings as they are, numbers and booleans printed; others ignored.
fn text(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl GraphError {
    /// Reads an error response. Never fails: a body that is not Graph's error JSON leaves the
    /// code and message empty and keeps the raw bytes.
    pub fn from_response(
        response: &HttpResponse,
        sent_client_request_id: Option<&str>,
        retry_after: Option<Duration>,
    ) -> Self {
        let parsed = serde_json::from_slice::<Envelope>(&response.body)
            .ok()
            .map(|e| e.error);
        let (code, message, inner) = match parsed {
            Some(b) => (text(b.code), text(b.message), b.inner_error),
            None => (None, None, None),
        };
        let (inner_code, inner_date, inner_rid, inner_crid) = match inner {
            Some(i) => (
                text(i.code),
                text(i.date),
                text(i.request_id),
                text(i.client_request_id),
            ),
            None => (None, None, None, None),
        };
        let header = |name: &str| response.header(name).map(str::to_owned);
        GraphError {
            status: response.status,
            code,
            message,
            inner_code,
            request_id: inner_rid.or_else(|| header("request-id")),
            client_request_id: inner_crid
                .or_else(|| header("client-request-id"))
                .or_else(|| sent_client_request_id.map(str::to_owned)),
            date: inner_date.or_else(|| header("date")),
            retry_after,
            body: response.body.clone(),
        }
    }

    /// The known refusal behind `error.code`, whatever the status (see [`Refusal`]).
    pub fn refusal(&self) -> Option<Refusal> {
        self.code.as_deref().and_then(Refusal::from_code)
    }

    /// The first bytes of the body as (lossy) text, for bodies that are not Graph's shape.
    pub fn body_prefix(&self) -> String {
        let end = self.body.len().min(BODY_PREFIX);
        let mut s = String::from_utf8_lossy(&self.body[..end]).into_owned();
        if self.body.len() > BODY_PREFIX {
            s.push('…');
        }
        s.replace(['\r', '\n'], " ")
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status.as_u16())?;
        if let Some(reason) = self.status.canonical_reason() {
            write!(f, " {reason}")?;
        }
        match (&self.code, &self.message) {
            (None, None) if self.body.is_empty() => f.write_str(" (empty body)")?,
            (None, None) => write!(f, ", body: {:?}", self.body_prefix())?,
            (code, message) => {
                if let Some(code) = code {
                    write!(f, ": {code}")?;
                }
                if let Some(inner) = &self.inner_code {
                    write!(f, " ({inner})")?;
                }
                if let Some(message) = message {
                    write!(f, ": {}", message.replace(['\r', '\n'], " "))?;
                }
            }
        }
        if let Some(rid) = &self.request_id {
            write!(f, " [request-id {rid}")?;
            if let Some(crid) = &self.client_request_id {
                write!(f, ", client-request-id {crid}")?;
            }
            f.write_str("]")?;
        } else if let Some(crid) = &self.client_request_id {
            write!(f, " [client-request-id {crid}]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("inner_code", &self.inner_code)
            .field("request_id", &self.request_id)
            .field("client_request_id", &self.client_request_id)
            .field("date", &self.date)
            .field("retry_after", &self.retry_after)
            .field("body", &self.body_prefix())
            .finish()
    }
}

/// A synchronous refusal that Graph reports with a numeric `error.code`, with its explanation.
///
/// Keyed on `error.code` (a JSON number or a numeric string), whatever the HTTP status.
///
/// ```
/// use graph_comms_transport::Refusal;
///
/// assert_eq!(Refusal::from_code("7505"), Some(Refusal::TenantMismatch));
/// assert_eq!(Refusal::from_code(" 8523 "), Some(Refusal::MeetingMode));
/// assert_eq!(Refusal::from_code("Forbidden"), None);
/// assert!(Refusal::InsufficientTenantPermissions.explanation().contains("consent"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// 7504, "Insufficient enterprise tenant permissions".
    InsufficientTenantPermissions,
    /// 7505, "Request authorization tenant mismatch".
    TenantMismatch,
    /// 8523, "Cannot do transfer for meeting mode".
    MeetingMode,
}

impl Refusal {
    /// Every known refusal.
    pub const ALL: [Refusal; 3] = [
        Refusal::InsufficientTenantPermissions,
        Refusal::TenantMismatch,
        Refusal::MeetingMode,
    ];

    /// The refusal for Graph's `error.code` (digits, surrounding spaces allowed), if known.
    pub fn from_code(code: &str) -> Option<Self> {
        let n: u32 = code.trim().parse().ok()?;
        Self::ALL.into_iter().find(|r| r.code() == n)
    }

    /// The numeric `error.code`.
    pub fn code(self) -> u32 {
        match self {
            Refusal::InsufficientTenantPermissions => 7504,
            Refusal::TenantMismatch => 7505,
            Refusal::MeetingMode => 8523,
        }
    }

    /// What it means and what to do, in one sentence.
    pub fn explanation(self) -> &'static str {
        match self {
            Refusal::InsufficientTenantPermissions => {
                "7504 insufficient enterprise tenant permissions: the app lacks a role or \
                 consent in the call's tenant (grant Calls.Initiate.All and the other calling \
                 permissions it uses, and have an admin of that tenant consent)"
            }
            Refusal::TenantMismatch => {
                "7505 request authorization tenant mismatch: most often the token was issued \
                 for another tenant than the call's; ask for the token in the call's tenant \
                 (the client's tenant; --tenant on the command line)"
            }
            Refusal::MeetingMode => {
                "8523 cannot do transfer for meeting mode: Graph does not transfer a call that \
                 is in meeting mode (a group or meeting call); invite the target and remove \
                 the transferee instead"
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explanation())
    }
}

/// Why the outcome of a request is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutcomeUnknownReason {
    /// A gateway answered 504: Graph may have acted after it gave up.
    GatewayTimeout,
    /// No response came in time after the request may have been sent.
    Timeout,
    /// The connection broke after the request may have been sent.
    ConnectionLost,
}

impl fmt::Display for OutcomeUnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutcomeUnknownReason::GatewayTimeout => "the gateway timed out (HTTP 504)",
            OutcomeUnknownReason::Timeout => "no response in time",
            OutcomeUnknownReason::ConnectionLost => "the connection was lost",
        })
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// HTTP 401: the token was missing, expired or for another audience.
    #[error("unauthorized: {0}")]
    Unauthorized(Box<GraphError>),
    /// HTTP 403: typically the app lacks the `Calls.Initiate.All` application permission.
    #[error("forbidden (does the app have Calls.Initiate.All?): {0}")]
    Forbidden(Box<GraphError>),
    /// HTTP 404: the call is gone (or never existed in this tenant).
    #[error("not found (has the call ended?): {0}")]
    NotFound(Box<GraphError>),
    /// HTTP 429 after the retries allowed, or with a `Retry-After` beyond the total-delay cap.
    #[error("throttled{}: {error}", fmt_retry_after(*.retry_after))]
    Throttled {
        /// The delay Graph asked for, if it said.
        retry_after: Option<Duration>,
        /// The response.
        error: Box<GraphError>,
    },
    /// HTTP 400 (or 422): Graph rejected the request body.
    #[error("bad request: {error}")]
    BadRequest {
        /// Graph's `error.code`.
        code: Option<String>,
        /// The response.
        error: Box<GraphError>,
    },
    /// HTTP 5xx other than 504 (for 503, after the retries allowed): Graph did not act.
    #[error("server error: {0}")]
    Server(Box<GraphError>),
    /// Any other error status.
    #[error("request failed: {0}")]
    Http(Box<GraphError>),
    /// The request may or may not have been acted on; check the call's state before sending it
    /// again.
    #[error("outcome unknown, check the call's state before retrying: {reason} [client-request-id {client_request_id}]{}", .response.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    OutcomeUnknown {
        /// What happened.
        reason: OutcomeUnknownReason,
        /// The `client-request-id` sent, to quote to Microsoft support.
        client_request_id: String,
        /// The 504 response, for [`OutcomeUnknownReason::GatewayTimeout`].
        response: Option<Box<GraphError>>,
        /// The transport failure, for the other reasons.
        #[source]
        source: Option<TransportError>,
    },
    /// The request could not be sent (after the retries allowed for connect failures).
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// More redirects than allowed.
    #[error("too many redirects (more than {max}), last to {location}")]
    TooManyRedirects {
        /// The limit.
        max: u32,
        /// The last `Location`.
        location: String,
    },
    /// A redirect from https to http, which is never followed.
    #[error("refused redirect from {from} to {to}: https to http is never followed")]
    InsecureRedirect {
        /// The URL redirected from.
        from: String,
        /// The `Location` redirected to.
        to: String,
    },
    /// A redirect the client does not follow: to another origin, or, for a POST or DELETE
    /// (anything but GET and HEAD), any status but 307 and 308. Graph did not act on the request.
    #[error("Graph answered {method} {from} with a redirect (HTTP {status}, Location {location:?}) that is not followed: {rule}")]
    RedirectNotFollowed {
        /// The request's method.
        method: String,
        /// The URL redirected from.
        from: String,
        /// The 3xx status.
        status: u16,
        /// The `Location` as received (lossy text, cut to 200 characters; attacker-controlled,
        /// so shown escaped).
        location: String,
        /// The rule that refused it.
        rule: &'static str,
    },
    /// The token endpoint answered with a redirect. Token requests never follow redirects: the
    /// client secret or assertion goes to the authority and nowhere else.
    #[error("token request for tenant {tenant} was answered with a redirect (HTTP {status}, Location {}); token requests never follow redirects, so the credentials were sent nowhere else", .location.as_ref().map_or_else(|| "none".to_owned(), |l| format!("{l:?}")))]
    TokenRedirect {
        /// The tenant asked for.
        tenant: String,
        /// The 3xx status.
        status: u16,
        /// The `Location` as received, if any (lossy text, cut to 200 characters).
        location: Option<String>,
    },
    /// A secret (a bearer token, a client secret or assertion) would go over plain http to a
    /// host other than loopback.
    #[error("refusing to send {what} over plain http to {url}: use https (plain http is allowed only to a loopback address: 127.0.0.1, ::1, localhost)")]
    InsecureUrl {
        /// The URL refused.
        url: String,
        /// What would have been sent.
        what: &'static str,
    },
    /// A success response whose body was longer than the limit, and dropped, when the body was
    /// needed (a call, a token). (A transfer's `202` needs no body: it stays accepted.)
    #[error("HTTP {status} came with a response body longer than the limit of {limit} bytes; the body was dropped")]
    ResponseTooLarge {
        /// The HTTP status.
        status: u16,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A 3xx response without a usable `Location`.
    #[error("invalid redirect from {from}: {reason}")]
    InvalidRedirect {
        /// The URL redirected from.
        from: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token endpoint refused to issue a token.
    #[error("token request for tenant {tenant} failed: HTTP {status}{}{}{}", fmt_opt(": ", .error, ""), fmt_opt(": ", .description, ""), fmt_opt(" [correlation-id ", .correlation_id, "]"))]
    TokenRequest {
        /// The tenant asked for.
        tenant: String,
        /// The HTTP status.
        status: u16,
        /// OAuth `error`, such as `invalid_client`.
        error: Option<String>,
        /// OAuth `error_description` (Azure AD's `AADSTS...` text).
        description: Option<String>,
        /// Azure AD's `correlation_id`.
        correlation_id: Option<String>,
    },
    /// The token endpoint answered 200 with a body that is not a token response.
    #[error("token response for tenant {tenant} is invalid: {reason}")]
    InvalidTokenResponse {
        /// The tenant asked for.
        tenant: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Credentials are missing or unusable (an unset environment variable, a bad certificate).
    #[error("credentials: {0}")]
    Credentials(String),
    /// A tenant id that cannot be used in a token URL.
    #[error("invalid tenant {tenant:?}: {reason}")]
    InvalidTenant {
        /// The tenant given.
        tenant: String,
        /// The rule broken.
        reason: &'static str,
    },
    /// A call id that cannot be a URL path segment.
    #[error("invalid call id: {reason}")]
    InvalidCallId {
        /// The id given.
        call_id: String,
        /// The rule broken.
        reason: String,
    },
    /// A URL that cannot be used.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header value that cannot be sent (such as a token with a newline).
    #[error("invalid header {name}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The request body could not be serialized.
    #[error("cannot serialize the request body: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A success response whose body is not what was expected (such as a call that is not
    /// JSON).
    #[error("cannot read Graph's response body: {0}")]
    Decode(#[source] serde_json::Error),
}

fn fmt_retry_after(d: Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {} s)", d.as_secs_f64()))
        .unwrap_or_default()
}

fn fmt_opt(prefix: &str, v: &Option<String>, suffix: &str) -> String {
    v.as_ref()
        .map(|v| format!("{prefix}{}{suffix}", v.replace(['\r', '\n'], " ")))
        .unwrap_or_default()
}

impl Error {
    /// Builds the typed error for an error status that will not be retried.
    pub(crate) fn from_status(error: GraphError) -> Self {
        let error = Box::new(error);
        match error.status.as_u16() {
            400 | 422 => Error::BadRequest {
                code: error.code.clone(),
                error,
            },
            401 => Error::Unauthorized(error),
            403 => Error::Forbidden(error),
            404 => Error::NotFound(error),
            429 => Error::Throttled {
                retry_after: error.retry_after,
                error,
            },
            500..=599 => Error::Server(error),
            _ => Error::Http(error),
        }
    }

    /// Graph's response, for errors that came with one.
    pub fn graph_error(&self) -> Option<&GraphError> {
        match self {
            Error::Unauthorized(e)
            | Error::Forbidden(e)
            | Error::NotFound(e)
            | Error::Server(e)
            | Error::Http(e)
            | Error::Throttled { error: e, .. }
            | Error::BadRequest { error: e, .. } => Some(e),
            Error::OutcomeUnknown { response, .. } => response.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, for errors that came with a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::TokenRequest { status, .. } => StatusCode::from_u16(*status).ok(),
            _ => self.graph_error().map(|e| e.status),
        }
    }

    /// Graph's `error.code` (or the OAuth `error` of a token request).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::TokenRequest { error, .. } => error.as_deref(),
            _ => self.graph_error().and_then(|e| e.code.as_deref()),
        }
    }

    /// The known synchronous refusal behind Graph's `error.code`, whatever the HTTP status.
    ///
    /// ```
    /// # use graph_comms_transport::{Error, Refusal};
    /// # fn explain(e: &Error) {
    /// if let Some(why) = e.explanation() {
    ///     eprintln!("{e}: {why}");
    /// }
    /// # }
    /// ```
    pub fn refusal(&self) -> Option<Refusal> {
        self.graph_error().and_then(GraphError::refusal)
    }

    /// What Graph's `error.code` means and what to do about it, for the codes known to this
    /// crate (see [`Refusal`]).
    pub fn explanation(&self) -> Option<&'static str> {
        self.refusal().map(Refusal::explanation)
    }

    /// Graph's `request-id`, to quote to Microsoft support.
    pub fn request_id(&self) -> Option<&str> {
        self.graph_error().and_then(|e| e.request_id.as_deref())
    }

    /// The `client-request-id` of the failed request, when known.
    pub fn client_request_id(&self) -> Option<&str> {
        match self {
            Error::OutcomeUnknown {
                client_request_id, ..
            } => Some(client_request_id),
            _ => self
                .graph_error()
                .and_then(|e| e.client_request_id.as_deref()),
        }
    }

    /// True when the request may have been acted on (see [`Error::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        HttpResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn check(status: u16, headers: &[(&str, &str)], body: &str, expect: &str) {
        let e = Error::from_status(GraphError::from_response(
            &response(status, headers, body),
            Some("sent-crid"),
            None,
        ));
        assert_eq!(e.to_string(), expect);
    }

    #[test]
    fn graph_shapes() {
        check(
            403,
            &[],
            r#"{"error":{"code":"Forbidden","message":"Application does not have permission to Transfer call.","innerError":{"date":"2024-01-01T00:00:00","request-id":"rid-1","client-request-id":"crid-1"}}}"#,
            "forbidden (does the app have Calls.Initiate.All?): HTTP 403 Forbidden: Forbidden: Application does not have permission to Transfer call. [request-id rid-1, client-request-id crid-1]",
        );
        check(
            400,
            &[("request-id", "hdr-rid")],
            r#"{"error":{"code":"7505","message":"Request unsupported.\nTransfer not allowed."}}"#,
            "bad request: HTTP 400 Bad Request: 7505: Request unsupported. Transfer not allowed. [request-id hdr-rid, client-request-id sent-crid]",
        );
        check(
            404,
            &[("client-request-id", "hdr-crid")],
            r#"{"error":{"code":"ResourceNotFound","message":"Call not found","innererror":{"code":"CallNotFound"}}}"#,
            "not found (has the call ended?): HTTP 404 Not Found: ResourceNotFound (CallNotFound): Call not found [client-request-id hdr-crid]",
        );
        check(
            500,
            &[],
            r#"{"error":{"code":500,"message":null}}"#,
            "server error: HTTP 500 Internal Server Error: 500 [client-request-id sent-crid]",
        );
        check(
            502,
            &[],
            "<html><body>Bad gateway</body></html>",
            "server error: HTTP 502 Bad Gateway, body: \"<html><body>Bad gateway</body></html>\" [client-request-id sent-crid]",
        );
        check(
            401,
            &[],
            "",
            "unauthorized: HTTP 401 Unauthorized (empty body) [client-request-id sent-crid]",
        );
        check(
            409,
            &[],
            r#"{"error":"not an object"}"#,
            "request failed: HTTP 409 Conflict, body: \"{\\\"error\\\":\\\"not an object\\\"}\" [client-request-id sent-crid]",
        );
    }

    #[test]
    fn refusals_are_keyed_on_the_numeric_code() {
        for (code, expect) in [
            ("7504", Some(Refusal::InsufficientTenantPermissions)),
            ("7505", Some(Refusal::TenantMismatch)),
            (" 8523\t", Some(Refusal::MeetingMode)),
            ("07505", Some(Refusal::TenantMismatch)),
            ("7505.0", None),
            ("-7505", None),
            ("", None),
            ("TenantMismatch", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(Refusal::from_code(code), expect, "{code:?}");
        }
        for r in Refusal::ALL {
            assert_eq!(Refusal::from_code(&r.code().to_string()), Some(r));
            assert_eq!(r.to_string(), r.explanation());
        }
        // A number in the JSON, under any status.
        let g = GraphError::from_response(
            &response(500, &[], r#"{"error":{"code":7504,"message":"m"}}"#),
            None,
            None,
        );
        assert_eq!(g.refusal(), Some(Refusal::InsufficientTenantPermissions));
        let e = Error::from_status(g);
        assert!(e.explanation().is_some_and(|x| x.contains("consent")));
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(5000);
        let g = GraphError::from_response(&response(502, &[], &body), None, None);
        assert_eq!(g.body_prefix().chars().count(), BODY_PREFIX + 1);
        assert_eq!(g.body.len(), 5000);
    }

    #[test]
    fn accessors() {
        let g = GraphError::from_response(
            &response(
                400,
                &[("date", "Tue, 01 Jan 2030 00:00:00 GMT")],
                r#"{"error":{"code":"BadRequest","message":"m","innerError":{"request-id":"r"}}}"#,
            ),
            Some("c"),
            None,
        );
        assert_eq!(g.date.as_deref(), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
        let e = Error::from_status(g);
        assert!(matches!(&e, Error::BadRequest { code: Some(c), .. } if c == "BadRequest"));
        assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST));
        assert_eq!(e.code(), Some("BadRequest"));
        assert_eq!(e.request_id(), Some("r"));
        assert_eq!(e.client_request_id(), Some("c"));
        assert!(!e.is_outcome_unknown());
    }
}
