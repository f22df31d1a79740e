//! The axum endpoint: authenticate, bound and time the body, decode, feed the tracker, answer 202.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::{Bytes, BytesMut};
use graph_comms_notify::{Applied, TransferTracker};
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;

use crate::auth::{AuthConfig, Authenticator};
use crate::count;
use crate::error::{AuthError, Error, Rejection, Result};
use crate::handler::{Delivery, NotificationHandler};
use crate::log::RejectionLog;

/// The default callback path.
pub const DEFAULT_PATH: &str = "/api/calls";
/// The default body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default time allowed to receive a body once the headers are in.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The default number of bodies read at once (so at most 256 MiB of bodies in memory).
pub const DEFAULT_MAX_CONCURRENT_BODIES: usize = 256;
/// The default limit on notifications per body: more get `413`.
pub const DEFAULT_MAX_NOTIFICATIONS: usize = 1_000;
/// The default period of the rejection log's summaries (see [`ReceiverBuilder::rejection_log_period`]).
pub const DEFAULT_REJECTION_LOG_PERIOD: Duration = Duration::from_secs(60);

/// The webhook receiver: a mountable axum [`Router`] that authenticates Graph's callbacks, decodes
/// them, feeds a [`TransferTracker`] and a [`NotificationHandler`], and answers `202 Accepted`.
///
/// Cheap to clone (an `Arc` inside).
///
/// ```no_run
/// use graph_comms_receiver::{AuthConfig, Receiver};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = AuthConfig::new("my-app-id");
/// let receiver = Receiver::builder(auth).path("/callbacks/calls").build()?;
/// let tracker = receiver.tracker().clone();
/// let app = axum::Router::new().merge(receiver.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// tokio::spawn(graph_comms_receiver::serve(listener, app, Default::default()));
/// let outcome = tracker.track("call-id")?.await;
/// println!("{outcome:?}");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Receiver {
    shared: Arc<Shared>,
}

struct Shared {
    auth: Authenticator,
    tracker: TransferTracker,
    handler: Option<Arc<dyn NotificationHandler>>,
    path: String,
    exact_path: bool,
    max_body_bytes: usize,
    max_notifications: usize,
    body_timeout: Duration,
    /// Bounds the memory held by bodies being read: one permit per body.
    body_permits: tokio::sync::Semaphore,
    counters: Counters,
    log: RejectionLog,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("auth", &self.auth)
            .field("path", &self.path)
            .field("exact_path", &self.exact_path)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_notifications", &self.max_notifications)
            .field("body_timeout", &self.body_timeout)
            .field("handler", &self.handler.is_some())
            .finish_non_exhaustive()
    }
}

/// Declares the receiver's counters once: `Counters`, the atomics the handler bumps, and
/// [`ReceiverStats`], their snapshot, so that a counter added here is both counted and reported.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        #[derive(Default)]
        struct Counters {
            $($name: AtomicU64,)*
        }

        /// The receiver's counters: every request is either accepted or counted under one
        /// rejection.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct ReceiverStats {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Counters {
            fn snapshot(&self) -> ReceiverStats {
                ReceiverStats {
                    $($name: self.$name.load(Ordering::Relaxed),)*
                }
            }
        }
    };
}

counters! {
    /// POSTs that reached the endpoint.
    requests,
    /// Callbacks answered `202` (their events were applied).
    accepted,
    /// Notifications (events) applied to the tracker.
    events,
    /// 401s.
    unauthorized,
    /// 403s.
    forbidden,
    /// 503s (no signing keys).
    keys_unavailable,
    /// 415s.
    unsupported_media_type,
    /// 413s for a body over the size limit.
    payload_too_large,
    /// 413s for a body holding more notifications than the limit.
    too_many_notifications,
    /// Notifications of accepted callbacks that were not applied because their transfer belongs
    /// to another tenant than the callback's token (`tid`). Not a rejection: the callback is
    /// answered `202` and its other notifications apply.
    other_tenant,
    /// 408s.
    timeout,
    /// 400s.
    bad_request,
    /// 503s because too many bodies were being read.
    busy,
}

impl ReceiverStats {
    /// All rejections together.
    pub fn rejected(&self) -> u64 {
        self.unauthorized
            + self.forbidden
            + self.keys_unavailable
            + self.unsupported_media_type
            + self.payload_too_large
            + self.too_many_notifications
            + self.timeout
            + self.bad_request
            + self.busy
    }
}

/// Builds a [`Receiver`]: the auth config is required, everything else has a default.
#[derive(Debug)]
#[must_use]
pub struct ReceiverBuilder {
    auth: AuthConfig,
    tracker: Option<TransferTracker>,
    handler: Option<HandlerSlot>,
    path: String,
    exact_path: bool,
    max_body_bytes: usize,
    max_notifications: usize,
    body_timeout: Duration,
    max_concurrent_bodies: usize,
    rejection_log_period: Duration,
}

struct HandlerSlot(Arc<dyn NotificationHandler>);

impl std::fmt::Debug for HandlerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotificationHandler")
    }
}

impl ReceiverBuilder {
    /// The callback path (default [`DEFAULT_PATH`]): it must start with `/`, must not end with
    /// `/` (unless it is `/`), and must not contain `{`, `}`, `*`, `?`, `#` or `//`.
    ///
    /// The receiver answers `POST {path}` and, unless [`exact_path`](Self::exact_path) is set,
    /// `POST {path}/{anything}` too: Microsoft's docs use `/api/calls/{appId}`, the samples
    /// `…/notification`, and bots often give each call its own callback path. A query string is
    /// ignored.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Answer `POST {path}` only, not the paths below it (default `false`).
    pub fn exact_path(mut self, exact: bool) -> Self {
        self.exact_path = exact;
        self
    }

    /// The most notifications one body may hold (default [`DEFAULT_MAX_NOTIFICATIONS`]); more
    /// get `413` before the body is decoded. With the body limit, this bounds the memory the
    /// events of one callback take.
    pub fn max_notifications(mut self, notifications: usize) -> Self {
        self.max_notifications = notifications;
        self
    }

    /// The period of the rejection log (default [`DEFAULT_REJECTION_LOG_PERIOD`]): in each period,
    /// the first refusal of each kind is logged at `warn`, a few more at `debug`, and the rest
    /// only counted, then summed up in one `warn` line when the period is over.
    pub fn rejection_log_period(mut self, period: Duration) -> Self {
        self.rejection_log_period = period;
        self
    }

    /// Use this tracker (default: a new `TransferTracker` with its default settings).
    pub fn tracker(mut self, tracker: TransferTracker) -> Self {
        self.tracker = Some(tracker);
        self
    }

    /// Call this handler for every accepted callback.
    pub fn handler(mut self, handler: impl NotificationHandler) -> Self {
        self.handler = Some(HandlerSlot(Arc::new(handler)));
        self
    }

    /// The largest body accepted (default 1 MiB); larger ones get `413`, checked while reading.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Time allowed to receive the body (default 10 s); slower senders get `408`.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How many bodies are read at once (default [`DEFAULT_MAX_CONCURRENT_BODIES`]); with the
    /// body limit this bounds the memory bodies take. Requests beyond it wait, within the body
    /// timeout, then get `503`.
    pub fn max_concurrent_bodies(mut self, bodies: usize) -> Self {
        self.max_concurrent_bodies = bodies;
        self
    }

    /// Validates the configuration and builds the receiver.
    pub fn build(self) -> Result<Receiver> {
        if let Err(rule) = check_path(&self.path) {
            return Err(Error::Config {
                field: "path",
                rule: format!("{rule}, got {:?}", self.path),
            });
        }
        if self.max_notifications == 0 {
            return Err(Error::Config {
                field: "max_notifications",
                rule: "must be positive".to_owned(),
            });
        }
        if self.max_concurrent_bodies == 0 || self.max_concurrent_bodies > MAX_PERMITS {
            return Err(Error::Config {
                field: "max_concurrent_bodies",
                rule: format!("must be between 1 and {MAX_PERMITS}"),
            });
        }
        if self.max_body_bytes == 0 {
            return Err(Error::Config {
                field: "max_body_bytes",
                rule: "must be positive".to_owned(),
            });
        }
        let auth = Authenticator::new(self.auth)?;
        Ok(Receiver {
            shared: Arc::new(Shared {
                auth,
                tracker: self.tracker.unwrap_or_default(),
                handler: self.handler.map(|h| h.0),
                path: self.path,
                exact_path: self.exact_path,
                max_body_bytes: self.max_body_bytes,
                max_notifications: self.max_notifications,
                body_timeout: self.body_timeout,
                body_permits: tokio::sync::Semaphore::new(self.max_concurrent_bodies),
                counters: Counters::default(),
                log: RejectionLog::new(self.rejection_log_period),
            }),
        })
    }
}

impl Receiver {
    /// A builder for a receiver authenticating callbacks with `auth`.
    pub fn builder(auth: AuthConfig) -> ReceiverBuilder {
        ReceiverBuilder {
            auth,
            tracker: None,
            handler: None,
            path: DEFAULT_PATH.to_owned(),
            exact_path: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_notifications: DEFAULT_MAX_NOTIFICATIONS,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_concurrent_bodies: DEFAULT_MAX_CONCURRENT_BODIES,
            rejection_log_period: DEFAULT_REJECTION_LOG_PERIOD,
        }
    }

    /// A receiver with every default: path `/api/calls`, a new tracker, no handler.
    pub fn new(auth: AuthConfig) -> Result<Self> {
        Self::builder(auth).build()
    }

    /// The router answering `POST {path}` and, unless the path is exact, `POST {path}/{anything}`;
    /// merge or nest it into the bot's own router.
    pub fn router(&self) -> Router {
        let path = &self.shared.path;
        let mut router = Router::new().route(path, post(ingest));
        if !self.shared.exact_path {
            let below = format!("{}/{{*rest}}", path.trim_end_matches('/'));
            router = router.route(&below, post(ingest));
        }
        router.with_state(self.shared.clone())
    }

    /// The tracker the callbacks feed: `track` a call before (or right after) sending its transfer.
    pub fn tracker(&self) -> &TransferTracker {
        &self.shared.tracker
    }

    /// The authenticator (to prefetch keys, read its counters, ...).
    pub fn authenticator(&self) -> &Authenticator {
        &self.shared.auth
    }

    /// The route path.
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// The receiver's counters.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.counters.snapshot()
    }
}

impl Shared {
    fn count(&self, rejection: Rejection) {
        let c = &self.counters;
        let counter = match rejection {
            Rejection::Unauthorized => &c.unauthorized,
            Rejection::Forbidden => &c.forbidden,
            Rejection::KeysUnavailable => &c.keys_unavailable,
            Rejection::UnsupportedMediaType => &c.unsupported_media_type,
            Rejection::PayloadTooLarge => &c.payload_too_large,
            Rejection::TooManyNotifications => &c.too_many_notifications,
            Rejection::Timeout => &c.timeout,
            Rejection::BadRequest => &c.bad_request,
            Rejection::Busy => &c.busy,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts and logs a refusal and builds its response. `message` goes to the (authenticated)
    /// caller and, escaped, to the log.
    fn reject(&self, rejection: Rejection, code: &str, message: &str) -> Response {
        let status = self.refuse(rejection, code, message, None);
        error_response(status, code, message)
    }

    /// Counts and logs a refusal; returns its status.
    fn refuse(
        &self,
        rejection: Rejection,
        code: &str,
        detail: &str,
        hint: Option<&'static str>,
    ) -> StatusCode {
        self.count(rejection);
        let status = match rejection {
            Rejection::Unauthorized => StatusCode::UNAUTHORIZED,
            Rejection::Forbidden => StatusCode::FORBIDDEN,
            Rejection::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::PayloadTooLarge | Rejection::TooManyNotifications => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Rejection::Timeout => StatusCode::REQUEST_TIMEOUT,
            Rejection::BadRequest => StatusCode::BAD_REQUEST,
            Rejection::Busy => StatusCode::SERVICE_UNAVAILABLE,
        };
        self.log.refused(rejection, status, code, detail, hint);
        status
    }

    /// An unauthenticated caller gets a generic message; the detail (which may name the
    /// configuration, e.g. the OpenID URL) goes to the log only.
    fn reject_auth(&self, error: &AuthError) -> Response {
        let (rejection, message, hint) = match error.status() {
            StatusCode::FORBIDDEN => (
                Rejection::Forbidden,
                "the token is issued for another application",
                Some("a genuine token for another app id: check the app id this receiver is configured with"),
            ),
            StatusCode::SERVICE_UNAVAILABLE => (
                Rejection::KeysUnavailable,
                "the signing keys are unavailable; retry later",
                Some("check the OpenID configuration URL and that it is reachable (Authenticator::refresh_keys at start-up)"),
            ),
            _ => (Rejection::Unauthorized, "the bearer token was refused", None),
        };
        let status = self.refuse(rejection, error.code(), &error.to_string(), hint);
        let mut response = error_response(status, error.code(), message);
        if rejection == Rejection::Unauthorized {
            let challenge = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                error.code()
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    // The media type's essence: what comes before any parameter, without surrounding spaces
    // (HTTP's optional whitespace is spaces and tabs).
    let bytes = value.as_bytes();
    let end = bytes.iter().position(|&b| b == b';').unwrap_or(bytes.len());
    bytes[..end]
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

/// The order matters: authentication first (nothing of the body is read for a bad token), then
/// the content type, then the size (declared, then while reading), then the JSON.
async fn ingest(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();

    let caller = match shared
        .auth
        .authenticate(parts.headers.get(AUTHORIZATION))
        .await
    {
        Ok(caller) => caller,
        Err(error) => return shared.reject_auth(&error),
    };

    if !is_json(parts.headers.get(CONTENT_TYPE)) {
        return shared.reject(
            Rejection::UnsupportedMediaType,
            "unsupported_media_type",
            "Content-Type must be application/json",
        );
    }

    let limit = shared.max_body_bytes;
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return too_large(&shared, limit);
    }

    // One permit per body being read bounds their memory; waiting counts against the timeout.
    // A permit that is free and a body that has already arrived (the usual case: a callback is
    // a few hundred bytes) are taken without arming the timer.
    // The clock is read only by a callback that has to wait.
    let mut deadline_at = None;
    let mut deadline =
        || *deadline_at.get_or_insert_with(|| tokio::time::Instant::now() + shared.body_timeout);
    let permit = match shared.body_permits.try_acquire() {
        Ok(permit) => Ok(permit),
        Err(_) => tokio::time::timeout_at(deadline(), shared.body_permits.acquire())
            .await
            .map_err(|_| ())
            .and_then(|acquired| acquired.map_err(|_| ())),
    };
    let Ok(_permit) = permit else {
        return shared.reject(
            Rejection::Busy,
            "busy",
            "too many callbacks are being read; retry later",
        );
    };
    let mut read = std::pin::pin!(read_limited(body, limit));
    let arrived = std::future::poll_fn(|cx| Poll::Ready(Future::poll(read.as_mut(), cx))).await;
    let read = match arrived {
        Poll::Ready(read) => Ok(read),
        Poll::Pending => tokio::time::timeout_at(deadline(), read).await,
    };
    let bytes = match read {
        Err(_elapsed) => {
            return shared.reject(
                Rejection::Timeout,
                "body_timeout",
                "the request body did not arrive in time",
            )
        }
        Ok(Err(BodyError::TooLarge)) => return too_large(&shared, limit),
        Ok(Err(BodyError::Read(message))) => {
            return shared.reject(Rejection::BadRequest, "body_read_failed", &message)
        }
        Ok(Ok(bytes)) => bytes,
    };

    if count::exceeds(&bytes, shared.max_notifications) {
        return shared.reject(
            Rejection::TooManyNotifications,
            "too_many_notifications",
            &format!(
                "the body holds more than {} notifications, the receiver's limit",
                shared.max_notifications
            ),
        );
    }

    let events = match graph_comms_notify::decode(&bytes) {
        Ok(events) => events,
        Err(error) => {
            return shared.reject(
                Rejection::BadRequest,
                "invalid_notifications",
                &format!("the body is not a commsNotifications batch: {error}"),
            )
        }
    };

    // The token's tenant goes with the events: a transfer followed under one tenant is never
    // resolved by another's notifications (`Applied::OtherTenant`).
    let tenant = caller.tenant_id.as_deref();
    // What the tracker did with each event; a batch of a few (the usual case) needs no
    // allocation for it.
    let apply = |e| shared.tracker.apply_for_tenant(e, tenant);
    let mut few = [Applied::Ignored; 4];
    let many: Vec<Applied>;
    let applied: &[Applied] = if events.len() <= few.len() {
        for (slot, event) in few.iter_mut().zip(&events) {
            *slot = apply(event);
        }
        &few[..events.len()]
    } else {
        many = events.iter().map(apply).collect();
        &many
    };
    shared
        .counters
        .events
        .fetch_add(events.len() as u64, Ordering::Relaxed);
    let other_tenant = applied
        .iter()
        .filter(|a| matches!(a, Applied::OtherTenant))
        .count();
    if other_tenant > 0 {
        shared
            .counters
            .other_tenant
            .fetch_add(other_tenant as u64, Ordering::Relaxed);
        tracing::warn!(
            tenant = ?caller.tenant_id,
            notifications = other_tenant,
            "notifications for transfers of another tenant were not applied"
        );
    }
    if let Some(handler) = &shared.handler {
        let delivery = Delivery {
            caller: &caller,
            events: &events,
            applied,
        };
        handler.on_notifications(&delivery);
        // Incoming calls get a full decode, only for the batches that have one.
        if events.iter().any(graph_comms_notify::is_incoming) {
            for mut call in graph_comms_notify::incoming_calls(&bytes).unwrap_or_default() {
                if call.tenant_id.is_none() {
                    call.tenant_id.clone_from(&caller.tenant_id);
                }
                handler.on_incoming_call(&call, &delivery);
            }
        }
    }
    shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
    StatusCode::ACCEPTED.into_response()
}

fn too_large(shared: &Shared, limit: usize) -> Response {
    shared.reject(
        Rejection::PayloadTooLarge,
        "payload_too_large",
        &format!("the body exceeds the limit of {limit} bytes"),
    )
}

/// Tokio's semaphore limit.
const MAX_PERMITS: usize = usize::MAX >> 3;

enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads the body whole, refusing it as soon as its data passes `limit` bytes.
///
/// A callback's body usually arrives as one frame: that frame's bytes are returned as they are,
/// without the copy and the buffer list of a general-purpose collector. A body in several frames
/// is gathered into one buffer, which never grows past `limit`. Reading stops as soon as the
/// body says it is whole ([`HttpBody::is_end_stream`]: hyper knows it once a declared length
/// has arrived), without polling it once more for its end.
async fn read_limited(mut body: Body, limit: usize) -> std::result::Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut gathered: Option<BytesMut> = None;
    let mut total = 0usize;
    while !HttpBody::is_end_stream(&body) {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame =
            frame.map_err(|error| BodyError::Read(format!("reading the body failed: {error}")))?;
        let Ok(data) = frame.into_data() else {
            // Trailers carry no notification.
            continue;
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return Err(BodyError::TooLarge);
        }
        if data.is_empty() {
            continue;
        }
        match (&mut first, &mut gathered) {
            (_, Some(buffer)) => buffer.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (Some(earlier), None) => {
                let mut buffer = BytesMut::with_capacity(total);
                buffer.extend_from_slice(earlier);
                buffer.extend_from_slice(&data);
                gathered = Some(buffer);
            }
        }
    }
    Ok(match gathered {
        Some(buffer) => buffer.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// Why a callback path is not usable (see [`ReceiverBuilder::path`]).
fn check_path(path: &str) -> std::result::Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("must start with '/'");
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err("must not end with '/'");
    }
    if path.contains("//") {
        return Err("must not contain an empty segment");
    }
    if path.contains(['{', '}', '*', '?', '#']) {
        return Err("must not contain '{', '}', '*', '?' or '#'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Frame;

    /// A body of `frames`, which says it is whole once they are all taken (as hyper's does once
    /// a declared length has arrived) when `says_whole`, and fails if polled past them.
    struct Frames {
        frames: std::collections::VecDeque<Bytes>,
        says_whole: bool,
    }

    impl HttpBody for Frames {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
            Poll::Ready(match self.frames.pop_front() {
                Some(data) => Some(Ok(Frame::data(data))),
                None if self.says_whole => Some(Err(std::io::Error::other("polled past its end"))),
                None => None,
            })
        }

        fn is_end_stream(&self) -> bool {
            self.says_whole && self.frames.is_empty()
        }
    }

    fn body(frames: &[&'static str], says_whole: bool) -> Body {
        Body::new(Frames {
            frames: frames
                .iter()
                .map(|f| Bytes::from_static(f.as_bytes()))
                .collect(),
            says_whole,
        })
    }

    async fn read(body: Body, limit: usize) -> std::result::Result<Bytes, String> {
        read_limited(body, limit).await.map_err(|e| match e {
            BodyError::TooLarge => "too large".to_owned(),
            BodyError::Read(message) => message,
        })
    }

    #[tokio::test]
    async fn a_body_that_says_it_is_whole_is_not_polled_again() {
        assert_eq!(
            read(body(&["{\"value\":[]}"], true), 64).await.as_deref(),
            Ok(&b"{\"value\":[]}"[..])
        );
        assert_eq!(
            read(body(&["{\"val", "ue\":[]}"], true), 64)
                .await
                .as_deref(),
            Ok(&b"{\"value\":[]}"[..])
        );
        assert_eq!(read(body(&[], true), 64).await.as_deref(), Ok(&b""[..]));
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_is_gathered_and_bounded() {
        assert_eq!(
            read(body(&["{\"val", "", "ue\":[]}"], false), 64)
                .await
                .as_deref(),
            Ok(&b"{\"value\":[]}"[..])
        );
        assert_eq!(
            read(body(&["{\"val", "ue\":[]}"], false), 8).await,
            Err("too large".to_owned())
        );
    }
}
