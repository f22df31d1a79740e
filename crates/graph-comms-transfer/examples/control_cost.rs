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

use std::hint::black_box;

use graph_comms_transfer::control::{Answer, OutgoingCall, Redirect, Reject, Target};
use graph_comms_transfer::{CallContext, Guid, E164};
use serde::Serialize;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// `n` times `build` + serialize, or (`only`) one `build` and `n` serializations.
fn run<T: Serialize>(n: usize, only: bool, build: impl Fn() -> Res<T>) -> Res<()> {
    if only {
        let body = build()?;
        for _ in 0..n {
            black_box(serde_json::to_vec(black_box(&body))?);
        }
    } else {
        for _ in 0..n {
            black_box(serde_json::to_vec(&build()?)?);
        }
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
