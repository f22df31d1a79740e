//! Decode + classify over the real notification bodies of the shared corpus
//! (`shared/graph-payloads/`, every valid notification body), against serde_json's validate-only
//! pass (`IgnoredAny`, the limit) and `serde_json::Value`, in the same run; throughput is counted
//! in notifications, so criterion's per-element figure is the time per notification.
//!
//! Run: `cargo bench -p graph-comms-notify --bench corpus` (part of `cargo xtask bench`).
//!
//! After criterion, the goal ratios are measured again as paired ratios (both sides in
//! alternating batches, the median of per-batch ratios; see `graph_comms_testkit::paired_ratio`):
//! these are the figures `cargo xtask bench` checks, since they hold on a loaded machine.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use graph_comms_model::{routing, CommsNotifications};
use serde::de::IgnoredAny;

/// Every valid notification body of the corpus, as its index lists them.
fn corpus() -> Vec<Vec<u8>> {
    let Some(shared) = graph_comms_testkit::shared_dir() else {
        return Vec::new();
    };
    graph_comms_testkit::corpus_files(&shared)
        .into_iter()
        .filter(|f| f.is_valid_notification())
        .map(|f| std::fs::read(&f.path).expect("corpus file"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let bodies = corpus();
    if bodies.is_empty() {
        eprintln!("corpus bench skipped: shared corpus not found");
        return;
    }
    let notifications: usize = bodies
        .iter()
        .map(|b| graph_comms_notify::decode(b).map(|e| e.len()).unwrap_or(0))
        .sum();
    println!(
        "corpus_notifications: {} bodies, {notifications} notifications, {} bytes",
        bodies.len(),
        bodies.iter().map(Vec::len).sum::<usize>()
    );
    let mut group = c.benchmark_group("corpus_notifications");
    group.throughput(Throughput::Elements(notifications as u64));
    group.bench_function("ignored_any", |b| {
        b.iter(|| {
            for body in &bodies {
                let _: IgnoredAny = serde_json::from_slice(black_box(body)).expect("valid JSON");
            }
        })
    });
    group.bench_function("routing", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(routing::from_slice(black_box(body)).expect("decodes"));
            }
        })
    });
    group.bench_function("decode_classify", |b| {
        b.iter(|| {
            for body in &bodies {
                black_box(graph_comms_notify::decode(black_box(body)).expect("decodes"));
            }
        })
    });
    group.bench_function("lossless_model", |b| {
        b.iter(|| {
            for body in &bodies {
                let batch: CommsNotifications =
                    serde_json::from_slice(black_box(body)).expect("decodes");
                black_box(batch);
            }
        })
    });
    group.bench_function("value", |b| {
        b.iter(|| {
            for body in &bodies {
                let v: serde_json::Value = serde_json::from_slice(black_box(body)).expect("JSON");
                black_box(v);
            }
        })
    });
    group.finish();
}

/// The goal ratios, each side in alternating batches.
fn paired() {
    let bodies = corpus();
    if bodies.is_empty() {
        return;
    }
    let (batches, batch) = if std::env::args().any(|a| a == "--bench") {
        (1001, Duration::from_millis(1))
    } else {
        (3, Duration::from_micros(200))
    };
    let limit = || {
        for body in &bodies {
            let _: IgnoredAny = serde_json::from_slice(black_box(body)).expect("valid JSON");
        }
    };
    graph_comms_testkit::paired_ratio(
        "corpus_notifications/decode_classify",
        batches,
        batch,
        || {
            for body in &bodies {
                black_box(graph_comms_notify::decode(black_box(body)).expect("decodes"));
            }
        },
        limit,
    );
    graph_comms_testkit::paired_ratio(
        "corpus_notifications/lossless_model",
        batches,
        batch,
        || {
            for body in &bodies {
                let batch: CommsNotifications =
                    serde_json::from_slice(black_box(body)).expect("decodes");
                black_box(batch);
            }
        },
        limit,
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    paired();
}
