//! Call control beside the transfer: building + validating (`build_for`) + serializing the body of
//! an answer, a reject, a redirect and a new call (`POST /communications/calls`) as the client
//! does (`graph_comms_transfer::to_json_vec`), each against `serde_json::to_vec` of the same body
//! alone (goal: within 2× of serialization alone, as for the transfer body).
//!
//! After criterion, each goal ratio is measured again as a paired ratio (both sides in alternating
//! batches, the median of per-batch ratios; see `graph_comms_testkit::paired_ratio`): the figures
//! `cargo xtask bench` checks.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use graph_comms_transfer::control::{Answer, OutgoingCall, Redirect, Reject, Target};
use graph_comms_transfer::{to_json_vec, CallContext, Guid, E164};
use serde::Serialize;

fn guid(s: &str) -> Guid {
    Guid::parse(s).expect("a GUID")
}

/// Times one kind of body: `build` gives it checked, the serialization-alone side reuses one.
fn body<T: Serialize>(
    c: &mut Criterion,
    name: &str,
    batches: (usize, Duration),
    build: impl Fn() -> T,
) {
    let built = build();
    let mut g = c.benchmark_group("call_control");
    g.bench_function(format!("{name}/build_validate_serialize"), |b| {
        b.iter(|| black_box(to_json_vec(&build()).expect("serializes")))
    });
    g.bench_function(format!("{name}/serde_json_to_vec_only"), |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&built)).expect("serializes")))
    });
    g.finish();
    graph_comms_testkit::paired_ratio(
        &format!("call_control/{name}/build_validate_serialize"),
        batches.0,
        batches.1,
        || {
            black_box(to_json_vec(&build()).expect("serializes"));
        },
        || {
            black_box(serde_json::to_vec(black_box(&built)).expect("serializes"));
        },
    );
}

fn bench(c: &mut Criterion) {
    let batches = if std::env::args().any(|a| a == "--bench") {
        (1001, Duration::from_millis(1))
    } else {
        (3, Duration::from_micros(200))
    };
    let tenant = guid("aa67bd4c-8475-432d-bd41-39f255720e0a");
    let user = guid("98da8a1a-1b87-452c-a713-65d3f10b1253");
    let instance = guid("3d913abb-aec0-4964-8fa6-3c6850c4f278");
    let callback = "https://bot.contoso.com/api/calls";
    let ctx = CallContext::peer().with_tenant(tenant);
    let phone = E164::parse("+12345678901").expect("E.164");
    body(c, "answer", batches, || {
        Answer::new(callback).build_for(&ctx).expect("valid").0
    });
    body(c, "reject", batches, || {
        Reject::busy()
            .callback_uri(callback)
            .build_for(&ctx)
            .expect("valid")
            .0
    });
    body(c, "redirect", batches, || {
        Redirect::to(Target::teams_user(user, tenant))
            .timeout(30)
            .callback_uri(callback)
            .build_for(&ctx)
            .expect("valid")
            .0
    });
    body(c, "create_call", batches, || {
        OutgoingCall::to_phone(callback, phone.clone(), instance, tenant)
            .build_for(&ctx)
            .expect("valid")
            .0
    });
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
