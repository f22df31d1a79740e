//! What the client never does, each shown against hostile servers on 127.0.0.1: send a client
//! secret after a redirect, buffer an unbounded body, send a bearer token over plain http to a
//! stranger, re-send a transfer on a redirect (or to another origin); and Graph's numeric
//! refusals explained.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{response, MockTransport, Reply, TestServer};
use graph_comms_transport::{
    BaseUrl, ClientCredential, ClientCredentials, Error, GraphCommsClient, HttpRequest, Refusal,
    ReqwestTransport, RetryPolicy, StaticToken, TokenProvider, Transport, TransportErrorKind,
    DEFAULT_MAX_RESPONSE_BODY,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const BODY: &str =
    r#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#;
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn client_for(base: &str) -> GraphCommsClient {
    GraphCommsClient::builder(Arc::new(StaticToken::new("static-token")))
        .base_url(BaseUrl::parse(base).expect("base"))
        .retry_policy(fast_retries())
        .build()
        .expect("client")
}

// ---------------------------------------------------------------------------------------------
// 1. The client secret never follows a redirect.

/// A client whose tokens come from `authority`'s token endpoint with a client secret.
fn secret_client(authority: &TestServer, graph: &TestServer) -> GraphCommsClient {
    let tokens = ClientCredentials::builder(
        "app",
        ClientCredential::Secret("client-secret-value".into()),
    )
    .authority_host(&authority.root())
    .expect("authority")
    .retry_policy(fast_retries())
    .build()
    .expect("provider");
    GraphCommsClient::builder(Arc::new(tokens))
        .base_url(BaseUrl::parse(&graph.base()).expect("base"))
        .tenant(TENANT)
        .retry_policy(fast_retries())
        .build()
        .expect("client")
}

#[tokio::test]
async fn token_requests_never_follow_redirects() {
    let authority = TestServer::start().await;
    let elsewhere = TestServer::start().await;
    let graph = TestServer::start().await;
    let client = secret_client(&authority, &graph);
    let stolen = format!(
        "http://localhost:{}/{TENANT}/oauth2/v2.0/token?\"quoted\"",
        elsewhere.addr.port()
    );
    let same_origin = format!("/{TENANT}/oauth2/v2.0/elsewhere");
    for (status, location) in [
        (307, stolen.as_str()),
        (308, stolen.as_str()),
        (302, stolen.as_str()),
        (301, stolen.as_str()),
        (307, same_origin.as_str()),
    ] {
        authority.state.token.lock().unwrap().error =
            Some(Reply::new(status).header("location", location));
        let before = authority.token_requests().len();
        let err = client
            .transfer_json(CALL, BODY.into())
            .await
            .expect_err("a redirect is no token");
        match &err {
            Error::TokenRedirect {
                tenant,
                status: s,
                location: Some(l),
            } => assert_eq!(
                (tenant.as_str(), *s, l.as_str()),
                (TENANT, status, location)
            ),
            other => panic!("{status}: {other:?}"),
        }
        // Named with its status, and the Location escaped (it is attacker-controlled).
        let text = err.to_string();
        assert!(text.contains(&format!("HTTP {status}")), "{text}");
        assert!(text.contains(&format!("{location:?}")), "{text}");
        assert!(text.contains("never follow redirects"), "{text}");
        // One request to the authority, none anywhere else, and no transfer sent.
        assert_eq!(authority.token_requests().len(), before + 1);
    }
    assert!(elsewhere.token_requests().is_empty());
    assert!(elsewhere.requests().is_empty());
    assert!(
        authority.requests().is_empty(),
        "nothing left the token endpoint"
    );
    assert!(graph.requests().is_empty(), "no token, no transfer");
}

#[tokio::test]
async fn the_location_of_a_token_redirect_is_never_visited() {
    let mock = MockTransport::replies(vec![
        Ok(response(
            307,
            &[("location", "https://attacker.example/token")],
            "",
        )),
        Ok(response(
            200,
            &[],
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"stolen"}"#,
        )),
    ]);
    let provider = ClientCredentials::builder(
        "app",
        ClientCredential::Secret("client-secret-value".into()),
    )
    .transport(mock.clone())
    .build()
    .expect("provider");
    let err = provider.token(TENANT).await.expect_err("no token");
    assert!(
        matches!(&err, Error::TokenRedirect { status: 307, .. }),
        "{err:?}"
    );
    assert_eq!(mock.count(), 1, "the Location was not visited");
}

// ---------------------------------------------------------------------------------------------
// 2. Response bodies are bounded while they stream in.

const HUGE: usize = 64 * 1024 * 1024;
/// What a server may have written before the client stopped reading: the limit plus the
/// socket buffers on both sides, far below `HUGE`.
const BOUNDED: usize = 24 * 1024 * 1024;

/// A server answering every request with `head` and then `HUGE` bytes of body (chunked when
/// `chunked`), counting what it could write before the client went away. The count arrives on
/// the receiver when the server stops writing.
async fn streaming_server(
    head: &'static str,
    chunked: bool,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                // Read the request head and body (a transfer or a token form is small).
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let text = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                if stream.write_all(head.as_bytes()).await.is_err() {
                    let _ = tx.send(0);
                    return;
                }
                let piece = vec![b'x'; 64 * 1024];
                let mut written = 0;
                while written < HUGE {
                    let ok = if chunked {
                        let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
                        framed.extend_from_slice(&piece);
                        framed.extend_from_slice(b"\r\n");
                        stream.write_all(&framed).await.is_ok()
                    } else {
                        stream.write_all(&piece).await.is_ok()
                    };
                    if !ok {
                        break;
                    }
                    written += piece.len();
                }
                if chunked && written >= HUGE {
                    let _ = stream.write_all(b"0\r\n\r\n").await;
                }
                let _ = tx.send(written);
            });
        }
    });
    (format!("http://{addr}"), rx)
}

async fn written(rx: &mut tokio::sync::mpsc::UnboundedReceiver<usize>) -> usize {
    rx.recv().await.expect("the server reports what it wrote")
}

#[tokio::test]
async fn a_202_with_an_endless_body_stays_accepted_and_is_not_buffered() {
    let (root, mut rx) = streaming_server(
        "HTTP/1.1 202 Accepted\r\nrequest-id: rid-1\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    )
    .await;
    let client = client_for(&format!("{root}/v1.0"));
    let accepted = client
        .transfer_json(CALL, BODY.into())
        .await
        .expect("Graph acted: the 202 stands");
    assert_eq!(accepted.status.as_u16(), 202);
    assert_eq!(accepted.request_id.as_deref(), Some("rid-1"));
    let n = written(&mut rx).await;
    assert!(n < BOUNDED, "the client read {n} bytes of body");
}

#[tokio::test]
async fn a_declared_huge_body_is_refused_before_it_is_read() {
    // A call read whose Content-Length is past the limit: refused, named, not read.
    let head: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {HUGE}\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (root, mut rx) = streaming_server(head, false).await;
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .base_url(BaseUrl::parse(&format!("{root}/v1.0")).expect("base"))
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let err = client.get_call(CALL).await.expect_err("too large");
    assert!(
        matches!(err, Error::ResponseTooLarge { status: 200, limit } if limit == DEFAULT_MAX_RESPONSE_BODY),
        "{err:?}"
    );
    assert!(err.to_string().contains("1048576 bytes"), "{err}");
    let n = written(&mut rx).await;
    assert!(n < BOUNDED, "the client read {n} bytes of body");
}

#[tokio::test]
async fn an_error_status_with_an_endless_body_keeps_its_typed_error() {
    let (root, mut rx) = streaming_server(
        "HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    )
    .await;
    let err = client_for(&format!("{root}/v1.0"))
        .transfer_json(CALL, BODY.into())
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let n = written(&mut rx).await;
    assert!(n < BOUNDED, "the client read {n} bytes of body");
}

#[tokio::test]
async fn an_endless_token_response_is_refused_and_not_buffered() {
    let (root, mut rx) = streaming_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    )
    .await;
    let provider = ClientCredentials::builder("app", ClientCredential::Secret("s".into()))
        .authority_host(&root)
        .expect("authority")
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("provider");
    let err = provider.token(TENANT).await.expect_err("no token");
    assert!(
        matches!(&err, Error::InvalidTokenResponse { reason, .. } if reason.contains("longer than the limit")),
        "{err:?}"
    );
    let n = written(&mut rx).await;
    assert!(n < BOUNDED, "the client read {n} bytes of body");
}

#[tokio::test]
async fn the_transport_itself_bounds_what_it_reads() {
    // The path the receiver takes for OpenID documents and key sets: the trait, no client.
    let (root, mut rx) = streaming_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    )
    .await;
    let transport = ReqwestTransport::new().expect("transport");
    let request = HttpRequest {
        method: http::Method::GET,
        url: format!("{root}/keys").parse().expect("url"),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
    };
    let err = transport
        .send(request.clone())
        .await
        .expect_err("past the default limit");
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);
    assert!(!err.is_not_sent());
    let head = err.response().expect("the status and headers are kept");
    assert_eq!((head.status.as_u16(), head.body.len()), (200, 0));
    assert!(err.to_string().contains("1048576"), "{err}");
    let n = written(&mut rx).await;
    assert!(n < BOUNDED, "the transport read {n} bytes of body");

    // A smaller limit, per request or per transport.
    let err = transport
        .send_with_body_limit(request.clone(), 1000)
        .await
        .expect_err("past 1000 bytes");
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);
    assert!(written(&mut rx).await < BOUNDED);
    let small = ReqwestTransport::new()
        .expect("transport")
        .with_max_response_body(1000);
    assert_eq!(small.max_response_body(), 1000);
    let err = small.send(request).await.expect_err("past 1000 bytes");
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);
    assert!(written(&mut rx).await < BOUNDED);
}

#[tokio::test]
async fn the_limit_is_configurable_and_holds_for_any_transport() {
    // A transport without a limit of its own: the trait's default check applies.
    let mock = MockTransport::replies(vec![Ok(response(202, &[], &"y".repeat(17)))]);
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .transport(mock.clone())
        .max_response_body(16)
        .build()
        .expect("client");
    let accepted = client
        .transfer_json(CALL, BODY.into())
        .await
        .expect("accepted");
    assert_eq!(accepted.status.as_u16(), 202);

    let mock = MockTransport::replies(vec![Ok(response(200, &[], &"y".repeat(17)))]);
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .transport(mock.clone())
        .max_response_body(16)
        .build()
        .expect("client");
    let err = client.get_call(CALL).await.expect_err("17 > 16");
    assert!(
        matches!(
            err,
            Error::ResponseTooLarge {
                status: 200,
                limit: 16
            }
        ),
        "{err:?}"
    );
    assert_eq!(mock.count(), 1, "a success is not retried");

    // At the limit exactly: read.
    let call = r#"{"id":"c"}"#;
    let mock = MockTransport::replies(vec![Ok(response(200, &[], call))]);
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .transport(mock)
        .max_response_body(call.len())
        .build()
        .expect("client");
    assert_eq!(
        client.get_call(CALL).await.expect("read").id.as_deref(),
        Some("c")
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A bearer token never goes over plain http to a host other than loopback.

#[tokio::test]
async fn plain_http_carries_no_secret_except_to_loopback() {
    for stranger in [
        "http://graph.example.com/v1.0",
        "http://10.0.0.1/v1.0",
        "http://graph.microsoft.com/v1.0",
    ] {
        let mock = MockTransport::replies(vec![Ok(response(202, &[], ""))]);
        let err = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
            .base_url(BaseUrl::parse(stranger).expect("parses"))
            .transport(mock.clone())
            .build()
            .expect_err("refused");
        assert!(
            matches!(&err, Error::InsecureUrl { url, what: "a bearer token" } if stranger.starts_with(url.trim_end_matches('/'))),
            "{stranger}: {err:?}"
        );
        assert!(err.to_string().contains("plain http"), "{err}");
        assert_eq!(mock.count(), 0);

        let authority = stranger.trim_end_matches("/v1.0");
        let err = ClientCredentials::builder("app", ClientCredential::Secret("s".into()))
            .authority_host(authority)
            .expect_err("refused");
        assert!(
            matches!(
                &err,
                Error::InsecureUrl {
                    what: "the client secret or assertion",
                    ..
                }
            ),
            "{authority}: {err:?}"
        );
    }
    for local in [
        "http://127.0.0.1:9/v1.0",
        "http://127.8.9.10/v1.0",
        "http://[::1]:9/v1.0",
        "http://localhost:9/v1.0",
        "https://graph.example.com/v1.0",
    ] {
        let mock = MockTransport::replies(vec![Ok(response(202, &[], ""))]);
        let client = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
            .base_url(BaseUrl::parse(local).expect("parses"))
            .transport(mock.clone())
            .build()
            .expect("allowed");
        client.transfer_json(CALL, BODY.into()).await.expect("sent");
        assert_eq!(mock.count(), 1, "{local}");
        ClientCredentials::builder("app", ClientCredential::Secret("s".into()))
            .authority_host(local.trim_end_matches("/v1.0"))
            .expect("allowed");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A transfer follows only same-origin 307 and 308.

#[tokio::test]
async fn a_transfer_is_not_re_sent_on_301_302_or_303() {
    let server = TestServer::start().await;
    for status in [301, 302, 303] {
        server.script([
            Reply::new(status).header("location", "/v1.0/moved"),
            Reply::accepted(),
        ]);
        let before = server.requests().len();
        let err = transfer_err(&client_for(&server.base())).await;
        match &err {
            Error::RedirectNotFollowed {
                method,
                status: s,
                location,
                ..
            } => assert_eq!(
                (method.as_str(), *s, location.as_str()),
                ("POST", status, "/v1.0/moved")
            ),
            other => panic!("{status}: {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("Graph answered POST"), "{text}");
        assert!(text.contains("with a redirect"), "{text}");
        assert!(text.contains("nothing was transferred"), "{text}");
        assert_eq!(server.requests().len(), before + 1, "sent once");
        // Drop the unused scripted 202.
        server.state.script.lock().unwrap().clear();
    }
}

async fn transfer_err(client: &GraphCommsClient) -> Error {
    client
        .transfer_json(CALL, BODY.into())
        .await
        .expect_err("refused")
}

#[tokio::test]
async fn a_transfer_never_follows_a_redirect_to_another_origin() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    for (status, location) in [
        (307, format!("http://localhost:{}/v1.0/x", a.addr.port())), // another host
        (308, format!("{}/x", b.base())),                            // another port
        (307, format!("{}/x", b.base())),
    ] {
        a.script([Reply::new(status).header("location", location.clone())]);
        let err = transfer_err(&client_for(&a.base())).await;
        assert!(
            matches!(&err, Error::RedirectNotFollowed { status: s, location: l, .. } if *s == status && *l == location),
            "{err:?}"
        );
        assert!(err.to_string().contains("another origin"), "{err}");
    }
    assert!(
        b.requests().is_empty(),
        "the 202 of another origin never counts"
    );
    assert_eq!(a.requests().len(), 3, "each transfer sent once");
}

#[tokio::test]
async fn reads_follow_same_origin_redirects_only() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    let call = Reply::new(200)
        .header("content-type", "application/json")
        .body(r#"{"id":"moved-call"}"#);
    a.script([
        Reply::new(302).header("location", "/v1.0/elsewhere"),
        call.clone(),
    ]);
    let read = client_for(&a.base())
        .get_call(CALL)
        .await
        .expect("followed");
    assert_eq!(read.id.as_deref(), Some("moved-call"));
    let last = a.requests().pop().expect("two requests");
    assert_eq!(
        (last.method.as_str(), last.uri.as_str()),
        ("GET", "/v1.0/elsewhere")
    );
    assert_eq!(last.header("authorization"), Some("Bearer static-token"));

    b.script([call]);
    a.script([Reply::new(301).header("location", format!("{}/x", b.base()))]);
    let err = client_for(&a.base())
        .get_call(CALL)
        .await
        .expect_err("not followed");
    assert!(
        matches!(&err, Error::RedirectNotFollowed { method, status: 301, .. } if method == "GET"),
        "{err:?}"
    );
    assert!(b.requests().is_empty(), "the token never crossed origins");
}

#[tokio::test]
async fn a_hostile_location_is_escaped_and_cut() {
    // Visible ASCII (anything else is not a readable Location): quotes and backslashes are
    // escaped, and a long value is cut to 200 characters.
    let long = format!("https://x.example/\"a\\b{}", "z".repeat(500));
    let mock = MockTransport::replies(vec![Ok(response(302, &[("location", &long)], ""))]);
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .transport(mock.clone())
        .build()
        .expect("client");
    let text = transfer_err(&client).await.to_string();
    assert!(
        text.contains(r#"Location "https://x.example/\"a\\bzzz"#),
        "{text}"
    );
    assert!(text.contains("zzz…\""), "{text}");
    assert!(text.len() < 800, "{text}");
    assert_eq!(mock.count(), 1);

    // A token endpoint's Location with a tab and a byte that is not UTF-8.
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "location",
        http::HeaderValue::from_bytes(b"https://x.example/\"a\tb\xff").expect("obs-text"),
    );
    let mock = MockTransport::new(move |_, _| {
        let headers = headers.clone();
        async move {
            let mut r = response(307, &[], "");
            r.headers = headers;
            Ok(r)
        }
    });
    let provider = ClientCredentials::builder("app", ClientCredential::Secret("s".into()))
        .transport(mock)
        .build()
        .expect("provider");
    let text = provider
        .token(TENANT)
        .await
        .expect_err("no token")
        .to_string();
    assert!(
        text.contains(r#"Location "https://x.example/\"a\tb�")"#),
        "{text}"
    );
    assert!(!text.contains('\t'), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Synchronous refusals: 7504, 7505 and 8523 explained, whatever the status.

#[tokio::test]
async fn graph_refusal_codes_are_explained() {
    let server = TestServer::start().await;
    let cases = [
        (
            403,
            r#"{"error":{"code":"7504","message":"Insufficient enterprise tenant permissions, cannot access this API."}}"#,
            Refusal::InsufficientTenantPermissions,
            "consent",
        ),
        (
            403,
            r#"{"error":{"code":7505,"message":"Request authorization tenant mismatch."}}"#,
            Refusal::TenantMismatch,
            "tenant",
        ),
        (
            400,
            r#"{"error":{"code":"7505","message":"Request authorization tenant mismatch."}}"#,
            Refusal::TenantMismatch,
            "token",
        ),
        (
            400,
            r#"{"error":{"code":8523,"message":"Cannot do transfer for meeting mode"}}"#,
            Refusal::MeetingMode,
            "meeting",
        ),
        (
            500,
            r#"{"error":{"code":" 8523 ","message":"Cannot do transfer for meeting mode"}}"#,
            Refusal::MeetingMode,
            "invite",
        ),
    ];
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("t")))
        .base_url(BaseUrl::parse(&server.base()).expect("base"))
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    for (status, body, refusal, word) in cases {
        server.script([Reply::new(status)
            .header("content-type", "application/json")
            .body(body)]);
        let err = transfer_err(&client).await;
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(err.refusal(), Some(refusal), "{body}");
        let why = err.explanation().expect("explained");
        assert_eq!(why, refusal.explanation());
        assert!(why.starts_with(&refusal.code().to_string()), "{why}");
        assert!(why.contains(word), "{why}");
        assert_eq!(err.graph_error().and_then(|g| g.refusal()), Some(refusal));
    }
    // Other codes, and no code, have none.
    for body in [
        r#"{"error":{"code":"Forbidden","message":"m"}}"#,
        r#"{"error":{"code":7506,"message":"m"}}"#,
        "not json",
    ] {
        server.script([Reply::new(403).body(body)]);
        let err = transfer_err(&client).await;
        assert_eq!((err.refusal(), err.explanation()), (None, None), "{body}");
    }
}
