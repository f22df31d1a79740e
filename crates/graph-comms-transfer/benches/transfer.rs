//! Building + validating + serializing one transfer body, against `serde_json::to_vec` of the same
//! body alone (goal: under 2 µs, and within 2× of serialization alone).
//!
//! After criterion, the goal ratio is measured again as a paired ratio (both sides in alternating
//! batches, the median of per-batch ratios; see `graph_comms_testkit::paired_ratio`): the figure
//! `cargo xtask bench` checks, since it holds on a loaded machine.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use graph_comms_transfer::{to_json, validate, validate_json, CallContext, Guid};

#[path = "common/example5.rs"]
mod example5;
use example5::example5;

fn guid(s: &str) -> Guid {
    Guid::parse(s).expect("a GUID")
}

fn bench(c: &mut Criterion) {
    let tenant = guid("72f988bf-86f1-41af-91ab-2d7cd011db47");
    let target = guid("550fae72-d251-43ec-868c-373732c2704f");
    let transferee = guid("751f6800-3180-414d-bd94-333364659951");
    let ctx = CallContext::group()
        .with_tenant(tenant)
        .with_call_id("341a0500-d4bf-4224-8b19-1581168d328b");
    // Example 5 of the page (group call, corrected form): the largest of the five bodies.
    let build = || example5(target, tenant, transferee);
    let body = build();
    assert!(validate(&body, &ctx).is_empty());
    let json = serde_json::to_vec(&body).expect("serializes");

    let mut g = c.benchmark_group("transfer_example5");
    g.bench_function("build_validate_serialize", |b| {
        b.iter(|| {
            let body = build();
            let report = validate(black_box(&body), black_box(&ctx));
            let bytes = to_json(&body).expect("serializes");
            black_box((report, bytes))
        })
    });
    g.bench_function("build_validate_serde_json_to_vec", |b| {
        b.iter(|| {
            let body = build();
            let report = validate(black_box(&body), black_box(&ctx));
            let bytes = serde_json::to_vec(&body).expect("serializes");
            black_box((report, bytes))
        })
    });
    g.bench_function("to_json_only", |b| {
        b.iter(|| black_box(to_json(black_box(&body)).expect("serializes")))
    });
    g.bench_function("serde_json_to_vec_only", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&body)).expect("serializes")))
    });
    // Routines return nothing large: criterion copies each routine's output with a volatile read,
    // which for a body of several kilobytes would cost more than building it.
    g.bench_function("build_only", |b| {
        b.iter(|| {
            let body = build();
            black_box(&body);
        })
    });
    g.bench_function("validate_only", |b| {
        b.iter(|| black_box(validate(black_box(&body), black_box(&ctx))))
    });
    g.bench_function("validate_json_parse_and_validate", |b| {
        b.iter(|| {
            let parsed = validate_json(black_box(&json), black_box(&ctx)).expect("a body");
            black_box(&parsed);
        })
    });
    g.finish();

    let (batches, batch) = if std::env::args().any(|a| a == "--bench") {
        (1001, Duration::from_millis(1))
    } else {
        (3, Duration::from_micros(200))
    };
    graph_comms_testkit::paired_ratio(
        "transfer_example5/build_validate_serialize",
        batches,
        batch,
        || {
            let body = build();
            let report = validate(black_box(&body), black_box(&ctx));
            let bytes = to_json(&body).expect("serializes");
            black_box((report, bytes));
        },
        || {
            black_box(serde_json::to_vec(black_box(&body)).expect("serializes"));
        },
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
