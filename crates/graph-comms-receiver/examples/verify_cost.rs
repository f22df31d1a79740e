//! The cost of verifying callback tokens in-process: `Authenticator::verify` over distinct
//! tokens (each a full RS256 verification) and over one reused token (a cache hit), without the
//! network, so that the verifier's share of webhook ingest can be measured alone.
//!
//! ```text
//! cargo run --release -p graph-comms-receiver --example verify_cost [TOKENS] [ROUNDS]
//! ```
//!
//! Prints, per round, the median of per-batch nanoseconds per token for fresh tokens and for
//! the reused one. The tokens are minted before the clock starts.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use graph_comms_receiver::{AuthConfig, Authenticator};
use support::*;

fn median(mut v: Vec<f64>) -> f64 {
    graph_comms_testkit::spread(&mut v).median
}

fn main() {
    let mut args = std::env::args().skip(1);
    let tokens: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let signing = key().clone();
    let keys = runtime.block_on(KeyServer::start(vec![signing.jwk()]));
    let auth =
        Authenticator::new(AuthConfig::new(APP_ID).with_openid_config_url(keys.openid_url()))
            .expect("authenticator");
    let reused = signing.sign(&claims(APP_ID));
    runtime
        .block_on(auth.verify(&reused))
        .expect("the reused token verifies");
    const BATCH: usize = 100;
    for round in 0..rounds {
        let fresh: Vec<String> = (0..tokens)
            .map(|i| signing.sign(&claims_with_jti(APP_ID, format!("{round}-{i}"))))
            .collect();
        let (fresh_ns, reused_ns) = runtime.block_on(async {
            let mut fresh_ns = Vec::new();
            let mut reused_ns = Vec::new();
            for batch in fresh.chunks(BATCH) {
                let start = Instant::now();
                for token in batch {
                    auth.verify(token).await.expect("a fresh token verifies");
                }
                fresh_ns.push(start.elapsed().as_nanos() as f64 / batch.len() as f64);
                let start = Instant::now();
                for _ in 0..BATCH {
                    auth.verify(&reused)
                        .await
                        .expect("the reused token verifies");
                }
                reused_ns.push(start.elapsed().as_nanos() as f64 / BATCH as f64);
            }
            (median(fresh_ns), median(reused_ns))
        });
        println!(
            "round {round}: {tokens} fresh tokens: {fresh_ns:.0} ns per token; reused token: {reused_ns:.0} ns"
        );
    }
}
