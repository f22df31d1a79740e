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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One line per configuration: the median of its rounds' throughput and p99, each against the
/// median of `baseline`.
fn report(results: &[Vec<RunResult>], baseline: usize) {
    println!("| run | rounds × requests | req/s (median) | p50 µs | p99 µs (median) | max µs | vs baseline req/s | vs baseline p99 |");
    println!("|---|---|---|---|---|---|---|---|");
    let base_rps = median(results[baseline].iter().map(RunResult::rps).collect());
    let base_p99 = median(results[baseline].iter().map(|r| r.p99_us as f64).collect());
    for runs in results {
        let rps = median(runs.iter().map(RunResult::rps).collect());
        let p50 = median(runs.iter().map(|r| r.p50_us as f64).collect());
        let p99 = median(runs.iter().map(|r| r.p99_us as f64).collect());
        let max = runs.iter().map(|r| r.max_us).max().unwrap_or(0);
        println!(
            "| {} | {} × {} | {:.0} | {:.0} | {:.0} | {} | {:.0} % | {:.2}× |",
            runs[0].name,
            runs.len(),
            runs[0].requests,
            rps,
            p50,
            p99,
            max,
            100.0 * rps / base_rps,
            p99 / base_p99.max(1.0),
        );
    }
    for runs in results {
        let per_round: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.0}/s p99 {} µs", r.rps(), r.p99_us))
            .collect();
        println!("- {}: {}", runs[0].name, per_round.join("; "));
    }
}

/// The Lua script driving `wrk`: requests built once from a file of `token<TAB>body` lines, then
/// sent in order (wrapping around).
const WRK_SCRIPT: &str = r#"
local reqs = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local token, body = line:match("^([^\t]*)\t(.*)$")
    n = n + 1
    reqs[n] = wrk.format("POST", "/api/calls",
      {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
  end
end
request = function()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end
"#;

struct WrkResult {
    name: String,
    requests: u64,
    rps: f64,
    p99_us: f64,
    non_2xx: u64,
    errors: String,
}

fn wrk_available() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// Runs `wrk -t1 -c{connections} -d{seconds}s --latency` with the request file.
fn wrk(
    name: &str,
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    requests_file: &std::path::Path,
    script: &std::path::Path,
) -> Option<WrkResult> {
    let output = std::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://{addr}{PATH}"))
        .arg("--")
        .arg(requests_file)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let number = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    };
    let duration_us = |v: &str| -> Option<f64> {
        let split = v.find(|c: char| c.is_ascii_alphabetic())?;
        let (n, unit) = v.split_at(split);
        let n: f64 = n.parse().ok()?;
        Some(match unit {
            "us" => n,
            "ms" => n * 1e3,
            "s" => n * 1e6,
            "m" => n * 6e7,
            _ => return None,
        })
    };
    let rps = number("Requests/sec:")?.parse().ok()?;
    let p99_us = duration_us(&number("99%")?)?;
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.trim().split(' ').next())
        .and_then(|n| n.parse().ok())?;
    let non_2xx = number("Non-2xx or 3xx responses:")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let errors = number("Socket errors:").unwrap_or_default();
    Some(WrkResult {
        name: name.to_owned(),
        requests,
        rps,
        p99_us,
        non_2xx,
        errors,
    })
}

fn write_requests(path: &std::path::Path, tokens: &[String], bodies: &[String]) {
    let mut text = String::new();
    for (i, token) in tokens.iter().enumerate() {
        text.push_str(token);
        text.push('\t');
        text.push_str(&bodies[i % bodies.len()]);
        text.push('\n');
    }
    std::fs::write(path, text).expect("write the wrk request file");
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and wants a quick run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let connections = env_usize("INGEST_CONNECTIONS", 64);
    let requests = env_usize("INGEST_REQUESTS", if quick { 2_000 } else { 40_000 });
    let fresh = env_usize("INGEST_FRESH_TOKENS", if quick { 64 } else { 4_000 });
    let rounds = env_usize("INGEST_ROUNDS", if quick { 1 } else { 8 });

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
    let bare = || axum::Router::new().route(PATH, post(|| async { http::StatusCode::ACCEPTED }));
    // Each router on both server loops: axum::serve, and this crate's serve (header timeout).
    let on_axum = |router: axum::Router| {
        server.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, router).await });
            addr
        })
    };
    let on_serve = |router: axum::Router| {
        server.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(graph_comms_receiver::serve(
                listener,
                router,
                Default::default(),
            ));
            addr
        })
    };
    let bare_axum = on_axum(bare());
    let receiver_axum = on_axum(receiver.router());
    let bare_serve = on_serve(bare());
    let receiver_serve = on_serve(receiver.router());

    // 1 000 calls, each notified through a transfer's states.
    let bodies: Arc<Vec<String>> = Arc::new(transfer_notifications(1000));
    let reused = Arc::new(vec![signing.sign(&claims(APP_ID))]);
    let total_fresh = fresh * rounds;
    eprintln!("minting {total_fresh} tokens ...");
    let mint = move |range: std::ops::Range<usize>, key: SigningKey| {
        range
            .map(|i| {
                let mut c = claims(APP_ID);
                c["jti"] = i.into();
                key.sign(&c)
            })
            .collect::<Vec<_>>()
    };
    let half = total_fresh / 2;
    let other = {
        let key = signing.clone();
        std::thread::spawn(move || mint(half..total_fresh, key))
    };
    let mut all_fresh = mint(0..half, signing.clone());
    all_fresh.extend(other.join().expect("minting thread"));

    // Profiling aid: INGEST_SERVE_SECS=N serves for N seconds (bounded) and writes a wrk request
    // file, so an external load generator and profiler can be pointed at the servers.
    if let Some(secs) = std::env::var("INGEST_SERVE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let file = std::env::temp_dir().join("graph-comms-ingest-reused.tsv");
        let reused_many: Vec<String> = vec![reused[0].clone(); bodies.len()];
        write_requests(&file, &reused_many, &bodies);
        std::fs::write(
            std::env::temp_dir().join("graph-comms-ingest.lua"),
            WRK_SCRIPT,
        )
        .expect("script");
        println!(
            "bare axum {bare_axum} receiver axum {receiver_axum} requests {}",
            file.display()
        );
        std::thread::sleep(Duration::from_secs(secs.min(600)));
        return;
    }
    // Warm up (fetches the keys, fills connection pools).
    for addr in [bare_axum, receiver_axum, bare_serve, receiver_serve] {
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

    let mut results: Vec<Vec<RunResult>> = (0..6).map(|_| Vec::new()).collect();
    for round in 0..rounds {
        eprintln!("round {} of {rounds} ...", round + 1);
        let fresh_tokens = Arc::new(all_fresh[round * fresh..(round + 1) * fresh].to_vec());
        let runs = [
            ("bare 202, axum::serve", bare_axum, requests, &reused),
            (
                "receiver, reused token, axum::serve",
                receiver_axum,
                requests,
                &reused,
            ),
            (
                "bare 202, graph_comms_receiver::serve",
                bare_serve,
                requests,
                &reused,
            ),
            (
                "receiver, reused token, graph_comms_receiver::serve",
                receiver_serve,
                requests,
                &reused,
            ),
            (
                "bare 202, fresh-token requests, axum::serve",
                bare_axum,
                fresh,
                &fresh_tokens,
            ),
            (
                "receiver, fresh token per request, axum::serve",
                receiver_axum,
                fresh,
                &fresh_tokens,
            ),
        ];
        // Bare and receiver run back to back in pairs, the pair's order flipping every round, so
        // both see the same background load.
        for pair in 0..3 {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let slot = 2 * pair + k;
                let (name, addr, n, tokens) = runs[slot];
                results[slot].push(load(name, addr, connections, n, tokens, &bodies));
            }
        }
    }

    let after = receiver.stats();
    let server_accepted = after.accepted - before.accepted;
    let sent_to_receiver: usize = [1, 3, 5]
        .iter()
        .flat_map(|&i| results[i].iter())
        .map(|r| r.requests)
        .sum();
    let client_accepted: usize = [1, 3, 5]
        .iter()
        .flat_map(|&i| results[i].iter())
        .map(|r| r.accepted)
        .sum();
    let handler_events = counted.load(Ordering::Relaxed) - before.events;

    println!("\nconnections: {connections}, server: 2 tokio workers, client: 1 thread, rounds interleaved\n");
    println!("Reused token (baseline: bare 202 on axum::serve):\n");
    report(&results[..4], 0);
    println!("\nFresh token per request (baseline: bare 202 on axum::serve, same requests):\n");
    report(&results[4..], 0);
    println!("\nPaired ratios (median over rounds of receiver ÷ bare run back to back in the same round):\n");
    println!("| pair | req/s ratio | p99 ratio |");
    println!("|---|---|---|");
    for (name, r, b) in [
        ("reused token, axum::serve", 1, 0),
        ("reused token, graph_comms_receiver::serve", 3, 2),
        ("fresh token per request, axum::serve", 5, 4),
    ] {
        let rps = median(
            results[r]
                .iter()
                .zip(&results[b])
                .map(|(x, y)| x.rps() / y.rps())
                .collect(),
        );
        let p99 = median(
            results[r]
                .iter()
                .zip(&results[b])
                .map(|(x, y)| x.p99_us as f64 / y.p99_us.max(1) as f64)
                .collect(),
        );
        println!("| {name} | {:.0} % | {:.2}× |", 100.0 * rps, p99);
    }
    println!(
        "\naccounting: sent {sent_to_receiver} to the receiver; client counted {client_accepted} 202s; receiver counted {server_accepted} accepted, {} rejected; handler saw {handler_events} events; lost {}",
        after.rejected() - before.rejected(),
        sent_to_receiver as u64 - server_accepted,
    );
    let auth = receiver.authenticator().stats();
    println!(
        "auth: {} full verifications, {} cache hits, {} key fetches",
        auth.full_verifications, auth.cache_hits, auth.key_fetches
    );
    assert_eq!(
        client_accepted as u64, server_accepted,
        "client and server disagree"
    );
    assert_eq!(server_accepted, sent_to_receiver as u64, "lost requests");
    assert_eq!(handler_events, server_accepted, "handler missed events");

    if quick || !wrk_available() {
        return;
    }
    // The same comparison driven by wrk (-t1 -c64), as the issue measured the bare handler.
    let dir = std::env::temp_dir().join(format!("graph-comms-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("post.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("script");
    let reused_file = dir.join("reused.tsv");
    let reused_many: Vec<String> = vec![reused[0].clone(); bodies.len()];
    write_requests(&reused_file, &reused_many, &bodies);
    let wrk_fresh = env_usize("INGEST_WRK_FRESH_TOKENS", 12_000);
    eprintln!("minting {wrk_fresh} more tokens for wrk ...");
    let fresh_wrk: Vec<String> = (0..wrk_fresh)
        .map(|i| {
            let mut c = claims(APP_ID);
            c["jti"] = (1_000_000 + i).into();
            signing.sign(&c)
        })
        .collect();
    let fresh_file = dir.join("fresh.tsv");
    write_requests(&fresh_file, &fresh_wrk, &bodies);

    let before = receiver.stats();
    let mut wrk_runs: Vec<WrkResult> = Vec::new();
    for _ in 0..3 {
        wrk_runs.extend(wrk(
            "bare 202, axum::serve",
            bare_axum,
            connections,
            5,
            &reused_file,
            &script,
        ));
        wrk_runs.extend(wrk(
            "receiver, reused token, axum::serve",
            receiver_axum,
            connections,
            5,
            &reused_file,
            &script,
        ));
    }
    wrk_runs.extend(wrk(
        "bare 202, fresh-token requests, axum::serve",
        bare_axum,
        connections,
        2,
        &fresh_file,
        &script,
    ));
    let fresh_before = receiver.stats();
    wrk_runs.extend(wrk(
        "receiver, fresh token per request, axum::serve",
        receiver_axum,
        connections,
        2,
        &fresh_file,
        &script,
    ));
    let after = receiver.stats();
    println!("\nwrk -t1 -c{connections} (5 s runs, rounds interleaved; fresh-token runs 2 s over {wrk_fresh} distinct tokens):\n");
    println!("| run | requests | req/s | p99 µs | non-2xx | socket errors |");
    println!("|---|---|---|---|---|---|");
    for r in &wrk_runs {
        println!(
            "| {} | {} | {:.0} | {:.0} | {} | {} |",
            r.name, r.requests, r.rps, r.p99_us, r.non_2xx, r.errors
        );
    }
    let wrk_to_receiver: u64 = wrk_runs
        .iter()
        .filter(|r| r.name.starts_with("receiver"))
        .map(|r| r.requests)
        .sum();
    println!(
        "\nwrk accounting: wrk counted {wrk_to_receiver} completed requests to the receiver; the receiver accepted {} and rejected {} (it may count a few more: requests in flight when wrk stops); the fresh-token run sent {} requests over {wrk_fresh} tokens (any beyond wrap around to cached tokens)",
        after.accepted - before.accepted,
        after.rejected() - before.rejected(),
        after.accepted - fresh_before.accepted,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
