//! Decode speed: the routing-only decode and the lossless model against serde_json's
//! validate-only pass (`IgnoredAny`, the limit) and `serde_json::Value`, over the same bytes.
//!
//! Input: the twenty notifications of the `call: transfer` page (`tests/fixtures/spec/`), decoded
//! as one batch per iteration. Goals (issue: workspace foundation): routing ≤ 1.5× the limit,
//! lossless ≤ 5× the limit.

#![allow(missing_docs)] // criterion_group! generates undocumented public functions

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use graph_comms_model::{routing, CommsNotifications};
use serde::de::IgnoredAny;

fn spec_notifications() -> Vec<Vec<u8>> {
    let dir = graph_comms_testkit::fixtures_dir()
        .join("spec")
        .join("notifications");
    graph_comms_testkit::files_with_suffix(&dir, ".json")
        .into_iter()
        .map(|p| std::fs::read(p).expect("fixture readable"))
        .collect()
}

fn decode(c: &mut Criterion) {
    let bodies = spec_notifications();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("decode_spec_notifications");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(BenchmarkId::new("limit", "IgnoredAny"), |b| {
        b.iter(|| {
            for body in &bodies {
                let _: IgnoredAny = serde_json::from_slice(body).unwrap();
            }
        })
    });
    group.bench_function(BenchmarkId::new("routing", "borrowed"), |b| {
        b.iter(|| {
            for body in &bodies {
                let batch = routing::from_slice(body).unwrap();
                std::hint::black_box(&batch);
            }
        })
    });
    group.bench_function(BenchmarkId::new("lossless", "CommsNotifications"), |b| {
        b.iter(|| {
            for body in &bodies {
                let batch: CommsNotifications = serde_json::from_slice(body).unwrap();
                std::hint::black_box(&batch);
            }
        })
    });
    group.bench_function(BenchmarkId::new("baseline", "serde_json::Value"), |b| {
        b.iter(|| {
            for body in &bodies {
                let v: serde_json::Value = serde_json::from_slice(body).unwrap();
                std::hint::black_box(&v);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
