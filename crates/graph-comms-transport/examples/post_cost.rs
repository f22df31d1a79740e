//! Transfer POSTs to a local 202 server through `GraphCommsClient` or through a raw reqwest
//! POST of the same bytes, N times, for instruction counts that do not depend on machine load:
//!
//! ```text
//! cargo build --release -p graph-comms-transport --example post_cost
//! valgrind --tool=callgrind target/release/examples/post_cost client 2000
//! valgrind --tool=callgrind target/release/examples/post_cost raw 2000
//! ```
//!
//! The difference of two runs' totals divided by the difference of their N is the cost of one
//! POST, the server's share included (the same on both sides).

use std::sync::Arc;

use bytes::Bytes;
use graph_comms_transport::{BaseUrl, GraphCommsClient, StaticToken};

#[path = "../benches/common/raw_post.rs"]
mod raw_post;
use raw_post::post_raw;

const CALL: &str = "341a0500-d4bf-4224-8b19-1581168d328b";
const BODY: &str = include_str!("../../../tests/fixtures/spec/requests/ex1-request.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let side = args.next().unwrap_or_else(|| "client".into());
    let n: usize = args.next().map_or(Ok(1_000), |s| s.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::ACCEPTED });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = GraphCommsClient::builder(Arc::new(StaticToken::new("bench-token")))
            .base_url(BaseUrl::parse(&format!("http://{addr}/v1.0"))?)
            .build()?;
        let raw = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let url = client.transfer_url(CALL)?.to_string();
        let body = Bytes::from_static(BODY.as_bytes());
        for _ in 0..n {
            if side == "client" {
                client.transfer_json(CALL, body.clone()).await?;
            } else {
                post_raw(&raw, &url, &body).await;
            }
        }
        Ok(())
    })
}
