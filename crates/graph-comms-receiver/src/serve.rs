//! A small HTTP/1.1 server loop with the bounds a public webhook needs (see [`serve`]).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::repoll::Repoll;

/// The default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The default idle timeout: no byte moved, and no request being handled, for this long.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time allowed to receive a request's headers.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a connection buffers while reading a request's head (hyper's minimum is 8 KiB; a
/// callback's headers, token included, take 2 to 3 KiB): bigger heads get `431`.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The shortest and longest pause after a failed `accept`.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));
/// At most one warning about failing `accept`s per this period.
const ACCEPT_WARN_PERIOD: Duration = Duration::from_secs(10);

/// Options of [`serve`]. Build with `Default` and set the public fields.
///
/// ```
/// use std::time::Duration;
/// use graph_comms_receiver::ServeOptions;
///
/// let mut options = ServeOptions::default();
/// options.max_connections = 4096;
/// options.idle_timeout = Duration::from_secs(30);
/// assert_eq!(options.header_read_timeout, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Time allowed to receive a request's headers (default 10 s); the connection is closed after.
    pub header_read_timeout: Duration,
    /// A connection that moves no byte in either direction for this long while none of its
    /// requests is being handled is closed (default [`DEFAULT_IDLE_TIMEOUT`]). This is what frees
    /// the connections of clients that pipeline requests and never read the answers.
    pub idle_timeout: Duration,
    /// The most connections open at once (default [`DEFAULT_MAX_CONNECTIONS`]). At the cap, new
    /// connections wait in the listener's backlog until one closes. Keep it below the process's
    /// file-descriptor limit (`ulimit -n`) minus what the bot needs for itself.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServeOptions {
    fn validate(&self) -> Result<()> {
        let config = |field, rule: &str| Error::Config {
            field,
            rule: rule.to_owned(),
        };
        if self.max_connections == 0 || self.max_connections > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(config(
                "max_connections",
                "must be at least 1 (and below tokio's semaphore limit)",
            ));
        }
        if self.idle_timeout.is_zero() {
            return Err(config("idle_timeout", "must be positive"));
        }
        if self.header_read_timeout.is_zero() {
            return Err(config("header_read_timeout", "must be positive"));
        }
        Ok(())
    }
}

/// Serves `router` on `listener` until the task is dropped or accepting fails fatally.
///
/// Prefer [`serve`] to a plain `axum::serve` for anything reachable from the internet.
/// `axum::serve` sets no header-read timeout (a client that trickles its headers holds a connection
/// forever), no cap on connections (each holds a file descriptor: once they run out, `accept`
/// fails and genuine callbacks go unanswered), and nothing closes a connection whose client
/// pipelines requests and never reads the answers (hyper stops reading while its write is
/// blocked, so no read timeout ever fires). [`serve`] runs any [`Router`] (the receiver's,
/// merged into the bot's own) with:
///
/// - hyper's header-read timeout ([`ServeOptions::header_read_timeout`]);
/// - an idle timeout ([`ServeOptions::idle_timeout`]): a connection that moves no byte, in either
///   direction, for that long while none of its requests is being handled is closed — a client
///   that stopped reading its answers, or an idle keep-alive connection;
/// - a cap on open connections ([`ServeOptions::max_connections`]): at the cap, accepting pauses
///   (new connections wait in the kernel's backlog) until one closes, so the process never runs
///   out of descriptors because of its callers;
/// - at most [`READ_BUFFER_BYTES`] buffered per connection while reading a request's head;
/// - exponential back-off when `accept` fails (out of descriptors and the like), with one warning
///   per burst instead of one per failure;
/// - `TCP_NODELAY`.
///
/// The body timeout and the body size limit are the receiver's own
/// ([`ReceiverBuilder`](crate::ReceiverBuilder)).
///
/// Dropping the future stops accepting and closes the open connections. For a clean stop, use
/// [`serve_with_shutdown`].
///
/// # Errors
/// [`Error::Config`] for invalid [`ServeOptions`]; [`Error::Io`] when `accept` fails with an
/// error that retrying cannot cure.
///
/// ```no_run
/// # async fn run(receiver: graph_comms_receiver::Receiver) -> graph_comms_receiver::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3978").await?;
/// graph_comms_receiver::serve(listener, receiver.router(), Default::default()).await
/// # }
/// ```
pub async fn serve(listener: TcpListener, router: Router, options: ServeOptions) -> Result<()> {
    serve_with_shutdown(listener, router, options, std::future::pending()).await
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets every
/// open connection finish the request it is on (idle keep-alive connections are closed), and
/// returns once all connections have closed.
///
/// # Errors
/// As [`serve`].
///
/// ```no_run
/// # async fn run(receiver: graph_comms_receiver::Receiver) -> graph_comms_receiver::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3978").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(graph_comms_receiver::serve_with_shutdown(
///     listener,
///     receiver.router(),
///     Default::default(),
///     async move { let _ = stopped.await; },
/// ));
/// // ... later:
/// let _ = stop.send(());
/// # let _ = server.await;
/// # Ok(()) }
/// ```
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    options.validate()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    loop {
        // Reap finished connection tasks so the set stays as small as the open connections.
        while connections.try_join_next().is_some() {}
        // At the cap, wait for a connection to close before accepting another.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_closed) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(error) if is_transient(&error) => {
                // Out of file descriptors and the like: back off instead of spinning; the
                // connections open meanwhile are still served, and the idle timeout frees theirs.
                let pause = backoff.failed(&error, connections.len());
                drop(slot);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
            Err(error) => return Err(error.into()),
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::trace!(%error, "set_nodelay failed");
        }
        let activity = Arc::new(Activity::new());
        let service = Tracked {
            inner: TowerToHyperService::new(router.clone()),
            activity: activity.clone(),
        };
        let options = options.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            serve_connection(stream, service, activity, &options, stop).await;
            tracing::trace!(%peer, "connection closed");
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection until it ends, stalls past the idle timeout, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    service: Tracked,
    activity: Arc<Activity>,
    options: &ServeOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(READ_BUFFER_BYTES)
        .keep_alive(true)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    // A handler reading its body wakes the connection's task from within its own poll; that
    // wake is a poll at once instead of a yield to the back of the runtime's queue.
    let repoll = Repoll::new();
    let mut stopping = false;
    loop {
        let idle = activity.idle_for();
        if idle >= options.idle_timeout {
            // Dropping the connection closes the socket.
            // Per-connection events are `trace`: a hostile caller controls how many there are.
            tracing::trace!(
                idle_ms = idle.as_millis() as u64,
                "closing a connection that made no progress"
            );
            return;
        }
        let wake = Instant::now() + (options.idle_timeout - idle);
        // Progress made during a poll is stamped once that poll returns: one clock read per
        // poll that moved bytes, not one per read, write and answer.
        let polled = std::future::poll_fn(|cx| {
            let polled = repoll.poll(connection.as_mut(), cx);
            activity.stamp();
            polled
        });
        tokio::select! {
            result = polled => {
                if let Err(error) = result {
                    tracing::trace!(%error, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// When a connection last made progress, and how many of its requests are being handled.
#[derive(Debug)]
struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last byte read or written (or request finished), as
    /// stamped by [`Activity::stamp`].
    last_progress_ms: AtomicU64,
    /// Progress noted by [`Activity::touch`] and not stamped yet. Bytes move and requests finish
    /// only while the connection's task polls the connection, and the task stamps after each
    /// poll: the clock is read once per poll that made progress, instead of at every read, write
    /// and answer (three times for a callback answered in one poll).
    moved: AtomicBool,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            last_progress_ms: AtomicU64::new(0),
            moved: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Notes progress (a byte moved, a request finished), to be stamped after this poll.
    fn touch(&self) {
        self.moved.store(true, Ordering::Relaxed);
    }

    /// Stamps the progress noted since the last stamp with the time now.
    fn stamp(&self) {
        if self.moved.load(Ordering::Relaxed) && self.moved.swap(false, Ordering::Relaxed) {
            let now = Instant::now().duration_since(self.started).as_millis() as u64;
            self.last_progress_ms.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// How long the connection has made no progress; zero while a request is being handled
    /// (the handler's own timeouts bound that).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        self.stamp();
        let last =
            self.started + Duration::from_millis(self.last_progress_ms.load(Ordering::Relaxed));
        Instant::now().saturating_duration_since(last)
    }
}

/// The socket, noting every byte moved as progress.
#[derive(Debug)]
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router as a hyper service, counting the requests being handled.
#[derive(Debug)]
struct Tracked {
    inner: TowerToHyperService<Router>,
    activity: Arc<Activity>,
}

/// Marks a request as being handled until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router's answer to one request.
type RouterResponse =
    <TowerToHyperService<Router> as hyper::service::Service<http::Request<Incoming>>>::Future;

/// A request being handled: the router's answer, with the request marked in flight until that
/// answer is ready or the request is dropped. No allocation of its own: the router's future is
/// `Unpin` (this does not compile otherwise), so it is polled in place instead of boxed.
struct TrackedResponse {
    inner: RouterResponse,
    in_flight: Option<InFlight>,
}

impl Future for TrackedResponse {
    type Output = std::result::Result<axum::response::Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = Pin::new(&mut self.inner).poll(cx);
        if polled.is_ready() {
            self.in_flight = None;
        }
        polled
    }
}

impl hyper::service::Service<http::Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = TrackedResponse;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        TrackedResponse {
            in_flight: Some(InFlight::new(self.activity.clone())),
            inner: self.inner.call(request),
        }
    }
}

/// The pause after failed `accept`s: doubling from 10 ms to 1 s, reset by a success; one warning
/// per burst (and at most one per [`ACCEPT_WARN_PERIOD`]) with the number of failures.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u64,
    pause: Duration,
    last_warning: Option<Instant>,
    unreported: u64,
}

impl AcceptBackoff {
    fn failed(&mut self, error: &std::io::Error, open: usize) -> Duration {
        self.failures += 1;
        self.unreported += 1;
        self.pause = if self.pause.is_zero() {
            ACCEPT_BACKOFF.0
        } else {
            (self.pause * 2).min(ACCEPT_BACKOFF.1)
        };
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= ACCEPT_WARN_PERIOD)
        {
            tracing::warn!(
                %error,
                failures = self.unreported,
                open_connections = open,
                retry_in_ms = self.pause.as_millis() as u64,
                "accepting connections fails (out of file descriptors? lower ServeOptions::max_connections or raise `ulimit -n`); backing off"
            );
            self.last_warning = Some(now);
            self.unreported = 0;
        }
        self.pause
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::debug!(failures = self.failures, "accepting connections again");
        }
        self.failures = 0;
        self.pause = Duration::ZERO;
        self.unreported = 0;
    }
}

fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut
    ) || error.raw_os_error().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_options_are_config_errors() {
        let mut options = ServeOptions::default();
        assert!(options.validate().is_ok());
        options.max_connections = 0;
        let error = options.validate().err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.starts_with("invalid receiver configuration: max_connections")),
            "{error:?}"
        );
        let options = ServeOptions {
            idle_timeout: Duration::ZERO,
            ..ServeOptions::default()
        };
        assert!(options.validate().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_to_a_second_and_resets() {
        let mut backoff = AcceptBackoff::default();
        let error = std::io::Error::from_raw_os_error(24);
        let pauses: Vec<_> = (0..10).map(|_| backoff.failed(&error, 0)).collect();
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[1], Duration::from_millis(20));
        assert_eq!(pauses[9], Duration::from_secs(1));
        backoff.succeeded();
        assert_eq!(backoff.failed(&error, 0), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_handled_is_never_idle() {
        let activity = Arc::new(Activity::new());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(activity.idle_for() >= Duration::from_secs(5));
        let in_flight = InFlight::new(activity.clone());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(activity.idle_for(), Duration::ZERO);
        drop(in_flight);
        assert!(activity.idle_for() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_counts_from_the_stamp_after_the_poll_that_made_it() {
        let activity = Activity::new();
        tokio::time::advance(Duration::from_secs(5)).await;
        // A read and a write in one poll, stamped once after it.
        activity.touch();
        activity.touch();
        activity.stamp();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(activity.idle_for(), Duration::from_secs(3));
        // Nothing moved since: stamping again changes nothing.
        activity.stamp();
        assert_eq!(activity.idle_for(), Duration::from_secs(3));
        // Progress noted but not stamped yet is not idle time either.
        activity.touch();
        assert_eq!(activity.idle_for(), Duration::ZERO);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(activity.idle_for(), Duration::from_secs(2));
    }
}
