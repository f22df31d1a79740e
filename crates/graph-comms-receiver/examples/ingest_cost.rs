//! Callbacks handed to the receiver's router in-process (no socket, no HTTP parsing), N times,
//! against the same requests handed to a bare axum handler answering 202: instruction counts of
//! what the receiver itself does per callback, independent of machine load.
//!
//! ```text
//! cargo build --release -p graph-comms-receiver --example ingest_cost
//! valgrind --tool=callgrind --toggle-collect='*callbacks*' target/release/examples/ingest_cost receiver 3000
//! valgrind --tool=callgrind --toggle-collect='*callbacks*' target/release/examples/ingest_cost bare 3000
//! ```
//!
//! Every request carries the same reused token (verified once, then a cache hit) and one of
//! 1 000 call notifications, as in the `ingest` bench. The difference of two runs' totals divided
//! by the difference of their N is the cost of one callback; only the callbacks are counted.
//!
//! With `receiver-http` or `bare-http` the same callbacks go over one keep-alive loopback
//! connection to the router served by `axum::serve` on the same current-thread runtime, written
//! and read by a minimal HTTP/1.1 client: everything a callback costs in user space (hyper, the
//! router, the handler, the client), the kernel's share excepted. Count the whole runtime then
//! (`--toggle-collect='tokio::runtime::runtime::Runtime::block_on'`, as
//! `docs/benchmarks/receiver.md` does): the server's tasks run beside the client's loop.

#[path = "../tests/support/mod.rs"]
mod support;

use axum::body::Body;
use axum::routing::post;
use graph_comms_receiver::{AuthConfig, Receiver};
use support::*;
use tower::ServiceExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let side = args.next().unwrap_or_else(|| "receiver".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Made before the runtime runs: generating the key costs a varying number of instructions.
    let signing = key().clone();
    runtime.block_on(async {
        let keys = KeyServer::start(vec![signing.jwk()]).await;
        let receiver =
            Receiver::builder(AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url()))
                .handler(|_: &graph_comms_receiver::Delivery<'_>| {})
                .build()
                .expect("receiver");
        let router = if side.starts_with("bare") {
            axum::Router::new().route("/api/calls", post(|| async { http::StatusCode::ACCEPTED }))
        } else {
            receiver.router()
        };
        let token = format!("Bearer {}", signing.sign(&claims(APP_ID)));
        let bodies = transfer_notifications(1000);
        if side.ends_with("-http") {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, router).await });
            let requests: Vec<Vec<u8>> = bodies
                .iter()
                .map(|body| {
                    format!(
                        "POST /api/calls HTTP/1.1\r\nhost: {addr}\r\nauthorization: {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes()
                })
                .collect();
            let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            over_http(&mut stream, &requests[..1], 1).await;
            over_http(&mut stream, &requests, n).await;
            return;
        }
        // The first callback fetches the keys and verifies the token.
        callbacks(&router, &token, &bodies[..1], 1).await;
        callbacks(&router, &token, &bodies, n).await;
    });
}

/// `n` requests over `stream`, each answered `202` with no body before the next is written.
#[inline(never)]
async fn over_http(stream: &mut tokio::net::TcpStream, requests: &[Vec<u8>], n: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = [0u8; 1024];
    for i in 0..n {
        stream
            .write_all(&requests[i % requests.len()])
            .await
            .expect("write");
        let mut read = 0;
        while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            let got = stream.read(&mut buffer[read..]).await.expect("read");
            assert!(got > 0, "the server closed the connection");
            read += got;
        }
        assert!(
            buffer.starts_with(b"HTTP/1.1 202"),
            "{:?}",
            String::from_utf8_lossy(&buffer[..read])
        );
    }
}

/// `n` callbacks through `router`: the only function callgrind needs to count
/// (`--toggle-collect='*callbacks*'`), since making the signing key varies widely.
#[inline(never)]
async fn callbacks(router: &axum::Router, token: &str, bodies: &[String], n: usize) {
    {
        for i in 0..n {
            let body = &bodies[i % bodies.len()];
            let request = http::Request::post("/api/calls")
                .header("authorization", token)
                .header("content-type", "application/json")
                .header("content-length", body.len())
                .body(Body::from(body.clone()))
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), 202);
        }
    }
}
