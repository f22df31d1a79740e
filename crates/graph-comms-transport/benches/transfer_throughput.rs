//! Transfer POSTs per second through `GraphCommsClient` against a raw reqwest POST of the same
//! bytes (body and headers) to the same local 202 server, in the same run.
//!
//! Prints the median of paired runs (client and raw alternate which goes first), then runs the
//! two as criterion benchmarks. `cargo bench -p graph-comms-transport -- --warm-up-time 1
//! --measurement-time 3`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use graph_comms_transport::{BaseUrl, GraphCommsClient, StaticToken};

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const BODY: &str = include_str!("../../../tests/fixtures/spec/requests/ex1-request.json");
const PAIRED_RUNS: usize = 9;
const POSTS_PER_RUN: usize = 2000;
const BLOCK: usize = 50;

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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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

    let via_client = || async {
        client
            .transfer_json(CALL, body.clone())
            .await
            .expect("accepted");
    };
    let via_raw = || async {
        let r = raw
            .post(&url)
            .header("authorization", "Bearer bench-token")
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("client-request-id", "6f1c1a4e-3b7d-4c61-9a53-8d2f0e7b5a10")
            .header("sdkversion", "graph-comms-transport/0.1.0")
            .header("user-agent", "graph-comms-transport/0.1.0")
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 202);
        r.bytes().await.expect("body");
    };

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
        let (c, r) = rt.block_on(async {
            let (mut c_time, mut r_time) = (Duration::ZERO, Duration::ZERO);
            for block in 0..POSTS_PER_RUN / BLOCK {
                for client_turn in [block % 2 == 0, block % 2 != 0] {
                    let start = Instant::now();
                    for _ in 0..BLOCK {
                        if client_turn {
                            via_client().await;
                        } else {
                            via_raw().await;
                        }
                    }
                    *(if client_turn {
                        &mut c_time
                    } else {
                        &mut r_time
                    }) += start.elapsed();
                }
            }
            let rate = |t: Duration| POSTS_PER_RUN as f64 / t.as_secs_f64();
            (rate(c_time), rate(r_time))
        });
        println!(
            "paired run {run}: client {c:.0} POST/s, raw reqwest {r:.0} POST/s, ratio {:.3}",
            c / r
        );
        client_rates.push(c);
        raw_rates.push(r);
        ratios.push(c / r);
    }
    println!(
        "median of {PAIRED_RUNS} paired runs ({POSTS_PER_RUN} sequential POSTs each): client {:.0} POST/s, raw {:.0} POST/s, client/raw {:.3}",
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
    group.finish();
    c.final_summary();
}
