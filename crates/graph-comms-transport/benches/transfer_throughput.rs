//! Transfer POSTs per second through `GraphCommsClient` against a raw reqwest POST of the same
//! bytes (body and headers) to the same local 202 server, in the same run.
//!
//! Prints the median of paired runs, then runs the two as criterion benchmarks. Each paired run
//! interleaves blocks of client and raw POSTs (alternating which goes first) and takes each
//! side's median block, so that a block preempted by another process on a shared machine does
//! not decide the figure. Server and client share one current-thread runtime. `cargo bench -p graph-comms-transport -- --warm-up-time 1
//! --measurement-time 3`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use graph_comms_transport::{
    BaseUrl, GraphCommsClient, HttpRequest, HttpResponse, StaticToken, Transport, TransportError,
};

#[path = "common/raw_post.rs"]
mod raw_post;
use raw_post::post_raw;

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const BODY: &str = include_str!("../../../tests/fixtures/spec/requests/ex1-request.json");
const PAIRED_RUNS: usize = 15;
const POSTS_PER_RUN: usize = 2000;
const BLOCK: usize = 20;

/// A transport answering 202 without I/O.
#[derive(Debug)]
struct Always202;

#[async_trait::async_trait]
impl Transport for Always202 {
    async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        Ok(HttpResponse {
            status: http::StatusCode::ACCEPTED,
            headers: http::HeaderMap::new(),
            body: Bytes::new(),
        })
    }
}

async fn start_server() -> std::net::SocketAddr {
    let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::ACCEPTED });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn post_client(client: &GraphCommsClient, body: &Bytes) {
    client
        .transfer_json(CALL, body.clone())
        .await
        .expect("accepted");
}

fn median(v: &mut [f64]) -> f64 {
    graph_comms_testkit::spread(v).median
}

fn main() {
    // One thread for server and client: no cross-thread wake-ups, so the figures measure the
    // work per request rather than the scheduler of a shared machine.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(start_server());
    let client = GraphCommsClient::builder(Arc::new(StaticToken::new("bench-token")))
        .base_url(BaseUrl::parse(&format!("http://{addr}/v1.0")).expect("base"))
        .build()
        .expect("client");
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest");
    let url = client.transfer_url(CALL).expect("url").to_string();
    let body = Bytes::from_static(BODY.as_bytes());

    let via_client = || post_client(&client, &body);
    let via_raw = || post_raw(&raw, &url, &body);

    // Paired runs: POSTs/s of each, one after the other, alternating which goes first.
    rt.block_on(async {
        for _ in 0..200 {
            via_client().await;
            via_raw().await;
        }
    });
    let (mut client_rates, mut raw_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..PAIRED_RUNS {
        // Interleaved in blocks, so both sides see the same load on a shared machine.
        let (client, raw, url, body) = (client.clone(), raw.clone(), url.clone(), body.clone());
        let task = rt.spawn(async move {
            let (mut c_blocks, mut r_blocks) = (Vec::new(), Vec::new());
            for block in 0..POSTS_PER_RUN / BLOCK {
                for client_turn in [block % 2 == 0, block % 2 != 0] {
                    let start = Instant::now();
                    for _ in 0..BLOCK {
                        if client_turn {
                            post_client(&client, &body).await;
                        } else {
                            post_raw(&raw, &url, &body).await;
                        }
                    }
                    let t = start.elapsed().as_secs_f64();
                    if client_turn {
                        c_blocks.push(t)
                    } else {
                        r_blocks.push(t)
                    }
                }
            }
            // The median block, so a block preempted by another process does not count.
            let rate = |blocks: &mut Vec<f64>| BLOCK as f64 / median(blocks);
            (rate(&mut c_blocks), rate(&mut r_blocks))
        });
        let (c, r) = rt.block_on(task).expect("paired run");
        println!(
            "paired run {run}: client {c:.0} POST/s, raw reqwest {r:.0} POST/s, ratio {:.3}",
            c / r
        );
        client_rates.push(c);
        raw_rates.push(r);
        ratios.push(c / r);
    }
    println!(
        "median of {PAIRED_RUNS} paired runs ({POSTS_PER_RUN} sequential POSTs each, rate of the median block of {BLOCK}): client {:.0} POST/s, raw {:.0} POST/s, client/raw {:.3}",
        median(&mut client_rates),
        median(&mut raw_rates),
        median(&mut ratios)
    );

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut group = c.benchmark_group("transfer_post");
    group.bench_function("graph_comms_client", |b| b.to_async(&rt).iter(via_client));
    group.bench_function("raw_reqwest", |b| b.to_async(&rt).iter(via_raw));
    // The client's own cost per transfer, with a transport that answers 202 at once.
    let in_memory = GraphCommsClient::builder(Arc::new(StaticToken::new("bench-token")))
        .base_url(BaseUrl::parse("https://graph.test/v1.0").expect("base"))
        .transport(Arc::new(Always202))
        .build()
        .expect("client");
    group.bench_function("graph_comms_client_in_memory_transport", |b| {
        b.to_async(&rt).iter(|| async {
            in_memory
                .transfer_json(CALL, body.clone())
                .await
                .expect("accepted");
        })
    });
    group.finish();
    c.final_summary();
}
