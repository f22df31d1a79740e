//! Webhook ingest on loopback: the receiver (auth + decode + tracker) against a bare axum handler
//! answering 202, same load generator, same concurrency, same run.
//!
//! Run: `cargo bench -p graph-comms-receiver --bench ingest` (env `INGEST_REQUESTS`,
//! `INGEST_FRESH_TOKENS`, `INGEST_CONNECTIONS` scale it). The load generator is a minimal
//! keep-alive HTTP/1.1 client on its own single-threaded runtime (like `wrk -t1`); the servers run
//! on a two-worker runtime. Every request is counted at both ends.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use graph_comms_receiver::{AuthConfig, Delivery, Receiver};
use support::*;

const PATH: &str = "/api/calls";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct RunResult {
    name: String,
    requests: usize,
    accepted: usize,
    elapsed: Duration,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

impl RunResult {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `requests` (cycling through `tokens` and `bodies`) over `connections` connections.
fn load(
    name: &str,
    addr: SocketAddr,
    connections: usize,
    requests: usize,
    tokens: &Arc<Vec<String>>,
    bodies: &Arc<Vec<String>>,
) -> RunResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..connections {
            let (tokens, bodies) = (tokens.clone(), bodies.clone());
            // Requests i ≡ c (mod connections) go over connection c.
            let count = requests / connections + usize::from(c < requests % connections);
            tasks.push(tokio::spawn(async move {
                let mut client = RawClient::connect(addr).await.expect("connect");
                let mut latencies = Vec::with_capacity(count);
                let mut accepted = 0usize;
                for k in 0..count {
                    let i = k * connections + c;
                    let auth = format!("Bearer {}", tokens[i % tokens.len()]);
                    let headers = [
                        ("Authorization", auth.as_str()),
                        ("Content-Type", "application/json"),
                    ];
                    let body = &bodies[i % bodies.len()];
                    let sent = Instant::now();
                    let response = client
                        .post(PATH, &headers, body.as_bytes())
                        .await
                        .expect("response");
                    latencies.push(sent.elapsed().as_micros() as u64);
                    if response.status == 202 {
                        accepted += 1;
                    }
                }
                (latencies, accepted)
            }));
        }
        let mut latencies = Vec::with_capacity(requests);
        let mut accepted = 0;
        for task in tasks {
            let (l, a) = task.await.expect("client task");
            latencies.extend(l);
            accepted += a;
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        RunResult {
            name: name.to_owned(),
            requests,
            accepted,
            elapsed,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            max_us: latencies.last().copied().unwrap_or(0),
        }
    })
}

fn report(baseline: &RunResult, run: &RunResult) {
    println!(
        "| {} | {} | {} | {:.0} | {} | {} | {} | {:.0} % | {:.2}× |",
        run.name,
        run.requests,
        run.accepted,
        run.rps(),
        run.p50_us,
        run.p99_us,
        run.max_us,
        100.0 * run.rps() / baseline.rps(),
        run.p99_us as f64 / baseline.p99_us.max(1) as f64,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and wants a quick run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let connections = env_usize("INGEST_CONNECTIONS", 64);
    let requests = env_usize("INGEST_REQUESTS", if quick { 2_000 } else { 300_000 });
    let fresh = env_usize("INGEST_FRESH_TOKENS", if quick { 64 } else { 20_000 });

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");

    let signing = key().clone();
    let keys = server.block_on(KeyServer::start(vec![signing.jwk()]));
    let counted = Arc::new(AtomicU64::new(0));
    let seen = counted.clone();
    let config = AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url());
    let receiver = Receiver::builder(config)
        .handler(move |d: &Delivery<'_>| {
            seen.fetch_add(d.events.len() as u64, Ordering::Relaxed);
        })
        .build()
        .expect("receiver");
    let receiver_addr = server.block_on(start(&receiver));
    let bare_addr = server.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().route(PATH, post(|| async { http::StatusCode::ACCEPTED }));
        tokio::spawn(graph_comms_receiver::serve(
            listener,
            app,
            Default::default(),
        ));
        addr
    });
    let axum_addr = server.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().route(PATH, post(|| async { http::StatusCode::ACCEPTED }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });

    // 1 000 calls, each notified through a transfer's states.
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..1000)
            .map(|i| {
                let call = format!("7a1f{i:04}-0000-4000-8000-{i:012}");
                match i % 3 {
                    0 => notification(&call, "transferring"),
                    1 => notification(&call, "transferAccepted"),
                    _ => completed(&call),
                }
            })
            .collect(),
    );
    let reused = Arc::new(vec![signing.sign(&claims(APP_ID))]);
    eprintln!("minting {fresh} tokens ...");
    let fresh_tokens: Arc<Vec<String>> = Arc::new({
        let half = fresh / 2;
        let s2 = signing.clone();
        let other = std::thread::spawn(move || {
            (half..fresh)
                .map(|i| {
                    let mut c = claims(APP_ID);
                    c["jti"] = i.into();
                    s2.sign(&c)
                })
                .collect::<Vec<_>>()
        });
        let mut mine: Vec<String> = (0..half)
            .map(|i| {
                let mut c = claims(APP_ID);
                c["jti"] = i.into();
                signing.sign(&c)
            })
            .collect();
        mine.extend(other.join().expect("minting thread"));
        mine
    });

    // Warm up (fetches the keys, fills connection pools).
    for addr in [receiver_addr, bare_addr, axum_addr] {
        load(
            "warm-up",
            addr,
            connections,
            2_000.min(requests),
            &reused,
            &bodies,
        );
    }
    let before = receiver.stats();

    let bare_axum = load(
        "bare axum::serve 202",
        axum_addr,
        connections,
        requests,
        &reused,
        &bodies,
    );
    let bare = load(
        "bare 202 (graph_comms_receiver::serve)",
        bare_addr,
        connections,
        requests,
        &reused,
        &bodies,
    );
    let reuse = load(
        "receiver, one reused token",
        receiver_addr,
        connections,
        requests,
        &reused,
        &bodies,
    );
    let fresh_n = fresh_tokens.len();
    let bare_fresh = load(
        "bare 202, fresh-token requests",
        bare_addr,
        connections,
        fresh_n,
        &fresh_tokens,
        &bodies,
    );
    let fresh_run = load(
        "receiver, fresh token per request",
        receiver_addr,
        connections,
        fresh_n,
        &fresh_tokens,
        &bodies,
    );

    let after = receiver.stats();
    let server_accepted = after.accepted - before.accepted;
    let client_accepted = (reuse.accepted + fresh_run.accepted) as u64;
    let handler_events = counted.load(Ordering::Relaxed);

    println!("\nconnections: {connections}, server: 2 tokio workers, client: 1 thread\n");
    println!(
        "| run | requests | 202s | req/s | p50 µs | p99 µs | max µs | vs bare | p99 vs bare |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    report(&bare, &bare_axum);
    report(&bare, &bare);
    report(&bare, &reuse);
    report(&bare_fresh, &bare_fresh);
    report(&bare_fresh, &fresh_run);
    println!(
        "\naccounting: client counted {client_accepted} 202s, receiver counted {server_accepted} accepted and {} rejected, handler saw {} events (of which warm-up {}), lost {}",
        after.rejected() - before.rejected(),
        handler_events,
        before.events,
        (reuse.requests + fresh_run.requests) as u64 - server_accepted,
    );
    let auth = receiver.authenticator().stats();
    println!(
        "auth: {} full verifications, {} cache hits, {} key fetches",
        auth.full_verifications, auth.cache_hits, auth.key_fetches
    );
    assert_eq!(
        client_accepted, server_accepted,
        "client and server disagree"
    );
    assert_eq!(
        server_accepted,
        (reuse.requests + fresh_run.requests) as u64,
        "lost requests"
    );
}
