//! Webhook ingest on loopback: the receiver (auth + decode + tracker) against a bare axum handler
//! answering 202, same load generator, same concurrency, same run.
//!
//! Run: `cargo bench -p graph-comms-receiver --bench ingest` (env `INGEST_PAIRS`, `INGEST_BLOCK`,
//! `INGEST_FRESH_PAIRS`, `INGEST_FRESH_BLOCK`, `INGEST_CONNECTIONS` scale it). The load generator
//! is a minimal keep-alive HTTP/1.1 client on its own single-threaded runtime (like `wrk -t1`),
//! holding its connections to every server for the whole run; the servers run on a two-worker
//! runtime. Every request is counted at both ends.
//!
//! The two sides of each ratio are driven in short alternating blocks (a fraction of a second
//! each, the order flipping every pair), and each ratio is the median of the
//! per-pair ratios, printed with its p10–p90 spread: the machine's speed and its other load
//! drift over seconds, so two long runs one after the other do not see the same machine.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use graph_comms_receiver::{AuthConfig, Delivery, Receiver};
use graph_comms_testkit::spread;
use support::*;

const PATH: &str = "/api/calls";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One block: `requests` sent over all of a side's connections at once.
struct Block {
    requests: usize,
    accepted: usize,
    elapsed: Duration,
    /// What the threads did during the block, from the kernel's scheduler statistics.
    threads: Threads,
    /// Sorted.
    latencies: Vec<u64>,
}

impl Block {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn p99(&self) -> u64 {
        percentile(&self.latencies, 0.99)
    }
}

/// Nanoseconds the server's workers and the load generator's thread ran on a CPU and waited
/// for one (runnable but not running), from `/proc/self/task/*/schedstat`, and how many times
/// the server's workers went to sleep (`voluntary_ctxt_switches` of `/proc/self/task/*/status`);
/// zero where it cannot be read.
#[derive(Clone, Copy, Default)]
struct Threads {
    server_run: u64,
    server_wait: u64,
    client_run: u64,
    client_wait: u64,
    server_sleeps: u64,
}

impl Threads {
    fn now() -> Self {
        let mut t = Self::default();
        let own = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_owned()));
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return t;
        };
        for task in tasks.flatten() {
            let dir = task.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
            let mut fields = stat
                .split_whitespace()
                .map(|f| f.parse::<u64>().unwrap_or(0));
            let (run, wait) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
            if comm.trim() == "server-worker" {
                t.server_run += run;
                t.server_wait += wait;
                let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
                t.server_sleeps += status
                    .lines()
                    .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0);
            } else if Some(task.file_name()) == own {
                t.client_run += run;
                t.client_wait += wait;
            }
        }
        t
    }

    fn since(self, earlier: Self) -> Self {
        Self {
            server_run: self.server_run.saturating_sub(earlier.server_run),
            server_wait: self.server_wait.saturating_sub(earlier.server_wait),
            client_run: self.client_run.saturating_sub(earlier.client_run),
            client_wait: self.client_wait.saturating_sub(earlier.client_wait),
            server_sleeps: self.server_sleeps.saturating_sub(earlier.server_sleeps),
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// One server as the load generator sees it: its kept-alive connections.
struct Side {
    name: &'static str,
    clients: Vec<RawClient>,
    blocks: Vec<Block>,
}

impl Side {
    async fn connect(name: &'static str, addr: SocketAddr, connections: usize) -> Self {
        let mut clients = Vec::with_capacity(connections);
        for _ in 0..connections {
            clients.push(RawClient::connect(addr).await.expect("connect"));
        }
        Self {
            name,
            clients,
            blocks: Vec::new(),
        }
    }

    /// Sends requests `first..first + requests` (request `i` takes token `i` and body `i`,
    /// cycling) over all connections at once; request `i` goes over connection
    /// `i mod connections`.
    async fn block(
        &mut self,
        first: usize,
        requests: usize,
        tokens: &Arc<Vec<String>>,
        bodies: &Arc<Vec<String>>,
    ) -> Block {
        let connections = self.clients.len();
        let threads = Threads::now();
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (c, mut client) in self.clients.drain(..).enumerate() {
            let (tokens, bodies) = (tokens.clone(), bodies.clone());
            let count = requests / connections + usize::from(c < requests % connections);
            tasks.spawn(async move {
                let mut latencies = Vec::with_capacity(count);
                let mut accepted = 0usize;
                for k in 0..count {
                    let i = first + k * connections + c;
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
                (client, latencies, accepted)
            });
        }
        let mut latencies = Vec::with_capacity(requests);
        let mut accepted = 0;
        while let Some(done) = tasks.join_next().await {
            let (client, l, a) = done.expect("client task");
            self.clients.push(client);
            latencies.extend(l);
            accepted += a;
        }
        let elapsed = started.elapsed();
        let threads = Threads::now().since(threads);
        latencies.sort_unstable();
        Block {
            requests,
            accepted,
            elapsed,
            threads,
            latencies,
        }
    }
}

/// Drives `a` and `b` with the same requests, one block each, in the order `flip` says; keeps
/// the blocks.
async fn pair(
    (a, b): (&mut Side, &mut Side),
    flip: bool,
    first: usize,
    requests: usize,
    tokens: &Arc<Vec<String>>,
    bodies: &Arc<Vec<String>>,
) {
    let (x, y) = if flip { (b, a) } else { (a, b) };
    let block = x.block(first, requests, tokens, bodies).await;
    x.blocks.push(block);
    let block = y.block(first, requests, tokens, bodies).await;
    y.blocks.push(block);
}

/// One line per side: its throughput over all its blocks, its latencies pooled, each against
/// `baseline`'s.
fn report(sides: &[&Side], baseline: &Side) {
    println!("| run | blocks × requests | req/s | p50 µs | p99 µs | max µs | vs baseline req/s | vs baseline p99 | server CPU µs/req | server runnable, not running µs/req | client CPU µs/req | client runnable, not running µs/req | server sleeps per 1 000 req |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let pooled = |side: &Side| {
        let requests: usize = side.blocks.iter().map(|b| b.requests).sum();
        let secs: f64 = side.blocks.iter().map(|b| b.elapsed.as_secs_f64()).sum();
        let mut all: Vec<u64> = side
            .blocks
            .iter()
            .flat_map(|b| b.latencies.iter().copied())
            .collect();
        all.sort_unstable();
        (requests as f64 / secs, all)
    };
    let (base_rps, base_latencies) = pooled(baseline);
    let base_p99 = percentile(&base_latencies, 0.99).max(1) as f64;
    for side in sides {
        let (rps, latencies) = pooled(side);
        let p99 = percentile(&latencies, 0.99);
        let requests: usize = side.blocks.iter().map(|b| b.requests).sum();
        let per_request = |f: fn(&Threads) -> u64| {
            side.blocks.iter().map(|b| f(&b.threads)).sum::<u64>() as f64
                / 1_000.0
                / requests.max(1) as f64
        };
        println!(
            "| {} | {} × {} | {:.0} | {} | {} | {} | {:.0} % | {:.2}× | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
            side.name,
            side.blocks.len(),
            side.blocks.first().map_or(0, |b| b.requests),
            rps,
            percentile(&latencies, 0.50),
            p99,
            latencies.last().copied().unwrap_or(0),
            100.0 * rps / base_rps,
            p99 as f64 / base_p99,
            per_request(|t| t.server_run),
            per_request(|t| t.server_wait),
            per_request(|t| t.client_run),
            per_request(|t| t.client_wait),
            per_request(|t| t.server_sleeps * 1_000_000),
        );
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
    // Reused token: pairs of blocks of `block` requests; fresh tokens: `fresh_pairs` pairs of
    // `fresh_block` requests, each request with a token of its own.
    let pairs = env_usize("INGEST_PAIRS", if quick { 2 } else { 40 }).max(1);
    let block = env_usize("INGEST_BLOCK", if quick { 256 } else { 8_000 }).max(1);
    let fresh_pairs = env_usize("INGEST_FRESH_PAIRS", if quick { 2 } else { 64 }).max(1);
    let fresh_block = env_usize("INGEST_FRESH_BLOCK", if quick { 64 } else { 500 }).max(1);

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server-worker")
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
    let total_fresh = fresh_pairs * fresh_block;
    eprintln!("minting {total_fresh} tokens ...");
    let mint = move |range: std::ops::Range<usize>, key: SigningKey| {
        range
            .map(|i| key.sign(&claims_with_jti(APP_ID, i)))
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
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let fresh_tokens = Arc::new(all_fresh);
    let before = client.block_on(async {
        // The fresh-token runs go over connections of their own to the same two servers.
        let mut sides = Vec::new();
        for (name, addr) in [
            ("bare 202, axum::serve", bare_axum),
            ("receiver, reused token, axum::serve", receiver_axum),
            ("bare 202, graph_comms_receiver::serve", bare_serve),
            ("receiver, reused token, graph_comms_receiver::serve", receiver_serve),
            ("bare 202, fresh-token requests, axum::serve", bare_axum),
            ("receiver, fresh token per request, axum::serve", receiver_axum),
        ] {
            sides.push(Side::connect(name, addr, connections).await);
        }
        let Ok::<[Side; 6], _>(
            [mut bare_axum, mut receiver_axum, mut bare_serve, mut receiver_serve, mut fresh_bare, mut fresh_receiver],
        ) = sides.try_into()
        else {
            unreachable!("six sides were connected")
        };
        // Warm up (fetches the keys, opens every connection's server side); not counted.
        for side in [
            &mut bare_axum,
            &mut receiver_axum,
            &mut bare_serve,
            &mut receiver_serve,
        ] {
            side.block(0, block.max(2 * connections), &reused, &bodies)
                .await;
        }
        let before = receiver.stats();
        for p in 0..pairs.max(fresh_pairs) {
            if p % 20 == 0 {
                eprintln!("pair {} of {} ...", p + 1, pairs.max(fresh_pairs));
            }
            let flip = p % 2 == 1;
            // Each pair of sides with its requests: block size and tokens.
            let runs = [
                ((&mut bare_axum, &mut receiver_axum), p < pairs, block, &reused),
                ((&mut bare_serve, &mut receiver_serve), p < pairs, block, &reused),
                (
                    (&mut fresh_bare, &mut fresh_receiver),
                    p < fresh_pairs,
                    fresh_block,
                    &fresh_tokens,
                ),
            ];
            for (sides, due, size, tokens) in runs {
                if due {
                    pair(sides, flip, p * size, size, tokens, &bodies).await;
                }
            }
        }
        (
            before,
            [
                bare_axum,
                receiver_axum,
                bare_serve,
                receiver_serve,
                fresh_bare,
                fresh_receiver,
            ],
        )
    });
    let (before, sides) = before;
    let after = receiver.stats();
    let server_accepted = after.accepted - before.accepted;
    let to_receiver = || {
        [&sides[1], &sides[3], &sides[5]]
            .into_iter()
            .flat_map(|s| &s.blocks)
    };
    let sent_to_receiver: usize = to_receiver().map(|b| b.requests).sum();
    let client_accepted: usize = to_receiver().map(|b| b.accepted).sum();
    let handler_events = counted.load(Ordering::Relaxed) - before.events;

    println!("\nconnections: {connections} per side, server: 2 tokio workers, client: 1 thread; {pairs} pairs of {block}-request blocks (reused token), {fresh_pairs} pairs of {fresh_block}-request blocks (fresh tokens), each pair's order flipping\n");
    println!("Reused token (baseline: bare 202 on axum::serve; every block pooled):\n");
    report(&[&sides[0], &sides[1], &sides[2], &sides[3]], &sides[0]);
    println!("\nFresh token per request (baseline: bare 202 on axum::serve, same requests):\n");
    report(&[&sides[4], &sides[5]], &sides[4]);
    println!("\nPaired ratios (median of the per-pair ratios receiver ÷ bare, each pair two blocks back to back; p10–p90 of the per-pair ratios):\n");
    println!("| pair | req/s ratio | p99 ratio |");
    println!("|---|---|---|");
    for (name, r, b) in [
        ("reused token, axum::serve", 1, 0),
        ("reused token, graph_comms_receiver::serve", 3, 2),
        ("fresh token per request, axum::serve", 5, 4),
    ] {
        let blocks = || sides[r].blocks.iter().zip(&sides[b].blocks);
        let mut rps: Vec<f64> = blocks().map(|(x, y)| x.rps() / y.rps()).collect();
        let mut p99: Vec<f64> = blocks()
            .map(|(x, y)| x.p99() as f64 / y.p99().max(1) as f64)
            .collect();
        let (rps, p99) = (spread(&mut rps), spread(&mut p99));
        let pairs = sides[r].blocks.len();
        println!(
            "| {name} | {:.0} % (p10–p90 {:.0}–{:.0} %; {pairs} pairs) | {:.2}× (p10–p90 {:.2}–{:.2}×; {pairs} pairs) |",
            100.0 * rps.median,
            100.0 * rps.p10,
            100.0 * rps.p90,
            p99.median,
            p99.p10,
            p99.p90,
        );
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
        .map(|i| signing.sign(&claims_with_jti(APP_ID, 1_000_000 + i)))
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
