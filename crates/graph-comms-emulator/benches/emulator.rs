//! What one emulated transfer costs: signing one callback JWT, and a whole transfer round trip
//! (place a call, `POST .../transfer` with a bearer token, five signed callbacks delivered to a
//! loopback sink) over 127.0.0.1.
//!
//! `cargo bench -p graph-comms-emulator -- --warm-up-time 1 --measurement-time 3`

use std::time::Duration;

use criterion::Criterion;
use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{Emulator, EmulatorConfig, PlaceCall, SigningKey};

const BODY: &str = r#"{"transferTarget":{"endpointType":"default","identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","displayName":"Heidi Steen"}}}}"#;

async fn sink() -> String {
    let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::ACCEPTED });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/api/calls")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let key = SigningKey::generate().expect("key");
    let emulator = rt
        .block_on(Emulator::start(
            EmulatorConfig::default()
                .with_signing_key(key)
                .with_bot_app_id("bench-bot"),
        ))
        .expect("emulator");
    let callback = rt.block_on(sink());
    let http = reqwest::Client::new();
    let token = emulator
        .issue_token(
            &emulator.tenant_id().to_string(),
            "bench-bot",
            &["Calls.Initiate.All"],
        )
        .expect("token");
    let base = emulator.base_url(ApiVersion::V1).to_string();

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("callback_jwt_sign", |b| {
        b.iter(|| {
            emulator
                .callback_token("bench-bot", "tenant")
                .expect("signed")
        });
    });
    c.bench_function("transfer_round_trip_5_callbacks", |b| {
        b.to_async(&rt).iter(|| async {
            let call = emulator
                .place_call(PlaceCall::new(callback.clone()))
                .expect("placed");
            let resp = http
                .post(format!("{base}/communications/calls/{}/transfer", call.id))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(BODY)
                .send()
                .await
                .expect("sent");
            assert_eq!(resp.status().as_u16(), 202);
            let done = emulator
                .wait_for_deliveries(&call.id, 5, Duration::from_secs(10))
                .await;
            assert_eq!(done.len(), 5);
        });
    });
    c.final_summary();
}
