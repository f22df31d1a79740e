//! Hostile input from an authenticated sender: size, content type, JSON, slow senders.

mod support;

use std::time::Duration;

use graph_comms_receiver::{AuthConfig, Receiver};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATH: &str = "/api/calls";

async fn setup(
    configure: impl FnOnce(
        graph_comms_receiver::ReceiverBuilder,
    ) -> graph_comms_receiver::ReceiverBuilder,
) -> (KeyServer, Receiver, std::net::SocketAddr) {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = configure(Receiver::builder(config))
        .build()
        .expect("receiver");
    let addr = start(&receiver).await;
    (keys, receiver, addr)
}

fn token() -> String {
    key().sign(&claims(APP_ID))
}

fn error_code(response: &RawResponse) -> String {
    let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON error body");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_declared_body_over_one_mebibyte_is_413_before_reading() {
    let (_keys, receiver, addr) = setup(|b| b).await;
    let mut client = RawClient::connect(addr).await.expect("connect");
    // Headers only: the 413 must come without the body ever being sent.
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        token(),
        1024 * 1024 + 1
    );
    client.write_raw(request.as_bytes()).await.expect("write");
    let response = client.read_response().await.expect("response");
    assert_eq!(response.status, 413);
    assert_eq!(error_code(&response), "payload_too_large");
    assert_eq!(receiver.stats().payload_too_large, 1);
    assert_eq!(receiver.stats().accepted, 0);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_while_reading() {
    let (_keys, receiver, addr) = setup(|b| b).await;
    let mut client = RawClient::connect(addr).await.expect("connect");
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        token()
    );
    client.write_raw(request.as_bytes()).await.expect("write");
    // Stream 64 KiB chunks; the server must answer 413 after about 1 MiB, never buffering 8 MiB.
    let chunk = vec![b' '; 64 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    for _ in 0..128 {
        if client.write_raw(&framed).await.is_err() {
            break; // the server closed the connection after answering
        }
    }
    let response = client.read_response().await.expect("response");
    assert_eq!(response.status, 413);
    assert_eq!(receiver.stats().payload_too_large, 1);
    assert_eq!(receiver.stats().accepted, 0);
}

/// Sends `pieces` as the chunks of one chunked body, one write each with a pause between, so
/// that the server reads them as several frames (pieces written at once could be read as one:
/// then the test still passes, without the several-frame path); returns the response.
async fn post_in_pieces(addr: std::net::SocketAddr, pieces: &[&[u8]]) -> RawResponse {
    let mut client = RawClient::connect(addr).await.expect("connect");
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        token()
    );
    client.write_raw(head.as_bytes()).await.expect("write");
    for piece in pieces {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
        framed.extend_from_slice(piece);
        framed.extend_from_slice(b"\r\n");
        client.write_raw(&framed).await.expect("write");
    }
    client.write_raw(b"0\r\n\r\n").await.expect("write");
    client.read_response().await.expect("response")
}

#[tokio::test]
async fn a_body_in_several_chunks_is_read_whole_and_bounded_as_a_whole() {
    let (_keys, receiver, addr) = setup(|b| b.max_body_bytes(4096)).await;
    let mut body = notification("call-1", "transferring").into_bytes();
    body.resize(4096, b' ');
    // Cut inside the JSON: the pieces decode only once put together in order.
    let (a, rest) = body.split_at(7);
    let (b, c) = rest.split_at(20);
    let response = post_in_pieces(addr, &[a, b, c]).await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    assert_eq!(receiver.stats().accepted, 1);
    assert_eq!(receiver.stats().events, 1);
    assert_eq!(receiver.tracker().stats().buffered_events, 1);

    // One byte over the limit, spread over the pieces, is refused.
    body.push(b' ');
    let (a, rest) = body.split_at(2048);
    let response = post_in_pieces(addr, &[a, rest]).await;
    assert_eq!(response.status, 413);
    assert_eq!(receiver.stats().payload_too_large, 1);

    // A first piece that is invalid on its own is not judged alone.
    let response = post_in_pieces(addr, &[b"{\"value\"", b": []}"]).await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    assert_eq!(receiver.stats().accepted, 2);
}

#[tokio::test]
async fn a_body_at_the_limit_is_read_and_judged_on_its_json() {
    let (_keys, receiver, addr) = setup(|b| b.max_body_bytes(4096)).await;
    let mut body = notification("call-1", "transferring").into_bytes();
    body.resize(4096, b' ');
    let response = post_once(addr, PATH, &auth_headers(&token()), &body).await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    body.push(b' ');
    let response = post_once(addr, PATH, &auth_headers(&token()), &body).await;
    assert_eq!(response.status, 413);
    assert_eq!(receiver.stats().accepted, 1);
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let (_keys, receiver, addr) = setup(|b| b).await;
    let body = notification("call-1", "transferring");
    for content_type in [
        Some("text/plain"),
        Some("application/xml"),
        Some("application/jsonx"),
        Some("application/ json"),
        Some(";application/json"),
        None,
    ] {
        let mut headers = vec![("Authorization", format!("Bearer {}", token()))];
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct.to_owned()));
        }
        let response = post_once(addr, PATH, &headers, body.as_bytes()).await;
        assert_eq!(response.status, 415, "{content_type:?}");
        assert_eq!(error_code(&response), "unsupported_media_type");
    }
    // Parameters, case and the spaces or tabs around the essence are fine.
    for content_type in [
        "Application/JSON; charset=utf-8",
        " application/json\t;charset=utf-8",
        "application/json ",
    ] {
        let headers = [
            ("Authorization", format!("Bearer {}", token())),
            ("Content-Type", content_type.to_owned()),
        ];
        assert_eq!(
            post_once(addr, PATH, &headers, body.as_bytes())
                .await
                .status,
            202,
            "{content_type:?}"
        );
    }
    assert_eq!(receiver.stats().unsupported_media_type, 6);
    assert_eq!(receiver.stats().accepted, 3);
}

#[tokio::test]
async fn invalid_json_is_400_with_a_clear_message() {
    let (_keys, receiver, addr) = setup(|b| b).await;
    let cases: [&[u8]; 5] = [
        b"{\"value\": [",
        b"not json",
        b"",
        b"[1,2]",
        &[0xff, 0xfe, 0x00],
    ];
    for body in cases {
        let response = post_once(addr, PATH, &auth_headers(&token()), body).await;
        assert_eq!(response.status, 400, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(error_code(&response), "invalid_notifications");
        let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("the body is not a commsNotifications batch: "),
            "{message}"
        );
    }
    assert_eq!(receiver.stats().bad_request, 5);
    assert_eq!(receiver.stats().accepted, 0);
    assert_eq!(receiver.stats().events, 0);
}

#[tokio::test]
async fn a_slow_body_times_out_with_408() {
    let (_keys, receiver, addr) = setup(|b| b.body_timeout(Duration::from_millis(200))).await;
    let mut client = RawClient::connect(addr).await.expect("connect");
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"value\":",
        token()
    );
    client.write_raw(request.as_bytes()).await.expect("write");
    // The rest never comes; the response must, bounded by a generous deadline.
    let response = tokio::time::timeout(Duration::from_secs(30), client.read_response())
        .await
        .expect("a response within 30 s")
        .expect("response");
    assert_eq!(response.status, 408);
    assert_eq!(receiver.stats().timeout, 1);
    assert_eq!(receiver.stats().accepted, 0);
}

#[tokio::test]
async fn slow_headers_are_cut_off_by_the_server_loop() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = Receiver::new(config).expect("receiver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut options = graph_comms_receiver::ServeOptions::default();
    options.header_read_timeout = Duration::from_millis(200);
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        options,
    ));

    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"POST /api/calls HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // The server must close the connection (possibly after a 408) instead of waiting forever.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "connection still open after 30 s");
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert_eq!(receiver.stats().requests, 0);
}

#[tokio::test]
async fn only_post_is_routed_and_other_paths_are_404() {
    let (_keys, receiver, addr) = setup(|b| b.path("/hooks/graph")).await;
    let body = notification("call-1", "transferring");
    let response = post_once(addr, "/api/calls", &auth_headers(&token()), body.as_bytes()).await;
    assert_eq!(response.status, 404);
    let response = post_once(
        addr,
        "/hooks/graph",
        &auth_headers(&token()),
        body.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 202);
    let mut client = RawClient::connect(addr).await.expect("connect");
    client
        .write_raw(b"GET /hooks/graph HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(client.read_response().await.expect("response").status, 405);
    assert_eq!(receiver.stats().accepted, 1);
}

#[tokio::test]
async fn the_router_mounts_inside_a_bot_router() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = Receiver::new(config).expect("receiver");
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .nest("/bot", receiver.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        app,
        Default::default(),
    ));
    let body = notification("call-1", "transferring");
    let response = post_once(
        addr,
        "/bot/api/calls",
        &auth_headers(&token()),
        body.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    assert_eq!(receiver.stats().accepted, 1);
}

#[tokio::test]
async fn bodies_read_at_once_are_bounded_and_the_excess_gets_503() {
    let (_keys, receiver, addr) = setup(|b| {
        b.max_concurrent_bodies(1)
            .body_timeout(Duration::from_millis(300))
    })
    .await;
    // A holds the only permit with a body that never completes.
    let mut a = RawClient::connect(addr).await.expect("connect");
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        token()
    );
    a.write_raw(request.as_bytes()).await.expect("write");
    // B, complete, waits for a permit, then is told to retry.
    let mut b = RawClient::connect(addr).await.expect("connect");
    let body = notification("call-1", "transferring");
    let headers = auth_headers(&token());
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let wait = Duration::from_secs(30);
    let response_b = tokio::time::timeout(wait, b.post(PATH, &headers, body.as_bytes()))
        .await
        .expect("B answered")
        .expect("response");
    let response_a = tokio::time::timeout(wait, a.read_response())
        .await
        .expect("A answered")
        .expect("response");
    let mut statuses = [response_a.status, response_b.status];
    statuses.sort_unstable();
    // B either waited out A's timeout (503) or got the permit A released on timing out (202).
    assert!(
        statuses == [408, 503] || statuses == [202, 408],
        "{statuses:?}"
    );
    let stats = receiver.stats();
    assert_eq!(stats.timeout, 1);
    assert_eq!(stats.busy + stats.accepted, 1);
}

#[tokio::test]
async fn serve_with_shutdown_stops_accepting_and_closes_idle_connections() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = Receiver::new(config).expect("receiver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(graph_comms_receiver::serve_with_shutdown(
        listener,
        receiver.router(),
        Default::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut client = RawClient::connect(addr).await.expect("connect");
    let body = notification("call-1", "transferring");
    let headers = auth_headers(&token());
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let response = client
        .post(PATH, &headers, body.as_bytes())
        .await
        .expect("response");
    assert_eq!(response.status, 202);

    let _ = stop.send(());
    let finished = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops within 30 s")
        .expect("server task");
    assert!(finished.is_ok(), "{finished:?}");
    // The idle keep-alive connection was closed, and nothing listens any more.
    assert!(client.read_response().await.is_err());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(receiver.stats().accepted, 1);
}

/// One 1 MiB body of empty notifications would decode to some 190 MB of events: past the
/// notifications limit it is `413` before the decode, and nothing reaches the tracker.
#[tokio::test]
async fn more_notifications_than_the_limit_are_413_before_decoding() {
    let (_keys, receiver, addr) = setup(|b| b).await;
    let token = token();
    let post = |body: String| {
        let headers = auth_headers(&token);
        async move { post_once(addr, PATH, &headers, body.as_bytes()).await }
    };
    let batch = |n: usize| format!("{{\"value\":[{}]}}", vec!["{}"; n].join(","));

    // 349 518 empty notifications fill 1 MiB.
    let bomb = batch(349_518);
    assert!(bomb.len() <= 1024 * 1024);
    let response = post(bomb).await;
    assert_eq!(response.status, 413, "{}", response.body_text());
    assert_eq!(error_code(&response), "too_many_notifications");
    let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(
        body["error"]["message"],
        "the body holds more than 1000 notifications, the receiver's limit"
    );
    // The default limit is 1 000: exactly that many pass, one more does not.
    assert_eq!(post(batch(1_000)).await.status, 202);
    assert_eq!(post(batch(1_001)).await.status, 413);
    // An escaped `value` key is counted too.
    let escaped = format!("{{\"\\u0076alue\":[{}]}}", vec!["{}"; 1_001].join(","));
    assert_eq!(post(escaped).await.status, 413);

    let stats = receiver.stats();
    assert_eq!((stats.too_many_notifications, stats.accepted), (3, 1));
    assert_eq!(stats.events, 1_000);
    assert_eq!(receiver.tracker().stats().applied, 1_000);
}

#[tokio::test]
async fn the_notifications_limit_is_configurable() {
    let (_keys, receiver, addr) = setup(|b| b.max_notifications(2)).await;
    let token = token();
    let headers = auth_headers(&token);
    let three = format!(
        "{{\"value\":[{},{},{}]}}",
        r#"{"resourceUrl":"/communications/calls/a","resourceData":{"state":"transferring"}}"#,
        r#"{"resourceUrl":"/communications/calls/b","resourceData":{"state":"transferring"}}"#,
        r#"{"resourceUrl":"/communications/calls/c","resourceData":{"state":"transferring"}}"#,
    );
    let response = post_once(addr, PATH, &headers, three.as_bytes()).await;
    assert_eq!(response.status, 413, "{}", response.body_text());
    let response = post_once(
        addr,
        PATH,
        &headers,
        notification("a", "transferring").as_bytes(),
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    assert_eq!(receiver.stats().too_many_notifications, 1);
    let error = Receiver::builder(AuthConfig::new(APP_ID))
        .max_notifications(0)
        .build()
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("invalid receiver configuration: max_notifications: must be positive")
    );
}
