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
//! `receiver-serve` and `bare-serve` do the same on the crate's own `serve` instead of
//! `axum::serve`.
//!
//! A third argument `fresh` gives every request a token of its own (a `jti` claim apiece), as
//! the `ingest` bench's fresh-token rows do: each callback to the receiver is then a full RS256
//! verification. Keys, tokens and requests are made before the runtime runs, outside what is
//! counted, so that two runs of the same binary count the same to a few parts in ten thousand.
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='tokio::runtime::runtime::Runtime::block_on' \
//!     target/release/examples/ingest_cost receiver-http 600 fresh
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use axum::body::Body;
use axum::routing::post;
use base64::Engine as _;
use graph_comms_receiver::{AuthConfig, Receiver};
use support::*;
use tower::ServiceExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let side = args.next().unwrap_or_else(|| "receiver".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let fresh = args.next().as_deref() == Some("fresh");
    let over_socket = side.ends_with("-http") || side.ends_with("-serve");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Everything that varies from run to run, or grows with `n`, is made before the runtime
    // runs, outside what is counted: the key (its prime search), the tokens (each signature
    // draws random numbers), the requests.
    let signing = key().clone();
    let tokens = tokens(&signing, fresh, side.starts_with("bare"), n);
    let bodies = transfer_notifications(1000);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("addr");
    // Request `i` carries token `i` and body `i`, each list taken round.
    let requests: Vec<Vec<u8>> = if over_socket {
        (0..tokens.len().max(bodies.len()))
            .map(|i| {
                let (token, body) = (&tokens[i % tokens.len()], &bodies[i % bodies.len()]);
                format!(
                    "POST /api/calls HTTP/1.1\r\nhost: {addr}\r\nauthorization: {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            })
            .collect()
    } else {
        Vec::new()
    };
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
        // The first callback fetches the keys; the others use tokens of their own, or the first
        // one again.
        let rest = usize::from(fresh);
        if over_socket {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            if side.ends_with("-serve") {
                tokio::spawn(graph_comms_receiver::serve(
                    listener,
                    router,
                    graph_comms_receiver::ServeOptions::default(),
                ));
            } else {
                tokio::spawn(async move { axum::serve(listener, router).await });
            }
            let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            over_http(&mut stream, &requests[..1], 1).await;
            over_http(&mut stream, &requests[rest..], n).await;
            return;
        }
        callbacks(&router, &tokens[..1], &bodies[..1], 1).await;
        callbacks(&router, &tokens[rest..], &bodies, n).await;
    });
}

/// One token for every request, or with `fresh` one per request (`n + 1`, the first request
/// included), each with a `jti` of its own. A bare handler checks none, so for `bare` they are
/// shaped like signed ones (the same header, claims and signature length) without being signed
/// one by one.
fn tokens(signing: &SigningKey, fresh: bool, bare: bool, n: usize) -> Vec<String> {
    if !fresh {
        return vec![format!("Bearer {}", signing.sign(&claims(APP_ID)))];
    }
    if !bare {
        return (0..=n)
            .map(|i| format!("Bearer {}", signing.sign(&claims_with_jti(APP_ID, i))))
            .collect();
    }
    let signed = signing.sign(&claims_with_jti(APP_ID, 0));
    let (header, rest) = signed.split_once('.').expect("a JWT");
    let (_, signature) = rest.split_once('.').expect("a JWT");
    (0..=n)
        .map(|i| {
            let payload = serde_json::to_vec(&claims_with_jti(APP_ID, i)).expect("claims");
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
            format!("Bearer {header}.{payload}.{signature}")
        })
        .collect()
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
async fn callbacks(router: &axum::Router, tokens: &[String], bodies: &[String], n: usize) {
    {
        for i in 0..n {
            let body = &bodies[i % bodies.len()];
            let request = http::Request::post("/api/calls")
                .header("authorization", &tokens[i % tokens.len()])
                .header("content-type", "application/json")
                .header("content-length", body.len())
                .body(Body::from(body.clone()))
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("response");
            assert_eq!(response.status(), 202);
        }
    }
}
