//! Hostile input beyond `input.rs`: slow-loris senders, deeply nested JSON, huge strings and
//! invalid UTF-8 inside authenticated bodies; none may crash the receiver or reach the tracker.
//!
//! Counts and deadlines are bounded: every wait has a generous outer timeout that must not
//! elapse.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PATH: &str = "/api/calls";
/// The bound on any wait; reaching it means the server hung or kept a connection open.
const DEADLINE: Duration = Duration::from_secs(30);

fn token() -> String {
    key().sign(&claims(APP_ID))
}

/// A receiver behind the crate's server loop, with short header and body timeouts.
async fn setup(
    header_timeout: Duration,
    body_timeout: Duration,
) -> (KeyServer, Receiver, SocketAddr) {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = Receiver::builder(config)
        .body_timeout(body_timeout)
        .build()
        .expect("receiver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut options = ServeOptions::default();
    options.header_read_timeout = header_timeout;
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        options,
    ));
    (keys, receiver, addr)
}

async fn default_setup() -> (KeyServer, Receiver, SocketAddr) {
    setup(Duration::from_secs(10), Duration::from_secs(10)).await
}

/// Posts `body` with an honest token, bounded by [`DEADLINE`].
async fn post(addr: SocketAddr, body: &[u8]) -> RawResponse {
    tokio::time::timeout(
        DEADLINE,
        post_once(addr, PATH, &auth_headers(&token()), body),
    )
    .await
    .expect("answered within the deadline")
}

fn error_message(response: &RawResponse) -> String {
    let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON error body");
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Checks that a rejected body got `400` with the decoder's message and that nothing reached
/// the tracker.
fn check_rejected(receiver: &Receiver, response: &RawResponse, what: &str) {
    assert_eq!(response.status, 400, "{what}: {}", response.body_text());
    let message = error_message(response);
    assert!(
        message.starts_with("the body is not a commsNotifications batch: "),
        "{what}: {message}"
    );
    assert!(message.len() < 500, "{what}: the message stays short");
    assert_eq!(receiver.tracker().stats().applied, 0, "{what}");
    assert_eq!(receiver.stats().events, 0, "{what}");
}

/// Writes `bytes` one at a time, `gap` apart, until the server stops reading or closes; then
/// reads whatever it answered. Bounded by the byte count and by [`DEADLINE`].
async fn trickle(addr: SocketAddr, head: &[u8], bytes: &[u8], gap: Duration) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = async move {
        if write.write_all(head).await.is_ok() {
            for &b in bytes {
                if write.write_all(&[b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(gap).await;
            }
        }
        // Cut off, or everything was sent: either way the reader (and its deadline) decides,
        // so the write half stays open until then.
        std::future::pending::<()>().await;
    };
    let reader = async move {
        let mut answer = Vec::new();
        let _ = read.read_to_end(&mut answer).await;
        answer
    };
    tokio::time::timeout(DEADLINE, async {
        tokio::select! {
            answer = reader => answer,
            () = writer => unreachable!("the writer never finishes"),
        }
    })
    .await
    .expect("the server closed the slow connection within the deadline")
}

#[tokio::test]
async fn slow_loris_senders_are_cut_off_while_honest_callbacks_get_through() {
    const SLOW: usize = 24;
    let (_keys, receiver, addr) = setup(Duration::from_secs(1), Duration::from_secs(1)).await;
    let gap = Duration::from_millis(25);
    // Headers that never end: a header line a byte at a time (3 000 bytes would take 75 s).
    let endless_header = vec![b'a'; 3000];
    // A body a byte at a time, after complete, authenticated headers.
    let body_head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 3000\r\n\r\n",
        token()
    );
    let slow_body = vec![b' '; 3000];

    let mut tasks = Vec::new();
    for i in 0..SLOW {
        let (head, bytes): (Vec<u8>, &[u8]) = if i % 2 == 0 {
            (
                format!("POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Slow: ").into_bytes(),
                &endless_header,
            )
        } else {
            (body_head.clone().into_bytes(), &slow_body)
        };
        let bytes = bytes.to_vec();
        tasks.push(tokio::spawn(async move {
            trickle(addr, &head, &bytes, gap).await
        }));
    }
    // Idle connections that send nothing at all.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }

    // Meanwhile honest callbacks are served (each on its own connection: an idle keep-alive
    // connection is closed by the same header timeout).
    for i in 0..10 {
        let response = post(addr, roster(&format!("call-{i}")).as_bytes()).await;
        assert_eq!(response.status, 202, "{}", response.body_text());
    }

    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    for answer in &answers {
        // Each was answered 408 (counted below) and closed; the 408 itself may be lost to the
        // reset that closing with unread bytes causes, so an empty answer is fine too.
        let text = String::from_utf8_lossy(answer);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    for mut stream in idle {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "an idle connection is still open");
    }

    let stats = receiver.stats();
    assert_eq!(stats.accepted, 10);
    assert_eq!(stats.timeout, (SLOW / 2) as u64, "{stats:?}");
    assert_eq!(
        stats.requests,
        10 + (SLOW / 2) as u64,
        "slow headers never reach the endpoint"
    );
    assert_eq!(receiver.tracker().stats().applied, 10);
}

#[tokio::test]
async fn deeply_nested_json_is_rejected_without_overflowing_the_stack() {
    let (_keys, receiver, addr) = default_setup().await;
    let depth = 100_000;
    let open_arrays = "[".repeat(depth);
    let open_objects = "{\"a\":".repeat(depth);
    let cases: Vec<(&str, String)> = vec![
        ("100 000 [ at the top", open_arrays.clone()),
        ("100 000 [ in value", format!("{{\"value\":{open_arrays}")),
        (
            "100 000 [ in resourceData",
            format!("{{\"value\":[{{\"resourceData\":{open_arrays}"),
        ),
        (
            "100 000 [ in resultInfo.code",
            format!("{{\"value\":[{{\"resourceData\":{{\"resultInfo\":{{\"code\":{open_arrays}"),
        ),
        (
            "100 000 [ in an unknown member",
            format!("{{\"value\":[],\"x\":{open_arrays}"),
        ),
        (
            "100 000 objects in resourceData",
            format!("{{\"value\":[{{\"resourceData\":{open_objects}1"),
        ),
        (
            "balanced, value nested too deep",
            format!("{{\"value\":{open_arrays}{}}}", "]".repeat(depth)),
        ),
    ];
    for (what, body) in &cases {
        assert!(body.len() < 1024 * 1024, "{what}: under the body limit");
        let response = post(addr, body.as_bytes()).await;
        check_rejected(&receiver, &response, what);
    }
    assert_eq!(receiver.stats().bad_request, cases.len() as u64);

    // Balanced deep nesting where the decoder skips: valid JSON, skipped without recursion.
    let closed = "]".repeat(depth);
    let skipped = format!(
        "{{\"value\":[{{\"changeType\":\"updated\",\"resourceUrl\":\"/communications/calls/deep\",\"resourceData\":{{\"state\":\"established\",\"x\":{open_arrays}{closed}}}}}],\"y\":{open_arrays}{closed}}}"
    );
    let response = post(addr, skipped.as_bytes()).await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    assert_eq!(receiver.tracker().stats().applied, 1);
    // Still serving.
    let response = post(addr, notification("call-1", "transferring").as_bytes()).await;
    assert_eq!(response.status, 202);
}

#[tokio::test]
async fn huge_strings_are_decoded_and_huge_numbers_never_crash() {
    let (_keys, receiver, addr) = default_setup().await;
    let huge = "x".repeat(900 * 1024);
    let escaped = "\\u0041".repeat(150 * 1024);
    let batch = |data: String| format!("{{\"value\":[{data}]}}");
    let cases: Vec<(&str, String)> = vec![
        (
            "state",
            batch(format!(
                "{{\"resourceUrl\":\"/communications/calls/c1\",\"resourceData\":{{\"state\":\"{huge}\"}}}}"
            )),
        ),
        (
            "resourceUrl",
            batch(format!(
                "{{\"resourceUrl\":\"/communications/calls/{huge}\",\"resourceData\":{{\"state\":\"transferring\"}}}}"
            )),
        ),
        (
            "resultInfo.message",
            batch(format!(
                "{{\"resourceUrl\":\"/communications/calls/c2\",\"resourceData\":{{\"state\":\"established\",\"resultInfo\":{{\"code\":500,\"subcode\":7700,\"message\":\"{huge}\"}}}}}}"
            )),
        ),
        (
            "subCode string",
            batch(format!(
                "{{\"resourceUrl\":\"/communications/calls/c3\",\"resourceData\":{{\"state\":\"terminated\",\"resultInfo\":{{\"code\":0,\"subCode\":\"{huge}\"}}}}}}"
            )),
        ),
        (
            "escaped changeType",
            batch(format!(
                "{{\"changeType\":\"{escaped}\",\"resourceUrl\":\"/communications/calls/c4\"}}"
            )),
        ),
        ("unknown member", format!("{{\"value\":[],\"{huge}\":1}}")),
    ];
    // Valid JSON, under the limit: every one is decoded, however long its strings.
    for (what, body) in &cases {
        assert!(body.len() < 1024 * 1024, "{what}: under the body limit");
        let response = post(addr, body.as_bytes()).await;
        assert_eq!(response.status, 202, "{what}: {}", response.body_text());
    }
    assert_eq!(receiver.stats().accepted, cases.len() as u64);
    assert_eq!(receiver.stats().events, 5);

    // A 900 000-digit number overflows f64: decoded (as a code that is no integer) or 400.
    let number = format!(
        "{{\"value\":[{{\"resourceData\":{{\"resultInfo\":{{\"code\":1{}}}}}}}]}}",
        "0".repeat(900 * 1024)
    );
    let response = post(addr, number.as_bytes()).await;
    match response.status {
        202 => {}
        400 => assert!(
            error_message(&response).starts_with("the body is not a commsNotifications batch")
        ),
        other => panic!("a huge number: HTTP {other}: {}", response.body_text()),
    }
    // Still serving.
    let response = post(addr, notification("call-1", "transferring").as_bytes()).await;
    assert_eq!(response.status, 202);
}

#[tokio::test]
async fn invalid_utf8_in_routed_strings_is_400_and_never_reaches_the_tracker() {
    let (_keys, receiver, addr) = default_setup().await;
    let bad = b"\xff\xfe\xc3\x28\xed\xa0\x80";
    let wrap = |prefix: &str, suffix: &str| {
        let mut body = prefix.as_bytes().to_vec();
        body.extend_from_slice(bad);
        body.extend_from_slice(suffix.as_bytes());
        body
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "state",
            wrap(
                r#"{"value":[{"resourceUrl":"/communications/calls/c1","resourceData":{"state":""#,
                r#""}}]}"#,
            ),
        ),
        (
            "resourceUrl",
            wrap(
                r#"{"value":[{"resourceUrl":"/communications/calls/"#,
                r#"","resourceData":{"state":"transferring"}}]}"#,
            ),
        ),
        (
            "changeType",
            wrap(
                r#"{"value":[{"changeType":""#,
                r#"","resourceUrl":"/communications/calls/c2"}]}"#,
            ),
        ),
        (
            "resultInfo.message",
            wrap(
                r#"{"value":[{"resourceUrl":"/communications/calls/c3","resourceData":{"state":"established","resultInfo":{"code":500,"subcode":7700,"message":""#,
                r#""}}}]}"#,
            ),
        ),
        ("outside any string", wrap(r#"{"value":["#, "]}")),
        ("a UTF-16 body", {
            let text = notification("c4", "transferring");
            let mut body = vec![0xff, 0xfe];
            for unit in text.encode_utf16() {
                body.extend_from_slice(&unit.to_le_bytes());
            }
            body
        }),
    ];
    for (what, body) in &cases {
        let response = post(addr, body).await;
        check_rejected(&receiver, &response, what);
    }
    assert_eq!(receiver.stats().bad_request, cases.len() as u64);
    assert_eq!(receiver.stats().accepted, 0);
}

/// Invalid UTF-8 where the decoder only skips (an unknown member's value, a key) was once accepted
/// (found by fuzzing): JSON is UTF-8, so the routing decode checks the whole body first, and such
/// a body is a 400 that never reaches the handler or the tracker.
#[tokio::test]
async fn invalid_utf8_anywhere_is_refused() {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let receiver =
        Receiver::builder(AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url()))
            .handler(move |d: &graph_comms_receiver::Delivery<'_>| {
                let mut log = log.lock().expect("log");
                log.extend(d.events.iter().map(|e| e.call_id.clone()));
            })
            .build()
            .expect("receiver");
    let addr = start(&receiver).await;
    let cases: [(&str, &[u8]); 3] = [
        (
            "an unknown member's value",
            b"{\"value\":[{\"resourceUrl\":\"/communications/calls/c1\",\"resourceData\":{\"state\":\"transferring\"},\"x\":\"\xff\xfe\"}]}",
        ),
        (
            "a key",
            b"{\"value\":[{\"resourceUrl\":\"/communications/calls/c1\",\"\xff\xfe\":1,\"resourceData\":{\"state\":\"transferring\"}}]}",
        ),
        (
            "a top-level key and value",
            b"{\"value\":[],\"\xc3\x28\":\"\xed\xa0\x80\"}",
        ),
    ];
    for (what, body) in cases {
        let response = post(addr, body).await;
        assert_eq!(response.status, 400, "{what}: {}", response.body_text());
        let message = error_message(&response);
        assert!(
            message.starts_with("the body is not a commsNotifications batch")
                && message.contains("invalid UTF-8"),
            "{what}: {message}"
        );
    }
    let stats = receiver.stats();
    assert_eq!((stats.accepted, stats.bad_request), (0, 3));
    // JSON is UTF-8: nothing of these bodies reached the handler or the tracker.
    assert!(seen.lock().expect("log").is_empty());
    assert_eq!(receiver.tracker().stats().applied, 0);
}
