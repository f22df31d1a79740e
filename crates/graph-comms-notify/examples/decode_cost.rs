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
//! (`graph_comms_notify::decode`), `lossless` (the model's `CommsNotifications`), `value`
//! (`serde_json::Value`), `none` (the loop alone).
//!
//! With `corpus` for the file, each iteration decodes every valid notification body of the shared
//! corpus (as the `corpus` bench does) instead of one spec notification; with `spec`, the twenty
//! notifications of the `call: transfer` page (as the model's `decode` bench does). `cargo xtask bench`
//! counts its goal ratios' instructions this way.

use std::hint::black_box;

use serde::de::IgnoredAny;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "routing".into());
    let n: usize = args.next().map_or(Ok(10_000), |s| s.parse())?;
    let file = args
        .next()
        .unwrap_or_else(|| "ex2-transfer-failed.json".into());
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/spec/notifications");
    let bodies = if file == "spec" {
        graph_comms_testkit::files_with_suffix(&spec, ".json")
            .into_iter()
            .map(std::fs::read)
            .collect::<Result<Vec<_>, _>>()?
    } else if file == "corpus" {
        let shared = graph_comms_testkit::shared_dir().ok_or("shared corpus not found")?;
        graph_comms_testkit::corpus_files(&shared)
            .into_iter()
            .filter(|f| f.is_valid_notification())
            .map(|f| std::fs::read(&f.path))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![std::fs::read(spec.join(file))?]
    };
    for body in std::iter::repeat_n(&bodies, n).flatten() {
        match which.as_str() {
            "ignored" => {
                black_box(serde_json::from_slice::<IgnoredAny>(black_box(body))?);
            }
            "routing" => {
                black_box(graph_comms_model::routing::from_slice(black_box(body))?);
            }
            "classify" => {
                let batch = graph_comms_model::routing::from_slice(black_box(body))?;
                for n in batch.notifications() {
                    black_box(graph_comms_notify::classify(n));
                    black_box(n.call_id());
                }
            }
            "events" => {
                black_box(graph_comms_notify::decode(black_box(body))?);
            }
            "lossless" => {
                black_box(serde_json::from_slice::<
                    graph_comms_model::CommsNotifications,
                >(black_box(body))?);
            }
            "value" => {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(
                    body,
                ))?);
            }
            "none" => {}
            other => return Err(format!("unknown decoder {other}").into()),
        }
    }
    Ok(())
}
