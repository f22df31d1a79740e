//! Runs one decoder N times over one spec notification, for instruction counts that do not depend
//! on machine load (criterion's wall-clock figures do):
//!
//! ```text
//! cargo build --release -p graph-comms-notify --example decode_cost
//! valgrind --tool=callgrind target/release/examples/decode_cost routing 10000 ex2-transfer-failed.json
//! ```
//!
//! Decoders: `ignored` (serde_json's validate-only pass, the limit), `routing` (the model's
//! routing-only decode), `classify` (routing + `classify` + call id), `events`
//! (`graph_comms_notify::decode`), `value` (`serde_json::Value`), `none` (the loop alone).

use std::hint::black_box;

use serde::de::IgnoredAny;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "routing".into());
    let n: usize = args.next().map_or(Ok(10_000), |s| s.parse())?;
    let file = args
        .next()
        .unwrap_or_else(|| "ex2-transfer-failed.json".into());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/spec/notifications")
        .join(file);
    let body = std::fs::read(path)?;
    for _ in 0..n {
        match which.as_str() {
            "ignored" => {
                black_box(serde_json::from_slice::<IgnoredAny>(black_box(&body))?);
            }
            "routing" => {
                black_box(graph_comms_model::routing::from_slice(black_box(&body))?);
            }
            "classify" => {
                let batch = graph_comms_model::routing::from_slice(black_box(&body))?;
                for n in batch.notifications() {
                    black_box(graph_comms_notify::classify(n));
                    black_box(n.call_id());
                }
            }
            "events" => {
                black_box(graph_comms_notify::decode(black_box(&body))?);
            }
            "value" => {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(
                    &body,
                ))?);
            }
            "none" => {}
            other => return Err(format!("unknown decoder {other}").into()),
        }
    }
    Ok(())
}
