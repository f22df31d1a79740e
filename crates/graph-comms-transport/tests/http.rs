//! The reqwest transport against real servers on 127.0.0.1: failures after sending, connect
//! failures, redirects, and Graph's error bodies of every shape.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{raw_server, response, Misbehave, MockTransport, Reply, TestServer};
use graph_comms_transport::{
    BaseUrl, Error, GraphCommsClient, HttpRequest, HttpResponse, OutcomeUnknownReason,
    ReqwestTransport, RetryPolicy, StaticToken, Transport, TransportError, TransportErrorKind,
};

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const BODY: &str =
    r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn client_for(base: &str) -> GraphCommsClient {
    GraphCommsClient::builder(Arc::new(StaticToken::new("static-token")))
        .base_url(BaseUrl::parse(base).unwrap())
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

async fn transfer(
    c: &GraphCommsClient,
) -> graph_comms_transport::Result<graph_comms_transport::Accepted> {
    c.transfer_json(CALL, BODY.into()).await
}

#[tokio::test]
async fn a_connection_dropped_after_the_body_was_read_is_sent_once() {
    let (addr, count) = raw_server(Misbehave::Drop).await;
    let err = transfer(&client_for(&format!("http://{addr}/v1.0")))
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1, "exactly one attempt");
    assert!(
        matches!(
            &err,
            Error::OutcomeUnknown {
                reason: OutcomeUnknownReason::ConnectionLost,
                source: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("outcome unknown, check the call's state before retrying"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_once() {
    let (addr, count) = raw_server(Misbehave::Hang).await;
    let c = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .base_url(BaseUrl::parse(&format!("http://{addr}/v1.0")).unwrap())
        .retry_policy(fast_retries())
        .timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let err = transfer(&c).await.unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(
        matches!(
            err,
            Error::OutcomeUnknown {
                reason: OutcomeUnknownReason::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Counts what reaches the inner transport.
#[derive(Debug)]
struct Counting(ReqwestTransport, std::sync::atomic::AtomicUsize);

#[async_trait]
impl Transport for Counting {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.send(request).await
    }
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    // A port that was free a moment ago: connecting is refused, nothing is sent.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let counting = Arc::new(Counting(
        ReqwestTransport::new().unwrap(),
        Default::default(),
    ));
    let c = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .base_url(BaseUrl::parse(&format!("http://{addr}/v1.0")).unwrap())
        .transport(counting.clone())
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let err = transfer(&c).await.unwrap_err();
    assert_eq!(
        counting.1.load(Ordering::SeqCst),
        4,
        "1 attempt + 3 retries"
    );
    assert!(
        matches!(&err, Error::Transport(e) if e.kind() == TransportErrorKind::Connect),
        "{err:?}"
    );
}

#[tokio::test]
async fn real_server_retry_schedules() {
    let server = TestServer::start().await;
    let c = client_for(&server.base());
    // 429 with Retry-After: 1, then accepted.
    server.script([
        Reply::new(429).header("retry-after", "1"),
        Reply::accepted(),
    ]);
    transfer(&c).await.unwrap();
    assert_eq!(server.requests().len(), 2);
    // 503 three times, then accepted.
    server.script([
        Reply::new(503),
        Reply::new(503),
        Reply::new(503),
        Reply::accepted(),
    ]);
    transfer(&c).await.unwrap();
    assert_eq!(server.requests().len(), 6);
    // 503 forever: 4 attempts, then a server error.
    server.fallback(Reply::new(503).body("busy"));
    let err = transfer(&c).await.unwrap_err();
    assert_eq!(server.requests().len(), 10);
    assert!(matches!(&err, Error::Server(e) if e.status == 503), "{err}");
    // 504 once: no retry.
    server.script([Reply::new(504)]);
    let err = transfer(&c).await.unwrap_err();
    assert_eq!(server.requests().len(), 11);
    assert!(err.is_outcome_unknown(), "{err}");
    let requests = server.requests();
    let attempts: Vec<Option<&str>> = requests[2..6]
        .iter()
        .map(|r| r.header("retry-attempt"))
        .collect();
    assert_eq!(attempts, [None, Some("1"), Some("2"), Some("3")]);
}

#[tokio::test]
async fn same_origin_307_and_308_keep_method_body_and_auth() {
    let a = TestServer::start().await;
    // Same origin, relative Location: Authorization kept, method and body kept for 307.
    a.script([
        Reply::new(307).header("location", "/v1.0/moved"),
        Reply::accepted(),
    ]);
    transfer(&client_for(&a.base())).await.unwrap();
    let r = a.requests();
    assert_eq!(r[1].uri, "/v1.0/moved");
    assert_eq!(r[1].method, "POST");
    assert_eq!(r[1].body, BODY.as_bytes());
    assert_eq!(r[1].header("authorization"), Some("Bearer static-token"));
    assert_eq!(
        r[1].header("client-request-id"),
        r[0].header("client-request-id")
    );

    // Same origin, absolute Location, 308.
    a.script([
        Reply::new(308).header("location", format!("{}/again", a.base())),
        Reply::accepted(),
    ]);
    transfer(&client_for(&a.base())).await.unwrap();
    let last = a.requests().pop().unwrap();
    assert_eq!(
        (last.uri.as_str(), last.method.as_str(), last.body.as_ref()),
        ("/v1.0/again", "POST", BODY.as_bytes())
    );
    assert_eq!(last.header("authorization"), Some("Bearer static-token"));
}

#[tokio::test]
async fn at_most_five_redirects() {
    let server = TestServer::start().await;
    let hop = |n: u32| Reply::new(307).header("location", format!("/v1.0/hop{n}"));
    server.script((1..=5).map(hop).chain([Reply::accepted()]));
    transfer(&client_for(&server.base())).await.unwrap();
    assert_eq!(server.requests().len(), 6);

    server.script((1..=6).map(hop));
    let err = transfer(&client_for(&server.base())).await.unwrap_err();
    assert!(
        matches!(&err, Error::TooManyRedirects { max: 5, location } if location.ends_with("/v1.0/hop6")),
        "{err}"
    );
    assert_eq!(
        server.requests().len(),
        12,
        "the sixth Location is not followed"
    );
}

#[tokio::test]
async fn redirect_without_location_or_to_another_scheme_is_an_error() {
    let server = TestServer::start().await;
    server.script([Reply::new(302)]);
    let err = transfer(&client_for(&server.base())).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRedirect { .. }), "{err}");
    server.script([Reply::new(302).header("location", "ftp://example.test/x")]);
    let err = transfer(&client_for(&server.base())).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRedirect { .. }), "{err}");
}

#[tokio::test]
async fn https_to_http_is_never_followed() {
    let mock = MockTransport::replies(vec![
        Ok(response(
            307,
            &[("location", "http://graph.microsoft.com/v1.0/x")],
            "",
        )),
        Ok(response(202, &[], "")),
    ]);
    let c = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .transport(mock.clone())
        .build()
        .unwrap();
    let err = transfer(&c).await.unwrap_err();
    assert_eq!(mock.count(), 1);
    assert!(
        matches!(&err, Error::InsecureRedirect { from, to }
            if from.starts_with("https://graph.microsoft.com/v1.0/communications/calls/") && to.starts_with("http://")),
        "{err}"
    );
}

#[tokio::test]
async fn error_bodies_of_every_shape() {
    let server = TestServer::start().await;
    let c = client_for(&server.base());
    let big = "y".repeat(100_000);
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::graph_error(401, "InvalidAuthenticationToken", "Access token is empty."),
            "Unauthorized",
        ),
        (
            Reply::graph_error(
                403,
                "Forbidden",
                "Application does not have permission to Transfer call.",
            ),
            "Forbidden",
        ),
        (
            Reply::graph_error(404, "8501", "Call not found."),
            "NotFound",
        ),
        (
            Reply::graph_error(400, "7505", "Request unsupported"),
            "BadRequest",
        ),
        (
            Reply::graph_error(429, "TooManyRequests", "Slow down").header("retry-after", "3600"),
            "Throttled",
        ),
        (
            Reply::graph_error(500, "UnknownError", "Unexpected"),
            "Server",
        ),
        (
            Reply::new(502)
                .header("content-type", "text/html")
                .body("<html><h1>502 Bad Gateway</h1></html>"),
            "Server",
        ),
        (Reply::new(500), "Server"),
        (
            Reply::new(409)
                .header("request-id", "hdr-rid")
                .body(r#"{"error":{"code":"Conflict"}}"#),
            "Http",
        ),
        (
            Reply::new(400).body(r#"{"error":"string, not an object"}"#),
            "BadRequest",
        ),
        (
            Reply::new(400).body(
                r#"{"error":{"code":7505,"message":["odd"],"innerError":{"request-id":42}}}"#,
            ),
            "BadRequest",
        ),
        (Reply::new(413).body(big.clone()), "Http"),
        (
            Reply::new(401).body(&b"\xff\xfe not utf-8"[..]),
            "Unauthorized",
        ),
    ];
    let mut lines = Vec::new();
    for (reply, variant) in cases {
        server.script([reply]);
        let err = transfer(&c).await.unwrap_err();
        let debug = format!("{err:?}");
        assert!(debug.starts_with(variant), "{variant}: {debug}");
        let crid = server
            .requests()
            .last()
            .unwrap()
            .header("client-request-id")
            .unwrap()
            .to_owned();
        let line = err.to_string().replace(&crid, "[sent-crid]");
        assert!(line.len() < 600, "messages stay short: {line}");
        lines.push(line);
    }
    insta::assert_json_snapshot!("error_messages", lines);

    // The typed accessors give what a bot acts on.
    server.script([
        Reply::graph_error(429, "TooManyRequests", "Slow down").header("retry-after", "3600")
    ]);
    let err = transfer(&c).await.unwrap_err();
    assert!(
        matches!(err, Error::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(3600))
    );
    server.script([Reply::graph_error(400, "7505", "Request unsupported")]);
    let err = transfer(&c).await.unwrap_err();
    assert!(matches!(&err, Error::BadRequest { code: Some(code), .. } if code == "7505"));
    assert_eq!(err.request_id(), Some("rid-from-body"));
    assert_eq!(err.client_request_id(), Some("crid-from-body"));
    assert_eq!(
        err.graph_error().unwrap().date.as_deref(),
        Some("2026-11-24T10:00:00")
    );
    server.script([Reply::new(413).body(big)]);
    let err = transfer(&c).await.unwrap_err();
    assert_eq!(
        err.graph_error().unwrap().body.len(),
        100_000,
        "the raw body is kept whole"
    );
}

#[tokio::test]
async fn get_call_reads_the_call() {
    let server = TestServer::start().await;
    server.script([
        Reply::new(503),
        Reply::new(200)
            .header("content-type", "application/json")
            .body(r#"{"id":"341a0500-d4bf-4224-8b19-1581168d328b","state":"established","newField":true}"#),
    ]);
    let call = client_for(&server.base()).get_call(CALL).await.unwrap();
    assert_eq!(call.state, Some(graph_comms_model::CallState::Established));
    let r = server.requests();
    assert_eq!(
        (r[1].method.as_str(), r[1].uri.as_str()),
        (
            "GET",
            "/v1.0/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b"
        )
    );
    assert_eq!(r[1].header("content-type"), None);
}

#[tokio::test]
async fn get_call_with_a_body_that_is_not_a_call() {
    let server = TestServer::start().await;
    server.script([Reply::new(200).body("<html>")]);
    let err = client_for(&server.base()).get_call(CALL).await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot read Graph's response body"),
        "{err}"
    );
}
