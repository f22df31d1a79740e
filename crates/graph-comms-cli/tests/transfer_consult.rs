//! `graph-comms transfer --consult`: the binary holds the caller, places the consultation call
//! at the emulator, receives the emulator's signed callbacks on its own receiver, and transfers
//! or rolls back; the exit code and stderr say which.

use std::process::Command;

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{CallTarget, PlaceCall, Script, TransferFlow};

#[path = "common/emulator.rs"]
mod emulator;

const USER: &str = "550fae72-d251-43ec-868c-373732c2704f";
const APP: &str = "9ecd52e5-6592-42b7-b562-093f37f13bde";

/// Places a call whose transfer plays `flow` and whose consultation target does `target`, runs
/// `transfer --consult` on it; returns (code, stdout, stderr) and whether the caller is still on
/// hold afterwards.
fn consult(flow: TransferFlow, target: CallTarget, extra: &[&str]) -> (i32, String, String, bool) {
    let (rt, emulator) = emulator::start(APP);
    let _guard = rt.enter();
    emulator.set_default_script(Script::default().with_target(target).with_delay_ms(20));
    let listen = format!("127.0.0.1:{}", graph_comms_testkit::free_port());
    let callback = format!("http://{listen}/api/calls");
    let call = emulator
        .place_call(
            PlaceCall::new(callback.clone())
                .with_app_id(APP)
                .with_script(Script::new(flow).with_delay_ms(20)),
        )
        .expect("a call");
    let tenant = emulator.tenant_id().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args([
            "transfer",
            "--call-id",
            &call.id,
            "--to-user",
            USER,
            "--consult",
        ])
        .args([
            "--base-url",
            emulator.base_url(ApiVersion::Beta).as_str(),
            "--wait",
        ])
        .args(["--listen", &listen, "--callback-uri", &callback])
        .args([
            "--app-id",
            APP,
            "--openid-config",
            &emulator.openid_config_url(),
        ])
        .args(["--timeout", "10", "--answer-timeout", "10"])
        .args(extra)
        .env("AZURE_TENANT_ID", &tenant)
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", "any-secret")
        .env("AZURE_AUTHORITY_HOST", emulator.root_url())
        .env_remove("GRAPH_COMMS_TOKEN")
        .output()
        .expect("the binary runs");
    let on_hold = emulator.on_hold(&call.id).is_some();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        on_hold,
    )
}

#[test]
fn target_answers_then_transferred_exits_0() {
    let (code, stdout, stderr, _) = consult(TransferFlow::Success, CallTarget::Answer, &[]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout.trim(), "transfer completed");
    for step in [
        "holdStarted",
        "consultationPlaced",
        "targetAnswered",
        "transferring",
    ] {
        assert!(stderr.contains(step), "missing {step} in {stderr}");
    }
}

#[test]
fn target_declines_then_rolled_back_exits_4() {
    let (code, stdout, stderr, on_hold) = consult(TransferFlow::Success, CallTarget::Decline, &[]);
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains(
            "graph-comms: rolled back: the target declined the consultation call (603/0)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("holdStopped"), "{stderr}");
    assert!(!on_hold, "the caller is back");
}

#[test]
fn transfer_fails_7700_then_rolled_back_as_json() {
    let (code, stdout, stderr, on_hold) = consult(
        TransferFlow::ConsultativeFailed,
        CallTarget::Answer,
        &["--json"],
    );
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("an outcome line")).expect("JSON");
    assert_eq!(
        last,
        serde_json::json!({"outcome": "rolledBack", "reason": "transferFailed",
                           "resultCode": 500, "resultSubcode": 7700})
    );
    assert!(
        stdout.contains(r#""event":"consultationHungUp""#),
        "{stdout}"
    );
    assert!(!on_hold, "the caller is back");
}

#[test]
fn consult_conflicts_with_replaces() {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args(["transfer", "--call-id", "c", "--to-user", USER, "--consult"])
        .args(["--replaces", "x", "--wait", "--listen", "127.0.0.1:1"])
        .args([
            "--app-id",
            APP,
            "--callback-uri",
            "https://bot.contoso.com/cb",
        ])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--replaces"), "{stderr}");
}
