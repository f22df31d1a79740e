//! Decode speed: the routing-only decode and the lossless model against serde_json's
//! validate-only pass (`IgnoredAny`, the limit) and `serde_json::Value`, over the same bytes.
//!
//! Input: the twenty notifications of the `call: transfer` page (`tests/fixtures/spec/`), decoded
//! as one batch per iteration. Goals (issue: workspace foundation): routing ≤ 1.5× the limit,
//! lossless ≤ 5× the limit.
//!
//! After criterion, the goal ratios are measured again as paired ratios (both sides in
//! alternating batches, the median of per-batch ratios; see `graph_comms_testkit::paired_ratio`):
//! these are the figures `cargo xtask bench` checks, since they hold on a loaded machine.

#![allow(missing_docs)] // criterion_group! generates undocumented public functions

use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
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

/// The goal ratios, each side in alternating batches.
fn paired() {
    let bodies = spec_notifications();
    let (batches, batch) = batches();
    let limit = || {
        for body in &bodies {
            let _: IgnoredAny = serde_json::from_slice(std::hint::black_box(body)).unwrap();
        }
    };
    graph_comms_testkit::paired_ratio(
        "decode_spec_notifications/routing/borrowed",
        batches,
        batch,
        || {
            for body in &bodies {
                std::hint::black_box(routing::from_slice(std::hint::black_box(body)).unwrap());
            }
        },
        limit,
    );
    graph_comms_testkit::paired_ratio(
        "decode_spec_notifications/lossless/CommsNotifications",
        batches,
        batch,
        || {
            for body in &bodies {
                let batch: CommsNotifications =
                    serde_json::from_slice(std::hint::black_box(body)).unwrap();
                std::hint::black_box(&batch);
            }
        },
        limit,
    );
}

/// Batches for a paired ratio: many under `cargo bench`, a few under `cargo test --benches`.
fn batches() -> (usize, Duration) {
    if std::env::args().any(|a| a == "--bench") {
        (1001, Duration::from_millis(1))
    } else {
        (3, Duration::from_micros(200))
    }
}

criterion_group!(benches, decode);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    paired();
}
