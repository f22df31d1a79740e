//! Runs one call-control body N times (build + validate + serialize, or serialization alone), for
//! instruction counts that do not depend on machine load:
//!
//! ```text
//! cargo build --release -p graph-comms-transfer --example control_cost
//! valgrind --tool=callgrind target/release/examples/control_cost redirect 10000
//! ```
//!
//! Bodies: `answer`, `reject`, `redirect`, `create_call`; with `-only` (`redirect-only`) the
//! body is built once and only serialized. `none` runs nothing.
//!
//! `example5` is the transfer bench's closure (`benches/transfer.rs`, `build_validate_serialize`):
//! example 5 of the `call: transfer` page built, validated against a group call and written with
//! `to_json`. `example5-only` is `serde_json::to_vec` of the prebuilt body, `example5-build` the
//! builder alone (and the drop of the body), `example5-validate` `validate` of the prebuilt body.

use std::hint::black_box;

#[path = "../benches/common/example5.rs"]
mod example5;

use example5::example5;
use graph_comms_transfer::control::{Answer, OutgoingCall, Redirect, Reject, Target};
use graph_comms_transfer::{to_json, validate, CallContext, Guid, E164};
use serde::Serialize;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// `n` times `build` + serialize as the client does (`to_json_vec`), or (`only`) one `build` and
/// `n` serializations by `serde_json::to_vec`.
fn run<T: Serialize>(n: usize, only: bool, build: impl Fn() -> Res<T>) -> Res<()> {
    if only {
        let body = build()?;
        for _ in 0..n {
            black_box(serde_json::to_vec(black_box(&body))?);
        }
    } else {
        for _ in 0..n {
            black_box(graph_comms_transfer::to_json_vec(&build()?)?);
        }
    }
    Ok(())
}

/// `n` times one part of example 5 (`""`: build + validate + `to_json`).
fn run_example5(n: usize, part: &str) -> Res<()> {
    let tenant: Guid = "72f988bf-86f1-41af-91ab-2d7cd011db47".parse()?;
    let target: Guid = "550fae72-d251-43ec-868c-373732c2704f".parse()?;
    let transferee: Guid = "751f6800-3180-414d-bd94-333364659951".parse()?;
    let ctx = CallContext::group()
        .with_tenant(tenant)
        .with_call_id("341a0500-d4bf-4224-8b19-1581168d328b");
    let build = || example5(black_box(target), black_box(tenant), black_box(transferee));
    let body = build();
    if !validate(&body, &ctx).is_empty() {
        return Err("example 5 does not validate".into());
    }
    match part {
        "" => {
            for _ in 0..n {
                let body = build();
                let report = validate(black_box(&body), black_box(&ctx));
                let bytes = to_json(&body)?;
                black_box((report, bytes));
            }
        }
        "-only" => {
            for _ in 0..n {
                black_box(serde_json::to_vec(black_box(&body))?);
            }
        }
        "-build" => {
            for _ in 0..n {
                let body = build();
                black_box(&body);
            }
        }
        "-validate" => {
            for _ in 0..n {
                black_box(validate(black_box(&body), black_box(&ctx)));
            }
        }
        other => return Err(format!("unknown part example5{other}").into()),
    }
    Ok(())
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "redirect".into());
    let n: usize = args.next().map_or(Ok(10_000), |s| s.parse())?;
    let tenant: Guid = "aa67bd4c-8475-432d-bd41-39f255720e0a".parse()?;
    let user: Guid = "98da8a1a-1b87-452c-a713-65d3f10b1253".parse()?;
    let instance: Guid = "3d913abb-aec0-4964-8fa6-3c6850c4f278".parse()?;
    let callback = "https://bot.contoso.com/api/calls";
    let ctx = CallContext::peer().with_tenant(tenant);
    let phone = E164::parse("+12345678901")?;
    if let Some(part) = which.strip_prefix("example5") {
        return run_example5(n, part);
    }
    let (body, only) = match which.strip_suffix("-only") {
        Some(body) => (body, true),
        None => (which.as_str(), false),
    };
    match body {
        "none" => Ok(()),
        "answer" => run(n, only, || Ok(Answer::new(callback).build_for(&ctx)?.0)),
        "reject" => run(n, only, || {
            Ok(Reject::busy().callback_uri(callback).build_for(&ctx)?.0)
        }),
        "redirect" => run(n, only, || {
            Ok(Redirect::to(Target::teams_user(user, tenant))
                .timeout(30)
                .callback_uri(callback)
                .build_for(&ctx)?
                .0)
        }),
        "create_call" => run(n, only, || {
            Ok(
                OutgoingCall::to_phone(callback, phone.clone(), instance, tenant)
                    .build_for(&ctx)?
                    .0,
            )
        }),
        other => Err(format!("unknown body {other}").into()),
    }
}
