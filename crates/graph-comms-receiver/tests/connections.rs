//! Connection-level faults against `serve`: clients that pipeline requests and never read the
//! answers, idle connections, the connection cap; genuine callbacks must keep getting answers.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use graph_comms_receiver::{AuthConfig, Receiver, ServeOptions, DEFAULT_MAX_CONNECTIONS};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

const PATH: &str = "/api/calls";
/// A generous bound on anything the tests wait for (never a timing assertion).
const DEADLINE: Duration = Duration::from_secs(30);

async fn setup(options: ServeOptions) -> (KeyServer, Receiver, SocketAddr) {
    let keys = KeyServer::start(vec![key().jwk()]).await;
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = Receiver::new(config).expect("receiver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(graph_comms_receiver::serve(
        listener,
        receiver.router(),
        options,
    ));
    // Keys fetched up front, so the first genuine callback does not pay for it.
    receiver.authenticator().refresh_keys().await.expect("keys");
    (keys, receiver, addr)
}

fn options(idle: Duration, max_connections: usize) -> ServeOptions {
    let mut options = ServeOptions::default();
    options.idle_timeout = idle;
    options.header_read_timeout = Duration::from_secs(60);
    options.max_connections = max_connections;
    options
}

/// A genuine callback on a fresh connection, bounded by [`DEADLINE`].
async fn genuine(addr: SocketAddr, call_id: &str) -> RawResponse {
    let token = key().sign(&claims(APP_ID));
    tokio::time::timeout(
        DEADLINE,
        post_once(
            addr,
            PATH,
            &auth_headers(&token),
            notification(call_id, "transferring").as_bytes(),
        ),
    )
    .await
    .expect("a genuine callback is answered within the deadline")
}

/// Connects with a small receive buffer, then writes pipelined requests (each answered `401`)
/// and never reads: the answers pile up until the server's writes block. Returns when a write
/// fails, i.e. once the server has closed the connection.
async fn pipeline_without_reading(addr: SocketAddr) -> std::io::Error {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(addr).await.expect("connect");
    let request = format!("POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    let batch = request.repeat(64).into_bytes();
    loop {
        if let Err(error) = stream.write_all(&batch).await {
            return error;
        }
    }
}

#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_disconnected() {
    let (_keys, receiver, addr) = setup(options(Duration::from_millis(500), 64)).await;
    let stalled = tokio::spawn(pipeline_without_reading(addr));

    // Genuine callbacks are answered meanwhile.
    for i in 0..3 {
        let response = genuine(addr, &format!("call-{i}")).await;
        assert_eq!(response.status, 202, "{}", response.body_text());
    }
    // On a server without an idle timeout the writer blocks forever: the deadline fails the test.
    let error = tokio::time::timeout(DEADLINE, stalled)
        .await
        .expect("the stalled connection is closed within the deadline")
        .expect("task");
    assert!(
        matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{error:?}"
    );
    let stats = receiver.stats();
    assert!(stats.unauthorized > 0, "the pipelined requests were served");
    assert_eq!(stats.accepted, 3);
}

#[tokio::test]
async fn fifty_stalled_connections_do_not_keep_a_genuine_callback_waiting() {
    const { assert!(DEFAULT_MAX_CONNECTIONS >= 1024) };
    // The default options: a cap of at least 1 024 connections and a 10 s idle timeout.
    let (_keys, receiver, addr) = setup(ServeOptions::default()).await;
    let mut stalled = Vec::new();
    let mut idle = Vec::new();
    for i in 0..50 {
        if i % 5 == 0 {
            stalled.push(tokio::spawn(pipeline_without_reading(addr)));
        } else {
            // Half a request line, then nothing.
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.write_all(b"POST /api/ca").await.expect("write");
            idle.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..5 {
        let response = genuine(addr, &format!("call-{i}")).await;
        assert_eq!(response.status, 202, "{}", response.body_text());
    }
    assert_eq!(receiver.stats().accepted, 5);
    assert_eq!(receiver.tracker().stats().applied, 5);
    // And the pipeliners are eventually closed (their writes fail).
    for task in stalled {
        let error = tokio::time::timeout(DEADLINE, task)
            .await
            .expect("closed within the deadline")
            .expect("task");
        assert_ne!(error.kind(), std::io::ErrorKind::WouldBlock, "{error:?}");
    }
    drop(idle);
}

#[tokio::test]
async fn at_the_connection_cap_new_connections_wait_until_one_closes() {
    // Two slots, both held by connections that send nothing; idle ones close after 1 s.
    let (_keys, receiver, addr) = setup(options(Duration::from_secs(1), 2)).await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        holders.push(TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The third connection waits in the backlog: it is answered only once a slot is free.
    let response = genuine(addr, "call-1").await;
    assert_eq!(response.status, 202, "{}", response.body_text());
    // So by then both holders were closed by the server (without a cap they would still be open:
    // nothing else closes them before a minute).
    for holder in holders {
        assert!(
            closed_already(holder),
            "the cap held the third connection back until the idle ones were closed"
        );
    }
    assert_eq!(receiver.stats().accepted, 1);
}

/// Whether the peer has closed `stream` already, without waiting: a non-blocking read sees the
/// end of the stream (or a reset) now, or would block.
fn closed_already(stream: TcpStream) -> bool {
    use std::io::Read as _;
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0u8; 1024];
    match (&stream).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(error) => error.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[tokio::test]
async fn invalid_serve_options_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let result =
        graph_comms_receiver::serve(listener, axum::Router::new(), options(Duration::ZERO, 8))
            .await;
    let message = result.err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("invalid receiver configuration: idle_timeout: must be positive")
    );
}

#[tokio::test]
async fn a_request_head_over_the_read_buffer_is_refused_and_the_next_served() {
    let (_keys, receiver, addr) = setup(ServeOptions::default()).await;
    let mut client = RawClient::connect(addr).await.expect("connect");
    let padding = "a".repeat(4 * graph_comms_receiver::READ_BUFFER_BYTES);
    let head = format!("POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Padding: {padding}\r\n\r\n");
    // The server may close before reading it all: a failed write is fine, the answer decides.
    let _ = client.write_raw(head.as_bytes()).await;
    let response = tokio::time::timeout(DEADLINE, client.read_response())
        .await
        .expect("answered within the deadline");
    if let Ok(response) = response {
        assert_eq!(response.status, 431, "{}", response.body_text());
    }
    assert_eq!(
        receiver.stats().requests,
        0,
        "the head never reached the endpoint"
    );
    assert_eq!(genuine(addr, "call-1").await.status, 202);
}
