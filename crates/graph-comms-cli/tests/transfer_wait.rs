//! `graph-comms transfer --wait`: the binary sends a transfer to the emulator, receives the
//! emulator's signed callbacks on its own receiver, and exits with the transfer's outcome.

use std::process::Command;
use std::time::Duration;

use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::{PlaceCall, Script, TransferFlow};

#[path = "common/emulator.rs"]
mod emulator;

const USER: &str = "550fae72-d251-43ec-868c-373732c2704f";
const APP: &str = "9ecd52e5-6592-42b7-b562-093f37f13bde";

/// Places a call scripted with `flow`, runs `transfer --wait` on it, returns (code, out, err).
fn transfer_and_wait(flow: TransferFlow, extra: &[&str]) -> (i32, String, String) {
    let (rt, emulator) = emulator::start(APP);
    let _guard = rt.enter();
    let port = graph_comms_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    let call = emulator
        .place_call(
            PlaceCall::new(format!("http://{listen}/api/calls"))
                .with_app_id(APP)
                .with_script(Script::new(flow).with_delay_ms(20)),
        )
        .expect("a call");
    let tenant = emulator.tenant_id().to_string();
    let base = emulator.base_url(ApiVersion::V1).to_string();
    let openid = emulator.openid_config_url();
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args(["transfer", "--call-id", &call.id, "--to-user", USER])
        .args(["--base-url", &base, "--wait", "--listen", &listen])
        .args(["--app-id", APP, "--openid-config", &openid])
        .args(extra)
        .env("AZURE_TENANT_ID", &tenant)
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", "any-secret")
        .env("AZURE_AUTHORITY_HOST", emulator.root_url())
        .env_remove("GRAPH_COMMS_TOKEN")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_completed_transfer_exits_0() {
    let (code, stdout, stderr) = transfer_and_wait(TransferFlow::Success, &[]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout.trim(), "transfer completed");
    assert!(stderr.contains("202 Accepted"), "{stderr}");
    assert!(stderr.contains("transferring"), "{stderr}");
}

#[test]
fn a_failed_transfer_exits_4_with_the_subcode_explained() {
    let (code, stdout, stderr) = transfer_and_wait(TransferFlow::Failed, &[]);
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.starts_with("transfer failed 500/7000: "), "{stdout}");
}

#[test]
fn a_hang_up_exits_4_as_json() {
    let (code, stdout, stderr) = transfer_and_wait(TransferFlow::CallerHangUp, &["--json"]);
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(lines[0]["status"], 202);
    assert_eq!(lines.last().unwrap()["outcome"], "callEnded");
}

#[test]
fn silence_times_out_and_exits_4() {
    let (code, stdout, stderr) = transfer_and_wait(TransferFlow::NoOutcome, &["--timeout", "1"]);
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout.trim(), "no outcome before the timeout");
}

/// A callback endpoint of another process: answers `202` to every request and keeps nothing.
fn callback_sink() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 16384];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    addr
}

/// Places a call scripted with `flow` whose callbacks go to another process (a sink that
/// accepts them), runs `transfer --wait` with `extra` (which says how to follow it), returns
/// (code, out, err).
fn transfer_without_callbacks(flow: TransferFlow, extra: &[&str]) -> (i32, String, String) {
    let (rt, emulator) = emulator::start(APP);
    let _guard = rt.enter();
    let elsewhere = callback_sink();
    let call = emulator
        .place_call(
            PlaceCall::new(format!("http://{elsewhere}/api/calls"))
                .with_app_id(APP)
                .with_script(Script::new(flow).with_delay_ms(20)),
        )
        .expect("a call");
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args(["transfer", "--call-id", &call.id, "--to-user", USER])
        .args([
            "--base-url",
            emulator.base_url(ApiVersion::V1).as_str(),
            "--wait",
        ])
        .args(extra)
        .env("AZURE_TENANT_ID", emulator.tenant_id().to_string())
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", "any-secret")
        .env("AZURE_AUTHORITY_HOST", emulator.root_url())
        .env_remove("GRAPH_COMMS_TOKEN")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_final_notification_that_never_comes_is_reconciled_with_graph() {
    // The receiver listens, but Graph's callbacks go to another process: at the deadline the call
    // is read, and Graph says it is back in `established` with 500/7000.
    let listen = format!("127.0.0.1:{}", graph_comms_testkit::free_port());
    let (code, stdout, stderr) = transfer_without_callbacks(
        TransferFlow::Failed,
        &[
            "--listen",
            &listen,
            "--app-id",
            APP,
            "--timeout",
            "3",
            "--json",
        ],
    );
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON line");
    assert_eq!(last["outcome"], "failed", "{stdout}");
    assert_eq!(
        (last["resultCode"].as_i64(), last["resultSubcode"].as_i64()),
        (Some(500), Some(7000))
    );
}

#[test]
fn poll_follows_a_transfer_with_no_listener() {
    let (code, stdout, stderr) =
        transfer_without_callbacks(TransferFlow::Failed, &["--poll", "1", "--timeout", "30"]);
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.starts_with("transfer failed 500/7000: "), "{stdout}");
    assert!(stderr.contains("reading the call every 1 s"), "{stderr}");
}

#[test]
fn wait_needs_a_listener_or_polling() {
    for extra in [
        &["--poll", "1", "--listen", "127.0.0.1:9"][..],
        &["--poll", "0"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
            .args(["transfer", "--call-id", "c", "--to-user", USER, "--wait"])
            .args(extra)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{extra:?}: clap's usage error");
    }
}

#[test]
fn wait_needs_a_receiver() {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args(["transfer", "--call-id", "c", "--to-user", USER, "--wait"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--listen") && stderr.contains("--poll"),
        "{stderr}"
    );
}
