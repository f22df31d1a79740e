//! Fault injection: `GraphCommsClient::transfer` against servers on 127.0.0.1 that refuse,
//! reset, stall, throttle, fail, truncate, answer garbage or redirect forever.
//!
//! Every case is bounded (a short client timeout, a fast retry policy, and an outer
//! `tokio::time::timeout` that must not elapse) and checks three things: the typed result, how
//! many attempts reached the server, and that a transfer body Graph may have acted on was never
//! sent twice.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Reply, TestServer};
use graph_comms_transport::{
    Accepted, BaseUrl, Error, GraphCommsClient, OutcomeUnknownReason, RetryPolicy, StaticToken,
    TransportErrorKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const BODY: &str =
    r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#;
/// The client's per-attempt timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(400);
/// The bound on a whole case; reaching it means the client hung.
const NO_HANG: Duration = Duration::from_secs(20);
const MAX_RETRIES: u32 = 3;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: MAX_RETRIES,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_total_delay: Duration::from_secs(5),
        jitter: false,
    }
}

fn client(base: &str) -> GraphCommsClient {
    GraphCommsClient::builder(Arc::new(StaticToken::new("fault-token")))
        .base_url(BaseUrl::parse(base).expect("base URL"))
        .retry_policy(fast_retries())
        .timeout(Some(ATTEMPT_TIMEOUT))
        .build()
        .expect("client")
}

/// One transfer, which must finish (in success or error) well within [`NO_HANG`].
async fn transfer(c: &GraphCommsClient) -> graph_comms_transport::Result<Accepted> {
    tokio::time::timeout(NO_HANG, c.transfer_json(CALL, BODY.into()))
        .await
        .expect("the transfer finished instead of hanging")
}

/// What the fault server does with each connection it accepts.
#[derive(Clone, Debug)]
enum Fault {
    /// Resets the connection (RST, `SO_LINGER` 0) before reading anything.
    ResetOnAccept,
    /// Reads the whole request, then resets the connection.
    ResetAfterBody,
    /// Reads the whole request, then trickles a status line a byte every 100 ms, never
    /// finishing the headers.
    SlowHeaders,
    /// Reads the whole request, writes these bytes, and closes.
    Respond(&'static [u8]),
}

/// A raw TCP server applying one [`Fault`] to every connection (at most 50), counting
/// connections and the requests whose whole body it read.
struct FaultServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    bodies: Arc<AtomicUsize>,
}

impl FaultServer {
    async fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(AtomicUsize::new(0));
        let (c, b) = (connections.clone(), bodies.clone());
        tokio::spawn(async move {
            for _ in 0..50 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, fault.clone(), b.clone()));
            }
        });
        Self {
            addr,
            connections,
            bodies,
        }
    }

    fn base(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn bodies(&self) -> usize {
        self.bodies.load(Ordering::SeqCst)
    }
}

/// Reads one request (headers, then a `Content-Length` body); true when it was read whole.
async fn read_request(stream: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..1000 {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return len > 0;
            }
        }
    }
    false
}

fn reset(stream: TcpStream) {
    // SO_LINGER 0: closing sends RST instead of FIN. (The deprecation warns of a blocking
    // close with a non-zero linger; a zero linger aborts at once.)
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn serve(mut stream: TcpStream, fault: Fault, bodies: Arc<AtomicUsize>) {
    if let Fault::ResetOnAccept = fault {
        reset(stream);
        return;
    }
    if read_request(&mut stream).await {
        bodies.fetch_add(1, Ordering::SeqCst);
    }
    match fault {
        Fault::ResetOnAccept => {}
        Fault::ResetAfterBody => reset(stream),
        Fault::SlowHeaders => {
            for &byte in b"HTTP/1.1 202 Accepted\r\nrequest-id: slow-slow-slow-slow-slow\r\n" {
                if stream.write_all(&[byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Fault::Respond(bytes) => {
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
        }
    }
}

fn is_outcome_unknown(err: &Error, why: OutcomeUnknownReason) -> bool {
    matches!(err, Error::OutcomeUnknown { reason, .. } if *reason == why)
}

#[tokio::test]
async fn connection_refused_is_retried_then_a_transport_error() {
    // A port that was free a moment ago: nothing listens, nothing is sent.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let err = transfer(&client(&format!("http://{addr}/v1.0")))
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(&err, Error::Transport(e) if e.kind() == TransportErrorKind::Connect),
        "{err:?}"
    );
    assert!(!err.is_outcome_unknown());
}

#[tokio::test]
async fn a_reset_before_the_request_was_read_is_never_sent_twice() {
    let server = FaultServer::start(Fault::ResetOnAccept).await;
    let err = transfer(&client(&server.base()))
        .await
        .expect_err("every connection is reset");
    assert_eq!(server.bodies(), 0, "the server read no request");
    // The client cannot tell whether its bytes were read before the reset: a reset once
    // connected is "outcome unknown" and is not retried; a reset reported as a connect
    // failure may be retried, within the retry limit.
    match &err {
        Error::OutcomeUnknown {
            reason: OutcomeUnknownReason::ConnectionLost,
            ..
        } => assert_eq!(server.connections(), 1, "not retried"),
        Error::Transport(e) if e.kind() == TransportErrorKind::Connect => {
            assert!(server.connections() <= 1 + MAX_RETRIES as usize);
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[tokio::test]
async fn a_reset_after_the_body_was_read_is_outcome_unknown_after_one_attempt() {
    let server = FaultServer::start(Fault::ResetAfterBody).await;
    let err = transfer(&client(&server.base()))
        .await
        .expect_err("the connection is reset");
    assert!(
        is_outcome_unknown(&err, OutcomeUnknownReason::ConnectionLost),
        "{err:?}"
    );
    assert_eq!(server.bodies(), 1, "exactly one attempt");
    assert_eq!(server.connections(), 1);
    assert!(err.client_request_id().is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn headers_slower_than_the_timeout_are_outcome_unknown_after_one_attempt() {
    let server = FaultServer::start(Fault::SlowHeaders).await;
    let err = transfer(&client(&server.base()))
        .await
        .expect_err("the headers never finish");
    assert!(
        is_outcome_unknown(&err, OutcomeUnknownReason::Timeout),
        "{err:?}"
    );
    assert_eq!(server.bodies(), 1, "exactly one attempt");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_429_storm_ends_throttled_after_every_retry() {
    let server = TestServer::start().await;
    server.fallback(
        Reply::graph_error(429, "TooManyRequests", "Slow down").header("retry-after", "0"),
    );
    let err = transfer(&client(&server.base()))
        .await
        .expect_err("always throttled");
    assert!(
        matches!(&err, Error::Throttled { retry_after: Some(d), .. } if d.is_zero()),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("TooManyRequests"));
    let requests = server.requests();
    assert_eq!(requests.len(), 1 + MAX_RETRIES as usize);
    // Each retry is the same logical request: one client-request-id, numbered attempts.
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.header("client-request-id"))
        .collect();
    assert!(
        ids.iter().all(|id| id.is_some() && *id == ids[0]),
        "{ids:?}"
    );
    let attempts: Vec<_> = requests.iter().map(|r| r.header("retry-attempt")).collect();
    assert_eq!(attempts, [None, Some("1"), Some("2"), Some("3")]);
}

#[tokio::test]
async fn a_503_storm_ends_in_a_server_error_after_every_retry() {
    let server = TestServer::start().await;
    server.fallback(Reply::graph_error(503, "ServiceUnavailable", "Try later"));
    let err = transfer(&client(&server.base()))
        .await
        .expect_err("always unavailable");
    assert!(
        matches!(&err, Error::Server(e) if e.status == 503),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1 + MAX_RETRIES as usize);
}

#[tokio::test]
async fn other_5xx_are_not_retried() {
    for (status, expect_unknown) in [(500, false), (502, false), (504, true)] {
        let server = TestServer::start().await;
        server.fallback(Reply::new(status).body("upstream trouble"));
        let err = transfer(&client(&server.base()))
            .await
            .expect_err("always failing");
        assert_eq!(server.requests().len(), 1, "HTTP {status}: one attempt");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        if expect_unknown {
            assert!(
                is_outcome_unknown(&err, OutcomeUnknownReason::GatewayTimeout),
                "{err:?}"
            );
        } else {
            assert!(matches!(&err, Error::Server(_)), "{err:?}");
        }
    }
}

/// The answer to a response whose body is cut short: the status line was read, then the
/// connection closed before `Content-Length` bytes came.
#[tokio::test]
async fn truncated_bodies_end_once_in_a_typed_result() {
    // A 202 whose body is cut: Graph accepted, and the client says so; never a second attempt.
    let server = FaultServer::start(Fault::Respond(
        b"HTTP/1.1 202 Accepted\r\nrequest-id: rid-1\r\nContent-Length: 100\r\n\r\n{\"partial",
    ))
    .await;
    let accepted = transfer(&client(&server.base()))
        .await
        .expect("the 202 stands");
    assert_eq!(accepted.request_id.as_deref(), Some("rid-1"));
    assert_eq!(server.bodies(), 1, "exactly one attempt");

    // An error status whose body is cut: the typed error by status; one attempt.
    let server = FaultServer::start(Fault::Respond(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"error\":{\"code\":\"7505\"",
    ))
    .await;
    let err = transfer(&client(&server.base()))
        .await
        .expect_err("an error status");
    assert!(matches!(&err, Error::BadRequest { .. }), "{err:?}");
    assert_eq!(server.bodies(), 1, "exactly one attempt");

    // A chunked body cut mid-chunk.
    let server = FaultServer::start(Fault::Respond(
        b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{\"error\":",
    ))
    .await;
    let err = transfer(&client(&server.base()))
        .await
        .expect_err("an error status");
    assert!(matches!(&err, Error::Forbidden(_)), "{err:?}");
    assert_eq!(server.bodies(), 1, "exactly one attempt");
}

#[tokio::test]
async fn a_malformed_response_is_outcome_unknown_after_one_attempt() {
    let garbage: [&'static [u8]; 3] = [
        b"SMTP/1.0 220 hello\r\n\r\n",
        b"HTTP/1.1 abc Weird\r\n\r\n",
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
    ];
    for bytes in garbage {
        let server = FaultServer::start(Fault::Respond(bytes)).await;
        let err = transfer(&client(&server.base()))
            .await
            .expect_err("not HTTP");
        assert!(
            is_outcome_unknown(&err, OutcomeUnknownReason::ConnectionLost),
            "{:?}: {err:?}",
            String::from_utf8_lossy(bytes)
        );
        assert_eq!(server.bodies(), 1, "exactly one attempt");
    }
}

#[tokio::test]
async fn a_202_followed_by_a_close_is_a_success() {
    let server = FaultServer::start(Fault::Respond(
        b"HTTP/1.1 202 Accepted\r\nrequest-id: rid-ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ))
    .await;
    let accepted = transfer(&client(&server.base())).await.expect("accepted");
    assert_eq!(accepted.request_id.as_deref(), Some("rid-ok"));
    assert_eq!(server.bodies(), 1);
}

/// A server that answers each request on a keep-alive connection, then closes it at once: the
/// next transfer finds a pooled connection that is dead or dying. It is either sent on a fresh
/// connection or, if it went out on the dead one, reported "outcome unknown"; never sent twice.
#[tokio::test]
async fn a_pooled_connection_closed_by_the_server_never_sends_a_transfer_twice() {
    let server = FaultServer::start(Fault::Respond(
        b"HTTP/1.1 202 Accepted\r\nrequest-id: rid-ka\r\nContent-Length: 0\r\n\r\n",
    ))
    .await;
    let c = client(&server.base());
    let mut accepted = 0;
    for _ in 0..5 {
        match transfer(&c).await {
            Ok(_) => accepted += 1,
            Err(err) => assert!(
                is_outcome_unknown(&err, OutcomeUnknownReason::ConnectionLost),
                "{err:?}"
            ),
        }
    }
    assert!(accepted >= 1);
    // Every accepted transfer reached the server once; an unknown one at most once.
    assert!(
        (accepted..=5).contains(&server.bodies()),
        "{accepted} accepted, {} bodies",
        server.bodies()
    );
}

/// Error bodies that are not Graph's JSON: each gives its typed error, keyed by status, with a
/// short message and the raw body kept, after one attempt.
#[tokio::test]
async fn error_bodies_that_are_not_graph_json_still_give_typed_errors() {
    let server = TestServer::start().await;
    let c = client(&server.base());
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::new(400)
                .header("content-type", "application/json")
                .body("not json {"),
            "BadRequest",
        ),
        (
            Reply::new(403)
                .header("content-type", "application/json")
                .body("null"),
            "Forbidden",
        ),
        (
            Reply::new(404)
                .header("content-type", "application/json")
                .body(""),
            "NotFound",
        ),
        (
            Reply::new(401)
                .header("content-type", "application/json")
                .body(deep.clone()),
            "Unauthorized",
        ),
        (
            Reply::new(400).body(&b"{\"error\":{\"code\":\"\xff\xfe\",\"message\":\"x\"}}"[..]),
            "BadRequest",
        ),
        (
            Reply::new(500)
                .header("content-type", "text/plain")
                .body("x".repeat(64 * 1024)),
            "Server",
        ),
        (
            Reply::new(418)
                .header("content-type", "application/json")
                .body("[1,2,3]"),
            "Http",
        ),
    ];
    let mut sent = 0;
    for (reply, variant) in cases {
        let body_len = reply.body.len();
        server.script([reply]);
        let err = transfer(&c).await.expect_err("an error status");
        sent += 1;
        let debug = format!("{err:?}");
        assert!(debug.starts_with(variant), "{variant}: {debug:.300}");
        assert_eq!(server.requests().len(), sent, "{variant}: one attempt");
        let graph = err.graph_error().expect("the response is kept");
        assert_eq!(
            graph.body.len(),
            body_len,
            "{variant}: the raw body is kept"
        );
        let line = err.to_string();
        assert!(line.len() < 600, "{variant}: messages stay short: {line}");
        assert!(line.contains("HTTP "), "{variant}: {line}");
    }
}

#[tokio::test]
async fn a_redirect_loop_ends_in_too_many_redirects() {
    let server = TestServer::start().await;
    let path = format!("/v1.0/communications/calls/{CALL}/transfer");
    server.fallback(Reply::new(307).header("location", path.clone()));
    let err = transfer(&client(&server.base())).await.expect_err("a loop");
    assert!(
        matches!(&err, Error::TooManyRedirects { max: 5, location } if location.ends_with(&path)),
        "{err:?}"
    );
    // The first request and five redirects followed; none was accepted, none retried.
    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    assert!(requests.iter().all(|r| r.uri == path && r.method == "POST"));

    // An absolute Location to the same URL, with redirects off.
    let server = TestServer::start().await;
    let absolute = format!("{}/communications/calls/{CALL}/transfer", server.base());
    server.fallback(Reply::new(308).header("location", absolute));
    let c = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .base_url(BaseUrl::parse(&server.base()).expect("base"))
        .retry_policy(fast_retries())
        .max_redirects(0)
        .build()
        .expect("client");
    let err = transfer(&c).await.expect_err("a loop");
    assert!(
        matches!(&err, Error::TooManyRedirects { max: 0, .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}
